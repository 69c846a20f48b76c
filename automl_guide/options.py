"""The run's options: one table (:data:`OPTIONS`), and their checks before any work (the data
is not read, Ray not started).

Each option is written once, in the way datasette keeps its settings: its name, default, help,
how the command line takes it and whether ``--resume`` keeps it. :class:`FitConfig`, the CLI's
flags (with their defaults in ``--help``) and the resume file come from the table;
tests/test_options.py holds ``fit_and_export``'s signature, the estimators' parameters and
docs/cli.md to it. One place decides what a valid option is, so that ``fit_and_export``, the CLI
and the estimators refuse the same values with the same words, naming the option as the user
wrote it (``--max-trials`` on the command line, ``max_trials`` in Python).
"""
from __future__ import annotations

import argparse
import contextlib
import contextvars
import numbers
from dataclasses import dataclass, field, make_dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from .errors import DataError, ExportError, SearchError

if TYPE_CHECKING:
    from .registry import PluginRegistry

SCHEDULERS = ("none", "asha")  # trial schedulers the search stage knows
TASKS = ("binary", "multiclass", "regression")
VALIDATIONS = ("auto", "holdout", "cv")


@dataclass(frozen=True)
class Option:
    """One option of a run. ``cli`` says how the command line takes it: ``value`` (``--name
    V``), ``list`` (comma-separated), ``flag`` (``--name``, on when given), ``no-flag``
    (``--no-name``, off when given) or ``resume`` (``--resume DIR``: on, and DIR is ``out``)."""

    name: str
    default: Any
    help: str
    annotation: Any = Any
    type: Callable[[str], Any] | None = None
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    resumed: bool = False  # --resume keeps the interrupted run's value
    cli: str = "value"

    @property
    def flag(self) -> str:
        dashed = self.name.replace("_", "-")
        return f"--no-{dashed}" if self.cli == "no-flag" else f"--{dashed}"


OPTIONS = (
    Option("task", None, "binary, multiclass or regression (default: inferred from the target)",
           str | None, choices=TASKS, resumed=True),
    Option("time_budget", 60.0, "seconds for the whole run, Ray start and export included; 0: "
           "no limit", float | None, float, "S"),
    Option("max_trials", None, "stop after N trials (with the budget, whichever comes first)",
           int | None, int, "N", resumed=True),
    Option("models", None, "comma-separated model plugin names (default: all for the task)",
           tuple[str, ...] | None, metavar="NAMES", resumed=True, cli="list"),
    Option("searcher", "random", "searcher plugin: random, grid, tpe, evolution, or a "
           "third-party one; tpe with --scheduler asha for budgets of a minute or more", str,
           resumed=True),
    Option("metric", None, "roc_auc, log_loss, accuracy, f1, rmse, mae, r2, ... (default: by "
           "task)", str | None, resumed=True),
    Option("out", Path("automl_guide_run"), "directory for the run's files", Path | None,
           metavar="DIR"),
    Option("seed", 0, "seeds the splits, the searcher and the models", int, int, "N",
           resumed=True),
    Option("validation", "auto", "auto (k-fold up to 3,000 rows, else a 20 %% holdout), cv or "
           "holdout", str, choices=VALIDATIONS, resumed=True),
    Option("folds", 5, "k of k-fold validation", int, int, "K", resumed=True),
    Option("test_size", 0.2, "share of rows held out for the test metrics (0: none)", float,
           float, "SHARE", resumed=True),
    Option("group_column", None, "column of groups (customers, stores) kept whole on one side "
           "of the test split and of every validation split; not a feature", str | None,
           metavar="COL", resumed=True),
    Option("time_column", None, "column of times: the latest rows are the test rows and "
           "validation chains forward (train on the past, validate on the next period)",
           str | None, metavar="COL", resumed=True),
    Option("time_gap", None, "leave out of training the rows within this time before the "
           "later rows of each split: a duration ('7 days') or, for a numeric time column, a "
           "number", str | None, metavar="GAP", resumed=True),
    Option("time_column_not_feature", False, "use the time column to split rows only, not as "
           "a feature", bool, resumed=True, cli="flag"),
    Option("address", None, "Ray cluster address (default: $RAY_ADDRESS, else a local Ray)",
           str | None),
    Option("cpus_per_trial", 1.0, "CPUs each trial reserves", float, float, "N", resumed=True),
    Option("gpus_per_trial", 0.0, "GPUs per XGBoost/ANN trial (CPU fallback with a warning)",
           float, float, "N", resumed=True),
    Option("scheduler", "none", "asha: stop poor XGBoost/ANN trials early (Ray Tune's ASHA)",
           str, choices=SCHEDULERS, resumed=True),
    Option("trial_time_limit", None, "stop a trial after S seconds (default: half the search "
           "time)", float | None, float, "S", resumed=True),
    Option("schema", None, "pandera schema (JSON or YAML) the training table must satisfy",
           Any, metavar="FILE"),
    Option("overwrite", False, "replace an existing run in DIR", bool, cli="flag"),
    Option("quiet", False, "no progress output", bool, cli="flag"),
    Option("resume", False, "continue the interrupted search of the run in DIR", bool,
           metavar="DIR", cli="resume"),
    Option("ensemble", True, "export the best single trial even when an ensemble of the best "
           "trial of each family scores better on validation", bool, cli="no-flag"),
    Option("max_predict_us", None, "export only a model that predicted validation rows in at "
           "most US microseconds per row (the leaderboard's predict_us)", float | None, float,
           "US"),
    Option("codes", None, "comma-separated integer columns that are codes (ids, product or "
           "store numbers), encoded by value (default: those named like an id: user_id, sku; "
           "'' for none)", tuple[str, ...] | None, metavar="COLS", resumed=True, cli="list"),
)
BY_NAME = {option.name: option for option in OPTIONS}
DEFAULTS = {option.name: option.default for option in OPTIONS}
RESUMED = ("target",) + tuple(option.name for option in OPTIONS if option.resumed)

