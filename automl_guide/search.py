"""Search stage: every trial runs through Ray Tune. The only module that imports ray.

Data reaches the workers once, through Ray's object store (``tune.with_parameters``), so a trial
runs the same on any node of a cluster; actors are reused between trials and Tune's automatic
result loggers are off, so the per-trial overhead stays small (see ``benchmarks/overhead.py``). A
local Ray starts with this machine's CPUs unless ``address`` (or ``RAY_ADDRESS``) names a cluster.

The budget is enforced here: no family may use more than its share of the workers' time, a trial
running past the per-trial limit is stopped, and when the search deadline comes every running
trial's actor is killed (Tune would otherwise wait for trials that never report again). With
``scheduler="asha"`` iterative families report after each share of their training and Ray Tune's
ASHA scheduler stops the poor ones early.
"""
from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile
import time
from dataclasses import dataclass, field
import warnings
from typing import Any, Callable, Iterator, Mapping, Sequence

import ray
from ray import tune
from ray.tune.search import Searcher

from .runtime import choose_device
from .budget import SearchInterrupted, SharedBudget, catch_ctrl_c, without_outputs
from .options import SCHEDULERS
from .records import BUDGET_RAN_OUT, TrialData, TrialRecord
from .trial import evaluate_config

ASHA_REDUCTION = 3

# Ray and Tune's settings for a search here: no result loggers or usage stats, the classic
# progress output (off anyway), no periodic experiment checkpoints or warnings about them, a
# stopped trial's actor cleaned up within 2 s, and Ctrl-C left to run_search. Set when Ray starts
# (ensure_ray) and when a search begins, not when this module is imported; a value the user set
# in the environment is kept.
RAY_DEFAULTS = {"TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1", "RAY_USAGE_STATS_ENABLED": "0",
                "TUNE_GLOBAL_CHECKPOINT_S": "300", "RAY_AIR_NEW_OUTPUT": "0",
                "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
                "TUNE_FORCE_TRIAL_CLEANUP_S": "2", "TUNE_DISABLE_SIGINT_HANDLER": "1"}


def ray_defaults() -> None:
    for name, value in RAY_DEFAULTS.items():
        os.environ.setdefault(name, value)


