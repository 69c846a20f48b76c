"""Raw columns: what kind each is, what it is called in ONNX, and how raw values are coerced.

Pure pandas and numpy, shared by training (the native pipeline's first step) and serving
(:mod:`automl_guide.predictor`), so both see exactly the same typed values: numeric columns as
float32 (durations, pandas timedeltas, as seconds), integer/boolean/datetime columns as int64
(datetimes as seconds since the epoch, a missing one as the smallest int64), categorical and
text columns as strings (a missing one as ``""``).
"""
from __future__ import annotations

import datetime
import decimal
import re
import warnings
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .errors import DataError, did_you_mean

ONNX_TYPES = {"numeric": "float", "integer": "int64", "boolean": "int64", "datetime": "int64",
              "categorical": "string", "text": "string"}
MISSING_DATETIME = np.iinfo(np.int64).min
RESERVED_NAMES = frozenset({"label", "probabilities", "value"})
_MAX_CARD_CATEGORIES = 50
EPOCH_SECONDS_LIMIT = 9.5e10  # a number in a datetime column beyond this is no date
SMALL_FRAME_ROWS = 32  # up to this many rows, coerce_arrays reads the frame in one piece
_TEXT_MIN_DISTINCT = 20
_TEXT_MIN_DISTINCT_SHARE = 0.2
_TEXT_MIN_WIDTH = 15
# pandas' own text for a timedelta (what DataFrame.to_csv writes): "3 days 04:05:06.5"
_DURATION = r"^-?\d+ days?( [+-]?\d{1,2}:\d{2}:\d{2}(\.\d+)?)?$"  # "1 days": whole days
_CJK = r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]"  # CJK, kana, Hangul, full-width


@dataclass(frozen=True)
class ColumnInfo:
    """One raw input column as the model sees it."""

    name: str
    onnx_name: str
    kind: str
    n_missing: int = 0
    categories: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    @property
    def onnx_type(self) -> str:
        return ONNX_TYPES[self.kind]

    def to_card(self) -> dict[str, Any]:
        card: dict[str, Any] = {"name": self.name, "onnx_name": self.onnx_name, "kind": self.kind,
                                "dtype": self.onnx_type, "missing_in_training": self.n_missing}
        if self.categories:
            card["categories"] = list(self.categories)
        if self.minimum is not None:
            card["range"] = [self.minimum, self.maximum]
        return card

    @classmethod
    def from_card(cls, entry: Mapping[str, Any]) -> "ColumnInfo":
        low, high = entry.get("range", [None, None])
        return cls(entry["name"], entry["onnx_name"], entry["kind"],
                   entry.get("missing_in_training", 0), tuple(entry.get("categories", ())),
                   low, high)


