"""The serving side of a shop run: the features as of the end of the data, written beside the
model (``snapshot/``), and :class:`Recommender`, which joins them on the ids into the scorer's
input and ranks a customer's candidates with the exported graph."""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import DataError, ExportError
from .history import (KEYS, RECENT_DAYS, FeatureReport, ShopData, TableSettings, candidates,
                      popularity, shop_features)

SNAPSHOT = "snapshot"


def check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DataError(f"{name} must be a whole number of at least 1, not {value!r}.")


def purchase_scores(predictor: Any, frame: pd.DataFrame) -> np.ndarray:
    """Purchase probabilities from the exported ONNX graph, as a service would compute them.

    Counts and ages grow as a shop's history does, so later rows sit outside the training
    ranges by design; the predictor's drift warning says nothing new here and is silenced."""
    from ..errors import DriftWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DriftWarning)
        return predictor.predict_proba(frame)[:, 1].astype(np.float64)


def write_snapshot(folder: Path, shop: ShopData, registry: Any, settings: TableSettings,
                   inputs: Sequence[str]) -> dict[str, Any]:
    """Features as of the end of the data, one Parquet file per level."""
    history = shop.history(shop.end)

    pairs = candidates(history, history.interactions["customer_id"].unique(), settings.candidates)
    report = FeatureReport()
    table = shop_features(history, pairs, registry, report)
    levels = {reg.name: reg.spec.level for reg in registry.shop_features.values()}
    by_level: dict[str, list[str]] = {"customer": [], "product": [], "pair": []}
    for plugin, cols in report.columns.items():
        by_level[levels[plugin]] += [c for c in cols if c in inputs]
    missing = [c for c in inputs if not any(c in cols for cols in by_level.values())]
    if missing:
        raise ExportError(f"The snapshot lacks the model's input column(s) {missing}: a shop "
                          "feature plugin failed while writing it (see the warnings).")
    from ..files import write_atomic

    files = {
        "customers": table[["customer_id"] + by_level["customer"]].drop_duplicates("customer_id"),
        "products": table[["product_id"] + by_level["product"]].drop_duplicates("product_id"),
        "candidates": table[KEYS["pair"] + by_level["pair"]],
        "popular": popularity(history, RECENT_DAYS).rename("buyers_30d").reset_index()}
    for name, frame in files.items():
        write_atomic(folder / f"{name}.parquet", frame.to_parquet(index=False))
    return {name: {"file": f"{SNAPSHOT}/{name}.parquet", "rows": int(len(frame)),
                   "columns": list(frame.columns)} for name, frame in files.items()}


class Recommender:
    """The exported scorer and feature snapshot of a shop run, loaded once."""

    def __init__(self, run_dir: str | os.PathLike):
        from ..predictor import load

        self.run_dir = Path(run_dir)
        path = self.run_dir / "shop.json"
        if not path.is_file():
            raise DataError(f"{self.run_dir} is not a shop run (no shop.json); create one with "
                            "`automl-guide shop` or automl_guide.fit_shop.")
        try:
            self.card = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{path} is damaged ({exc}); fit the shop run again.") from None
        folder = self.run_dir / SNAPSHOT

        def read(name: str) -> pd.DataFrame:
            file = folder / f"{name}.parquet"
            if not file.is_file():
                raise DataError(f"{file} is missing: the shop run is incomplete; fit it again.")
            return pd.read_parquet(file)

        self.customers = read("customers").set_index("customer_id")
        self.products = read("products").set_index("product_id")
        candidates = read("candidates")
        self.candidates = {c: g.drop(columns="customer_id") for c, g in
                           candidates.groupby("customer_id", sort=False)}
        self.popular = read("popular")
        self.predictor = load(self.run_dir / "model.onnx")

    def feature_rows(self, customer_id: str) -> pd.DataFrame | None:
        """The scorer's input for the customer's candidates, one row per product (with
        ``product_id``): the snapshot's candidate pairs joined with its product and customer
        features on the ids. None for a customer the snapshot does not know. Training rows at
        the snapshot's time are the same (tests/test_shop.py checks it)."""
        rows = self.candidates.get(customer_id)
        if rows is None or customer_id not in self.customers.index:
            return None
        frame = rows.join(self.products, on="product_id")
        for column, value in self.customers.loc[customer_id].items():
            frame[column] = value
        return frame

    def recommend(self, customer_id: str, k: int = 10) -> pd.DataFrame:
        """The customer's ``k`` best candidates by the scorer's purchase probability; a customer
        the snapshot does not know gets the recent best sellers (``source`` says which)."""
        check_count("k", k)
        if isinstance(customer_id, float) and customer_id.is_integer():
            customer_id = int(customer_id)  # 30.0 from a spreadsheet is customer 30
        customer_id = str(customer_id).strip()
        frame = self.feature_rows(customer_id)
        if frame is None:
            top = self.popular.head(k)
            return pd.DataFrame({"rank": np.arange(1, len(top) + 1), "product_id": top[
                "product_id"].to_numpy(), "score": np.nan, "source": "popular (unknown customer)"})
        score = purchase_scores(self.predictor, frame[self.card["inputs"]])
        best = frame.assign(score=score).sort_values(["score", "product_id"],
                                                     ascending=[False, True]).head(k)
        return pd.DataFrame({"rank": np.arange(1, len(best) + 1),
                             "product_id": best["product_id"].to_numpy(),
                             "score": best["score"].to_numpy(), "source": "model"})


def recommend(run_dir: str | os.PathLike, customer_id: str, k: int = 10) -> pd.DataFrame:
    """Rank ``customer_id``'s candidates with the exported ONNX model of the shop run in
    ``run_dir``: columns ``rank``, ``product_id``, ``score`` and ``source``."""
    return Recommender(run_dir).recommend(customer_id, k)
