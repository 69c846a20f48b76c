"""Default preprocessing for numeric, integer, boolean, categorical and datetime columns.

Every transformer here converts to ONNX, so the preprocessing travels inside the exported graph.
Scaling is applied only for models that need it (``FeatureContext.needs_scaling``): trees see raw
values, which keeps their split decisions in ONNX identical to the native ones.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.impute import SimpleImputer
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from automl_guide import FeatureContext, FeatureSpec, hookimpl

MISSING_DATETIME = np.iinfo(np.int64).min
DAY = 86400.0


class AsFloat(TransformerMixin, BaseEstimator):
    """int64 columns (integers, booleans) as float32, unchanged otherwise."""

    def fit(self, X: Any, y: Any = None) -> "AsFloat":
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        return np.asarray(X).astype(np.float32)


class TopCategoryOneHot(TransformerMixin, BaseEstimator):
    """One-hot of each column's ``max_categories`` most frequent values.

    Rarer and unseen values (including values first met in production) encode as all zeros, so a
    high-cardinality column costs at most ``max_categories`` features.
    """

    def __init__(self, max_categories: int = 20):
        self.max_categories = max_categories

    def fit(self, X: Any, y: Any = None) -> "TopCategoryOneHot":
        X = np.asarray(X, dtype=object)
        top = []
        for j in range(X.shape[1]):
            values, counts = np.unique(X[:, j].astype(str), return_counts=True)
            order = np.lexsort((values, -counts))[: self.max_categories]
            top.append(sorted(values[order].tolist()))
        self.encoder_ = OneHotEncoder(categories=top, handle_unknown="ignore", sparse_output=False,
                                      dtype=np.float32).fit(X.astype(str))
        return self

    def transform(self, X: Any) -> np.ndarray:
        return self.encoder_.transform(np.asarray(X, dtype=object).astype(str))


class FrequencyEncoder(TransformerMixin, BaseEstimator):
    """Each value's share of the training rows (0 for a value never seen): one feature per
    column that keeps the signal of categories too rare for the one-hot block."""

    def fit(self, X: Any, y: Any = None) -> "FrequencyEncoder":
        X = np.asarray(X, dtype=object).astype(str)
        self.frequencies_ = []
        for j in range(X.shape[1]):
            values, counts = np.unique(X[:, j], return_counts=True)
            self.frequencies_.append(dict(zip(values.tolist(), (counts / len(X)).tolist())))
        return self

    def transform(self, X: Any) -> np.ndarray:
        X = np.asarray(X, dtype=object).astype(str)
        out = np.zeros(X.shape, dtype=np.float32)
        for j, table in enumerate(self.frequencies_):
            out[:, j] = [table.get(v, 0.0) for v in X[:, j]]
        return out


class DatetimeFeatures(TransformerMixin, BaseEstimator):
    """Seconds since the epoch (int64; missing = smallest int64) to days since the epoch, day of
    week (Monday 0), hour, month and a missing flag. A missing value takes the training median."""

    def fit(self, X: Any, y: Any = None) -> "DatetimeFeatures":
        X = np.asarray(X, dtype=np.int64)
        self.fill_ = np.array([np.median(c[c != MISSING_DATETIME]) if (c != MISSING_DATETIME).any()
                               else 0.0 for c in X.T], dtype=np.float64)
        return self

    def transform(self, X: Any) -> np.ndarray:
        X = np.asarray(X, dtype=np.int64)
        missing = X == MISSING_DATETIME
        seconds = np.where(missing, self.fill_, X.astype(np.float64))
        days = np.floor(seconds / DAY)
        weekday = (days + 3.0) - np.floor((days + 3.0) / 7.0) * 7.0  # 1970-01-01 was a Thursday
        hour = np.floor((seconds - days * DAY) / 3600.0)
        blocks = [days, weekday, hour, _month(days), missing.astype(np.float64)]
        return np.hstack(blocks).astype(np.float32)


def _month(days: np.ndarray) -> np.ndarray:
    """Month (1-12) of a day count, by H. Hinnant's civil-from-days algorithm (floor arithmetic,
    the same steps as the ONNX converter)."""
    z = days + 719468.0
    era = np.floor(z / 146097.0)
    doe = z - era * 146097.0
    yoe = np.floor((doe - np.floor(doe / 1460.0) + np.floor(doe / 36524.0)
                    - np.floor(doe / 146096.0)) / 365.0)
    doy = doe - (365.0 * yoe + np.floor(yoe / 4.0) - np.floor(yoe / 100.0))
    mp = np.floor((5.0 * doy + 2.0) / 153.0)
    return np.where(mp < 10.0, mp + 3.0, mp - 9.0)


def _numeric(columns: list[str], ctx: FeatureContext) -> Any:
    steps = [SimpleImputer(strategy="median")] + ([StandardScaler()] if ctx.needs_scaling else [])
    return make_pipeline(*steps)


def _integer(columns: list[str], ctx: FeatureContext) -> Any:
    return make_pipeline(AsFloat(), StandardScaler()) if ctx.needs_scaling else AsFloat()


def _categorical(columns: list[str], ctx: FeatureContext) -> Any:
    frequency = make_pipeline(FrequencyEncoder(), StandardScaler()) if ctx.needs_scaling \
        else FrequencyEncoder()
    return FeatureUnion([("onehot", TopCategoryOneHot()), ("frequency", frequency)])


def _datetime(columns: list[str], ctx: FeatureContext) -> Any:
    return make_pipeline(DatetimeFeatures(), StandardScaler()) if ctx.needs_scaling \
        else DatetimeFeatures()


def _register_onnx() -> None:
    from automl_guide_plugins import _tabular_onnx  # skl2onnx only when exporting

    _tabular_onnx.register(AsFloat, TopCategoryOneHot, FrequencyEncoder, DatetimeFeatures)


@hookimpl
def automl_guide_register_features(register):
    common = {"register_onnx": _register_onnx}
    register(FeatureSpec("numeric", frozenset({"numeric"}), _numeric, description=
                         "median imputation; standard scaling for models that need it", **common))
    register(FeatureSpec("integer", frozenset({"integer", "boolean"}), _integer, description=
                         "integers and booleans as floats; scaled for models that need it",
                         **common))
    register(FeatureSpec("categorical", frozenset({"categorical", "text"}), _categorical,
                         description="one-hot of the 20 most frequent values (unseen ones "
                         "tolerated) plus frequency encoding", **common))
    register(FeatureSpec("datetime", frozenset({"datetime"}), _datetime, description=
                         "days since epoch, weekday, hour, month, missing flag", **common))
