"""Metrics by name: each against scikit-learn or a hand count, the checks of get_metric, and what
the card's report leaves out."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from automl_guide import AutoMLGuideError
from automl_guide.metrics import DEFAULT_METRIC, METRICS, REPORTED, get_metric, ndcg_at, report

Y2 = np.array([0, 1, 1, 0, 1, 0])
P2 = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.9, 0.1], [0.2, 0.8], [0.45, 0.55]])
Y3 = np.array([0, 1, 2, 2, 1, 0])
P3 = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.2, 0.2, 0.6], [0.5, 0.1, 0.4],
               [0.3, 0.3, 0.4], [0.6, 0.3, 0.1]])


def test_f1_is_of_the_positive_class_for_two_classes_and_the_classes_mean_for_more():
    y, p = np.array([1, 1, 1, 0]), np.array([[0.4, 0.6], [0.3, 0.7], [0.6, 0.4], [0.9, 0.1]])
    # class 1: precision 1, recall 2/3 (f1 0.8); class 0: precision 1/2, recall 1 (f1 2/3)
    assert METRICS["f1"].fn(y, p) == pytest.approx(0.8)
    # three classes: class 0 (precision 1/2, recall 1) and 2 (1, 1/2) at 2/3, class 1 at 1
    assert METRICS["f1"].fn(np.array([0, 1, 2, 2]), np.eye(3)[[0, 1, 2, 0]]) == pytest.approx(
        (2 / 3 + 1 + 2 / 3) / 3)


def test_each_classification_metric_is_scikit_learns_on_the_arg_max_or_probabilities():
    assert METRICS["roc_auc"].fn(Y2, P2) == pytest.approx(8 / 9)  # 8 of 9 pairs in order
    assert METRICS["roc_auc"].fn(Y3, P3) == pytest.approx(
        skm.roc_auc_score(Y3, P3, multi_class="ovr"))
    assert METRICS["log_loss"].fn(Y2, P2) == pytest.approx(skm.log_loss(Y2, P2))
    assert METRICS["accuracy"].fn(Y2, P2) == 4 / 6  # rows 2 and 5 go the other way
    assert METRICS["balanced_accuracy"].fn(Y3, P3) == pytest.approx(
        skm.balanced_accuracy_score(Y3, P3.argmax(axis=1)))
    assert METRICS["f1"].fn(Y2, P2) == pytest.approx(skm.f1_score(Y2, P2.argmax(axis=1)))
    assert METRICS["f1"].fn(Y3, P3) == pytest.approx(
        skm.f1_score(Y3, P3.argmax(axis=1), average="macro"))


def test_log_loss_takes_probabilities_that_sum_to_one_only_within_float32():
    """A float32 graph's rows sum to 1 within 1e-7; a probability of 0 is clipped, not -inf."""
    p = (P3 * (1 + 1e-7)).astype(np.float32)
    assert METRICS["log_loss"].fn(Y3, p) == pytest.approx(skm.log_loss(Y3, P3), rel=1e-6)
    zero = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert METRICS["log_loss"].fn(np.array([1, 1]), zero) == pytest.approx(
        -math.log(1e-15) / 2, rel=1e-6)
    assert METRICS["log_loss"].fn(np.array([0, 1]), P2[:2, :]) == pytest.approx(
        -(math.log(0.8) + math.log(0.7)) / 2)
    four = np.array([[0.5, 0.5, 0.0, 0.0]] * 2)  # classes absent from the rows still count
    assert METRICS["log_loss"].fn(np.array([0, 1]), four) == pytest.approx(math.log(2))


def test_each_regression_metric():
    y, v = np.array([1.0, 2.0, 4.0]), np.array([1.5, 2.0, 3.0])
    assert METRICS["rmse"].fn(y, v) == pytest.approx(math.sqrt((0.25 + 0 + 1) / 3))
    assert METRICS["mae"].fn(y, v) == pytest.approx(0.5)
    assert METRICS["r2"].fn(y, v) == pytest.approx(skm.r2_score(y, v))