def string_names(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its column names as strings (a frame made from an array has 0, 1, ...),
    as the ONNX graph, the card and the schema name columns; names that become equal (1 and
    '1') are refused by name."""
    if all(isinstance(c, str) for c in frame.columns):
        return frame
    names = [str(c) for c in frame.columns]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DataError(f"Column names {', '.join(map(repr, twice))} are the same once made "
                        "strings (1 and '1', say); rename the columns.")
    return frame.set_axis(names, axis=1)


def python_value(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (for JSON, pandera checks, class labels);
    anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def onnx_names(names: Sequence[str]) -> list[str]:
    """Graph input names for raw column names.

    skl2onnx rewrites names with characters outside ``\\w``; doing it here, once, lets the model
    card record the mapping. Names that collide after rewriting, or with an output name, get a
    numeric suffix.
    """
    taken: set[str] = set(RESERVED_NAMES)
    result = []
    for name in names:
        base = re.sub(r"\W", "_", str(name)) or "column"
        if base[0].isdigit():
            base = f"c_{base}"
        candidate, k = base, 1
        while candidate in taken:
            k += 1
            candidate = f"{base}_{k}"
        taken.add(candidate)
        result.append(candidate)
    return result


def infer_kind(series: pd.Series) -> str:
    """The column kind of a training column."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean" if not series.isna().any() else "categorical"
    if pd.api.types.is_integer_dtype(dtype):
        if series.isna().any() or (pd.api.types.is_unsigned_integer_dtype(dtype) and len(series)
                                   and series.max() > np.iinfo(np.int64).max):
            return "numeric"  # a float: missing values, or beyond int64 (uint64 hashes)
        return "integer"
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return "numeric"  # a duration (timedelta) is a number of seconds
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    values = series.dropna()
    if len(values) and holds_decimals(values):  # Parquet's decimal128: amounts
        return "numeric"
    if len(values) and all(isinstance(v, datetime.date) for v in values.iloc[:200]):
        return "datetime"  # Parquet's date32 (datetime.date objects), and datetimes
    if len(values) and _looks_like_durations(values):
        return "numeric"
    if len(values) and _looks_like_datetimes(values):
        return "datetime"
    if len(values) and _looks_like_text(values):
        return "text"
    return "categorical"


def holds_decimals(values: pd.Series) -> bool:
    """Decimals, with perhaps plain numbers among them (a gap filled with 0.0), no booleans."""
    sample = values.iloc[:200]
    return (any(isinstance(v, decimal.Decimal) for v in sample)
            and all(isinstance(v, (decimal.Decimal, int, float, np.integer, np.floating))
                    and not isinstance(v, (bool, np.bool_)) for v in sample))


def _looks_like_durations(values: pd.Series) -> bool:
    sample = values.iloc[:200]
    return (all(isinstance(v, str) for v in sample)
            and bool(sample.str.match(_DURATION).all()))


def _looks_like_datetimes(values: pd.Series) -> bool:
    sample = values.iloc[:200]
    if not all(isinstance(v, str) for v in sample):
        return False
    if not sample.str.contains(r"^\d{4}-\d{1,2}-\d{1,2}|^\d{1,2}/\d{1,2}/\d{4}", regex=True).all():
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().all())


def _looks_like_text(values: pd.Series) -> bool:
    """Free text (reviews, queries, titles), not codes: strings, mostly distinct, most of them
    several words (or several CJK characters, which need no spaces), and long on average. IDs,
    e-mails and URLs have no spaces, so they stay categorical (and are dropped if all distinct)."""
    sample = values.iloc[:2000]
    if not all(isinstance(v, str) for v in sample):
        return False
    n_distinct = values.nunique()
    if n_distinct < _TEXT_MIN_DISTINCT or n_distinct < _TEXT_MIN_DISTINCT_SHARE * len(values):
        return False
    wordy = sample.str.contains(r"\S\s+\S", regex=True) | (sample.str.count(_CJK) >= 4)
    width = sample.str.len() + sample.str.count(_CJK)  # a CJK character is as wide as two
    return bool(wordy.mean() >= 0.5 and width.mean() >= _TEXT_MIN_WIDTH)


def profile_columns(frame: pd.DataFrame) -> tuple[ColumnInfo, ...]:
    """Kinds, ONNX names and training statistics of the feature columns of ``frame``."""
    names = [str(c) for c in frame.columns]
    infos = []
    for name, onnx_name in zip(names, onnx_names(names)):
        series = frame[name]
        kind = infer_kind(series)
        typed = coerce_column(series, ColumnInfo(name, onnx_name, kind))
        infos.append(_with_stats(ColumnInfo(name, onnx_name, kind), typed))
    return tuple(infos)


def _with_stats(info: ColumnInfo, typed: np.ndarray) -> ColumnInfo:
    n_missing = int(missing_mask(typed, info.kind).sum())  # as the model sees it: "" and inf too
    if info.kind == "text":  # reviews are neither categories nor something for the card
        return ColumnInfo(info.name, info.onnx_name, info.kind, n_missing)
    if info.onnx_type == "string":
        top = pd.Series(typed).value_counts().index[:_MAX_CARD_CATEGORIES]
        return ColumnInfo(info.name, info.onnx_name, info.kind, n_missing, tuple(map(str, top)))
    valid = typed[typed != MISSING_DATETIME] if info.kind == "datetime" else typed
    valid = valid[~np.isnan(valid)] if valid.dtype.kind == "f" else valid
    if not len(valid):
        return ColumnInfo(info.name, info.onnx_name, info.kind, n_missing)
    return ColumnInfo(info.name, info.onnx_name, info.kind, n_missing,
                      minimum=float(valid.min()), maximum=float(valid.max()))


