"""Built-in e-commerce features: customers (RFM, activity), products (popularity, conversion,
price) and customer x product pairs (what this customer did with this product and its category).

Every function sees a :class:`automl_guide.ShopHistory`, which holds only what happened before its
cutoff, so none can leak the future. "Days since" features are capped at a year, and something
that never happened counts as a year ago: the same value at every cutoff, so a model trained at
one cutoff reads the features of a later one the same way. Counts of what never happened are 0.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from automl_guide import ShopFeatureSpec, hookimpl

WINDOW = 30  # days of "recent" activity; trends compare it with the 30 days before
NEVER = 365.0  # days: the cap of "days since" features, and their value for "never"


def _days_since(history, timestamps: pd.Series) -> np.ndarray:
    return history.days_ago(timestamps).clip(upper=NEVER).fillna(NEVER).to_numpy(dtype=float)


def _per_key(frame: pd.DataFrame, key: list[str], keys: pd.DataFrame,
             named: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """``frame`` aggregated per key, aligned to ``keys`` (missing keys as NaN)."""
    if frame.empty:
        return pd.DataFrame({name: np.full(len(keys), np.nan) for name in named})
    agg = frame.groupby(key, sort=False).agg(**named).reset_index()
    return keys.merge(agg, on=key, how="left")[list(named)]


def _windows(history, frame: pd.DataFrame, key: list[str], keys: pd.DataFrame, what: str,
             prefix: str) -> pd.DataFrame:
    """Counts of ``what`` (a column counted distinct, or rows) in the last 30 days and the 30
    days before, and their trend in [-1, 1]."""
    age = history.days_ago(frame["timestamp"])
    recent = frame[age <= WINDOW]
    before = frame[(age > WINDOW) & (age <= 2 * WINDOW)]
    now = _per_key(recent, key, keys, {"n": (what, "nunique")})["n"].fillna(0).to_numpy()
    then = _per_key(before, key, keys, {"n": (what, "nunique")})["n"].fillna(0).to_numpy()
    return pd.DataFrame({f"{prefix}_30d": now, f"{prefix}_trend": (now - then) / (now + then + 1)})


def customer_features(history, keys: pd.DataFrame) -> pd.DataFrame:
    log, buys = history.interactions, history.purchases
    key = ["customer_id"]
    rfm = _per_key(buys.assign(day=buys["timestamp"].dt.floor("D")), key, keys, {
        "last": ("timestamp", "max"), "c_frequency": ("day", "nunique"),
        "c_items": ("quantity", "sum"), "c_monetary": ("amount", "sum")})
    seen = _per_key(log, key, keys, {"first": ("timestamp", "min"), "latest": ("timestamp", "max"),
                                     "c_events": ("event_type", "size")})
    kinds = _per_key(log.assign(view=log["event_type"] == "view",
                                cart=log["event_type"] == "cart"), key, keys,
                     {"c_views": ("view", "sum"), "c_carts": ("cart", "sum")})
    out = pd.DataFrame({
        "c_recency": _days_since(history, rfm["last"]),
        "c_frequency": rfm["c_frequency"].fillna(0).to_numpy(dtype=float),
        "c_monetary": rfm["c_monetary"].fillna(0).to_numpy(dtype=float),
        "c_items": rfm["c_items"].fillna(0).to_numpy(dtype=float),
        "c_tenure": history.days_ago(seen["first"]).fillna(0).to_numpy(dtype=float),
        "c_days_since_active": _days_since(history, seen["latest"]),
        "c_events": seen["c_events"].fillna(0).to_numpy(dtype=float),
        "c_views": kinds["c_views"].fillna(0).to_numpy(dtype=float),
        "c_carts": kinds["c_carts"].fillna(0).to_numpy(dtype=float)})
    out["c_avg_item_price"] = np.where(out["c_items"] > 0, out["c_monetary"]
                                       / out["c_items"].where(out["c_items"] > 0), np.nan)
    out = pd.concat([out, _windows(history, buys, key, keys, "product_id", "c_bought"),
                     _windows(history, log, key, keys, "timestamp", "c_active")], axis=1)
    categories = history.category_of(buys["product_id"])
    if categories.notna().any():
        n = _per_key(buys.assign(category=categories.to_numpy()), key, keys,
                     {"n": ("category", "nunique")})["n"]
        out["c_categories"] = n.fillna(0).to_numpy(dtype=float)
    return out


def product_price(history, product_ids: pd.Series) -> pd.Series:
    """Catalogue price where there is a catalogue, else the mean unit price paid."""
    ids = pd.Series(np.asarray(product_ids, dtype=object))
    if history.products is not None and "price" in history.products:
        return ids.map(history.products["price"]).astype(float)
    buys = history.purchases
    paid = (buys["amount"] / buys["quantity"]).groupby(buys["product_id"]).mean()
    return ids.map(paid).astype(float)


def _log_rank(buys: pd.DataFrame, keys: pd.DataFrame) -> np.ndarray:
    """log(1 + rank) of each product among all products by distinct buyers (1 = most bought;
    products nobody bought share the rank after the last one)."""
    counts = buys.groupby("product_id")["customer_id"].nunique()
    ranks = counts.rank(ascending=False, method="min")
    return np.log1p(keys["product_id"].map(ranks).fillna(len(counts) + 1).to_numpy(dtype=float))


def product_features(history, keys: pd.DataFrame) -> pd.DataFrame:
    log, buys = history.interactions, history.purchases
    key = ["product_id"]
    bought = _per_key(buys, key, keys, {"p_buyers": ("customer_id", "nunique"),
                                        "first": ("timestamp", "min"),
                                        "last": ("timestamp", "max")})
    views = log[log["event_type"] == "view"]
    viewed = _per_key(views, key, keys, {"p_viewers": ("customer_id", "nunique")})
    days_per_pair = buys.assign(day=buys["timestamp"].dt.floor("D")).groupby(
        ["product_id", "customer_id"])["day"].nunique()
    repeat = (days_per_pair > 1).groupby(level="product_id").mean().rename("r").reset_index()
    out = pd.DataFrame({
        "p_log_rank": _log_rank(buys, keys),
        "p_age": history.days_ago(bought["first"]).fillna(0).to_numpy(dtype=float),
        "p_days_since_sold": _days_since(history, bought["last"]),
        "p_repeat_rate": keys.merge(repeat, on=key, how="left")["r"].to_numpy(dtype=float)})
    out = pd.concat([out, _windows(history, buys, key, keys, "customer_id", "p_buyers")], axis=1)
    # Counts grow and shrink with the shop's traffic, so a model trained at one cutoff would
    # misread them at another; shares and ranks read the same at any cutoff.
    active = max(history.recent(WINDOW, buys)["customer_id"].nunique(), 1)
    out["p_buyers_30d_share"] = out.pop("p_buyers_30d") / active
    out["p_log_rank_30d"] = _log_rank(history.recent(WINDOW, buys), keys)
    out["p_log_rank_7d"] = _log_rank(history.recent(7, buys), keys)
    if not views.empty:
        viewers = viewed["p_viewers"].fillna(0).to_numpy(dtype=float)
        out["p_conversion"] = bought["p_buyers"].fillna(0).to_numpy(dtype=float) / (viewers + 1)
        recent = _windows(history, views, key, keys, "customer_id", "p_viewers")
        watching = max(history.recent(WINDOW, views)["customer_id"].nunique(), 1)
        out["p_viewers_30d_share"] = recent.pop("p_viewers_30d") / watching
        out = pd.concat([out, recent], axis=1)
    price = product_price(history, keys["product_id"])
    if price.notna().any():
        out["p_price"] = price.to_numpy()
        category = history.category_of(keys["product_id"])
        if category.notna().any():
            # the median of the catalogue's category, not of the rows at hand: a product's
            # feature must not depend on which other products share the table (training
            # builds it for many customers at once, serving from the snapshot of all)
            catalogue = pd.Series(history.products.index)
            medians = product_price(history, catalogue).groupby(
                history.category_of(catalogue).to_numpy()).median()
            median = category.map(medians).astype(float)
            out["p_price_vs_category"] = (price / median.where(median > 0)).to_numpy()
    if history.products is not None:
        for column in ("rating", "review_count"):
            if column in history.products:
                out[f"p_{column}"] = keys["product_id"].map(
                    history.products[column]).astype(float).to_numpy()
    return out


def pair_features(history, keys: pd.DataFrame) -> pd.DataFrame:
    log = history.interactions
    key = ["customer_id", "product_id"]
    out = {}
    for kind in ("purchase", "view", "cart"):
        rows = log[log["event_type"] == kind]
        if kind != "purchase" and rows.empty:
            continue
        name = {"purchase": "bought", "view": "viewed", "cart": "carted"}[kind]
        agg = _per_key(rows, key, keys, {"n": ("timestamp", "size"), "last": ("timestamp", "max")})
        out[f"x_{name}"] = agg["n"].fillna(0).to_numpy(dtype=float)
        out[f"x_days_since_{name}"] = _days_since(history, agg["last"])
    out = pd.DataFrame(out)
    buys = history.purchases
    per_customer = _per_key(buys, ["customer_id"], keys, {"n": ("timestamp", "size")})["n"]
    out["x_bought_share"] = out["x_bought"] / per_customer.where(per_customer > 0).to_numpy()
    category = history.category_of(keys["product_id"])
    if category.notna().any():
        cats = pd.DataFrame({"customer_id": keys["customer_id"].to_numpy(),
                             "category": category.to_numpy()})
        for kind, rows in (("bought", buys), ("viewed", log[log["event_type"] == "view"])):
            if rows.empty:
                continue
            rows = rows.assign(category=history.category_of(rows["product_id"]).to_numpy())
            n = rows.groupby(["customer_id", "category"]).size().rename("n").reset_index()
            total = rows.groupby("customer_id").size()
            share = cats.merge(n, on=["customer_id", "category"], how="left")["n"].fillna(0)
            denominator = cats["customer_id"].map(total).astype(float)
            out[f"x_category_{kind}_share"] = (share / denominator.where(denominator > 0)
                                               ).to_numpy()
    usual = (buys["amount"] / buys["quantity"]).groupby(buys["customer_id"]).mean()
    price = product_price(history, keys["product_id"])
    if price.notna().any() and usual.notna().any():
        spend = keys["customer_id"].map(usual).astype(float)
        out["x_price_vs_usual"] = (price / spend.where(spend > 0)).to_numpy()
    return out


def item_knn_features(history, keys: pd.DataFrame, chunk: int = 100_000) -> pd.DataFrame:
    """Item-based collaborative filtering: how similar the product is to what the customer
    bought (ever, and in the last 30 days), by cosine similarity of who bought both; the mean
    and the largest similarity (the ItemKNN score). User-based: how many of the customer's
    nearest neighbours bought the product lately. 0 without history."""
    from scipy import sparse

    buys = history.purchases
    cols = ("x_item_knn", "x_item_knn_max", "x_item_knn_30d")
    out = {c: np.zeros(len(keys)) for c in cols}
    pairs = buys[["customer_id", "product_id"]].drop_duplicates()
    if pairs.empty:
        return pd.DataFrame(out)
    customers, c_index = np.unique(pairs["customer_id"].to_numpy(dtype=str), return_inverse=True)
    items, i_index = np.unique(pairs["product_id"].to_numpy(dtype=str), return_inverse=True)
    shape = (len(customers), len(items))
    bought = sparse.csr_matrix((np.ones(len(pairs)), (c_index, i_index)), shape=shape)
    recent = history.recent(WINDOW, buys)[["customer_id", "product_id"]].drop_duplicates()
    recent_rows = np.searchsorted(customers, recent["customer_id"].to_numpy(dtype=str))
    recent_cols = np.searchsorted(items, recent["product_id"].to_numpy(dtype=str))
    lately = sparse.csr_matrix((np.ones(len(recent)), (recent_rows, recent_cols)), shape=shape)
    scale = sparse.diags(1.0 / np.sqrt(np.maximum(np.asarray(bought.sum(axis=0)).ravel(), 1.0)))
    similarity = (scale @ (bought.T @ bought) @ scale).tocsr()
    similarity.setdiag(0.0)
    c_ids, p_ids = keys["customer_id"].to_numpy(dtype=str), keys["product_id"].to_numpy(dtype=str)
    row = np.minimum(np.searchsorted(customers, c_ids), len(customers) - 1)
    col = np.minimum(np.searchsorted(items, p_ids), len(items) - 1)
    where = np.flatnonzero((customers[row] == c_ids) & (items[col] == p_ids))
    sizes = np.asarray(bought.sum(axis=1)).ravel()
    recent_sizes = np.asarray(lately.sum(axis=1)).ravel()
    for start in range(0, len(where), chunk):  # bounded memory: chunk x items at a time
        part = where[start:start + chunk]
        sims = similarity[col[part]]
        overlap = bought[row[part]].multiply(sims)
        out["x_item_knn"][part] = np.asarray(overlap.sum(axis=1)).ravel() / np.maximum(
            sizes[row[part]], 1.0)
        out["x_item_knn_max"][part] = overlap.max(axis=1).toarray().ravel()
        out["x_item_knn_30d"][part] = np.asarray(lately[row[part]].multiply(sims).sum(
            axis=1)).ravel() / np.maximum(recent_sizes[row[part]], 1.0)
    out["x_user_knn_30d"] = _neighbours_recent(bought, lately, row[where], col[where], where,
                                               len(keys))
    return pd.DataFrame(out)


def _neighbours_recent(bought, lately, rows: np.ndarray, cols: np.ndarray, where: np.ndarray,
                       n: int, neighbours: int = 50, cells: int = 4_000_000) -> np.ndarray:
    """Recent popularity among the customer's nearest neighbours: of the ``neighbours``
    customers most like this one (cosine of what both bought) among those who bought in the
    last 30 days, the similarity-weighted share who bought the product then. A personal
    version of recent popularity. It costs customers x recent buyers, in chunks of at most
    ``cells`` similarities."""
    from scipy import sparse

    out = np.zeros(n)
    active = np.flatnonzero(np.asarray(lately.sum(axis=1)).ravel() > 0)
    if len(active) == 0:
        return out
    norms = np.sqrt(np.maximum(np.asarray(bought.sum(axis=1)).ravel(), 1.0))
    unit = (sparse.diags(1.0 / norms) @ bought).tocsr()
    peers, recent = unit[active].T.tocsc(), lately[active]
    owners = np.unique(rows)
    step = max(1, cells // max(len(active), bought.shape[1]))
    for start in range(0, len(owners), step):
        part = owners[start:start + step]
        sims = (unit[part] @ peers).toarray()  # part x active customers
        sims[part[:, None] == active[None, :]] = 0.0  # nobody is their own neighbour
        if sims.shape[1] > neighbours:
            weakest = np.argpartition(-sims, neighbours, axis=1)[:, neighbours:]
            np.put_along_axis(sims, weakest, 0.0, axis=1)
        weight = np.maximum(sims.sum(axis=1, keepdims=True), 1e-12)
        scores = np.asarray((recent.T @ sims.T).T) / weight  # part x items
        mine = (rows >= part[0]) & (rows <= part[-1])
        out[where[mine]] = scores[np.searchsorted(part, rows[mine]), cols[mine]]
    return out


@hookimpl
def automl_guide_register_shop_features(register):
    register(ShopFeatureSpec("customer", "customer", customer_features, description=
                             "RFM (recency, frequency, monetary), tenure, activity and its "
                             "30-day trend, views/carts, categories bought"))
    register(ShopFeatureSpec("product", "product", product_features, description=
                             "popularity (rank ever, in 30 and 7 days; share of active buyers) "
                             "and its trend, conversion, repeat rate, price vs category, rating"))
    register(ShopFeatureSpec("pair", "pair", pair_features, description=
                             "customer x product: bought/viewed/carted before (counts, recency),"
                             " category affinity, price against the customer's usual spend"))
    register(ShopFeatureSpec("item_knn", "pair", item_knn_features, description=
                             "item-based collaborative filtering: cosine similarity of the "
                             "product to the customer's purchases (mean, max, last 30 days); "
                             "recent popularity among the 50 nearest recent buyers"))