def test_better_follows_each_metrics_direction():
    for name, metric in METRICS.items():
        larger_is_better = name in ("roc_auc", "accuracy", "balanced_accuracy", "f1", "r2")
        assert metric.mode == ("max" if larger_is_better else "min"), name
        assert metric.better(0.9, 0.8) is larger_is_better and not metric.better(0.8, 0.8)


def test_metrics_belong_to_their_tasks_and_defaults_are_the_documented_ones():
    assert DEFAULT_METRIC == {"binary": "roc_auc", "multiclass": "log_loss",
                              "regression": "rmse"}
    for task in ("binary", "multiclass", "regression"):
        assert get_metric(None, task).name == DEFAULT_METRIC[task]
        assert all(task in METRICS[name].tasks for name in REPORTED[task])
    assert {n for n, m in METRICS.items() if "regression" in m.tasks} == {"rmse", "mae", "r2"}
    assert {n for n, m in METRICS.items() if "binary" in m.tasks} == {
        "roc_auc", "log_loss", "accuracy", "balanced_accuracy", "f1"}
    assert METRICS["f1"].tasks == METRICS["roc_auc"].tasks  # multiclass too (macro)


def test_get_metric_refuses_unknown_names_and_other_tasks_by_name():
    with pytest.raises(AutoMLGuideError, match=r"^Unknown metric 'auc'; choose one of roc_auc, "
                       r"log_loss, accuracy, balanced_accuracy, f1, rmse, mae, r2 \(or ndcg@K "
                       r"in the shop's rank task\)\.$"):
        get_metric("auc", "binary")
    with pytest.raises(AutoMLGuideError, match=r"^Metric 'rmse' does not apply to a binary task; "
                       r"use one of roc_auc, log_loss, accuracy, balanced_accuracy, f1\.$"):
        get_metric("rmse", "binary")
    with pytest.raises(AutoMLGuideError, match=r"^Metric 'ndcg@5' does not apply to a "
                       r"regression task; use one of rmse, mae, r2\.$"):
        get_metric("ndcg@5", "regression")
    for name in ("ndcg@0", "ndcg@", "ndcg@05", "ndcg@3x"):
        with pytest.raises(AutoMLGuideError, match="Unknown metric"):
            get_metric(name, "binary")
    ndcg = get_metric("ndcg@3", "binary")
    assert (ndcg.name, ndcg.mode, ndcg.needs_queries) == ("ndcg@3", "max", True)
    assert not get_metric("roc_auc", "binary").needs_queries


def test_ndcg_orders_each_query_by_the_positive_class_best_first():
    """One query of four rows, the bought one scored second highest: 1/log2(3); scored lowest
    (the order reversed): 1/log2(5)."""
    y, queries = np.array([0, 1, 0, 0]), np.zeros(4)
    second = np.array([0.9, 0.7, 0.2, 0.1])
    ndcg = get_metric("ndcg@4", "binary").fn
    assert ndcg(y, np.column_stack([1 - second, second]), queries) == pytest.approx(
        1 / math.log2(3))
    assert ndcg(y, np.column_stack([second, 1 - second]), queries) == pytest.approx(
        1 / math.log2(4))
    assert ndcg_at(2)(y, np.column_stack([second, 1 - second]), queries) == 0.0


def test_ndcg_at_k_by_hand_within_each_query():
    """Query 0: the bought row is scored 2nd of 3, so its gain is 1/log2(3); query 1: both bought
    rows first and third of 3 (ideal: first and second); query 2 has no positive: not judged."""
    y = np.array([0, 1, 0, 1, 0, 1, 0, 0])
    scores = np.array([0.9, 0.5, 0.1, 0.8, 0.5, 0.2, 0.3, 0.4])
    queries = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    proba = np.column_stack([1 - scores, scores])
    first = 1 / math.log2(3)
    second = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert ndcg_at(3)(y, proba, queries) == pytest.approx((first + second) / 2)
    # at k=1 only the top row counts: query 0 scores 0, query 1 scores 1
    assert ndcg_at(1)(y, proba, queries) == pytest.approx(0.5)
    # rows in any order: what matters is each query's own order
    shuffled = np.array([5, 0, 7, 3, 1, 6, 2, 4])
    assert ndcg_at(3)(y[shuffled], proba[shuffled], queries[shuffled]) == pytest.approx(
        (first + second) / 2)
    # more positives than k: the ideal has k of them
    assert ndcg_at(1)(np.array([1, 1]), np.array([[0.5, 0.5], [0.4, 0.6]]),
                      np.array([0, 0])) == 1.0
    with pytest.raises(ValueError, match="^no query has a positive row$"):
        ndcg_at(3)(np.zeros(3), np.full((3, 2), 0.5), np.zeros(3))


