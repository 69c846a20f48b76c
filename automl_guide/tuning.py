"""The search stage as the engine calls it: the searcher (or an interrupted run's), the cheapest
default fitted in the driver while Ray is not up yet, the budget's shares, and the fallback when
no trial finished. Ray is imported by :mod:`automl_guide.search` alone, when the search begins.
"""
from __future__ import annotations

import math
import time
import warnings
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np

from .families import cheapest_default, portfolio
from .metrics import Metric
from .options import FitConfig
from .progress import Progress
from .registry import PluginRegistry
from .specs import ModelSpec, SearchProblem
from .records import TrialData, TrialRecord
from .trial import evaluate_config

RESERVE_FRACTION = 0.1  # of the budget, kept for refit, evaluation and export
FIRST_TRIAL_MAX_COST = 0.2  # relative_cost up to the decision tree's: a second or so
# What one family's default trial is taken to cost when nothing was measured (a lower bound),
# and a fresh Ray worker's start and imports before its first trial can end: on this project's
# 2-core machine the demo's first worker trial (a 1.1 s fit) ended 5.7 s after Ray was ready.
MIN_TRIAL_SECONDS = 1.0
WORKER_START_SECONDS = 4.5
COST_FLOOR = 0.5  # the cheapest families' time is mostly their features, not their relative_cost


class Searched(NamedTuple):
    """What the search stage hands on: every trial, the validation outputs of each family's
    best trial (by trial id), and the warning of a budget too short for every family."""

    records: list[TrialRecord]
    outputs: dict[str, np.ndarray]
    short_budget: ShortBudget | None


class ShortBudget(NamedTuple):
    """A budget whose search cannot try every family's default: the families expected to get
    no trial (the last in the order every searcher tries the defaults in), and the
    ``--time-budget`` that would let each of them run once, by the estimate of
    :func:`short_budget`."""

    families: tuple[str, ...]
    time_budget: int

    def message(self, requested: int) -> str:
        return (f"The time budget is too short to try every model family: {len(self.families)} "
                f"of {requested} ({', '.join(self.families)}) will probably get no trial. "
                f"--time-budget {self.time_budget} (time_budget= in Python) or more would let "
                "each run once; --models picks fewer families.")


def search(data: TrialData, specs: Mapping[str, ModelSpec],
           spaces_and_defaults: tuple[Mapping[str, dict], Mapping[str, dict]],
           registry: PluginRegistry, config: FitConfig, metric: Metric,
           deadline: float | None, progress: Progress, state_dir: Path | None
           ) -> tuple[list[TrialRecord], dict[str, np.ndarray]]:
    """The search's trials (an interrupted run's first, when resuming from ``state_dir``), over
    the families of ``specs`` with their spaces and defaults from
    :func:`~automl_guide.families.searchable`; and the validation outputs of the best trial of
    each family, by trial id. Ctrl-C raises ``search.SearchInterrupted`` with every trial so far."""
    from . import search  # the search stage's ray (the spaces just built imported ray.tune)

    spaces, defaults = spaces_and_defaults
    problem = SearchProblem(
        spaces=dict(spaces), defaults=dict(defaults), metric=metric.name, mode=metric.mode,
        seed=config.seed, max_trials=config.max_trials,
        portfolio={n: portfolio(s, data.task, data.n_fit_rows) for n, s in specs.items()})
    earlier: list = []
    untold: list = []  # driver trials of the interrupted run that its searcher has not proposed
    if config.resume:  # go on with the interrupted run's searcher and trials
        earlier, searcher, untold = search.load_state(state_dir)
        progress.say(f"Resuming: {len(earlier)} trials done before the interruption")
    else:
        searcher = registry.searcher(config.searcher).build(problem)
    began, done = time.monotonic(), []
    try:  # a Ray Tune Searcher would not be told of a trial run here: it would run it again
        if (deadline is not None and config.max_trials is None and not config.resume
                and not search.ray.is_initialized()
                and not isinstance(searcher, search.Searcher)):
            done = first_trial(data, specs, defaults)
        search.ensure_ray(config.address)
    except KeyboardInterrupt:  # Ctrl-C before the search: what ran is kept, and can resume
        raise search.SearchInterrupted(earlier + search.driver_records(done, began),
                                       searcher, untold + done) from None
    search_deadline, trial_limit = _deadlines(config, deadline, progress)
    short = None
    if search_deadline is not None and config.max_trials is None and not config.resume:
        short = short_budget(specs, done, search_deadline - time.monotonic(),
                             search.trial_slots(config.cpus_per_trial),
                             time.monotonic() - (deadline - config.time_budget), data.n_splits)
    if short is not None:
        warnings.warn(short.message(len(specs)), RuntimeWarning, stacklevel=3)
    max_trials = config.max_trials
    if max_trials is not None and earlier:
        max_trials = max(1, max_trials - len(earlier))
    outputs: dict[str, np.ndarray] = {}
    try:
        records = search.run_search(
            data, searcher, deadline=search_deadline, max_trials=max_trials,
            cpus_per_trial=config.cpus_per_trial, gpus_per_trial=config.gpus_per_trial,
            scheduler=config.scheduler, mode=metric.mode, trial_time_limit=trial_limit,
            reserve=lambda records: refit_reserve(earlier + records, metric, data.n_splits),
            on_record=progress.trial, outputs=outputs, done=done, start=began, told=untold)
    except search.SearchInterrupted as exc:
        exc.records = earlier + exc.records
        raise
    return Searched(earlier + records, outputs, short)


