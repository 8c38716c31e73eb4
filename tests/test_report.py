"""The Snakemake HTML report of the tiny run, opened in a real headless Chromium (Debian's
`chromium`, driven by Playwright): it loads without console errors, lists every figure of the
paper with its caption, and each figure renders as a non-blank image."""

import io
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, run_cli

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def figure_captions(workdir: Path) -> dict[str, str]:
    """Figure file name -> the first words of its caption (workflow/report/<figure>.rst; a study's
    figure is <figure>-<study>.pdf)."""
    out = {}
    for pdf in sorted((workdir / "paper" / "generated" / "figures").glob("*.pdf")):
        stem = pdf.stem
        rst = next(r for r in sorted((ROOT / "workflow" / "report").glob("*.rst"), key=lambda r: -len(r.stem))
                   if stem == r.stem or stem.startswith(r.stem + "-"))
        out[pdf.name] = caption_start(rst)
    return out


def caption_start(rst: Path) -> str:
    """The first 8 words of a report caption (workflow/report/*.rst), whitespace collapsed."""
    return " ".join(rst.read_text().split()[:8])


def pixel_spread(png: bytes) -> float:
    """Standard deviation of the grey levels on the PDF page of a screenshot of the report's
    viewer (the page: the bounding box of its near-white paper; 0 for a blank page or none)."""
    from PIL import Image

    grey = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    paper = grey > 230
    if paper.sum() < 1000:
        return 0.0
    # the page is the widest run of paper: columns and rows at least half as papery as the most
    # papery one (the viewer's page thumbnail is smaller and drops out)
    density = paper.mean(axis=0)
    cols = np.flatnonzero(density >= 0.5 * density.max())
    rows_density = paper[:, cols].mean(axis=1)
    rows = np.flatnonzero(rows_density >= 0.5 * rows_density.max())
    return float(grey[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1].std())


def view_text(page, needle: str | None, timeout_s: float = 10.0) -> str:
    """The page's text (whitespace collapsed) once `needle` shows, or after timeout_s: a click
    re-renders the report asynchronously, and reading at once can catch the list page before the
    file's view replaces it. A needle that never shows is left to the caller's assertion."""
    deadline = time.monotonic() + timeout_s
    while True:
        text = " ".join(page.locator("body").inner_text().split())
        if needle is None or needle in text or time.monotonic() > deadline:
            return text
        page.wait_for_timeout(100)


def table_caption(name: str) -> str:
    return caption_start(ROOT / "workflow" / "report" / f"{Path(name).stem}-table.rst")


@pytest.fixture(scope="module")
def report(tiny_run):
    if CHROMIUM is None:
        if os.environ.get("GROKLAB_REQUIRE_BROWSER"):
            pytest.fail("GROKLAB_REQUIRE_BROWSER is set but chromium is not installed (.ci/run installs it)")
        pytest.skip("no chromium (Debian: apt-get install chromium)")
    out = run_cli("snakemake", "--cores", "1", "--configfile", "tiny.yaml", "--report", "report.html", cwd=tiny_run)
    assert out.returncode == 0, out.stderr[-2000:]
    return tiny_run / "report.html"


def test_report_lists_every_figure_with_its_caption_and_each_renders(report, artifacts):
    from playwright.sync_api import sync_playwright

    expected = figure_captions(report.parent)
    assert len(expected) >= 8
    problems, listed, spreads, tables = [], {}, {}, {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.goto(report.as_uri())
        page.get_by_text("Figures", exact=True).click()
        groups = [g for g in page.locator("body").inner_text().split("Figures", 1)[1].split("\n") if g.strip()]
        for group in groups:
            page.get_by_text(group, exact=True).click()
            entries = page.locator("tr").filter(has=page.locator('a[iconname="eye"]'))
            entries.first.wait_for()
            names = [t.strip() for t in entries.locator("td:first-child").all_inner_texts()]
            for name in (n for n in names if n.endswith(".pdf")):
                row = entries.filter(has=page.get_by_text(name, exact=True)).first
                row.locator('a[iconname="eye"]').click()
                frame = page.locator("iframe").first
                frame.wait_for(state="visible")
                page.wait_for_timeout(1200)            # the PDF viewer draws the page
                shot = frame.screenshot()
                (artifacts / f"{Path(name).stem}.png").write_bytes(shot)
                spreads[Path(name).name] = pixel_spread(shot)
                row.locator('a[iconname="information-circle"]').click()   # the file's view: path, caption, rule
                listed[Path(name).name] = view_text(page, expected.get(Path(name).name))
                page.get_by_text(group, exact=True).first.click()        # back to the group's list (breadcrumb)
            page.get_by_text("Figures", exact=True).first.click()
        page.screenshot(path=str(artifacts / "figures-index.png"))
        page.get_by_text("Results", exact=True).first.click()
        page.get_by_text("Tables", exact=True).click()
        entries = page.locator("tr").filter(has=page.locator('a[iconname="information-circle"]'))
        entries.first.wait_for()
        for name in [t.strip() for t in entries.locator("td:first-child").all_inner_texts()]:
            entries.filter(has=page.get_by_text(name, exact=True)).first.locator('a[iconname="information-circle"]').click()
            tables[Path(name).name] = view_text(page, table_caption(name))
            page.get_by_text("Tables", exact=True).first.click()
        browser.close()
    assert not problems, problems
    assert set(listed) == set(expected), (sorted(set(expected) - set(listed)), sorted(set(listed) - set(expected)))
    for name, caption in expected.items():
        assert caption in listed[name], (name, caption)
    blank = {n: s for n, s in spreads.items() if s < 5}
    assert not blank, blank
    # the tables as CSV (a browser cannot show Parquet), each with its caption
    assert set(tables) == {"speedups.csv", "claims.csv", "ladder.csv", "ladder_trend.csv", "leadlag.csv",
                           "forecast.csv"}, sorted(tables)
    for name, view in tables.items():
        assert table_caption(name) in view, name
