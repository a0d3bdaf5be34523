"""Run reports: comparison with the texts' values, provenance, side-by-side comparison, reproduce."""

import json
import shlex
import subprocess
import warnings
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import neurodyn
from neurodyn.cli import app
from neurodyn.runner import (Reference, compare_with_text, declared_experiments, list_experiments,
                                       metric_info, provenance, references, run_experiment, undeclared_metrics)
from neurodyn.report.html import write_run_report
from neurodyn.report.reproduce import reproduce

runner = CliRunner()
NONNORMAL_FAST = {"n": 40, "duration_ms": 400.0}  # 40 neurons, 400 ms simulated: a few seconds


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One fast nonnormal-amplification run shared by the tests below: (folder, metrics, time before it)."""
    out = tmp_path_factory.mktemp("quick") / "run"
    before = datetime.now(timezone.utc).replace(microsecond=0)
    m = run_experiment("nonnormal-amplification", out, quick=True, config=NONNORMAL_FAST,
                       command="neurodyn run nonnormal-amplification --quick")
    return out, m, before


class Tables(HTMLParser):
    """Tables of an HTML page by id: a list of (row class, [cell texts]); plus element texts by id."""

    def __init__(self, text: str):
        super().__init__()
        self.tables: dict[str, list[tuple[str, list[str]]]] = {}
        self.by_id: dict[str, str] = {}
        self._table = self._row = self._cell = self._id = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id", f"table{len(self.tables)}")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = (a.get("class") or "", [])
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""
        elif a.get("id") and tag != "table":
            self._id, self.by_id[a["id"]] = a["id"], ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row[1].append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row[1] and not all(c == "" for c in self._row[1]):
                self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif self._id is not None and tag in ("p", "h2"):
            self._id = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        if self._id is not None:
            self.by_id[self._id] += data


def test_reference_rules_and_metric_named_values():
    # each rule against values worked out by hand
    approx = Reference("m", 0.157, "src", "σ ≈ 0.157", tol=0.05)
    assert approx.agrees(0.2, 0.157) and not approx.agrees(0.21, 0.157)
    assert Reference("m", 1.0, "src", "x", tol=0.5).agrees(1.5, 1.0)  # the boundary agrees (exact in binary)
    below = Reference("m", 0.15, "src", "< 0.15", relation="below")
    assert below.agrees(0.149, 0.15) and not below.agrees(0.15, 0.15)
    at_most = Reference("m", 0.4, "src", "<= 0.4", relation="at_most")
    assert at_most.agrees(0.4, 0.4) and not at_most.agrees(0.41, 0.4)
    ratio = Reference("m", 2000.0, "src", "about 2,000", relation="ratio", tol=2.0)
    assert ratio.agrees(1000.0, 2000.0) and ratio.agrees(4000.0, 2000.0) and not ratio.agrees(999.0, 2000.0)
    assert Reference("m", True, "src", "yes", relation="equal").agrees(True, True)
    assert approx.agrees([0.1, 0.2], 0.157) is None and approx.agrees(None, 0.157) is None
    with pytest.raises(ValueError, match="relation='near'"):
        Reference("m", 1.0, "src", "x", relation="near")
    with pytest.raises(ValueError, match="tol=1.0"):
        Reference("m", 1.0, "src", "x", relation="ratio", tol=1.0)
    # a reference whose value names another metric of the run (a chance level the run computes)
    list_experiments()
    rows = compare_with_text("opto-perturbation", {"dynamics_space_projection": 0.25, "dynamics_space_chance": 0.1,
                                                   "activity_space_projection": 0.5, "activity_space_chance": 0.6})
    by = {r["metric"]: r for r in rows}
    assert by["dynamics_space_projection"]["agrees"] is False  # 0.25 > 2 x 0.1
    assert "= 0.1 in this run" in by["dynamics_space_projection"]["text_value"]
    assert by["activity_space_projection"]["agrees"] is False  # 0.5 is not above 0.6


def test_declarations_cover_every_experiment_with_sources():
    specs = list_experiments()
    names = {s.name for s in specs}
    assert set(declared_experiments()) <= names  # no declaration for a renamed or misspelt experiment
    missing = sorted(names - set(declared_experiments()) - {"demo"})
    if missing:  # listed, not failed: a new experiment's metrics still render, as "undocumented"
        warnings.warn(f"experiments without metric declarations: {', '.join(missing)}", stacklevel=1)
    claims = [r for s in specs for r in references(s.name)]
    assert len({s.name for s in specs if references(s.name)}) >= 15
    for r in claims:
        assert r.source.split()[0] in ("thesis", "seed"), r  # every value is cited to one of the texts
    # the values the texts state, as the declarations carry them
    sd = {r.metric: r for r in references("gain-learning")}["gain_sd"]
    assert (sd.value, sd.source) == (0.157, "thesis §3.5, Fig. 3.3c")
    alpha = {r.metric: r for r in references("soc")}["alpha_final"]
    assert (alpha.value, alpha.relation) == (0.15, "below") and "App. C.1" in alpha.source
    expo = {r.metric: r for r in references("dale-svd")}["sigma1_exponent"]
    assert expo.value == 0.5 and "§14" in expo.source
    # renamed metrics still meet a declaration; a parameterised name meets its pattern, the most specific first
    assert metric_info("lds-fit", "heldout_neuron_r2_baseline").unit == "fraction"
    assert metric_info("perturbation-design", "outside_design_dynamics_leak_max_50").meaning.startswith("the same")
    assert metric_info("lds-fit", "no_such_metric") is None


def test_quick_run_reports_meaning_text_values_and_provenance(quick_run):
    out, m, before = quick_run
    undeclared = undeclared_metrics("nonnormal-amplification", m)
    assert undeclared == [], f"metrics without meaning and unit: {undeclared}"
    saved = json.loads((out / "metrics.json").read_text())
    ref = {(r["metric"], r["criterion"]): r for r in saved["reference"]}
    # an independent route to the value: the eigenvalues of the stored W
    alpha = float(np.max(np.linalg.eigvals(np.load(out / "arrays.npz")["W"]).real))
    row = ref[("spectral_abscissa", "0.98 ± 0.1")]
    assert row["this_run"] == pytest.approx(alpha)
    assert row["agrees"] is (abs(alpha - 0.98) <= 0.1)
    assert ref[("spectral_abscissa", "< 1")]["agrees"] is (alpha < 1)
    assert row["source"] == "thesis §1.2.3, Fig. 1.5 (cf. §1.2.4)"
    prov = json.loads((out / "config.json").read_text())["provenance"]
    started = datetime.fromisoformat(prov["started_utc"])
    assert started.tzinfo is not None and before <= started <= datetime.now(timezone.utc) + timedelta(seconds=1)
    assert prov["command"] == "neurodyn run nonnormal-amplification --quick"
    assert prov["neurodyn_version"] == neurodyn.__version__
    pkg = Path(neurodyn.__file__).resolve().parent
    head = subprocess.run(["git", "-C", str(pkg), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0:
        assert prov["git_commit"].split("+")[0] == head.stdout.strip()
    page = Tables((out / "report.html").read_text())
    assert f"{sum(r['agrees'] for r in saved['reference'])} of 3 values agree" in page.by_id["summary"]
    assert "transiently amplifies" in page.by_id["summary"]  # what was run ...
    assert "of neurons exceed their initial" in page.by_id["summary"]  # ... and what it found
    text_rows = [r[1] for r in page.tables["reference"][1:]]
    assert ["spectral_abscissa", "α(W) ≈ 0.98", "0.98 ± 0.1"] in [[r[0], r[4], r[5]] for r in text_rows]
    assert all(r[6].startswith("thesis §1.2.3, Fig. 1.5") and r[7] in ("yes", "no") for r in text_rows)
    cells = {r[1][0]: r[1] for r in page.tables["metrics"][1:]}
    assert cells["henrici"][3].startswith("Henrici departure") and cells["seconds"][2] == "s"
    assert any(r[1][0] == "started_utc" for r in page.tables["provenance"])


def test_provenance_hashes_input_files_and_survives_without_git(tmp_path, monkeypatch):
    data = tmp_path / "rec.npz"
    data.write_bytes(b"abc")
    prov = provenance({"data": str(data), "nested": {"model": str(data)}, "method": "em", "t": 1.0})
    # FIPS 180-2 test vector: SHA-256("abc")
    digest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert prov["inputs"]["data"]["sha256"] == digest and prov["inputs"]["data"]["bytes"] == 3
    assert prov["inputs"]["nested.model"]["sha256"] == digest and set(prov["inputs"]) == {"data", "nested.model"}
    monkeypatch.setenv("PATH", str(tmp_path))  # no git on the PATH
    assert provenance({})["git_commit"] is None
    assert provenance({}, command="x")["command"] == "x"
    assert shlex.split(provenance({})["command"])  # this process's own command line, quoted


def test_undeclared_metric_renders_as_undocumented(tmp_path):
    write_run_report(tmp_path, title="t", summary="s", metrics={"mystery": 1.5}, config={"seed": 0}, figures=[],
                     metric_info={})
    page = Tables((tmp_path / "report.html").read_text())
    assert page.tables["metrics"][1][1] == ["mystery", "1.5", "", "undocumented"]
    assert "The texts report no value" in page.by_id["summary"]


def test_report_of_two_runs_highlights_differing_keys(quick_run, tmp_path):
    a, ma, _ = quick_run
    b = tmp_path / "b"
    res = runner.invoke(app, ["run", "nonnormal-amplification", "--quick", "--set", "n=40", "--set", "duration_ms=300",
                              "--seed", "1", "--out", str(b), "--quiet"])
    assert res.exit_code == 0, res.output
    assert "compared with the text" in res.output and "Fig. 1.5" in res.output  # the table in the terminal too
    mb = {k: v for k, v in json.loads((b / "metrics.json").read_text()).items() if k != "reference"}
    res = runner.invoke(app, ["report", str(a), str(b), "--out", str(tmp_path / "cmp.html")])
    assert res.exit_code == 0, res.output
    text = (tmp_path / "cmp.html").read_text()
    page = Tables(text)
    differs = {r[1][0] for r in page.tables["config"] if r[0] == "differs"}
    assert differs == {"seed", "duration_ms"}
    metrics = {r[1][0]: r[1] for r in page.tables["metrics"][1:]}
    d = float(metrics["spectral_abscissa"][3])
    assert d == pytest.approx(mb["spectral_abscissa"] - ma["spectral_abscissa"], abs=1e-5)
    assert text.count("class='figrow'") == 1 and text.count("data:image/png;base64,") == 2
    assert any(r[1][0] == "spectral_abscissa" for r in page.tables["reference"][1:])


def test_reproduce_subset_resumes(tmp_path):
    cfg = {"nonnormal-amplification": NONNORMAL_FAST}
    s1 = reproduce(tmp_path, quick=True, experiments=["nonnormal-amplification"], config=cfg)
    assert [r["experiment"] for r in s1["runs"]] == ["nonnormal-amplification"] and not s1["runs"][0]["reused"]
    n = len(references("nonnormal-amplification"))
    assert len(s1["claims"]) == n and sum(s1["counts"].values()) == n
    assert all(r["status"] in ("agrees", "disagrees") for r in s1["claims"])
    page = (tmp_path / "report.html").read_text()
    assert "href='nonnormal-amplification/report.html'" in page
    assert (tmp_path / "nonnormal-amplification" / "report.html").is_file()
    stamp = (tmp_path / "nonnormal-amplification" / "metrics.json").stat().st_mtime_ns
    s2 = reproduce(tmp_path, quick=True, experiments=["nonnormal-amplification"], config=cfg)
    assert s2["runs"][0]["reused"] and s2["claims"] == s1["claims"]
    assert (tmp_path / "nonnormal-amplification" / "metrics.json").stat().st_mtime_ns == stamp
    # another config is not the finished run: it is run again
    s3 = reproduce(tmp_path, quick=True, experiments=["nonnormal-amplification"],
                   config={"nonnormal-amplification": {**NONNORMAL_FAST, "duration_ms": 300.0}})
    assert not s3["runs"][0]["reused"]
    md = (tmp_path / "reproduction.md").read_text()
    assert "| nonnormal-amplification | `spectral_abscissa` |" in md
    with pytest.raises(ValueError, match="experiment='rrr-fit': declares no text value"):
        reproduce(tmp_path, quick=True, experiments=["rrr-fit"])
    res = runner.invoke(app, ["reproduce", "no-such-exp", "--quick", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "experiment='no-such-exp': expected one of" in res.output


def test_small_multiples_shows_every_condition():
    from neurodyn.report.figures import rate_label, small_multiples

    rng = np.random.default_rng(0)
    data = rng.normal(size=(5, 30, 6))
    data[..., 4] *= 10.0  # neuron 4 varies most, then the others
    model = data + 0.1
    fig = small_multiples(np.arange(30) * 10.0, data, model, n_neurons=1, ylabel=rate_label(5.0))
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == 5 and [ax.get_title() for ax in shown] == [f"condition {c}" for c in range(5)]
    for c, ax in enumerate(shown):
        solid, dashed = ax.lines[:2]
        np.testing.assert_array_equal(solid.get_ydata(), data[c, :, 4])
        np.testing.assert_array_equal(dashed.get_ydata(), model[c, :, 4])
    assert shown[0].get_ylabel() == "r / (range + 5 spikes/s) (soft-normalised)"
    assert shown[-1].get_xlabel() == "time (ms)"
    with pytest.raises(ValueError, match=r"model.shape=\(5, 30\)"):
        small_multiples(np.arange(30), data, model[..., 0])
