"""report.html of the demo run: self-contained, and drawn by a real browser (headless Chromium
through Playwright): every chart has a size on the page and visible marks in colour. And what
a new user read wrong (issue 31), on pages drawn from a model exported without a search (no
Ray): configurations in full, a chart's axis not set by one poor trial, integer ranges, lists
of categories, the confusion matrix's threshold and shares, and the ensemble."""
from __future__ import annotations

import io
import json
import re
import shutil
from html import escape

import numpy as np
import pytest

from automl_guide import export, load_registry
from automl_guide.card import build_card
from automl_guide.cli import main
from automl_guide.columns import onnx_feeds
from automl_guide.data import prepare
from automl_guide.metrics import get_metric
from automl_guide.options import FitConfig
from automl_guide.pipeline import feature_plan
from automl_guide.records import TrialRecord
from automl_guide.refit import refit
from automl_guide.report import render
from automl_guide.select import leaderboard
from automl_guide.testing import sample_table

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, ray_session):
    """`automl-guide demo` on the bundled clothing reviews, kept short: two families."""
    out = tmp_path_factory.mktemp("demo") / "run"
    assert main(["demo", "--models", "linear,decision_tree", "--max-trials", "4",
                 "--time-budget", "300", "--out", str(out), "--quiet"]) == 0
    return out


def test_report_is_one_offline_file(demo_run):
    page = (demo_run / "report.html").read_text()
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page
    for heading in ("Leaderboard", "Ensemble", "Search over time",
                    "The exported model on held-out rows",
                    "Permutation feature importance", "Parity", "Data schema"):
        assert f"<h2>{heading}" in page
    assert "Department Name" in page and "decision_tree" in page  # schema and leaderboard


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (make test installs it)")
def test_report_plots_are_drawn_in_headless_chromium(demo_run, tmp_path):
    from PIL import Image
    from playwright.sync_api import sync_playwright

    outside = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.on("request", lambda r: outside.append(r.url)
                if not r.url.startswith(("file:", "data:")) else None)
        page.goto((demo_run / "report.html").as_uri())
        page.wait_for_load_state("load")
        plots = page.locator("svg.plot")
        titles = [plots.nth(i).get_attribute("aria-label") for i in range(plots.count())]
        boxes = [plots.nth(i).bounding_box() for i in range(plots.count())]
        marks = [plots.nth(i).locator(".mark").count() for i in range(plots.count())]
        page.add_style_tag(content="svg.plot .legend { display: none }")  # colour = data only
        shot = page.screenshot(full_page=True, path=str(tmp_path / "report.png"))
        browser.close()
    assert outside == []  # nothing fetched: the page works offline
    assert titles == ["Best roc_auc so far", "ROC curve", "Precision-recall curve",
                      "Calibration (P(1))", "Confusion matrix",
                      "Drop in roc_auc when shuffled"]
    assert all(m > 0 for m in marks), dict(zip(titles, marks))
    image = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB")).astype(int)
    for title, box in zip(titles, boxes):
        assert box["width"] > 300 and box["height"] > 100, (title, box)
        x, y = int(box["x"]), int(box["y"])
        crop = image[y:y + int(box["height"]), x:x + int(box["width"])]
        # data drawn: pixels in the palette's colours (frame, grid, text and legends aside, an
        # empty chart is grey and black only)
        colourful = (crop.max(axis=2) - crop.min(axis=2)) > 60
        assert colourful.sum() > 20, (title, colourful.sum())


LIGHTGBM = {"colsample_bytree": 0.9, "learning_rate": 0.05, "min_child_samples": 20,
            "n_estimators": 300, "num_leaves": 64}


@pytest.fixture(scope="module")
def exported():
    """A linear model refitted on 300 rows of the sample table and exported, no search: the
    model a report judges on the 100 rows left."""
    registry = load_registry()
    dataset = prepare(*sample_table(400, "binary", seed=0))
    spec = registry.model("linear")
    train, test = np.arange(300), np.arange(300, 400)
    pipeline = refit(dataset, train, feature_plan(registry, dataset.columns), spec, {"C": 1.0},
                     seed=0)
    used = [reg.spec for reg in registry.all() if reg.kind == "feature" or reg.spec is spec]
    graph = export.to_onnx(pipeline, dataset.columns, "binary", dataset.classes, used, spec)
    return dataset, train, test, graph.SerializeToString()


def trials(poor: float | None = None) -> list[TrialRecord]:
    """Linear trials scoring 0.90 to 0.93 over a minute, a LightGBM one, and with ``poor`` a
    decision tree that learned nothing, finished first."""
    records = [TrialRecord(f"t{i}", "linear", {"C": 10.0 ** (i - 4)}, 0.90 + 0.003 * i, "ok",
                           fit_seconds=0.5, finished_at=5.0 + 6 * i) for i in range(10)]
    records.append(TrialRecord("lgb", "lightgbm", LIGHTGBM, 0.925, "ok", fit_seconds=2.0,
                               finished_at=30.0))
    if poor is not None:
        records.append(TrialRecord("dt", "decision_tree", {"max_depth": 1}, poor, "ok",
                                   fit_seconds=0.1, finished_at=1.0))
    return records


def report(exported, records, exported_ensemble=None, no_ensemble="", **options
           ) -> tuple[str, dict]:
    """report.html's text and the card it was drawn from (the card's ``ensemble`` section
    ``exported_ensemble``: what delivery.export_choice writes there; else the engine's reason,
    ``no_ensemble``)."""
    dataset, train, test, model = exported
    metric = get_metric(None, "binary")
    board = leaderboard(records, metric)
    card = build_card(dataset, train, test, [None] * 5, board, metric,
                      FitConfig(dataset.target, **options), {}, {}, [], 60.0)
    if exported_ensemble:
        card["ensemble"] = exported_ensemble
    else:
        card["search"]["no_ensemble"] = no_ensemble
    page = render(card=card, board=board, model_bytes=model,
                  frame=dataset.features.iloc[test].reset_index(drop=True), y=dataset.y[test],
                  columns=dataset.columns, metric=metric, held_out=True)
    return page, card


