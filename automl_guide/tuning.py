"""The search stage as the engine calls it: the searcher (or an interrupted run's), the cheapest
default fitted in the driver while Ray is not up yet, the budget's shares, and the fallback when
no trial finished. Ray is imported by :mod:`automl_guide.search` alone, when the search begins.
"""
from __future__ import annotations

import math
import time
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

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
    return earlier + records, outputs


def _deadlines(config: FitConfig, deadline: float | None, progress: Progress
               ) -> tuple[float | None, float | None]:
    """When the search stops (the run's deadline less what refit and export need) and each
    trial's time limit (half the search's time unless given)."""
    search_deadline, trial_limit = None, config.trial_time_limit
    if deadline is not None:
        search_deadline = deadline - max(3.0, RESERVE_FRACTION * config.time_budget)
        seconds = search_deadline - time.monotonic()
        trial_limit = trial_limit or max(5.0, seconds / 2)
        progress.say(f"Ray ready; searching for {seconds:.0f} s with {config.searcher!r}"
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
