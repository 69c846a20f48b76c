"""Decision tree, random forest and extra trees from scikit-learn."""
from __future__ import annotations

from typing import Any, Mapping

from sklearn import ensemble, tree

from automl_guide import ModelSpec, hookimpl

ALL_TASKS = frozenset({"binary", "multiclass", "regression"})


def _criterion(task: str) -> str:
    return "squared_error" if task == "regression" else "gini"


def _tree_space(task: str, n_rows: int) -> Mapping[str, Any]:
    from ray import tune

    return {"max_depth": tune.randint(2, 21), "min_samples_leaf": tune.lograndint(1, 64),
            "max_features": tune.choice([1.0, 0.8, 0.5, "sqrt"])}


def _build_tree(config: Mapping[str, Any], task: str, seed: int) -> Any:
    cls = tree.DecisionTreeRegressor if task == "regression" else tree.DecisionTreeClassifier
    return cls(criterion=_criterion(task), random_state=seed, **config)


def _forest_space(task: str, n_rows: int) -> Mapping[str, Any]:
    from ray import tune

    leaf = _leaf(n_rows, 1)  # large data: no fully grown forests (see _leaf)
    return {"n_estimators": tune.qrandint(50, 400, 25),
            "min_samples_leaf": tune.lograndint(leaf, max(32, 4 * leaf)),
            "max_features": tune.choice(["sqrt", 0.3, 0.5, 0.8, 1.0]),
            "max_depth": tune.choice([None, 8, 16, 32])}


def _leaf(n_rows: int, smallest: int) -> int:
    """Leaf size that keeps a forest's node count, and so its ONNX file, export time and
    latency, bounded as the data grows: fully grown trees on 100,000 rows made a 140 MB graph
    whose conversion took longer than the search."""
    return smallest if n_rows < 20_000 else max(smallest, n_rows // 4000)


def _forest_default(task: str, n_rows: int) -> Mapping[str, Any]:
    # scikit-learn's defaults, but larger leaves on large data (see _leaf)
    leaf = _leaf(n_rows, 1)
    return {"n_estimators": 100, "min_samples_leaf": leaf,
            "max_features": 1.0 if task == "regression" else "sqrt", "max_depth": None}


def _forest_portfolio(task: str, n_rows: int) -> list[Mapping[str, Any]]:
    features = 0.5 if task == "regression" else "sqrt"
    return [{"n_estimators": 300, "min_samples_leaf": _leaf(n_rows, 2), "max_features": 0.5,
             "max_depth": None},
            {"n_estimators": 200, "min_samples_leaf": _leaf(n_rows, 5), "max_features": features,
             "max_depth": 16}]


def _forest_builder(classifier: type, regressor: type):
    def build(config: Mapping[str, Any], task: str, seed: int) -> Any:
        cls = regressor if task == "regression" else classifier
        return cls(random_state=seed, n_jobs=1, **config)

    return build


@hookimpl
def automl_guide_register_models(register):
    register(ModelSpec(
        "decision_tree", ALL_TASKS, _build_tree, _tree_space,
        lambda task, n: {"max_depth": 8, "min_samples_leaf": 5, "max_features": 1.0},
        portfolio=lambda task, n: [{"max_depth": 5, "min_samples_leaf": 20, "max_features": 1.0},
                                   {"max_depth": 12, "min_samples_leaf": 10, "max_features": 1.0}],
        relative_cost=0.2, description="scikit-learn DecisionTree; a fast, readable baseline"))
    register(ModelSpec(
        "random_forest", ALL_TASKS,
        _forest_builder(ensemble.RandomForestClassifier, ensemble.RandomForestRegressor),
        _forest_space, _forest_default, portfolio=_forest_portfolio, relative_cost=2.0, description="scikit-learn RandomForest"))
    register(ModelSpec(
        "extra_trees", ALL_TASKS,
        _forest_builder(ensemble.ExtraTreesClassifier, ensemble.ExtraTreesRegressor),
        _forest_space, _forest_default, portfolio=_forest_portfolio, relative_cost=1.5, description="scikit-learn ExtraTrees"))
