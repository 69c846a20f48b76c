"""``fit_shop``: shop tables -> leakage-free training tables -> search -> ONNX scorer, evaluated
as a ranking against popularity baselines, exported with a feature snapshot; ``recommend``.

Time is split the way a shop's future is: training tables at ``cutoffs`` (labels in the
``horizon`` after each, windows never reaching the test cutoff), the search's validation split
by customer, and the shop leaderboard at ``test_cutoff`` (labels in the horizon after it), where
every known customer who bought something is ranked over all of their candidates.

The run directory holds what a service needs and nothing it has to unpickle: ``model.onnx`` (the
scorer: feature columns in, purchase probability out), ``snapshot/`` (``customers.parquet``,
``products.parquet`` and ``candidates.parquet``: the features as of the end of the data, joined
on the ids to make the scorer's input; ``popular.parquet`` for customers it has never seen),
``shop.json`` (settings, feature columns by table, metrics) and ``ranking.csv`` (the shop
leaderboard), beside the usual ``model_card.json``, ``leaderboard.csv`` and ``schema.json``.
"""
from __future__ import annotations

import json
import os
import re
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from . import ranking
from .errors import DataError, ExportError
from .shop_tables import validate_table
from .shop import (KEYS, RECENT_DAYS, CandidateSettings, FeatureReport, ShopData, TableSettings,
                   build_table, describe_settings, feature_columns, labels, popularity,
                   repeat_share, to_timedelta)

TASKS = ("rank", "purchase")
SHOP_ARTIFACTS = ("shop.json", "ranking.csv", "snapshot")
SNAPSHOT = "snapshot"
TABLE_FILES = ("orders", "events", "products", "customers")
TABLE_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".txt", ".parquet", ".pq")
ID_COLUMNS = ("order_id", "customer_id", "product_id", "session_id", "clicked_product_id",
              "bought_product_id")
RFM = ("c_recency", "c_frequency", "c_monetary")


@dataclass
class ShopResult:
    """A shop run: ``leaderboard`` is the shop leaderboard (model and baselines at the test
    cutoff), ``fit`` the underlying :class:`automl_guide.FitResult` of the scorer."""

    leaderboard: pd.DataFrame
    fit: Any
    out: Path | None
    card: dict[str, Any]

    def recommend(self, customer_id: str, k: int = 10) -> pd.DataFrame:
        if self.out is None:
            raise ExportError("This run kept nothing on disk (out=None); recommend needs the "
                              "exported files.")
        return recommend(self.out, customer_id, k)


def load_shop(data: ShopData | Mapping[str, pd.DataFrame] | str | os.PathLike) -> ShopData:
    """A :class:`ShopData` from tables, or a directory of ``orders``, ``events``, ``products``,
    ``customers`` and ``queries`` files (``NAME.csv``, ``NAME.csv.gz``, ``NAME.tsv``,
    ``NAME.txt``, ``NAME.parquet`` or ``NAME.pq``, in any case, or a folder of Parquet parts).
    Ids in a CSV are read as written (``0023`` keeps its zeros)."""
    if isinstance(data, ShopData):
        return data
    if isinstance(data, Mapping):
        unknown = set(data) - set(TABLE_FILES) - {"queries"}
        if unknown:
            raise DataError(f"Unknown shop table(s) {sorted(unknown)}; the tables are "
                            f"{', '.join(TABLE_FILES)}, queries.")
        tables = dict(data)
    else:
        tables = _read_tables(Path(data))
    if tables.get("queries") is not None:  # checked, though no feature reads it yet
        validate_table("queries", tables["queries"])
    return ShopData.from_tables(**{k: v for k, v in tables.items() if k in TABLE_FILES})


