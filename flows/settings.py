"""Every threshold and limit of the pipeline, in one object passed explicitly.

Defaults live here. Environment variables override them as ``RECON_<SECTION>_<FIELD>``
(e.g. ``RECON_INGEST_MAX_FILE_BYTES=1000000``); CLI flags override both.
Each stage owns one section; add a field to your section, never a literal in a function.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from flows.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = Path(__file__).resolve().parent / "rules"


@dataclass(frozen=True)
class IngestSettings:
    max_file_bytes: int = 5_000_000  # larger files are quarantined with this limit named
    min_text_chars: int = 1  # a file with less text than this after decoding is "empty"
    max_control_char_ratio: float = 0.05  # above this share of control chars a file is binary
    extensions: tuple[str, ...] = (".txt", ".md", ".html", ".htm")


@dataclass(frozen=True)
class CleanSettings:
    boilerplate_rules: str = "boilerplate.tsv"  # file under flows/rules/


@dataclass(frozen=True)
class DespinSettings:
    spun_threshold: float = 0.5  # document spin score at or above which repair runs
    apply_confidence: float = 0.5  # edits below this are recorded as suggestions only


@dataclass(frozen=True)
class ExtractSettings:
    min_quote_words: int = 3
    timex_tense_window_chars: int = 120  # how far back in its sentence a future cue ("will") is looked for
    timex_docdate_max_gap_words: int = 3  # words allowed between "Updated"/"Published" and its date (garbled "~ above")
    timex_docdate_head_chars: int = 400  # a full date this close to the top of the text is read as a dateline
    timex_docdate_head_max_words_before: int = 6  # dateline: at most this many words before the date on its line
    common_word_zipf: float = 4.5  # a sentence-initial capitalised word this frequent (wordfreq) is not a name
    min_name_chars: int = 2  # shorter capitalised runs are not names
    max_title_words: int = 8  # a quoted capitalised phrase up to this long is a title (WORK)
    typo_min_chars: int = 5  # a one-letter variant of a surname this long merges with it if unambiguous


@dataclass(frozen=True)
class ReconcileSettings:
    # rule data under flows/rules/
    spelling_rules: str = "reconcile/spelling_variants.tsv"
    paraphrase_rules: str = "reconcile/paraphrases.tsv"
    predicate_rules: str = "reconcile/predicate_families.tsv"
    place_rules: str = "reconcile/place_containment.tsv"
    place_alias_rules: str = "reconcile/place_aliases.tsv"
    # grouping (blocking, then matching)
    quote_match_threshold: float = 0.5  # overlap coefficient of content words for two quotes to match
    quote_min_shared_words: int = 3  # content words two quotes must share (fewer only if a quote is that short)
    quote_min_content_words: int = 2  # a quote with fewer content words never matches another
    cross_speaker_min_shared_words: int = 6  # quotes attributed to different speakers must share this many
    cross_speaker_threshold: float = 0.8  # and this overlap coefficient
    same_doc_join_threshold: float = 0.8  # a document's second quote joins a group holding its first only this close
    same_doc_max_shared_words: int = 1  # below the join threshold, a document's quotes in one group share at most this many
    quote_ngram: int = 3  # word n-gram size used to block quotes across speakers
    common_word_zipf: float = 6.0  # words at least this frequent (wordfreq zipf) are not content words
    max_block_size: int = 200  # a blocking key shared by more claims than this is too common to compare all pairs
    # comparison
    venue_match_threshold: float = 0.5  # word overlap coefficient at which two venue names are the same venue
    number_rel_tolerance: float = 0.02  # numbers this close (relative) are compatible, not conflicting
    number_abs_tolerance: float = 0.0
    number_high_rel_diff: float = 0.5  # numbers differing more than this (relative) are a high-severity conflict
    quote_medium_diff_ratio: float = 0.3  # wording variants differing in more than this share of words: medium
    unanchored_guess_factor: float = 0.5  # confidence scale for a likely value that assumes a missing year
    default_trust: float = 1.0  # trust of a document source_trust did not score
    # source trust
    copy_shingle_words: int = 5  # word shingle size for copy detection
    copy_min_shared_ratio: float = 0.3  # share of the shorter text's shingles two texts must share to be copies
    spun_copy_min_shared_ratio: float = 0.1  # lower bar when one text is spun (spinning breaks shingles)
    spun_threshold: float = 0.5  # spin score at or above which a document counts as spun
    copy_discount: float = 0.8  # how much of a copy's vote is removed, scaled by its shared ratio
    spin_penalty: float = 0.5  # trust removed per unit of spin score
    min_trust: float = 0.05
    max_shingle_docs: int = 50  # a shingle in more documents than this is boilerplate, not copying


@dataclass(frozen=True)
class RunSettings:
    batch_size: int = 256  # documents per Prefect task
    lock_timeout_s: float = 30.0  # how long a second writer waits for the warehouse lock


@dataclass(frozen=True)
class Settings:
    ingest: IngestSettings = field(default_factory=IngestSettings)
    clean: CleanSettings = field(default_factory=CleanSettings)
    despin: DespinSettings = field(default_factory=DespinSettings)
    extract: ExtractSettings = field(default_factory=ExtractSettings)
    reconcile: ReconcileSettings = field(default_factory=ReconcileSettings)
    run: RunSettings = field(default_factory=RunSettings)

    def override(self, section: str, **values: object) -> Settings:
        """Return a copy with fields of one section replaced."""
        return replace(self, **{section: replace(getattr(self, section), **values)})


def _coerce(raw: str, current: object, name: str) -> object:
    try:
        if isinstance(current, bool):
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if isinstance(current, int):
            return int(raw)
        if isinstance(current, float):
            return float(raw)
        if isinstance(current, tuple):
            return tuple(x.strip() for x in raw.split(",") if x.strip())
        return raw
    except ValueError as exc:
        raise ConfigError(f"environment variable {name}={raw!r} is not a valid {type(current).__name__}") from exc


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Defaults overridden by RECON_<SECTION>_<FIELD> environment variables."""
    env = os.environ if environ is None else environ
    settings = Settings()
    for section in fields(Settings):
        sub = getattr(settings, section.name)
        changes = {}
        for f in fields(sub):
            name = f"RECON_{section.name}_{f.name}".upper()
            if name in env:
                changes[f.name] = _coerce(env[name], getattr(sub, f.name), name)
        if changes:
            settings = settings.override(section.name, **changes)
    return settings
