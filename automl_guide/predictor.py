"""Serving: an exported model behind onnxruntime, with its inputs checked against the card and
the training data's schema.

Needs only onnxruntime, numpy, pandas and pandera; nothing is unpickled, so loading a model file
runs no code from it (the card and the schema are JSON in the graph's metadata).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .columns import ColumnInfo, coerce_arrays, count_missing
from .errors import DataError, DriftWarning


class Predictor:
    """An ONNX model and its card. ``predict`` answers labels (classification) or values."""

    def __init__(self, model_bytes: bytes, source: str = "<bytes>", strict: bool = False):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
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
        self._never_missing = [c for c in self.columns if not c.n_missing
                               and (c.onnx_type != "int64" or c.kind == "datetime")]
        self._outputs = [o.name for o in self.session.get_outputs()]
        self._source, self._model_bytes = source, model_bytes

    def __reduce__(self):  # an onnxruntime session does not pickle: rebuilt from the bytes
        return type(self), (self._model_bytes, self._source, self.strict)

    @property
    def schema(self):
        """The training data's pandera schema (None for a model exported without one)."""
        if self._schema is None and self._schema_json:
            from .schema import from_json

            self._schema = from_json(self._schema_json)
        return self._schema

    def check(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The typed frame for ``frame``, after every check: missing columns and values the model
        cannot take raise :class:`DataError` naming each column; drift from the training data
        warns once (:class:`DriftWarning`), or raises when ``strict``."""
        return pd.DataFrame(self._checked(frame, stacklevel=3), index=range(len(frame)))

    def _checked(self, frame: pd.DataFrame, stacklevel: int = 4) -> dict[str, np.ndarray]:
        """The typed columns by ONNX name, checked as :meth:`check` says."""
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"Expected a pandas DataFrame, got {type(frame).__name__}.")
        if len(frame) == 0:
            raise DataError("No rows to predict.")
        arrays = coerce_arrays(frame, self.columns)
        if self.schema is not None:
            if self._input_check is None:
                from .schema import InputCheck

                self._input_check = InputCheck(self.schema)  # compiled once per model
            by_name = {c.name: arrays[c.onnx_name] for c in self.columns}
            notes = self._input_check(by_name)
            for column, note in self._missing(by_name).items():  # the card knows of these
                notes[column] = f"{notes[column]}; {note}" if column in notes else note
            if notes and self.strict:
                from .schema import strict_error

                raise strict_error(notes)
            new = [note for column, note in notes.items() if column not in self._drifted]
            if new:  # once per column and loaded model, not on every request
                import warnings

                self._drifted.update(notes)
                warnings.warn("Scored rows differ from the training data (accepted; use "
                              "strict mode to refuse them; not repeated for these columns): "
                              + "; ".join(new), DriftWarning, stacklevel=stacklevel)
        return arrays

    def _missing(self, typed: dict[str, np.ndarray]) -> dict[str, str]:
        """Notes for columns with missing values where training had none (they are imputed or
        read as a value never seen, which the model never learnt from)."""
        notes = {}
        for c in self._never_missing:
            values = typed.get(c.name)
            missing = 0 if values is None else count_missing(values, c.kind)
            if missing:
                notes[c.name] = f"{c.name!r}: {missing} row(s) missing, none were in training"
        return notes

    def _run(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        feeds = {name: values.reshape(-1, 1) for name, values in self._checked(frame).items()}
        return dict(zip(self._outputs, self.session.run(self._outputs, feeds)))

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


def load(path: str | Path, strict: bool = False) -> Predictor:
    """Load ``model.onnx`` (or a run directory holding it) with its embedded model card and
    schema; ``strict`` refuses rows with categories or ranges unseen in training."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.onnx"
    if not path.is_file():
        raise DataError(f"No model file at {path}.")
    return Predictor(path.read_bytes(), str(path), strict)