def _read_tables(folder: Path) -> dict[str, pd.DataFrame]:
    from .data import load_table

    if not folder.is_dir():
        raise DataError(f"{folder} is not a directory of shop tables (orders.csv, events.csv, "
                        "products.csv, customers.csv; CSV, TSV or Parquet).")
    entries = list(folder.iterdir())
    tables, unread = {}, []
    for name in (*TABLE_FILES, "queries"):
        # a file, or a folder of Parquet parts as Spark and Hive write one (orders.parquet/)
        found = sorted(p for p in entries if p.name.lower() in (
            {f"{name}{suffix}" for suffix in TABLE_SUFFIXES} if p.is_file()
            else {name, f"{name}.parquet"}))
        if len(found) > 1:
            raise DataError(f"{folder} holds {len(found)} {name} tables "
                            f"({', '.join(p.name for p in found)}); keep one.")
        if found:
            tables[name] = (load_table(found[0], text=ID_COLUMNS) if found[0].is_file()
                            else _parquet_parts(found[0]))
        unread += [p.name for p in entries if p.name.lower().startswith(name + ".")
                   and p not in found]
    if unread:
        warnings.warn(f"Not read from {folder}: {', '.join(sorted(unread))} (a table is "
                      f"NAME{', NAME'.join(TABLE_SUFFIXES)}).", UserWarning, stacklevel=3)
    if not tables.keys() & {"orders", "events"}:
        raise DataError(f"{folder} holds no orders or events table (orders.csv, events.csv; "
                        "CSV, TSV or Parquet)" + (f"; not read: {', '.join(sorted(unread))}"
                                             if unread else "") + ".")
    return tables


