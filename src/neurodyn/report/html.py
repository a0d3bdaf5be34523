"""Self-contained HTML reports for run folders (figures embedded as base64 PNG, no external assets).

A run's report opens with a summary (what was run and what it found) and the table "Compared with the
text": for each value a text reports, the metric, its meaning and unit, this run's value, the text's
value, its source and whether they agree. Then the metrics with meaning and unit, the experiment's
notes and tables, figures, provenance (when, how, on what) and the resolved config.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from neurodyn.fileio import atomic_write_text
from neurodyn.runner.dicts import flatten

__all__ = ["compare_runs", "reference_summary", "write_run_report"]

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1200px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em} h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;
font-size:.92em;vertical-align:top} th{background:#f3f3f3} figure{margin:1em 0} img{max-width:100%;height:auto;
border:1px solid #eee} figcaption{font-size:.9em;color:#555} .summary{color:#333} code,pre{background:#f6f6f6;
padding:2px 4px} pre{padding:.6em;overflow-x:auto;font-size:.85em}
td.agree{background:#e3f4e3} td.disagree{background:#fbe3e3} td.missing{background:#f1f1f1;color:#777}
tr.differs td{background:#fff3c4} tr.differs td:first-child{font-weight:bold}
.undocumented{color:#a33;font-style:italic} .figrow{display:grid;gap:8px;align-items:start}
"""


def format_value(v: Any, digits: int = 6, list_items: int | None = 20) -> str:
    """A metric value for a table: None as a dash, booleans as yes/no, floats to ``digits`` significant
    digits, lists as their first ``list_items`` values (None: ``str`` of the list)."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    if isinstance(v, list) and list_items is not None:
        return ", ".join(format_value(x, digits, list_items) for x in v[:list_items]) + (
            " ..." if len(v) > list_items else "")
    return str(v)



def _cell(v: Any, cls: str = "") -> str:
    c = f" class='{cls}'" if cls else ""
    return f"<td{c}>{html.escape(format_value(v))}</td>"


def _table(header: list[str], rows: list[list[Any]], tid: str = "") -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(c) for c in r) + "</tr>" for r in rows)
    i = f" id='{tid}'" if tid else ""
    return f"<table{i}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def agrees_text(a: bool | None) -> str:
    return "not measured" if a is None else ("yes" if a else "no")


def reference_summary(reference: list[dict[str, Any]]) -> str:
    """One sentence: how many of the texts' values this run agrees with, naming those it does not."""
    if not reference:
        return "The texts report no value for this experiment's metrics; the metrics below say what each means."
    yes = [r["metric"] for r in reference if r["agrees"] is True]
    no = [r["metric"] for r in reference if r["agrees"] is False]
    missing = [r["metric"] for r in reference if r["agrees"] is None]
    text = f"Compared with the texts, {len(yes)} of {len(reference)} values agree"
    if no:
        text += f"; disagreeing: {', '.join(no)}"
    if missing:
        text += f"; not measured in this run: {', '.join(missing)}"
    return text + "."


def _summary_paragraph(summary: str, config: dict[str, Any], metrics: dict[str, Any], notes: list[str],
                       reference: list[dict[str, Any]]) -> str:
    prov = config.get("provenance", {})
    scale = "quick (small) scale" if config.get("quick") else "the configured (text) scale"
    when = str(prov.get("started_utc", "")).replace("T", " ").replace("+00:00", "")
    secs = metrics.get("seconds")
    ran = (f"This run: {scale}, seed {config.get('seed', '–')}"
           + (f", started {when} UTC" if when else "")
           + (f", {secs:.1f} s of computation" if isinstance(secs, (int, float)) else "") + ".")
    found = " ".join(notes[:2])
    caveat = ""
    if config.get("quick") and any(r["agrees"] is False for r in reference):
        caveat = ("At quick scale a value the texts report at their own, larger scale (noted beside each source) "
                  "can disagree for that reason alone.")
    return " ".join(p for p in (summary, ran, found, reference_summary(reference), caveat) if p)


