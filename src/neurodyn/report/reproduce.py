"""Reproduce the texts' values: run every experiment that declares one and tabulate all claims.

`reproduce` runs each experiment with declared `Reference` values (at ``--quick`` scale or at its
default, the texts' scale) into ``OUT/<experiment>/`` and writes::

    OUT/report.html        every claim with its status, linking to each run's report
    OUT/reproduction.json  the same rows, with machine, date and wall times
    OUT/reproduction.md    the table in Markdown (for docs/reproduction.md)

It resumes: a run folder whose ``metrics.json`` and ``report.html`` exist and whose config equals the
one that would be resolved now is reused, not rerun. A run that fails is listed as failed and the
others go on.
"""

from __future__ import annotations

import html
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from neurodyn.fileio import atomic_write_json, atomic_write_text
from neurodyn.report.html import CSS, format_value

__all__ = ["claim_experiments", "reproduce"]

_STATUS = {True: "agrees", False: "disagrees", None: "not measured"}


def claim_experiments() -> list[str]:
    """Names of the registered experiments that declare at least one text value."""
    from neurodyn.runner import list_experiments, references

    return [s.name for s in list_experiments() if references(s.name)]


def _finished(run_dir: Path, expected: dict[str, Any], quick: bool) -> dict[str, Any] | None:
    """The metrics of a finished run folder made with the ``expected`` config, else None."""
    import json

    mpath, cpath = run_dir / "metrics.json", run_dir / "config.json"
    if not (mpath.is_file() and cpath.is_file() and (run_dir / "report.html").is_file()):
        return None
    try:
        cfg, metrics = json.loads(cpath.read_text()), json.loads(mpath.read_text())
    except json.JSONDecodeError:
        return None
    stored = {k: v for k, v in cfg.items() if k not in ("experiment", "quick", "provenance")}
    if cfg.get("quick") != quick or json.dumps(stored, sort_keys=True) != json.dumps(expected, sort_keys=True):
        return None
    return metrics


