"""The "compared with the text" table for the terminal (rich)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from neurodyn.report.html import format_value

__all__ = ["reference_table"]


def _fmt(v: Any) -> str:
    return format_value(v, digits=4, list_items=None)


def reference_table(rows: list[dict[str, Any]], title: str = "compared with the text") -> Table:
    """A rich table of `compare_with_text` rows: metric, meaning, unit, this run, text, source, agrees."""
    table = Table(title=title, show_header=True, show_lines=True)
    table.add_column("metric (meaning, unit)", ratio=3)
    table.add_column("this run", justify="right", no_wrap=True)
    table.add_column("the text's value", ratio=3)
    table.add_column("source", ratio=2)
    table.add_column("agrees", no_wrap=True)
    for r in rows:
        a = r["agrees"]
        mark = "[dim]not measured[/]" if a is None else ("[green]yes[/]" if a else "[red]no[/]")
        unit = f", {r['unit']}" if r["unit"] else ""
        table.add_row(f"[bold]{r['metric']}[/]\n[dim]{r['meaning']}{unit}[/]", _fmt(r["this_run"]),
                      f"{r['text_value']} [dim](agrees if {r['criterion']})[/]",
                      r["source"] + (f" [dim]({r['scale']})[/]" if r.get("scale") else ""), mark)
    return table
