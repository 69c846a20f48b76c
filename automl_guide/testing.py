"""Checks for plugin authors: the contracts every built-in plugin passes, for a test suite.

A third-party plugin is tested in its own package's tests, without automl-guide's::

    from automl_guide.testing import check_feature_plugin, check_model_plugin

    def test_my_model_plugin_keeps_the_contract():
        check_model_plugin("knn")   # every table kind x task it declares x default and sampled

    def test_my_feature_plugin_keeps_the_contract():
        check_feature_plugin("log_numbers")   # scaled and raw, behind two built-in models

:func:`check_model_plugin` runs a matrix: every kind of table (:data:`TABLE_KINDS`: a mixed
one, and one for each column kind alone, since each kind's feature graph comes out of skl2onnx
at its own opset) x every task the plugin declares x its default configuration and one sampled
from its search space. For each cell it builds the estimator, checks that its parameters survive
``sklearn.base.clone``, fits it behind the registered feature plugins on a small table
(:func:`sample_table`), exports one ONNX graph and checks its inputs, outputs and parity with
the native model (the export stage's tolerance). :func:`check_feature_plugin`
gives a feature plugin the table's columns of its kinds and does the same behind a model that
wants scaled features and one that wants raw ones. Both raise
:class:`~automl_guide.PluginError` naming the plugin, the task, the table, what was checked and
the step that failed, with the original error chained. Importing this module loads no model library
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
# "mixed", then one table per column kind: a table of one kind only is what a pixel table
# (integers), a table of reviews (text) or a table of flags (booleans) looks like.
TABLE_KINDS = ("mixed", "numeric", "integer", "boolean", "categorical", "datetime", "text")


def sample_table(rows: int = 240, task: str = "binary", seed: int = 0, text: bool = False,
                 fine: bool = False, kind: str = "mixed") -> tuple[pd.DataFrame, str]:
    """A small shop table and its target column's name (``TARGETS[task]``).

    ``kind`` ``"mixed"`` (the default) is the table described below. Any other of
    :data:`TABLE_KINDS` is a table whose feature columns are all of that column kind (two or
    three of them; with ``fine``, the numeric one has ``fine_rate`` too), with a target that
    depends on them.

    Floats with gaps, integers, booleans, a category with gaps, a high-cardinality city code
    and a datetime; with ``text``, also a short review (English or Chinese words, some
    missing; it does not move the target). The target depends on several of the others
    (``"yes"``/``"no"`` for binary, 0-3 for multiclass, a spend for regression).

    With ``fine``, also ``fine_rate``: a statistic whose values are neighbouring float32 numbers
    (4.0, 4.0000005, 4.000001, ...), and the target moves with it. The exported graph holds
    split thresholds as float32: a tree that splits two neighbours at their float64 midpoint
    sends one of them the other way once that midpoint is rounded, as happens by chance on
    large real tables. The contract checks use it."""
    if task not in TARGETS:
        raise ValueError(f"task must be one of {sorted(TARGETS)}, not {task!r}")
    if kind not in TABLE_KINDS:
        raise ValueError(f"kind must be one of {TABLE_KINDS}, not {kind!r}")
    if kind != "mixed":
        rng = np.random.default_rng([seed, TABLE_KINDS.index(kind)])
        frame, signal = _one_kind(kind, rows, rng, fine)
        centred = (signal - signal.mean()) / (signal.std() or 1.0)
        return _with_target(frame, 0.5 + 0.5 * centred, task, rng), TARGETS[task]
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
    if fine:  # its own stream: the other columns are the same with it or without
        steps = np.random.default_rng([seed, 32]).integers(0, 6, rows)
        grid = np.nextafter(np.float32(4.0), np.float32(5.0)) - np.float32(4.0)
        frame["fine_rate"] = (np.float32(4.0) + grid * steps.astype(np.float32)).astype(float)
        # 3.5 steps, the midpoint of 3 and 4, rounds to 4 (to even) as a float32
        signal = signal + 0.9 * (steps >= 4)
    frame.loc[rng.random(rows) < 0.1, "price"] = np.nan
    frame.loc[rng.random(rows) < 0.05, "category"] = None
    frame = _with_target(frame, signal, task, rng)
    if text:  # drawn last: the other columns and the target are the same without it
        frame["review"] = [" ".join(rng.choice(_WORDS, rng.integers(3, 9))) for _ in range(rows)]
        frame.loc[rng.random(rows) < 0.05, "review"] = None
    return frame, TARGETS[task]


_WORDS = np.array(["soft", "warm", "small", "cheap", "lovely", "fits", "returned", "colour",
                   "fabric", "size", "舒服", "质量很好", "尺码偏小", "很喜欢"])
_LIKED = {"lovely": 1.0, "fits": 0.5, "舒服": 0.5, "很喜欢": 1.0, "returned": -1.0, "尺码偏小": -0.5}


def _with_target(frame: pd.DataFrame, signal: np.ndarray, task: str,
                 rng: np.random.Generator) -> pd.DataFrame:
    rows = len(frame)
    if task == "binary":
        frame["bought"] = np.where(signal + rng.normal(0, 0.5, rows) > 0.3, "yes", "no")
    elif task == "multiclass":
        frame["segment"] = np.digitize(signal + rng.normal(0, 0.3, rows), [0.0, 0.5, 1.0])
    else:
        frame["spend"] = 50 + 40 * signal + rng.normal(0, 5, rows)
    return frame


def _one_kind(kind: str, rows: int, rng: np.random.Generator, fine: bool
              ) -> tuple[pd.DataFrame, np.ndarray]:
    """Feature columns of one kind, and the signal the target follows."""
    if kind == "numeric":
        price, rating = rng.gamma(2.0, 30.0, rows), rng.normal(4.0, 0.6, rows)
        frame = pd.DataFrame({"price": price, "rating": rating})
        signal = rating - 0.01 * price
        if fine:  # neighbouring float32 numbers, as in the mixed table
            steps = rng.integers(0, 6, rows)
            grid = np.nextafter(np.float32(4.0), np.float32(5.0)) - np.float32(4.0)
            frame["fine_rate"] = (np.float32(4.0) + grid * steps.astype(np.float32)).astype(float)
            signal = signal + 0.9 * (steps >= 4)
        frame.loc[rng.random(rows) < 0.1, "price"] = np.nan
        return frame, signal
    if kind == "integer":  # counts, or a pixel table's intensities
        visits, pixel = rng.integers(0, 20, rows), rng.integers(0, 17, rows)
        return pd.DataFrame({"visits": visits, "pixel": pixel}), 0.04 * visits + 0.05 * pixel
    if kind == "boolean":
        flags = rng.random((rows, 3)) < [0.4, 0.5, 0.3]
        frame = pd.DataFrame(flags, columns=["member", "newsletter", "returning"])
        return frame, flags @ np.array([0.8, 0.5, -0.3])
    if kind == "categorical":
        category = rng.choice(["dress", "shoes", "bag", "hat"], rows, p=[0.4, 0.3, 0.2, 0.1])
        city_code = rng.integers(0, 60, rows)
        frame = pd.DataFrame({"category": category,
                              "city": np.array([f"city_{i}" for i in city_code], dtype=object)})
        signal = (category == "dress") * 0.7 - (category == "bag") * 0.4 + (city_code < 20) * 0.5
        frame.loc[rng.random(rows) < 0.05, "category"] = None
        return frame, signal
    if kind == "datetime":
        hours = rng.integers(0, 365 * 24, (rows, 2))
        stamps = pd.Timestamp("2024-01-01") + pd.to_timedelta(hours.ravel(), unit="h")
        frame = pd.DataFrame(np.asarray(stamps).reshape(rows, 2),
                             columns=["last_seen", "first_order"])
        return frame, hours[:, 0] / (365 * 24) + ((hours[:, 1] % 24) >= 18) * 0.5
    # text: reviews of a few words, English or Chinese, some missing
    reviews = [list(rng.choice(_WORDS, rng.integers(3, 9))) for _ in range(rows)]
    signal = np.array([sum(_LIKED.get(w, 0.0) for w in words) for words in reviews])
    frame = pd.DataFrame({"review": [" ".join(words) for words in reviews]})
    frame.loc[rng.random(rows) < 0.05, "review"] = None
    return frame, signal


@dataclass(frozen=True)
class ContractCheck:
    """One passed check: the plugin, the task, the table, the variant checked and what parity
    measured.

    ``table``: one of :data:`TABLE_KINDS` (a feature plugin's check: ``"mixed"``).
    ``variant``: a model plugin's ``"default"`` or ``"sampled"`` configuration (``config``); a
    feature plugin's ``"scaled"`` or ``"raw"`` features (``config`` names the model fitted
    behind them: ``linear`` needs scaled features, ``decision_tree`` raw ones)."""

    plugin: str
    task: str
    table: str
    variant: str
    config: Mapping[str, Any]
    max_abs_diff: float
    label_agreement: float | None
    seconds: float


def check_model_plugin(name: str, tasks: str | Iterable[str] | None = None,
                       configs: str | Sequence[str] = CONFIGS, rows: int = 240, seed: int = 0,
                       registry: Any = None, tables: str | Sequence[str] = TABLE_KINDS
                       ) -> list[ContractCheck]:
    """Run the model-plugin contract for the registered model family ``name``: every table
    kind x task x configuration asked for.

    :param tasks: the tasks to check, or one task (default: every task the plugin declares).
    :param configs: ``"default"`` (its ``default_config``) and/or ``"sampled"`` (one draw from
        its ``search_space``, seeded by ``seed``), a list or one of them.
    :param rows: rows of the :func:`sample_table` it is fitted on.
    :param registry: a :class:`~automl_guide.PluginRegistry` (default: ``load_registry()``, the
        installed plugins; pass ``load_registry([my_module])`` for one not installed).
    :param tables: the kinds of table (:data:`TABLE_KINDS`, the default: all), or one.
    :returns: one :class:`ContractCheck` per table, task and configuration, all passed.
    :raises PluginError: the first check that failed, naming plugin, task, configuration, table
        and step.
    """
    registry = _registry(registry)
    spec = registry.model(name)
    wanted = _tasks(tasks, spec.tasks, f"Model plugin {name!r}")
    configs = _among(configs, CONFIGS, "configs")
    tables = _among(tables, TABLE_KINDS, "tables")
    return [_check_model(registry, spec, task, kind, table, rows, seed)
            for table in tables for task in wanted for kind in configs]


def _among(given: str | Sequence[str], allowed: Sequence[str], what: str) -> list[str]:
    given = [given] if isinstance(given, str) else list(given)
    bad = [g for g in given if g not in allowed]
    if bad:
        raise ValueError(f"{what} must be among {allowed}, not {bad}")
    return given


def check_feature_plugin(name: str, tasks: str | Iterable[str] = ("binary", "regression"),
                         rows: int = 240, seed: int = 0, registry: Any = None
                         ) -> list[ContractCheck]:
    """Run the feature-plugin contract for the registered feature plugin ``name``.

    The plugin takes every column of the kinds it declares in :func:`sample_table` (with its
    text column when it declares ``text``), whatever its priority; the other columns go to the
    plugins that win their kinds. For each task its features are checked ``"scaled"`` (fitted
    behind the built-in ``linear`` model, whose context asks for scaling) and ``"raw"``
    (behind ``decision_tree``): fitted, exported as one ONNX graph with the model, and compared
    with the native pipeline.

    :param tasks: the tasks to check, or one task.
    :returns: one :class:`ContractCheck` per task and variant, all passed.
    :raises PluginError: the first check that failed, naming plugin, task, variant and step.
    """
    registry = _registry(registry)
    if name not in registry.features:
        raise PluginError(f"No feature plugin named {name!r}; registered feature plugins: "
                          f"{', '.join(sorted(registry.features))}.")
    spec = registry.features[name].spec
    wanted = _tasks(tasks, set(TARGETS), f"Feature plugin {name!r}")
    return [_check_features(registry, spec, task, variant, rows, seed)
            for task in wanted for variant in ("scaled", "raw")]


def _registry(registry: Any) -> Any:
    from .registry import load_registry

    return registry if registry is not None else load_registry()


def _tasks(tasks: str | Iterable[str] | None, declared: Iterable[str], who: str) -> list[str]:
    wanted = sorted(declared) if tasks is None else [tasks] if isinstance(tasks, str) \
        else list(tasks)
    unknown = [t for t in wanted if t not in declared]
    if unknown:
        raise PluginError(f"{who} does not declare the task(s) {unknown}; it declares "
                          f"{sorted(declared)}.")
    return wanted


class _Steps:
    """Names the step under way, so that a failure says where it happened."""

    def __init__(self, who: str):
        self.who, self.step = who, "starting"

    def failed(self, exc: BaseException) -> PluginError:
        parity = getattr(exc, "parity", None)
        what = parity.summary() if parity is not None else f"{type(exc).__name__}: {exc}"
        return PluginError(f"{self.who} while {self.step}: {what}")


def _check_model(registry: Any, spec: Any, task: str, kind: str, table: str, rows: int,
                 seed: int) -> ContractCheck:
    from sklearn.base import clone

    from .data import prepare
    from .pipeline import feature_plan

    start = time.perf_counter()
    steps = _Steps(f"Model plugin {spec.name!r} failed the contract ({task}, {kind} "
                   f"configuration, {table} table)")
    try:
        steps.step = "reading its configuration"
        config = (dict(spec.default_config(task, rows)) if kind == "default"
                  else _sampled(spec.search_space(task, rows), seed + len(spec.name)))
        steps.step = "building the estimator"
        estimator = spec.build(config, task, seed)
        steps.step = "cloning the estimator (get_params/set_params)"
        cloned = repr(clone(estimator).get_params())
        if cloned != repr(estimator.get_params()):
            raise AssertionError(f"parameters after clone differ: {cloned} != "
                                 f"{estimator.get_params()!r}")
        steps.step = "planning the feature plugins for the sample table"
        dataset = prepare(*sample_table(rows, task, seed, fine=True, kind=table))
        plan = feature_plan(registry, dataset.columns)
        parity = _fit_export_parity(steps, registry, dataset, plan, spec, config, seed)
    except Exception as exc:  # noqa: BLE001 - every failure is reported as the plugin's
        raise steps.failed(exc) from exc
    return ContractCheck(spec.name, task, table, kind, config, parity.max_abs_diff,
                         parity.label_agreement, time.perf_counter() - start)


def _check_features(registry: Any, spec: Any, task: str, variant: str, rows: int, seed: int
                    ) -> ContractCheck:
    from .data import prepare
    from .pipeline import feature_plan

    start = time.perf_counter()
    model = "linear" if variant == "scaled" else "decision_tree"
    steps = _Steps(f"Feature plugin {spec.name!r} failed the contract ({task}, {variant} "
                   f"features, behind {model})")
    dataset = prepare(*sample_table(rows, task, seed, text="text" in spec.kinds, fine=True))
    mine = [c.onnx_name for c in dataset.columns if c.kind in spec.kinds]
    if not mine:
        raise PluginError(f"{steps.who}: the sample table has no column of its kinds "
                          f"{sorted(spec.kinds)}.")
    model_spec = registry.model(model)
    config = dict(model_spec.default_config(task, rows))
    try:
        steps.step = "planning the sample table's columns"
        plan = {name: (other, [c for c in cols if c not in mine])
                for name, (other, cols) in feature_plan(registry, dataset.columns).items()
                if name != spec.name}
        plan = {name: entry for name, entry in plan.items() if entry[1]}
        plan[spec.name] = (spec, mine)
        parity = _fit_export_parity(steps, registry, dataset, plan, model_spec, config, seed)
    except Exception as exc:  # noqa: BLE001 - every failure is reported as the plugin's
        raise steps.failed(exc) from exc
    return ContractCheck(spec.name, task, "mixed", variant, {"model": model, **config},
                         parity.max_abs_diff, parity.label_agreement,
                         time.perf_counter() - start)


def _fit_export_parity(steps: _Steps, registry: Any, dataset: Any, plan: Mapping, spec: Any,
                       config: Mapping[str, Any], seed: int) -> Any:
    """Fit ``spec`` behind the ``plan``'s features on every row, export, compare."""
    from . import export
    from .parity import check_parity
    from .refit import refit

    steps.step = "fitting it behind the feature plugins"
    rows = np.arange(len(dataset.y))
    queries = rows // 8 if spec.needs_queries else None  # a ranker orders 8 rows at a time
    pipeline = refit(dataset, rows, plan, spec, config, seed, queries=queries)
    steps.step = "exporting one ONNX graph"
    used = [reg.spec for reg in registry.all() if reg.kind == "feature" and reg.name in plan]
    graph = export.to_onnx(pipeline, dataset.columns, dataset.task, dataset.classes,
                           [*used, spec], spec)
    outputs = [o.name for o in graph.graph.output]
    expected = ["value"] if dataset.task == "regression" else ["label", "probabilities"]
    if outputs != expected:
        raise AssertionError(f"graph outputs {outputs}, expected {expected}")
    steps.step = "checking parity with the native model"
    return check_parity(graph.SerializeToString(), pipeline, dataset.features,
                               dataset.columns, dataset.task, dataset.classes)


def _sampled(space: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """One configuration drawn from a search space (Ray Tune domains or constants)."""
    rng = np.random.RandomState(seed)
    return {k: d.sample(random_state=rng) if hasattr(d, "sample") else d
            for k, d in space.items()}
