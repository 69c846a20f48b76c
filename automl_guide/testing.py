"""Checks for plugin authors: the contract every built-in model family passes, for a test suite.

A third-party model plugin is tested in its own package's tests, without automl-guide's::

    from automl_guide.testing import check_model_plugin

    def test_my_model_plugin_keeps_the_contract():
        check_model_plugin("knn")   # every task it declares, default and one sampled config

For each task the plugin declares and for its default configuration and one configuration
sampled from its search space, :func:`check_model_plugin` builds the estimator, checks that its
parameters survive ``sklearn.base.clone``, fits it behind the registered feature plugins on a
small mixed table (:func:`sample_table`), exports one ONNX graph and checks its inputs, outputs
and parity with the native model (the export stage's tolerance). It raises
:class:`~automl_guide.PluginError` naming the plugin, the task, the configuration and the step
that failed, with the original error chained. Importing this module loads no model library
(scikit-learn pipelines, onnx and onnxruntime load at the first check).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .errors import PluginError

TARGETS = {"binary": "bought", "multiclass": "segment", "regression": "spend"}
CONFIGS = ("default", "sampled")


def sample_table(rows: int = 240, task: str = "binary", seed: int = 0
                 ) -> tuple[pd.DataFrame, str]:
    """A small mixed shop table and its target column's name (``TARGETS[task]``).

    Floats with gaps, integers, booleans, a category with gaps, a high-cardinality city code
    and a datetime; the target depends on several of them (``"yes"``/``"no"`` for binary,
    0-3 for multiclass, a spend for regression)."""
    if task not in TARGETS:
        raise ValueError(f"task must be one of {sorted(TARGETS)}, not {task!r}")
    rng = np.random.default_rng(seed)
    price = rng.gamma(2.0, 30.0, rows)
    visits = rng.integers(0, 20, rows)
    member = rng.random(rows) < 0.4
    category = rng.choice(["dress", "shoes", "bag", "hat"], rows, p=[0.4, 0.3, 0.2, 0.1])
    city = np.array([f"city_{i}" for i in rng.integers(0, 60, rows)], dtype=object)
    seen = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365 * 24, rows), unit="h")
    signal = 0.04 * visits + 0.8 * member - 0.01 * price + (category == "dress") * 0.7
    frame = pd.DataFrame({"price": price, "visits": visits, "member": member,
                          "category": category, "city": city, "last_seen": seen})
    frame.loc[rng.random(rows) < 0.1, "price"] = np.nan
    frame.loc[rng.random(rows) < 0.05, "category"] = None
    if task == "binary":
        frame["bought"] = np.where(signal + rng.normal(0, 0.5, rows) > 0.3, "yes", "no")
    elif task == "multiclass":
        frame["segment"] = np.digitize(signal + rng.normal(0, 0.3, rows), [0.0, 0.5, 1.0])
    else:
        frame["spend"] = 50 + 40 * signal + rng.normal(0, 5, rows)
    return frame, TARGETS[task]


@dataclass(frozen=True)
class ContractCheck:
    """One passed check: the plugin, task and configuration, and what parity measured."""

    model: str
    task: str
    config_kind: str  # "default" or "sampled"
    config: Mapping[str, Any]
    max_abs_diff: float
    label_agreement: float | None
    seconds: float


def check_model_plugin(name: str, tasks: str | Iterable[str] | None = None,
                       configs: str | Sequence[str] = CONFIGS, rows: int = 240, seed: int = 0,
                       registry: Any = None) -> list[ContractCheck]:
    """Run the model-plugin contract for the registered model family ``name``.

    :param tasks: the tasks to check, or one task (default: every task the plugin declares).
    :param configs: ``"default"`` (its ``default_config``) and/or ``"sampled"`` (one draw from
        its ``search_space``, seeded by ``seed``), a list or one of them.
    :param rows: rows of the :func:`sample_table` it is fitted on.
    :param registry: a :class:`~automl_guide.PluginRegistry` (default: ``load_registry()``, the
        installed plugins; pass ``load_registry([my_module])`` for one not installed).
    :returns: one :class:`ContractCheck` per task and configuration, all passed.
    :raises PluginError: the first check that failed, naming plugin, task, configuration, step.
    """
    from .registry import load_registry

    registry = registry if registry is not None else load_registry()
    spec = registry.model(name)
    tasks = [tasks] if isinstance(tasks, str) else tasks
    configs = [configs] if isinstance(configs, str) else configs
    wanted = sorted(spec.tasks) if tasks is None else list(tasks)
    unknown = [t for t in wanted if t not in spec.tasks]
    if unknown:
        raise PluginError(f"Model plugin {name!r} does not declare the task(s) {unknown}; it "
                          f"declares {sorted(spec.tasks)}.")
    bad = [c for c in configs if c not in CONFIGS]
    if bad:
        raise ValueError(f"configs must be among {CONFIGS}, not {bad}")
    return [_check(registry, spec, task, kind, rows, seed) for task in wanted for kind in configs]


def _check(registry: Any, spec: Any, task: str, kind: str, rows: int, seed: int
           ) -> ContractCheck:
    from sklearn.base import clone

    from . import export
    from .api import _refit
    from .data import prepare
    from .pipeline import feature_plan

    start = time.perf_counter()
    step = "reading its configuration"

    def fail(exc: BaseException) -> PluginError:
        parity = getattr(exc, "parity", None)
        what = (f"max {'relative value' if task == 'regression' else 'probability'} difference "
                f"{parity.max_abs_diff:.3g} over {parity.rows} rows (tolerance "
                f"{parity.tolerance:g}), label agreement {parity.label_agreement}"
                if parity is not None else f"{type(exc).__name__}: {exc}")
        return PluginError(f"Model plugin {spec.name!r} failed the contract ({task}, {kind} "
                           f"configuration) while {step}: {what}")

    try:
        config = (dict(spec.default_config(task, rows)) if kind == "default"
                  else _sampled(spec.search_space(task, rows), seed + len(spec.name)))
        step = "building the estimator"
        estimator = spec.build(config, task, seed)
        step = "cloning the estimator (get_params/set_params)"
        cloned = repr(clone(estimator).get_params())
        if cloned != repr(estimator.get_params()):
            raise AssertionError(f"parameters after clone differ: {cloned} != "
                                 f"{estimator.get_params()!r}")
        step = "planning the feature plugins for the sample table"
        frame, target = sample_table(rows, task, seed)
        dataset = prepare(frame, target)
        fitted_rows = np.arange(len(dataset.y))
        queries = fitted_rows // 8 if spec.needs_queries else None  # 8 rows per query
        plan = feature_plan(registry, dataset.columns)
        step = "fitting it behind the feature plugins"
        pipeline = _refit(dataset, fitted_rows, plan, spec, config, seed, queries=queries)
        step = "exporting one ONNX graph"
        used = [reg.spec for reg in registry.all()
                if reg.kind == "feature" and reg.name in plan or reg.spec is spec]
        graph = export.to_onnx(pipeline, dataset.columns, task, dataset.classes, used, spec)
        outputs = [o.name for o in graph.graph.output]
        expected = ["value"] if task == "regression" else ["label", "probabilities"]
        if outputs != expected:
            raise AssertionError(f"graph outputs {outputs}, expected {expected}")
        step = "checking parity with the native model"
        parity = export.check_parity(graph.SerializeToString(), pipeline, dataset.features,
                                     dataset.columns, task, dataset.classes)
    except Exception as exc:  # noqa: BLE001 - every failure is reported as the plugin's
        raise fail(exc) from exc
    return ContractCheck(spec.name, task, kind, config, parity.max_abs_diff,
                         parity.label_agreement, time.perf_counter() - start)


def _sampled(space: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """One configuration drawn from a search space (Ray Tune domains or constants)."""
    rng = np.random.RandomState(seed)
    return {k: d.sample(random_state=rng) if hasattr(d, "sample") else d
            for k, d in space.items()}
