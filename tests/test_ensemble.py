"""Greedy ensemble selection and its export as one ONNX graph."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from automl_guide.ensemble import greedy_weights
from automl_guide.metrics import get_metric
from automl_guide.parity import check_parity



def _two_signals(n: int, seed: int):
    """A target with a smooth linear part (linear models see it well) and an interaction
    (trees see it well): neither family alone has all of it."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    signal = 0.5 * x[:, 0] + 0.5 * x[:, 1] + 1.5 * ((x[:, 2] > 0) ^ (x[:, 3] > 0))
    frame = pd.DataFrame(x, columns=["spend", "visits", "age", "distance"])
    frame["bought"] = np.where(signal + rng.normal(0, 0.7, n) > 0.8, "yes", "no")
    return frame


def test_greedy_selection_mixes_complementary_members_and_never_loses_to_the_best():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    noise = rng.normal(0, 1.0, (3, 400))
    # two members that see the label through independent noise, one that sees nothing
    outputs = [np.column_stack([1 - p, p]) for p in
               (1 / (1 + np.exp(-(2 * y - 1 + noise[0]))), 1 / (1 + np.exp(-(2 * y - 1 + noise[1]))),
                rng.random(400))]
    metric = get_metric("roc_auc", "binary")
    weights, score = greedy_weights(outputs, y, metric)
    singles = [metric.fn(y, o) for o in outputs]
    assert weights.sum() == pytest.approx(1.0)
    assert weights[0] > 0 and weights[1] > 0 and weights[2] < 0.2
    assert score > max(singles)
    alone, alone_score = greedy_weights(outputs[2:], y, metric)  # one member: itself
    assert list(alone) == [1.0] and alone_score == pytest.approx(singles[2])


def test_fit_exports_an_ensemble_as_one_graph_with_parity_and_keeps_the_single_best(
        tmp_path, ray_session, monkeypatch):
    import onnx

    from automl_guide import ensemble, fit_and_export, load

    seen = []

    def compared(members, data, known=None):  # the trials' own outputs, and fitted again
        assert {m.trial_id for m in members} <= set(known)  # the search kept them all
        sent = ensemble_outputs(members, data, known)
        seen.append((sent, ensemble_outputs(members, data)))
        return sent

    ensemble_outputs = ensemble.validation_outputs
    monkeypatch.setattr(ensemble, "validation_outputs", compared)
    frame = _two_signals(800, seed=3)
    result = fit_and_export(frame, "bought", time_budget=None, max_trials=4,
                            models=["linear", "xgboost", "decision_tree"],
                            out=tmp_path / "run", quiet=True)
    (sent, refitted), = seen
    assert len(sent[0]) == 3 and np.array_equal(sent[1], refitted[1])  # one per family, same y
    for mine, again in zip(sent[0], refitted[0]):  # in the order of the validation rows
        np.testing.assert_allclose(mine, again, atol=1e-6)
    monkeypatch.undo()
    card = result.card
    assert "ensemble" in card, "no ensemble beat the best single trial on this data"
    members = card["ensemble"]["members"]
    assert len(members) >= 2 and sum(m["weight"] for m in members) == pytest.approx(1.0)
    assert card["ensemble"]["validation_score"] > card["ensemble"]["best_single_validation_score"]
    assert card["parity"]["passed"] and card["parity"]["max_abs_diff"] < 1e-4
    graph = onnx.load(tmp_path / "run" / "model.onnx")
    assert [o.name for o in graph.graph.output] == ["label", "probabilities"]
    produced = [o for n in graph.graph.node for o in n.output]
    assert len(produced) == len(set(produced))  # members' tensors do not collide
    assert {f"automl_guide_m{i}_probabilities" for i in range(len(members))} <= set(produced)
    computed = [(n.op_type, tuple(n.input), tuple(a.SerializeToString() for a in n.attribute))
                for n in graph.graph.node]
    assert len(computed) == len(set(computed))  # what members compute alike, computed once
    new = _two_signals(50, seed=9).drop(columns="bought")
    np.testing.assert_allclose(load(tmp_path / "run" / "model.onnx").predict_proba(new),
                               result.model.predict_proba(new), atol=1e-4)
    single = load(tmp_path / "run" / "single_best.onnx")
    assert single.predict_proba(new).shape == (50, 2)
    assert json.loads((tmp_path / "run" / "model_card.json").read_text())["ensemble"]

    again = fit_and_export(frame, "bought", time_budget=None, max_trials=4, ensemble=False,
                           models=["linear", "random_forest"], out=tmp_path / "run",
                           overwrite=True, quiet=True)
    assert "ensemble" not in again.card and again.card["search"]["no_ensemble"] == "--no-ensemble"
    assert not (tmp_path / "run" / "single_best.onnx").exists()  # no stale file


