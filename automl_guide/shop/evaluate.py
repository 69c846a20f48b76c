"""The shop's evaluation: ranking metrics over full rankings, the popularity baselines every shop
leaderboard has, and the leaderboards at the test cutoff (the model against those baselines).

A ranking is judged against everything the customer bought in the label window, not against
sampled negatives: a bought product that no ranking put in its top ``k`` counts as a miss, and
NDCG's ideal ranking places all of the customer's purchases first.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import DataError
from ..metrics import dcg_discounts
from .history import (KEYS, RECENT_DAYS, ShopData, TableSettings, build_table, labels,
                      popularity)
from .snapshot import purchase_scores

METRICS = ("ndcg", "hit_rate", "map")


def ranking_metrics(ranked: Mapping[str, Sequence[str]], relevant: Mapping[str, set],
                    k: int = 10) -> dict[str, float]:
    """Mean NDCG@k, HitRate@k and MAP@k over the customers in ``relevant`` (those who bought
    something); a customer with no ranking scores 0."""
    discounts = dcg_discounts(k)
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


RFM = ("c_recency", "c_frequency", "c_monetary")


def days_text(span: pd.Timedelta) -> str:
    """30 days, 0.5 days: a horizon of hours is not "0 days"."""
    n = span / pd.Timedelta(days=1)
    return f"{n:g} day{'' if n == 1 else 's'}"


def held_out_truth(shop: ShopData, cutoff: pd.Timestamp, horizon: pd.Timedelta, exclude: bool
                   ) -> tuple[dict[str, set], dict[str, set], pd.DataFrame]:
    """What known customers bought in the window after ``cutoff`` (less what they had already
    bought, when the shop has no repeat purchases): the truth a ranking is judged against."""
    history = shop.history(cutoff)
    known = set(history.interactions["customer_id"])
    before = relevant_sets(history.purchases[KEYS["pair"]].drop_duplicates())
    bought = labels(shop, cutoff, horizon)
    bought = bought[bought["customer_id"].isin(known)]
    if exclude:  # what a customer already has is not a recommendation
        bought = bought[[p not in before.get(c, ()) for c, p in bought[KEYS["pair"]].values]]
    return relevant_sets(bought), before, bought


def model_name(fit: Any) -> str:
    ensemble = fit.card.get("ensemble")
    if ensemble:
        return "model (ensemble: " + " + ".join(m["model"] for m in ensemble["members"]) + ")"
    return f"model ({fit.card['best']['model']})"


def rank_leaderboard(shop: ShopData, test: pd.Timestamp, horizon: pd.Timedelta, registry: Any,
                     settings: TableSettings, fit: Any, k: int, exclude: bool) -> pd.DataFrame:
    history = shop.history(test)
    relevant, before, bought = held_out_truth(shop, test, horizon, exclude)
    if not relevant:
        raise DataError(f"No known customer bought anything in the {days_text(horizon)} after the "
                        f"test cutoff {test}; nothing to rank.")
    table = build_table(shop, test, horizon, registry, customers=sorted(relevant),
                        settings=settings.every_candidate())
    rows = [("model", top_k_by_score(table, purchase_scores(fit.predictor, table), k))]
    for name, days in (("popularity (all history)", None),
                       (f"popularity (last {RECENT_DAYS} days)", RECENT_DAYS)):
        rows.append((name, popularity_ranking(popularity(history, days).index,
                                                      sorted(relevant), k,
                                                      before if exclude else None)))
    board = [{"ranker": name, **ranking_metrics(ranked, relevant, k)}
             for name, ranked in rows]
    candidates_hit = table.merge(bought, on=KEYS["pair"]).shape[0] / max(len(bought), 1)
    board[0]["ranker"] = model_name(fit)
    frame = pd.DataFrame(board)
    frame["candidate_recall"] = [candidates_hit, np.nan, np.nan]
    return frame


def purchase_leaderboard(shop: ShopData, test: pd.Timestamp, horizon: pd.Timedelta,
                         registry: Any, settings: TableSettings, fit: Any,
                         train: pd.DataFrame) -> pd.DataFrame:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    table = build_table(shop, test, horizon, registry, settings=settings.every_candidate())
    y = table["label"].to_numpy()
    if y.min() == y.max():
        raise DataError(f"At the test cutoff {test} every candidate has the same label; nothing "
                        "to evaluate.")
    scores = {model_name(fit): purchase_scores(fit.predictor, table)}
    rfm = [c for c in RFM if c in train]
    if rfm:
        lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        lr.fit(train[rfm].fillna(0), train["label"])
        scores["logistic regression on RFM"] = lr.predict_proba(table[rfm].fillna(0))[:, 1]
    recent = popularity(shop.history(test), RECENT_DAYS)
    scores[f"popularity (last {RECENT_DAYS} days)"] = table["product_id"].map(recent).fillna(0)
    return pd.DataFrame([{"ranker": name, "roc_auc": roc_auc_score(y, s),
                          "average_precision": average_precision_score(y, s), "rows": len(y),
                          "positives": int(y.sum())} for name, s in scores.items()])
