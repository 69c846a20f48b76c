"""Value statistics of code-like columns (ids, cities): which columns get them, cross-fitting on
training rows, and the same numbers from onnxruntime, unseen values included."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from automl_guide.export import OPSET
from automl_guide_plugins.tabular_features import ValueStatistics, register_onnx, names_an_id
from automl_guide.parity import check_parity


def _codes(task: str, n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An id with 120 values that decides the target, a 5-valued code, and the same as strings."""
    rng = np.random.default_rng(seed)
    ids, small = rng.integers(0, 120, n), rng.integers(0, 5, n)
    signal = (ids % 7) / 7 + rng.normal(0, 0.2, n)
    y = {"binary": (signal > 0.5).astype(int), "multiclass": np.digitize(signal, [0.3, 0.6]),
         "regression": signal}[task]
    strings = np.c_[[f"c{i}" for i in ids], small.astype(str)].astype(object)
    return np.c_[ids, small], strings, y


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("integers", [True, False], ids=["int64", "string"])
def test_onnx_lookups_equal_transform_unseen_values_included(task, integers):
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import Int64TensorType, StringTensorType

    ints, strings, y = _codes(task)
    X = ints if integers else strings
    est = ValueStatistics(task, 50, integers=integers,
                          frequency="encoded" if integers else "all").fit(X, y)
    per_mean = 3 if task == "multiclass" else 1
    assert est.target_columns_ == [0]  # the 120-valued id, not the 5-valued code
    assert est.n_features_out_ == 2 * integers + (1 if integers else 2) + per_mean
    register_onnx()
    tensor = Int64TensorType if integers else StringTensorType
    graph = convert_sklearn(est, initial_types=[("x", tensor([None, 2]))], target_opset=OPSET)
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    rows = X[:50].copy()
    rows[:5, 0] = 10_000 if integers else "never seen"
    rows[5:8, 1] = 77 if integers else "nor this"
    expected = est.transform(rows)
    np.testing.assert_array_equal(session.run(None, {"x": rows})[0], expected)
    if task == "binary":  # unseen: the rarest seen value's share, the mean of all training rows
        seen = est.transform(X)[:, 2 * integers]
        assert np.all(expected[:5, 2 * integers] == seen.min()) and seen.min() > 0
        np.testing.assert_allclose(expected[:5, 2 * integers + 1], y.mean(), rtol=1e-6)


def test_training_rows_get_means_fitted_without_them():
    rng = np.random.default_rng(1)
    ids = rng.permutation(400)[:, None]  # every id once: its only target is its own
    y = rng.integers(0, 2, 400)
    est = ValueStatistics("binary", 50, integers=True, frequency="encoded")
    crossed = est.fit_transform(ids, y)[:, -1]
    leaked = est.transform(ids)[:, -1]  # the means over all rows, for rows not trained on
    assert abs(np.corrcoef(crossed, y)[0, 1]) < 0.2  # nothing learnt from its own label
    assert np.corrcoef(leaked, y)[0, 1] > 0.9


def test_fit_alone_skips_cross_fitting_but_learns_the_same_tables():
    ints, _, y = _codes("binary")
    both = np.c_[ints, (ints[:, 0] * 3) % 150]  # two ids: the pair is looked up too
    whole = ValueStatistics("binary", 50, integers=True).fit(both, y)
    crossed = ValueStatistics("binary", 50, integers=True)
    crossed.fit_transform(both, y)
    assert whole.pair_ == crossed.pair_ == (0, 2) and whole.pair_width_ == crossed.pair_width_
    np.testing.assert_array_equal(whole.transform(both), crossed.transform(both))


def test_without_a_task_or_many_values_integers_pass_through_unchanged():
    ints, _, y = _codes("binary")
    for est in (ValueStatistics(None, 50, integers=True, frequency="encoded"),
                ValueStatistics("binary", 500, integers=True, frequency="encoded")):
        out = est.fit_transform(ints, y)
        assert est.target_columns_ == [] and out.dtype == np.float32
        np.testing.assert_array_equal(out, ints.astype(np.float32))
    with pytest.raises(ValueError, match="needs the target"):
        ValueStatistics("binary", 50, integers=True).fit(ints)


