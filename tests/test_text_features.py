"""Free-text columns: inferred as text, kept although distinct, char n-gram TF-IDF in ONNX with
parity on English, Chinese and mixed strings, through every model family and fit_and_export."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest

from automl_guide import export, fit_and_export, load, load_registry
from automl_guide.refit import refit
from automl_guide.columns import infer_kind
from automl_guide.data import prepare
from automl_guide.pipeline import feature_plan
from automl_guide_plugins.text_features import CharNgramTfidf, register_onnx
from automl_guide.parity import PROBABILITY_TOLERANCE, check_parity

REGISTRY = load_registry()
GOOD = ["great quality", "Great value", "love it, GREAT fit", "excellent, works perfectly"]
BAD = ["terrible stitching", "broke after a week", "waste of money", "poor  quality"]
PLAIN = ["the colour is {c}", "arrived in {k} days", "bought it for my {p}", "size runs {s}"]
COLOURS = ["red", "navy blue", "black", "beige"]
COLOURS_ZH = ["红色", "黑色", "白色", "浅蓝色", "粉色"]
ITEMS = ["连衣裙", "运动鞋", "真皮手提包", "纯棉T恤衫", "Nike 跑步鞋", "羊毛围巾"]
ASKS = ["怎么退货", "可以退货吗", "夏季新款推荐", "尺码偏大吗", "有没有优惠券", "什么时候发货"]


def review_frame(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """An English review, a Chinese (partly mixed) query, a short category and a price; whether
    the customer is happy depends on the review's words and on 退货 (returns) in the query."""
    rng = np.random.default_rng(seed)
    reviews, queries, happy = [], [], []
    for _ in range(n):
        tone = rng.choice([-1, 0, 1])
        plain = rng.choice(PLAIN).format(c=rng.choice(COLOURS), k=rng.integers(1, 30),
                                         p=rng.choice(["sister", "son", "trip"]),
                                         s=rng.choice(["small", "large"]))
        words = [plain] + ([rng.choice(GOOD if tone > 0 else BAD)] if tone else [])
        reviews.append(". ".join(rng.permutation(words)).capitalize())
        query = rng.choice(COLOURS_ZH) + rng.choice(ITEMS) + rng.choice(ASKS)
        queries.append(query)
        score = tone - 1.5 * ("退货" in query) + rng.normal(0, 0.4)
        happy.append("yes" if score > -0.5 else "no")
    return pd.DataFrame({"review": reviews, "query": queries,
                         "category": rng.choice(["dress", "shoes", "bag"], n),
                         "price": rng.gamma(2.0, 30.0, n), "happy": happy})


@pytest.mark.usefixtures("ray_session")
def test_reviews_and_chinese_queries_go_through_fit_and_export(tmp_path):
    frame = review_frame(240)
    result = fit_and_export(frame, "happy", models=["linear", "extra_trees"], max_trials=2,
                            validation="holdout", time_budget=None, out=tmp_path / "run",
                            quiet=True)
    card = result.card
    kinds = {c["name"]: c["kind"] for c in card["inputs"]}
    assert kinds == {"review": "text", "query": "text", "category": "categorical",
                     "price": "numeric"}
    assert not card["dropped_columns"]  # distinct in (nearly) every row, yet not an ID
    assert "categories" not in next(c for c in card["inputs"] if c["name"] == "review")
    assert {"name": "text", "kind": "feature"}.items() <= next(
        p for p in card["plugins"] if p["name"] == "text").items()
    assert card["parity"]["passed"] and card["parity"]["max_abs_diff"] <= 1e-4
    assert card["test_metrics"]["roc_auc"] > 0.85  # the words carry the signal

    new = review_frame(60, seed=5).drop(columns=["happy"])
    new.loc[:2, "review"] = ["", "GREAT!!  世界  mixed 退货 ünïcödé 😀", "   "]
    native = result.model.predict_proba(new)
    np.testing.assert_allclose(result.predict_proba(new), native, atol=1e-4)
    np.testing.assert_array_equal(load(tmp_path / "run").predict(new), result.model.predict(new))


@pytest.mark.parametrize("name", sorted(n for n, r in REGISTRY.models.items()
                                        if "binary" in r.spec.tasks))
