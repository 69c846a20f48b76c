"""The model card: what the exported graph takes and returns, and how it was chosen and checked."""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from typing import Any, Mapping

import pandas as pd

from .errors import ExportError

FORMAT_VERSION = 1
_LIBRARIES = ("automl-guide", "numpy", "pandas", "scikit-learn", "xgboost", "ray", "onnx",
              "onnxruntime", "skl2onnx", "onnxmltools", "pluggy")


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
