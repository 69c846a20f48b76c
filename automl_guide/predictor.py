"""Serving: an exported model behind onnxruntime, with its inputs checked against the card.

Needs only onnxruntime, numpy and pandas; nothing is unpickled, so loading a model file runs no
code from it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .columns import ColumnInfo, onnx_feeds
from .errors import DataError


class Predictor:
    """An ONNX model and its card. ``predict`` answers labels (classification) or values."""

    def __init__(self, model_bytes: bytes, source: str = "<bytes>"):
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
        self._outputs = [o.name for o in self.session.get_outputs()]

    def _run(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"Expected a pandas DataFrame, got {type(frame).__name__}.")
        if len(frame) == 0:
            raise DataError("No rows to predict.")
        return dict(zip(self._outputs, self.session.run(self._outputs,
                                                        onnx_feeds(frame, self.columns))))

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


def load(path: str | Path) -> Predictor:
    """Load ``model.onnx`` (or a run directory holding it) with its embedded model card."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.onnx"
    if not path.is_file():
        raise DataError(f"No model file at {path}.")
    return Predictor(path.read_bytes(), str(path))
