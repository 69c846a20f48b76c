"""One contract test over every registered model plugin: sample its space, build, fit on small
tables of every kind, export one ONNX graph, check parity with onnxruntime. A new plugin is tested
by being registered; the check itself is public (automl_guide.testing), for plugin authors' own
tests."""
from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from automl_guide import (FeatureSpec, ModelSpec, PluginError, export, hookimpl,
                          load_registry)
from automl_guide.refit import refit
from automl_guide.data import prepare
from automl_guide.pipeline import feature_plan
from automl_guide.testing import (TABLE_KINDS, check_feature_plugin, check_model_plugin,
                                  sample_table)
from automl_guide.parity import LABEL_AGREEMENT, PROBABILITY_TOLERANCE, check_parity

from conftest import TARGETS, shop_frame

REGISTRY = load_registry()
CASES = [(name, task, table) for name, reg in sorted(REGISTRY.models.items())
         for task in sorted(reg.spec.tasks) for table in TABLE_KINDS]


@pytest.mark.parametrize("name,task,table", CASES, ids=["-".join(case) for case in CASES])
def test_model_plugin_contract(name: str, task: str, table: str):
    """The public check a plugin author runs (automl_guide.testing), over every built-in: each
    family x task x kind of table, default and one sampled configuration."""
    checks = check_model_plugin(name, tasks=[task], tables=[table], registry=REGISTRY)
    assert [(c.plugin, c.task, c.table, c.variant) for c in checks] == [
        (name, task, table, "default"), (name, task, table, "sampled")]
    for check in checks:
        assert check.max_abs_diff <= PROBABILITY_TOLERANCE
        if task != "regression":
            assert check.label_agreement >= LABEL_AGREEMENT


@pytest.mark.parametrize("kind", TABLE_KINDS[1:])
def test_each_one_kind_table_holds_only_that_kind_and_a_target_that_follows_it(kind):
    frame, target = sample_table(600, "binary", kind=kind)
    dataset = prepare(frame, target)
    assert {c.kind for c in dataset.columns} == {kind}
    spec = REGISTRY.model("linear")
    fitted = refit(dataset, np.arange(400), feature_plan(REGISTRY, dataset.columns), spec,
                    spec.default_config("binary", 400), seed=0)
    held_out = dataset.features.iloc[400:]
    accuracy = np.mean(fitted.predict_proba(held_out).argmax(axis=1) == dataset.y[400:])
    majority = max(np.mean(dataset.y[400:] == c) for c in np.unique(dataset.y))
    assert accuracy > majority + 0.05  # the target follows the table's columns, not noise alone


def test_the_matrix_catches_a_composition_that_merges_graphs_at_their_own_opsets(monkeypatch):
    """The broken composition of before: the network graph (opset 20) merged with a feature
    graph at the opset skl2onnx chose for it. A table of integers alone gives opset 11-19."""
    monkeypatch.setattr(export, "same_opsets", lambda graphs: list(graphs))
    with pytest.raises(PluginError, match=r"Model plugin 'ann' failed the contract \(binary, "
                       r"default configuration, integer table\) while exporting one ONNX graph: "
                       r".*Can't merge two models with different operator set ids"):
        check_model_plugin("ann", tasks="binary", configs="default", tables="integer",
                           registry=REGISTRY)


class _Doubling(LogisticRegression):
    """Breaks scikit-learn's clone contract: ``__init__`` changes the parameter it is given."""

    def __init__(self, C: float = 1.0):
        super().__init__(C=2 * C)


class _Unconvertible(LogisticRegression):
    """A class skl2onnx has no converter for (each test class has its own: converters are
    registered per class, process-wide)."""


class _Shifted(LogisticRegression):
    """Its ONNX graph (the logistic regression's) is not what it predicts natively."""

    def predict_proba(self, X):
        p = super().predict_proba(X)
        return np.clip(p + [[0.2, -0.2]], 0, 1)


def _register_shifted() -> None:
    from conftest import register_like_logistic

    register_like_logistic(_Shifted, "AutomlGuideTestShifted")


