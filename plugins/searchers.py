"""The ``random`` and ``grid`` searchers.

Both try each model family's default configuration first (strong defaults beat clever search at
short budgets), then go on: ``random`` samples a family uniformly and then its parameters from
their Ray Tune domains; ``grid`` walks a small grid per family (three levels per numeric parameter,
every choice), interleaving families so that a short budget still covers all of them.
"""
from __future__ import annotations

import itertools
import json
from typing import Any, Iterator, Mapping

import numpy as np

from automl_guide import SearcherSpec, SearchProblem, hookimpl

GRID_LEVELS = 3


def _key(config: Mapping[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, default=str)


class _ListedSearch:
    """Proposes configurations from an iterator, skipping repeats, up to ``max_trials``."""

    def __init__(self, configs: Iterator[dict[str, Any]], max_trials: int | None):
        self._configs, self._max, self._seen = configs, max_trials, set()

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if self._max is not None and len(self._seen) >= self._max:
            return None
        for config in self._configs:
            if _key(config) not in self._seen:
                self._seen.add(_key(config))
                return config
        return None

    def on_trial_complete(self, trial_id: str, result: Any = None, error: bool = False) -> None:
        """Neither strategy learns from results."""


def _defaults(problem: SearchProblem) -> Iterator[dict[str, Any]]:
    for name, config in problem.defaults.items():
        yield {"model": name, **config}


def _random_configs(problem: SearchProblem) -> Iterator[dict[str, Any]]:
    rng = np.random.RandomState(problem.seed)
    names = list(problem.spaces)
    for _ in range(100_000):  # a bound that a real search never reaches; repeats are skipped
        name = names[rng.randint(len(names))]
        params = {k: _plain(d.sample(random_state=rng)) if hasattr(d, "sample") else d
                  for k, d in problem.spaces[name].items()}
        yield {"model": name, **params}


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


def _grid_configs(problem: SearchProblem) -> Iterator[dict[str, Any]]:
    per_family = []
    for name, space in problem.spaces.items():
        keys = list(space)
        grids = itertools.product(*(grid_levels(space[k]) for k in keys))
        per_family.append(({"model": name, **dict(zip(keys, values))} for values in grids))
    for round_ in itertools.zip_longest(*per_family):
        yield from (config for config in round_ if config is not None)


def _build_random(problem: SearchProblem) -> _ListedSearch:
    return _ListedSearch(itertools.chain(_defaults(problem), _random_configs(problem)),
                         problem.max_trials)


def _build_grid(problem: SearchProblem) -> _ListedSearch:
    return _ListedSearch(itertools.chain(_defaults(problem), _grid_configs(problem)),
                         problem.max_trials)


@hookimpl
def automl_guide_register_searchers(register):
    register(SearcherSpec("random", _build_random,
                          "defaults first, then random families and parameters"))
    register(SearcherSpec("grid", _build_grid,
                          "defaults first, then a 3-level grid per family, families interleaved"))
