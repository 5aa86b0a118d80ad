"""Ingest: every input becomes a document or a quarantine record with a reason, never a crash.

Stage-level tests (milliseconds); the subprocess run over a hostile raw folder is in
tests/reliability/test_bad_inputs.py.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows import ingest
from flows.errors import InputError
from flows.records import SourceFile
from flows.settings import IngestSettings

CFG = IngestSettings()

# text in several legacy code pages, and what it must decode to (test data, not rules)
LEGACY = {
    "cp1252": "Le président a déclaré mercredi que la réforme serait votée à l'été. « C'est décisif », a-t-il ajouté.",
    "latin-1": "Café owners in Zürich said the naïve résumé policy was announced on Monday. The mayor´s office agreed.",
    "cp1250": "Zażółć gęślą jaźń. Władze miasta poinformowały w poniedziałek, że most zostanie zamknięty.",
    "cp1251": "Власти города сообщили в понедельник, что мост будет закрыт на ремонт.",
    # double-byte code pages must survive the guard against CJK misreadings of Western text
    "shift_jis": "東京都は月曜日、橋が閉鎖されると発表した。関係者によると、再開は来週になる見込みだ。",
    "gb2312": "东京都周一宣布，这座桥将被关闭。据有关人士透露，预计下周重新开放。",
    "big5": "東京都週一宣布，這座橋將被關閉。據有關人士透露，預計下週重新開放。",
    "euc_kr": "도쿄도는 월요일 다리가 폐쇄된다고 발표했다.",
}


def _ingest(raw: Path, cfg: IngestSettings = CFG, before_read=None):
    found = ingest.discover(raw, cfg)
    reads, unread = ingest.read_sources(found.files, cfg, before_read=before_read)
    docs, bad = ingest.decode_sources(reads, dict(found.metadata), cfg)
    return {d.source_path: d for d in docs}, {q.source_path: q for q in [*found.quarantined, *unread, *bad]}


@pytest.mark.parametrize("encoding", sorted(LEGACY))
def test_legacy_code_pages_decode_to_the_original_text(encoding):
    text = LEGACY[encoding]
    decoded = ingest.decode(text.encode(encoding), CFG)
    assert decoded is not None
    assert decoded[0] == text, decoded


@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-16", "utf-32"])
def test_byte_order_marks_decide_the_encoding_and_are_dropped(codec):
    text = "Officials in Zürich said on Monday that the bridge will reopen."
    assert ingest.decode(text.encode(codec), CFG)[0] == text


def test_a_byte_order_mark_that_lies_is_undecodable_not_a_crash(tmp_path):
    (tmp_path / "liar.txt").write_bytes(b"\xef\xbb\xbf\xff\xfe not utf-8")
    docs, quarantined = _ingest(tmp_path)
    assert not docs
    assert quarantined["liar.txt"].reason == "undecodable"


def test_utf16_text_is_a_document_not_binary(tmp_path):
    (tmp_path / "wide.txt").write_bytes("The council met on Tuesday.\n".encode("utf-16"))
    docs, quarantined = _ingest(tmp_path)
    assert docs["wide.txt"].raw_text == "The council met on Tuesday.\n" and not quarantined


def test_each_kind_of_bad_input_gets_its_own_reason(tmp_path):
    (tmp_path / "good.txt").write_text("A bridge closed on Tuesday.\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.md").write_text("   \n\n\t\n")
    (tmp_path / "binary.txt").write_bytes(bytes(range(256)))
    (tmp_path / "big.txt").write_text("word " * 200)
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "missing-target.txt")
    (tmp_path / "folder.txt").mkdir()
    (tmp_path / "folder.txt" / "inner.txt").write_text("Inside a folder named like a file.\n")
    docs, q = _ingest(tmp_path, IngestSettings(max_file_bytes=400))
    assert sorted(docs) == ["folder.txt/inner.txt", "good.txt"]
    reasons = {p: x.reason for p, x in q.items()}
    assert reasons == {
        "empty.txt": "empty",
        "blank.md": "empty",
        "binary.txt": "binary",
        "big.txt": "too_large",
        "notes.pdf": "unsupported_type",
        "dangling.txt": "dangling_symlink",
        "folder.txt": "not_a_file",
    }
    assert "400" in q["big.txt"].detail and "RECON_INGEST_MAX_FILE_BYTES" in q["big.txt"].detail
    assert all(x.detail.startswith(p) for p, x in q.items()), "each reason names its file first"


def test_a_file_that_vanishes_between_listing_and_reading_is_quarantined(tmp_path):
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / name).write_text(f"Article {name} says the bridge closed.\n")

    def remove_b(src: SourceFile) -> None:
        # runs after a.txt was read and before b.txt is opened: the race, made deterministic
        if src.source_path == "a.txt":
            (tmp_path / "b.txt").unlink()

    docs, q = _ingest(tmp_path, before_read=remove_b)
    assert sorted(docs) == ["a.txt", "c.txt"]
    assert q["b.txt"].reason == "vanished"
    assert "disappeared" in q["b.txt"].detail


def test_a_file_replaced_by_a_folder_mid_run_is_quarantined(tmp_path):
    (tmp_path / "a.txt").write_text("First.\n")
    (tmp_path / "b.txt").write_text("Second.\n")

    def swap(src: SourceFile) -> None:
        if src.source_path == "b.txt":
            (tmp_path / "b.txt").unlink()
            (tmp_path / "b.txt").mkdir()

    docs, q = _ingest(tmp_path, before_read=swap)
    assert sorted(docs) == ["a.txt"] and q["b.txt"].reason == "not_a_file"


def _can_block_reads(path: Path) -> bool:
    """chmod 000 blocks reading unless we are root (or hold CAP_DAC_OVERRIDE)."""
    try:
        with open(path, "rb"):
            return False
    except PermissionError:
        return True


def test_unreadable_file_and_folder_are_quarantined_not_lost(tmp_path):
    (tmp_path / "secret.txt").write_text("Locked away.\n")
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "inside.txt").write_text("Also locked away.\n")
    os.chmod(tmp_path / "secret.txt", 0)
    os.chmod(tmp_path / "locked", 0)
    try:
        if not _can_block_reads(tmp_path / "secret.txt"):
            pytest.skip("running with permission to read anything (root): chmod 000 cannot make a file unreadable")
        docs, q = _ingest(tmp_path)
        assert not docs
        assert q["secret.txt"].reason == "unreadable" and "permission denied" in q["secret.txt"].detail
        assert q["locked"].reason == "unreadable" and "cannot be listed" in q["locked"].detail
    finally:
        os.chmod(tmp_path / "locked", 0o755)
        os.chmod(tmp_path / "secret.txt", 0o644)


def test_permission_errors_are_quarantined_even_when_tests_run_as_root(tmp_path, monkeypatch):
    """The same two refusals as above, forced by the OS calls failing, so they are tested under root too."""
    (tmp_path / "secret.txt").write_text("Locked away.\n")
    (tmp_path / "open.txt").write_text("Anyone may read this.\n")
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "inside.txt").write_text("Also locked away.\n")
    real_open, real_scandir = open, os.scandir

    def guarded_open(path, *args, **kwargs):
        if Path(path).name == "secret.txt":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    def guarded_scandir(path="."):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(ingest, "open", guarded_open, raising=False)  # the module's open, not the builtin
    monkeypatch.setattr(os, "scandir", guarded_scandir)
    docs, q = _ingest(tmp_path)
    assert sorted(docs) == ["open.txt"]
    assert q["secret.txt"].reason == "unreadable" and "permission denied" in q["secret.txt"].detail
    assert q["locked"].reason == "unreadable" and "cannot be listed" in q["locked"].detail
    assert "files were not read" in q["locked"].detail


def test_a_file_that_grows_past_the_limit_while_the_run_reads_is_quarantined(tmp_path):
    (tmp_path / "log.txt").write_text("short\n")

    def grow(src: SourceFile) -> None:
        with open(src.abs_path, "a") as fh:
            fh.write("more text " * 100)

    docs, q = _ingest(tmp_path, IngestSettings(max_file_bytes=500), before_read=grow)
    assert not docs and q["log.txt"].reason == "too_large" and "500" in q["log.txt"].detail


def test_missing_raw_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        ingest.discover(tmp_path / "nope", CFG)
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a directory"):
        ingest.discover(tmp_path / "file", CFG)


def test_ingest_never_writes_to_the_raw_folder(tmp_path, seed_raw):
    shutil.copy(seed_raw / sorted(os.listdir(seed_raw))[0], seed_raw / "copy.txt")
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in seed_raw.iterdir()}
    _ingest(seed_raw)
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in seed_raw.iterdir()} == before


# ---- properties ----------------------------------------------------------------------------------


def _one(data: bytes, cfg: IngestSettings = CFG):
    src = SourceFile("x.txt", "/nonexistent", len(data), 0.0)
    read = ingest.ReadResult(src, data, "0" * 64)
    return ingest.decode_sources([read], {}, cfg)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_any_bytes_become_a_document_or_one_quarantine_record(data):
    docs, quarantined = _one(data)
    assert len(docs) + len(quarantined) == 1
    if quarantined:
        q = quarantined[0]
        assert q.reason in {"empty", "binary", "undecodable"} and q.detail.startswith("x.txt")
    else:
        assert docs[0].raw_text.strip() and docs[0].encoding


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=400))
def test_any_utf8_text_round_trips_exactly(text):
    docs, quarantined = _one(text.encode("utf-8"))
    if text.strip():
        assert docs and docs[0].raw_text == text and docs[0].encoding == "utf-8"
    else:
        assert quarantined[0].reason == "empty"


# Western prose: plain and accented words in any order and number (a realistic share of high bytes)
WESTERN_WORDS = st.sampled_from(
    ["the", "bridge", "closed", "on", "Monday,", "officials", "said.", "café", "naïve", "Zürich", "résumé", "señor", "Straße", "été", "à", "déjà", "vu", "Müller", "garçon", "año", "Ärger».«"]
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(WESTERN_WORDS, min_size=4, max_size=60).map(" ".join))
def test_western_text_in_cp1252_never_crashes_and_keeps_the_ascii(text):
    docs, quarantined = _one(text.encode("cp1252"))
    assert docs, quarantined
    # whatever code page the detector picks, ASCII bytes must come back unchanged
    got = docs[0].raw_text
    assert [c for c in got if c.isascii()] == [c for c in text if c.isascii()]