class _BrokenPlugins:
    @hookimpl
    def automl_guide_register_models(self, register):
        space = lambda task, n: {"C": 1.0}  # noqa: E731
        default = lambda task, n: {"C": 1.0}  # noqa: E731
        binary = frozenset({"binary"})
        register(ModelSpec("doubling", binary, lambda c, t, s: _Doubling(**c), space, default,
                           needs_scaling=True))
        register(ModelSpec("unconvertible", binary, lambda c, t, s: _Unconvertible(**c), space,
                           default, needs_scaling=True))
        register(ModelSpec("shifted", binary, lambda c, t, s: _Shifted(**c), space, default,
                           needs_scaling=True, register_onnx=_register_shifted))


@pytest.mark.parametrize("name,step", [
    ("doubling", "while cloning the estimator"),
    ("unconvertible", "while exporting one ONNX graph"),
    ("shifted", "while checking parity with the native model")])
def test_the_plugin_check_names_the_plugin_task_and_step_that_failed(name, step):
    registry = load_registry([_BrokenPlugins()])
    with pytest.raises(PluginError, match=rf"Model plugin '{name}' failed the contract "
                       rf"\(binary, default configuration, mixed table\) {step}") as caught:
        check_model_plugin(name, configs=["default"], tables="mixed", registry=registry)
    assert caught.value.__cause__ is not None  # the plugin's own error stays chained
    if name == "unconvertible":  # one paragraph naming the plugin, not skl2onnx's 12 lines
        assert re.search(r"Could not convert _Unconvertible to ONNX: skl2onnx has no converter "
                         r"for it\. The plugin that builds it \(model plugin 'unconvertible', or a "
                         r"feature plugin\) must register one in its register_onnx",
                         str(caught.value)), caught.value
        assert "shape calculator" not in str(caught.value)  # skl2onnx's own advice
    if name == "shifted":  # the measured figures, not the fit command's advice
        assert re.search(r"max probability difference 0\.2 over 240 rows \(tolerance 0\.0001\)",
                         str(caught.value)), caught.value


def _register_plain_lightgbm() -> None:
    import lightgbm
    from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

    update_registered_converter(
        lightgbm.LGBMClassifier, "AutomlGuideTestPlainLGBMClassifier",
        calculate_linear_classifier_output_shapes, convert_lightgbm,
        options={"nocl": [True, False], "zipmap": [True, False, "columns"]})


class _Float64Splits:
    @hookimpl
    def automl_guide_register_models(self, register):
        def build(config, task, seed):
            import lightgbm

            return lightgbm.LGBMClassifier(n_estimators=20, random_state=seed, verbosity=-1)

        register(ModelSpec("float64_splits", frozenset({"binary"}), build, lambda t, n: {},
                           lambda t, n: {}, register_onnx=_register_plain_lightgbm))


def test_the_contract_catches_trees_whose_float64_thresholds_the_graph_rounds():
    """LightGBM as it comes (not the built-in family's estimators, which round their thresholds)
    splits two neighbouring float32 values at their float64 midpoint;
    the graph rounds that threshold to float32 and sends one of them the other way. The sample
    table's fine_rate column makes that happen on 240 rows (it took a 112,500-row table to
    show before), so a plugin author learns it from the contract, not from a user's run."""
    registry = load_registry([_Float64Splits()])
    with pytest.raises(PluginError, match=r"Model plugin 'float64_splits' failed the contract "
                       r"\(binary, default configuration, mixed table\) while checking parity "
                       r"with the native model: max probability difference"):
        check_model_plugin("float64_splits", configs=["default"], tables="mixed",
                           registry=registry)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_lightgbm_thresholds_rounded_to_float32_predict_exactly_as_before(task):
    """The built-in LightGBM rounds each threshold down to a float32 the graph holds exactly,
    and no float32 feature value changes side: it predicts what LightGBM's own estimator did,
    to the last bit."""
    import lightgbm

    from automl_guide_plugins.lgb_estimators import LGBMClassifier, LGBMRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 3)).astype(np.float32)
    steps = rng.integers(0, 6, 3000)
    X[:, 0] = np.float32(4.0) + np.spacing(np.float32(4.0)) * steps  # neighbouring float32s
    y = {"binary": (steps >= 4) ^ (X[:, 1] > 1.0), "multiclass": steps // 2,
         "regression": steps + X[:, 1]}[task]
    ours, theirs = ((LGBMRegressor, lightgbm.LGBMRegressor) if task == "regression"
                    else (LGBMClassifier, lightgbm.LGBMClassifier))
    plain = theirs(n_estimators=40, verbosity=-1, random_state=0).fit(X, y)
    mine = ours(n_estimators=40, verbosity=-1, random_state=0).fit(X, y)
    predict = "predict" if task == "regression" else "predict_proba"
    assert np.array_equal(getattr(plain, predict)(X), getattr(mine, predict)(X))
    thresholds = mine.booster_.trees_to_dataframe()["threshold"].dropna().to_numpy()
    assert np.array_equal(thresholds, thresholds.astype(np.float32))  # all float32 numbers
    assert not np.array_equal(plain.booster_.trees_to_dataframe()["threshold"].dropna(),
                              thresholds)  # and some were not before