def short_budget(specs: Mapping[str, ModelSpec], done: Sequence[tuple[Mapping[str, Any], dict]],
                 search_seconds: float, slots: int, elapsed: float, n_splits: int = 1
                 ) -> ShortBudget | None:
    """Whether ``search_seconds`` on ``slots`` workers can try each family's default once, after
    ``elapsed`` seconds of the run. Each family's default is taken to cost its
    ``relative_cost`` times the seconds per unit of cost measured on the trial run in the driver
    (``done``; at least :data:`COST_FLOOR` units for it), or :data:`MIN_TRIAL_SECONDS` when
    nothing was measured; the defaults go to the first free worker in the order of ``specs``
    (cheapest first unless the user named the families), as every searcher proposes them,
    after :data:`WORKER_START_SECONDS`, and the search ends early enough to refit the best
    (:func:`refit_reserve`). An estimate: it errs towards silence when nothing was measured."""
    ran = {config.get("model") for config, _ in done}
    unit = refit = 0.0
    for config, result in done:
        cost = max(specs[config["model"]].relative_cost, COST_FLOOR)
        unit = max(unit, float(result["fit_seconds"]) / cost)
        refit = max(refit, 2.0 * float(result["fit_seconds"]) / n_splits)
    lanes = [WORKER_START_SECONDS] * max(1, slots)
    late = []
    for name in (n for n in specs if n not in ran):
        lane = lanes.index(min(lanes))
        lanes[lane] += max(MIN_TRIAL_SECONDS, unit * specs[name].relative_cost)
        if lanes[lane] > search_seconds - refit:
            late.append(name)
    if not late:
        return None
    needed = elapsed + max(lanes) + refit  # the run before the search, and every default
    budget = max(needed / (1 - RESERVE_FRACTION), needed + 3.0)  # _deadlines' reserve
    return ShortBudget(tuple(late), int(math.ceil(budget / 10.0) * 10))


def _deadlines(config: FitConfig, deadline: float | None, progress: Progress
               ) -> tuple[float | None, float | None]:
    """When the search stops (the run's deadline less what refit and export need) and each
    trial's time limit (half the search's time unless given)."""
    search_deadline, trial_limit = None, config.trial_time_limit
    if deadline is not None:
        search_deadline = deadline - max(3.0, RESERVE_FRACTION * config.time_budget)
        seconds = search_deadline - time.monotonic()
        trial_limit = trial_limit or max(5.0, seconds / 2)
        progress.say(f"Ray ready; searching for {max(seconds, 0):.0f} s with {config.searcher!r}"
                     f"{' and ASHA' if config.scheduler == 'asha' else ''}")
    return search_deadline, trial_limit


def first_trial(data: TrialData, specs: Mapping[str, ModelSpec], defaults: Mapping[str, dict]
                ) -> list[tuple[dict[str, Any], dict]]:
    """The cheapest family's default configuration (every searcher's first proposal), fitted
    in this process before Ray starts, as [(config, evaluate_config's result)]; empty unless
    that family is cheap (the linear model, the decision tree): a fit here cannot be stopped at
    the budget as a Ray trial is. Ray's start-up (5-8 s on two cores) and its first trials'
    imports (as long again) are most of a short budget: this way the run has a model within
    seconds, and the search starts from it rather than running it again.
    Not in a thread beside ray.init: Ray forks its processes, and a fork while another thread
    is in OpenBLAS deadlocks."""
    name, config = cheapest_default(specs, defaults)
    if specs[name].relative_cost > FIRST_TRIAL_MAX_COST:
        return []
    return [(config, evaluate_config(config, data))]


def refit_reserve(records: Sequence[TrialRecord], metric: Metric, n_splits: int) -> float:
    """Seconds to keep for refitting the best trial so far on all training rows and exporting
    it: about twice one split's fit (more rows, ONNX conversion, parity)."""
    ok = [r for r in records if r.status == "ok" and math.isfinite(r.score)]
    if not ok:
        return 0.0
    best = ok[0]
    for record in ok[1:]:
        if metric.better(record.score, best.score):
            best = record
    return 2.0 * best.fit_seconds / n_splits


def fallback_trial(data: TrialData, specs: Mapping[str, ModelSpec],
                   defaults: Mapping[str, dict], progress: Progress) -> TrialRecord:
    """When no trial finished within the budget (preparing large data took it, or Ray's
    start-up did): the cheapest family's default, fitted here, so the run still gives a model."""
    name, config = cheapest_default(specs, defaults)
    warnings.warn(f"No trial finished within the time budget; fitting the default {name} "
                  "configuration in this process instead (the run takes longer than its "
                  "budget). Raise --time-budget for a real search.", RuntimeWarning, stacklevel=3)
    progress.say(f"No trial finished in time: fitting the default {name} here")
    row = evaluate_config(config, data)
    return TrialRecord("fallback", name, {k: v for k, v in config.items() if k != "model"},
                       row["score"], row["status"], row["error"], row["fit_seconds"])