def missing_mask(typed: np.ndarray, kind: str) -> np.ndarray:
    """Which typed values are missing: NaN, the smallest int64 for a datetime, ``""``."""
    if typed.dtype.kind == "f":
        return np.isnan(typed)
    if typed.dtype.kind in "iu":
        return typed == MISSING_DATETIME if kind == "datetime" else np.zeros(len(typed), bool)
    return typed == ""


def count_missing(typed: np.ndarray, kind: str) -> int:
    """How many typed values are missing, as :func:`missing_mask` says; a few rows (a service's
    request) are counted in Python, which is faster there than a numpy round trip."""
    if len(typed) > SMALL_FRAME_ROWS:
        return int(missing_mask(typed, kind).sum())
    listed = typed.tolist()
    if typed.dtype.kind == "f":
        return sum(v != v for v in listed)
    if typed.dtype.kind in "iu":
        return listed.count(MISSING_DATETIME) if kind == "datetime" else 0
    return listed.count("")


def coerce_column(series: pd.Series, info: ColumnInfo) -> np.ndarray:
    """Raw values of one column as the typed 1-D array the model takes; bad values raise. A
    number in a datetime column is seconds since the epoch, what the graph takes (pandas would
    read nanoseconds); text and datetimes are parsed as dates."""
    string = ONNX_TYPES.get(info.kind, "string") == "string"
    if string or isinstance(series.dtype, np.dtype):
        plain = _coerce_plain(series.to_numpy(dtype=object) if string else series.to_numpy(),
                              series.dtype, info)
        if plain is not None:
            return plain
    kind = info.kind
    if kind == "numeric":
        return _floats(_to_numbers(series, info))
    if kind == "boolean":
        values = (series.to_numpy(dtype=np.float64, na_value=np.nan)
                  if pd.api.types.is_bool_dtype(series.dtype)
                  else pd.to_numeric(series.map(_bool_to_int).astype(object), errors="coerce")
                  .to_numpy(dtype=np.float64, na_value=np.nan))
        bad = ~np.isin(values, (0.0, 1.0))
        if bad.any():
            _fail(info, series, bad, "needs true or false (or 1/0, yes/no) without missing values, "
                  "as in training")
        return values.astype(np.int64)
    if kind == "integer":
        exact = _whole_numbers(series, info)
        if exact is not None:
            return exact
        values = _to_numbers(series, info)
        bad = np.isnan(values) | (values != np.round(values))
        if bad.any():
            _fail(info, series, bad, "needs whole numbers without missing values (it had none "
                  "in training)")
        huge = ~(np.abs(values) < 2.0**63)  # would wrap to another number in int64
        if huge.any():
            _fail(info, series, huge, "needs whole numbers that fit in 64 bits (below 9.2e18)")
        return values.astype(np.int64)
    if kind == "datetime":
        if series.dtype.kind in "iuf":
            numeric = np.ones(len(series), dtype=bool)
        elif series.dtype == object:
            numeric = series.map(lambda v: isinstance(v, (int, float, np.integer, np.floating))
                                 and not isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)
        else:  # datetimes, strings
            numeric = np.zeros(len(series), dtype=bool)
        text = series.where(~numeric) if numeric.any() else series
        parsed = pd.to_datetime(text, errors="coerce", utc=True, format="mixed")
        bad = parsed.isna().to_numpy() & text.notna().to_numpy()
        if bad.any():
            _fail(info, series, bad, "needs dates or datetimes (or seconds since the epoch)")
        seconds = parsed.dt.tz_localize(None).to_numpy().astype("datetime64[s]").astype(np.int64)
        if numeric.any():
            numbers = pd.to_numeric(series.where(numeric), errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan)
            beyond = np.abs(numbers) > EPOCH_SECONDS_LIMIT  # inf too; NaN is missing
            if beyond.any():
                _fail(info, series, beyond, "needs dates or datetimes (or seconds since the "
                      "epoch, within about 3,000 years of 1970)")
            given = numeric & np.isfinite(numbers)
            whole = np.floor(np.where(given, numbers, 0.0)).astype(np.int64)
            seconds = np.where(given, whole, seconds)
        return seconds
    text = series.astype(object)  # not all strings (_coerce_plain takes those): missing, numbers
    return np.where(text.isna().to_numpy(), "", text.astype(str).to_numpy()).astype(object)