@pytest.mark.parametrize("name", sorted(REGISTRY.features))
def test_feature_plugin_contract(name: str):
    """Every built-in feature plugin through the public check: scaled and raw, one graph."""
    tasks = ["binary", "regression"] if name == "numeric" else "binary"
    checks = check_feature_plugin(name, tasks=tasks, registry=REGISTRY)
    assert [(c.plugin, c.variant) for c in checks][:2] == [(name, "scaled"), (name, "raw")]
    assert [c.config["model"] for c in checks][:2] == ["linear", "decision_tree"]
    assert all(c.max_abs_diff <= PROBABILITY_TOLERANCE for c in checks)


class _LogFeatures:
    """A numeric feature plugin, outranked by the built-in one, whose transformer has no ONNX
    converter: the check gives it the numeric columns all the same and names the step."""

    @hookimpl
    def automl_guide_register_features(self, register):
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import FunctionTransformer

        register(FeatureSpec("log_numbers", frozenset({"numeric"}), lambda columns, ctx:
                             make_pipeline(SimpleImputer(), FunctionTransformer(np.log1p)),
                             priority=-5))


def test_the_feature_plugin_check_names_the_plugin_and_the_step_that_failed():
    registry = load_registry([_LogFeatures()])
    with pytest.raises(PluginError, match=r"Feature plugin 'log_numbers' failed the contract "
                       r"\(binary, scaled features, behind linear\) while exporting one ONNX "
                       r"graph: ExportError"):
        check_feature_plugin("log_numbers", tasks="binary", registry=registry)
    with pytest.raises(PluginError, match=r"No feature plugin named 'log'; registered"):
        check_feature_plugin("log", registry=registry)


def test_the_plugin_check_refuses_a_task_the_plugin_does_not_declare():
    with pytest.raises(PluginError, match=r"does not declare the task\(s\) \['regression'\]"):
        check_model_plugin("xgboost_ranker", tasks=["regression"], registry=REGISTRY)


def test_a_ranking_family_sits_out_runs_without_queries_and_says_why():
    from automl_guide.families import model_specs

    assert "xgboost_ranker" not in model_specs(REGISTRY, None, "binary")
    assert "xgboost_ranker" in model_specs(REGISTRY, None, "binary", ranking=True)
    with pytest.raises(PluginError, match="xgboost_ranker rank the rows of a query"):
        model_specs(REGISTRY, ["xgboost_ranker"], "binary")
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
    exported = refit(dataset, rows, plan, spec, {"C": 1.0}, seed=0)
    other = refit(dataset, rows, plan, spec, {"C": 0.001}, seed=0)  # a different model
    graph = export.to_onnx(exported, dataset.columns, "binary", dataset.classes,
                           [reg.spec for reg in REGISTRY.all()])
    with pytest.raises(ParityError, match=r"max probability difference .* \(tolerance 0\.0001\)"):
        check_parity(graph.SerializeToString(), other, dataset.features, dataset.columns,
                            "binary", dataset.classes)


def _rounds(model) -> int:
    if hasattr(model, "get_booster"):
        return model.get_booster().num_boosted_rounds()
    return model.booster_.current_iteration()


@pytest.mark.parametrize("family", ["xgboost", "lightgbm"])
@pytest.mark.parametrize("task", ["binary", "regression"])
def test_boosting_stops_adding_rounds_that_do_not_help_and_exports_only_those(family, task):
    spec = REGISTRY.model(family)
    dataset = prepare(shop_frame(2500, task, seed=4), TARGETS[task])
    config = {**spec.default_config(task, 2500), "n_estimators": 600, "learning_rate": 0.3}
    rows = np.arange(len(dataset.y))
    pipeline = refit(dataset, rows, feature_plan(REGISTRY, dataset.columns), spec, config,
                      seed=0)
    model = pipeline.named_steps["model"]
    rounds = _rounds(model.estimator_ if task != "regression" else model)
    assert 1 <= rounds < 600  # a noisy target overfits long before 600
    used = [reg.spec for reg in REGISTRY.all() if reg.kind == "feature" or reg.name == family]
    graph = export.to_onnx(pipeline, dataset.columns, task, dataset.classes, used, spec)
    parity = check_parity(graph.SerializeToString(), pipeline, dataset.features,
                                 dataset.columns, task, dataset.classes)
    assert parity.passed, parity


