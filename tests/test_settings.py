"""Settings: defaults, environment overrides, and clear errors for bad values."""

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
