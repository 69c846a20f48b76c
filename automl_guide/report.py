"""``report.html``: one self-contained page per run that people look at rather than read.

Leaderboard, the ensemble (tried or not, its members and weights), the search over time (best
score against elapsed time, per family), the exported model judged on held-out rows (ROC and
precision-recall curves, calibration, confusion matrix with its decision rule; residuals for
regression), permutation feature importance, parity figures and the data schema. Every chart
is inline SVG (:mod:`automl_guide._svg`), so the page opens offline: no script, font or
stylesheet is fetched. The model is scored through onnxruntime with the exported graph, the
file a service would load, never the native pipeline.
"""
from __future__ import annotations

import json
import math
import time
from html import escape
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from . import _svg
from .columns import ColumnInfo, onnx_feeds
from .metrics import Metric, get_metric

MAX_ROWS = 2000  # scored for the curves and the permutation importance
REPEATS = 3
TOP_FEATURES = 20
IMPORTANCE_SECONDS = 5.0  # wide tables: fewer rows and shuffles, then columns left unmeasured
_WIDE = 30
_CURVE_POINTS = 200


def render(*, card: Mapping[str, Any], board: pd.DataFrame, model_bytes: bytes,
           frame: pd.DataFrame, y: np.ndarray, columns: Sequence[ColumnInfo], metric: Metric,
           held_out: bool, seed: int = 0) -> str:
    """The HTML of the report. ``frame``/``y`` are raw rows and encoded targets to judge the
    model on: the held-out test rows, or training rows (``held_out=False``, said on the page)."""
    import onnxruntime as ort

    rng = np.random.default_rng(seed)
    if len(frame) > MAX_ROWS:
        keep = np.sort(rng.choice(len(frame), MAX_ROWS, replace=False))
        frame, y = frame.iloc[keep].reset_index(drop=True), y[keep]
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    task = card["task"]
    output_name = "value" if task == "regression" else "probabilities"
    feeds = onnx_feeds(frame, columns)

    def score(inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        out = session.run([output_name], dict(inputs))[0]
        return out.astype(np.float64).ravel() if task == "regression" else out.astype(np.float64)

    output = score(feeds)
    whose = (f"{len(y)} held-out test rows" if held_out else
             f"{len(y)} training rows: the run kept no test rows (test_size=0), so these "
             "figures flatter the model")
    sections = [
        _section("Leaderboard", _leaderboard(board, metric)),
        _section("Ensemble", _ensemble(card, board, metric)),
        _section("Search over time", *_search_over_time(board, metric)),
        _section("The exported model on held-out rows" if held_out else
                 "The exported model (on training rows)",
                 _figures(_model_plots(task, y, output, card.get("class_labels", []))),
                 f"Scored with onnxruntime and model.onnx on {whose}."),
        _section("Permutation feature importance",
                 *_importance(score, feeds, y, columns, metric, rng, whose)),
        _section("Parity: ONNX against the native model", _parity(card.get("parity", {}))),
        _section("Data schema", _schema(card)),
    ]
    return _page(card, "".join(sections))


def _page(card: Mapping[str, Any], body: str) -> str:
    best = card.get("best", {})
    ensemble = card.get("ensemble")
    model = (" + ".join(m["model"] for m in ensemble["members"]) + " (ensemble)" if ensemble
             else best.get("model", "?"))
    metric = card.get("metric", {}).get("name", "")
    validation = card.get("validation", {})
    test = card.get("test_metrics") or {}
    facts = [("Target", card.get("target")), ("Task", card.get("task")), ("Model", model),
             (f"Validation {metric}", _number(validation.get("score"))),
             ("Validation", f"{validation.get('strategy')} ({validation.get('folds')} "
                            f"fold{'s' if validation.get('folds', 1) > 1 else ''})"),
             ("Rows split", validation.get("structure", {}).get("split", "random rows")),
             ("Test metrics", ", ".join(f"{k} {_number(v)}" for k, v in test.items())
              or "none (no test rows)"),
             ("Rows", f"{card.get('rows', {}).get('train')} train, "
                      f"{card.get('rows', {}).get('test')} test"),
             ("Trials", f"{card.get('search', {}).get('trials')} "
                        f"({card.get('search', {}).get('failed')} failed), "
                        f"{card.get('search', {}).get('wall_seconds')} s"),
             ("Created", card.get("created"))]
    summary = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>"
                      for k, v in facts)
    title = f"automl-guide run: {card.get('target')} ({card.get('task')})"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>
