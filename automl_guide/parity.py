"""Parity stage: an exported graph run with onnxruntime against the native model on held-out rows;
beyond the tolerance the export fails loudly (:class:`ParityError`), and nothing is written.
Also the label values a graph answers with, which the export writes into it. No onnx here: any
graph's bytes will do."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from .columns import ColumnInfo, onnx_feeds
from .errors import ExportError, ParityError

PROBABILITY_TOLERANCE = 1e-4
LABEL_AGREEMENT = 0.999


def onnx_label_values(classes: Sequence[Any]) -> np.ndarray:
    """How class labels travel in the ``label`` output: int64 when all are whole numbers (or
    booleans), strings otherwise."""
    if all(isinstance(c, (bool, int, np.integer)) or (isinstance(c, float) and c.is_integer())
           for c in classes):
        return np.asarray([int(c) for c in classes], dtype=np.int64)
    return np.asarray([str(c) for c in classes], dtype=object)


@dataclass(frozen=True)
class Parity:
    """How the ONNX graph agrees with the native pipeline on the checked rows (the held-out
    test rows, or training rows when there are none)."""

    rows: int
    max_abs_diff: float
    label_agreement: float | None
    tolerance: float
    passed: bool

    def to_card(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """What was measured, in words (label agreement is None for regression)."""
        quantity = "relative value" if self.label_agreement is None else "probability"
        return (f"max {quantity} difference {self.max_abs_diff:.3g} over {self.rows} rows "
                f"(tolerance {self.tolerance:g}), label agreement {self.label_agreement}")


def run_onnx(model_bytes: bytes, frame: pd.DataFrame, columns: Sequence[ColumnInfo]
             ) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    except Exception as exc:  # an operator onnxruntime lacks, a graph it refuses
        raise ExportError(f"onnxruntime cannot load the exported graph: {exc}") from exc
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, onnx_feeds(frame, columns))))


def check_parity(model_bytes: bytes, pipeline: Pipeline, frame: pd.DataFrame,
                 columns: Sequence[ColumnInfo], task: str, classes: Sequence[Any],
                 tolerance: float = PROBABILITY_TOLERANCE) -> Parity:
    """Compare ONNX and native outputs on ``frame``; raise :class:`ParityError` beyond tolerance."""
    outputs = run_onnx(model_bytes, frame, columns)
    if task == "regression":
        native = np.asarray(pipeline.predict(frame), dtype=np.float64)
        scale = max(1.0, float(np.max(np.abs(native))) if len(native) else 1.0)
        diff = float(np.max(np.abs(outputs["value"] - native))) / scale if len(native) else 0.0
        agreement = None
        passed = diff <= tolerance
    else:
        native = pipeline.predict_proba(frame)
        diff = float(np.max(np.abs(outputs["probabilities"] - native))) if len(native) else 0.0
        labels = onnx_label_values(classes)
        native_labels = labels[native.argmax(axis=1)]
        # A row whose two best classes tie within the tolerance may go either way in float32.
        top2 = np.sort(native, axis=1)[:, -2:] if native.shape[1] > 1 else np.ones((len(native), 2))
        tied = (top2[:, 1] - top2[:, 0]) <= 2 * tolerance
        same = (native_labels == outputs["label"]) | tied
        agreement = float(np.mean(same)) if len(native) else 1.0
        passed = diff <= tolerance and agreement >= LABEL_AGREEMENT
    parity = Parity(len(frame), diff, agreement, tolerance, passed)
    if not passed:
        error = ParityError(
            f"The ONNX export disagrees with the native model: {parity.summary()}. Nothing "
            "was written; try another model family (--models) or report the plugin.")
        error.parity = parity  # what was measured, for callers that word it themselves
        raise error
    return parity
