"""A disk-backed queue for the spun documents that wait for their repair.

Needs: picklable records (CleanDocument) as the scoring batches hand them over, and a temporary folder.
Adds: the records back in their order, in batches of a chosen size, read from disk one batch at a
time, plus their ids kept in memory. A spun document waits until every clean one is loaded; held in
memory, the waiting documents (raw and clean text, offset maps: about 37 KB each) grew with the
folder, about 370 MB of the writer's peak at 20,000 articles.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Generic, TypeVar

from flows.errors import ReconError

T = TypeVar("T")


def _unwritable(where: str, exc: OSError) -> ReconError:
    return ReconError(
        f"could not write the spool of spun documents under {where} ({exc.strerror or exc}): free space there "
        "or set TMPDIR to a folder with room (about 16 KB per spun article); the batches loaded so far are "
        "kept and the next run takes up the rest"
    )


class Spool(Generic[T]):
    """Append records in chunks; read them back in order, ``size`` at a time, as often as needed."""

    def __init__(self, key: Callable[[T], str], directory: str | None = None) -> None:
        """``key`` gives a record's id; the file goes under ``directory`` (default: $TMPDIR)."""
        try:
            self._dir = tempfile.TemporaryDirectory(prefix="recon-spool-", dir=directory)
            self._path = Path(self._dir.name) / "records.pickle"
            self._fh = open(self._path, "wb")  # noqa: SIM115  (kept open for appends until read)
        except OSError as exc:
            raise _unwritable(directory or tempfile.gettempdir(), exc) from exc
        self._key = key
        self.ids: list[str] = []

    def __len__(self) -> int:
        return len(self.ids)

    def extend(self, records: Sequence[T]) -> None:
        """Write a chunk of records to disk; only their ids stay in memory."""
        if records:
            try:
                pickle.dump(list(records), self._fh, protocol=pickle.HIGHEST_PROTOCOL)
            except OSError as exc:
                raise _unwritable(str(self._path.parent), exc) from exc
            self.ids.extend(map(self._key, records))

    def batches(self, size: int) -> Iterator[list[T]]:
        """The records in the order they came, ``size`` to a batch (the last one may be shorter)."""
        self._fh.flush()
        size = max(size, 1)
        pending: list[T] = []
        with open(self._path, "rb") as fh:
            while True:
                try:
                    pending.extend(pickle.load(fh))
                except EOFError:
                    break
                while len(pending) >= size:
                    yield pending[:size]
                    del pending[:size]
        if pending:
            yield pending

    def close(self) -> None:
        """Delete the file (also done when the spool is garbage-collected)."""
        self._fh.close()
        self._dir.cleanup()

    def __enter__(self) -> Spool[T]:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