@pytest.mark.parametrize("family", ["xgboost", "lightgbm"])
def test_boosting_stops_early_with_the_callers_sample_weights_split_with_the_rows(family):
    spec = REGISTRY.model(family)
    dataset = prepare(shop_frame(2500, "binary", seed=4), "bought")
    X = dataset.features.select_dtypes("number").to_numpy(np.float32)
    y = dataset.y
    config = {**spec.default_config("binary", 2500), "n_estimators": 600, "learning_rate": 0.3}

    def fitted(**fit_args):
        return spec.build(config, "binary", 0).fit(X, y, **fit_args)

    weights = np.where(np.arange(len(y)) % 3 == 0, 3.0, 0.5)
    weighted, plain = fitted(sample_weight=weights), fitted()
    assert 1 <= _rounds(weighted) < 600 and 1 <= _rounds(plain) < 600  # both stopped
    assert not np.allclose(weighted.predict_proba(X), plain.predict_proba(X))  # weights used
    assert _rounds(fitted(eval_set=[(X, y)])) == 600  # the caller's own evaluation: every round


def _onnx_outputs(estimator, X):
    import onnxruntime as ort
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    options = {} if not hasattr(estimator, "classes_") else {id(estimator): {"zipmap": False}}
    graph = convert_sklearn(estimator, initial_types=[("x", FloatTensorType([None, X.shape[1]]))],
                            options=options)
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": X.astype(np.float32)})


def test_svm_graphs_compute_in_float64_where_skl2onnx_float32_graphs_lose_parity():
    """A large C makes the dual sum cancel: skl2onnx's float32 SVM operators miss the export's
    tolerance on scikit-learn's own diabetes and breast-cancer tables; the family's graphs hold
    it by orders of magnitude."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.datasets import load_breast_cancer, load_diabetes
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC, SVR

    from automl_guide_plugins.svm import CalibratedSVC, SVRegressor, register_onnx

    register_onnx()
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    for cls, most in ((SVR, 1e-4), (SVRegressor, 1e-6)):
        svr = cls(kernel="linear", C=1000.0).fit(X, y)
        native = svr.predict(X)
        relative = np.max(np.abs(_onnx_outputs(svr, X)[0].ravel() - native)) / np.abs(native).max()
        assert (relative > most) if cls is SVR else (relative < most), (cls, relative)
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    for cls, most in ((CalibratedClassifierCV, 1e-4), (CalibratedSVC, 1e-6)):
        svc = cls(SVC(kernel="linear", C=1000.0, random_state=0), cv=3, ensemble=False).fit(X, y)
        diff = np.max(np.abs(_onnx_outputs(svc, X)[1] - svc.predict_proba(X)))
        assert (diff > most) if cls is CalibratedClassifierCV else (diff < most), (cls, diff)


@pytest.mark.parametrize("kernel", ["linear", "rbf", "poly", "sigmoid"])
def test_the_float64_svm_graph_matches_every_kernel_and_the_one_vs_one_votes(kernel):
    """Four classes (six one-vs-one decisions turned into votes and confidences) and a
    regression, for each of scikit-learn's kernels."""
    from sklearn.datasets import load_wine
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from automl_guide_plugins.svm import CalibratedSVC, SVRegressor, register_onnx

    register_onnx()
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    y4 = np.where(X[:, 0] > 1.0, 3, y)  # a fourth class
    svc = CalibratedSVC(SVC(kernel=kernel, C=10.0, degree=2, random_state=0), cv=3,
                        ensemble=False).fit(X, y4)
    labels, probabilities = _onnx_outputs(svc, X)
    assert np.max(np.abs(probabilities - svc.predict_proba(X))) < 1e-6
    assert np.array_equal(labels, svc.predict(X))
    svr = SVRegressor(kernel=kernel, C=10.0, degree=2).fit(X, X[:, 1])
    assert np.max(np.abs(_onnx_outputs(svr, X)[0].ravel() - svr.predict(X))) < 1e-5
