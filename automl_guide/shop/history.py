"""A shop's tables as one interaction log, and training tables built from it without leakage.

``ShopData`` joins the validated tables (see :mod:`automl_guide.shop.tables`) into one log of
interactions ``(customer_id, product_id, event_type, timestamp, quantity, amount)``: purchases
come from ``orders`` when it is given (else from the ``purchase`` rows of ``events``), views and
carts from ``events``. Either table may stand alone.

``build_table(shop, cutoff, horizon, registry)`` is the leakage-free step: it asks for
``shop.history(cutoff)``, which holds only interactions strictly before the cutoff, computes the
shop feature plugins' columns from that history alone, and takes labels from the window
``[cutoff, cutoff + horizon)``. Rows are (customer, candidate product) pairs; candidates come
from the customer's own history, the products popular in the 30 days before the cutoff, and the
popular products of the customer's favourite categories.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from ..errors import DataError, PluginError

DAY = pd.Timedelta(days=1)
RECENT_DAYS = 30
KEYS = {"customer": ["customer_id"], "product": ["product_id"],
        "pair": ["customer_id", "product_id"]}
INTERACTION_COLUMNS = ["customer_id", "product_id", "event_type", "timestamp", "quantity",
                       "amount"]


@dataclass(frozen=True)
class ShopHistory:
    """What was known at ``cutoff``: interactions strictly before it, and the catalogue.

    This is all a shop feature plugin sees, which is what keeps training tables free of leakage.
    """

    interactions: pd.DataFrame
    cutoff: pd.Timestamp
    products: pd.DataFrame | None = None
    customers: pd.DataFrame | None = None

    @property
    def purchases(self) -> pd.DataFrame:
        return self.interactions[self.interactions["event_type"] == "purchase"]

    def days_ago(self, timestamps: Any) -> Any:
        """Days between ``timestamps`` and the cutoff (positive: before it)."""
        return (self.cutoff - timestamps) / DAY

    def recent(self, days: float, frame: pd.DataFrame | None = None) -> pd.DataFrame:
        frame = self.interactions if frame is None else frame
        return frame[frame["timestamp"] >= self.cutoff - pd.Timedelta(days=days)]

    def category_of(self, product_ids: Any) -> pd.Series:
        """The category of each product (missing when there is no catalogue entry)."""
        ids = pd.Series(np.asarray(product_ids, dtype=object))
        if self.products is None or "category" not in self.products:
            return pd.Series([None] * len(ids), dtype=object)
        return ids.map(self.products["category"]).reset_index(drop=True)


def _check_join(used: pd.Series, known: pd.Index, key: str, table: str,
                given: list[str]) -> None:
    """The interactions' ids must be the table's: none found is an error (the ids are written
    differently: P0014 against 14), under half a warning; a catalogue missing a few discontinued
    products is usual."""
    ids = pd.Index(used.unique())
    found = ids.isin(known)
    if found.mean() >= 0.5:
        return
    source = " and ".join(g for g in given if g in ("orders", "events"))
    message = (f"{found.sum()} of the {len(ids)} {key} values in {source} are in the {table} "
               f"table ({source}: {', '.join(map(repr, ids[~found][:3]))}; {table}: "
               f"{', '.join(map(repr, known[:3]))}); write the ids the same way in every table")
    if not found.any():
        raise DataError(message + ".")
    warnings.warn(message + f": {table} features are missing for the others.", UserWarning,
                  stacklevel=4)


@dataclass(frozen=True)
class ShopData:
    """A shop's interaction log and catalogue, validated; see :meth:`from_tables`."""

    interactions: pd.DataFrame
    products: pd.DataFrame | None = None
    customers: pd.DataFrame | None = None
    tables: tuple[str, ...] = ()

    @classmethod
    def from_tables(cls, *, orders: pd.DataFrame | None = None,
                    events: pd.DataFrame | None = None, products: pd.DataFrame | None = None,
                    customers: pd.DataFrame | None = None) -> "ShopData":
        """Validate each given table against its schema and join them into one log."""
        from automl_guide_schemas.shop import has_offsets, shows_day_first

        from .tables import validate_table

        if orders is None and events is None:
            raise DataError("A shop needs an orders or an events table (or both).")
        if orders is not None and events is not None and "timestamp" in orders \
                and "timestamp" in events:
            aware = {name: has_offsets(t["timestamp"]) for name, t in (("orders", orders),
                                                                      ("events", events))}
            if None not in aware.values() and len(set(aware.values())) > 1:
                with_offset = [n for n, a in aware.items() if a][0]
                without = [n for n, a in aware.items() if not a][0]
                raise DataError(f"The {with_offset} table's times carry a UTC offset (such as "
                                f"+08:00) and the {without} table's do not, so the two cannot "
                                "be put on one clock; write both with an offset, or neither.")
        # dates one table leaves ambiguous (01/02/2026) are read in the order the other shows
        shown = {shows_day_first(t["timestamp"]) for t in (orders, events)
                 if isinstance(t, pd.DataFrame) and "timestamp" in t} - {None}
        settled = shown.pop() if len(shown) == 1 else None
        parts, given = [], []
        if orders is not None:
            o = validate_table("orders", orders, settled)
            parts.append(pd.DataFrame({
                "customer_id": o["customer_id"], "product_id": o["product_id"],
                "event_type": "purchase", "timestamp": o["timestamp"],
                "quantity": o["quantity"].astype(float),
                "amount": o["quantity"].astype(float) * o["price"].astype(float)}))
            given.append("orders")
        if events is not None:
            e = validate_table("events", events, settled)
            if orders is not None:  # purchases come from the orders table
                e = e[e["event_type"] != "purchase"]
            quantity = (e["quantity"].astype(float) if "quantity" in e
                        else pd.Series(1.0, index=e.index))
            amount = (quantity * e["price"].astype(float) if "price" in e
                      else pd.Series(np.nan, index=e.index))
            parts.append(pd.DataFrame({
                "customer_id": e["customer_id"], "product_id": e["product_id"],
                "event_type": e["event_type"], "timestamp": e["timestamp"],
                "quantity": quantity, "amount": amount}))
            given.append("events")
        log = pd.concat(parts, ignore_index=True)[INTERACTION_COLUMNS]
        log = log.sort_values(["timestamp", "customer_id", "product_id"], kind="stable")
        if products is not None:
            products = validate_table("products", products).set_index("product_id")
            given.append("products")
        if customers is not None:
            customers = validate_table("customers", customers).set_index("customer_id")
            given.append("customers")
        for key, table, name in (("product_id", products, "products"),
                                 ("customer_id", customers, "customers")):
            if table is not None:
                _check_join(log[key], table.index, key, name, given)
        return cls(log.reset_index(drop=True), products, customers, tuple(given))

    @property
    def start(self) -> pd.Timestamp:
        return self.interactions["timestamp"].min()

    @property
    def end(self) -> pd.Timestamp:
        """Just after the last interaction: a cutoff here sees everything."""
        return self.interactions["timestamp"].max() + pd.Timedelta(seconds=1)

    def history(self, cutoff: Any) -> ShopHistory:
        cutoff = pd.Timestamp(cutoff)
        before = self.interactions[self.interactions["timestamp"] < cutoff]
        return ShopHistory(before.reset_index(drop=True), cutoff, self.products, self.customers)

    def window(self, start: Any, end: Any) -> pd.DataFrame:
        """Interactions in ``[start, end)``: where labels come from."""
        t = self.interactions["timestamp"]
        return self.interactions[(t >= pd.Timestamp(start)) & (t < pd.Timestamp(end))]


