"""report.html of the demo run: self-contained, and drawn by a real browser (headless Chromium
through Playwright): every chart has a size on the page and visible marks in colour."""
from __future__ import annotations

import io
import shutil

import numpy as np
import pytest

from automl_guide.cli import main

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
    for heading in ("Leaderboard", "Search over time", "The exported model on held-out rows",
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