def test_report_gives_the_tasks_metrics_and_leaves_out_what_is_undefined_without_a_warning():
    assert list(report("binary", Y2, P2)) == ["roc_auc", "log_loss", "accuracy", "f1"]
    assert report("binary", Y2, P2)["accuracy"] == 4 / 6
    assert list(report("multiclass", Y3, P3)) == ["log_loss", "accuracy", "balanced_accuracy",
                                                  "roc_auc"]
    assert list(report("regression", np.arange(3.0), np.arange(3.0))) == ["rmse", "mae", "r2"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scikit-learn's UndefinedMetricWarning must not leak
        single = report("binary", np.array([1, 1, 1]), P2[:3])
        assert "roc_auc" not in single and single["accuracy"] == 1 / 3
        three = report("multiclass", np.array([0, 0, 1]), P3[:3])
        assert "roc_auc" not in three and "log_loss" in three
        # balanced accuracy over the classes the rows hold (recall 1/2 and 0); class 2
        # predicted is a miss
        assert three["balanced_accuracy"] == pytest.approx((1 / 2 + 0) / 2)
        # a class of the model's absent from the rows (4 columns, 3 classes in y): undefined
        four = np.column_stack([P3, np.full(6, 0.0)])
        assert "roc_auc" not in report("multiclass", Y3, four)


def test_log_loss_of_float32_probabilities_warns_of_nothing():
    """A float32 graph's rows sum to 1 only within 1e-7: renormalized in float64, scikit-learn
    has nothing to say."""
    p = (P3 / P3.sum(axis=1, keepdims=True)).astype(np.float32) * np.float32(1.0000001)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert METRICS["log_loss"].fn(Y3, p) == pytest.approx(skm.log_loss(Y3, P3), rel=1e-6)


def test_a_score_is_defined_only_when_finite_and_other_warnings_still_show():
    from automl_guide.metrics import defined_score

    assert defined_score(lambda: float("nan")) is None
    assert defined_score(lambda: math.inf) is None
    assert defined_score(lambda y: y + 1, 1.5) == 2.5

    def noisy():
        warnings.warn("a metric's own warning", RuntimeWarning)
        return 0.5

    with pytest.warns(RuntimeWarning, match="a metric's own warning"):
        assert defined_score(noisy) == 0.5


def test_the_search_and_the_shop_leaderboard_measure_the_same_ndcg():
    """One NDCG: the search's ndcg@K over queries and the shop leaderboard's over customers'
    rankings give the same number for the same rankings (each customer's rows a query)."""
    from automl_guide.metrics import dcg_discounts
    from automl_guide.shop.evaluate import ranking_metrics

    assert dcg_discounts(3) == pytest.approx([1.0, 1 / np.log2(3), 0.5])
    rng = np.random.default_rng(3)
    queries = np.repeat(np.arange(6), 7)
    y = (rng.random(len(queries)) < 0.3).astype(int)
    y[::7] = 1  # every customer bought something
    score = rng.random(len(queries))
    ranked, relevant = {}, {}
    for q in range(6):
        rows = np.flatnonzero(queries == q)
        order = rows[np.argsort(-score[rows], kind="stable")]
        ranked[str(q)] = [f"p{i}" for i in order]
        relevant[str(q)] = {f"p{i}" for i in rows if y[i]}
    search = get_metric("ndcg@4", "binary").fn(y, np.column_stack([1 - score, score]), queries)
    assert search == pytest.approx(ranking_metrics(ranked, relevant, 4)["ndcg@4"], abs=1e-12)