def _floats(values: np.ndarray) -> np.ndarray:
    """float32, with infinities missing: those given, and those float32 cannot hold (1e300)."""
    with np.errstate(over="ignore"):
        out = np.asarray(values, dtype=np.float64).astype(np.float32)
    out[np.isinf(out)] = np.nan
    return out


def _coerce_plain(values: np.ndarray, dtype: Any, info: ColumnInfo) -> np.ndarray | None:
    """:func:`coerce_column` for the usual request, from the column's values and its dtype:
    numbers in a numeric column, whole numbers in an integer one, strings (none missing) in a
    string one. None for anything else, which :func:`coerce_column` then takes as a Series."""
    kind = info.kind
    numpy = isinstance(dtype, np.dtype)
    if kind == "numeric" and numpy and dtype.kind in "iuf":
        return _floats(values.astype(np.float64))
    if kind == "integer" and numpy and (dtype.kind == "i"
                                        or dtype.kind == "u" and dtype.itemsize < 8):
        return values.astype(np.int64)
    if ONNX_TYPES.get(kind, "string") == "string" and all(type(v) is str for v in values):
        return np.ascontiguousarray(values, dtype=object)
    return None


def _small_frame_values(frame: pd.DataFrame) -> dict[str, tuple[np.ndarray, Any]] | None:
    """Each column's values and dtype, from ONE object array of the whole frame: for a request
    of a few rows this is faster than a Series per column (see docs/benchmarks.md). None when
    column names repeat."""
    if not frame.columns.is_unique:
        return None
    table = frame.to_numpy(dtype=object)
    return {str(name): (table[:, j], dtype)
            for j, (name, dtype) in enumerate(zip(frame.columns, frame.dtypes))}


def _bool_to_int(value: Any) -> Any:
    lookup = {"true": 1, "false": 0, "yes": 1, "no": 0}
    if isinstance(value, str):
        return lookup.get(value.strip().lower(), value)
    return value


def _whole_numbers(series: pd.Series, info: ColumnInfo) -> np.ndarray | None:
    """An integer column's values as int64 without going through float64 (which holds whole
    numbers exactly only up to 2**53: 2**53 + 1 became 2**53), when they are integers already
    or text of integers; None for anything else (decimals, dates), which takes the float
    path and its errors."""
    text = series.dtype == object or isinstance(series.dtype, pd.StringDtype)
    numbers = pd.to_numeric(series, errors="coerce") if text else series
    if not pd.api.types.is_integer_dtype(numbers.dtype):  # booleans are not integers here
        return None
    missing = numbers.isna().to_numpy()
    if missing.any():
        _fail(info, series, missing, "needs whole numbers without missing values (it had none "
              "in training)")
    if pd.api.types.is_unsigned_integer_dtype(numbers.dtype):
        huge = numbers.to_numpy(dtype=np.uint64) > np.iinfo(np.int64).max
        if huge.any():
            _fail(info, series, huge, "needs whole numbers that fit in 64 bits (below 9.2e18)")
    return numbers.to_numpy(dtype=np.int64)