@dataclass
class Collector(tune.Callback):
    """Keeps each trial's latest result, announces finished trials, enforces the deadline and
    the per-trial limit by killing the actors of trials that run past them. Of the validation
    outputs that finished trials send, it keeps those of the best trial of each family
    (``best_outputs``: family -> (score, trial id, outputs)) and drops the rest."""

    stages: int = 1
    better: Callable[[float, float], bool] = lambda a, b: a > b  # the metric's
    best_outputs: dict[str, tuple[float, str, Any]] = field(default_factory=dict)
    expired: Callable[[], bool] = lambda: False
    trial_limit: float | None = None
    on_record: Callable[[TrialRecord], None] | None = None
    records: dict[str, TrialRecord] = field(default_factory=dict)
    latest: dict[str, dict] = field(default_factory=dict)
    started: dict[str, tuple[float, dict]] = field(default_factory=dict)
    killed: dict[str, str] = field(default_factory=dict)
    notes: set = field(default_factory=set)
    swept: bool = False
    interrupted: bool = False
    start: float = field(default_factory=time.monotonic)

    def record_done(self, trial_id: str, config: Mapping[str, Any], result: dict) -> None:
        """A trial that ran in the driver before the search, as if Tune had run it."""
        self.started[trial_id] = (self.start, dict(config))
        outputs = result.pop("outputs", None)
        if outputs is not None and result.get("status") == "ok":
            self._keep_outputs(trial_id, result, outputs)
        self.latest[trial_id] = result
        self._finish(trial_id, config, result.get("error", ""), float(result["fit_seconds"]))

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any):
        self.started[trial.trial_id] = (time.monotonic(), dict(trial.config))

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any):
        # Tune lets callbacks edit the result in place: the outputs leave it here, so that Tune's
        # own records of the trial do not hold them.
        outputs = result.pop("outputs", None)
        if outputs is not None and result.get("status") == "ok":
            self._keep_outputs(trial.trial_id, result, outputs)
        self.latest[trial.trial_id] = result
        if result.get("note"):
            self.notes.add(result["note"])
        if int(result.get("stage", self.stages)) >= self.stages:
            self._finish(trial.trial_id, trial.config)

    def _keep_outputs(self, trial_id: str, result: dict, outputs: Any) -> None:
        score, family = float(result["score"]), result["model"]
        kept = self.best_outputs.get(family)
        if math.isfinite(score) and (kept is None or self.better(score, kept[0])):
            self.best_outputs[family] = (score, trial_id, outputs)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any):
        self._finish(trial.trial_id, trial.config)  # stopped by ASHA after its last report

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any):
        # The trainable catches its own exceptions: this is a killed worker or a lost node.
        message = self.killed.get(trial.trial_id) or _error_message(trial)
        self._finish(trial.trial_id, trial.config, message)

    def on_step_begin(self, iteration: int, trials: list, **info: Any):
        now, expired = time.monotonic(), self.expired()
        self.swept = expired  # the stopper ends the search only after this sweep
        for trial in trials:
            if trial.status != "RUNNING" or trial.trial_id in self.killed:
                continue
            began = self.started.get(trial.trial_id, (now, None))[0]
            if self.interrupted:
                reason = "stopped by Ctrl-C"
            elif expired:
                reason = BUDGET_RAN_OUT
            elif self.trial_limit is not None and now - began > self.trial_limit:
                reason = f"ran past the per-trial time limit of {self.trial_limit:.0f} s"
            else:
                continue
            actor = getattr(getattr(trial, "temporary_state", None), "ray_actor", None)
            if actor is not None:
                self.killed[trial.trial_id] = reason
                ray.kill(actor)

    def _finish(self, trial_id: str, config: Mapping[str, Any], error: str = "",
                finished_at: float | None = None) -> None:
        if trial_id in self.records:
            return
        result = self.latest.get(trial_id)
        now = time.monotonic() - self.start if finished_at is None else finished_at
        began = self.started.get(trial_id, (None, None))[0]
        if result is not None and result.get("status") == "ok":  # possibly stopped early
            stopped = int(result.get("stage", self.stages)) < self.stages
            record = TrialRecord(trial_id, result["model"], _params(config), float(result["score"]),
                                 "ok", error if stopped else "", float(result["fit_seconds"]), now,
                                 stopped, result.get("node", ""),
                                 float(result.get("score_se", float("nan"))),
                                 float(result.get("predict_us", float("nan"))))
        elif result is not None:
            record = TrialRecord(trial_id, result.get("model", "?"), _params(config),
                                 float("nan"), "error", result.get("error", ""),
                                 float(result.get("fit_seconds", 0.0)), now, False,
                                 result.get("node", ""))
        else:
            status = "timeout" if trial_id in self.killed or self.expired() else "error"
            seconds = (time.monotonic() - began) if began is not None else 0.0
            record = TrialRecord(trial_id, config.get("model", "?"), _params(config),
                                 float("nan"), status, error or "the trial's worker died",
                                 seconds, now)
        self.records[trial_id] = record
        if self.on_record:
            self.on_record(record)

    def finish_all(self) -> None:
        """Trials Tune ended without a last word (stopped at the deadline): record them."""
        for trial_id, (_, config) in list(self.started.items()):
            self._finish(trial_id, config, self.killed.get(trial_id, BUDGET_RAN_OUT))


def _record_done(collector: Collector, done: list[tuple[Mapping[str, Any], dict]]) -> None:
    for i, (config, result) in enumerate(done, 1):
        collector.record_done(f"driver-{i}", config, dict(result))


def driver_records(done: list[tuple[Mapping[str, Any], dict]], start: float
                   ) -> list[TrialRecord]:
    """The records ``run_search`` would make of ``done`` (trials run in the driver)."""
    collector = Collector(start=start)
    _record_done(collector, done)
    return list(collector.records.values())


