"""GPU check: one XGBoost trial and one ANN trial on CUDA against the same trials on the CPU.

    .venv/bin/python benchmarks/gpu.py [--rows 40000]        # or: make bench-gpu

Without a usable CUDA device it says why and exits 0. The trials are
``automl_guide.trial.evaluate_config`` (the body of every Ray Tune trial) on the bundled demo
data, repeated up to ``--rows`` rows with numeric jitter, one holdout split; each runs once to
warm up (CUDA context, kernels) and is then timed. The validation scores are printed beside the
times: CUDA and CPU should agree closely (not bit for bit).
"""
from __future__ import annotations

import argparse
import time
from importlib import resources

import numpy as np


def trial_data(rows: int):
    import pandas as pd

    from automl_guide import load_registry
    from automl_guide.families import model_specs
    from automl_guide.features import fold_matrices
    from automl_guide.data import prepare
    from automl_guide.splits import validation_splits
    from automl_guide.metrics import get_metric
    from automl_guide.pipeline import feature_plan

    path = resources.files("automl_guide.datasets").joinpath("clothing_reviews.csv")
    base = pd.read_csv(path)
    copies = -(-rows // len(base))
    frame = pd.concat([base] * copies, ignore_index=True).head(rows)
    rng = np.random.default_rng(0)
    for column in frame.select_dtypes("number").columns.drop("Recommended IND"):
        frame[column] = frame[column] + rng.normal(0, 0.01, len(frame))
    registry = load_registry()
    dataset = prepare(frame, "Recommended IND")
    specs = model_specs(registry, ["xgboost", "ann"], dataset.task)
    rows_all = np.arange(len(dataset.y))
    splits = validation_splits(dataset.y, dataset.task, "holdout", 5, 0)
    return fold_matrices(dataset, rows_all, splits, feature_plan(registry, dataset.columns), specs,
                       get_metric(None, dataset.task), 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=40000)
    args = parser.parse_args()

    from automl_guide.runtime import cuda_devices

    count, why = cuda_devices()
    if not count:
        print(f"No usable CUDA device ({why}); nothing to compare. Exiting.")
        return
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    import torch
    import xgboost

    from automl_guide.trial import evaluate_config

    print(f"CUDA devices: {count}; torch {torch.__version__} (cuda {torch.version.cuda}, "
          f"available {torch.cuda.is_available()}); xgboost {xgboost.__version__} "
          f"(built with CUDA: {xgboost.build_info().get('USE_CUDA')})")
    data = trial_data(args.rows)
    print(f"{args.rows} rows, holdout split, {data.folds[False][0].X_train.shape[1]} features")
    configs = {
        "xgboost": {"model": "xgboost", "n_estimators": 500, "max_depth": 8,
                    "learning_rate": 0.05, "subsample": 0.9, "colsample_bytree": 0.9,
                    "min_child_weight": 1.0, "reg_lambda": 1.0},
        "ann": {"model": "ann", "hidden_layers": 3, "units": 256, "activation": "relu",
                "dropout": 0.1, "batch_norm": True, "learning_rate": 1e-3, "batch_size": 256,
                "epochs": 20},
    }
    print(f"{'trial':<8} {'device':<6} {'seconds':>8} {'score':>8}")
    for name, config in configs.items():
        for device in ("cuda", "cpu"):
            evaluate_config(config, data, device=device)  # warm-up
            start = time.perf_counter()
            result = evaluate_config(config, data, device=device)
            seconds = time.perf_counter() - start
            print(f"{name:<8} {device:<6} {seconds:8.2f} {result['score']:8.4f} "
                  f"{result['error'][:60]}", flush=True)


if __name__ == "__main__":
    main()