def _to_numbers(series: pd.Series, info: ColumnInfo) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype(np.float64).to_numpy()
    if series.dtype.kind in "iuf":  # already numbers
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    if pd.api.types.is_timedelta64_dtype(series.dtype):  # durations: seconds
        return series.dt.total_seconds().to_numpy(dtype=np.float64, na_value=np.nan)
    numbers = pd.to_numeric(series, errors="coerce")
    bad = numbers.isna().to_numpy() & series.notna().to_numpy()
    spans = np.flatnonzero(bad)[series[bad].map(  # durations as text ("2 days"): seconds
        lambda v: isinstance(v, str) and re.match(_DURATION, v) is not None).to_numpy(bool)]
    if len(spans):
        numbers = numbers.astype(np.float64)
        seconds = pd.to_timedelta(series.iloc[spans], errors="coerce").dt.total_seconds()
        numbers.iloc[spans] = seconds.to_numpy()
        bad[spans[seconds.notna().to_numpy()]] = False  # beyond pandas' range stays bad
    if bad.any():
        _fail(info, series, bad, f"needs numbers ({info.kind} in training)")
    return numbers.to_numpy(dtype=np.float64, na_value=np.nan)


def _fail(info: ColumnInfo, series: pd.Series, bad: np.ndarray, need: str) -> None:
    rows = np.flatnonzero(bad)
    shown = ", ".join(f"row {r}: {python_value(series.iloc[r])!r}" for r in rows[:5])
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    raise DataError(f"Column {info.name!r} {need}, but {len(rows)} value(s) do not fit: "
                    f"{shown}{more}.")


def check_columns_present(frame: pd.DataFrame, columns: Iterable[ColumnInfo]) -> None:
    names = {str(c) for c in frame.columns}
    columns = list(columns)
    if not frame.columns.is_unique:
        all_names = [str(c) for c in frame.columns]
        twice = [c.name for c in columns if all_names.count(c.name) > 1]
        if twice:
            raise DataError(f"Column(s) {', '.join(map(repr, twice))} appear more than once; "
                            "the model takes each once.")
    missing = [c.name for c in columns if c.name not in names]
    if missing:
        extra = sorted(names - {c.name for c in columns})
        hint = f" The data has other columns: {', '.join(map(repr, extra[:10]))}." if extra else ""
        named = ", ".join(f"{name!r}{did_you_mean(name, extra)}" for name in missing)
        raise DataError(f"Missing column(s) {named} that the model needs.{hint} Rename them "
                        "back or refit the model.")


def coerce_frame(frame: pd.DataFrame, columns: Sequence[ColumnInfo],
                 by: str = "onnx_name") -> pd.DataFrame:
    """The typed frame that the feature transformers take, columns named by their ONNX names
    (``by="name"``: by their raw names). Every column is checked before any error is raised, so
    one error names every column whose values do not fit."""
    return pd.DataFrame(coerce_arrays(frame, columns, by), index=range(len(frame)))


def coerce_arrays(frame: pd.DataFrame, columns: Sequence[ColumnInfo],
                  by: str = "onnx_name") -> dict[str, np.ndarray]:
    """:func:`coerce_frame` as a dict of 1-D arrays (what scoring needs, without building a
    frame)."""
    check_columns_present(frame, columns)
    frame = string_names(frame)
    data, problems = {}, []
    small = _small_frame_values(frame) if len(frame) <= SMALL_FRAME_ROWS else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pandas' per-element date parsing note
        for c in columns:
            try:
                plain = None if small is None or c.name not in small else _coerce_plain(
                    *small[c.name], c)
                data[getattr(c, by)] = plain if plain is not None else coerce_column(
                    frame[c.name], c)
            except DataError as exc:
                problems.append(str(exc))
    if len(problems) == 1:
        raise DataError(problems[0])
    if problems:
        raise DataError(f"{len(problems)} columns have values the model cannot take:\n  - "
                        + "\n  - ".join(problems))
    return data


def onnx_feeds(frame: pd.DataFrame, columns: Sequence[ColumnInfo]) -> dict[str, np.ndarray]:
    """onnxruntime inputs (``[N, 1]`` per column) for a raw frame."""
    typed = coerce_frame(frame, columns)
    return {c.onnx_name: typed[c.onnx_name].to_numpy().reshape(-1, 1) for c in columns}
