"""Default preprocessing for numeric, integer, boolean, categorical and datetime columns.

Codes with many values (string categories, and integer columns named as ids) also get each
value's frequency and its cross-fitted target mean (:class:`ValueStatistics`).

Every transformer here converts to ONNX, so the preprocessing travels inside the exported graph.
Scaling is applied only for models that need it (``FeatureContext.needs_scaling``): trees see raw
values, which keeps their split decisions in ONNX identical to the native ones.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.impute import SimpleImputer
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.preprocessing import OneHotEncoder, StandardScaler, TargetEncoder

from automl_guide import FeatureContext, FeatureSpec, hookimpl

MISSING_DATETIME = np.iinfo(np.int64).min
MAX_CATEGORIES = 20  # one-hot width per categorical column
DAY = 86400.0


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


class ValueStatistics(TransformerMixin, BaseEstimator):
    """Per-value statistics of code-like columns (ids, cities, product codes).

    Output columns, in order: the raw values as floats (``integers=True``: int64 columns, which
    trees then still split on); then, column by column, the value's share of the training rows
    (every column with ``frequency="all"``, only the target-encoded ones with ``"encoded"``; the
    rarest training value's share for a value never seen) and its smoothed target mean (one per class for multiclass; the
    overall mean for a value never seen). A column is target-encoded when ``task`` is set, it
    is among ``candidates`` (all columns when ``None``) and it has at least ``min_distinct``
    distinct training values: a tree needs many splits to carve an id's number line into the ids
    that behave alike, a target mean gives it that grouping in one feature.

    With ``integers=True`` and two or more such columns, the two with the most values also make
    a **pair** (user x product, store x item), encoded the same way, last: what this user did
    with this product is often the strongest signal there is, and a tree would need a leaf per
    pair to find it.

    Each looked-up column keeps its sorted training values (``keys_``) and a float32 table with
    one row per value plus a last row for values never seen; the ONNX graph maps a value to its
    row with one LabelEncoder and gathers the row, and a pair's row from the two rows' numbers.
    Target means are scikit-learn's ``TargetEncoder`` (empirical-Bayes smoothing towards the
    overall mean). ``fit_transform`` cross-fits them over 5 folds, so no training row's feature
    holds its own target; ``transform`` (validation rows, production) uses the means over all
    training rows.
    """

    def __init__(self, task: str | None = None, min_distinct: int = 50, integers: bool = False,
                 frequency: str = "all", seed: int = 0, candidates: tuple[int, ...] | None = None):
        self.task = task
        self.min_distinct = min_distinct
        self.integers = integers
        self.frequency = frequency
        self.seed = seed
        self.candidates = candidates

    def _values(self, X: Any) -> np.ndarray:
        if self.integers:
            return np.asarray(X, dtype=np.int64)
        return np.asarray(X, dtype=object).astype(str)

    def fit(self, X: Any, y: Any = None) -> "ValueStatistics":
        self._fit(self._values(X), y, cross_fit=False)  # the tables only: no cross-fitting
        return self

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        values = self._values(X)
        rows, crossed = self._fit(values, y, cross_fit=True)
        return self._output(values, rows, crossed)

    def transform(self, X: Any) -> np.ndarray:
        values = self._values(X)
        return self._output(values, self._rows(values))

    def _rows(self, values: np.ndarray) -> dict[Any, np.ndarray]:
        """Each looked-up column's (and the pair's) table row for every value."""
        rows = {}
        for j, keys in zip(self.looked_up_, self.keys_):
            rows[j] = _position(keys, values[:, j])
        if self.pair_ is not None:
            a, b = self.pair_
            rows["pair"] = _position(self.pair_keys_, self._pair_key(rows[a], rows[b]))
        return rows

    def _pair_key(self, row_a: np.ndarray, row_b: np.ndarray) -> np.ndarray:
        return row_a * self.pair_width_ + row_b

    def _coded(self, rows: Mapping[Any, np.ndarray]) -> np.ndarray:
        """The target-encoded columns as table rows: what the TargetEncoder sees."""
        return np.column_stack([rows[j] for j in self.target_columns_])

    def _fit(self, values: np.ndarray, y: Any, cross_fit: bool
             ) -> tuple[dict[Any, np.ndarray], np.ndarray | None]:
        if self.frequency not in ("all", "encoded"):
            raise ValueError(f"frequency must be 'all' or 'encoded', not {self.frequency!r}")
        width = values.shape[1]
        distinct = [np.unique(values[:, j], return_counts=True) for j in range(width)]
        allowed = range(width) if self.candidates is None else self.candidates
        codes = [] if self.task is None else [
            j for j in allowed if len(distinct[j][0]) >= self.min_distinct]
        if codes and y is None:
            raise ValueError("ValueStatistics with a task needs the target to fit")
        if codes and self.task != "regression" and _smallest_class(y) < FOLDS:
            codes = []  # some fold would lack a class, and sklearn's encoder fails there
        shares = list(range(width)) if self.frequency == "all" else list(codes)
        self.looked_up_ = sorted(set(shares) | set(codes))
        self.keys_ = [distinct[j][0] for j in self.looked_up_]
        self.pair_, self.pair_width_ = None, 0
        if self.integers and len(codes) >= 2:
            self.pair_ = tuple(sorted(sorted(codes, key=lambda j: -len(distinct[j][0]))[:2]))
            # the second column's table rows, its unseen row included: key = row_a * width + row_b
            self.pair_width_ = len(distinct[self.pair_[1]][0]) + 1
        rows = {j: _position(keys, values[:, j]) for j, keys in zip(self.looked_up_, self.keys_)}
        if self.pair_ is not None:
            key = self._pair_key(rows[self.pair_[0]], rows[self.pair_[1]])
            self.pair_keys_ = np.unique(key)
            rows["pair"] = _position(self.pair_keys_, key)
        self.target_columns_ = list(codes) + (["pair"] if self.pair_ is not None else [])
        self.share_columns_ = shares + (["pair"] if self.pair_ is not None else [])
        self.target_, crossed = None, None
        if codes:
            self.target_ = _target_encoder(self.task, self.seed, y)
            if cross_fit:  # encodings_ come from all rows either way
                crossed = np.asarray(self.target_.fit_transform(self._coded(rows), y),
                                     dtype=np.float32)
            else:
                self.target_.fit(self._coded(rows), y)
        self.n_targets_ = (0 if self.target_ is None
                           else len(self.target_.encodings_) // len(self.target_columns_))
        self.tables_ = {j: self._table(j, rows[j], len(values))
                        for j in self.looked_up_ + (["pair"] if self.pair_ is not None else [])}
        self.n_features_out_ = (width * self.integers + len(self.share_columns_)
                                + len(self.target_columns_) * self.n_targets_)
        return rows, crossed

    def _table(self, j: Any, rows: np.ndarray, n_rows: int) -> np.ndarray:
        """Rows per value (and a last row for unseen values): [share?, target means...]."""
        size = (len(self.pair_keys_) if j == "pair" else
                len(self.keys_[self.looked_up_.index(j)])) + 1
        columns = []
        if j in self.share_columns_:
            counts = np.bincount(rows, minlength=size).astype(np.float64)
            # a value never seen counts as the rarest one seen: a share of 0 lies outside the
            # training range, and a scaled linear model would answer it with certainty
            seen = counts[:-1][counts[:-1] > 0]
            counts[-1] = seen.min() if len(seen) else 0.0
            columns.append(counts / n_rows)
        if j in self.target_columns_:
            i = self.target_columns_.index(j)
            means = np.atleast_1d(self.target_.target_mean_)
            for k in range(self.n_targets_):  # sklearn orders them column by column, then class
                table = np.full(size, means[k], dtype=np.float64)
                table[self.target_.categories_[i]] = self.target_.encodings_[
                    i * self.n_targets_ + k]
                columns.append(table)
        return np.column_stack(columns).astype(np.float32)

    def _output(self, values: np.ndarray, rows: Mapping[Any, np.ndarray],
                crossed: np.ndarray | None = None) -> np.ndarray:
        blocks = [values.astype(np.float32)] if self.integers else []
        for j in self.looked_up_ + (["pair"] if self.pair_ is not None else []):
            block = self.tables_[j][rows[j]]
            if crossed is not None and j in self.target_columns_:
                i, k = self.target_columns_.index(j), self.n_targets_
                block = block.copy()
                block[:, block.shape[1] - k:] = crossed[:, i * k:(i + 1) * k]
            blocks.append(block)
        return np.hstack(blocks).astype(np.float32)


def _position(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each value's index in the sorted ``keys``, or ``len(keys)`` when it is not a key."""
    at = np.searchsorted(keys, values).clip(0, max(len(keys) - 1, 0))
    found = (keys[at] == values) if len(keys) else np.zeros(len(values), dtype=bool)
    return np.where(found, at, len(keys)).astype(np.int64)


