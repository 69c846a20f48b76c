"""Separate the target, infer the task, drop unusable columns (the splits: :mod:`splits`)."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .columns import ColumnInfo, holds_decimals, infer_kind, profile_columns, python_value
from .errors import DataError, did_you_mean

TASKS = ("binary", "multiclass", "regression")
MIN_ROWS = 20  # fewer cannot be split into training, validation and test rows


@dataclass(frozen=True)
class Dataset:
    """Feature columns and an encoded target: class indices ``0..K-1`` or float values."""

    features: pd.DataFrame
    y: np.ndarray
    task: str
    target: str
    columns: tuple[ColumnInfo, ...]
    classes: tuple[Any, ...] = ()
    dropped: tuple[tuple[str, str], ...] = ()
    codes: frozenset[str] | None = None  # ONNX names of integer columns declared codes
    rows: np.ndarray | None = None  # positions of the table's rows kept (those with a target)


def infer_task(y: pd.Series) -> str:
    """binary for two distinct values, multiclass for few labels, regression for numbers."""
    n_unique = y.nunique(dropna=True)
    if n_unique <= 2:
        return "binary"
    if pd.api.types.is_float_dtype(y.dtype) and not np.all(np.mod(y.dropna(), 1) == 0):
        return "regression"
    if pd.api.types.is_numeric_dtype(y.dtype) and not pd.api.types.is_bool_dtype(y.dtype):
        return "multiclass" if n_unique <= min(20, max(3, len(y) // 20)) else "regression"
    return "multiclass"


def prepare(frame: pd.DataFrame, target: str, task: str | None = None,
            codes: Sequence[str] | None = None) -> Dataset:
    """Validate the target, drop unusable columns (with a warning) and encode the labels.

    ``codes``: integer columns to encode as codes (by value: share and target mean) whatever
    their names; ``None`` leaves it to the feature plugins (the built-in one goes by name)."""
    if frame.columns.duplicated().any():
        dups = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise DataError(f"Duplicate column name(s) {', '.join(map(repr, dups))}; names must be "
                        "unique.")
    if target not in frame.columns:
        raise DataError(f"Target column {target!r} is not in the data"
                        f"{did_you_mean(target, frame.columns)}; columns are: "
                        f"{', '.join(map(repr, map(str, frame.columns[:20])))}.")
    if len(frame) == 0:
        raise DataError("The table has a header but no rows.")
    y_raw = frame[target]
    if y_raw.dtype == object and holds_decimals(y_raw.dropna()):  # Parquet's amounts (ratings)
        y_raw = pd.to_numeric(y_raw)  # labels as numbers, as from a CSV (Decimal('NaN'): missing)
    if y_raw.isna().all():
        raise DataError(f"Target column {target!r} has no values (all missing).")
    keep = y_raw.notna().to_numpy()
    if not keep.all():
        warnings.warn(f"Dropped {int((~keep).sum())} row(s) whose target {target!r} is missing.",
                      UserWarning, stacklevel=2)
    if y_raw.dtype == object:  # rows numbered before those without a target are dropped
        _check_one_value_per_row(target, y_raw)
    frame, y_raw = frame.loc[keep].reset_index(drop=True), y_raw[keep].reset_index(drop=True)
    if len(frame) < MIN_ROWS:
        raise DataError(f"The table has only {len(frame)} rows with a target; automl-guide needs "
                        f"at least {MIN_ROWS} to hold out test rows and validate.")
    task = task or infer_task(y_raw)
    if task not in TASKS:
        raise DataError(f"Unknown task {task!r}; choose one of {', '.join(TASKS)}.")
    y, classes = _encode_target(y_raw, task, target, np.flatnonzero(keep))
    if task != "regression":
        for value, count in zip(classes, np.bincount(y, minlength=len(classes))):
            if count == 1:
                warnings.warn(f"Class {value!r} has a single row: it cannot be both learnt and "
                              "tested; splits are not stratified.", UserWarning, stacklevel=2)
    features, dropped = _usable_features(frame.drop(columns=[target]), y_raw)
    columns = profile_columns(features)
    declared = None if codes is None else _checked_codes(codes, features, columns, target,
                                                         dropped)
    return Dataset(features, y, task, target, columns, classes, dropped, declared,
                   np.flatnonzero(keep))


def _checked_codes(codes: Sequence[str], features: pd.DataFrame, columns: Sequence[ColumnInfo],
                   target: str, dropped: Sequence[tuple[str, str]]) -> frozenset[str]:
    kinds = {c.name: c.kind for c in columns}
    why_dropped = dict(dropped)
    for name in codes:
        if name == target:
            raise DataError(f"codes: {name!r} is the target column.")
        if name in why_dropped:
            raise DataError(f"codes: column {name!r} was dropped ({why_dropped[name]}).")
        if name not in kinds:
            raise DataError(f"codes: no column {name!r}{did_you_mean(name, kinds)}; columns are: "
                            f"{', '.join(map(repr, list(kinds)[:20]))}.")
        if kinds[name] == "categorical":
            raise DataError(f"codes: column {name!r} holds strings, which are encoded by value "
                            "already; declare only integer columns.")
        if kinds[name] != "integer":
            more = ""
            if kinds[name] == "numeric" and features[name].dtype.kind in "iuf":
                values = features[name].dropna().to_numpy(dtype=float)
                if len(values) and np.all(values == np.round(values)):
                    more = (" (whole numbers stored as floats, as pandas reads integers with "
                            "missing values: fill the gaps, e.g. with -1, and make it int64)")
            raise DataError(f"codes: column {name!r} is {kinds[name]}, not integer{more}; "
                            "declare only integer columns.")
    onnx_names = {c.name: c.onnx_name for c in columns}
    return frozenset(onnx_names[name] for name in codes)


def _encode_target(y: pd.Series, task: str, target: str, rows: np.ndarray
                   ) -> tuple[np.ndarray, tuple[Any, ...]]:
    """The target as numbers (regression) or class indices, and the classes. ``rows``: each
    value's row in the table (rows without a target were dropped), for error messages."""
    if task == "regression":
        values = pd.to_numeric(y, errors="coerce")
        if values.isna().any():
            raise DataError(f"Target {target!r} must be numeric for regression; e.g. "
                            f"{y[values.isna()].iloc[0]!r} is not.")
        infinite = np.flatnonzero(np.isinf(values.to_numpy(np.float64)))
        if len(infinite):
            raise DataError(f"Target {target!r} is infinite in {len(infinite)} row(s) (row "
                            f"{rows[infinite[0]]}: {python_value(y.iloc[infinite[0]])!r}); a "
                            "regression needs finite values: drop those rows or cap them.")
        if values.nunique() < 2:
            raise DataError(f"Target {target!r} is constant; there is nothing to learn.")
        return values.to_numpy(np.float64), ()
    classes = tuple(sorted(y.unique(), key=lambda v: (str(type(v)), v)))
    if len(classes) < 2:
        raise DataError(f"Target {target!r} has a single class ({python_value(classes[0])!r}); "
                        "a classifier needs at least two.")
    alone = int((y.value_counts() == 1).sum())
    if len(classes) > 2 and alone > len(y) / 2:
        raise DataError(_not_classes(y, target, alone))
    if task == "binary" and len(classes) > 2:
        raise DataError(f"Target {target!r} has {len(classes)} classes; use task='multiclass'.")
    lookup = {c: i for i, c in enumerate(classes)}
    return y.map(lookup).to_numpy(np.int64), tuple(python_value(c) for c in classes)