def test_every_model_family_exports_text_features(name):
    dataset = prepare(review_frame(160, seed=1), "happy")
    spec = REGISTRY.model(name)
    config = dict(spec.default_config("binary", 160))
    rows = np.arange(len(dataset.y))
    queries = rows // 8 if spec.needs_queries else None  # a ranker orders 8 rows at a time
    pipeline = refit(dataset, rows, feature_plan(REGISTRY, dataset.columns), spec, config,
                      seed=0, queries=queries)
    used = [reg.spec for reg in REGISTRY.all() if reg.kind == "feature" or reg.name == name]
    graph = export.to_onnx(pipeline, dataset.columns, "binary", dataset.classes, used, spec)
    parity = check_parity(graph.SerializeToString(), pipeline, dataset.features,
                                 dataset.columns, "binary", dataset.classes)
    assert parity.passed and parity.max_abs_diff <= PROBABILITY_TOLERANCE


CASES = {
    "english": ["Great value, love it", "TERRIBLE.  Broke after\ta week\n\nwaste of money"],
    "chinese": ["红色连衣裙怎么退货", "纯棉T恤衫有没有优惠券，尺码偏大吗？"],
    "mixed": ["Nike 跑步鞋 great 退货", "ＧＲＥＡＴ 质量\u3000很好 ok"],
    "empty": ["", " "],
    "unseen": ["龘𠀀 😀 İstanbul ß ΣΑΣ", "\x00\x7f\u200b zzz qqq"],
}


@pytest.fixture(scope="module")
def text_model():
    train = review_frame(200)[["review", "query"]].to_numpy(dtype=object)
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import StringTensorType

    model = CharNgramTfidf(max_features=800).fit(train)
    register_onnx()
    graph = convert_sklearn(model, initial_types=[("text", StringTensorType([None, 2]))],
                            target_opset=export.OPSET)
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    return model, lambda rows: session.run(None, {"text": rows})[0]


@pytest.mark.parametrize("case", sorted(CASES))
def test_text_transformer_matches_onnxruntime(case, text_model):
    model, run_onnx = text_model
    rows = np.array([[a, b] for a in CASES[case] for b in CASES[case]], dtype=object)
    native, onnx = model.transform(rows), run_onnx(rows)
    assert native.shape == onnx.shape == (len(rows), model.transform(rows[:1]).shape[1])
    assert float(np.max(np.abs(native - onnx))) < 1e-5
    if case in ("english", "chinese", "mixed"):
        assert (native > 0).any(axis=1).all()  # known characters give non-zero features
    if case == "empty":
        assert not native[(rows == "").all(axis=1)].any() and native.any()  # " " is a character


def test_folding_is_per_character_lowercase_and_whitespace(text_model):
    model, run_onnx = text_model
    rows = np.array([["GREAT\tQuality", "退货"], ["great quality", "退货"]], dtype=object)
    native = model.transform(rows)
    np.testing.assert_array_equal(native[0], native[1])
    np.testing.assert_allclose(run_onnx(rows)[0], native[1], atol=1e-6)


def test_the_ascii_fast_path_folds_exactly_as_the_per_character_rule():
    from automl_guide_plugins.text_features import fold_char, fold

    for lowercase in (True, False):
        for code in range(128):
            char = chr(code)
            assert fold(char, lowercase) == fold_char(char, lowercase), (code, lowercase)
    assert fold("A\tB\r\nc") == "a b  c" and fold("Ä\tB") == "ä b"  # non-ASCII: the slow path


def test_short_codes_stay_categorical_and_ids_are_still_dropped():
    n = 120
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({
        "city": [f"city_{i}" for i in rng.integers(0, 60, n)],
        "size": rng.choice(["S", "M", "L", "XL"], n),
        "sku": [f"SKU-2024-{i:08d}" for i in range(n)],  # long and distinct, but no words
        "name": [f"{a} {b}" for a, b in zip(rng.choice(["Ann", "Bo", "Li"], n), range(n))],
        "when": [f"2024-01-{1 + i % 28:02d} 10:{i % 60:02d}" for i in range(n)],
        "label": rng.choice(["a", "b"], n)})
    assert {c: infer_kind(frame[c]) for c in frame.columns[:-1]} == {
        "city": "categorical", "size": "categorical", "sku": "categorical",
        "name": "categorical", "when": "datetime"}
    with pytest.warns(UserWarning) as said:
        dataset = prepare(frame, "label")
    assert sorted(str(w.message).split("'")[1] for w in said) == ["name", "sku"]
    assert "it looks like an ID" in str(said[0].message)
    assert list(dataset.features) == ["city", "size", "when"]
    assert infer_kind(pd.Series(["质量很好，物流也很快"] * 2 + [f"第{i}次购买，很满意" for i in range(40)])) \
        == "text"