def section(page: str, heading: str) -> str:
    return re.search(rf"<section><h2>{heading}</h2>(.*?)</section>", page, re.S).group(1)


def test_a_configuration_is_shown_in_full(exported):
    page, _ = report(exported, trials())
    shown = escape(json.dumps(LIGHTGBM, sort_keys=True))  # as leaderboard.csv has it
    assert len(shown) > 160 and shown in section(page, "Leaderboard")
    assert "&quot;num_leaves&quot;: 64}" in page


def test_the_search_chart_leaves_a_poor_trial_out_of_its_axis_and_its_legend_off_the_plot(
        exported):
    page, _ = report(exported, trials(poor=0.30))
    chart = re.search(r'<svg class="plot" role="img" aria-label="Best roc_auc so far".*?</svg>',
                      page, re.S).group(0)
    ticks = [float(t) for t in re.findall(r'text-anchor="end">([-0-9.e]+)</text>', chart)]
    assert ticks and min(ticks) > 0.85  # the others fill the chart; 0.30 would set it at 0.3
    assert 'class="clipped"' in chart and "<title>0.3</title>" in chart  # on the edge, marked
    assert "1 of 12 trials scored below" in section(page, "Search over time")
    plot = re.search(r'<rect x="([0-9.]+)" y="[0-9.]+" width="([0-9.]+)"', chart)
    right = float(plot.group(1)) + float(plot.group(2))
    legend = re.search(r'<g class="legend">(.*?)</g>', chart).group(1)
    assert min(float(x) for x in re.findall(r'<rect x="([0-9.]+)"', legend)) > right


def test_the_schema_prints_integer_ranges_as_integers(exported):
    schema = section(report(exported, trials())[0], "Data schema")
    visits = exported[0].features["visits"]
    assert f"<td>{visits.min()} to {visits.max()}</td>" in schema
    assert not re.search(r"\d\.0000 to", schema)


def test_the_schema_ends_no_list_of_categories_in_a_comma_and_says_how_many_are_left(exported):
    page, card = report(exported, trials())
    schema = section(page, "Data schema")
    assert not re.search(r",\s*</td>", schema)  # the empty category (missing) ended one so
    assert "&quot;&quot; (missing)" in schema
    cities = next(e["categories"] for e in card["inputs"] if e["name"] == "city")
    assert len(cities) > 8 and f"{cities[7]} \u2026 and {len(cities) - 8} more</td>" in schema


def test_the_confusion_matrix_states_its_threshold_and_the_share_of_each_true_class(exported):
    import onnxruntime as ort

    dataset, _, test, model = exported
    page, _ = report(exported, trials())
    frame = dataset.features.iloc[test].reset_index(drop=True)
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    labels = session.run(["probabilities"], onnx_feeds(frame, dataset.columns))[0].argmax(axis=1)
    matrix = np.zeros((2, 2))
    np.add.at(matrix, (dataset.y[test], labels), 1)
    chart = re.search(r'aria-label="Confusion matrix".*?</figure>', page, re.S).group(0)
    for count, share in zip(matrix.ravel(), (matrix / matrix.sum(axis=1, keepdims=True)).ravel()):
        assert f">{int(count)}</text>" in chart and f">{100 * share:.1f}%</text>" in chart
    assert "yes when P(yes) &gt; 0.5, else no" in chart and "argmax" in chart


def test_the_ensemble_is_shown_with_its_members_and_weights_or_why_there_is_none(exported):
    members = [{"model": "linear", "config": {"C": 100000.0}, "weight": 0.65},
               {"model": "lightgbm", "config": LIGHTGBM, "weight": 0.35}]
    page, _ = report(exported, trials(), {"members": members, "validation_score": 0.9312,
                                          "best_single_validation_score": 0.927,
                                          "single_best_file": "single_best.onnx"})
    shown = section(page, "Ensemble")
    assert "Exported: an ensemble" in shown and "0.9312" in shown and "0.9270" in shown
    rows = re.findall(r"<tr><td>(\w+)</td><td class=\"num\">([0-9.]+)</td>"
                      r"<td>(\d+)</td>", shown)
    assert rows == [("linear", "0.6500", "1"), ("lightgbm", "0.3500", "2")]  # leaderboard ranks
    no_gain = ("no gain on validation: the best mix of 2 families scored roc_auc 0.9270 against "
               "0.9270 for the best single trial")
    assert (f"Tried, not exported: {no_gain}. The single trial ranked 1 was exported."
            in section(report(exported, trials(), no_ensemble=no_gain)[0], "Ensemble"))
    alone = section(report(exported, trials(), no_ensemble="--no-ensemble")[0], "Ensemble")
    assert "Not tried: --no-ensemble." in alone


def test_the_page_says_how_the_rows_were_split(exported):
    page, _ = report(exported, trials())
    assert "<th>Rows split</th><td>random rows</td>" in page
    dataset, train, test, model = exported
    card = report(exported, trials())[1]
    card["validation"]["structure"] = {"split": "by time (date): the latest rows tested, "
                                                "validation chained forward"}
    board = leaderboard(trials(), get_metric(None, "binary"))
    page = render(card=card, board=board, model_bytes=model,
                  frame=dataset.features.iloc[test].reset_index(drop=True), y=dataset.y[test],
                  columns=dataset.columns, metric=get_metric(None, "binary"), held_out=True)
    assert "<td>by time (date): the latest rows tested, validation chained forward</td>" in page
