"""Ingest: find source files under the raw folder and decode them.

Needs: a raw folder path and IngestSettings.
Adds: SourceFile listings, RawDocument records (decoded text, content hash, metadata) and
Quarantined records for every input that cannot be taken, each with a reason a person
understands. Nothing under the raw folder is ever modified.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from charset_normalizer import from_bytes

from flows.errors import InputError
from flows.records import Quarantined, RawDocument, SourceFile, SourceMeta
from flows.settings import IngestSettings

META_SUFFIX = ".meta.json"
SOURCES_CSV = "sources.csv"
HTML_EXTENSIONS = (".html", ".htm")
# byte-order marks, longest first (the UTF-32 LE mark begins with the UTF-16 LE one)
BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)


@dataclass(frozen=True)
class Discovery:
    """What a scan of the raw folder found."""

    files: tuple[SourceFile, ...]
    quarantined: tuple[Quarantined, ...]
    metadata: Mapping[str, SourceMeta]


@dataclass(frozen=True)
class ReadResult:
    """A file's bytes and hash, read once so that unchanged files can be skipped cheaply."""

    source: SourceFile
    data: bytes
    content_sha256: str


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def discover(raw_dir: Path, settings: IngestSettings) -> Discovery:
    """List candidate source files under raw_dir; odd entries become quarantine records."""
    root = Path(raw_dir)
    if not root.exists():
        raise InputError(f"raw folder {root} does not exist: create it or pass --raw DIR")
    if not root.is_dir():
        raise InputError(f"raw folder {root} is not a directory: pass --raw DIR")
    files: list[SourceFile] = []
    quarantined: list[Quarantined] = []
    meta_notes: list[Quarantined] = []
    metadata = _load_metadata(root, meta_notes)
    def unlistable(exc: OSError) -> None:
        # os.walk skips a folder it cannot list; without this its files would be lost without a word
        if exc.filename and Path(exc.filename) != root:
            rel = _rel(Path(exc.filename), root)
            quarantined.append(
                Quarantined(rel, "unreadable", f"folder {rel} cannot be listed: {exc.strerror or exc}; its files were not read")
            )

    for dirpath, dirnames, filenames in os.walk(root, onerror=unlistable, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        here = Path(dirpath)
        for d in dirnames:
            if Path(d).suffix.lower() in settings.extensions:
                quarantined.append(
                    Quarantined(
                        _rel(here / d, root),
                        "not_a_file",
                        f"{_rel(here / d, root)} is a directory named like an article file; "
                        "its contents are scanned, but the name itself cannot be read as an article",
                    )
                )
        for name in sorted(filenames):
            if name.startswith(".") or name.endswith(META_SUFFIX) or (here == root and name == SOURCES_CSV):
                continue
            path = here / name
            rel = _rel(path, root)
            if path.is_symlink() and not path.exists():
                quarantined.append(
                    Quarantined(
                        rel,
                        "dangling_symlink",
                        f"{rel} is a symbolic link whose target is missing (or loops); fix or remove the link",
                    )
                )
                continue
            if path.suffix.lower() not in settings.extensions:
                quarantined.append(
                    Quarantined(
                        rel,
                        "unsupported_type",
                        f"{rel} has extension {path.suffix or '(none)'}; supported: {', '.join(settings.extensions)}",
                    )
                )
                continue
            try:
                st = path.stat()
            except OSError as exc:
                quarantined.append(Quarantined(rel, "unreadable", f"{rel} cannot be inspected: {exc.strerror or exc}"))
                continue
            if not path.is_file():
                quarantined.append(Quarantined(rel, "not_a_file", f"{rel} is not a regular file"))
                continue
            files.append(SourceFile(rel, str(path), st.st_size, st.st_mtime))
    return Discovery(tuple(files), tuple(quarantined + meta_notes), metadata)


def read_sources(
    files: Iterable[SourceFile],
    settings: IngestSettings,
    before_read: Callable[[SourceFile], None] | None = None,
) -> tuple[list[ReadResult], list[Quarantined]]:
    """Read each file's bytes and hash them; unreadable, vanished and oversized files are quarantined.

    ``before_read`` is called with each file just before it is opened (tests use it to make a
    file vanish or change between discovery and reading, deterministically).
    """
    results: list[ReadResult] = []
    quarantined: list[Quarantined] = []
    for src in files:
        if src.size_bytes > settings.max_file_bytes:
            quarantined.append(
                Quarantined(
                    src.source_path,
                    "too_large",
                    f"{src.source_path} is {src.size_bytes:,} bytes, over the limit of {settings.max_file_bytes:,} "
                    "bytes (raise RECON_INGEST_MAX_FILE_BYTES to take it)",
                    size_bytes=src.size_bytes,
                )
            )
            continue
        if before_read is not None:
            before_read(src)
        try:
            with open(src.abs_path, "rb") as fh:
                data = fh.read(settings.max_file_bytes + 1)
        except FileNotFoundError:
            quarantined.append(
                Quarantined(
                    src.source_path,
                    "vanished",
                    f"{src.source_path} disappeared between listing and reading; the next run takes it if it is back",
                )
            )
            continue
        except PermissionError:
            quarantined.append(
                Quarantined(
                    src.source_path,
                    "unreadable",
                    f"{src.source_path} cannot be read: permission denied (check the file's permissions)",
                )
            )
            continue
        except IsADirectoryError:
            quarantined.append(
                Quarantined(src.source_path, "not_a_file", f"{src.source_path} became a folder after it was listed")
            )
            continue
        except OSError as exc:
            quarantined.append(
                Quarantined(src.source_path, "unreadable", f"{src.source_path} cannot be read: {exc.strerror or exc}")
            )
            continue
        if len(data) > settings.max_file_bytes:
            quarantined.append(
                Quarantined(
                    src.source_path,
                    "too_large",
                    f"{src.source_path} grew past the limit of {settings.max_file_bytes:,} bytes while being read",
                )
            )
            continue
        results.append(ReadResult(src, data, hashlib.sha256(data).hexdigest()))
    return results, quarantined


_SAMPLE = 8192  # bytes (or characters) inspected to tell text from binary


@lru_cache(maxsize=128)
def _ascii_compatible(encoding: str) -> bool:
    printable = bytes(range(32, 127))
    try:
        return printable.decode(encoding) == printable.decode("ascii")
    except (UnicodeDecodeError, LookupError):
        return False


def _bom(data: bytes) -> tuple[bytes, str] | None:
    return next(((mark, enc) for mark, enc in BOMS if data.startswith(mark)), None)


def _too_many_controls(sample: bytes | str, settings: IngestSettings) -> bool:
    codes = sample if isinstance(sample, bytes) else [ord(c) for c in sample]
    control = sum(1 for b in codes if b < 32 and b not in (9, 10, 12, 13))
    return control / max(len(sample), 1) > settings.max_control_char_ratio


def _looks_binary(data: bytes, settings: IngestSettings) -> bool:
    # UTF-16/32 text is full of NUL bytes: with a byte-order mark, judge the decoded text instead
    bom = _bom(data)
    if bom is not None and bom[1] != "utf-8-sig":
        return False
    sample = data[:_SAMPLE]
    return b"\x00" in sample or _too_many_controls(sample, settings)


def decode(data: bytes, settings: IngestSettings | None = None) -> tuple[str, str] | None:
    """Decode bytes by their byte-order mark, else as UTF-8, else as the charset detected; None if nothing fits."""
    settings = settings or IngestSettings()
    bom = _bom(data)
    if bom is not None:
        mark, encoding = bom
        try:
            # a mark that promises an encoding the bytes do not follow is undecodable, not guessed at
            return data[len(mark) :].decode(encoding), encoding
        except UnicodeDecodeError:
            return None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    legacy = settings.legacy_encoding
    matches = list(from_bytes(data))
    if not matches:
        # the detector gives up on short text; a latin-1/cp1252 file must still be read, not refused
        try:
            return data.decode(legacy), legacy
        except UnicodeDecodeError:
            return None
    high_share = sum(1 for b in data if b >= 0x80) / len(data)
    # On short mostly-ASCII text the detector may rank EBCDIC first ("aaa...ß" as cp037 reads "///...")
    # or a CJK double-byte code page that swallows the ASCII letter after each high byte. CJK text is
    # dense with high bytes and reads without chaos; a multi-byte guess that is neither is passed over.
    plausible = [
        m
        for m in matches
        if _ascii_compatible(m.encoding)
        and not (
            len(str(m)) < len(data)  # a multi-byte reading
            and (high_share < settings.multibyte_min_high_byte_share or m.chaos > settings.legacy_chaos_tolerance)
        )
    ]
    if not plausible:
        try:
            return data.decode(legacy), legacy
        except UnicodeDecodeError:
            plausible = matches
    best = plausible[0]
    for m in plausible:
        if m.encoding == legacy and m.chaos <= best.chaos + settings.legacy_chaos_tolerance:
            return data.decode(legacy), legacy
    # latin-1 and cp1252 differ only in 0x80-0x9f; cp1252 is what web text in practice means
    if best.encoding in ("latin_1", "iso8859_1"):
        try:
            return data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            return data.decode("latin_1"), "latin_1"
    return str(best), best.encoding


def decode_sources(
    reads: Iterable[ReadResult], metadata: Mapping[str, SourceMeta], settings: IngestSettings
) -> tuple[list[RawDocument], list[Quarantined]]:
    """Turn read bytes into RawDocuments; empty, binary and undecodable inputs are quarantined."""
    docs: list[RawDocument] = []
    quarantined: list[Quarantined] = []
    for r in reads:
        path = r.source.source_path
        q = _quarantine_reason(r, settings)
        if q is not None:
            quarantined.append(q)
            continue
        decoded = decode(r.data, settings)
        if decoded is None:
            quarantined.append(
                Quarantined(
                    path,
                    "undecodable",
                    f"{path} is not UTF-8 and no text encoding fits it; re-save it as UTF-8",
                    r.content_sha256,
                    len(r.data),
                )
            )
            continue
        text, encoding = decoded
        if _too_many_controls(text[:_SAMPLE], settings) or "\x00" in text[:_SAMPLE]:
            quarantined.append(
                Quarantined(
                    path,
                    "binary",
                    f"{path} decodes as {encoding} but is mostly control characters, not article text",
                    r.content_sha256,
                    len(r.data),
                )
            )
            continue
        if len(text.strip()) < settings.min_text_chars:
            quarantined.append(
                Quarantined(path, "empty", f"{path} holds no text (only whitespace)", r.content_sha256, len(r.data))
            )
            continue
        media = "html" if Path(path).suffix.lower() in HTML_EXTENSIONS else "text"
        docs.append(
            RawDocument(
                doc_id=path,
                source_path=path,
                content_sha256=r.content_sha256,
                raw_text=text,
                media_type=media,
                encoding=encoding,
                size_bytes=len(r.data),
                meta=metadata.get(path, SourceMeta()),
            )
        )
    return docs, quarantined


def _quarantine_reason(r: ReadResult, settings: IngestSettings) -> Quarantined | None:
    path = r.source.source_path
    if not r.data:
        return Quarantined(path, "empty", f"{path} is empty (0 bytes)", r.content_sha256, 0)
    if _looks_binary(r.data, settings):
        return Quarantined(
            path,
            "binary",
            f"{path} looks like a binary file (NUL or control bytes), not article text",
            r.content_sha256,
            len(r.data),
        )
    return None


def _parse_date(value: str | None, where: str, notes: list[Quarantined]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        notes.append(Quarantined(where, "bad_metadata", f"{where}: published_at {value!r} is not an ISO date (YYYY-MM-DD)"))
        return None


def _meta_from(row: Mapping[str, object], where: str, notes: list[Quarantined]) -> SourceMeta:
    def s(key: str) -> str | None:
        v = row.get(key)
        return str(v).strip() or None if v is not None else None

    return SourceMeta(
        url=s("url"), outlet=s("outlet"), author=s("author"), published_at=_parse_date(s("published_at"), where, notes)
    )


def _load_metadata(root: Path, notes: list[Quarantined]) -> dict[str, SourceMeta]:
    """Read raw/sources.csv and NAME.meta.json sidecars; a bad one is noted, never fatal."""
    meta: dict[str, SourceMeta] = {}
    csv_path = root / SOURCES_CSV
    if csv_path.is_file():
        try:
            with open(csv_path, newline="", encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    key = (row.get("path") or row.get("file") or "").strip()
                    if key:
                        meta[key] = _meta_from(row, f"{SOURCES_CSV} ({key})", notes)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            notes.append(Quarantined(SOURCES_CSV, "bad_metadata", f"{SOURCES_CSV} cannot be read: {exc}"))
    for sidecar in sorted(root.rglob("*" + META_SUFFIX)):
        rel = _rel(sidecar, root)
        target = rel[: -len(META_SUFFIX)]
        try:
            row = json.loads(sidecar.read_text(encoding="utf-8"))
            if not isinstance(row, dict):
                raise ValueError("expected a JSON object")
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            notes.append(Quarantined(rel, "bad_metadata", f"{rel} is not a JSON object of url/outlet/author/published_at: {exc}"))
            continue
        meta[target] = _meta_from(row, rel, notes)
    return meta