body {{ font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
       max-width: 1000px; padding: 16px 24px 48px; color: #222; }}
h1 {{ font-size: 22px; }} h2 {{ font-size: 18px; border-bottom: 1px solid #ddd;
       padding-bottom: 4px; margin-top: 32px; }}
table {{ border-collapse: collapse; font-size: 13px; }}
th, td {{ text-align: left; padding: 3px 10px 3px 0; vertical-align: top; }}
table.grid td, table.grid th {{ border-bottom: 1px solid #eee; padding: 3px 8px; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
td.config {{ min-width: 200px; overflow-wrap: break-word; }}
code {{ font-size: 12px; }}
.note {{ color: #555; }}
.figures {{ display: flex; flex-wrap: wrap; gap: 16px; }}
figure {{ margin: 0; }}
figcaption {{ max-width: 460px; font-size: 12px; color: #555; }}
svg.plot {{ background: #fafafa; border: 1px solid #e4e4e4; font-size: 11px; }}
svg.plot text.title {{ font-size: 13px; font-weight: 600; }}
</style></head>
<body><h1>{escape(title)}</h1>
<table>{summary}</table>
{body}
</body></html>
"""


def _section(title: str, content: str, note: str = "") -> str:
    note = f'<p class="note">{escape(note)}</p>' if note else ""
    return f"<section><h2>{escape(title)}</h2>{note}{content}</section>"


def _figures(svgs: Sequence[str]) -> str:
    return '<div class="figures">' + "".join(f"<figure>{s}</figure>" for s in svgs if s) + \
        "</div>"


def _number(value: Any) -> str:
    if value is None:
        return "-"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{value:.4f}" if math.isfinite(value) else str(value)


def _leaderboard(board: pd.DataFrame, metric: Metric, top: int = 15) -> str:
    shown = ["rank", "model", metric.name, "status", "fit_seconds", "finished_at_s", "config"]
    more = (f'<p class="note">{len(board) - top} more trials in leaderboard.csv.</p>'
            if len(board) > top else "")
    return _table(board.head(top), shown) + more


def _table(frame: pd.DataFrame, shown: Sequence[str]) -> str:
    """Rows of the leaderboard (or of trials taken from it), configurations in full."""
    rows = []
    for _, row in frame.iterrows():
        cells = []
        for name in shown:
            value = row.get(name, "")
            if name == "config":  # wrapped in its cell, never cut: it is what to refit
                cells.append(f'<td class="config"><code>{escape(str(value))}</code></td>')
            elif isinstance(value, (float, np.floating)):
                cells.append(f'<td class="num">{_number(value)}</td>')
            else:
                cells.append(f"<td>{escape(str(value))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{escape(n)}</th>" for n in shown)
    return f'<table class="grid"><tr>{head}</tr>{"".join(rows)}</table>'


def _ensemble(card: Mapping[str, Any], board: pd.DataFrame, metric: Metric) -> str:
    """The exported ensemble (its members' trials, weights and scores), or why there is none."""
    ensemble = card.get("ensemble")
    if not ensemble:
        return f"<p>{escape(_no_ensemble(card))}</p>"
    members = pd.DataFrame(ensemble["members"])
    members["config"] = [json.dumps(dict(c), sort_keys=True, default=str)
                         for c in members["config"]]  # as the leaderboard writes them
    trials = members.merge(board.drop_duplicates(["model", "config"]), on=["model", "config"],
                           how="left")
    return (f"<p>Exported: an ensemble of the best trial of {len(members)} model families, "
            "its output the weighted mean of theirs (weights from greedy selection on the "
            f"validation outputs). Validation {escape(metric.name)} "
            f"{_number(ensemble.get('validation_score'))} against "
            f"{_number(ensemble.get('best_single_validation_score'))} for the best single "
            f"trial, kept in {escape(ensemble.get('single_best_file', 'single_best.onnx'))}.</p>"
            + _table(trials, ["model", "weight", "rank", metric.name, "config"]))


def _no_ensemble(card: Mapping[str, Any]) -> str:
    """Why the run exported a single model, as the card records it (``search.no_ensemble``)."""
    single = f"The single trial ranked {card.get('best', {}).get('rank', 1)} was exported."
    why = card.get("search", {}).get("no_ensemble")
    if not why:  # a card written before the reason was recorded
        return f"No ensemble. {single}"
    tried = not why.startswith(("--no-ensemble", "a ranking metric", "fewer than two"))
    return f"{'Tried, not exported' if tried else 'Not tried'}: {why}. {single}"


def _search_over_time(board: pd.DataFrame, metric: Metric) -> tuple[str, str]:
    """The chart and its note. Its y range leaves out poor trials (beyond Tukey's fence on the
    poor side), drawn on the edge: one failed-to-learn trial would squeeze every other line
    into a strip."""
    note = ("Best validation score so far against seconds since the search started, for each "
            "model family and over all of them.")
    ok = board[(board["status"] == "ok") & np.isfinite(board[metric.name].astype(float))]
    ok = ok.sort_values("finished_at_s")
    if ok.empty:
        return "", note
    best = np.maximum.accumulate if metric.mode == "max" else np.minimum.accumulate
    series = [(family, rows["finished_at_s"].to_numpy(float),
               best(rows[metric.name].to_numpy(float)))
              for family, rows in ok.groupby("model", sort=False)]
    series.append(("all families", ok["finished_at_s"].to_numpy(float),
                   best(ok[metric.name].to_numpy(float))))
    scores = ok[metric.name].to_numpy(float)
    low, high = _search_range(scores, metric.mode)
    poor = int((scores < low).sum() if metric.mode == "max" else (scores > high).sum())
    if poor:
        edge, side = (low, "below") if metric.mode == "max" else (high, "above")
        note += (f" {poor} of {len(scores)} trials scored {side} {edge:.4g}, "
                 "far from the others; the axis leaves them out and a line that is "
                 "there runs along the edge, marked \u25bc\u25b2 (hover for the value).")
        pad = 0.05 * (high - low)
        low, high = (low - pad, high) if metric.mode == "max" else (low, high + pad)
    chart = _svg.lines(series, f"Best {metric.name} so far", "seconds into the search",
                       metric.name, step=True, y_range=(low, high), legend="outside",
                       overall="all families")
    return _figures([chart]), note


def _search_range(scores: np.ndarray, mode: str) -> tuple[float, float]:
    """The scores' range without the poor outliers: those more than 1.5 interquartile ranges
    beyond the quartile on the poor side (Tukey's fence). The best score always stays in."""
    q1, q3 = np.quantile(scores, [0.25, 0.75])
    reach = 1.5 * (q3 - q1)
    if mode == "max":
        return max(float(scores.min()), float(q1 - reach)), float(scores.max())
    return float(scores.min()), min(float(scores.max()), float(q3 + reach))


def _model_plots(task: str, y: np.ndarray, output: np.ndarray, classes: Sequence) -> list[str]:
    from sklearn import metrics as skm

    if task == "regression":
        residual = y - output
        keep = _thin(len(y), 600)
        counts, edges = np.histogram(residual, bins=20)
        return [_svg.scatter(output[keep], y[keep], "Predicted against actual", "predicted",
                             "actual", diagonal=True),
                _svg.scatter(output[keep], residual[keep], "Residuals", "predicted",
                             "actual - predicted", zero_line=True),
                _svg.lines([("", (edges[:-1] + edges[1:]) / 2, counts)],
                           "Residual distribution", "actual - predicted", "rows")]
    plots = []
    names = [str(c) for c in classes]
    if len(np.unique(y)) < 2:
        return [_confusion(y, output, names)]
    if task == "binary":
        fpr, tpr, _ = skm.roc_curve(y, output[:, 1])
        precision, recall, _ = skm.precision_recall_curve(y, output[:, 1])
        auc = skm.roc_auc_score(y, output[:, 1])
        ap = skm.average_precision_score(y, output[:, 1])
        plots.append(_svg.lines([(f"AUC {auc:.3f}", *_thin_curve(fpr, tpr))], "ROC curve",
                                "false positive rate", "true positive rate", diagonal=True,
                                x_range=(0, 1), y_range=(0, 1)))
        plots.append(_svg.lines([(f"AP {ap:.3f}", *_thin_curve(recall, precision))],
                                "Precision-recall curve", "recall", "precision",
                                x_range=(0, 1), y_range=(0, 1), legend="lower left"))
        plots.append(_calibration(output[:, 1], y == 1, f"Calibration (P({names[1]}))"))
    else:
        series = []
        for k, name in enumerate(names[:10]):
            if 0 < (y == k).sum() < len(y):
                fpr, tpr, _ = skm.roc_curve(y == k, output[:, k])
                series.append((f"{name} {skm.auc(fpr, tpr):.3f}", *_thin_curve(fpr, tpr)))
        plots.append(_svg.lines(series, "ROC, one class against the rest",
                                "false positive rate", "true positive rate", diagonal=True,
                                x_range=(0, 1), y_range=(0, 1)))
        plots.append(_calibration(output.max(axis=1), output.argmax(axis=1) == y,
                                  "Calibration (confidence of the predicted class)"))
    plots.append(_confusion(y, output, names))
    return plots


def _thin(n: int, most: int) -> np.ndarray:
    return np.arange(n) if n <= most else np.linspace(0, n - 1, most).astype(int)


def _thin_curve(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = _thin(len(x), _CURVE_POINTS)
    return x[keep], y[keep]


def _calibration(confidence: np.ndarray, hit: np.ndarray, title: str) -> str:
    edges = np.linspace(0, 1, 11)
    which = np.clip(np.digitize(confidence, edges) - 1, 0, 9)
    used = [b for b in range(10) if (which == b).any()]
    mean = [float(confidence[which == b].mean()) for b in used]
    share = [float(hit[which == b].mean()) for b in used]
    return _svg.lines([("model", mean, share)], title, "mean predicted probability",
                      "observed frequency", diagonal=True, x_range=(0, 1), y_range=(0, 1),
                      legend="upper left")


def _confusion(y: np.ndarray, output: np.ndarray, names: Sequence[str]) -> str:
    """The heatmap (counts and shares of the true class) and a caption with the decision rule:
    the graph labels a row with its most probable class (``ArgMax``), so the rows are labelled
    here the same way; the card holds no other threshold."""
    k, shown = len(names), names[:12]
    matrix = np.zeros((k, k))
    np.add.at(matrix, (y, output.argmax(axis=1)), 1)
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    chart = _svg.heatmap(matrix[:12, :12], shown, shown, "Confusion matrix", "true",
                         "predicted", shares=shares[:12, :12])
    rule = ("Decision threshold: each row gets its most probable class (argmax), the label "
            "model.onnx returns; model_card.json records no other threshold")
    if k == 2:
        rule += f". Here: {names[1]} when P({names[1]}) > 0.5, else {names[0]}"
    rule += (". Each cell: rows, and their percentage of the true class (its row)"
             + (f"; the first 12 of {k} classes are shown." if k > 12 else "."))
    return f"{chart}<figcaption>{escape(rule)}</figcaption>"


def _importance(score, feeds: Mapping[str, np.ndarray], y: np.ndarray,
                columns: Sequence[ColumnInfo], metric: Metric, rng: np.random.Generator,
                whose: str) -> tuple[str, str]:
    """The chart and its note: how much the metric drops when one column is shuffled. Bounded
    in time: a wide table gets one shuffle on fewer rows, and columns not reached within
    IMPORTANCE_SECONDS are named as unmeasured."""
    if metric.needs_queries:  # the rows here are not grouped by query: judge them one by one
        metric = get_metric(None, "binary")
    repeats, rows = REPEATS, np.arange(len(y))
    if len(columns) > _WIDE:
        repeats, rows = 1, rows[:500]
    feeds = {name: values[rows] for name, values in feeds.items()}
    y = y[rows]

    def quality(output: np.ndarray) -> float:
        try:
            value = metric.fn(y, output)
        except ValueError:  # e.g. ROC AUC on rows of a single class
            return math.nan
        return value if metric.mode == "max" else -value

    baseline = quality(score(feeds))
    if not math.isfinite(baseline):
        return "", f"Not computed: {metric.name} is undefined on {whose}."
    deadline = time.monotonic() + IMPORTANCE_SECONDS
    drops = {}
    for column in columns:
        if time.monotonic() > deadline:
            break
        losses = []
        for _ in range(repeats):
            shuffled = dict(feeds)
            shuffled[column.onnx_name] = feeds[column.onnx_name][rng.permutation(len(y))]
            losses.append(baseline - quality(score(shuffled)))
        drops[column.name] = (float(np.mean(losses)), float(np.std(losses)))
    ranked = sorted(drops.items(), key=lambda kv: -kv[1][0])[:TOP_FEATURES]
    chart = _svg.bars([name for name, _ in ranked], [m for _, (m, _) in ranked],
                      f"Drop in {metric.name} when shuffled", f"{metric.name} lost",
                      errors=[s for _, (_, s) in ranked])
    note = (f"How much {metric.name} gets worse when one column's values are shuffled across "
            f"{len(y)} rows ({repeats} shuffle{'s; the whisker is their spread' if repeats > 1 else ''}"
            f"), on {whose}. The {len(ranked)} largest are shown.")
    if len(drops) < len(columns):
        note += (f" Time ran out after {len(drops)} of {len(columns)} columns; the others "
                 "were not measured.")
    return _figures([chart]), note


def _values(entry: Mapping[str, Any], most: int = 8) -> str:
    """What a column held in training: its range (whole numbers without decimals, as the card
    stores an integer column's range as floats; datetimes, seconds since the epoch, as times)
    or its first ``most`` categories ("" is what a missing value is fed as)."""
    if "range" in entry:
        low, high = (float(v) for v in entry["range"])
        if entry.get("kind") == "datetime":
            return " to ".join(str(pd.Timestamp(v, unit="s")) for v in (low, high))
        return " to ".join(str(int(v)) if v.is_integer() else f"{v:.6g}" for v in (low, high))
    categories = entry.get("categories") or []
    shown = ['"" (missing)' if c == "" else str(c) for c in categories[:most]]
    more = len(categories) - most
    return ", ".join(shown) + (f" \u2026 and {more} more" if more > 0 else "")


def _parity(parity: Mapping[str, Any]) -> str:
    if not parity:
        return '<p class="note">No parity figures in the card.</p>'
    rows = [("Rows compared", parity.get("rows")),
            ("Largest difference in probability or value", f"{parity.get('max_abs_diff', 0):.2g}"),
            ("Tolerance", f"{parity.get('tolerance', 0):.2g}"),
            ("Same label on every row" if parity.get("label_agreement") == 1 else
             "Label agreement", _number(parity.get("label_agreement"))),
            ("Passed", "yes" if parity.get("passed") else "no")]
    return "<table>" + "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>"
                               for k, v in rows) + "</table>"


def _schema(card: Mapping[str, Any]) -> str:
    rows = []
    for entry in card.get("inputs", []):
        rows.append(f"<tr><td>{escape(entry['name'])}</td><td>{escape(entry['kind'])}</td>"
                    f"<td><code>{escape(entry['onnx_name'])}</code> ({escape(entry['dtype'])})"
                    f"</td><td class=\"num\">{entry.get('missing_in_training', 0)}</td>"
                    f"<td>{escape(_values(entry))}</td></tr>")
    table = ('<table class="grid"><tr><th>column</th><th>kind</th><th>ONNX input</th>'
             '<th>missing in training</th><th>values in training</th></tr>'
             + "".join(rows) + "</table>")
    dropped = card.get("dropped_columns") or []
    if dropped:
        table += '<p class="note">Not used: ' + "; ".join(
            f"{escape(d['name'])} ({escape(d['reason'])})" for d in dropped) + "</p>"
    checks = card.get("schema")
    if checks:
        table += ("<details><summary>pandera checks</summary><pre>"
                  + escape(json.dumps(checks, indent=1, default=str)[:20000]) + "</pre></details>")
    return table
