"""Serving: an exported model behind onnxruntime, with its inputs checked against the card and
the training data's schema.

Needs only onnxruntime, numpy, pandas and pandera; nothing is unpickled, so loading a model file
runs no code from it (the card and the schema are JSON in the graph's metadata).
"""
from __future__ import annotations

import calendar
import datetime as dt
import json
import math
import re
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from .columns import (EPOCH_SECONDS_LIMIT, MISSING_DATETIME, ColumnInfo, coerce_arrays,
                      count_missing)
from .errors import DataError, DriftWarning

WHOLE_KINDS = ("integer", "boolean")  # int64 inputs: no missing value, no fill value
# what the graph does with a missing value, by column kind (see the feature plugins)
FILLS = {"numeric": "as the training median (the graph's imputer)",
         "datetime": "as the training median date (and its missing flag)",
         "categorical": "as a category never seen", "text": "as empty text"}
INT_CELL_LIMIT = 9_223_372_036_854_000_000  # |integer cell| at most: just inside int64


def no_fill_value(names: Sequence[str]) -> str:
    """Why a missing value in these integer or boolean columns is an error, and what to do."""
    shown = ", ".join(map(repr, names))
    return (f"The model takes {shown} as whole numbers or true/false (int64 inputs, which hold "
            "no missing value) and has no fill value there, since training had no gaps: fill "
            "those rows, or refit on data with gaps in such a column (it is then taken as "
            "numbers or categories that may be missing).")


