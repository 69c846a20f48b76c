"""Which model families a run searches: the registry's families for the task (or those the
user named), the ones whose search space and default configuration can be built, their
portfolios of further strong configurations, and the cheapest family's default."""
from __future__ import annotations

import warnings
from typing import Any, Mapping, Sequence

from .errors import PluginError
from .registry import PluginRegistry
from .specs import ModelSpec


def model_specs(registry: PluginRegistry, names: Sequence[str] | None, task: str,
                ranking: bool = False) -> dict[str, ModelSpec]:
    """The families ``names`` (every registered family of ``task`` when None, cheapest first);
    rankers only when the run ``ranking`` knows its queries."""
    if names:
        specs = {name: registry.model(name) for name in names}
        unfit = [n for n, s in specs.items() if task not in s.tasks]
        if unfit:
            raise PluginError(f"Model plugin(s) {', '.join(unfit)} do not support {task} tasks.")
        rankers = [n for n, s in specs.items() if s.needs_queries and not ranking]
        if rankers:
            raise PluginError(f"Model plugin(s) {', '.join(rankers)} rank the rows of a query "
                              "and run only in the shop's rank task.")
        return specs
    specs = {r.name: r.spec for r in sorted(registry.models.values(),
                                            key=lambda r: r.spec.relative_cost)
             if task in r.spec.tasks and (ranking or not r.spec.needs_queries)}
    if not specs:
        raise PluginError(f"No registered model plugin supports {task} tasks.")
    return specs


def searchable(specs: Mapping[str, ModelSpec], task: str, n_rows: int
               ) -> tuple[dict[str, ModelSpec], dict[str, dict], dict[str, dict]]:
    """The families whose search space and default configuration can be built, with those
    (by family name): a plugin whose ``search_space`` or ``default_config`` fails sits out the
    run, with a warning naming it, and the other families go on; when none is left, one error
    names every failure."""
    usable, spaces, defaults, failures = {}, {}, {}, []
    for name, spec in specs.items():
        try:
            space = dict(spec.search_space(task, n_rows))
            default = dict(spec.default_config(task, n_rows))
        except Exception as exc:  # noqa: BLE001 - a plugin's bug must not end the run
            failures.append(f"model plugin {name!r}: its search_space or default_config failed "
                            f"({type(exc).__name__}: {exc})")
            continue
        usable[name], spaces[name], defaults[name] = spec, space, default
    if failures and not usable:
        raise PluginError("No model family can be searched: " + "; ".join(failures) + ".")
    for failure in failures:
        warnings.warn(f"{failure[0].upper()}{failure[1:]}; the family sits out this run.",
                      RuntimeWarning, stacklevel=3)
    return usable, spaces, defaults


def portfolio(spec: ModelSpec, task: str, n_rows: int) -> list[dict[str, Any]]:
    """A family's further strong configurations; a plugin whose portfolio fails or is not a list
    of dicts loses its portfolio, with a warning naming it, and the run goes on."""
    if spec.portfolio is None:
        return []
    try:
        configs = [dict(c) for c in spec.portfolio(task, n_rows)]
    except Exception as exc:  # noqa: BLE001 - a plugin's bug must not end the run
        warnings.warn(f"Model plugin {spec.name!r}: its portfolio failed ({exc!r}); only its "
                      "default and the search are tried.", RuntimeWarning, stacklevel=2)
        return []
    return configs


def cheapest_default(specs: Mapping[str, ModelSpec], defaults: Mapping[str, dict]
                     ) -> tuple[str, dict[str, Any]]:
    """The family with the lowest ``relative_cost`` and its default configuration (with
    ``model``): the searchers' first proposal, and the fallback when no trial finished."""
    name = min(specs, key=lambda n: specs[n].relative_cost)
    return name, {"model": name, **defaults[name]}
