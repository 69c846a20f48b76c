"""The ``random`` and ``grid`` searchers.

Both try each model family's default configuration first (strong defaults beat clever search at
short budgets), then go on: ``random`` samples a family uniformly and then its parameters from
their Ray Tune domains; ``grid`` walks a small grid per family (three levels per numeric parameter,
every choice), interleaving families so that a short budget still covers all of them.
"""
from __future__ import annotations

import itertools
import json
from typing import Any, Mapping

import numpy as np

from automl_guide import SearcherSpec, SearchProblem, hookimpl

GRID_LEVELS = 3


def _key(config: Mapping[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, default=str)


class _Search:
    """Defaults first, then ``_next()``, skipping repeats, up to ``max_trials``.

    Plain state (no generators): Ray Tune pickles the searcher with its experiment state.
    """

    def __init__(self, problem: SearchProblem):
        self.problem = problem
        self.pending = [{"model": n, **c} for n, c in problem.defaults.items()]
        self.seen: set[str] = set()

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if self.problem.max_trials is not None and len(self.seen) >= self.problem.max_trials:
            return None
        for _ in range(1000):  # bounded: a small space runs out of new configurations
            config = self.pending.pop(0) if self.pending else self._next()
            if config is None:
                return None
            if _key(config) not in self.seen:
                self.seen.add(_key(config))
                return config
        return None

    def _next(self) -> dict[str, Any] | None:
        raise NotImplementedError

    def on_trial_complete(self, trial_id: str, result: Any = None, error: bool = False) -> None:
        """Neither strategy learns from results."""


class RandomSearch(_Search):
    def __init__(self, problem: SearchProblem):
        super().__init__(problem)
        self.rng = np.random.RandomState(problem.seed)

    def _next(self) -> dict[str, Any]:
        names = list(self.problem.spaces)
        name = names[self.rng.randint(len(names))]
        params = {k: _plain(d.sample(random_state=self.rng)) if hasattr(d, "sample") else d
                  for k, d in self.problem.spaces[name].items()}
        return {"model": name, **params}


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


@hookimpl
def automl_guide_register_searchers(register):
    register(SearcherSpec("random", RandomSearch,
                          "defaults first, then random families and parameters"))
    register(SearcherSpec("grid", GridSearch,
                          "defaults first, then a 3-level grid per family, families interleaved"))
