"""Open a run's report.html in headless Chromium: every figure loads and the console stays clean."""

import shutil

import pytest

from neurodyn.experiments.base import run_experiment

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


def test_report_renders_in_chromium(tmp_path):
    out = tmp_path / "run"
    run_experiment("nonnormal-amplification", out, quick=True, config={"duration_ms": 400.0})
    errors: list[str] = []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto((out / "report.html").as_uri())
        page.wait_for_load_state("load")
        sizes = page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth, e.naturalHeight])")
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        title = page.title()
        browser.close()
    assert title == "neurodyn: nonnormal-amplification"
    assert len(sizes) >= 1
    assert all(done and w > 0 and h > 0 for done, w, h in sizes), sizes
    assert errors == []
    assert shot.stat().st_size > 10_000