def machine() -> str:
    """A one-line description of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            names = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return f"{platform.node()}: {cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}"


def reproduce(out: str | Path, *, quick: bool = False, experiments: list[str] | None = None,
              config: dict[str, dict[str, Any]] | None = None, force: bool = False, command: str | None = None,
              on_start: Callable[[str, bool], None] | None = None) -> dict[str, Any]:
    """Run the experiments that declare text values into ``out`` and write the claims report.

    ``experiments`` restricts the run to those names (each must declare a text value); ``config``
    maps an experiment name to config overrides (applied after ``quick``); ``force`` reruns finished
    folders; ``on_start(name, reused)`` is called before each experiment. Returns the summary written
    to ``reproduction.json``.
    """
    from neurodyn.runner import compare_with_text, get_experiment, metric_info, resolve_config, run_experiment

    out = Path(out)
    available = claim_experiments()
    names = list(available if experiments is None else experiments)
    if not names:
        raise ValueError("experiments=[]: expected at least one experiment name")
    for n in names:
        get_experiment(n)  # unknown names: ConfigError naming the choices
        if n not in available:
            raise ValueError(f"experiment={n!r}: declares no text value; expected one of {', '.join(available)}")
    config = dict(config or {})
    for n in config:
        if n not in names:
            raise ValueError(f"config[{n!r}]: expected overrides for one of the experiments run ({', '.join(names)})")
    out.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc)
    t_all = time.perf_counter()
    runs, rows = [], []
    for n in names:
        spec = get_experiment(n)
        given = config.get(n, {})
        expected = resolve_config(spec, given, quick=quick).model_dump()
        run_dir = out / n
        metrics = None if force else _finished(run_dir, expected, quick)
        reused = metrics is not None
        if on_start is not None:
            on_start(n, reused)
        t0 = time.perf_counter()
        error = None
        if metrics is None:
            try:
                metrics = run_experiment(n, run_dir, config=given, quick=quick, force=True, command=command)
            except Exception as exc:  # a failed experiment is listed, the others still run
                error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        wall = time.perf_counter() - t0
        runs.append({"experiment": n, "folder": n, "reused": reused, "error": error,
                     "wall_seconds": None if reused else wall,
                     "seconds": None if metrics is None else metrics.get("seconds")})
        if metrics is None:
            from neurodyn.runner import references

            for ref in references(n):
                info = metric_info(n, ref.metric)
                rows.append({"experiment": n, "metric": ref.metric, "meaning": info.meaning if info else "",
                             "unit": info.unit if info else "", "this_run": None, "text_value": ref.text,
                             "criterion": ref.criterion(), "source": ref.source, "scale": ref.scale,
                             "agrees": None, "status": "run failed"})
            continue
        for r in compare_with_text(n, metrics):
            rows.append({"experiment": n, **r, "status": _STATUS[r["agrees"]]})
    summary = {"quick": quick, "started_utc": started.isoformat(timespec="seconds"),
               "machine": machine(), "wall_seconds": time.perf_counter() - t_all,
               "counts": {s: sum(r["status"] == s for r in rows)
                          for s in ("agrees", "disagrees", "not measured", "run failed")},
               "runs": runs, "claims": rows}
    atomic_write_json(out / "reproduction.json", summary)
    atomic_write_text(out / "reproduction.md", markdown_table(summary))
    _write_html(out / "report.html", summary)
    return summary


def _scale_text(quick: bool) -> str:
    return "quick (small) scale" if quick else "the texts' scale (default configs)"


def markdown_table(summary: dict[str, Any]) -> str:
    """The claims as a Markdown table, with machine, date and wall time."""
    c = summary["counts"]
    lines = [f"Scale: {_scale_text(summary['quick'])}. Machine: {summary['machine']}. "
             f"Started {summary['started_utc']}; wall time {summary['wall_seconds'] / 60:.1f} min "
             f"(runs reused from an earlier call count zero).",
             "",
             f"{c['agrees']} agree, {c['disagrees']} disagree, {c['not measured']} not measured, "
             f"{c['run failed']} in failed runs.",
             "",
             "| experiment | metric | this run | the text's value | agreement if | source | status |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in summary["claims"]:
        src = r["source"] + (f" ({r['scale']})" if r.get("scale") else "")
        cells = [r["experiment"], f"`{r['metric']}`", format_value(r["this_run"]), r["text_value"], r["criterion"], src,
                 r["status"]]
        lines.append("| " + " | ".join(str(x).replace("|", "\\|") for x in cells) + " |")
    lines += ["", "| experiment | computation (s) | wall (s) | note |", "| --- | --- | --- | --- |"]
    for run in summary["runs"]:
        note = run["error"] or ("reused" if run["reused"] else "")
        lines.append(f"| {run['experiment']} | {format_value(run['seconds'])} | {format_value(run['wall_seconds'])} | {note} |")
    return "\n".join(lines) + "\n"


def _write_html(path: Path, summary: dict[str, Any]) -> Path:
    c = summary["counts"]
    cls = {"agrees": "agree", "disagrees": "disagree", "not measured": "missing", "run failed": "disagree"}
    body = []
    for r in summary["claims"]:
        link = f"<a href='{html.escape(r['experiment'])}/report.html'>{html.escape(r['experiment'])}</a>"
        src = r["source"] + (f" ({r['scale']})" if r.get("scale") else "")
        cells = [r["metric"], r["meaning"], r["unit"], format_value(r["this_run"]), r["text_value"], r["criterion"], src]
        body.append(f"<tr><td>{link}</td>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in cells)
                    + f"<td class='{cls[r['status']]}'>{html.escape(r['status'])}</td></tr>")
    head = "".join(f"<th>{h}</th>" for h in ("experiment", "metric", "meaning", "unit", "this run",
                                             "the text's value", "agreement if", "source", "status"))
    rbody = "".join(
        f"<tr><td><a href='{html.escape(r['folder'])}/report.html'>{html.escape(r['experiment'])}</a></td>"
        f"<td>{format_value(r['seconds'])}</td><td>{format_value(r['wall_seconds'])}</td>"
        f"<td>{html.escape(r['error'] or ('reused' if r['reused'] else ''))}</td></tr>" for r in summary["runs"])
    text = (f"{len(summary['runs'])} experiments at {_scale_text(summary['quick'])} on {summary['machine']}, "
            f"started {summary['started_utc']} UTC, {summary['wall_seconds'] / 60:.1f} min wall time. "
            f"Of {len(summary['claims'])} claims of the texts: {c['agrees']} agree, {c['disagrees']} disagree, "
            f"{c['not measured']} not measured, {c['run failed']} in failed runs.")
    page = ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>neurodyn: reproduction</title>"
            f"<style>{CSS}</style></head><body><h1>Reproduction of the texts' values</h1>"
            f"<p class='summary' id='summary'>{html.escape(text)}</p><h2>Claims</h2>"
            f"<table id='claims'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            "<h2>Runs</h2><table><thead><tr><th>experiment</th><th>computation (s)</th><th>wall (s)</th>"
            f"<th>note</th></tr></thead><tbody>{rbody}</tbody></table></body></html>")
    return atomic_write_text(path, page)