_TARGET_TYPES = {"binary": "binary", "multiclass": "multiclass", "regression": "continuous"}


FOLDS = 5  # cross-fitting folds of the target means


def _smallest_class(y: Any) -> int:
    return int(np.unique(np.asarray(y), return_counts=True)[1].min())


def _target_encoder(task: str, seed: int, y: Any) -> TargetEncoder:
    folds = (KFold if task == "regression" else StratifiedKFold)(FOLDS, shuffle=True,
                                                                 random_state=seed)
    kind = _TARGET_TYPES[task]
    if kind == "multiclass" and len(np.unique(np.asarray(y))) == 2:
        kind = "binary"  # a split whose training rows hold two of the classes
    return TargetEncoder(target_type=kind, cv=folds)


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
    # a column missing in every training row (its values all fell in the test split) is kept, as
    # 0, so that the graph and the model agree on the columns
    steps = [SimpleImputer(strategy="median", keep_empty_features=True)]
    steps += [StandardScaler()] if ctx.needs_scaling else []
    return make_pipeline(*steps)


def _integer(columns: list[str], ctx: FeatureContext) -> Any:
    declared = ctx.codes  # the user's list, else the name decides
    ids = tuple(j for j, name in enumerate(columns)
                if (name in declared if declared is not None else names_an_id(name)))
    # A column named like an id needs more values than a one-hot would hold to be worth a
    # lookup; a declared code is one whatever its count (a store number with 8 stores).
    least = 2 if declared is not None else MAX_CATEGORIES + 1
    values = ValueStatistics(ctx.task, least, integers=True, frequency="encoded",
                             seed=ctx.seed, candidates=ids)
    return make_pipeline(values, StandardScaler()) if ctx.needs_scaling else values