def test_members_compute_their_shared_preprocessing_once_and_predict_as_before():
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from automl_guide.export import combine

    def member(slope: float) -> onnx.ModelProto:  # the same scaling, then its own slope
        x = helper.make_tensor_value_info("spend", TensorProto.FLOAT, [None, 1])
        nodes = [helper.make_node("Sub", ["spend", "mean"], ["centred"]),
                 helper.make_node("Div", ["centred", "scale"], ["scaled"]),
                 helper.make_node("Mul", ["scaled", "slope"], ["logit"]),
                 helper.make_node("Sigmoid", ["logit"], ["p"]),
                 helper.make_node("Sub", ["one", "p"], ["q"]),
                 helper.make_node("Concat", ["q", "p"], ["probabilities"], axis=1)]
        consts = [numpy_helper.from_array(np.array(v, np.float32), name) for name, v in
                  [("mean", 3.0), ("scale", 2.0), ("slope", slope), ("one", 1.0)]]
        out = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])
        return helper.make_model(helper.make_graph(nodes, "m", [x], [out], consts),
                                 opset_imports=[helper.make_opsetid("", 17)])

    spend = np.linspace(-5, 10, 31, dtype=np.float32).reshape(-1, 1)
    graph = combine([member(1.0), member(-0.5), member(1.0)], [0.5, 0.3, 0.2], "binary",
                    ["no", "yes"])
    ops = [n.op_type for n in graph.graph.node]
    assert ops.count("Div") == 1 and ops.count("Sigmoid") == 2  # the third member is the first
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    label, probabilities = session.run(["label", "probabilities"], {"spend": spend})

    def p(slope: float) -> np.ndarray:
        return 1 / (1 + np.exp(-slope * (spend[:, 0] - 3.0) / 2.0))

    expected = 0.5 * p(1.0) + 0.3 * p(-0.5) + 0.2 * p(1.0)
    np.testing.assert_allclose(probabilities[:, 1], expected, atol=1e-6)
    assert list(label) == ["yes" if e > 0.5 else "no" for e in expected]


