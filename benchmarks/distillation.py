"""Would a small model distilled from the most accurate one keep its accuracy, and answer faster?

    .venv/bin/python benchmarks/distillation.py --dataset instacart_reorder --budget 300

Reads automl-guide's run that ``peers.py`` wrote (its ``leaderboard.csv``) and that run's split,
refits the three best XGBoost trials on the same training rows, and fits students on the best
one's (the teacher's) log-odds: XGBoost regressors with the second and third trials' parameters
(depth, trees, rate, sampling, min_child_weight, L2). Two
kinds of target: the teacher's outputs on its own training rows, and out-of-fold outputs (five
teachers, each fitted on four fifths of the rows and asked about the fifth), which do not carry
what the teacher memorised. Every model sees the same features (the pipeline's, cross-fitted on
the training rows as in a refit); prints each model's test ROC AUC and tree nodes (a single
row's cost in onnxruntime grows with the nodes visited, roughly trees x depth).

Uses automl-guide's stages directly (``refit.refit``): an experiment, not an API.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"


def nodes(booster) -> int:
    return sum(tree.count('"nodeid"') for tree in booster.get_dump(dump_format="json"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="instacart_reorder")
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from datasets import DATASETS

    import xgboost as xgb
    from sklearn.base import clone
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import KFold

    from automl_guide.data import prepare
    from automl_guide.pipeline import feature_plan
    from automl_guide.refit import refit
    from automl_guide.registry import load_registry

    warnings.simplefilter("ignore")
    split = WORK / args.dataset / f"seed{args.seed}"
    run = WORK / "runs" / args.dataset / "automl_guide" / f"b{args.budget}_s{args.seed}" / "run"
    board = pd.read_csv(run / "leaderboard.csv")
    trials = board[(board["model"] == "xgboost") & (board["status"] == "ok")].head(3)
    train, test = pd.read_parquet(split / "train.parquet"), pd.read_parquet(split / "test.parquet")
    target = DATASETS[args.dataset].target
    y_test = test[target].to_numpy()
    registry = load_registry()
    dataset = prepare(train, target, None, None)
    plan = feature_plan(registry, dataset.columns)
    spec = registry.model("xgboost")
    rows = np.arange(len(dataset.y))
    print(f"{args.dataset}, {len(train):,} training rows, {len(test):,} test rows; "
          f"the {len(trials)} best XGBoost trials of {run}")
    print(f"{'model':<52} {'test AUC':>9} {'nodes':>8} {'seconds':>8}")

    fitted = []
    for rank, raw in zip(trials["rank"], trials["config"]):
        config = json.loads(raw)
        began = time.monotonic()
        pipeline = refit(dataset, rows, plan, spec, config, args.seed)
        auc = roc_auc_score(y_test, pipeline.predict_proba(test.drop(columns=[target]))[:, 1])
        estimator = pipeline[-1].estimator_
        fitted.append((config, pipeline))
        label = f"trial rank {rank}: depth {config['max_depth']}, {config['n_estimators']} trees"
        print(f"{label:<52} {auc:9.5f} {nodes(estimator.get_booster()):8,} "
              f"{time.monotonic() - began:8.1f}")

    teacher = fitted[0][1]
    features, estimator = teacher[:-1], teacher[-1].estimator_
    x_train = clone(features).fit_transform(dataset.features, dataset.y)  # what the trees saw
    x_test = features.transform(test.drop(columns=[target]))
    own = estimator.predict(x_train, output_margin=True)
    out_of_fold = np.empty(len(rows))
    began = time.monotonic()
    for fit_rows, held in KFold(args.folds, shuffle=True, random_state=args.seed).split(x_train):
        fold_teacher = clone(estimator).fit(x_train[fit_rows], dataset.y[fit_rows])
        out_of_fold[held] = fold_teacher.predict(x_train[held], output_margin=True)
    print(f"{f'({args.folds} fold teachers for out-of-fold targets)':<52} {'':>9} {'':>8} "
          f"{time.monotonic() - began:8.1f}")
    for config, _ in fitted[1:]:
        for name, soft in (("own", own), ("out-of-fold", out_of_fold)):
            began = time.monotonic()
            # the trial's own parameters; min_child_weight counts rows under squared error
            # where the trial's log loss counts p(1 - p) per row
            student = xgb.XGBRegressor(**config, tree_method="hist", n_jobs=1,
                                       random_state=args.seed).fit(x_train, soft)
            auc = roc_auc_score(y_test, student.predict(x_test))
            label = f"student on {name} outputs: depth {config['max_depth']}, " \
                    f"{config['n_estimators']} trees"
            print(f"{label:<52} {auc:9.5f} {nodes(student.get_booster()):8,} "
                  f"{time.monotonic() - began:8.1f}")


if __name__ == "__main__":
    main()
