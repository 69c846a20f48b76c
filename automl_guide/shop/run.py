"""``fit_shop``: shop tables -> leakage-free training tables -> search -> ONNX scorer, evaluated
as a ranking against popularity baselines, exported with a feature snapshot (which
:mod:`automl_guide.shop.snapshot`'s ``recommend`` serves).

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
from typing import Any, Iterable, Sequence

import pandas as pd

from ..errors import DataError, ExportError
from ..options import make_config
from ..progress import Progress
from ..runtime import require_training
from .evaluate import days_text, purchase_leaderboard, rank_leaderboard
from .load import load_shop
from .snapshot import SNAPSHOT, check_count, recommend, write_snapshot
from .history import (CandidateSettings, FeatureReport, ShopData, TableSettings, build_table,
                      describe_settings, feature_columns, repeat_share, to_timedelta)

TASKS = ("rank", "purchase")
SHOP_ARTIFACTS = ("shop.json", "ranking.csv", "snapshot")


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
                        f"{shop.end}); with a horizon of {days_text(horizon)} the data must span "
                        "more than two horizons.")
    if cutoffs is None:
        cutoffs = [test - i * horizon for i in range(n_cutoffs, 0, -1)]
        cutoffs = [c for c in cutoffs if c > shop.start + horizon / 2]
    cutoffs = sorted(_date("cutoff", c) for c in cutoffs)
    late = [str(c) for c in cutoffs if c + horizon > test]
    if late:
        raise DataError(f"Training cutoff(s) {', '.join(late)} plus the {days_text(horizon)} "
                        "horizon "
                        f"reach past the test cutoff {test}: their labels would overlap the test "
                        "window. Choose earlier cutoffs or a shorter horizon.")
    if not cutoffs:
        raise DataError(f"The data ({shop.start:%Y-%m-%d} to {shop.end:%Y-%m-%d}) leaves no room "
                        f"for a training cutoff before the test cutoff {test:%Y-%m-%d} with a "
                        f"horizon of {days_text(horizon)}; shorten the horizon.")
    return cutoffs, test


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
    start = time.monotonic()
    require_training("fit_shop")
    time_budget = None if time_budget == 0 else time_budget  # 0: no limit, as in fit
    out = Path(out) if out is not None else None
    registry = _check_before_work(task, k, negatives, plugins, out, overwrite)
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
    settings = TableSettings(replace(candidates or CandidateSettings(), exclude_bought=exclude),
                             negatives or (10 if task == "rank" else 20),
                             positive_customers_only=task == "rank", per_positive=task == "rank")
    report = FeatureReport()
    table = _training_table(shop, train_cutoffs, horizon, registry, settings, seed, report, task)
    say = Progress(None, None, quiet).say
    say(f"automl-guide shop ({task}): {len(shop.interactions)} interactions; training table "
        f"{len(table)} rows from cutoffs {', '.join(f'{c:%Y-%m-%d}' for c in train_cutoffs)}, "
        f"horizon {days_text(horizon)}; test cutoff {test:%Y-%m-%d}"
        f"{'; no repeat purchases: bought products are not recommended again' if exclude else ''}")
    budget = None if time_budget is None else max(
        10.0, time_budget - (time.monotonic() - start) - _evaluation_reserve(time_budget))
    fit = _fit_scorer(table, registry, task, k, time_budget=budget, max_trials=max_trials,
                      models=models, searcher=searcher, out=out, seed=seed, overwrite=overwrite,
                      quiet=quiet, max_predict_us=max_predict_us)
    if task == "rank":
        board = rank_leaderboard(shop, test, test_horizon, registry, settings, fit, k, exclude)
    else:
        board = purchase_leaderboard(shop, test, test_horizon, registry, settings, fit, table)
    say(board.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    card = {"task": task, "horizon_days": horizon / pd.Timedelta(days=1),
            "test_horizon_days": test_horizon / pd.Timedelta(days=1),
            "cutoffs": [str(c) for c in train_cutoffs], "test_cutoff": str(test), "k": k,
            "exclude_bought": bool(exclude), **_run_facts(shop, settings, table, fit, task,
                                                         report, board)}
    if out is not None:
        _write_shop_run(out, shop, registry, settings, card, board)
        say(f"Shop model, feature snapshot and leaderboard in {out}; try `automl-guide "
            f"recommend {out} --customer ID`")
    return ShopResult(board, fit, out, card)


def _fit_scorer(table: pd.DataFrame, registry: Any, task: str, k: int, **options: Any) -> Any:
    """The engine's run on the training table: rank judges trials by NDCG@k within each
    customer's rows at each cutoff (the order a ranking needs), over 3 folds of customers (a 20 %
    holdout held too few customers to choose families by); every row trains the exported model
    (the shop's own test is at the test cutoff)."""
    from ..engine import fit

    config = make_config("label", task="binary", metric=f"ndcg@{k}" if task == "rank" else None,
                         validation="cv" if task == "rank" else "auto", folds=3, test_size=0.0,
                         **options)
    # a query is one customer at one cutoff: what ranking families order rows within
    queries = (table.groupby(["cutoff", "customer_id"], sort=False).ngroup().to_numpy()
               if task == "rank" else None)
    with warnings.catch_warnings():  # a shop's count features may be constant at one cutoff
        warnings.filterwarnings("ignore", message="Column .* is not used")
        return fit(table[feature_columns(table) + ["label"]], config, registry,
                   groups=table["customer_id"].to_numpy(), queries=queries)


def _check_before_work(task: str, k: Any, negatives: Any, plugins: Iterable[Any],
                       out: Path | None, overwrite: bool) -> Any:
    """The options and the output directory checked before the data is read; the registry."""
    from ..registry import load_registry

    if task not in TASKS:
        raise DataError(f"Unknown shop task {task!r}; choose one of {', '.join(TASKS)}.")
    check_count("k", k)
    if negatives is not None:
        check_count("negatives", negatives)
    registry = load_registry(plugins)
    if not registry.shop_features:
        raise DataError("No shop feature plugin is registered; reinstall automl-guide.")
    if out is not None:
        _check_out(out, overwrite)
    return registry


def _training_table(shop: ShopData, train_cutoffs: Sequence[pd.Timestamp],
                    horizon: pd.Timedelta, registry: Any, settings: TableSettings, seed: int,
                    report: FeatureReport, task: str) -> pd.DataFrame:
    """The training rows of every cutoff, refused when nothing was bought or too few customers
    are left to validate on."""
    table = pd.concat([build_table(shop, c, horizon, registry, settings=settings, seed=seed + i,
                                   report=report) for i, c in enumerate(train_cutoffs)],
                      ignore_index=True)
    if table.empty or table["label"].sum() == 0:
        raise DataError(f"No candidate was bought within {days_text(horizon)} of the training "
                        f"cutoffs {', '.join(f'{c:%Y-%m-%d}' for c in train_cutoffs)}; choose "
                        "later cutoffs or a longer horizon.")
    need = 3 if task == "rank" else 2
    if table["customer_id"].nunique() < need:
        raise DataError(f"The training table holds {table['customer_id'].nunique()} customer(s); "
                        "the search validates on customers it did not train on ("
                        f"{'3 folds of them' if task == 'rank' else 'a held-out share'}), so it "
                        f"needs at least {need}: give more customers' data, or earlier cutoffs.")
    return table


def _run_facts(shop: ShopData, settings: TableSettings, table: pd.DataFrame, fit: Any,
               task: str, report: FeatureReport, board: pd.DataFrame) -> dict[str, Any]:
    """What shop.json says of the run besides its time plan."""
    return {
        "candidates": describe_settings(settings), "tables": list(shop.tables),
        "training_rows": int(len(table)),
        "selection": {"by": f"{fit.card['metric']['name']} on the search's validation "
                      "customers" + (" (within each customer at each cutoff)"
                                     if task == "rank" else "")},
        "positive_rate": float(table["label"].mean()),
        "inputs": [c["name"] for c in fit.card["inputs"]], "features": report.columns,
        "feature_failures": [f.__dict__ for f in report.failures],
        "leaderboard": json.loads(board.to_json(orient="records"))}


def _write_shop_run(out: Path, shop: ShopData, registry: Any, settings: TableSettings,
                    card: dict[str, Any], board: pd.DataFrame) -> None:
    """The snapshot, ranking.csv and shop.json beside the engine's files."""
    from ..files import write_atomic

    card["snapshot"] = write_snapshot(out / SNAPSHOT, shop, registry, settings, card["inputs"])
    card["snapshot_at"] = str(shop.end)
    write_atomic(out / "ranking.csv", board.to_csv(index=False).encode())
    write_atomic(out / "shop.json", json.dumps(card, indent=1, default=str).encode())


def _evaluation_reserve(time_budget: float) -> float:
    return min(60.0, max(8.0, 0.15 * time_budget))


def _check_out(out: Path, overwrite: bool) -> None:
    """Before any work: a shop run's files, or a plain run's (the search writes those)."""
    from ..run_dir import ARTIFACTS

    existing = [name for name in SHOP_ARTIFACTS + ARTIFACTS if (out / name).exists()]
    if existing and not overwrite:
        raise ExportError(f"{out} already holds {', '.join(existing)}; choose another --out or "
                          "pass --overwrite to replace them.")


