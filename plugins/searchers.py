"""The ``random``, ``grid``, ``tpe`` and ``evolution`` searchers.

All try each model family's default configuration first (strong defaults beat clever search at
short budgets), then its portfolio of further strong configurations (the next one of the
leading family each time; ``tpe`` round-robin, its study learns from them), then go on over one
space in which the family is itself a choice and each family's parameters are conditional on it:

- ``random`` samples a family (half of the time evenly, half favouring the families with the
  best scores so far, halving from one family to the next; draws are weighted by the inverse
  of each family's mean trial time, so the split is one of time), then its parameters from
  their Ray Tune domains;
- ``grid`` walks a small grid per family (three levels per numeric parameter, every choice),
  interleaving families so that a short budget still covers all of them;
- ``tpe`` is Optuna's multivariate TPE through Ray Tune's ``OptunaSearch`` (define-by-run, so
  the conditional space is native); the defaults' scores are added to its study;
- ``evolution`` is regularized ("aging") evolution (Real et al., 2019): a tournament among the
  latest trials picks a parent, one or two of its parameters are resampled. Optuna's NSGA-II
  and CMA-ES samplers were not used: they evolve only the parameters every trial shares, which
  in a conditional space is the family alone.
"""
from __future__ import annotations

import itertools
import json
import warnings
from typing import Any, Mapping

import numpy as np

from automl_guide import FamilyScores, SearcherSpec, SearchProblem, hookimpl

GRID_LEVELS = 3