# --------------------------------------------------------------------------------------------------
# Candidates, popularity, labels
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CandidateSettings:
    """How many candidates of each source a customer gets."""

    history: int = 50  # the customer's own most recent products
    popular: int = 50  # most bought in the last 30 days before the cutoff
    per_category: int = 10  # most bought of each of the customer's top categories
    categories: int = 3
    exclude_bought: bool = False  # shops without repeat purchases (films, books)


def popularity(history: ShopHistory, days: float | None = None) -> pd.Series:
    """Products by how many customers bought them (in the last ``days`` before the cutoff, or
    ever), most popular first; ties broken by all-time popularity, then product id."""
    buys = history.purchases
    overall = buys.groupby("product_id")["customer_id"].nunique()
    recent = history.recent(days, buys) if days else buys
    score = recent.groupby("product_id")["customer_id"].nunique().reindex(overall.index,
                                                                          fill_value=0)
    order = pd.DataFrame({"score": score, "overall": overall})
    order = order.reset_index().sort_values(["score", "overall", "product_id"],
                                            ascending=[False, False, True], kind="stable")
    return order.set_index("product_id")["score"]


def repeat_share(history: ShopHistory) -> float:
    """Share of bought (customer, product) pairs that were bought on more than one day."""
    buys = history.purchases
    if buys.empty:
        return 0.0
    days = buys.assign(day=buys["timestamp"].dt.floor("D"))
    per_pair = days.groupby(["customer_id", "product_id"])["day"].nunique()
    return float((per_pair > 1).mean())


