"""Self-contained HTML reports for run folders (figures embedded as base64 PNG, no external assets)."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from neurodyn._io import atomic_write_text

__all__ = ["compare_runs", "write_run_report"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em} h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;
font-size:.92em} th{background:#f3f3f3} figure{margin:1em 0} img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.9em;color:#555} .summary{color:#444} code,pre{background:#f6f6f6;padding:2px 4px}
pre{padding:.6em;overflow-x:auto;font-size:.85em}
"""


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, list):
        return ", ".join(_fmt(x) for x in v[:20]) + (" ..." if len(v) > 20 else "")
    return str(v)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def write_run_report(out: Path, *, title: str, summary: str, metrics: dict[str, Any], config: dict[str, Any],
                     figures: list[tuple[str, str]], notes: list[str] | None = None,
                     tables: list[tuple[str, list[str], list[list[Any]]]] | None = None,
                     versions: dict[str, str] | None = None) -> Path:
    """Write ``out/report.html``: summary, metrics, notes, tables, figures, config and versions."""
    out = Path(out)
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{_CSS}</style></head><body>", f"<h1>{html.escape(title)}</h1>",
             f"<p class='summary'>{html.escape(summary)}</p>"]
    parts.append("<h2>Metrics</h2>" + _table(["metric", "value"], [[k, v] for k, v in metrics.items()]))
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    for ttitle, header, rows in tables or []:
        parts.append(f"<h2>{html.escape(ttitle)}</h2>" + _table(header, rows))
    if figures:
        parts.append("<h2>Figures</h2>")
        for fname, caption in figures:
            parts.append(f"<figure>{_img(out / fname, caption or fname)}<figcaption>{html.escape(fname)}"
                         f"{': ' + html.escape(caption) if caption else ''}</figcaption></figure>")
    parts.append("<h2>Configuration</h2><pre>" + html.escape(json.dumps(config, indent=2, default=str)) + "</pre>")
    if versions:
        parts.append("<h2>Software</h2>" + _table(["package", "version"], [[k, v] for k, v in versions.items()]))
    parts.append("</body></html>")
    return atomic_write_text(out / "report.html", "\n".join(parts))


def compare_runs(run_dirs: list[Path], out: Path) -> Path:
    """Write ``out`` (an HTML file) comparing the metrics and configs of several run folders."""
    runs = []
    for d in run_dirs:
        d = Path(d)
        mpath, cpath = d / "metrics.json", d / "config.json"
        if not mpath.is_file() or not cpath.is_file():
            raise ValueError(f"run_dir={str(d)!r}: expected a run folder with metrics.json and config.json")
        try:
            runs.append((d, json.loads(mpath.read_text()), json.loads(cpath.read_text())))
        except json.JSONDecodeError as exc:
            raise ValueError(f"run_dir={str(d)!r}: unreadable metrics.json/config.json ({exc})") from None
    keys = sorted({k for _, m, _ in runs for k in m})
    ckeys = sorted({k for _, _, c in runs for k in c})
    header = ["key"] + [d.name for d, _, _ in runs]
    mrows = [[k] + [m.get(k, "") for _, m, _ in runs] for k in keys]
    crows = [[k] + [json.dumps(c.get(k, "")) for _, _, c in runs] for k in ckeys]
    parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>neurodyn: run comparison</title>",
             f"<style>{_CSS}</style></head><body><h1>Run comparison</h1>",
             "<h2>Metrics</h2>" + _table(header, mrows), "<h2>Configuration</h2>" + _table(header, crows)]
    for d, _, _ in runs:
        pngs = sorted(d.glob("*.png"))
        if pngs:
            parts.append(f"<h2>{html.escape(d.name)}</h2>")
            parts.extend(f"<figure>{_img(p, p.name)}<figcaption>{html.escape(p.name)}</figcaption></figure>"
                         for p in pngs)
    parts.append("</body></html>")
    return atomic_write_text(out, "\n".join(parts))