def test_two_id_columns_also_make_a_pair_looked_up_by_one_key():
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import Int64TensorType

    rng = np.random.default_rng(3)
    n = 12_000
    user, product, dow = rng.integers(0, 60, n), rng.integers(1000, 1050, n), rng.integers(0, 7, n)
    liked = rng.random((60, 50)) < 0.3  # each user likes their own products: only the pair says
    y = (liked[user, product - 1000] ^ (rng.random(n) < 0.1)).astype(int)
    X = np.c_[dow, product, user]
    est = ValueStatistics("binary", 50, integers=True, frequency="encoded")
    crossed = est.fit_transform(X, y)
    assert est.pair_ == (1, 2) and est.target_columns_ == [1, 2, "pair"]
    assert crossed.shape == (n, 3 + 3 + 3) == (n, est.n_features_out_)
    pair_mean = crossed[:, -1]  # cross-fitted, yet it knows the pair
    assert np.corrcoef(pair_mean, y)[0, 1] > 0.5
    assert abs(np.corrcoef(crossed[:, -3], y)[0, 1]) < 0.2  # the user alone does not
    register_onnx()
    graph = convert_sklearn(est, initial_types=[("x", Int64TensorType([None, 3]))],
                            target_opset=OPSET)
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    rows = X[:40].copy()
    rows[:3, 2] = [-5, 60, 10**12]  # users outside the training range: an unseen pair
    rows[3:6, 1] = [999, 1050, -10**12]
    expected = est.transform(rows)
    np.testing.assert_array_equal(session.run(None, {"x": rows})[0], expected)
    np.testing.assert_allclose(expected[:6, -1], y.mean(), rtol=1e-6)


def test_only_integer_columns_named_as_ids_count_as_codes():
    named = ["user_id", "ClothingID", "Clothing ID", "productId", "store code", "ID", "item_sku"]
    assert all(names_an_id(n) for n in named)
    assert not any(names_an_id(n) for n in ["paid", "valid", "balance", "age", "idle_days"])


def test_a_class_too_rare_for_the_folds_gets_no_target_mean():
    ints, _, y = _codes("multiclass")
    y = y.copy()
    y[0] = 9  # one row of a fourth class: a cross-fitting fold would lack it
    est = ValueStatistics("multiclass", 50, integers=True, frequency="encoded")
    assert est.fit_transform(ints, y).shape == (len(y), 2) and est.target_columns_ == []