def candidates(history: ShopHistory, customers: Iterable[str],
               settings: CandidateSettings = CandidateSettings()) -> pd.DataFrame:
    """(customer_id, product_id) pairs worth scoring for each customer, without duplicates."""
    customers = pd.Index(pd.unique(np.asarray(list(customers), dtype=object)), name="customer_id")
    log = history.interactions[history.interactions["customer_id"].isin(customers)]
    parts = []
    if settings.history:
        own = (log.groupby(["customer_id", "product_id"], sort=False)["timestamp"].max()
               .reset_index().sort_values(["customer_id", "timestamp"], ascending=[True, False],
                                          kind="stable"))
        parts.append(own.groupby("customer_id").head(settings.history)[KEYS["pair"]])
    recent = popularity(history, RECENT_DAYS)
    if settings.popular and len(recent):
        top = recent.index[: settings.popular]
        parts.append(pd.DataFrame({"customer_id": np.repeat(customers.to_numpy(), len(top)),
                                   "product_id": np.tile(np.asarray(top, dtype=object),
                                                         len(customers))}))
    if settings.per_category and history.products is not None and len(recent):
        parts.append(_category_candidates(history, log, recent, settings))
    if not parts:
        return pd.DataFrame(columns=KEYS["pair"], dtype=object)
    pairs = pd.concat(parts, ignore_index=True).drop_duplicates(KEYS["pair"])
    if settings.exclude_bought:
        bought = history.purchases[KEYS["pair"]].drop_duplicates()
        pairs = pairs.merge(bought, how="left", indicator=True)
        pairs = pairs[pairs["_merge"] == "left_only"].drop(columns="_merge")
    return pairs.sort_values(KEYS["pair"], kind="stable").reset_index(drop=True)


def _category_candidates(history: ShopHistory, log: pd.DataFrame, recent: pd.Series,
                         settings: CandidateSettings) -> pd.DataFrame:
    log = log.assign(category=history.category_of(log["product_id"]).to_numpy()).dropna(
        subset=["category"])
    favourite = (log.groupby(["customer_id", "category"]).size().rename("n").reset_index()
                 .sort_values(["customer_id", "n", "category"], ascending=[True, False, True])
                 .groupby("customer_id").head(settings.categories))
    ranked = pd.DataFrame({"product_id": recent.index,
                           "category": history.category_of(recent.index).to_numpy()})
    best = ranked.dropna().groupby("category").head(settings.per_category)
    return favourite.merge(best, on="category")[KEYS["pair"]]


def labels(shop: ShopData, cutoff: Any, horizon: pd.Timedelta) -> pd.DataFrame:
    """(customer_id, product_id) pairs bought in ``[cutoff, cutoff + horizon)``."""
    cutoff = pd.Timestamp(cutoff)
    window = shop.window(cutoff, cutoff + horizon)
    return window[window["event_type"] == "purchase"][KEYS["pair"]].drop_duplicates()


# --------------------------------------------------------------------------------------------------
# Features and training tables
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureFailure:
    plugin: str
    error: str


@dataclass
class FeatureReport:
    """Which shop feature plugins produced which columns (failures are warned, not fatal)."""

    columns: dict[str, list[str]] = field(default_factory=dict)
    failures: list[FeatureFailure] = field(default_factory=list)


def shop_features(history: ShopHistory, pairs: pd.DataFrame, registry: Any,
                  report: FeatureReport | None = None) -> pd.DataFrame:
    """``pairs`` with every registered shop feature plugin's columns as of ``history.cutoff``.

    A plugin that raises, or returns the wrong number of rows or non-numeric columns, is skipped
    with a warning naming it; the others still run.
    """
    report = report if report is not None else FeatureReport()
    out = pairs.reset_index(drop=True).copy()
    specs = sorted(registry.shop_features.values(), key=lambda r: r.name)
    for reg in specs:
        spec = reg.spec
        keys = out[KEYS[spec.level]].drop_duplicates().reset_index(drop=True)
        try:
            values = _checked(spec.compute(history, keys.copy()), keys, spec.name)
        except Exception as exc:  # a failing plugin never kills a run
            message = f"{type(exc).__name__}: {exc}"
            report.failures.append(FeatureFailure(spec.name, message))
            warnings.warn(f"Shop feature plugin {spec.name!r} ({reg.plugin}) failed and is "
                          f"skipped: {message}", RuntimeWarning, stacklevel=2)
            continue
        clash = [c for c in values.columns if c in out.columns]
        if clash:
            raise PluginError(f"Shop feature plugin {spec.name!r} returns column(s) {clash} that "
                              "another plugin (or the ids) already use.")
        report.columns[spec.name] = list(values.columns)
        out = out.merge(pd.concat([keys, values], axis=1), on=KEYS[spec.level], how="left")
    return out