def _not_classes(y: pd.Series, target: str, alone: int) -> str:
    """Why a target with more single-row classes than rows in the others is no classification."""
    what = (f"Target {target!r} has {y.nunique()} classes in {len(y)} rows, and {alone} rows are "
            "a class of their own: a classifier cannot learn a class from one row.")
    if pd.api.types.is_float_dtype(y.dtype):
        return f"{what} These are numbers (e.g. {python_value(y.iloc[0])!r}): use task='regression'."
    if pd.api.types.is_numeric_dtype(y.dtype) and not pd.api.types.is_bool_dtype(y.dtype):
        if y.nunique() == len(y):  # every row its own value: what an id column looks like
            return (f"{what} Every row has a value of its own, as ids do (e.g. "
                    f"{python_value(y.iloc[0])!r}): predict something else, or, if they are "
                    "amounts, use task='regression'.")
        return (f"{what} If they are amounts (e.g. {python_value(y.iloc[0])!r}), use "
                "task='regression'; if they are ids, predict something else.")
    text = y.astype(str).str.replace(r"[\s,$€£¥%]", "", regex=True)
    if pd.to_numeric(text, errors="coerce").notna().mean() > 0.9:
        return (f"{what} They look like numbers written as text (e.g. {y.iloc[0]!r}): make them "
                "numbers and use task='regression'.")
    return f"{what} Group the rare values, or predict something else."


