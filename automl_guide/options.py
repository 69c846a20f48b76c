"""The run's options, checked by name before any work: the data is not read, Ray not started.

One place decides what a valid option is, so that ``fit_and_export``, the CLI and the estimators
refuse the same values with the same words.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DataError, ExportError, SearchError
from .trial import SCHEDULERS

if TYPE_CHECKING:
    from .registry import PluginRegistry


@dataclass(frozen=True)
class FitConfig:
    """Every option of a run; the CLI builds the same object."""

    target: str
    task: str | None = None
    time_budget: float | None = 60.0
    max_trials: int | None = None
    models: tuple[str, ...] | None = None
    searcher: str = "random"
    metric: str | None = None
    out: Path | None = Path("automl_guide_run")
    seed: int = 0
    validation: str = "auto"
    folds: int = 5
    test_size: float = 0.2
    address: str | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    scheduler: str = "none"
    trial_time_limit: float | None = None
    schema: Any = None
    overwrite: bool = False
    quiet: bool = False
    resume: bool = False
    ensemble: bool = True
    max_predict_us: float | None = None
    codes: tuple[str, ...] | None = None


# the options an interrupted run keeps for --resume (the budget, the output and the
# reporting options are the resuming call's)
RESUMED = ("target", "task", "max_trials", "models", "searcher", "metric", "seed", "validation",
           "folds", "test_size", "cpus_per_trial", "gpus_per_trial", "scheduler",
           "trial_time_limit", "codes")

# options that must be positive numbers: their unit, and what leaving them unset means
POSITIVE = {"max_predict_us": ("microseconds", " (None: no limit)"),
            "time_budget": ("seconds", " (0 or None: no limit)"),
            "trial_time_limit": ("seconds", " (None: half the search time)"),
            "cpus_per_trial": ("CPUs", "")}


def check_options(config: FitConfig, registry: PluginRegistry) -> FitConfig:
    """``config`` with its options refused by name, or normalised: ``time_budget`` 0 is no limit,
    a count given as 10.0 (from a JSON file) is 10, and the target is the column name it will be
    once column names are strings."""
    if config.scheduler not in SCHEDULERS:
        raise SearchError(f"Unknown scheduler {config.scheduler!r}; choose one of "
                          f"{', '.join(SCHEDULERS)}.")
    if config.time_budget == 0 and is_number(config.time_budget):
        config = replace(config, time_budget=None)  # --time-budget 0: no limit, as before
    for name, (unit, unset) in POSITIVE.items():
        value = getattr(config, name)
        if value is not None and not (is_number(value) and value > 0):
            raise SearchError(f"{name} must be a positive number of {unit}{unset}, not "
                              f"{value!r}.")
    if not (is_number(config.gpus_per_trial) and config.gpus_per_trial >= 0):
        raise SearchError(f"gpus_per_trial must be 0 or more, not {config.gpus_per_trial!r}.")
    counts = {"max_trials": 1} | ({} if config.validation == "holdout" else {"folds": 2})
    for name, least in counts.items():
        value = getattr(config, name)
        if value is None:
            continue
        if not (is_number(value) and float(value).is_integer() and value >= least):
            raise SearchError(f"{name} must be a whole number of at least {least}, not "
                              f"{value!r}.")
        config = replace(config, **{name: int(value)})
    registry.searcher(config.searcher)  # an unknown searcher is named before the data is read
    if config.out is not None and Path(config.out).exists() and not Path(config.out).is_dir():
        raise ExportError(f"{config.out} is a file; --out names a directory for the run's "
                          "files.")
    if config.resume:
        return config
    if isinstance(config.target, (int, np.integer)) and not isinstance(config.target, bool):
        return replace(config, target=str(config.target))
    if not isinstance(config.target, str):
        raise DataError(f"target must be one column name, not {config.target!r}.")
    return config


def is_number(value: Any) -> bool:
    """A real number that is neither a bool nor NaN."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value == value