def _error_message(trial: Any) -> str:
    message = str(getattr(trial, "error_message", "") or "the trial's worker died")
    return message.strip().splitlines()[-1][:500]


def _params(config: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k != "model"}


class SearcherAdapter(SharedBudget, Searcher):
    """:class:`~automl_guide.budget.SharedBudget` as Ray Tune's ``Searcher``."""


def save_state(directory: str | os.PathLike, interrupted: SearchInterrupted) -> None:
    """Keep an interrupted search's trials (JSON) and searcher (pickled by Ray's cloudpickle)
    so that :func:`load_state` can go on with it. Only ``--resume`` reads the pickle: never
    resume a directory someone else gave you."""
    import dataclasses
    import json

    import ray.cloudpickle

    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "trials.json"), "w", encoding="utf-8") as handle:
        json.dump([dataclasses.asdict(r) for r in interrupted.records], handle, default=str)
    with open(os.path.join(directory, "searcher.pkl"), "wb") as handle:
        ray.cloudpickle.dump(interrupted.searcher, handle)
    with open(os.path.join(directory, "untold.pkl"), "wb") as handle:
        ray.cloudpickle.dump(interrupted.untold, handle)


def load_state(directory: str | os.PathLike
               ) -> tuple[list[TrialRecord], Any, list[tuple[Mapping[str, Any], dict]]]:
    """The trials, the searcher and its untold driver trials that :func:`save_state` kept."""
    import json

    import ray.cloudpickle

    with open(os.path.join(directory, "trials.json"), encoding="utf-8") as handle:
        records = [TrialRecord(**r) for r in json.load(handle)]
    with open(os.path.join(directory, "searcher.pkl"), "rb") as handle:
        searcher = ray.cloudpickle.load(handle)
    untold = []
    if os.path.isfile(os.path.join(directory, "untold.pkl")):  # a state saved before it had none
        with open(os.path.join(directory, "untold.pkl"), "rb") as handle:
            untold = ray.cloudpickle.load(handle)
    return records, searcher, untold


def ensure_ray(address: str | None = None, num_cpus: int | None = None,
               num_gpus: int | None = None) -> None:
    """Start (or join) Ray once per process; an existing session is reused. ``address`` (else
    ``RAY_ADDRESS``) joins a running cluster; otherwise a local Ray starts with this machine's
    CPUs (and ``num_gpus`` logical GPUs when given, else the GPUs Ray detects)."""
    ray_defaults()
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    options: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.ERROR,
                               "log_to_driver": False, "ignore_reinit_error": True}
    if address:
        ray.init(address=address, **options)
    else:
        # "local": a new Ray of our own, never a cluster that /tmp/ray/ray_current_cluster
        # names (a stale `ray start` would take num_cpus as an error, a live one our trials)
        ray.init(address="local", num_cpus=num_cpus or os.cpu_count(), num_gpus=num_gpus,
                 **options)


class _Deadline(tune.Stopper):
    """Ends the search early enough to refit the best trial so far within the budget."""

    def __init__(self, deadline: float | None, collector: Collector,
                 reserve: Callable[[list[TrialRecord]], float]):
        self.deadline, self.collector, self.reserve = deadline, collector, reserve

    def expired(self) -> bool:
        if self.collector.interrupted:
            return True
        if self.deadline is None:
            return False
        records = list(self.collector.records.values())
        return time.monotonic() >= self.deadline - self.reserve(records)

    def __call__(self, trial_id: str, result: dict) -> bool:
        return False

    def stop_all(self) -> bool:
        # Only after the collector killed the running trials: Tune's own stop waits for them.
        return self.expired() and self.collector.swept


