"""The model card: what the exported graph takes and returns, and how it was chosen and checked."""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import math
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .errors import ExportError

if TYPE_CHECKING:
    from .data import Dataset
    from .metrics import Metric
    from .options import FitConfig

FORMAT_VERSION = 1
_LIBRARIES = ("automl-guide", "numpy", "pandas", "scikit-learn", "xgboost", "xgboost-cpu", "ray",
              "onnx", "onnxruntime", "skl2onnx", "onnxmltools", "pluggy")  # those installed


def library_versions() -> dict[str, str]:
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def data_fingerprint(frame: pd.DataFrame) -> str:
    """sha256 of the table's column names, dtypes and values (row order matters)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return f"sha256:{digest.hexdigest()}"


@lru_cache(maxsize=1)
def card_schema() -> Mapping[str, Any]:
    text = resources.files("automl_guide_schemas").joinpath("model_card.schema.json").read_text()
    return json.loads(text)


def validate_card(card: Mapping[str, Any]) -> None:
    """Check a card against ``schemas/model_card.schema.json``."""
    import jsonschema

    try:
        jsonschema.validate(card, card_schema())
    except jsonschema.ValidationError as exc:
        where = "/".join(map(str, exc.absolute_path)) or "(top level)"
        raise ExportError(f"The model card does not match its schema at {where}: "
                          f"{exc.message}") from None


def to_json(card: Mapping[str, Any]) -> str:
    return json.dumps(card, indent=2, ensure_ascii=False, default=_jsonable)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def build_card(dataset: Dataset, train: np.ndarray, test: np.ndarray, splits: Sequence,
               board: pd.DataFrame, metric: Metric, config: FitConfig,
               test_metrics: Mapping[str, float], parity: Mapping[str, Any], used: Sequence,
               seconds: float, best_rank: int = 1, families: Sequence[str] = (),
               short_budget: tuple[Sequence[str], int] | None = None) -> dict[str, Any]:
    """The card of a run whose exported model is the trial ranked ``best_rank``, of a search
    over ``families``; ``short_budget``: the families the budget was too short for and the
    budget that would have let each run once, as the run warned before its search."""
    best = board.iloc[best_rank - 1]
    card = {
        "format_version": FORMAT_VERSION, "task": dataset.task, "target": dataset.target,
        "inputs": [c.to_card() for c in dataset.columns],
        "dropped_columns": [{"name": n, "reason": r} for n, r in dataset.dropped],
        "codes": None if dataset.codes is None else [c.name for c in dataset.columns
                                                     if c.onnx_name in dataset.codes],
        "outputs": _outputs(dataset), "metric": {"name": metric.name, "mode": metric.mode},
        "validation": {"strategy": "cv" if len(splits) > 1 else "holdout", "folds": len(splits),
                       "score": float(best[metric.name])},
        "test_metrics": dict(test_metrics),
        "best": {"model": best["model"], "config": json.loads(best["config"]),
                 "rank": best_rank, "predict_us": _finite(best["predict_us"])},
        "leaderboard": _summary(board, metric),
        "search": {"searcher": config.searcher, "scheduler": config.scheduler,
                   "trials": int(len(board)),
                   "failed": int((board["status"] != "ok").sum()), "seed": config.seed,
                   "time_budget_s": config.time_budget, "max_trials": config.max_trials,
                   "max_predict_us": config.max_predict_us, "ensemble": config.ensemble,
                   "wall_seconds": round(seconds, 2), "families": list(families),
                   "families_without_result": [
                       f for f in families if not (board[board["model"] == f]["status"]
                                                   == "ok").any()],
                   "short_budget": None if short_budget is None else {
                       "families": list(short_budget[0]),
                       "time_budget_for_every_family_s": short_budget[1]}},
        "rows": {"train": int(len(train)), "test": int(len(test))},
        "parity": dict(parity),
        "plugins": [{"name": r.name, "kind": r.kind, "plugin": r.plugin,
                     "distribution": r.distribution, "version": r.version} for r in used],
        "versions": library_versions(),
        "data_fingerprint": data_fingerprint(dataset.features.assign(
            **{dataset.target: dataset.y})),
        "created": now(),
    }
    if dataset.task != "regression":
        card["class_labels"] = list(dataset.classes)
    return card


def _outputs(dataset: Dataset) -> list[dict[str, Any]]:
    """The graph's outputs: a value, or a label and the probabilities of each class."""
    from .parity import onnx_label_values

    if dataset.task == "regression":
        return [{"name": "value", "dtype": "float", "shape": ["N"]}]
    label_dtype = "int64" if onnx_label_values(dataset.classes).dtype == np.int64 else "string"
    return [{"name": "label", "dtype": label_dtype, "shape": ["N"]},
            {"name": "probabilities", "dtype": "float", "shape": ["N", len(dataset.classes)]}]


def _summary(board: pd.DataFrame, metric: Metric, top: int = 10) -> list[dict[str, Any]]:
    best_per_model = board[board["status"] == "ok"].drop_duplicates("model")
    return [{"model": row["model"], metric.name: _finite(row[metric.name]),
             "fit_seconds": float(row["fit_seconds"])}
            for _, row in best_per_model.head(top).iterrows()]


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