def _key(config: Mapping[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, default=str)


class _Leaders:
    """The best score of each family so far, and the families in order of it."""

    def __init__(self, problem: SearchProblem):
        self.problem = problem
        self.scores = FamilyScores(problem.mode)
        self.seconds: dict[str, list[float]] = {}  # each family's trial times (its cost)
        self.issued: dict[str, Mapping[str, Any]] = {}  # trial id -> config, while it runs

    def issue(self, trial_id: str, config: Mapping[str, Any]) -> None:
        self.issued[trial_id] = config

    def complete(self, trial_id: str, result: Any, error: bool) -> None:
        config = self.issued.pop(trial_id, None)
        family = config["model"] if config is not None else None
        if family is not None and result and np.isfinite(float(result.get("fit_seconds", "nan"))):
            self.seconds.setdefault(family, []).append(float(result["fit_seconds"]))
        self.scores.record(family, result, error)

    def ranked(self) -> list[str]:
        """Families best first; those without a finished trial last, in the problem's order."""
        names = list(self.problem.spaces)
        best = self.scores.best
        return sorted(names, key=lambda n: (-best.get(n, -np.inf), names.index(n)))


def portfolio_queue(problem: SearchProblem) -> dict[str, list[dict[str, Any]]]:
    return {n: [{"model": n, **c} for c in problem.portfolio.get(n, ())]
            for n in problem.spaces if problem.portfolio.get(n)}


class _Search:
    """Defaults first, then the portfolio (the leading family's next configuration each time),
    then ``_next()``, skipping repeats, up to ``max_trials``.

    Plain state (no generators): Ray Tune pickles the searcher with its experiment state.
    """

    def __init__(self, problem: SearchProblem):
        self.problem = problem
        self.pending = [{"model": n, **c} for n, c in problem.defaults.items()]
        self.portfolio = portfolio_queue(problem)
        self.leaders = _Leaders(problem)
        self.seen: set[str] = set()

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if self.problem.max_trials is not None and len(self.seen) >= self.problem.max_trials:
            return None
        for _ in range(1000):  # bounded: a small space runs out of new configurations
            config = self._planned() or self._next()
            if config is None:
                return None
            if _key(config) not in self.seen:
                self.seen.add(_key(config))
                self.leaders.issue(trial_id, config)
                return config
        return None

    def _planned(self) -> dict[str, Any] | None:
        if self.pending:
            return self.pending.pop(0)
        for family in self.leaders.ranked():
            if self.portfolio.get(family):
                return self.portfolio[family].pop(0)
        return None

    def _next(self) -> dict[str, Any] | None:
        raise NotImplementedError

    def on_trial_complete(self, trial_id: str, result: Any = None, error: bool = False) -> None:
        self.leaders.complete(trial_id, result, error)


class RandomSearch(_Search):
    """Random families and parameters; half of the draws favour the families that lead."""

    def __init__(self, problem: SearchProblem):
        super().__init__(problem)
        self.rng = np.random.RandomState(problem.seed)

    def _next(self) -> dict[str, Any]:
        return _random_config(self.problem, self.rng, family_weights(self.leaders))


def family_weights(leaders: _Leaders, favour: float = 0.5, floor: float = 1.0) -> np.ndarray:
    """Sampling weights over the problem's families, so that the *time* (not the number of
    trials) goes ``1 - favour`` evenly and ``favour`` halving from each family to the next worse
    one by best score so far: each share is divided by the family's mean trial time (at least
    ``floor`` seconds, about what Ray spends on any trial). The budget goes mostly to the
    families that are winning, a slow family (forests or the ANN on large data) gets its share
    of the time rather than of the draws, and every family keeps a chance."""
    names = list(leaders.problem.spaces)
    if not leaders.scores.best:
        return np.full(len(names), 1.0 / len(names))
    ranked = leaders.ranked()
    halving = np.array([0.5 ** ranked.index(n) for n in names])
    share = (1.0 - favour) / len(names) + favour * halving / halving.sum()
    known = {n: float(np.mean(t)) for n, t in leaders.seconds.items() if t}
    typical = float(np.median(list(known.values()))) if known else floor
    cost = np.array([max(floor, known.get(n, typical)) for n in names])
    weights = share / cost
    return weights / weights.sum()


class GridSearch(_Search):
    def __init__(self, problem: SearchProblem):
        super().__init__(problem)
        self.grid = _grid_configs(problem)
        self.position = 0

    def _next(self) -> dict[str, Any] | None:
        if self.position >= len(self.grid):
            return None
        self.position += 1
        return self.grid[self.position - 1]


def _plain(value: Any) -> Any:
    # automl_guide.columns.python_value, restated: plugins use only automl_guide's public API
    return value.item() if isinstance(value, np.generic) else value


def grid_levels(domain: Any, levels: int = GRID_LEVELS) -> list[Any]:
    """A few representative values of a Ray Tune domain (all categories of a choice)."""
    from ray.tune.search import sample

    if isinstance(domain, sample.Categorical):
        return list(domain.categories)
    if not isinstance(domain, (sample.Float, sample.Integer)):
        return [domain]
    sampler = domain.get_sampler()
    quantum = getattr(sampler, "q", None)
    base = getattr(sampler, "sampler", sampler)
    high = domain.upper - 1 if isinstance(domain, sample.Integer) else domain.upper
    if isinstance(base, sample.LogUniform):
        points = np.geomspace(domain.lower, high, levels)
    else:
        points = np.linspace(domain.lower, high, levels)
    if quantum:
        points = np.round(points / quantum) * quantum
    if isinstance(domain, sample.Integer):
        points = np.round(points).astype(int)
    return list(dict.fromkeys(_plain(p) for p in points))


def _grid_configs(problem: SearchProblem) -> list[dict[str, Any]]:
    per_family = []
    for name, space in problem.spaces.items():
        keys = list(space)
        grids = itertools.product(*(grid_levels(space[k]) for k in keys))
        per_family.append([{"model": name, **dict(zip(keys, values))} for values in grids])
    return [config for round_ in itertools.zip_longest(*per_family)
            for config in round_ if config is not None]


class EvolutionSearch(_Search):
    """Regularized evolution over the conditional space, after ``warmup`` random trials."""

    population = 20
    tournament = 5
    warmup = 8
    switch_family = 0.1

    def __init__(self, problem: SearchProblem):
        super().__init__(problem)
        self.rng = np.random.RandomState(problem.seed)
        self.history: list[tuple[dict[str, Any], float]] = []

    def _next(self) -> dict[str, Any]:
        if len(self.history) < self.warmup:
            return _random_config(self.problem, self.rng)
        recent = self.history[-self.population:]
        picks = self.rng.choice(len(recent), min(self.tournament, len(recent)), replace=False)
        sign = 1.0 if self.problem.mode == "max" else -1.0
        parent = max((recent[i] for i in picks), key=lambda item: sign * item[1])[0]
        if self.rng.rand() < self.switch_family and len(self.problem.spaces) > 1:
            return _random_config(self.problem, self.rng)
        space = self.problem.spaces[parent["model"]]
        child = dict(parent)
        tunable = [k for k, d in space.items() if hasattr(d, "sample")]
        for key in self.rng.choice(tunable, min(len(tunable), 1 + self.rng.randint(2)),
                                   replace=False) if tunable else []:
            child[key] = _mutate(space[key], child.get(key), self.rng)
        return child

    def on_trial_complete(self, trial_id: str, result: Any = None, error: bool = False) -> None:
        config = self.leaders.issued.get(trial_id)  # before the leaders let it go
        super().on_trial_complete(trial_id, result, error)
        if config is None or error or not result or result.get("status", "ok") != "ok":
            return
        score = float(result.get("score", float("nan")))
        if np.isfinite(score):
            self.history.append((config, score))


def _mutate(domain: Any, value: Any, rng: np.random.RandomState, spread: float = 0.15) -> Any:
    """A numeric value moves by a Gaussian step (in log space for log domains) of ``spread``
    times its range, clipped and rounded as the domain demands; a choice is resampled."""
    from ray.tune.search import sample

    if not isinstance(domain, (sample.Float, sample.Integer)) or value is None:
        return _plain(domain.sample(random_state=rng))
    sampler = domain.get_sampler()
    quantum = getattr(sampler, "q", None)
    log = isinstance(getattr(sampler, "sampler", sampler), sample.LogUniform)
    high = domain.upper - 1 if isinstance(domain, sample.Integer) and not quantum else domain.upper
    low, top, x = (np.log(domain.lower), np.log(high), np.log(value)) if log else \
        (domain.lower, high, value)
    x = float(np.clip(x + rng.normal(0.0, spread * (top - low)), low, top))
    x = float(np.exp(x)) if log else x
    if quantum:
        x = float(np.clip(np.round(x / quantum) * quantum, domain.lower, high))
    if isinstance(domain, sample.Integer):
        return int(np.clip(round(x), domain.lower, high))
    return x


def _random_config(problem: SearchProblem, rng: np.random.RandomState,
                   weights: np.ndarray | None = None) -> dict[str, Any]:
    names = list(problem.spaces)
    name = names[rng.randint(len(names)) if weights is None else rng.choice(len(names), p=weights)]
    params = {k: _plain(d.sample(random_state=rng)) if hasattr(d, "sample") else d
              for k, d in problem.spaces[name].items()}
    return {"model": name, **params}


class TPESearch:
    """Optuna's TPE (multivariate, grouped for conditional parameters, constant liar for
    parallel workers) through Ray Tune's ``OptunaSearch`` with a define-by-run space."""

    startup_trials = 8

    def __init__(self, problem: SearchProblem):
        import optuna
        from ray.tune.search.optuna import OptunaSearch

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        self.problem = problem
        self.families = list(problem.spaces)
        self.distributions = {name: OptunaSearch.convert_search_space(
            {k: d for k, d in space.items() if hasattr(d, "sample")})
            for name, space in problem.spaces.items()}
        self.constants = {name: {k: d for k, d in space.items() if not hasattr(d, "sample")}
                          for name, space in problem.spaces.items()}
        # defaults, then the portfolio round-robin over families; their scores join the study
        self.pending = [{"model": n, **c} for n, c in problem.defaults.items()] + [
            c for round_ in itertools.zip_longest(*portfolio_queue(problem).values())
            for c in round_ if c is not None]
        self.defaults: dict[str, dict[str, Any]] = {}
        sampler = optuna.samplers.TPESampler(
            seed=problem.seed, multivariate=True, group=True, constant_liar=True,
            n_startup_trials=self.startup_trials)
        self.inner = OptunaSearch(space=self._define, metric="score", mode=problem.mode,
                                  sampler=sampler)

    def _define(self, trial: Any) -> None:
        family = trial.suggest_categorical("model", self.families)
        for name, dist in self.distributions[family].items():
            _suggest(trial, f"{family}/{name}", dist)

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if self.pending:
            self.defaults[trial_id] = self.pending.pop(0)
            return dict(self.defaults[trial_id])
        nested = self.inner.suggest(trial_id)
        family = nested["model"]
        return {"model": family, **nested.get(family, {}), **self.constants[family]}

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if trial_id not in self.defaults and result.get("status") == "ok":
            self.inner.on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: Any = None, error: bool = False) -> None:
        ok = not error and bool(result) and result.get("status", "ok") == "ok" \
            and np.isfinite(float(result.get("score", float("nan"))))
        if trial_id in self.defaults:
            config = self.defaults.pop(trial_id)  # plain, bounded state: Ray Tune pickles it
            if ok:
                self._add_default(config, float(result["score"]))
            return
        self.inner.on_trial_complete(trial_id, result=result if ok else None, error=not ok)

    def _add_default(self, config: dict[str, Any], score: float) -> None:
        """Tell the study about a default configuration's score, when it lies in the space."""
        import optuna

        family = config["model"]
        dists = {"model": optuna.distributions.CategoricalDistribution(self.families)}
        params: dict[str, Any] = {"model": family}
        for name, dist in self.distributions[family].items():
            if name not in config:
                return
            dists[f"{family}/{name}"], params[f"{family}/{name}"] = dist, config[name]
        try:
            self.inner._ot_study.add_trial(optuna.trial.create_trial(
                params=params, distributions=dists, value=score))
        except (ValueError, TypeError):  # a default outside the space: the study just skips it
            pass


def _suggest(trial: Any, name: str, dist: Any) -> Any:
    import optuna.distributions as od

    if isinstance(dist, od.CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, od.IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)


@hookimpl
def automl_guide_register_searchers(register):
    register(SearcherSpec("random", RandomSearch,
                          "defaults first, then random families and parameters"))
    register(SearcherSpec("grid", GridSearch,
                          "defaults first, then a 3-level grid per family, families interleaved"))
    register(SearcherSpec("tpe", TPESearch,
                          "defaults first, then Optuna TPE over one conditional space"))
    register(SearcherSpec("evolution", EvolutionSearch,
                          "defaults first, then regularized evolution (tournament + mutation)"))
