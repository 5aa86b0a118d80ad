"""The spool that holds spun documents on disk until their repair."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.errors import ReconError
from flows.ops import spool as spool_module
from flows.ops.spool import Spool


@given(chunks=st.lists(st.lists(st.text(max_size=8), max_size=7), max_size=6), size=st.integers(1, 9))
def test_batches_give_back_every_record_in_order(chunks: list[list[str]], size: int) -> None:
    with Spool(lambda r: f"id:{r}") as spool:
        for chunk in chunks:
            spool.extend(chunk)
        flat = [r for chunk in chunks for r in chunk]
        assert spool.ids == [f"id:{r}" for r in flat]
        assert len(spool) == len(flat)
        for _ in range(2):  # reading does not consume it: a retried or second pass gets the same records
            batches = list(spool.batches(size))
            assert [r for b in batches for r in b] == flat
            assert all(len(b) == size for b in batches[:-1])
            assert all(0 < len(b) <= size for b in batches)


def test_records_live_on_disk_and_the_file_goes_on_close(tmp_path: Path) -> None:
    spool: Spool[str] = Spool(str, directory=str(tmp_path))
    spool.extend(["x" * 10_000, "y" * 10_000])
    [folder] = list(tmp_path.iterdir())
    spool._fh.flush()
    assert sum(f.stat().st_size for f in folder.iterdir()) > 20_000
    spool.close()
    assert list(tmp_path.iterdir()) == []


def test_a_missing_spool_folder_is_one_clear_error(tmp_path: Path) -> None:
    where = tmp_path / "not-there"
    with pytest.raises(ReconError, match="set TMPDIR") as info:
        Spool(str, directory=str(where))
    assert str(where) in str(info.value)


def test_a_full_disk_is_one_clear_error_naming_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with Spool(str, directory=str(tmp_path)) as spool:
        monkeypatch.setattr(spool_module.pickle, "dump", full)
        with pytest.raises(ReconError, match="No space left on device") as info:
            spool.extend(["a"])
        assert str(tmp_path) in str(info.value)
        assert spool.ids == []  # nothing counted that was not written