def _check_one_value_per_row(name: str, series: pd.Series) -> None:
    nested = series.map(lambda v: isinstance(v, (list, tuple, set, dict, np.ndarray))).to_numpy()
    if nested.any():
        row = int(np.flatnonzero(nested)[0])
        raise DataError(f"Column {name!r} holds {type(series.iloc[row]).__name__}s (row {row}: "
                        f"{series.iloc[row]!r}); a column holds one number, text, date or "
                        "boolean per row: spread the items over columns or join them into text.")


def _usable_features(features: pd.DataFrame, target: pd.Series
                     ) -> tuple[pd.DataFrame, tuple[tuple[str, str], ...]]:
    dropped = []
    target_text = target.astype(str).to_numpy()
    for name in features.columns:
        series = features[name]
        if series.dtype == object:
            _check_one_value_per_row(str(name), series)
        n_unique = series.nunique(dropna=True)
        _warn_about_values(str(name), series)
        if series.isna().all():
            dropped.append((str(name), "all values are missing"))
        elif n_unique == 1 and not series.isna().any():
            dropped.append((str(name), "it holds a single value"))
        elif (len(series) >= 20 and n_unique == len(series)
              and not pd.api.types.is_float_dtype(series.dtype)
              and infer_kind(series) not in ("datetime", "text", "numeric")):
            # timestamps, reviews, durations (timedeltas, their text): not IDs
            dropped.append((str(name), "it looks like an ID (a distinct value in every row)"))
        elif series.notna().all() and np.array_equal(series.astype(str).to_numpy(), target_text):
            dropped.append((str(name), "it is identical to the target (a leak: it would not be "
                            "known when predicting)"))
    for name, reason in dropped:
        warnings.warn(f"Column {name!r} is not used: {reason}.", UserWarning, stacklevel=3)
    if not features.shape[1]:
        raise DataError(f"No feature columns: the table holds only the target {target.name!r}.")
    if len(dropped) == features.shape[1]:
        raise DataError("No usable feature columns: " + "; ".join(f"{n!r}: {r}" for n, r in dropped))
    return features.drop(columns=[n for n, _ in dropped]), tuple(dropped)


def _warn_about_values(name: str, series: pd.Series) -> None:
    """Go on, but say so: infinities (treated as missing) and text mixed with numbers."""
    values = None
    if pd.api.types.is_float_dtype(series.dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    elif series.dtype == object and holds_decimals(series.dropna()):  # Parquet's amounts
        values = pd.to_numeric(series, errors="coerce").to_numpy(np.float64, na_value=np.nan)
    if values is not None:
        n_inf = int((np.abs(values) > np.finfo(np.float32).max).sum())  # inf, or beyond float32
        if n_inf:
            warnings.warn(f"Column {name!r} has {n_inf} infinite value(s) (or beyond float32's "
                          "range, 3.4e38); they are treated as missing.", UserWarning,
                          stacklevel=4)
    elif series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
        values = series.dropna()
        numbers = pd.to_numeric(values, errors="coerce")
        n_numbers = int(numbers.notna().sum())
        if not n_numbers:
            return
        kind = infer_kind(series)
        if n_numbers < len(values):
            text = values[numbers.isna()].iloc[0]
            warnings.warn(f"Column {name!r} mixes numbers ({n_numbers} rows) and text (e.g. "
                          f"{text!r}); it is treated as {kind}.", UserWarning, stacklevel=4)
        elif (kind == "categorical" and all(isinstance(v, str) for v in values.iloc[:200])
              and values.str.contains(".", regex=False, na=False).any()):  # not "1001" codes
            text = values[values.str.contains(".", regex=False, na=False)].iloc[0]
            warnings.warn(f"Column {name!r} holds numbers written as text (e.g. {text!r}); it is "
                          "treated as categorical: make it numeric if it is an amount.",
                          UserWarning, stacklevel=4)
