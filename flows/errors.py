"""The pipeline's errors. Each message says what failed, where, and what to do."""

from __future__ import annotations


class ReconError(Exception):
    """Base class: the CLI prints ``str(err)`` as one line and exits with ``exit_code``."""

    exit_code = 1


class ConfigError(ReconError):
    """A setting, flag or environment variable has a value the pipeline cannot use."""

    exit_code = 2


class InputError(ReconError):
    """An input file or folder cannot be read as asked."""

    exit_code = 3


class WarehouseError(ReconError):
    """The DuckDB warehouse is missing, damaged or refused a statement."""

    exit_code = 4


class WarehouseLocked(WarehouseError):
    """Another process is writing the warehouse."""

    exit_code = 5


class ReadOnlyViolation(WarehouseError):
    """A statement passed to ``recon query`` would write."""

    exit_code = 6


class RuleError(ReconError):
    """A rule or lexicon data file under flows/rules is malformed."""

    exit_code = 7


class StrictModeFailure(ReconError):
    """``--strict`` was given and at least one input was quarantined."""

    exit_code = 8


class OrchestrationError(ReconError):
    """Prefect could not start or finish the flow."""

    exit_code = 9