def schedulable(cpus: float, gpus: float, uses_gpu: bool = True) -> tuple[float, float]:
    """CPUs and GPUs per trial that some node of the Ray cluster has together, with a warning
    where the request was more: Ray would otherwise wait for such a node for ever, and the run
    with it. (An autoscaling cluster's nodes count once they have started.) ``uses_gpu``: some
    family of the search asks for GPUs; else ``gpus`` is left as it is, unused."""
    nodes = [node.get("Resources", {}) for node in ray.nodes() if node.get("Alive")]
    if uses_gpu and gpus > 0:
        most_gpus = max((n.get("GPU", 0.0) for n in nodes), default=0.0)
        if gpus > most_gpus:
            warnings.warn(f"gpus_per_trial={gpus:g}, but " + (
                f"the Ray cluster's nodes have at most {most_gpus:g} GPUs: each GPU trial gets "
                f"{most_gpus:g}." if most_gpus else "the Ray cluster has no GPU: every trial "
                "runs on the CPU."), RuntimeWarning, stacklevel=3)
            gpus = most_gpus
        if gpus > 0:  # the CPUs a GPU trial asks for too must be on a node with the GPUs
            nodes = [n for n in nodes if n.get("GPU", 0.0) >= gpus]
    most_cpus = max((n.get("CPU", 0.0) for n in nodes), default=0.0)
    if most_cpus and cpus > most_cpus:
        where = " with the GPUs" if uses_gpu and gpus > 0 else ""
        warnings.warn(f"cpus_per_trial={cpus:g}, but the largest node of the Ray cluster{where} "
                      f"has {most_cpus:g} CPUs: each trial gets {most_cpus:g}.", RuntimeWarning,
                      stacklevel=3)
        cpus = most_cpus
    return cpus, gpus


def _trainable(config: dict, data: TrialData) -> None:
    device, note = choose_device(ray.get_gpu_ids())
    extra = {"node": ray.get_runtime_context().get_node_id()[:12], "note": note}
    result = evaluate_config(config, data, device=device,
                             report=lambda partial: tune.report({**partial, **extra}))
    tune.report({**result, **extra})


