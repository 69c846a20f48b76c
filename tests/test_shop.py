"""The shop layer: leakage-free training tables, candidates, ranking metrics, fit_shop, recommend."""
from __future__ import annotations

import contextlib
import io
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from automl_guide import (DataError, ExportError, ShopFeatureSpec, hookimpl, load_registry,
                          recommend)
from automl_guide.shop.evaluate import popularity_ranking, ranking_metrics, top_k_by_score
from automl_guide.shop.history import (CandidateSettings, ShopData, TableSettings, build_table,
                               candidates, feature_columns, labels, popularity, repeat_share)
from automl_guide.shop.demo import generate_shop
from automl_guide.shop.run import plan_cutoffs

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
    settings = CandidateSettings(history=10, popular=5, per_category=3, categories=2)
    pairs = candidates(history, [customer], settings)
    assert not pairs.duplicated().any() and set(pairs["customer_id"]) == {customer}
    # each source, computed here independently: her 10 most recently touched products, the 5
    # best sellers of the last 30 days, and the 3 best sellers of each of her 2 favourite
    # categories (the categories she touched most)
    log = history.interactions[history.interactions["customer_id"] == customer]
    latest = log.groupby("product_id")["timestamp"].max().sort_values(ascending=False)
    own = set(latest.index[:10])
    recent = popularity(history, 30)
    category = history.category_of(recent.index)
    touched = history.category_of(log["product_id"]).value_counts()
    favourites = sorted(touched.index, key=lambda c: (-touched[c], c))[:2]
    by_category = {p for c in favourites
                   for p in list(recent.index[np.asarray(category == c)])[:3]}
    assert len(latest) > 10 and len(by_category) == 6  # every source has a say
    assert set(pairs["product_id"]) == own | set(recent.index[:5]) | by_category
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
    """plugins.md: a shop feature plugin that raises, or returns the wrong rows or non-numeric
    columns, is skipped with a warning naming it; the built-ins' features stay."""
    def half_the_rows(history, keys):
        return pd.DataFrame({"half": np.zeros(len(keys) // 2)})

    def words(history, keys):
        return pd.DataFrame({"tag": ["cheap"] * len(keys)}, index=keys.index)

    class Broken:
        @hookimpl
        def automl_guide_register_shop_features(self, register):
            register(ShopFeatureSpec("broken", "product", lambda history, keys: 1 / 0))
            register(ShopFeatureSpec("half", "customer", half_the_rows))
            register(ShopFeatureSpec("wordy", "product", words))

    registry = load_registry([Broken()])
    with pytest.warns(RuntimeWarning) as caught:
        table = build_table(shop, CUTOFF, DAYS, registry)
    said = sorted(str(w.message) for w in caught)
    assert [name for name in ("'broken'", "'half'", "'wordy'") if any(name in m for m in said)] \
        == ["'broken'", "'half'", "'wordy'"], said
    assert any("ZeroDivisionError" in m for m in said)
    assert "p_log_rank_30d" in table and len(table) > 0
    assert not {"half", "tag"} & set(table.columns)


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
    # the generated shop's buyers repeat what they bought: the model sees it, the baselines
    # barely (0.80 against 0.62-0.63 on this seed)
    assert board["roc_auc"].between(0.5, 1).all()
    assert board.loc["model (linear)", "roc_auc"] > board["roc_auc"].drop("model (linear)").max()
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
def shop_demo_run(tmp_path_factory, ray_session):
    """`automl-guide demo --shop`, run in-process: eight trials and no time limit, so that what
    it finds does not depend on how busy the machine is. Its directory and what it printed."""
    from automl_guide.cli import main

    out = tmp_path_factory.mktemp("shopdemo") / "run"
    printed = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(printed):
        warnings.simplefilter("ignore")
        code = main(["demo", "--shop", "--time-budget", "0", "--max-trials", "8", "--out",
                     str(out), "--quiet"])
    assert code == 0
    return out, printed.getvalue()


@pytest.fixture(scope="module")
def shop_demo(shop_demo_run):
    return shop_demo_run[0]


def test_demo_shop_ends_with_a_recommendation_beating_popularity(shop_demo_run):
    shop_demo, printed = shop_demo_run
    orders = pd.read_csv(shop_demo / "data" / "orders.csv", dtype={"customer_id": str})
    most_active = orders["customer_id"].value_counts().index[0]
    head, _, table = printed.partition(f"Top 5 for customer {most_active}, read from ")
    assert table, printed[-2000:]
    lines = table.splitlines()[1:]
    assert lines[0].split() == ["rank", "product_id", "score", "source", "category", "price"]
    shown = [line.split() for line in lines[1:]]
    assert [row[0] for row in shown] == ["1", "2", "3", "4", "5"]
    assert [row[1] for row in shown] == list(recommend(shop_demo, most_active, k=5)["product_id"])
    trials = pd.read_csv(shop_demo / "leaderboard.csv")
    assert len(trials) == 8  # --time-budget 0: no limit, --max-trials ended the search
    assert json.loads((shop_demo / "model_card.json").read_text())["search"]["time_budget_s"] \
        is None
    board = pd.read_csv(shop_demo / "ranking.csv").set_index("ranker")
    model = board.loc[board.index.str.startswith("model")].iloc[0]
    for baseline in ("popularity (all history)", "popularity (last 30 days)"):
        assert model["ndcg@10"] > board.loc[baseline, "ndcg@10"]
    card = json.loads((shop_demo / "model_card.json").read_text())
    assert card["metric"]["name"] == "ndcg@10"  # trials judged by each customer's order
    for name in ("model.onnx", "shop.json", "model_card.json", "snapshot/customers.parquet",
                 "snapshot/products.parquet", "snapshot/candidates.parquet", "data/orders.csv"):
        assert (shop_demo / name).is_file(), name


def test_the_shop_command_fits_a_folder_with_its_documented_options(shop_demo, tmp_path,
                                                                    capsys):
    """`automl-guide shop DIR` on the tables the demo wrote: `--horizon 2W`, `--test-horizon`,
    `--n-cutoffs` reach the run; a value that cannot be read is exit 2 and one line."""
    from automl_guide.cli import main

    data, out = shop_demo / "data", tmp_path / "purchase"
    assert main(["shop", str(data), "--task", "purchase", "--horizon", "2W", "--test-horizon",
                 "10", "--n-cutoffs", "2", "--models", "linear", "--max-trials", "1",
                 "--time-budget", "0", "--out", str(out), "--quiet"]) == 0
    card = json.loads((out / "shop.json").read_text())
    assert (card["task"], card["horizon_days"], card["test_horizon_days"]) == ("purchase", 14, 10)
    cutoffs = pd.to_datetime(card["cutoffs"])
    assert len(cutoffs) == 2 and (cutoffs[1] - cutoffs[0]) == pd.Timedelta(days=14)
    assert cutoffs[1] + pd.Timedelta(days=14) <= pd.Timestamp(card["test_cutoff"])
    assert (out / "model.onnx").is_file() and (out / "snapshot" / "candidates.parquet").is_file()
    for option, value, said in (("--horizon", "nan", "Cannot read nan as a duration"),
                                ("--test-cutoff", "abc", "'abc'")):
        assert main(["shop", str(data), option, value, "--out", str(tmp_path / "bad"),
                     "--quiet"]) == 2
        [line] = capsys.readouterr().err.splitlines()
        assert line.startswith("automl-guide: error:") and said in line, line
    assert not (tmp_path / "bad").exists()


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


def test_a_customers_serving_rows_are_her_training_rows_at_the_end_of_the_data(shop_demo):
    """Training rows (build_table at a cutoff) and serving rows (the snapshot joined on the ids
    by the Recommender) are assembled by different code: at the end of the data, the time the
    snapshot describes, a customer's rows must be the same, feature for feature."""
    from automl_guide import load_registry
    from automl_guide.shop.load import load_shop
    from automl_guide.shop.snapshot import Recommender

    recommender = Recommender(shop_demo)
    card = recommender.card
    shop = load_shop(shop_demo / "data")
    settings = TableSettings(CandidateSettings(**{
        k: card["candidates"][k] for k in ("history", "popular", "per_category", "categories",
                                           "exclude_bought")})).every_candidate()
    orders = pd.read_csv(shop_demo / "data" / "orders.csv", dtype={"customer_id": str})
    for customer in orders["customer_id"].value_counts().index[:3]:
        training = build_table(shop, shop.end, pd.Timedelta(days=30), load_registry(),
                               customers=[customer], settings=settings)
        serving = recommender.feature_rows(customer)
        assert serving is not None and len(serving) == len(training) > 0
        pd.testing.assert_frame_equal(
            training.set_index("product_id")[card["inputs"]].sort_index(),
            serving.set_index("product_id")[card["inputs"]].sort_index(), check_dtype=False)
