"""The shop layer: leakage-free training tables, candidates, ranking metrics, fit_shop, recommend."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from automl_guide import DataError, ExportError, ShopFeatureSpec, hookimpl, load_registry
from automl_guide.ranking import popularity_ranking, ranking_metrics, top_k_by_score
from automl_guide.shop import (CandidateSettings, ShopData, TableSettings, build_table,
                               candidates, feature_columns, labels, popularity, repeat_share)
from automl_guide.shop_demo import generate_shop
from automl_guide.shop_run import plan_cutoffs

CUTOFF = pd.Timestamp("2026-04-01")
DAYS = pd.Timedelta(days=30)


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return generate_shop(n_customers=150, n_products=80, days=120, seed=1)


@pytest.fixture(scope="module")
def shop(tables) -> ShopData:
    return ShopData.from_tables(**tables)


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def _with(shop: ShopData, rows: list[tuple]) -> ShopData:
    """``shop`` with extra interactions (customer, product, event_type, timestamp)."""
    extra = pd.DataFrame(rows, columns=["customer_id", "product_id", "event_type", "timestamp"])
    extra = extra.assign(quantity=1.0, amount=10.0)
    log = pd.concat([shop.interactions, extra], ignore_index=True).sort_values(
        "timestamp", kind="stable").reset_index(drop=True)
    return ShopData(log, shop.products, shop.customers, shop.tables)


def test_trap_events_at_or_after_the_cutoff_change_no_feature(shop, registry):
    settings = TableSettings(negatives=None, positive_customers_only=False)
    before = build_table(shop, CUTOFF, DAYS, registry, settings=settings)
    customer = before["customer_id"].iloc[0]
    product = before.loc[before["customer_id"] == customer, "product_id"].iloc[0]
    rare = shop.interactions["product_id"].value_counts().index[-1]
    traps = [(customer, product, "purchase", CUTOFF),  # exactly at the cutoff: the future
             (customer, product, "purchase", CUTOFF + pd.Timedelta(days=3)),
             (customer, product, "view", CUTOFF + pd.Timedelta(hours=1)),
             (customer, rare, "cart", CUTOFF + pd.Timedelta(days=1))]
    traps += [(f"C{i:05d}", rare, "purchase", CUTOFF + pd.Timedelta(days=2)) for i in range(40)]
    after = build_table(_with(shop, traps), CUTOFF, DAYS, registry, settings=settings)
    columns = feature_columns(before)
    assert len(columns) > 30
    pd.testing.assert_frame_equal(before[["customer_id", "product_id"] + columns],
                                  after[["customer_id", "product_id"] + columns])
    # ... while the labels do see the window after the cutoff
    row = (after["customer_id"] == customer) & (after["product_id"] == product)
    assert after.loc[row, "label"].item() == 1


def test_the_same_event_before_the_cutoff_does_change_features(shop, registry):
    """The trap test could not fail if features ignored the log: here they must move."""
    settings = TableSettings(negatives=None, positive_customers_only=False)
    before = build_table(shop, CUTOFF, DAYS, registry, settings=settings)
    customer, product = before[["customer_id", "product_id"]].iloc[0]
    earlier = _with(shop, [(customer, product, "purchase", CUTOFF - pd.Timedelta(hours=1))])
    after = build_table(earlier, CUTOFF, DAYS, registry, settings=settings)
    row = (after["customer_id"] == customer) & (after["product_id"] == product)
    assert after.loc[row, "x_bought"].item() == before.loc[row, "x_bought"].item() + 1
    assert after.loc[row, "x_days_since_bought"].item() < 0.05


def test_labels_come_from_the_window_after_the_cutoff_only(shop):
    window = labels(shop, CUTOFF, DAYS)
    bought = shop.interactions[shop.interactions["event_type"] == "purchase"]
    inside = bought[(bought["timestamp"] >= CUTOFF) & (bought["timestamp"] < CUTOFF + DAYS)]
    assert set(map(tuple, window.values)) == set(map(tuple, inside[["customer_id",
                                                                   "product_id"]].values))


def test_candidates_come_from_history_popularity_and_categories(shop):
    history = shop.history(CUTOFF)
    customer = history.purchases["customer_id"].value_counts().index[0]
    pairs = candidates(history, [customer], CandidateSettings(popular=5, per_category=3))
    got = set(pairs["product_id"])
    own = set(history.interactions.loc[history.interactions["customer_id"] == customer,
                                       "product_id"])
    assert own <= got or len(own) > 50
    assert set(popularity(history, 30).index[:5]) <= got
    assert not pairs.duplicated().any()
    no_repeats = candidates(history, [customer], CandidateSettings(exclude_bought=True))
    assert not set(no_repeats["product_id"]) & set(
        history.purchases.loc[history.purchases["customer_id"] == customer, "product_id"])


def test_training_table_sampling_keeps_every_positive(shop, registry):
    full = build_table(shop, CUTOFF, DAYS, registry,
                       settings=TableSettings(negatives=None, positive_customers_only=True))
    sampled = build_table(shop, CUTOFF, DAYS, registry,
                          settings=TableSettings(negatives=2, per_positive=True))
    assert sampled["label"].sum() == full["label"].sum() > 0
    per_customer = sampled.groupby("customer_id")["label"].agg(["sum", "size"])
    assert ((per_customer["size"] - per_customer["sum"]) <= 2 * per_customer["sum"]).all()
    assert full.groupby("customer_id")["label"].max().min() == 1  # positive customers only


def test_repeat_share_tells_consumables_from_films(shop):
    assert repeat_share(shop.history(CUTOFF)) > 0.05
    once = shop.interactions.drop_duplicates(["customer_id", "product_id"])
    assert repeat_share(ShopData(once).history(CUTOFF)) == 0.0


def test_ranking_metrics_match_hand_computed_values():
    ranked = {"a": ["p1", "p2", "p3"], "b": ["p4", "p5", "p6"], "c": []}
    relevant = {"a": {"p2", "p9"}, "b": {"p4"}, "c": {"p1"}}
    got = ranking_metrics(ranked, relevant, k=3)
    ndcg_a = (1 / np.log2(3)) / (1 + 1 / np.log2(3))
    assert got["ndcg@3"] == pytest.approx((ndcg_a + 1.0 + 0.0) / 3)
    assert got["hit_rate@3"] == pytest.approx(2 / 3)
    assert got["map@3"] == pytest.approx(((1 / 2) / 2 + 1.0 + 0.0) / 3)
    assert got["customers"] == 3


def test_the_search_ndcg_per_query_equals_the_shop_leaderboard_ndcg():
    """``ndcg@K`` (the rank task's search metric, vectorised over queries) against
    ranking_metrics (the shop leaderboard's) on random queries; queries without a positive
    are left out of both."""
    from automl_guide.metrics import get_metric

    rng = np.random.RandomState(0)
    queries = np.repeat(np.arange(60), rng.randint(1, 30, 60))
    y = (rng.rand(len(queries)) < 0.15).astype(int)
    score = rng.rand(len(queries))
    frame = pd.DataFrame({"customer_id": queries.astype(str),
                          "product_id": np.arange(len(queries)).astype(str)})
    relevant = {str(q): set(frame["product_id"][(queries == q) & (y == 1)])
                for q in np.unique(queries) if y[queries == q].any()}
    for k in (1, 5, 10):
        expected = ranking_metrics(top_k_by_score(frame, score, k), relevant, k)[f"ndcg@{k}"]
        metric = get_metric(f"ndcg@{k}", "binary")
        assert metric.needs_queries and metric.mode == "max"
        shuffled = rng.permutation(len(queries))  # rows of a query need not be contiguous
        got = metric.fn(y[shuffled], np.c_[1 - score, score][shuffled], queries[shuffled])
        assert got == pytest.approx(expected)


def test_top_k_and_popularity_rankings():
    frame = pd.DataFrame({"customer_id": ["a", "a", "a", "b"], "product_id": ["x", "y", "z", "x"]})
    assert top_k_by_score(frame, [0.1, 0.9, 0.5, 0.3], 2) == {"a": ["y", "z"], "b": ["x"]}
    order = pd.Index(["p1", "p2", "p3", "p4"])
    assert popularity_ranking(order, ["a"], 2, {"a": {"p1"}}) == {"a": ["p2", "p3"]}


def test_cutoff_plan_refuses_label_windows_that_overlap_the_test(shop):
    cutoffs, test = plan_cutoffs(shop, DAYS)
    assert all(c + DAYS <= test for c in cutoffs) and len(cutoffs) >= 2
    with pytest.raises(DataError, match="overlap the test window"):
        plan_cutoffs(shop, DAYS, test_cutoff=CUTOFF, cutoffs=[CUTOFF - pd.Timedelta(days=10)])
    with pytest.raises(DataError, match="must fall inside the data"):
        plan_cutoffs(shop, pd.Timedelta(days=400))


def test_a_failing_shop_feature_plugin_is_skipped_with_a_warning(shop):
    class Broken:
        @hookimpl
        def automl_guide_register_shop_features(self, register):
            register(ShopFeatureSpec("broken", "product", lambda history, keys: 1 / 0))

    registry = load_registry([Broken()])
    with pytest.warns(RuntimeWarning, match="'broken'.*ZeroDivisionError"):
        table = build_table(shop, CUTOFF, DAYS, registry)
    assert "p_log_rank_30d" in table and len(table) > 0


def test_shop_needs_orders_or_events_and_names_bad_tables(tables):
    with pytest.raises(DataError, match="orders or an events"):
        ShopData.from_tables(products=tables["products"])
    bad = tables["events"].head(50).copy()
    bad.loc[3, "event_type"] = "wishlist"
    with pytest.raises(DataError, match="event_type"):
        ShopData.from_tables(events=bad)
    alone = ShopData.from_tables(events=tables["events"])  # events may stand alone
    assert set(alone.interactions["event_type"]) == {"view", "cart"}


def test_fit_shop_purchase_reports_rfm_and_popularity_baselines(tables, ray_session, tmp_path):
    from automl_guide import fit_shop

    result = fit_shop(tables, task="purchase", horizon=30, time_budget=None, max_trials=2,
                      models=["linear"], out=tmp_path / "run", quiet=True,
                      max_predict_us=1e6)  # a limit every trial meets: recorded, no effect
    assert result.fit.card["search"]["max_predict_us"] == 1e6
    board = result.leaderboard.set_index("ranker")
    assert {"logistic regression on RFM", "popularity (last 30 days)"} <= set(board.index)
    assert board["roc_auc"].between(0, 1).all()
    assert (tmp_path / "run" / "snapshot" / "candidates.parquet").is_file()
    with pytest.raises(ExportError, match="already holds"):
        fit_shop(tables, task="purchase", max_trials=1, models=["linear"],
                 out=tmp_path / "run", quiet=True)
    plain = tmp_path / "plain"  # a plain fit's run, refused before the tables are built
    plain.mkdir()
    (plain / "model.onnx").write_bytes(b"a user's model")
    with pytest.raises(ExportError, match="plain already holds model.onnx"):
        fit_shop(tables, task="purchase", max_trials=1, models=["linear"], out=plain,
                 quiet=True, horizon=float("nan"))  # the out check comes before all else


@pytest.fixture(scope="module")
def shop_demo(tmp_path_factory, ray_session):
    """`automl-guide demo --shop` with a short budget, run in-process."""
    from automl_guide.cli import main

    out = tmp_path_factory.mktemp("shopdemo") / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["demo", "--shop", "--time-budget", "45", "--out", str(out), "--quiet"])
    assert code == 0
    return out


def test_demo_shop_ends_with_a_recommendation_beating_popularity(shop_demo, capsys):
    board = pd.read_csv(shop_demo / "ranking.csv").set_index("ranker")
    model = board.loc[board.index.str.startswith("model")].iloc[0]
    for baseline in ("popularity (all history)", "popularity (last 30 days)"):
        assert model["ndcg@10"] > board.loc[baseline, "ndcg@10"]
    card = json.loads((shop_demo / "model_card.json").read_text())
    assert card["metric"]["name"] == "ndcg@10"  # trials judged by each customer's order
    for name in ("model.onnx", "shop.json", "model_card.json", "snapshot/customers.parquet",
                 "snapshot/products.parquet", "snapshot/candidates.parquet", "data/orders.csv"):
        assert (shop_demo / name).is_file(), name


def test_recommend_scores_equal_onnxruntime_on_the_joined_snapshot(shop_demo, capsys):
    """What another service does without automl-guide: join the Parquet files on the ids and
    run model.onnx."""
    import json

    import onnxruntime as ort

    from automl_guide import recommend
    from automl_guide.cli import main

    customer = pd.read_parquet(shop_demo / "snapshot/customers.parquet")["customer_id"].iloc[3]
    top = recommend(shop_demo, customer, k=5)
    assert list(top["rank"]) == [1, 2, 3, 4, 5] and (top["source"] == "model").all()
    assert top["score"].is_monotonic_decreasing

    inputs = json.loads((shop_demo / "shop.json").read_text())["inputs"]
    pairs = pd.read_parquet(shop_demo / "snapshot/candidates.parquet")
    rows = (pairs[pairs["customer_id"] == customer]
            .merge(pd.read_parquet(shop_demo / "snapshot/customers.parquet"), on="customer_id")
            .merge(pd.read_parquet(shop_demo / "snapshot/products.parquet"), on="product_id"))
    session = ort.InferenceSession(str(shop_demo / "model.onnx"))
    card = json.loads((shop_demo / "model_card.json").read_text())
    feeds = {c["onnx_name"]: rows[c["name"]].to_numpy(np.float32).reshape(-1, 1)
             for c in card["inputs"]}
    assert [c["name"] for c in card["inputs"]] == inputs
    proba = session.run(["probabilities"], feeds)[0][:, 1]
    expected = rows.assign(score=proba).sort_values(["score", "product_id"],
                                                    ascending=[False, True]).head(5)
    assert list(expected["product_id"]) == list(top["product_id"])
    np.testing.assert_allclose(expected["score"], top["score"], atol=1e-6)

    assert main(["recommend", str(shop_demo), "--customer", customer, "--k", "3"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "rank,product_id,score,source" and len(printed) == 4
    assert main(["recommend", str(shop_demo), "--customer", "nobody", "--k", "2"]) == 0
    said = capsys.readouterr()
    assert "popular (unknown customer)" in said.out
    assert "customer 'nobody' is not in the run's snapshot: these are the recent best" in said.err


def test_recommend_refuses_a_bad_k_and_a_damaged_run_by_name(shop_demo, tmp_path, capsys):
    import shutil

    from automl_guide import recommend
    from automl_guide.cli import main

    with pytest.raises(DataError, match=r"k must be a whole number of at least 1, not 2.5"):
        recommend(shop_demo, "C00001", k=2.5)
    damaged = tmp_path / "run"
    shutil.copytree(shop_demo, damaged)
    (damaged / "snapshot" / "candidates.parquet").unlink()
    assert main(["recommend", str(damaged), "--customer", "C00001"]) == 2
    assert "candidates.parquet is missing: the shop run is incomplete" in capsys.readouterr().err
    (damaged / "shop.json").write_text('{"task": "ra')
    assert main(["recommend", str(damaged), "--customer", "C00001"]) == 2
    assert "shop.json is damaged (" in capsys.readouterr().err