def _reference_table(reference: list[dict[str, Any]]) -> str:
    header = ["metric", "meaning", "unit", "this run", "the text's value", "agreement if", "source", "agrees"]
    rows = []
    for r in reference:
        a = r["agrees"]
        cls = "missing" if a is None else ("agree" if a else "disagree")
        src = r["source"] + (f" ({r['scale']})" if r.get("scale") else "")
        rows.append("<tr>" + _cell(r["metric"]) + _cell(r["meaning"]) + _cell(r["unit"]) + _cell(r["this_run"])
                    + _cell(r["text_value"]) + _cell(r["criterion"]) + _cell(src)
                    + f"<td class='{cls}'>{agrees_text(a)}</td></tr>")
    head = "".join(f"<th>{h}</th>" for h in header)
    return f"<table id='reference'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _metrics_table(metrics: dict[str, Any], info: dict[str, tuple[str, str]]) -> str:
    rows = []
    for k, v in metrics.items():
        meaning, unit = info.get(k, ("undocumented", ""))
        mcell = (f"<td class='undocumented'>{html.escape(meaning)}</td>" if meaning == "undocumented"
                 else _cell(meaning))
        rows.append("<tr>" + _cell(k) + _cell(v) + _cell(unit) + mcell + "</tr>")
    return ("<table id='metrics'><thead><tr><th>metric</th><th>value</th><th>unit</th><th>meaning</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _provenance_rows(prov: dict[str, Any]) -> list[list[Any]]:
    rows = [[k, prov.get(k)] for k in ("started_utc", "command", "neurodyn_version", "git_commit", "host")]
    for key, f in (prov.get("inputs") or {}).items():
        rows.append([f"input {key}", f"{f['path']} ({f['bytes']} bytes) sha256 {f['sha256']}"])
    return rows


def write_run_report(out: Path, *, title: str, summary: str, metrics: dict[str, Any], config: dict[str, Any],
                     figures: list[tuple[str, str]], notes: list[str] | None = None,
                     tables: list[tuple[str, list[str], list[list[Any]]]] | None = None,
                     versions: dict[str, str] | None = None,
                     metric_info: dict[str, tuple[str, str]] | None = None,
                     reference: list[dict[str, Any]] | None = None) -> Path:
    """Write ``out/report.html``: summary, comparison with the texts, metrics, notes, tables, figures,
    provenance, config and versions."""
    out = Path(out)
    notes, reference = list(notes or []), list(reference or [])
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{CSS}</style></head><body>", f"<h1>{html.escape(title)}</h1>",
             "<h2 id='summary-title'>Summary</h2>"
             f"<p class='summary' id='summary'>{html.escape(_summary_paragraph(summary, config, metrics, notes, reference))}</p>"]
    parts.append("<h2>Compared with the text</h2>")
    parts.append(_reference_table(reference) if reference else
                 "<p>No text reports a value for this experiment's metrics.</p>")
    parts.append("<h2>Metrics</h2>" + _metrics_table(metrics, metric_info or {}))
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    for ttitle, header, rows in tables or []:
        parts.append(f"<h2>{html.escape(ttitle)}</h2>" + _table(header, rows))
    if figures:
        parts.append("<h2>Figures</h2>")
        for fname, caption in figures:
            parts.append(f"<figure>{_img(out / fname, caption or fname)}<figcaption>{html.escape(fname)}"
                         f"{': ' + html.escape(caption) if caption else ''}</figcaption></figure>")
    prov = config.get("provenance")
    if prov:
        parts.append("<h2>Provenance</h2>" + _table(["", ""], _provenance_rows(prov), tid="provenance"))
    cfg = {k: v for k, v in config.items() if k != "provenance"}
    parts.append("<h2>Configuration</h2><pre>" + html.escape(json.dumps(cfg, indent=2, default=str)) + "</pre>")
    if versions:
        parts.append("<h2>Software</h2>" + _table(["package", "version"], [[k, v] for k, v in versions.items()]))
    parts.append("</body></html>")
    return atomic_write_text(out / "report.html", "\n".join(parts))


# ---------------------------------------------------------------------------------------------------
# Comparing run folders


def _read_run(d: Path) -> tuple[Path, dict, dict]:
    d = Path(d)
    mpath, cpath = d / "metrics.json", d / "config.json"
    if not mpath.is_file() or not cpath.is_file():
        raise ValueError(f"run_dir={str(d)!r}: expected a run folder with metrics.json and config.json")
    try:
        return d, json.loads(mpath.read_text()), json.loads(cpath.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"run_dir={str(d)!r}: unreadable metrics.json/config.json ({exc})") from None


def _difference(a: Any, b: Any) -> Any:
    num = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return "" if a == b else "differs"
    if isinstance(a, num) and isinstance(b, num):
        return b - a
    if (isinstance(a, list) and isinstance(b, list) and len(a) == len(b)
            and all(isinstance(x, num) and not isinstance(x, bool) for x in a + b)):
        return [y - x for x, y in zip(a, b)]
    return "" if a == b else "differs"


def _labels(dirs: list[Path]) -> list[str]:
    names = [d.name for d in dirs]
    if len(set(names)) == len(names):
        return names
    return [str(d) for d in dirs]


