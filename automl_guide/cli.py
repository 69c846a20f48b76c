"""AutoML for a shop's models: fit and export one ONNX graph, predict, serve, shop, demo.

Errors the user can fix print one paragraph and exit with status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from importlib import resources
from pathlib import Path
from typing import Sequence

from . import options
from .errors import AutoMLGuideError, ExportError, did_you_mean
from .limits import SERVE_MAX_BODY_BYTES, SERVE_MAX_ROWS
from .runtime import training_missing


class UsageError(AutoMLGuideError):
    """A command line that cannot run as given."""

DEMO_TARGET = "Recommended IND"
# the options demo takes (fit's without --resume: the demo's data is bundled)
FIT_OPTIONS_WITHOUT_DATA = tuple(o.name for o in options.OPTIONS if o.name != "resume")
# the run's options the shop command (and `demo --shop`) passes to fit_shop
SHOP_RUN_OPTIONS = ("time_budget", "max_trials", "models", "searcher", "out", "seed",
                    "max_predict_us", "overwrite", "quiet")


def _add_fit_options(parser: argparse.ArgumentParser, *, data: bool = True) -> None:
    """The run's options (options.OPTIONS); ``data``: fit's DATA, --target and --resume."""
    if data:
        parser.add_argument("data", help="CSV or Parquet file")
        parser.add_argument("--target", help="column to predict (required unless --resume)")
    options.add_arguments(parser, None if data else FIT_OPTIONS_WITHOUT_DATA,
                          # demo: its own directory, replaced each run; a user's --out is not
                          None if data else {"out": None})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="automl-guide", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_fit_options(sub.add_parser("fit", help="search, refit and export one ONNX model"))
    predict = sub.add_parser("predict", help="score a table with an exported model")
    predict.add_argument("model", help="model.onnx, or the run directory holding it")
    predict.add_argument("data", help="CSV or Parquet file")
    predict.add_argument("--out", metavar="FILE", help="write CSV here (default: stdout); an "
                         "existing file is refused without --overwrite")
    predict.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    predict.add_argument("--strict", action="store_true",
                         help="refuse categories and ranges unseen in training, and missing "
                         "values where training had none (default: warn and score them)")
    predict.add_argument("--id-column", metavar="COL",
                         help="a column of DATA written first in the output, beside each "
                         "row's prediction (an order or customer id, kept as written)")
    serve = sub.add_parser("serve", help="score JSON rows over HTTP with an exported model")
    serve.add_argument("model", help="model.onnx, or the run directory holding it")
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port (8000)")
    serve.add_argument("--max-body-bytes", type=int, default=SERVE_MAX_BODY_BYTES, metavar="N",
                       help=f"refuse larger request bodies with 413 ({SERVE_MAX_BODY_BYTES})")
    serve.add_argument("--max-rows", type=int, default=SERVE_MAX_ROWS, metavar="N",
                       help=f"most rows per request ({SERVE_MAX_ROWS})")
    serve.add_argument("--strict", action="store_true",
                       help="refuse categories and ranges unseen in training, and missing "
                       "values where training had none (default: warn and score them)")
    serve.add_argument("--id-column", metavar="COL",
                       help="a key each row must carry (a string or an integer), echoed in "
                       "the answer's ids in row order")
    serve.add_argument("--workers", type=_workers, default=1, metavar="N",
                       help="processes serving requests, each with its own copy of the model "
                       "(1); more than one uses more cores")
    sub.add_parser("plugins", help="list every plugin: name, kind, distribution, version")
    shop = sub.add_parser("shop", help="purchase or ranking model from a shop's tables")
    shop.add_argument("data", help="directory of orders/events/products/customers CSV or Parquet")
    _add_shop_options(shop)
    recommend = sub.add_parser("recommend", help="top products for a customer from a shop run")
    recommend.add_argument("run", help="directory of a shop run (automl-guide shop --out)")
    recommend.add_argument("--customer", required=True, help="customer id")
    recommend.add_argument("--k", type=int, default=10, help="how many products (10)")
    demo = sub.add_parser("demo", help="fit the bundled clothing-reviews data (offline); "
                          "--shop: the shop pipeline on a generated shop")
    demo.add_argument("--shop", action="store_true",
                      help="generated shop -> ranking model -> recommendation for one customer")
    _add_fit_options(demo, data=False)
    return parser


def _add_shop_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", choices=["rank", "purchase"], default="rank")
    parser.add_argument("--horizon", default="30", metavar="DAYS",
                        help="label window after each cutoff, in days or e.g. 2W (30)")
    parser.add_argument("--test-horizon", metavar="DAYS",
                        help="label window after the test cutoff (default: --horizon)")
    parser.add_argument("--cutoffs", metavar="DATES",
                        help="comma-separated training cutoffs (default: one horizon apart)")
    parser.add_argument("--n-cutoffs", type=int, default=3, metavar="N")
    parser.add_argument("--test-cutoff", metavar="DATE",
                        help="where the shop leaderboard is measured (default: one horizon "
                        "before the end of the data)")
    parser.add_argument("--k", type=int, default=10, help="cut-off rank of the metrics (10)")
    parser.add_argument("--negatives", type=int, metavar="N",
                        help="sampled negatives per positive (rank, 10) or per customer "
                        "(purchase, 20)")
    options.add_arguments(parser, SHOP_RUN_OPTIONS,
                          defaults={"time_budget": 120.0, "out": "automl_guide_shop"})


def _format_warning(message, category, filename, lineno, line=None) -> str:
    return f"automl-guide: warning: {message}\n"


# The fit options `demo --shop` passes to fit_shop (as `shop` has them); the others would be
# silently ignored there, so they are refused instead.
_SHOP_DEMO_OPTIONS = frozenset({"command", "shop", *SHOP_RUN_OPTIONS})


def _flag(key: str) -> str:
    """The flag of an argparse destination: ``ensemble`` is ``--no-ensemble``."""
    option = options.BY_NAME.get(key)
    return option.flag if option is not None else f"--{key.replace('_', '-')}"


def _workers(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is no number of workers: give a whole "
                                         "number of at least 1")
    return int(text)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is no port: give a whole number from 0 to "
                                         "65535")
    return port


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo" and args.shop:
        defaults = vars(parser.parse_args(["demo"]))
        ignored = sorted(_flag(key) for key, value in vars(args).items()
                         if key not in _SHOP_DEMO_OPTIONS and value != defaults.get(key))
        if ignored:
            taken = sorted(_flag(key) for key in _SHOP_DEMO_OPTIONS - {"command", "shop"})
            parser.error(f"demo --shop does not use {', '.join(ignored)}: the shop demo takes "
                         f"{', '.join(taken)}")
    warnings.formatwarning = _format_warning  # users see the message, not our source lines
    try:
        with options.named_as_flags():  # errors name --max-trials, not max_trials
            return {"fit": _fit, "predict": _predict, "plugins": _plugins, "demo": _demo,
                    "shop": _shop, "recommend": _recommend, "serve": _serve}[args.command](args)
    except AutoMLGuideError as exc:
        print(f"automl-guide: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except ModuleNotFoundError as exc:  # the base install: no training libraries
        error = training_missing(exc, f"automl-guide {args.command}")
        if error is None:
            raise
        print(f"automl-guide: error: {error}", file=sys.stderr)
        return error.exit_code
    except OSError as exc:  # a path the system refuses (a file as a directory, no permission,
        # a full disk): the user's to mend, not a bug
        print(f"automl-guide: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("automl-guide: interrupted", file=sys.stderr)
        return 130


def fit_kwargs(args: argparse.Namespace) -> dict:
    """``fit_and_export``'s keywords from fit's (or demo's) flags."""
    return options.from_arguments(args, None if "resume" in args else FIT_OPTIONS_WITHOUT_DATA)


def show(result) -> None:
    import pandas as pd

    board = result.leaderboard.drop(columns=["config", "trial_id"])
    if board["node"].replace("", None).nunique() <= 1:  # one machine: the node says nothing
        board = board.drop(columns=["node"])
    best_per_family = board[board["status"] == "ok"].drop_duplicates("model")
    with pd.option_context("display.width", 140, "display.max_columns", 20):
        print("Leaderboard (best trial of each model family):")
        print(best_per_family.drop(columns=["error"]).to_string(index=False))
        failed, stopped = (int((board["status"] == s).sum()) for s in ("error", "timeout"))
        told = f"{failed} failed" + (f", {stopped} stopped at a time limit" if stopped else "")
        print(f"{len(board)} trials, {told}. Full leaderboard: "
              f"{result.onnx_path.parent / 'leaderboard.csv'}")
    card = result.card
    scores = ", ".join(f"{k}={v:.4f}" for k, v in card["test_metrics"].items())
    print(f"Best: {card['best']['model']}; held-out test: {scores or 'none (--test-size 0)'}")
    parity = card["parity"]
    agreement = "" if parity["label_agreement"] is None else \
        f", label agreement {parity['label_agreement']:.4f}"
    print(f"Parity (ONNX vs native, {parity['rows']} rows): max diff "
          f"{parity['max_abs_diff']:.2g}{agreement}")
    print(f"Model: {result.onnx_path}  Card: {result.onnx_path.parent / 'model_card.json'}")
    report = result.onnx_path.parent / "report.html"
    if report.is_file():
        print(f"Report (open in a browser): {report}")


def _fit(args: argparse.Namespace) -> int:
    from .api import fit_and_export

    kwargs = fit_kwargs(args)
    if not args.resume and not args.target:
        raise UsageError("fit needs --target COL (or --resume DIR).")
    show(fit_and_export(args.data, args.target, **kwargs))
    return 0


def shop_kwargs(args: argparse.Namespace) -> dict:
    return dict(task=args.task, horizon=_days(args.horizon),
                test_horizon=_days(args.test_horizon) if args.test_horizon else None,
                cutoffs=options.split_names(args.cutoffs) or None, n_cutoffs=args.n_cutoffs,
                test_cutoff=args.test_cutoff, k=args.k, negatives=args.negatives,
                **options.from_arguments(args, SHOP_RUN_OPTIONS))


def _days(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def _shop(args: argparse.Namespace) -> int:
    from .shop.run import fit_shop

    fit_shop(args.data, **shop_kwargs(args))
    return 0


def _recommend(args: argparse.Namespace) -> int:
    from .shop.snapshot import recommend

    top = recommend(args.run, args.customer, args.k)
    top.to_csv(sys.stdout, index=False)
    if len(top) and top["source"].iloc[0] != "model":
        print(f"automl-guide: customer {args.customer!r} is not in the run's snapshot: these are "
              "the recent best sellers (ids are matched as written: 0030 is not 30).",
              file=sys.stderr)
    return 0


def run_shop_demo(args: argparse.Namespace) -> int:
    from .shop.demo import generate_shop
    from .shop.run import fit_shop
    from .shop.snapshot import Recommender

    out = Path(args.out or "automl_guide_shop_demo")
    overwrite = args.overwrite or args.out is None
    if not overwrite and out.is_dir() and any(out.iterdir()):
        raise ExportError(f"{out} is not empty; choose another --out or pass --overwrite to "
                          "replace the shop demo's files there.")
    print("Shop demo on a GENERATED shop (synthetic data from automl_guide/shop/demo.py: 400 "
          "customers, 240 products, 150 days of views, carts and orders).")
    tables = generate_shop(seed=args.seed)
    (out / "data").mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(out / "data" / f"{name}.csv", index=False)
    print(f"Tables written to {out / 'data'}; ranking model next "
          f"(`automl-guide shop {out / 'data'}` does the same).")
    fit_shop(out / "data", task="rank", **{**options.from_arguments(args, SHOP_RUN_OPTIONS),
                                           "out": out, "overwrite": overwrite})
    recommender = Recommender(out)  # read back from the exported files, as a service would
    customer = tables["orders"]["customer_id"].value_counts().index[0]
    print(f"\nTop 5 for customer {customer}, read from {out}/model.onnx and {out}/snapshot/:")
    top = recommender.recommend(customer, 5).merge(
        tables["products"][["product_id", "category", "price"]], on="product_id")
    print(top.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .api import fit_and_export

    if args.shop:
        return run_shop_demo(args)
    if args.out is None:  # the demo's own directory: replaced on each run
        args.out, args.overwrite = "automl_guide_demo", True
    data = resources.files("automl_guide.datasets").joinpath("clothing_reviews.csv")
    print(f"Demo: will a shopper recommend the dress she reviewed? {data.name} "
          "(Women's E-Commerce Clothing Reviews, CC0; see automl_guide/datasets/README.md)")
    with resources.as_file(data) as path:
        show(fit_and_export(path, DEMO_TARGET, **fit_kwargs(args)))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from .tables import load_table
    from .predictor import load

    suffixes = "".join(Path(args.model).suffixes).lower()
    if any(kind in suffixes for kind in (".csv", ".tsv", ".txt", ".parquet", ".pq")):
        raise UsageError(f"{args.model} looks like a table, not a model: the model comes first "
                         f"(automl-guide predict MODEL DATA, here: predict {args.data} "
                         f"{args.model}).")
    out = Path(args.out) if args.out else None
    if out is not None and out.is_dir():
        raise ExportError(f"--out {out} is a directory; name the CSV file to write.")
    if out is not None and out.exists() and not args.overwrite:
        raise ExportError(f"--out {out} exists; choose another file or pass --overwrite to "
                          "replace it.")
    predictor = load(args.model, strict=args.strict)
    dates = [c.name for c in predictor.columns if c.kind == "datetime"]
    frame = load_table(args.data, dates=dates, text=[args.id_column] if args.id_column else [])
    ids = _id_values(frame, args.id_column) if args.id_column else None
    predictions = predictor.predict_frame(frame)
    if ids is not None:
        if args.id_column in predictions.columns:
            raise UsageError(f"--id-column {args.id_column!r} is also the name of an output "
                             "column; rename it in the data.")
        predictions.insert(0, args.id_column, ids)
    if out is not None:  # written whole, then moved: the old file stays if writing fails
        from .files import write_atomic

        write_atomic(out, predictions.to_csv(index=False).encode())
    else:
        predictions.to_csv(sys.stdout, index=False)
    return 0


def _id_values(frame, column: str) -> object:
    """The --id-column's values of ``frame``; a column it lacks is an error naming it."""
    if column not in frame.columns:
        shown = ", ".join(map(repr, [str(c) for c in frame.columns][:20]))
        raise UsageError(f"--id-column {column!r} is not a column of the data"
                         f"{did_you_mean(column, frame.columns)}; it has {shown}.")
    return frame[column].to_numpy()


def _serve(args: argparse.Namespace) -> int:
    from .predictor import load
    from .serve import SESSION_THREADS, serve

    model = load(args.model, args.strict, SESSION_THREADS)  # a bad path fails here, in one line
    if args.workers > 1:  # each worker loads its own; this process only watches over them
        model = args.model
    serve(model, args.host, args.port, max_body_bytes=args.max_body_bytes,
          max_rows=args.max_rows, strict=args.strict, id_column=args.id_column,
          workers=args.workers)
    return 0


def _plugins(args: argparse.Namespace) -> int:
    from .registry import load_registry

    registry = load_registry()
    rows = [(r.name, r.kind, r.distribution, r.version or "-", r.spec.description)
            for r in registry.all()]
    header = ("NAME", "KIND", "DISTRIBUTION", "VERSION", "DESCRIPTION")
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)][:4]
    for row in [header, *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)) + "  " + row[4])
    for broken in registry.broken:
        print(f"BROKEN {broken.plugin} ({broken.distribution} {broken.version}): {broken.error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