FitConfig = make_dataclass(
    "FitConfig", [("target", Any)] + [(o.name, o.annotation, field(default=o.default))
                                      for o in OPTIONS],
    frozen=True, namespace={"__doc__": "Every option of a run: the target and :data:`OPTIONS`.",
                            "__module__": __name__})


def make_config(target: Any, **options: Any) -> FitConfig:
    """A :class:`FitConfig` from ``fit_and_export``'s keywords: lists become tuples (one name
    may be given as a string), ``out`` a path."""
    if options.get("models") == "":  # no names: every family
        options["models"] = None
    for name in ("models", "codes"):
        value = options.get(name)
        if value is not None:
            options[name] = (value,) if isinstance(value, str) else tuple(value)
    if not options.get("models"):
        options["models"] = None
    if options.get("out") is not None:
        options["out"] = Path(options["out"])
    return FitConfig(target, **options)


_SPELLING: contextvars.ContextVar[str] = contextvars.ContextVar("spelling", default="python")


@contextlib.contextmanager
def named_as_flags() -> Iterator[None]:
    """Within this, errors name options as command-line flags (``--max-trials``)."""
    token = _SPELLING.set("cli")
    try:
        yield
    finally:
        _SPELLING.reset(token)


def spelled(name: str) -> str:
    """The option ``name`` as the user wrote it: its flag under the CLI, else its name."""
    option = BY_NAME.get(name)
    return option.flag if option is not None and _SPELLING.get() == "cli" else name


def add_arguments(parser: argparse.ArgumentParser, names: Sequence[str] | None = None,
                  defaults: Mapping[str, Any] | None = None) -> None:
    """The flags of the options ``names`` (every option when None), with their defaults
    (``defaults`` overriding the table's) shown in ``--help``."""
    for option in OPTIONS if names is None else [BY_NAME[n] for n in names]:
        default = (defaults or {}).get(option.name, option.default)
        if option.cli in ("flag", "no-flag"):
            parser.add_argument(option.flag, dest=option.name, help=option.help,
                                action="store_true" if option.cli == "flag" else "store_false")
            continue
        resume = option.cli == "resume"
        shown = "" if default is None or resume else f" (default: {default})"
        parser.add_argument(option.flag, type=option.type, choices=option.choices,
                            default=None if resume else default, metavar=option.metavar,
                            help=option.help + shown)


def split_names(text: str | None) -> list[str] | None:
    """A comma-separated flag as a list of names (None when the flag was not given)."""
    return None if text is None else [v.strip() for v in text.split(",") if v.strip()]


def from_arguments(args: argparse.Namespace, names: Sequence[str] | None = None
                   ) -> dict[str, Any]:
    """The keywords of ``fit_and_export`` (or ``fit_shop``, with its ``names``) from parsed
    flags."""
    kwargs: dict[str, Any] = {}
    for option in OPTIONS if names is None else [BY_NAME[n] for n in names]:
        value = getattr(args, option.name)
        if option.cli == "list":
            value = split_names(value)
        elif option.cli == "resume":
            if value:
                kwargs["out"] = value
            value = bool(value)
        kwargs[option.name] = value
    return kwargs


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
        raise SearchError(f"Unknown {spelled('scheduler')} {config.scheduler!r}; choose one of "
                          f"{', '.join(SCHEDULERS)}.")
    if config.time_budget == 0 and is_number(config.time_budget):
        config = replace(config, time_budget=None)  # --time-budget 0: no limit, as before
    for name, (unit, unset) in POSITIVE.items():
        value = getattr(config, name)
        if value is not None and not (is_number(value) and value > 0):
            raise SearchError(f"{spelled(name)} must be a positive number of {unit}{unset}, "
                              f"not {value!r}.")
    if not (is_number(config.gpus_per_trial) and config.gpus_per_trial >= 0):
        raise SearchError(f"{spelled('gpus_per_trial')} must be 0 or more, not "
                          f"{config.gpus_per_trial!r}.")
    counts = {"max_trials": 1} | ({} if config.validation == "holdout" else {"folds": 2})
    for name, least in counts.items():
        value = getattr(config, name)
        if value is None:
            continue
        if not (is_number(value) and float(value).is_integer() and value >= least):
            raise SearchError(f"{spelled(name)} must be a whole number of at least {least}, "
                              f"not {value!r}.")
        config = replace(config, **{name: int(value)})
    if config.time_column is None and (config.time_gap or config.time_column_not_feature):
        given = "time_gap" if config.time_gap else "time_column_not_feature"
        raise DataError(f"{spelled(given)} needs {spelled('time_column')}: the column of times "
                        "it applies to.")
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