_ID_WORDS = frozenset({"id", "ids", "code", "sku"})


def names_an_id(name: str) -> bool:
    """Whether a column's name marks an identifier: a word ``id``, ``code`` or ``sku`` in
    snake, camel, spaced or upper case (``user_id``, ``ClothingID``, ``Clothing ID``,
    ``productId``, ``store code``), not ``paid`` or ``valid``. An integer column is a code, not
    a measurement, only when its name says so: ``balance`` or ``age`` have many values too.
    A user who knows better declares the codes (``fit_and_export(codes=[...])``)."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)
    return any(word.lower() in _ID_WORDS for word in words)


def _categorical(columns: list[str], ctx: FeatureContext) -> Any:
    statistics = ValueStatistics(ctx.task, MAX_CATEGORIES + 1, seed=ctx.seed)
    if ctx.needs_scaling:
        statistics = make_pipeline(statistics, StandardScaler())
    return FeatureUnion([("onehot", TopCategoryOneHot(MAX_CATEGORIES)),
                         ("statistics", statistics)])


def _datetime(columns: list[str], ctx: FeatureContext) -> Any:
    return make_pipeline(DatetimeFeatures(), StandardScaler()) if ctx.needs_scaling \
        else DatetimeFeatures()


def register_onnx() -> None:
    from automl_guide_plugins import _tabular_onnx  # skl2onnx only when exporting

    _tabular_onnx.register(ValueStatistics, TopCategoryOneHot, DatetimeFeatures)


@hookimpl
def automl_guide_register_features(register):
    common = {"register_onnx": register_onnx}
    register(FeatureSpec("numeric", frozenset({"numeric"}), _numeric, description=
                         "median imputation; standard scaling for models that need it", **common))
    register(FeatureSpec("integer", frozenset({"integer", "boolean"}), _integer, description=
                         "integers and booleans as floats; a code (declared, else named like an "
                         "id; 21+ values) also gets its values' frequency and cross-fitted "
                         "target mean, two codes a pair; scaled for models that need it",
                         **common))
    register(FeatureSpec("categorical", frozenset({"categorical", "text"}), _categorical,
                         description="one-hot of the 20 most frequent values (unseen ones "
                         "tolerated), frequency encoding, and a cross-fitted target mean for "
                         "columns with more values than the one-hot holds", **common))
    register(FeatureSpec("datetime", frozenset({"datetime"}), _datetime, description=
                         "days since epoch, weekday, hour, month, missing flag", **common))