def test_fit_transform_is_fit_then_transform_to_the_bit():
    texts = review_frame(120, seed=5)[["review", "query"]].to_numpy(dtype=object)
    once = CharNgramTfidf(max_features=300).fit_transform(texts)
    np.testing.assert_array_equal(once, CharNgramTfidf(max_features=300).fit(texts)
                                  .transform(texts))


def test_trial_matrices_equal_the_pipeline_features_and_text_is_fitted_once(monkeypatch):
    from automl_guide.families import model_specs
    from automl_guide.features import fold_matrices
    from automl_guide.columns import coerce_frame
    from automl_guide.splits import validation_splits
    from automl_guide.metrics import get_metric
    from automl_guide.pipeline import build_features
    from automl_guide.specs import FeatureContext

    dataset = prepare(review_frame(160, seed=6), "happy", None)
    plan = feature_plan(REGISTRY, dataset.columns)
    specs = model_specs(REGISTRY, ["linear", "xgboost"], dataset.task)  # scaled and raw
    rows = np.arange(len(dataset.y))
    splits = validation_splits(dataset.y, dataset.task, "cv", 2, 0)
    fits = []
    original = CharNgramTfidf.fit_transform
    monkeypatch.setattr(CharNgramTfidf, "fit_transform",
                        lambda self, X, y=None: fits.append(1) or original(self, X, y))
    data = fold_matrices(dataset, rows, splits, plan, specs, get_metric(None, dataset.task), 0)
    assert len(fits) == len(splits)  # once per split, not once per scaling variant as well
    typed = coerce_frame(dataset.features, dataset.columns)
    for scaled in (False, True):
        for (fit_rows, val_rows), fold in zip(splits, data.folds[scaled]):
            features = build_features(plan, FeatureContext(dataset.task, scaled, len(fit_rows),
                                                           0)).fit(typed.iloc[fit_rows],
                                                                   dataset.y[fit_rows])
            np.testing.assert_array_equal(fold.X_val, np.asarray(features.transform(
                typed.iloc[val_rows]), dtype=np.float32))
            np.testing.assert_array_equal(fold.X_train, np.asarray(features.transform(
                typed.iloc[fit_rows]), dtype=np.float32))
    assert not np.array_equal(data.folds[False][0].X_train, data.folds[True][0].X_train)


def test_two_plugins_with_alike_transformers_on_other_columns_are_not_confused():
    from automl_guide.families import model_specs
    from automl_guide.features import fold_matrices, same_estimator
    from automl_guide.columns import coerce_frame
    from automl_guide.splits import validation_splits
    from automl_guide.metrics import get_metric
    from automl_guide.pipeline import build_features
    from automl_guide.specs import FeatureContext

    dataset = prepare(review_frame(80, seed=9), "happy", None)
    text_spec, text_cols = feature_plan(REGISTRY, dataset.columns)["text"]
    ctx = FeatureContext(dataset.task, True, 40, 0)
    assert same_estimator(text_spec.build(text_cols[:1], ctx), text_spec.build(text_cols[1:], ctx))
    # a second plugin building the very same transformer for the other text column
    plan = {"text": (text_spec, text_cols[:1]), "text_copy": (text_spec, text_cols[1:])}
    specs = model_specs(REGISTRY, ["linear"], dataset.task)
    (fit_rows, val_rows), = validation_splits(dataset.y, dataset.task, "holdout", 2, 0)
    fold = fold_matrices(dataset, np.arange(len(dataset.y)), [(fit_rows, val_rows)], plan, specs,
                       get_metric(None, dataset.task), 0).folds[True][0]
    typed = coerce_frame(dataset.features, dataset.columns)
    features = build_features(plan, FeatureContext(dataset.task, True, len(fit_rows), 0)).fit(
        typed.iloc[fit_rows], dataset.y[fit_rows])
    np.testing.assert_array_equal(fold.X_val, np.asarray(
        features.transform(typed.iloc[val_rows]), dtype=np.float32))
