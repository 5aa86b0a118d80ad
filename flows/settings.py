"""Every threshold and limit of the pipeline, in one object passed explicitly.

Defaults live here. Environment variables override them as ``RECON_<SECTION>_<FIELD>``
(e.g. ``RECON_INGEST_MAX_FILE_BYTES=1000000``); CLI flags override both.
Each stage owns one section; add a field to your section, never a literal in a function.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import ClassVar

from flows.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = Path(__file__).resolve().parent / "rules"


class _Ranged:
    """Range checks for a settings section, run whenever one is built or overridden.

    Every number must be finite and at least 0. A section lists the fields that must be more
    (``positive``: above 0, a divisor or a poll interval; ``counts``: at least 1, a size or a
    count) or that are shares, ratios or confidences (``fractions``: at most 1). A value out of
    range is a ConfigError naming the setting, not a run that silently drops its input.
    """

    section: ClassVar[str] = ""
    positive: ClassVar[frozenset[str]] = frozenset()
    counts: ClassVar[frozenset[str]] = frozenset()
    fractions: ClassVar[frozenset[str]] = frozenset()

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if f.name in self.counts:
                ok, need = value >= 1, "at least 1"
            elif f.name in self.positive:
                ok, need = value > 0, "above 0"
            elif f.name in self.fractions:
                ok, need = 0 <= value <= 1, "between 0 and 1"
            else:
                ok, need = value >= 0, "at least 0"
            if not ok or not math.isfinite(value):
                env = f"RECON_{self.section}_{f.name}".upper()
                raise ConfigError(
                    f"setting {self.section}.{f.name} = {value!r} is out of range: it must be {need} "
                    f"(environment variable {env}, or the command's flag)"
                )


@dataclass(frozen=True)
class IngestSettings(_Ranged):
    section = "ingest"
    counts = frozenset({"max_file_bytes"})
    fractions = frozenset({"max_control_char_ratio", "multibyte_min_high_byte_share"})

    max_file_bytes: int = 5_000_000  # larger files are quarantined with this limit named
    min_text_chars: int = 1  # a file with less text than this after decoding is "empty"
    max_control_char_ratio: float = 0.05  # above this share of control chars a file is binary
    extensions: tuple[str, ...] = (".txt", ".md", ".html", ".htm")
    # the charset detector cannot tell single-byte Latin code pages apart on short text (it reads a
    # latin-1 "ï" as iso8859-13 "ļ"); this one wins when it fits about as well as the best guess
    legacy_encoding: str = "cp1252"
    legacy_chaos_tolerance: float = 0.1  # how much more "chaos" (detector score) legacy_encoding may have
    multibyte_min_high_byte_share: float = 0.3  # a CJK double-byte guess needs at least this share of bytes >= 0x80


@dataclass(frozen=True)
class CleanSettings(_Ranged):
    section = "clean"

    boilerplate_rules: str = "boilerplate.tsv"  # file under flows/rules/


@dataclass(frozen=True)
class DespinSettings(_Ranged):
    section = "despin"
    positive = frozenset({"sentence_scale", "doc_rate_scale", "lm_smoothing"})
    counts = frozenset({
        "nonword_min_len", "min_words_for_rate", "min_doc_signals", "title_max_words", "title_min_word_len",
        "align_ngram", "align_max_ngram_df", "align_min_passage", "align_max_span", "own_name_min_count"
    })
    fractions = frozenset({
        "spun_threshold", "apply_confidence", "title_cap_share", "apostrophe_confidence",
        "nested_quote_confidence", "possessive_quote_confidence", "case_confidence", "entity_confidence",
        "entity_loose_confidence", "learned_confidence", "align_min_ratio", "align_confidence",
        "align_variant_ratio"
    })

    spun_threshold: float = 0.5  # document spin score at or above which repair runs
    apply_confidence: float = 0.5  # edits below this are recorded as suggestions only
    substitutions: str = "despin/substitutions.tsv"  # reverse-substitution table under flows/rules/
    wordclasses: str = "despin/wordclasses.tsv"  # word classes the table's conditions use
    # detection: weight of each signal kind; scores squash summed weights with these scales
    signature_weight: float = 1.0  # a spinner signature n-gram ("each various other")
    swap_weight: float = 0.5  # a table swap whose context condition holds ("space happily")
    apostrophe_weight: float = 1.0  # word"s
    nonword_weight: float = 0.7  # a lower-case word wordfreq does not know
    case_weight: float = 0.5  # a first name written lower-case
    nonword_min_len: int = 4  # shorter unknown tokens are too often abbreviations
    nonword_max_zipf: float = 0.0  # a word at or below this frequency is a non-word
    first_name_max_zipf: float = 6.0  # a first name is rarer than this; "The", "In" are not first names
    surname_max_zipf: float = 5.0  # the second word of a first-name pair is rarer than this ("Novak")
    sentence_scale: float = 1.5  # summed signal weight giving a sentence score of 1 - 1/e
    doc_rate_scale: float = 1.5  # signal weight per 100 words giving a document score of 1 - 1/e
    min_words_for_rate: int = 40  # short texts are scored as if this long (one slip is not spin)
    min_doc_signals: int = 3  # a document with fewer signals has its score scaled down by count / this
    # repair
    title_max_words: int = 20  # a longer line is body text even without a final stop
    title_cap_share: float = 0.4  # share of capitalised longer words that makes a line a headline
    title_min_word_len: int = 4  # short words ("of", "and", "sit") say little about title case
    title_context_chars: int = 40  # how far before/after a replacement its neighbouring words are looked for
    sentence_bonus: float = 0.1  # added to a table edit's prior when its sentence has other signals
    agree_bonus: float = 0.1  # added when two independent sources propose the same replacement
    apostrophe_confidence: float = 0.95
    nested_quote_confidence: float = 0.8  # a double quote opening or closing a quote inside a quote
    possessive_quote_confidence: float = 0.75  # `Characters" first` outside any quotation: a plural possessive
    case_confidence: float = 0.9
    entity_confidence: float = 0.85  # a name part replaced from a clean source's full name
    entity_loose_confidence: float = 0.7  # "First word" -> "First Last" when word is a common word
    entity_min_common_zipf: float = 3.0  # a swapped surname must be an ordinary word this frequent
    entity_swap_min_zipf: float = 5.5  # a swapped first name must be a very common word ("Man"), not a rarer name
    learned_confidence: float = 0.75  # a substitution learned by alignment, reused at another place
    splice_min_zipf: float = 3.0  # an in-word splice repair must yield a word at least this frequent
    align_ngram: int = 3  # shared word n-grams that block candidate passages for alignment
    align_max_ngram_df: int = 3  # an n-gram in more references than this is too common to block on
    align_slack: int = 8  # extra reference tokens on each side of where a passage is expected
    align_min_passage: int = 4  # shorter quotations are too short to tell a copy from a coincidence
    align_min_ratio: float = 0.45  # share of a passage's words the reference has too, below which it is not a copy
    align_max_span: int = 3  # longest replaced run (tokens) taken from a reference
    align_min_flank: int = 1  # equal tokens needed right next to each side of a replaced run
    align_quotes_only: bool = True  # copied wording is reliable inside quotations only
    align_confidence: float = 0.85
    align_variant_ratio: float = 0.8  # letters this similar mean a spelling variant, which is left alone
    entity_max_word_zipf: float = 5.0  # "Anna rock" for "Anna Stone": a swapped surname is a content word rarer than this
    own_name_min_count: int = 1  # a document's own two-word name is evidence when written this often
    own_name_dominance: float = 2.0  # ... and this many times as often as other first names with that surname
    lm_smoothing: float = 2.0  # pseudo-count pulling reference bigrams towards wordfreq unigrams
    lm_veto_margin: float = 2.0  # natural-log margin by which a swap may lower the text's likelihood
    lm_penalty: float = 0.2  # taken off a table edit the context model finds less likely than the text
    reference_cache_size: int = 1024  # reference texts whose analysis a process keeps for later batches (~40 KB each)


@dataclass(frozen=True)
class ExtractSettings(_Ranged):
    section = "extract"
    counts = frozenset({
        "min_quote_words", "min_name_chars", "max_title_words", "office_min_name_words", "typo_min_chars"
    })
    fractions = frozenset({
        "exclaimed_headline_caps_share", "quote_confidence", "quote_continuation_confidence",
        "indirect_confidence", "remark_confidence", "fact_confidence", "plural_confidence_factor"
    })

    min_quote_words: int = 3
    timex_tense_window_chars: int = 120  # how far back in its sentence a future cue ("will") is looked for
    timex_docdate_max_gap_words: int = 3  # words allowed between "Updated"/"Published" and its date (garbled "~ above")
    timex_docdate_head_chars: int = 400  # a full date this close to the top of the text is read as a dateline
    timex_docdate_head_max_words_before: int = 6  # dateline: at most this many words before the date on its line
    timex_docdate_head_max_words_after: int = 6  # dateline: and at most this many after it, unless a dash follows
    common_word_zipf: float = 4.5  # a sentence-initial capitalised word this frequent (wordfreq) is not a name
    min_name_chars: int = 2  # shorter capitalised runs are not names
    max_title_words: int = 8  # a quoted capitalised phrase up to this long is a title (WORK)
    exclaimed_headline_min_words: int = 4  # a title-case line ending in ! or ? needs this many words over 3 letters
    exclaimed_headline_caps_share: float = 0.75  # ... and this share of them capitalised to read as a headline
    office_min_name_words: int = 2  # "Acme CEO Jane Roe" is Jane Roe when at least this many words follow the office
    typo_min_chars: int = 5  # a one-letter variant of a surname this long merges with it if unambiguous
    quote_confidence: float = 0.9  # a direct quote whose speaker is named next to it
    quote_continuation_confidence: float = 0.7  # a direct quote that inherits its neighbour's speaker
    quote_carry_paragraphs: int = 3  # mark-less paragraphs an unclosed quote may run through to the mark that closes it
    indirect_confidence: float = 0.7  # reported speech "X said that ..."
    remark_confidence: float = 0.7  # "X's comments ... made headlines" (a remark without its words)
    clause_gap_chars: int = 60  # an object or place must start this close after its predicate
    plural_lookback_sentences: int = 2  # sentences searched back for the people "they both" refers to
    fact_confidence: float = 0.75  # first:/count:/age/plays facts found by pattern
    plural_confidence_factor: float = 0.8  # confidence scale when the subject is a resolved pronoun or "they both"
    pronoun_lookback_sentences: int = 3  # sentences searched back (before falling back to the nearest) for a he/she referent
    negation_window_words: int = 4  # a negation this many words or fewer before a predicate (no clause opener between) denies it
    predicate_window_chars: int = 48  # predicate phrases are matched this far around their trigger word (longest lead: "have been ")
    speaker_reach_chars: int = 160  # reported speech is looked for from this far before a sentence's first speech verb


@dataclass(frozen=True)
class ReconcileSettings(_Ranged):
    section = "reconcile"
    counts = frozenset({
        "quote_min_shared_words", "quote_ngram", "max_block_size", "block_pivots", "max_compared_values",
        "copy_shingle_words", "copy_sample_mod", "copy_min_shared_shingles", "max_shingle_docs"
    })
    fractions = frozenset({
        "quote_match_threshold", "cross_speaker_threshold", "same_doc_join_threshold", "venue_match_threshold",
        "quote_medium_diff_ratio", "unanchored_guess_factor", "default_trust", "copy_min_shared_ratio",
        "spun_copy_min_shared_ratio", "spun_threshold", "copy_discount", "min_trust"
    })

    # rule data under flows/rules/
    spelling_rules: str = "reconcile/spelling_variants.tsv"
    paraphrase_rules: str = "reconcile/paraphrases.tsv"
    predicate_rules: str = "reconcile/predicate_families.tsv"
    place_rules: str = "reconcile/place_containment.tsv"
    place_alias_rules: str = "reconcile/place_aliases.tsv"
    person_title_rules: str = "reconcile/person_titles.tsv"
    # grouping (blocking, then matching)
    quote_match_threshold: float = 0.5  # overlap coefficient of content words for two quotes to match
    quote_min_shared_words: int = 3  # content words two quotes must share (fewer only if a quote is that short)
    quote_min_content_words: int = 2  # a quote with fewer content words never matches another
    cross_speaker_min_shared_words: int = 6  # quotes attributed to different speakers must share this many
    cross_speaker_threshold: float = 0.8  # and this overlap coefficient
    same_doc_join_threshold: float = 0.8  # a document's second quote joins a group holding its first only this close
    same_doc_max_shared_words: int = 1  # below the join threshold, a document's quotes in one group share at most this many
    quote_ngram: int = 3  # word n-gram size used to block quotes across speakers
    fragment_max_gap: int = 120  # a speaker's next quote in a document this few chars on is the same statement
    remark_max_gap: int = 600  # a remark report attaches to the speaker's quote starting this few chars after it
    name_joiners: tuple[str, ...] = ("and",)  # words joining coordinated names ("Jim and Pam"), ignored in matching
    recurring_event_gap_days: int = 180  # dates of a recurring event (fired, married) further apart are two events
    common_word_zipf: float = 6.0  # words at least this frequent (wordfreq zipf, >= 4.3) are not content words
    max_block_size: int = 40  # a blocking key shared by more claims than this is not compared all pairs...
    block_pivots: int = 8  # ...but each member only against this many of the key's first members
    # comparison
    max_compared_values: int = 12  # distinct values per aspect compared pair by pair (by support); the rest by range
    venue_match_threshold: float = 0.5  # word overlap coefficient at which two venue names are the same venue
    number_rel_tolerance: float = 0.02  # numbers this close (relative) are compatible, not conflicting
    number_abs_tolerance: float = 0.0
    number_high_rel_diff: float = 0.5  # numbers differing more than this (relative) are a high-severity conflict
    age_drift_years: float = 2.0  # ages this far apart may be one person's age in articles written years apart
    quote_medium_diff_ratio: float = 0.5  # wording variants differing in more than this share of words: medium
    quote_partner_candidates: int = 3  # other wordings (most shared words first) aligned with each quote
    unanchored_guess_factor: float = 0.5  # confidence scale for a likely value that assumes a missing year
    default_trust: float = 1.0  # trust of a document source_trust did not score
    # source trust
    copy_shingle_words: int = 5  # word shingle size for copy detection
    copy_sample_mod: int = 2  # keep shingles whose hash is 0 mod this (1 keeps all; more is faster, coarser)
    copy_min_shared_shingles: int = 3  # fewer shared sampled shingles is a shared phrase, not a copied passage
    copy_min_shared_ratio: float = 0.3  # share of the shorter text's shingles two texts must share to be copies
    spun_copy_min_shared_ratio: float = 0.1  # lower bar when one text is spun (spinning breaks shingles)
    spun_threshold: float = 0.5  # spin score at or above which a document counts as spun
    copy_discount: float = 0.8  # how much of a copy's vote is removed, scaled by its shared ratio
    spin_penalty: float = 0.5  # trust removed per unit of spin score
    min_trust: float = 0.05
    max_shingle_docs: int = 50  # a shingle in more documents than this is boilerplate, not copying


@dataclass(frozen=True)
class ReportSettings(_Ranged):
    section = "report"
    counts = frozenset({"sources_per_position", "positions_per_card", "cards_per_page", "explanation_chars"})

    # the report shows every distinct position of a group but only this many sources for each (most trusted
    # first); the rest stay one query away (conflict_evidence). A group that 400 outlets agree on would
    # otherwise print 400 rows, and the page of a 20,000-article run would weigh hundreds of MB
    sources_per_position: int = 5
    # and only this many positions of a group, those with the most trusted support first: nearly every group
    # has at most 4, but one whose 20,000 copies vary a name held 3,371 and made an 11 MB card
    positions_per_card: int = 10
    # a group's explanation is cut to this many characters on its card (the whole text stays in the warehouse):
    # one listing every position of 3,371 ran to 406 KB
    explanation_chars: int = 2000
    # groups per HTML page: 23,503 groups of a 20,000-article run made one 168 MB page; 250 make pages of
    # about 2 MB that a browser opens at once
    cards_per_page: int = 250


@dataclass(frozen=True)
class RunSettings(_Ranged):
    section = "run"
    counts = frozenset({"batch_size", "batches_ahead", "spun_batch_size", "release_keep_mb", "duckdb_budget_mb"})

    batch_size: int = 256  # documents per Prefect task
    lock_timeout_s: float = 30.0  # how long a second writer waits for the warehouse lock
    workers: int = 0  # local worker processes for the CPU-bound stages (0: one per core, 1: none, all in-process)
    batches_ahead: int = 2  # batches in flight per worker: bounds memory on large folders
    # spun documents repaired per task (each batch is shipped its own references). Repair is as good from 32
    # to 256 (2,000 articles, scripts/eval_bench_repair.py: 68.6, 68.5, 68.4, 68.4% of word errors repaired)
    # and cheaper per document in larger batches (17.5, 15.7, 14.4, 13.4 CPU ms), but 128 raised the
    # workers' peak by about 100 MB (6,000 articles: 1,043 MB summed against 889), past the memory target
    spun_batch_size: int = 64
    # nearest clean texts shipped per spun document (0: every clean text). Each batch analyses the union of
    # its documents' references, so this sets most of repair's cost: 4 repaired as many word errors as 12
    # (scripts/eval_bench_repair.py) for 30% less repair CPU at 20,000 articles
    references_per_doc: int = 4
    # write-ahead log a run lets grow before DuckDB checkpoints it into the file (DuckDB's default: 16 MB).
    # A checkpoint rewrites each table's last, partly filled row group (up to 122,880 rows, every
    # document of a small warehouse), so with the default the loader's cost per batch grew with the tables
    checkpoint_mb: int = 256
    # DuckDB memory kept when reconcile starts: a checkpoint and a brief limit this low evict what the load
    # left cached (warehouse.release_memory), about 500 MB of the flow process at 20,000 articles
    release_keep_mb: int = 32
    # DuckDB's memory limit while a run loads (warehouse.limit_memory): it evicts cached blocks instead of
    # keeping them until 80% of RAM presses; a batch that needs more is loaded again without the limit.
    # 128, not 256, since stop 19: once reconcile's peak came down, the spun loads set the run's (20,000
    # articles: 1,315 MB summed at 256, 1,183 at 128), for about 7% more load time
    duckdb_budget_mb: int = 128
    # allocations between cyclic garbage collections in the worker processes (Python's default: 700);
    # the stages make many small records and few cycles, and collecting less often saves ~20% CPU
    gc_gen0_threshold: int = 20_000
    # glibc malloc arenas of the run's process (0: glibc's default, 8 per core). The threads of Prefect, its
    # temporary server and DuckDB each took an arena of their own and kept what they had freed there: 2
    # lowered the summed peak of a 6,000-article run by 23 MB while reconciling and 9 MB while loading
    malloc_arenas: int = 2


@dataclass(frozen=True)
class OpsSettings(_Ranged):
    section = "ops"
    positive = frozenset({"server_start_timeout_s", "health_poll_s", "runner_poll_s", "bench_rss_poll_s", "run_stop_timeout_s"})
    counts = frozenset({"bench_name_pool", "bench_story_size"})
    fractions = frozenset({"bench_spun_share", "bench_number_jitter"})

    server_host: str = "127.0.0.1"  # a local Prefect server listens on loopback only
    server_start_timeout_s: float = 120.0  # a fresh server migrates its database first (~16 s here)
    server_stop_timeout_s: float = 20.0  # after this a server that ignores SIGTERM is killed
    run_stop_timeout_s: float = 30.0  # a stopping `recon serve` waits this long for its run in flight to record its end
    health_poll_s: float = 0.25  # how often /api/health is asked while a server starts
    deployment_name: str = "scheduled"  # `recon serve` deployment: reconcile/<this>
    default_cron: str = "*/30 * * * *"  # `recon serve` without --cron or --interval
    runner_poll_s: float = 10.0  # how often the serving process asks the server for due runs
    bench_seed: int = 7  # the synthetic corpus is reproducible for a given seed
    bench_spun_share: float = 0.25  # share of generated articles passed through the word-swap spinner
    bench_spin_rate: float = 1.0  # scales the spinner table's chance per match (1: as observed)
    bench_year_shift: int = 5  # years move by up to this many either way
    bench_number_jitter: float = 0.3  # numbers change by up to this share either way
    bench_name_pool: int = 400  # generated surnames and given names to draw replacements from
    bench_story_size: int = 8  # generated articles per story: they share names, so reconcile has groups to compare
    bench_name_max_zipf: float = 4.0  # a capitalised word rarer than this (wordfreq zipf) counts as a name to vary
    bench_rss_poll_s: float = 0.2  # how often the benchmark samples the memory of its process tree


@dataclass(frozen=True)
class Settings:
    ingest: IngestSettings = field(default_factory=IngestSettings)
    clean: CleanSettings = field(default_factory=CleanSettings)
    despin: DespinSettings = field(default_factory=DespinSettings)
    extract: ExtractSettings = field(default_factory=ExtractSettings)
    reconcile: ReconcileSettings = field(default_factory=ReconcileSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    run: RunSettings = field(default_factory=RunSettings)
    ops: OpsSettings = field(default_factory=OpsSettings)

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
