"""Open run reports in headless Chromium: figures load, the console stays clean, the summary and the
comparison with the texts are there, and a two-run comparison highlights the differing config keys."""

import shutil

import pytest
from typer.testing import CliRunner

from neurodyn.cli import app
from neurodyn.runner import run_experiment

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
FAST = {"n": 40, "duration_ms": 400.0}


def _open(p, path, errors):
    browser = p.chromium.launch(
        executable_path=CHROMIUM,
        args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync"])
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return browser, page


def test_report_renders_in_chromium(tmp_path):
    out = tmp_path / "run"
    run_experiment("nonnormal-amplification", out, quick=True, config=FAST)
    errors: list[str] = []
    with playwright_api.sync_playwright() as p:
        browser, page = _open(p, out / "report.html", errors)
        sizes = page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth, e.naturalHeight])")
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        title = page.title()
        # the page opens with the summary, then the comparison with the texts
        headings = page.eval_on_selector_all("h2", "els => els.map(e => e.textContent)")
        summary = page.inner_text("#summary")
        ref_rows = page.eval_on_selector_all(
            "#reference tbody tr", "rows => rows.map(r => Array.from(r.cells).map(c => c.innerText))")
        ref_head = page.eval_on_selector_all("#reference thead th", "els => els.map(e => e.innerText)")
        browser.close()
    assert title == "neurodyn: nonnormal-amplification"
    assert len(sizes) >= 1
    assert all(done and w > 0 and h > 0 for done, w, h in sizes), sizes
    assert errors == []
    assert shot.stat().st_size > 10_000
    assert headings[:2] == ["Summary", "Compared with the text"]
    assert "transiently amplifies" in summary and "values agree" in summary
    assert ref_head == ["metric", "meaning", "unit", "this run", "the text's value", "agreement if", "source",
                        "agrees"]
    row = next(r for r in ref_rows if r[0] == "spectral_abscissa" and "0.98" in r[4])
    assert row[4] == "α(W) ≈ 0.98" and row[6].startswith("thesis §1.2.3, Fig. 1.5") and row[7] in ("yes", "no")


def test_two_run_report_highlights_differing_key_in_chromium(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    run_experiment("nonnormal-amplification", a, quick=True, config=FAST)
    run_experiment("nonnormal-amplification", b, quick=True, config={**FAST, "duration_ms": 300.0})
    res = CliRunner().invoke(app, ["report", str(a), str(b), "--out", str(tmp_path / "cmp.html")])
    assert res.exit_code == 0, res.output
    errors: list[str] = []
    with playwright_api.sync_playwright() as p:
        browser, page = _open(p, tmp_path / "cmp.html", errors)
        rows = page.eval_on_selector_all(
            "#config tbody tr",
            "rows => rows.map(r => [r.cells[0].innerText, getComputedStyle(r.cells[1]).backgroundColor])")
        imgs = page.eval_on_selector_all(".figrow img", "els => els.map(e => e.getBoundingClientRect().top)")
        browser.close()
    colour = dict(rows)
    assert colour["duration_ms"] != colour["n"]           # the differing key is highlighted ...
    assert colour["duration_ms"] == "rgb(255, 243, 196)"  # ... in the highlight colour of the stylesheet
    assert colour["n"] in ("rgba(0, 0, 0, 0)", "transparent")
    assert len(imgs) == 2 and abs(imgs[0] - imgs[1]) < 1  # the two runs' figures side by side
    assert errors == []