def _store_table(n: int = 1200, seed: int = 0):
    """A store number (80 values, the target's main signal) and a user_id (60 values, noise)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    store, user = rng.integers(100, 180, n), rng.integers(0, 60, n)
    bought = np.where((store % 5 == 0) ^ (rng.random(n) < 0.1), "yes", "no")
    return pd.DataFrame({"store": store, "user_id": user, "visits": rng.integers(0, 9, n),
                         "bought": bought})


@pytest.mark.parametrize("codes,encoded", [(None, [1]), (["store"], [0]), ([], []),
                                           (["store", "user_id"], [0, 1, "pair"]),
                                           (["visits"], [2])])
def test_declared_codes_replace_the_name_rule_and_export_with_parity(codes, encoded):
    """None: only user_id (by its name); a list: exactly those columns, `[]` none at all, and
    a declared code whatever its count of values (visits has 9, fewer than a name-only id
    needs)."""
    from automl_guide import export, load_registry
    from automl_guide.refit import refit
    from automl_guide.data import prepare
    from automl_guide.pipeline import feature_plan

    registry = load_registry()
    dataset = prepare(_store_table(), "bought", codes=codes)
    spec = registry.model("decision_tree")
    plan = feature_plan(registry, dataset.columns)
    pipeline = refit(dataset, np.arange(len(dataset.y)), plan, spec,
                      spec.default_config("binary", 1200), seed=0)
    integers = pipeline.named_steps["features"].named_transformers_["integer"]
    statistics = integers if isinstance(integers, ValueStatistics) else integers[0]
    assert statistics.target_columns_ == encoded  # positions among the integer columns
    used = [reg.spec for reg in registry.all() if reg.kind == "feature" or reg.spec is spec]
    graph = export.to_onnx(pipeline, dataset.columns, "binary", dataset.classes, used, spec)
    parity = check_parity(graph.SerializeToString(), pipeline, dataset.features,
                                 dataset.columns, "binary", dataset.classes)
    assert parity.passed


@pytest.mark.parametrize("name,message", [
    ("shop", r"codes: no column 'shop'; columns are: 'store', 'user_id', 'visits'"),
    ("Store", r"codes: no column 'Store' \(did you mean 'store'\?\); columns are: 'store'"),
    ("bought", r"codes: 'bought' is the target column"),
    ("price", r"codes: column 'price' is numeric, not integer; declare only"),
    ("store_f", r"codes: column 'store_f' is numeric, not integer \(whole numbers stored as "
                r"floats, as pandas reads integers with missing values"),
    ("city", r"codes: column 'city' holds strings, which are encoded by value already")])
def test_a_declared_code_that_is_not_an_integer_column_is_refused_by_name(name, message):
    from automl_guide import DataError
    from automl_guide.data import prepare

    frame = _store_table()
    frame["price"] = frame["store"] / 7
    frame["store_f"] = frame["store"].astype(float).where(frame.index % 9 > 0)  # gaps: floats
    frame["city"] = "c" + frame["store"].astype(str)
    with pytest.raises(DataError, match=message):
        prepare(frame, "bought", codes=["store", name])


def test_the_command_line_passes_codes_as_a_list_and_empty_as_none_at_all():
    from automl_guide.cli import fit_kwargs, build_parser

    def codes(*extra):
        return fit_kwargs(build_parser().parse_args(["fit", "t.csv", *extra]))["codes"]

    assert codes() is None
    assert codes("--codes", "store, user_id") == ["store", "user_id"]
    assert codes("--codes", "") == []


def test_the_search_folds_use_the_declared_codes_too():
    """Trials see what the refit sees: `store` declared adds its share and target mean to
    every validation split's features (the integer block: store, user_id, visits, then those)."""
    from automl_guide import load_registry
    from automl_guide.features import fold_matrices
    from automl_guide.data import prepare
    from automl_guide.splits import validation_splits
    from automl_guide.metrics import get_metric
    from automl_guide.pipeline import feature_plan

    registry = load_registry()
    specs = {"decision_tree": registry.model("decision_tree")}
    widths = {}
    for codes in ([], ["store"]):
        dataset = prepare(_store_table(), "bought", codes=codes)
        train = np.arange(len(dataset.y))
        splits = validation_splits(dataset.y, "binary", "holdout", 5, 0)
        data = fold_matrices(dataset, train, splits, feature_plan(registry, dataset.columns),
                           specs, get_metric(None, "binary"), 0)
        widths[len(codes)] = data.folds[False][0].X_val.shape[1]
    assert widths[1] == widths[0] + 2  # the store's share and its target mean


def test_resume_keeps_the_declared_codes_and_reads_a_run_from_before_them(tmp_path):
    import json

    from automl_guide.options import FitConfig
    from automl_guide.run_dir import STATE_DIR, resumed_config, save_run_options

    frame = _store_table()
    state = tmp_path / STATE_DIR
    state.mkdir()
    (state / "searcher.pkl").write_bytes(b"")
    asked = FitConfig(None, out=tmp_path, resume=True)
    for codes in ((), ("store",), None):
        save_run_options(FitConfig("bought", out=tmp_path, codes=codes), frame)
        assert resumed_config(asked, frame).codes == codes
    options = json.loads((state / "run.json").read_text())
    del options["codes"]  # run.json of a run interrupted before codes existed
    (state / "run.json").write_text(json.dumps(options))
    assert resumed_config(asked, frame).codes is None
