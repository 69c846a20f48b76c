"""The seed's example of an ANN, reproduced: a dense Keras network on pixel inputs with ten digit
classes, exported as one ONNX graph.

scikit-learn's small version of MNIST (1,797 images of 8 x 8 pixels, intensities 0-16) is a table
of 64 number columns and a label. Run from the clone:

    .venv/bin/python examples/digits_ann.py --time-budget 60 --out digits_run

It prints the exported model's test accuracy (360 images held out before the search) and the
parity of the graph with the native Keras model; docs/getting-started.md quotes one run.
"""
from __future__ import annotations

import argparse

from sklearn.datasets import load_digits

import automl_guide


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--time-budget", type=float, default=60.0)
    parser.add_argument("--out", default="digits_run")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True, as_frame=True)
    result = automl_guide.fit_and_export(X.assign(digit=y.astype(str)), "digit", models=["ann"],
                                         time_budget=args.time_budget, out=args.out,
                                         overwrite=args.overwrite)
    card = result.card
    parity = card["parity"]
    print(f"trials: {len(result.leaderboard)}; test accuracy "
          f"{card['test_metrics']['accuracy']:.4f} on {card['rows']['test']} images; parity: max probability difference "
          f"{parity['max_abs_diff']:.2g}, label agreement {parity['label_agreement']:.4f}; "
          f"graph: {result.onnx_path}")


if __name__ == "__main__":
    main()