class Predictor:
    """An ONNX model and its card. ``predict`` answers labels (classification) or values."""

    def __init__(self, model_bytes: bytes, source: str = "<bytes>", strict: bool = False,
                 threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(model_bytes, options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # a corrupt or foreign file
            raise DataError(f"{source} is not a usable ONNX model: {exc}") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if "model_card" not in meta:
            raise DataError(f"{source} has no automl-guide model card in its metadata.")
        card = json.loads(meta["model_card"])
        self.card = card
        self.task: str = card["task"]
        self.columns = tuple(ColumnInfo.from_card(entry) for entry in card["inputs"])
        self.classes = list(card.get("class_labels", []))
        self.strict = strict
        self._schema_json = meta.get("data_schema")
        self._schema = None
        self._input_check = None
        self._drifted: set[str] = set()  # columns already warned about
        # columns that can be missing but were not in training (integers and booleans cannot)
        self._never_missing = [c for c in self.columns
                               if not c.n_missing and c.kind not in WHOLE_KINDS]
        self._outputs = [o.name for o in self.session.get_outputs()]
        self._source, self._model_bytes, self._threads = source, model_bytes, threads

    def __reduce__(self):  # an onnxruntime session does not pickle: rebuilt from the bytes
        return type(self), (self._model_bytes, self._source, self.strict, self._threads)

    @property
    def schema(self):
        """The training data's pandera schema (None for a model exported without one)."""
        if self._schema is None and self._schema_json:
            from .schema import from_json

            self._schema = from_json(self._schema_json)
        return self._schema

    def takes_missing(self, column: ColumnInfo) -> bool:
        """Whether a missing value in ``column`` is scored: the graph fills it (a number with
        the training median of its imputer, a date with the training median and its missing
        flag, a category or text as one never seen). Integer and boolean columns are
        int64 inputs, which hold no missing value and have no fill value in the graph: they
        had no gaps in training (a column with gaps is a float or a category). With
        ``strict``, only columns that had gaps in training."""
        if column.kind in WHOLE_KINDS:
            return False
        return bool(column.n_missing) or not self.strict

    def check(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The typed frame for ``frame``, after every check: missing columns and values the model
        cannot take raise :class:`DataError` naming each column; drift from the training data
        warns once (:class:`DriftWarning`), or raises when ``strict``."""
        typed = self.typed(frame)
        self._check_typed(typed, stacklevel=3)
        return pd.DataFrame(typed, index=range(len(frame)))

    def typed(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """The graph's inputs (1-D, by ONNX name) for a raw frame; a column or value the model
        cannot take raises :class:`DataError` naming each column at fault."""
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"Expected a pandas DataFrame, got {type(frame).__name__}.")
        if len(frame) == 0:
            raise DataError("No rows to predict.")
        try:
            return coerce_arrays(frame, self.columns)
        except DataError as exc:
            gaps = [c.name for c in self.columns if c.kind in WHOLE_KINDS
                    and c.name in frame.columns and bool(frame[c.name].isna().to_numpy().any())]
            if not gaps:
                raise
            raise DataError(f"{exc} {no_fill_value(gaps)}") from None

    def typed_records(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray] | None:
        """The graph's inputs for JSON records (``[{column: value}, ...]``), read without a
        DataFrame when every value has its column's plain JSON type: a number (not true or
        false) for numeric columns, an integer for integer ones, true or false for booleans,
        a string for categories and text, an ISO 8601 string or a number of epoch seconds for
        datetimes, and null or no key where :meth:`takes_missing`. The arrays are those
        :meth:`typed` makes of the same rows. None for anything else (text in a number column,
        a missing value the model cannot take): :meth:`typed` then reads what it can and names
        what it cannot."""
        typed = {}
        for column in self.columns:
            read, values = READERS.get(column.kind), [row.get(column.name) for row in rows]
            array = None if read is None else read(values, self.takes_missing(column))
            if array is None:
                return None
            typed[column.onnx_name] = array
        return typed

    def outputs(self, typed: Mapping[str, np.ndarray], stacklevel: int = 3
                ) -> dict[str, np.ndarray]:
        """The graph's outputs for its inputs (from :meth:`typed` or :meth:`typed_records`),
        after the schema and drift checks: ``probabilities`` (classification) or ``value``."""
        self._check_typed(typed, stacklevel)
        feeds = {name: values.reshape(-1, 1) for name, values in typed.items()}
        return dict(zip(self._outputs, self.session.run(self._outputs, feeds)))

    def _check_typed(self, typed: Mapping[str, np.ndarray], stacklevel: int) -> None:
        """Schema and drift checks of the typed inputs, as :meth:`check` says."""
        if self.schema is None:
            return
        if self._input_check is None:
            from .schema import InputCheck

            self._input_check = InputCheck(self.schema)  # compiled once per model
        by_name = {c.name: typed[c.onnx_name] for c in self.columns}
        notes = self._input_check(by_name)
        missing = self._missing(by_name)
        for column, note in missing.items():  # the card knows of these
            notes[column] = f"{notes[column]}; {note}" if column in notes else note
        if notes and self.strict:
            from .schema import strict_error

            raise strict_error(notes)
        new = [column for column in notes if column not in self._drifted]
        if new:  # once per column and loaded model, not on every request
            import warnings

            self._drifted.update(notes)
            filled = [self._fill_note(c) for c in self.columns if c.name in missing
                      and c.name in new]
            warnings.warn("Scored rows differ from the training data (accepted; use strict "
                          "mode to refuse them; not repeated for these columns): "
                          + "; ".join(notes[column] for column in new)
                          + (f". Predicted with the model's fill value: {', '.join(filled)}."
                             if filled else ""), DriftWarning, stacklevel=stacklevel)

    def _missing(self, typed: Mapping[str, np.ndarray]) -> dict[str, str]:
        """Notes for columns with missing values where training had none (the graph fills
        them: :meth:`takes_missing`)."""
        notes = {}
        for c in self._never_missing:
            values = typed.get(c.name)
            missing = 0 if values is None else count_missing(values, c.kind)
            if missing:
                notes[c.name] = f"{c.name!r}: {missing} row(s) missing, none were in training"
        return notes

    @staticmethod
    def _fill_note(column: ColumnInfo) -> str:
        return f"{column.name!r} {FILLS.get(column.kind, FILLS['categorical'])}"

    def _run(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        return self.outputs(self.typed(frame), stacklevel=5)  # warns at predict's caller

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Class labels (as in the training data) or regression values, one per row."""
        out = self._run(frame)
        if self.task == "regression":
            return out["value"]
        return np.asarray(self.classes, dtype=object)[out["probabilities"].argmax(axis=1)]

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes``."""
        if self.task == "regression":
            raise DataError("predict_proba is for classification models; this one is regression.")
        return self._run(frame)["probabilities"]

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Predictions as a DataFrame: ``prediction`` plus one ``proba_<class>`` column each."""
        out = self._run(frame)
        if self.task == "regression":
            return pd.DataFrame({"prediction": out["value"]}, index=frame.index)
        proba = out["probabilities"]
        result = {"prediction": np.asarray(self.classes, dtype=object)[proba.argmax(axis=1)]}
        result.update({f"proba_{c}": proba[:, i] for i, c in enumerate(self.classes)})
        return pd.DataFrame(result, index=frame.index)


# Readers of one column's JSON values for Predictor.typed_records: the typed array, or None when
# a value is not of the column's plain JSON type (``missing_ok``: None may stand for missing).
def _read_numbers(values: list, missing_ok: bool) -> np.ndarray | None:
    if not all(type(v) in (float, int) or (v is None and missing_ok) for v in values):
        return None
    try:
        floats = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    except OverflowError:  # an integer beyond any float
        return None
    with np.errstate(over="ignore"):
        out = floats.astype(np.float32)
    out[np.isinf(out)] = np.nan  # as in training: infinities, and what float32 cannot hold
    return out


def _read_integers(values: list, missing_ok: bool) -> np.ndarray | None:
    if all(type(v) is int and -INT_CELL_LIMIT <= v <= INT_CELL_LIMIT for v in values):
        return np.array(values, dtype=np.int64)
    return None


def _read_booleans(values: list, missing_ok: bool) -> np.ndarray | None:
    return np.array(values, dtype=np.int64) if all(type(v) is bool for v in values) else None


def _read_strings(values: list, missing_ok: bool) -> np.ndarray | None:
    if not all(type(v) is str or (v is None and missing_ok) for v in values):
        return None
    return np.array(["" if v is None else v for v in values], dtype=object)


_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?"
                  r"(?:Z|[+-]\d{2}:\d{2})?)?")


def _read_datetimes(values: list, missing_ok: bool) -> np.ndarray | None:
    seconds = []
    for v in values:
        if v is None and missing_ok:
            seconds.append(MISSING_DATETIME)
        elif type(v) is str:
            read = _iso_seconds(v)
            if read is None:
                return None
            seconds.append(read)
        elif type(v) in (int, float) and math.isfinite(v) and abs(v) <= EPOCH_SECONDS_LIMIT:
            seconds.append(math.floor(v))  # seconds since the epoch, as the graph takes them
        else:
            return None
    return np.array(seconds, dtype=np.int64)


def _iso_seconds(text: str) -> int | None:
    """Whole seconds since the epoch (UTC; a fraction floored) of plain ISO 8601 text, as
    pandas reads it; None for any other text, which pandas then reads."""
    if not _ISO.fullmatch(text):
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return calendar.timegm(when.utctimetuple() if when.tzinfo else when.timetuple())


READERS: dict[str, Callable[[list, bool], np.ndarray | None]] = {
    "numeric": _read_numbers, "integer": _read_integers, "boolean": _read_booleans,
    "datetime": _read_datetimes, "categorical": _read_strings, "text": _read_strings}


def load(path: str | Path, strict: bool = False, threads: int | None = None) -> Predictor:
    """Load ``model.onnx`` (or a run directory holding it) with its embedded model card and
    schema; ``strict`` refuses rows with categories or ranges unseen in training, and missing
    values where training had none; ``threads``: onnxruntime's threads per call (None: one per
    core; the service uses 1, and a process per core with ``--workers``)."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.onnx"
    if not path.is_file():
        raise DataError(f"No model file at {path}.")
    return Predictor(path.read_bytes(), str(path), strict, threads)