def compare_runs(run_dirs: list[Path], out: Path) -> Path:
    """Write ``out`` (an HTML file) comparing run folders side by side.

    Config keys (nested keys dotted) in one table, rows whose values differ highlighted; metrics side by
    side with the difference of each run from the first (``B - A``); figures of the same name in one row.
    """
    if not run_dirs:
        raise ValueError("run_dirs=[]: expected at least one run folder")
    runs = [_read_run(d) for d in run_dirs]
    labels = _labels([d for d, _, _ in runs])
    first = labels[0]
    head = "<tr><th>key</th>" + "".join(f"<th>{html.escape(lb)}</th>" for lb in labels)

    cfgs = [flatten({k: v for k, v in c.items() if k != "provenance"}) for _, _, c in runs]
    ckeys = list(dict.fromkeys(k for c in cfgs for k in c))
    crows = []
    n_diff = 0
    for k in ckeys:
        vals = [json.dumps(c[k], default=str) if k in c else "(absent)" for c in cfgs]
        differs = len(set(vals)) > 1
        n_diff += differs
        crows.append(f"<tr{' class=differs' if differs else ''}><td>{html.escape(k)}</td>"
                     + "".join(f"<td>{html.escape(v)}</td>" for v in vals) + "</tr>")
    ctable = f"<table id='config'><thead>{head}</tr></thead><tbody>{''.join(crows)}</tbody></table>"

    mets = [{k: v for k, v in m.items() if k != "reference"} for _, m, _ in runs]
    mkeys = list(dict.fromkeys(k for m in mets for k in m))
    dhead = "".join(f"<th>{html.escape(lb)} − {html.escape(first)}</th>" for lb in labels[1:])
    mrows = []
    for k in mkeys:
        vals = [m.get(k) for m in mets]
        diffs = [_difference(vals[0], v) if k in mets[0] and k in m else "" for v, m in zip(vals[1:], mets[1:])]
        mrows.append(f"<tr><td>{html.escape(k)}</td>" + "".join(_cell(v) for v in vals)
                     + "".join(_cell(d) for d in diffs) + "</tr>")
    mtable = f"<table id='metrics'><thead>{head}{dhead}</tr></thead><tbody>{''.join(mrows)}</tbody></table>"

    rrows = []
    for _, m, _ in runs:
        for r in m.get("reference", []):
            rrows.append(r["metric"])
    refkeys = list(dict.fromkeys(rrows))
    reftable = ""
    if refkeys:
        body = []
        for key in refkeys:
            cells = []
            text = ""
            for _, m, _ in runs:
                row = next((r for r in m.get("reference", []) if r["metric"] == key), None)
                if row is None:
                    cells.append("<td class='missing'>–</td>")
                    continue
                text = text or f"{row['text_value']} ({row['source']})"
                a = row["agrees"]
                cls = "missing" if a is None else ("agree" if a else "disagree")
                cells.append(f"<td class='{cls}'>{html.escape(format_value(row['this_run']))}: {agrees_text(a)}</td>")
            body.append(f"<tr><td>{html.escape(key)}</td><td>{html.escape(text)}</td>{''.join(cells)}</tr>")
        rhead = "<tr><th>metric</th><th>the text's value</th>" + "".join(
            f"<th>{html.escape(lb)}</th>" for lb in labels) + "</tr>"
        reftable = ("<h2>Compared with the text</h2>"
                    f"<table id='reference'><thead>{rhead}</thead><tbody>{''.join(body)}</tbody></table>")

    prows = []
    provs = [flatten(c.get("provenance", {})) for _, _, c in runs]
    for k in dict.fromkeys(k for p in provs for k in p):
        prows.append([k] + [p.get(k, "") for p in provs])

    figs = list(dict.fromkeys(p.name for d, _, _ in runs for p in sorted(d.glob("*.png"))))
    fparts = []
    for name in figs:
        cols = []
        for (d, _, _), lb in zip(runs, labels):
            p = d / name
            cols.append(f"<figure>{_img(p, f'{lb}: {name}')}<figcaption>{html.escape(lb)}</figcaption></figure>"
                        if p.is_file() else f"<p>{html.escape(lb)}: no {html.escape(name)}</p>")
        fparts.append(f"<h3>{html.escape(name)}</h3><div class='figrow' "
                      f"style='grid-template-columns:repeat({len(runs)},1fr)'>{''.join(cols)}</div>")

    parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>neurodyn: run comparison</title>",
             f"<style>{CSS}</style></head><body><h1>Run comparison</h1>",
             "<p class='summary'>" + html.escape(
                 f"{len(runs)} runs: {', '.join(labels)}. {n_diff} of {len(ckeys)} config keys differ "
                 "(highlighted); metric differences are each run minus the first.") + "</p>",
             "<h2>Configuration</h2>" + ctable, "<h2>Metrics</h2>" + mtable, reftable]
    if fparts:
        parts.append("<h2>Figures</h2>" + "".join(fparts))
    if prows:
        parts.append("<h2>Provenance</h2>" + _table(["key"] + labels, prows, tid="provenance"))
    parts.append("</body></html>")
    return atomic_write_text(out, "\n".join(parts))
