"""Search stage: every trial runs through Ray Tune. The only module that imports ray.

Data reaches the workers once, through Ray's object store (``tune.with_parameters``); actors are
reused between trials and Tune's automatic result loggers are off, so the per-trial overhead stays
small (see ``benchmarks/overhead.py``). A local Ray starts with this machine's CPUs unless
``address`` (or ``RAY_ADDRESS``) names a cluster to join.
"""
from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

# Before ray is imported: no result-logger files per trial, no usage reporting, quiet output.
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "300")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
os.environ.setdefault("TUNE_FORCE_TRIAL_CLEANUP_S", "2")

import ray  # noqa: E402
from ray import tune  # noqa: E402
from ray.tune.search import Searcher  # noqa: E402

from .trial import TrialData, evaluate_config  # noqa: E402


@dataclass(frozen=True)
class TrialRecord:
    """One row of the leaderboard."""

    trial_id: str
    model: str
    config: Mapping[str, Any]
    score: float
    status: str
    error: str = ""
    fit_seconds: float = 0.0
    finished_at: float = 0.0  # seconds since the search started


@dataclass
class _Collector(tune.Callback):
    on_record: Callable[[TrialRecord], None] | None = None
    records: dict[str, TrialRecord] = field(default_factory=dict)
    start: float = field(default_factory=time.monotonic)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any):
        self._add(TrialRecord(trial.trial_id, result.get("model", "?"), _params(trial.config),
                              float(result.get("score", float("nan"))), result.get("status", "ok"),
                              result.get("error", ""), float(result.get("fit_seconds", 0.0)),
                              time.monotonic() - self.start))

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any):
        # The trainable catches its own exceptions, so this is a killed worker or a lost node.
        message = str(getattr(trial, "error_message", "") or "the trial's worker died")
        self._add(TrialRecord(trial.trial_id, trial.config.get("model", "?"),
                              _params(trial.config), float("nan"), "error",
                              message.strip().splitlines()[-1][:500], 0.0,
                              time.monotonic() - self.start))

    def _add(self, record: TrialRecord) -> None:
        if record.trial_id not in self.records:
            self.records[record.trial_id] = record
            if self.on_record:
                self.on_record(record)


def _params(config: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k != "model"}


class _SearcherAdapter(Searcher):
    """Ray Tune's Searcher interface over a plugin searcher's ``suggest``/``on_trial_complete``."""

    def __init__(self, inner: Any):
        super().__init__()
        self.inner = inner

    def suggest(self, trial_id: str) -> dict | None:
        config = self.inner.suggest(trial_id)
        return Searcher.FINISHED if config is None else config

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False):
        self.inner.on_trial_complete(trial_id, result=result, error=error)


def ensure_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Start (or join) Ray once per process; an existing session is reused."""
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    options: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.ERROR,
                               "log_to_driver": False, "ignore_reinit_error": True}
    if address:
        ray.init(address=address, **options)
    else:
        ray.init(num_cpus=num_cpus or os.cpu_count(), **options)


class _Deadline(tune.Stopper):
    """Ends the search early enough to refit the best trial so far within the budget."""

    def __init__(self, deadline: float, collector: _Collector,
                 reserve: Callable[[list[TrialRecord]], float]):
        self.deadline, self.collector, self.reserve = deadline, collector, reserve

    def __call__(self, trial_id: str, result: dict) -> bool:
        return False

    def stop_all(self) -> bool:
        records = list(self.collector.records.values())
        return time.monotonic() >= self.deadline - self.reserve(records)


def _trainable(config: dict, data: TrialData) -> None:
    tune.report(evaluate_config(config, data))


def run_search(data: TrialData, searcher: Any, *, deadline: float | None,
               max_trials: int | None, cpus_per_trial: float = 1.0,
               reserve: Callable[[list[TrialRecord]], float] = lambda records: 0.0,
               on_record: Callable[[TrialRecord], None] | None = None) -> list[TrialRecord]:
    """Run the search until the searcher is exhausted, ``max_trials`` or ``deadline``
    (``time.monotonic()``) less ``reserve(records so far)`` seconds."""
    search_alg = searcher if isinstance(searcher, Searcher) else _SearcherAdapter(searcher)
    collector = _Collector(on_record)
    # One trial per free CPU slot; without this cap Tune queues many trials and churns actors.
    slots = max(1, int(ray.available_resources().get("CPU", 1) // cpus_per_trial))
    trainable = tune.with_resources(tune.with_parameters(_trainable, data=data),
                                    {"cpu": cpus_per_trial})
    budget = None if deadline is None else max(1.0, deadline - time.monotonic())
    stop = None if deadline is None else _Deadline(deadline, collector, reserve)
    with tempfile.TemporaryDirectory(prefix="automl_guide_tune_") as storage:
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(search_alg=search_alg, num_samples=max_trials or -1,
                                        time_budget_s=budget, reuse_actors=True,
                                        max_concurrent_trials=slots),
            run_config=tune.RunConfig(
                name="search", storage_path=storage, verbose=0, callbacks=[collector], stop=stop,
                failure_config=tune.FailureConfig(max_failures=0),
                checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=False)))
        tuner.fit()
    return list(collector.records.values())