def _parquet_parts(folder: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(folder)
    except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
        raise DataError(f"Could not read the folder {folder} as Parquet parts: {exc}") from None


def plan_cutoffs(shop: ShopData, horizon: pd.Timedelta, test_cutoff: Any = None,
                 cutoffs: Sequence[Any] | None = None, n_cutoffs: int = 3,
                 test_horizon: pd.Timedelta | None = None
                 ) -> tuple[list[pd.Timestamp], pd.Timestamp]:
    """Training cutoffs and the test cutoff: by default the test cutoff leaves one test horizon
    of data after it, and the training cutoffs step back one (training) horizon at a time, so no
    training label window reaches into the test window."""
    test_horizon = test_horizon or horizon
    test = _date("test cutoff", test_cutoff) if test_cutoff is not None else shop.end - test_horizon
    if not shop.start < test < shop.end:
        raise DataError(f"The test cutoff {test} must fall inside the data ({shop.start} to "
                        f"{shop.end}); with a horizon of {_days(horizon)} the data must span "
                        "more than two horizons.")
    if cutoffs is None:
        cutoffs = [test - i * horizon for i in range(n_cutoffs, 0, -1)]
        cutoffs = [c for c in cutoffs if c > shop.start + horizon / 2]
    cutoffs = sorted(_date("cutoff", c) for c in cutoffs)
    late = [str(c) for c in cutoffs if c + horizon > test]
    if late:
        raise DataError(f"Training cutoff(s) {', '.join(late)} plus the {_days(horizon)} horizon "
                        f"reach past the test cutoff {test}: their labels would overlap the test "
                        "window. Choose earlier cutoffs or a shorter horizon.")
    if not cutoffs:
        raise DataError(f"The data ({shop.start:%Y-%m-%d} to {shop.end:%Y-%m-%d}) leaves no room "
                        f"for a training cutoff before the test cutoff {test:%Y-%m-%d} with a "
                        f"horizon of {_days(horizon)}; shorten the horizon.")
    return cutoffs, test


def _days(span: pd.Timedelta) -> str:
    """30 days, 0.5 days: a horizon of hours is not "0 days"."""
    days = span / pd.Timedelta(days=1)
    return f"{days:g} day{'' if days == 1 else 's'}"


def _date(what: str, value: Any) -> pd.Timestamp:
    """``value`` as a naive UTC date; 01/02/2026 is refused (a shop's tables may be written day
    first or month first, and nothing says which this one is), 31/01/2026 read as it must be."""
    slashed = re.match(r"\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})\b", value) if isinstance(
        value, str) else None
    first, second = (int(slashed[1]), int(slashed[2])) if slashed else (0, 0)
    if slashed and first != second and max(first, second) <= 12:
        year = slashed[3] if len(slashed[3]) == 4 else f"20{slashed[3]}"
        raise DataError(f"The {what} {value!r} reads as day first or month first; write it year "
                        f"first: {year}-{second:02d}-{first:02d} or {year}-{first:02d}-"
                        f"{second:02d}.")
    try:
        date = pd.to_datetime(value, dayfirst=first > 12) if slashed else pd.Timestamp(value)
    except (TypeError, ValueError, OverflowError):
        date = pd.NaT
    if date is pd.NaT:
        raise DataError(f"Cannot read the {what} {value!r} as a date; write e.g. 2024-03-01.")
    return date.tz_convert(None) if date.tz is not None else date


def _warn_misdated(interactions: pd.DataFrame) -> None:
    """Interactions dated after today (a typo'd year moves every cutoff, planned from the end of
    the data) or before 1990 (days since the epoch, read as seconds, land in January 1970)."""
    stamps = interactions["timestamp"]
    for rows, when, why in (
            (stamps > pd.Timestamp.now() + pd.Timedelta(days=1), "after today",
             "the cutoffs are planned from the end of the data, so fix or drop them"),
            (stamps < pd.Timestamp("1990-01-01"), "before 1990",
             "numbers are read as seconds since the epoch (milliseconds from 1e11): write days "
             "or other units as dates")):
        if rows.any():
            first = interactions[rows].iloc[0]
            warnings.warn(f"{int(rows.sum())} interaction(s) are dated {when} (customer "
                          f"{first['customer_id']!r}, product {first['product_id']!r}: "
                          f"{first['timestamp']}); {why}.", UserWarning, stacklevel=3)


def fit_shop(data: Any, *, task: str = "rank", horizon: Any = 30, cutoffs: Sequence[Any] | None
             = None, test_cutoff: Any = None, n_cutoffs: int = 3, k: int = 10,
             negatives: int | None = None, candidates: CandidateSettings | None = None,
             test_horizon: Any = None,
             time_budget: float | None = 120.0, max_trials: int | None = None,
             models: Sequence[str] | None = None, searcher: str = "random",
             out: str | os.PathLike | None = "automl_guide_shop", overwrite: bool = False,
             seed: int = 0, quiet: bool = False, max_predict_us: float | None = None,
             plugins: Iterable[Any] = ()) -> ShopResult:
    """Build a purchase or ranking model from a shop's tables and export it for serving.

    :param data: a :class:`ShopData`, a dict of tables (``orders``, ``events``, ``products``,
        ``customers``) or a directory of such CSV/Parquet files. ``orders`` or ``events`` may
        stand alone.
    :param task: ``rank`` (order each customer's candidates; NDCG/HitRate/MAP@k against
        popularity baselines) or ``purchase`` (propensity of buying a candidate within the
        horizon; ROC AUC against popularity and a logistic regression on RFM).
    :param horizon: label window after each cutoff: days, or a string such as ``"30D"``.
    :param test_horizon: label window after the test cutoff when it differs from ``horizon``
        (CDNOW: learn on 13-week windows, predict the next 39 weeks).
    :param cutoffs: training cutoffs; default ``n_cutoffs`` cutoffs one horizon apart before
        the test cutoff. Their label windows must end by the test cutoff.
    :param test_cutoff: where the shop leaderboard is measured; default one horizon before the
        end of the data.
    :param k: the cut-off rank of the ranking metrics.
    :param negatives: sampled non-bought candidates in the training table, per bought one
        (``rank``, default 10) or per customer and cutoff (``purchase``, default 20);
        evaluation always ranks every candidate.
    :param candidates: how many candidates each source gives; products already bought are left
        out automatically when the shop has (almost) no repeat purchases.
    Other parameters are those of :func:`automl_guide.fit_and_export`; the budget covers the
    whole run.
    """
    from .engine import fit as run_engine
    from .options import FitConfig
    from .files import write_atomic
    from .progress import Progress
    from .registry import load_registry

    start = time.monotonic()
    if time_budget == 0:
        time_budget = None  # --time-budget 0: no limit, as in fit
    if task not in TASKS:
        raise DataError(f"Unknown shop task {task!r}; choose one of {', '.join(TASKS)}.")
    _check_count("k", k)
    if negatives is not None:
        _check_count("negatives", negatives)
    say = Progress(None, None, quiet).say
    registry = load_registry(plugins)
    if not registry.shop_features:
        raise DataError("No shop feature plugin is registered; reinstall automl-guide.")
    out = Path(out) if out is not None else None
    if out is not None:
        _check_out(out, overwrite)
    shop = load_shop(data)
    if not (shop.interactions["event_type"] == "purchase").any():
        raise DataError(f"The shop has no purchases ({' and '.join(shop.tables)} given; no "
                        "orders table and no 'purchase' events): there is nothing to learn to "
                        "recommend.")
    _warn_misdated(shop.interactions)
    horizon = to_timedelta(horizon)
    test_horizon = to_timedelta(test_horizon) if test_horizon is not None else horizon
    train_cutoffs, test = plan_cutoffs(shop, horizon, test_cutoff, cutoffs, n_cutoffs,
                                       test_horizon)
    exclude = repeat_share(shop.history(test)) < 0.01
    if negatives is None:
        negatives = 10 if task == "rank" else 20
    settings = TableSettings(replace(candidates or CandidateSettings(), exclude_bought=exclude),
                             negatives, positive_customers_only=task == "rank",
                             per_positive=task == "rank")
    report = FeatureReport()
    table = pd.concat([build_table(shop, c, horizon, registry, settings=settings, seed=seed + i,
                                   report=report) for i, c in enumerate(train_cutoffs)],
                      ignore_index=True)
    if table.empty or table["label"].sum() == 0:
        raise DataError(f"No candidate was bought within {_days(horizon)} of the training "
                        f"cutoffs {', '.join(f'{c:%Y-%m-%d}' for c in train_cutoffs)}; choose "
                        "later cutoffs or a longer horizon.")
    need = 3 if task == "rank" else 2
    if table["customer_id"].nunique() < need:
        raise DataError(f"The training table holds {table['customer_id'].nunique()} customer(s); "
                        "the search validates on customers it did not train on ("
                        f"{'3 folds of them' if task == 'rank' else 'a held-out share'}), so it "
                        f"needs at least {need}: give more customers' data, or earlier cutoffs.")
    say(f"automl-guide shop ({task}): {len(shop.interactions)} interactions; training table "
        f"{len(table)} rows from cutoffs {', '.join(f'{c:%Y-%m-%d}' for c in train_cutoffs)}, "
        f"horizon {_days(horizon)}; test cutoff {test:%Y-%m-%d}"
        f"{'; no repeat purchases: bought products are not recommended again' if exclude else ''}")
    columns = feature_columns(table)
    budget = None
    if time_budget is not None:
        budget = max(10.0, time_budget - (time.monotonic() - start) - _evaluation_reserve(
            time_budget))
    # rank: trials are judged by NDCG@k within each customer's rows, the order a ranking needs,
    # over 3 folds of customers (a 20 % holdout held too few customers to choose families by).
    # Every row trains the exported model: the shop's own test is at the test cutoff.
    config = FitConfig("label", "binary", budget, max_trials, tuple(models) if models else None,
                       searcher, f"ndcg@{k}" if task == "rank" else None, out, seed,
                       validation="cv" if task == "rank" else "auto", folds=3, test_size=0.0,
                       overwrite=overwrite, quiet=quiet, max_predict_us=max_predict_us)
    # a query is one customer at one cutoff: what ranking families order rows within
    queries = (table.groupby(["cutoff", "customer_id"], sort=False).ngroup().to_numpy()
               if task == "rank" else None)
    with warnings.catch_warnings():  # a shop's count features may be constant at one cutoff
        warnings.filterwarnings("ignore", message="Column .* is not used")
        fit = run_engine(table[columns + ["label"]], config, registry,
                         groups=table["customer_id"].to_numpy(), queries=queries)
    inputs = [c["name"] for c in fit.card["inputs"]]
    if task == "rank":
        board = _rank_leaderboard(shop, test, test_horizon, registry, settings, fit, k, exclude)
    else:
        board = _purchase_leaderboard(shop, test, test_horizon, registry, settings, fit, table)
    say(board.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    card = {"task": task, "horizon_days": horizon / pd.Timedelta(days=1),
            "test_horizon_days": test_horizon / pd.Timedelta(days=1),
            "cutoffs": [str(c) for c in train_cutoffs], "test_cutoff": str(test), "k": k,
            "exclude_bought": bool(exclude), "candidates": describe_settings(settings),
            "tables": list(shop.tables), "training_rows": int(len(table)),
            "selection": {"by": f"{fit.card['metric']['name']} on the search's validation "
                          "customers" + (" (within each customer at each cutoff)"
                                         if task == "rank" else "")},
            "positive_rate": float(table["label"].mean()), "inputs": inputs,
            "features": report.columns,
            "feature_failures": [f.__dict__ for f in report.failures],
            "leaderboard": json.loads(board.to_json(orient="records"))}
    if out is not None:
        card["snapshot"] = _write_snapshot(out / SNAPSHOT, shop, registry, settings, inputs)
        card["snapshot_at"] = str(shop.end)
        write_atomic(out / "ranking.csv", board.to_csv(index=False).encode())
        write_atomic(out / "shop.json", json.dumps(card, indent=1, default=str).encode())
        say(f"Shop model, feature snapshot and leaderboard in {out}; try `automl-guide "
            f"recommend {out} --customer ID`")
    return ShopResult(board, fit, out, card)


def held_out_truth(shop: ShopData, cutoff: pd.Timestamp, horizon: pd.Timedelta, exclude: bool
              ) -> tuple[dict[str, set], dict[str, set], pd.DataFrame]:
    """What known customers bought in the window after ``cutoff`` (less what they had already
    bought, when the shop has no repeat purchases): the truth a ranking is judged against."""
    history = shop.history(cutoff)
    known = set(history.interactions["customer_id"])
    before = ranking.relevant_sets(history.purchases[KEYS["pair"]].drop_duplicates())
    bought = labels(shop, cutoff, horizon)
    bought = bought[bought["customer_id"].isin(known)]
    if exclude:  # what a customer already has is not a recommendation
        bought = bought[[p not in before.get(c, ()) for c, p in bought[KEYS["pair"]].values]]
    return ranking.relevant_sets(bought), before, bought


def _evaluation_reserve(time_budget: float) -> float:
    return min(60.0, max(8.0, 0.15 * time_budget))


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DataError(f"{name} must be a whole number of at least 1, not {value!r}.")


def _check_out(out: Path, overwrite: bool) -> None:
    """Before any work: a shop run's files, or a plain run's (the search writes those)."""
    from .run_dir import ARTIFACTS

    existing = [name for name in SHOP_ARTIFACTS + ARTIFACTS if (out / name).exists()]
    if existing and not overwrite:
        raise ExportError(f"{out} already holds {', '.join(existing)}; choose another --out or "
                          "pass --overwrite to replace them.")


def _model_name(fit: Any) -> str:
    ensemble = fit.card.get("ensemble")
    if ensemble:
        return "model (ensemble: " + " + ".join(m["model"] for m in ensemble["members"]) + ")"
    return f"model ({fit.card['best']['model']})"


def _score(predictor: Any, frame: pd.DataFrame) -> np.ndarray:
    """Purchase probabilities from the exported ONNX graph, as a service would compute them.

    Counts and ages grow as a shop's history does, so later rows sit outside the training
    ranges by design; the predictor's drift warning says nothing new here and is silenced."""
    from .errors import DriftWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DriftWarning)
        return predictor.predict_proba(frame)[:, 1].astype(np.float64)


def _rank_leaderboard(shop: ShopData, test: pd.Timestamp, horizon: pd.Timedelta, registry: Any,
                      settings: TableSettings, fit: Any, k: int, exclude: bool) -> pd.DataFrame:
    history = shop.history(test)
    relevant, before, bought = held_out_truth(shop, test, horizon, exclude)
    if not relevant:
        raise DataError(f"No known customer bought anything in the {_days(horizon)} after the "
                        f"test cutoff {test}; nothing to rank.")
    table = build_table(shop, test, horizon, registry, customers=sorted(relevant),
                        settings=settings.every_candidate())
    rows = [("model", ranking.top_k_by_score(table, _score(fit.predictor, table), k))]
    for name, days in (("popularity (all history)", None),
                       (f"popularity (last {RECENT_DAYS} days)", RECENT_DAYS)):
        rows.append((name, ranking.popularity_ranking(popularity(history, days).index,
                                                      sorted(relevant), k,
                                                      before if exclude else None)))
    board = [{"ranker": name, **ranking.ranking_metrics(ranked, relevant, k)}
             for name, ranked in rows]
    candidates_hit = table.merge(bought, on=KEYS["pair"]).shape[0] / max(len(bought), 1)
    board[0]["ranker"] = _model_name(fit)
    frame = pd.DataFrame(board)
    frame["candidate_recall"] = [candidates_hit, np.nan, np.nan]
    return frame


def _purchase_leaderboard(shop: ShopData, test: pd.Timestamp, horizon: pd.Timedelta,
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
    scores = {_model_name(fit): _score(fit.predictor, table)}
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


def _write_snapshot(folder: Path, shop: ShopData, registry: Any, settings: TableSettings,
                    inputs: Sequence[str]) -> dict[str, Any]:
    """Features as of the end of the data, one Parquet file per level."""
    history = shop.history(shop.end)
    from .shop import candidates, shop_features

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
    from .files import write_atomic

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
        from .predictor import load

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

    def recommend(self, customer_id: str, k: int = 10) -> pd.DataFrame:
        """The customer's ``k`` best candidates by the scorer's purchase probability; a customer
        the snapshot does not know gets the recent best sellers (``source`` says which)."""
        _check_count("k", k)
        if isinstance(customer_id, float) and customer_id.is_integer():
            customer_id = int(customer_id)  # 30.0 from a spreadsheet is customer 30
        customer_id = str(customer_id).strip()
        rows = self.candidates.get(customer_id)
        if rows is None or customer_id not in self.customers.index:
            top = self.popular.head(k)
            return pd.DataFrame({"rank": np.arange(1, len(top) + 1), "product_id": top[
                "product_id"].to_numpy(), "score": np.nan, "source": "popular (unknown customer)"})
        frame = rows.join(self.products, on="product_id")
        for column, value in self.customers.loc[customer_id].items():
            frame[column] = value
        score = _score(self.predictor, frame[self.card["inputs"]])
        best = frame.assign(score=score).sort_values(["score", "product_id"],
                                                     ascending=[False, True]).head(k)
        return pd.DataFrame({"rank": np.arange(1, len(best) + 1),
                             "product_id": best["product_id"].to_numpy(),
                             "score": best["score"].to_numpy(), "source": "model"})


def recommend(run_dir: str | os.PathLike, customer_id: str, k: int = 10) -> pd.DataFrame:
    """Rank ``customer_id``'s candidates with the exported ONNX model of the shop run in
    ``run_dir``: columns ``rank``, ``product_id``, ``score`` and ``source``."""
    return Recommender(run_dir).recommend(customer_id, k)
