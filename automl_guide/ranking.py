"""Ranking metrics over full rankings, and the popularity baselines every shop leaderboard has.

A ranking is judged against everything the customer bought in the label window, not against
sampled negatives: a bought product that no ranking put in its top ``k`` counts as a miss, and
NDCG's ideal ranking places all of the customer's purchases first.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

METRICS = ("ndcg", "hit_rate", "map")


def ranking_metrics(ranked: Mapping[str, Sequence[str]], relevant: Mapping[str, set],
                    k: int = 10) -> dict[str, float]:
    """Mean NDCG@k, HitRate@k and MAP@k over the customers in ``relevant`` (those who bought
    something); a customer with no ranking scores 0."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ndcg, hit, ap = [], [], []
    for customer, bought in relevant.items():
        top = list(ranked.get(customer, ()))[:k]
        gains = np.array([1.0 if p in bought else 0.0 for p in top])
        ideal = discounts[: min(k, len(bought))].sum()
        ndcg.append(float((gains * discounts[: len(gains)]).sum() / ideal) if ideal else 0.0)
        hit.append(float(gains.any()) if len(gains) else 0.0)
        precision = np.cumsum(gains) / np.arange(1, len(gains) + 1) if len(gains) else gains
        ap.append(float((precision * gains).sum() / min(k, len(bought))))
    n = max(len(relevant), 1)
    return {f"ndcg@{k}": sum(ndcg) / n, f"hit_rate@{k}": sum(hit) / n, f"map@{k}": sum(ap) / n,
            "customers": len(relevant)}


def top_k_by_score(frame: pd.DataFrame, score: np.ndarray, k: int) -> dict[str, list[str]]:
    """Each customer's ``k`` best products of ``frame`` (customer_id, product_id) by ``score``
    (ties: product id)."""
    ranked = frame[["customer_id", "product_id"]].assign(score=np.asarray(score, dtype=float))
    ranked = ranked.sort_values(["customer_id", "score", "product_id"],
                                ascending=[True, False, True], kind="stable")
    top = ranked.groupby("customer_id", sort=False).head(k)
    return {c: list(g) for c, g in top.groupby("customer_id", sort=False)["product_id"]}


def popularity_ranking(order: pd.Index, customers: Sequence[str], k: int,
                       exclude: Mapping[str, set] | None = None) -> dict[str, list[str]]:
    """The same popularity list for every customer, minus what each already bought when
    ``exclude`` is given (shops without repeat purchases)."""
    head = list(order[: k + (max((len(v) for v in exclude.values()), default=0) if exclude
                             else 0)])
    out = {}
    for customer in customers:
        seen = exclude.get(customer, set()) if exclude else set()
        out[customer] = [p for p in head if p not in seen][:k]
    return out


def relevant_sets(pairs: pd.DataFrame) -> dict[str, set]:
    """customer -> set of products from (customer_id, product_id) rows."""
    return {c: set(g) for c, g in pairs.groupby("customer_id")["product_id"]}