def test_members_whose_subgraphs_read_shared_preprocessing_still_combine():
    """An If node's branches read the outer graph's tensors by name: the nodes computing them
    are neither pruned nor dropped as repeats, though no node lists them as inputs."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from automl_guide.export import combine

    def member(slope: float) -> onnx.ModelProto:
        x = helper.make_tensor_value_info("spend", TensorProto.FLOAT, [None, 1])
        branch = helper.make_tensor_value_info("scaled", TensorProto.FLOAT, [None, 1])
        two = helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])
        then = helper.make_graph([helper.make_node("Constant", [], ["scale"], value=two),
                                  helper.make_node("Div", ["centred", "scale"], ["scaled"])],
                                 "then", [], [branch])
        other = helper.make_graph([helper.make_node("Identity", ["centred"], ["scaled"])],
                                  "else", [], [branch])
        nodes = [helper.make_node("Sub", ["spend", "mean"], ["centred"]),  # read in branches
                 helper.make_node("If", ["scaling"], ["branched"], then_branch=then,
                                  else_branch=other),
                 helper.make_node("Mul", ["branched", "slope"], ["logit"]),
                 helper.make_node("Sigmoid", ["logit"], ["p"]),
                 helper.make_node("Sub", ["one", "p"], ["q"]),
                 helper.make_node("Concat", ["q", "p"], ["probabilities"], axis=1)]
        consts = [numpy_helper.from_array(np.array(v, dtype), name) for name, v, dtype in
                  [("mean", 3.0, np.float32), ("scaling", True, bool),
                   ("slope", slope, np.float32), ("one", 1.0, np.float32)]]
        out = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])
        return helper.make_model(helper.make_graph(nodes, "m", [x], [out], consts),
                                 opset_imports=[helper.make_opsetid("", 17)])

    spend = np.linspace(-5, 10, 31, dtype=np.float32).reshape(-1, 1)
    graph = combine([member(1.0), member(-0.5)], [0.6, 0.4], "binary", ["no", "yes"])
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    probabilities = session.run(["probabilities"], {"spend": spend})[0]

    def p(slope: float) -> np.ndarray:
        return 1 / (1 + np.exp(-slope * (spend[:, 0] - 3.0) / 2.0))

    np.testing.assert_allclose(probabilities[:, 1], 0.6 * p(1.0) + 0.4 * p(-0.5), atol=1e-6)


def test_an_ensemble_never_leaves_out_the_best_family_to_fit_the_budget():
    import time

    import pandas as pd

    from automl_guide import load_registry
    from automl_guide.families import model_specs
    from automl_guide.select import choose_ensemble
    from automl_guide.progress import Progress

    specs = model_specs(load_registry(), ["xgboost", "linear", "decision_tree"], "binary")
    board = pd.DataFrame({  # the best family is slow; two cheap, weaker ones would fit in time
        "model": ["xgboost", "linear", "decision_tree"], "roc_auc": [0.94, 0.91, 0.87],
        "status": "ok", "early_stopped": False, "fit_seconds": [30.0, 0.1, 0.2],
        "config": ["{}", '{"C": 1.0}', "{}"], "trial_id": ["a", "b", "c"], "rank": [1, 2, 3],
        "predict_us": [10.0, 2.0, 1.0]})
    metric = get_metric("roc_auc", "binary")
    # no validation fit may even start (five splits without rows): the choice is made from the
    # board and the clock alone, the refit of the 30-s family included
    data = SimpleNamespace(folds={False: [None] * 5}, n_splits=5)
    for known in ({}, {"a": np.zeros(10), "b": np.zeros(10), "c": np.zeros(10)}):
        chosen = choose_ensemble(board, data, specs, metric, time.monotonic() + 12.0,
                                  Progress(metric, None, True), known)
        assert not chosen and chosen.reason == ("the budget left was too short to refit its "
                                                "members")
    # time enough, but the two best families' prediction times add up past the limit
    known = {"a": np.zeros(10), "b": np.zeros(10), "c": np.zeros(10)}
    chosen = choose_ensemble(board, data, specs, metric, None, Progress(metric, None, True),
                             known, max_predict_us=11.0)
    assert not chosen and chosen.reason == ("the members' prediction times add up past "
                                            "max_predict_us=11")


def test_a_member_already_refitted_costs_no_refit_time(monkeypatch):
    """After an export failed, the members refitted for it are not fitted again: the budget
    check counts no refit time for them, so an ensemble that did not fit in time now does."""
    import time

    import pandas as pd

    from automl_guide import ensemble, load_registry
    from automl_guide.families import model_specs
    from automl_guide.select import choose_ensemble, trial_key
    from automl_guide.progress import Progress

    specs = model_specs(load_registry(), ["xgboost", "linear"], "binary")
    board = pd.DataFrame({
        "model": ["xgboost", "linear"], "roc_auc": [0.94, 0.91], "status": "ok",
        "early_stopped": False, "fit_seconds": [30.0, 0.1], "config": ["{}", '{"C": 1.0}'],
        "trial_id": ["a", "b"], "rank": [1, 2], "predict_us": [10.0, 2.0]})
    metric = get_metric("roc_auc", "binary")
    data = SimpleNamespace(folds={False: [None] * 5}, n_splits=5)
    y = np.arange(400) % 2
    rng = np.random.default_rng(0)
    seen = []

    def outputs(members, data, known=None):  # two members that each see the label in noise
        seen.append([m.model for m in members])
        return [np.column_stack([1 - p, p]) for p in
                (1 / (1 + np.exp(-(2 * y - 1 + rng.normal(0, 1, 400)))) for _ in members)], y

    monkeypatch.setattr(ensemble, "validation_outputs", outputs)
    known = {"a": None, "b": None}
    # 12 s left: the 30-s family's refit (9 s) and the 5-s margin do not fit
    assert not choose_ensemble(board, data, specs, metric, time.monotonic() + 12.0,
                               Progress(metric, None, True), known)
    assert seen == []
    chosen = choose_ensemble(board, data, specs, metric, time.monotonic() + 12.0,
                              Progress(metric, None, True), known,
                              refitted={trial_key("xgboost", {})})
    assert seen == [["xgboost", "linear"]]
    assert chosen and [m.model for m in chosen[0]] == ["xgboost", "linear"]


@pytest.mark.parametrize("metric_name,task,best", [("roc_auc", "binary", "b"),
                                                    ("rmse", "regression", "a")])
def test_the_search_keeps_the_outputs_of_each_familys_best_trial_by_its_metric(
        metric_name, task, best):
    """Scores 0.2 (trial a) and 0.3 (trial b) of one family: AUC keeps b's outputs, RMSE a's;
    the outputs leave Tune's result either way, and a failed trial's are never kept."""
    from types import SimpleNamespace

    from automl_guide.metrics import get_metric
    from automl_guide.search import Collector

    collector = Collector(better=get_metric(metric_name, task).better)
    for trial_id, score, status in [("a", 0.2, "ok"), ("b", 0.3, "ok"), ("c", 0.9, "error")]:
        result = {"score": score, "model": "xgboost", "status": status, "outputs": trial_id,
                  "fit_seconds": 1.0}
        collector.on_trial_result(0, [], SimpleNamespace(trial_id=trial_id, config={}), result)
        assert "outputs" not in result
    assert collector.best_outputs == {"xgboost": ({"a": 0.2, "b": 0.3}[best], best, best)}


def test_the_ann_joins_an_ensemble_on_text_and_the_graph_keeps_parity():
    """On a table of reviews the linear model's graph comes out of skl2onnx at opset 16 and the
    ANN's at 20, both holding com.microsoft's Tokenizer, which keeps ONNX's version converter
    away: the members below the newest opset are converted again at it, and the ensemble's
    graph predicts what the native ensemble does."""
    from automl_guide import ExportError, export, load_registry
    from automl_guide.delivery import combined
    from automl_guide.refit import refit
    from automl_guide.data import prepare
    from automl_guide.ensemble import Ensemble, Member
    from automl_guide.pipeline import feature_plan
    from automl_guide.testing import sample_table

    registry = load_registry()
    dataset = prepare(*sample_table(240, "multiclass", kind="text"))
    plan = feature_plan(registry, dataset.columns)
    rows = np.arange(len(dataset.y))
    specs = {name: registry.model(name) for name in ("ann", "linear")}
    used = [reg.spec for reg in registry.all() if reg.kind == "feature" and reg.name in plan]
    members, graphs = [], []
    for name, spec in specs.items():
        config = dict(spec.default_config("multiclass", 240))
        pipeline = refit(dataset, rows, plan, spec, config, seed=0)
        members.append((Member(name, config), pipeline))
        graphs.append(export.to_onnx(pipeline, dataset.columns, "multiclass", dataset.classes,
                                     [*used, spec], spec))
    assert export.default_opset(graphs[0]) > export.default_opset(graphs[1])  # ann, linear
    with pytest.raises(ExportError, match="in a graph using \\['com.microsoft'\\]"):
        export.combine(graphs, [0.6, 0.4], "multiclass", dataset.classes)
    graph = combined(graphs, members, [0.6, 0.4], dataset, used, specs)
    native = Ensemble([p for _, p in members], [0.6, 0.4], "multiclass", dataset.classes)
    parity = check_parity(graph.SerializeToString(), native, dataset.features,
                                 dataset.columns, "multiclass", dataset.classes)
    assert parity.passed and parity.max_abs_diff < 1e-5