def _checked(values: Any, keys: pd.DataFrame, name: str) -> pd.DataFrame:
    if not isinstance(values, pd.DataFrame):
        raise PluginError(f"compute returned {type(values).__name__}, not a DataFrame")
    if len(values) != len(keys):
        raise PluginError(f"compute returned {len(values)} rows for {len(keys)} keys")
    values = values.reset_index(drop=True).drop(columns=[c for c in keys.columns
                                                         if c in values.columns])
    bad = [c for c in values.columns if not pd.api.types.is_numeric_dtype(values[c])]
    if bad:
        raise PluginError(f"compute returned non-numeric column(s) {bad}")
    return values.astype(np.float64)


@dataclass(frozen=True)
class TableSettings:
    """What rows a training table gets."""

    candidates: CandidateSettings = CandidateSettings()
    negatives: int | None = 20  # sampled negatives per customer; None keeps every candidate
    positive_customers_only: bool = True  # rank: a customer without purchases teaches nothing
    # rank: ``negatives`` per positive, so every customer has the same share of positives and
    # the model learns what sets a bought product apart, not which customers buy much
    per_positive: bool = False

    def every_candidate(self) -> "TableSettings":
        """The same candidates, none sampled away: what evaluation and serving score."""
        return replace(self, negatives=None, positive_customers_only=False)


def build_table(shop: ShopData, cutoff: Any, horizon: pd.Timedelta, registry: Any, *,
                customers: Iterable[str] | None = None, settings: TableSettings = TableSettings(),
                seed: int = 0, report: FeatureReport | None = None) -> pd.DataFrame:
    """Rows of (customer, candidate product) with features strictly from before ``cutoff`` and
    ``label`` 1 when the customer bought the product in ``[cutoff, cutoff + horizon)``.

    :param customers: whom to describe; default every customer seen before the cutoff.
    """
    cutoff = pd.Timestamp(cutoff)
    history = shop.history(cutoff)
    if history.interactions.empty:
        raise DataError(f"Nothing happened before the cutoff {cutoff}; choose a later one.")
    if customers is None:
        customers = history.interactions["customer_id"].unique()
    pairs = candidates(history, customers, settings.candidates)
    bought = labels(shop, cutoff, horizon).assign(label=1)
    pairs = pairs.merge(bought, on=KEYS["pair"], how="left")
    pairs["label"] = pairs["label"].fillna(0).astype(int)
    if settings.positive_customers_only:
        positive = pairs.groupby("customer_id")["label"].transform("max") > 0
        pairs = pairs[positive]
    if settings.negatives is not None:
        pairs = _sample_negatives(pairs, settings.negatives, seed, settings.per_positive)
    table = shop_features(history, pairs[KEYS["pair"]], registry, report)
    table.insert(2, "cutoff", cutoff)
    table["label"] = pairs["label"].to_numpy()
    return table


def _sample_negatives(pairs: pd.DataFrame, negatives: int, seed: int,
                      per_positive: bool = False) -> pd.DataFrame:
    """All positives, and at most ``negatives`` random negatives per customer (or per positive
    of the customer)."""
    rng = np.random.RandomState(seed)
    pairs = pairs.assign(_r=rng.random_sample(len(pairs)))
    pairs["_k"] = pairs[pairs["label"] == 0].groupby("customer_id")["_r"].rank(method="first")
    limit = negatives
    if per_positive:
        limit = negatives * pairs.groupby("customer_id")["label"].transform("sum").clip(lower=1)
    keep = (pairs["label"] == 1) | (pairs["_k"] <= limit)
    return pairs[keep].drop(columns=["_r", "_k"]).reset_index(drop=True)


def feature_columns(table: pd.DataFrame) -> list[str]:
    """The model's input columns of a training table: everything but ids, cutoff and label."""
    return [c for c in table.columns if c not in ("customer_id", "product_id", "cutoff",
                                                  "label")]


def to_timedelta(value: Any) -> pd.Timedelta:
    """``30`` (days), ``"30D"``, ``"2W"`` or a Timedelta."""
    try:
        if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
            delta = pd.Timedelta(days=float(value))
        else:
            delta = pd.Timedelta(value)
    except (TypeError, ValueError, OverflowError):
        delta = pd.NaT
    if delta is pd.NaT:  # nan, inf, text that is no duration
        raise DataError(f"Cannot read {value!r} as a duration; write e.g. 30 (days) or '30D'.")
    if delta <= pd.Timedelta(0):
        raise DataError(f"The horizon must be positive, not {value!r}.")
    return delta


def describe_settings(settings: TableSettings) -> Mapping[str, Any]:
    c = settings.candidates
    return {"history": c.history, "popular": c.popular, "per_category": c.per_category,
            "categories": c.categories, "exclude_bought": c.exclude_bought,
            "negatives": settings.negatives,
            "negatives_per": "positive" if settings.per_positive else "customer"}
