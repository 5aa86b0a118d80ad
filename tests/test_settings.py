"""Settings: defaults, environment overrides, and clear errors for bad values."""

from dataclasses import fields

import pytest

from flows.errors import ConfigError
from flows.settings import Settings, load_settings


def test_environment_overrides_a_field():
    s = load_settings({"RECON_INGEST_MAX_FILE_BYTES": "1234", "RECON_RUN_LOCK_TIMEOUT_S": "2.5"})
    assert s.ingest.max_file_bytes == 1234
    assert s.run.lock_timeout_s == 2.5
    assert s.clean == Settings().clean


def test_bad_environment_value_names_the_variable():
    with pytest.raises(ConfigError, match="RECON_RUN_BATCH_SIZE"):
        load_settings({"RECON_RUN_BATCH_SIZE": "many"})


def test_override_returns_a_copy():
    base = Settings()
    changed = base.override("run", batch_size=7)
    assert changed.run.batch_size == 7 and base.run.batch_size != 7


def test_every_range_rule_names_a_numeric_field_of_its_section():
    # a misspelt name in a rule set would leave that setting with the weakest check, silently
    s = Settings()
    for section in fields(s):
        sub = getattr(s, section.name)
        assert sub.section == section.name
        numeric = {f.name for f in fields(sub) if type(getattr(sub, f.name)) in (int, float)}
        for rule in ("positive", "counts", "fractions"):
            assert getattr(sub, rule) <= numeric, (section.name, rule, getattr(sub, rule) - numeric)


@pytest.mark.parametrize(
    ("variable", "raw", "need"),
    [
        ("RECON_RUN_BATCH_SIZE", "0", "at least 1"),  # a run with no batch size would process nothing
        ("RECON_RUN_SPUN_BATCH_SIZE", "-3", "at least 1"),
        ("RECON_INGEST_MAX_FILE_BYTES", "-1", "at least 1"),  # would quarantine every file
        ("RECON_RECONCILE_COPY_SAMPLE_MOD", "0", "at least 1"),  # a modulus
        ("RECON_DESPIN_DOC_RATE_SCALE", "0", "above 0"),  # a divisor
        ("RECON_OPS_HEALTH_POLL_S", "0", "above 0"),
        ("RECON_DESPIN_SPUN_THRESHOLD", "1.5", "between 0 and 1"),
        ("RECON_RECONCILE_MIN_TRUST", "-0.1", "between 0 and 1"),
        ("RECON_RUN_CHECKPOINT_MB", "-1", "at least 0"),
        ("RECON_RUN_LOCK_TIMEOUT_S", "nan", "at least 0"),
        ("RECON_RUN_LOCK_TIMEOUT_S", "inf", "at least 0"),
    ],
)
def test_a_value_out_of_range_is_a_config_error_naming_the_variable(variable, raw, need):
    with pytest.raises(ConfigError, match=f"out of range: it must be {need}.*{variable}"):
        load_settings({variable: raw})


def test_the_edges_of_each_range_are_accepted():
    s = load_settings({
        "RECON_RUN_BATCH_SIZE": "1", "RECON_RUN_CHECKPOINT_MB": "0", "RECON_RUN_REFERENCES_PER_DOC": "0",
        "RECON_DESPIN_SPUN_THRESHOLD": "0", "RECON_DESPIN_APPLY_CONFIDENCE": "1", "RECON_OPS_HEALTH_POLL_S": "0.001",
    })  # fmt: skip
    assert (s.run.batch_size, s.run.checkpoint_mb, s.despin.spun_threshold, s.despin.apply_confidence) == (1, 0, 0, 1)


def test_an_override_in_code_is_checked_too():
    with pytest.raises(ConfigError, match="run.batch_size = -5"):
        Settings().override("run", batch_size=-5)
