"""The native scikit-learn pipeline: coerce raw columns, feature plugins, model plugin.

``Pipeline([("coerce", InputCoercer), ("features", ColumnTransformer), ("model", estimator)])``
takes raw DataFrames like the exported ONNX graph does. Classifiers are wrapped so that their
labels are the original class values and ``predict`` is the arg-max of ``predict_proba``, exactly
the rule the ONNX graph applies.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from .columns import ColumnInfo, coerce_frame
from .errors import PluginError
from .registry import PluginRegistry
from .specs import FeatureContext, FeatureSpec, ModelSpec

_FALLBACK_KIND = {"text": "categorical", "boolean": "integer"}


class InputCoercer(TransformerMixin, BaseEstimator):
    """Raw DataFrame -> typed frame named by ONNX input names (see :mod:`automl_guide.columns`)."""

    def __init__(self, columns: Sequence[ColumnInfo] = ()):
        self.columns = columns

    def fit(self, X: pd.DataFrame, y: Any = None) -> "InputCoercer":
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        return coerce_frame(X, self.columns)


class LabelledClassifier(ClassifierMixin, BaseEstimator):
    """A classifier trained on class indices ``0..K-1`` that answers with the original labels.

    ``predict_proba`` always has one column per class in ``classes`` (a class missing from a
    training fold gets probability 0), and ``predict`` is its arg-max.
    """

    def __init__(self, estimator: Any = None, classes: Sequence[Any] = ()):
        self.estimator = estimator
        self.classes = classes

    def fit(self, X: Any, y: np.ndarray, **fit_params: Any) -> "LabelledClassifier":
        self.classes_ = np.asarray(self.classes, dtype=object)
        self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        return self

    def fit_stages(self, fit_stages: Any, X: Any, y: np.ndarray, stages: int) -> Any:
        """Like :meth:`fit`, through a model plugin's ``fit_stages`` iterator."""
        self.classes_ = np.asarray(self.classes, dtype=object)
        self.estimator_ = clone(self.estimator)
        return fit_stages(self.estimator_, X, y, stages)

    def predict_proba(self, X: Any) -> np.ndarray:
        proba = self.estimator_.predict_proba(X)
        seen = np.asarray(self.estimator_.classes_, dtype=int)
        if len(seen) == len(self.classes_):
            return proba
        full = np.zeros((proba.shape[0], len(self.classes_)), dtype=proba.dtype)
        full[:, seen] = proba
        return full

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def feature_plan(registry: PluginRegistry, columns: Sequence[ColumnInfo]
                 ) -> dict[str, tuple[FeatureSpec, list[str]]]:
    """For each feature plugin in use, the ONNX column names it transforms."""
    best: dict[str, FeatureSpec] = {}
    for reg in registry.features.values():
        for kind in reg.spec.kinds:
            if kind not in best or reg.spec.priority > best[kind].priority:
                best[kind] = reg.spec
    plan: dict[str, list[str]] = defaultdict(list)
    specs: dict[str, FeatureSpec] = {}
    for col in columns:
        kind = col.kind if col.kind in best else _FALLBACK_KIND.get(col.kind, col.kind)
        if kind not in best:
            raise PluginError(f"No feature plugin handles {col.kind} columns such as "
                              f"{col.name!r}; install or register one.")
        specs[best[kind].name] = best[kind]
        plan[best[kind].name].append(col.onnx_name)
    return {name: (specs[name], cols) for name, cols in plan.items()}


def build_features(plan: Mapping[str, tuple[FeatureSpec, list[str]]], ctx: FeatureContext
                   ) -> ColumnTransformer:
    steps = [(name, spec.build(cols, ctx), cols) for name, (spec, cols) in plan.items()]
    return ColumnTransformer(steps, remainder="drop", sparse_threshold=0.0,
                             verbose_feature_names_out=False)


def build_model(spec: ModelSpec, config: Mapping[str, Any], task: str, seed: int,
                classes: Sequence[Any]) -> Any:
    params = {k: v for k, v in config.items() if k != "model"}
    estimator = spec.build(params, task, seed)
    return LabelledClassifier(estimator, tuple(classes)) if task != "regression" else estimator


def train_rows(spec: ModelSpec, n_rows: int, seed: int) -> np.ndarray:
    """Which of ``n_rows`` training rows the model fits on (all, or its ``max_train_rows``)."""
    if spec.max_train_rows is None or n_rows <= spec.max_train_rows:
        return np.arange(n_rows)
    return np.sort(np.random.RandomState(seed).choice(n_rows, spec.max_train_rows, replace=False))


def fit_params(spec: ModelSpec, queries: np.ndarray | None, rows: np.ndarray,
               prefix: str = "") -> dict[str, Any]:
    """The extra ``fit`` arguments of a model: the query ids of ``rows`` for a ranking family
    (``prefix`` ``"model__"`` routes them through a pipeline), nothing for the others."""
    if not spec.needs_queries:
        return {}
    if queries is None:
        raise PluginError(f"Model plugin {spec.name!r} ranks and needs query ids; it runs only "
                          "in the shop's rank task.")
    return {f"{prefix}qid": np.asarray(queries)[rows]}


def build_pipeline(columns: Sequence[ColumnInfo], features: ColumnTransformer, model: Any
                   ) -> Pipeline:
    return Pipeline([("coerce", InputCoercer(tuple(columns))), ("features", features),
                     ("model", model)])


def model_output(model: Any, X: Any, task: str) -> np.ndarray:
    """Probabilities (classification) or values (regression): what metrics score."""
    if task == "regression":
        return np.asarray(model.predict(X), dtype=np.float64).ravel()
    return np.asarray(model.predict_proba(X), dtype=np.float64)