@contextlib.contextmanager
def _quiet_ray() -> Iterator[None]:
    """Tune logs every killed or stopped trial with a traceback; our leaderboard says it."""
    loggers = [logging.getLogger(name) for name in ("ray.tune", "ray.air", "ray.train")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def trial_slots(cpus_per_trial: float) -> int:
    """How many trials run at once: one per ``cpus_per_trial`` of the cluster's CPUs. The
    cluster's CPUs, not those free this instant: a node that has just joined may not have
    reported its free CPUs yet, and a missing slot would leave that node without trials."""
    return max(1, int(ray.cluster_resources().get("CPU", 1) // cpus_per_trial))


def run_search(data: TrialData, searcher: Any, *, deadline: float | None,
               max_trials: int | None, cpus_per_trial: float = 1.0, gpus_per_trial: float = 0.0,
               scheduler: str = "none", mode: str = "max", trial_time_limit: float | None = None,
               reserve: Callable[[list[TrialRecord]], float] = lambda records: 0.0,
               on_record: Callable[[TrialRecord], None] | None = None,
               outputs: dict[str, Any] | None = None,
               done: list[tuple[Mapping[str, Any], dict]] | None = None,
               start: float | None = None,
               told: Sequence[tuple[Mapping[str, Any], dict]] = ()) -> list[TrialRecord]:
    """Run the search until the searcher is exhausted, ``max_trials`` or ``deadline``
    (``time.monotonic()``) less ``reserve(records so far)`` seconds.

    On Ctrl-C, raises :class:`SearchInterrupted` with the trials recorded so far and the
    searcher in its current state, which can run a later search that goes on where it stopped.

    Families whose spec says ``uses_gpu`` request ``gpus_per_trial`` GPUs from Ray; with
    ``scheduler="asha"`` ``data.stages`` should be above 1 so that iterative families report
    along the way. ``outputs``, when given, receives the validation outputs (all folds in order)
    of the best trial of each family, by trial id.

    ``done`` holds trials already run in the driver, as (config, :func:`evaluate_config`'s
    result), each finished ``fit_seconds`` after ``start`` (``time.monotonic()`` when the search
    stage began: ``finished_at`` counts from then; default now). They are recorded first (trial
    ids ``driver-1``, ...), and when the searcher proposes one of them it is given the result
    instead of Tune running the trial again; a ``searcher`` that is a Ray Tune ``Searcher`` is
    used as it is and never told of them. ``told`` are such trials already recorded (by the
    interrupted run that a resumed search goes on from): the searcher is told of them the same
    way, and they are not recorded again."""
    ray_defaults()
    if scheduler not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {scheduler!r}; choose from {', '.join(SCHEDULERS)}")
    gpu_families = {name for name, spec in data.models.items() if spec.uses_gpu}
    cpus_per_trial, gpus_per_trial = schedulable(cpus_per_trial, gpus_per_trial,
                                                  bool(gpu_families))
    # One trial per CPU slot; without this cap Tune queues many trials and churns actors.
    slots = trial_slots(cpus_per_trial)
    search_seconds = None if deadline is None else max(1.0, deadline - time.monotonic())
    search_alg = searcher if isinstance(searcher, Searcher) else SearcherAdapter(
        searcher, len(data.models), None if search_seconds is None else slots * search_seconds,
        mode, [(config, without_outputs(result)) for config, result in [*told, *(done or [])]])
    collector = Collector(stages=data.stages, trial_limit=trial_time_limit, on_record=on_record,
                           better=data.metric.better, start=start or time.monotonic())
    _record_done(collector, done or [])
    stop = _Deadline(deadline, collector, reserve)
    collector.expired = stop.expired

    trainable = _with_resources(data, gpu_families, cpus_per_trial, gpus_per_trial)
    asha = _asha(data, mode) if scheduler == "asha" else None
    with tempfile.TemporaryDirectory(prefix="automl_guide_tune_") as storage, _quiet_ray():
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(search_alg=search_alg, scheduler=asha,
                                        num_samples=max_trials or -1,
                                        reuse_actors=True,
                                        max_concurrent_trials=slots),
            run_config=tune.RunConfig(
                name="search", storage_path=storage, verbose=0, callbacks=[collector], stop=stop,
                failure_config=tune.FailureConfig(max_failures=0),
                checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=False)))
        with catch_ctrl_c(collector):
            tuner.fit()
    return _ended(collector, search_alg, outputs)


def _with_resources(data: TrialData, gpu_families: set[str], cpus: float, gpus: float) -> Any:
    """The trainable, with the data shipped once, reserving ``gpus`` only for GPU families."""
    def resources(config: dict) -> dict[str, float]:
        return {"cpu": cpus, "gpu": gpus if config.get("model") in gpu_families else 0}

    return tune.with_resources(tune.with_parameters(_trainable, data=data), resources)


def _asha(data: TrialData, mode: str) -> Any:
    from ray.tune.schedulers import ASHAScheduler

    return ASHAScheduler(time_attr="stage", metric="score", mode=mode,
                         max_t=max(data.stages, 1), grace_period=1,
                         reduction_factor=ASHA_REDUCTION)


def _ended(collector: Collector, search_alg: Any, outputs: dict[str, Any] | None
           ) -> list[TrialRecord]:
    """The records of a search that ended; on Ctrl-C, :class:`SearchInterrupted` with them and
    the searcher's state. ``outputs`` receives each family's best trial's validation outputs."""
    collector.finish_all()
    if outputs is not None:
        outputs.update({trial_id: out for _, trial_id, out in collector.best_outputs.values()})
    if collector.interrupted:
        adapted = isinstance(search_alg, SearcherAdapter)
        raise SearchInterrupted(list(collector.records.values()),
                                search_alg.inner if adapted else search_alg,
                                search_alg.done if adapted else ())
    for note in sorted(collector.notes):
        warnings.warn(note, RuntimeWarning, stacklevel=3)
    return list(collector.records.values())
