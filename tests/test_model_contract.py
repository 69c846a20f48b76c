"""One contract test over every registered model plugin: sample its space, build, fit on small
data, export one ONNX graph, check parity with onnxruntime. A new plugin is tested by being
registered."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from automl_guide import export, load_registry
from automl_guide.api import _refit
from automl_guide.data import prepare
from automl_guide.pipeline import feature_plan

from conftest import TARGETS, shop_frame

REGISTRY = load_registry()
CASES = [(name, task) for name, reg in sorted(REGISTRY.models.items())
         for task in sorted(reg.spec.tasks)]


def _sampled(spec, task: str, n_rows: int, seed: int) -> dict:
    rng = np.random.RandomState(seed)
    return {k: d.sample(random_state=rng) if hasattr(d, "sample") else d
            for k, d in spec.search_space(task, n_rows).items()}


@pytest.mark.parametrize("name,task", CASES, ids=[f"{n}-{t}" for n, t in CASES])
@pytest.mark.parametrize("which", ["default", "sampled"])
def test_model_plugin_contract(name: str, task: str, which: str):
    spec = REGISTRY.model(name)
    dataset = prepare(shop_frame(240, task), TARGETS[task])
    config = (dict(spec.default_config(task, 240)) if which == "default"
              else _sampled(spec, task, 240, seed=len(name)))
    estimator = spec.build(config, task, 0)
    copy = clone(estimator)  # the scikit-learn contract: parameters survive a clone
    assert repr(copy.get_params()) == repr(estimator.get_params())

    rows = np.arange(len(dataset.y))
    plan = feature_plan(REGISTRY, dataset.columns)
    queries = rows // 8 if spec.needs_queries else None  # a ranker orders 8 rows at a time
    pipeline = _refit(dataset, rows, plan, spec, config, seed=0, queries=queries)
    used = [reg.spec for reg in REGISTRY.all() if reg.kind == "feature" or reg.name == name]
    graph = export.to_onnx(pipeline, dataset.columns, task, dataset.classes, used, spec)

    names = [o.name for o in graph.graph.output]
    assert names == (["value"] if task == "regression" else ["label", "probabilities"])
    assert [i.name for i in graph.graph.input] == [c.onnx_name for c in dataset.columns]
    parity = export.check_parity(graph.SerializeToString(), pipeline, dataset.features,
                                 dataset.columns, task, dataset.classes)
    assert parity.passed and parity.max_abs_diff <= export.PROBABILITY_TOLERANCE
    if task != "regression":
        assert parity.label_agreement >= export.LABEL_AGREEMENT


def test_a_ranking_family_sits_out_runs_without_queries_and_says_why():
    from automl_guide import PluginError
    from automl_guide.api import _model_specs

    assert "xgboost_ranker" not in _model_specs(REGISTRY, None, "binary")
    assert "xgboost_ranker" in _model_specs(REGISTRY, None, "binary", ranking=True)
    with pytest.raises(PluginError, match="xgboost_ranker rank the rows of a query"):
        _model_specs(REGISTRY, ["xgboost_ranker"], "binary")
    estimator = REGISTRY.model("xgboost_ranker").build({}, "binary", 0)
    with pytest.raises(ValueError, match="needs qid="):
        estimator.fit(np.zeros((4, 2)), np.array([0, 1, 0, 1]))


def test_the_ranker_learns_the_order_within_each_query_whatever_the_row_order():
    """Within each query the bought row is the one with the largest x0 *relative to the
    query*; across queries x0 drifts, so a pointwise view of x0 alone is weak. The ranker must
    order each query and not care how the query's rows are interleaved."""
    rng = np.random.RandomState(0)
    n_queries, per = 200, 6
    qid = np.repeat(np.arange(n_queries), per)
    X = rng.normal(size=(len(qid), 3)) + rng.normal(scale=3.0, size=n_queries)[qid, None]
    y = np.zeros(len(qid), dtype=int)
    y[np.arange(n_queries) * per + X[:, 0].reshape(n_queries, per).argmax(axis=1)] = 1
    build = REGISTRY.model("xgboost_ranker").build
    shuffled = rng.permutation(len(qid))
    ranker = build({}, "binary", 0).fit(X[shuffled], y[shuffled], qid=qid[shuffled])
    score = ranker.predict_proba(X)[:, 1].reshape(n_queries, per)
    assert ((score.argmax(axis=1) == X[:, 0].reshape(n_queries, per).argmax(axis=1)).mean()
            > 0.9)
    assert np.all((score > 0) & (score < 1))


def test_export_beyond_tolerance_fails_loudly():
    from automl_guide import ParityError

    dataset = prepare(shop_frame(200, "binary"), "bought")
    rows = np.arange(len(dataset.y))
    plan = feature_plan(REGISTRY, dataset.columns)
    spec = REGISTRY.model("linear")
    exported = _refit(dataset, rows, plan, spec, {"C": 1.0}, seed=0)
    other = _refit(dataset, rows, plan, spec, {"C": 0.001}, seed=0)  # a different model
    graph = export.to_onnx(exported, dataset.columns, "binary", dataset.classes,
                           [reg.spec for reg in REGISTRY.all()])
    with pytest.raises(ParityError, match=r"max probability difference .* \(tolerance 0\.0001\)"):
        export.check_parity(graph.SerializeToString(), other, dataset.features, dataset.columns,
                            "binary", dataset.classes)


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_xgboost_stops_adding_rounds_that_do_not_help_and_exports_only_those(task):
    spec = REGISTRY.model("xgboost")
    dataset = prepare(shop_frame(2500, task, seed=4), TARGETS[task])
    config = {**spec.default_config(task, 2500), "n_estimators": 600, "learning_rate": 0.3}
    rows = np.arange(len(dataset.y))
    pipeline = _refit(dataset, rows, feature_plan(REGISTRY, dataset.columns), spec, config,
                      seed=0)
    model = pipeline.named_steps["model"]
    booster = (model.estimator_ if task != "regression" else model).get_booster()
    assert 1 <= booster.num_boosted_rounds() < 600  # a noisy target overfits long before 600
    used = [reg.spec for reg in REGISTRY.all() if reg.kind == "feature" or reg.name == "xgboost"]
    graph = export.to_onnx(pipeline, dataset.columns, task, dataset.classes, used, spec)
    parity = export.check_parity(graph.SerializeToString(), pipeline, dataset.features,
                                 dataset.columns, task, dataset.classes)
    assert parity.passed, parity
