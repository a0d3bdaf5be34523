"""The ``neurodyn`` command (layer 6).

    neurodyn list                      experiments with one-line descriptions
    neurodyn config EXP                default config with the meaning of each key
    neurodyn run EXP [--config FILE.toml|.json] [--set key=value ...] [--out DIR] [--quick] [--seed N]
    neurodyn demo [--out DIR] [--quick]
    neurodyn fit MODEL --data FILE [--set key=value ...] [--out DIR]
    neurodyn sweep SWEEP.toml [--out DIR] [--scheduler ADDRESS] [--workers N]
    neurodyn report DIR... [--out FILE]      one run folder, or several side by side
    neurodyn reproduce [EXP...] [--quick] [--out DIR] [--force]

Errors in arguments, configs or input files print one line naming the argument, the value and what
was expected, and exit with status 2.
"""

from __future__ import annotations

import json
import sys
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from neurodyn.progress import set_quiet

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="neurodyn: models of neural population dynamics.")
_out = Console()
_err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> None:
    _err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _read_config_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        _fail(f"--config={str(path)!r}: expected an existing .toml or .json file")
    try:
        if path.suffix == ".json":
            return json.loads(path.read_text())
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        _fail(f"--config={str(path)!r}: expected valid TOML/JSON ({exc})")
    return {}


def _default_out(name: str) -> Path:
    return Path("runs") / f"{name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def _run(name: str, config: Optional[Path], sets: list[str], out: Optional[Path], quick: bool,
         seed: Optional[int], quiet: bool, force: bool) -> None:
    from neurodyn.runner import ConfigError, merge, parse_overrides, run_experiment

    set_quiet(quiet)
    try:
        given = _read_config_file(config) if config else {}
        given = merge(given, parse_overrides(sets))
        out = out or _default_out(name)
        metrics = run_experiment(name, out, config=given, quick=quick, seed=seed, force=force)
    except (ConfigError, FileExistsError, FileNotFoundError, ValueError, TypeError) as exc:
        _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    table = Table(title=f"{name}: metrics", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in metrics.items():
        table.add_row(k, f"{v:.6g}" if isinstance(v, float) else str(v))
    _out.print(table)
    _print_reference(name, metrics)
    _out.print(f"run folder: {out}  (open {out / 'report.html'})")


def _print_reference(name: str, metrics: dict) -> None:
    from neurodyn.runner import compare_with_text
    from neurodyn.report.terminal import reference_table

    rows = compare_with_text(name, metrics)
    if rows:
        _out.print(reference_table(rows, title=f"{name}: compared with the text"))


@app.command("list")
def list_cmd() -> None:
    """List the experiments."""
    from neurodyn.runner import list_experiments

    table = Table(show_header=True)
    table.add_column("experiment")
    table.add_column("what it does")
    for spec in list_experiments():
        table.add_row(spec.name, spec.summary)
    _out.print(table)


@app.command("config")
def config_cmd(name: str = typer.Argument(..., help="experiment name")) -> None:
    """Print an experiment's default config with the meaning of each key (valid TOML: save it, edit it,
    run it with --config; a None default is a commented line)."""
    from neurodyn.runner import ConfigError, config_toml, get_experiment

    try:
        spec = get_experiment(name)
    except ConfigError as exc:
        _fail(str(exc))
    sys.stdout.write(config_toml(spec))


@app.command("run")
def run_cmd(
    name: str = typer.Argument(..., help="experiment name (see `neurodyn list`)"),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML or JSON config file"),
    sets: list[str] = typer.Option([], "--set", help="override a config key: key=value (repeatable)"),
    out: Optional[Path] = typer.Option(None, "--out", help="run folder (default runs/NAME-TIMESTAMP)"),
    quick: bool = typer.Option(False, "--quick", help="small scale (seconds to minutes)"),
    seed: Optional[int] = typer.Option(None, "--seed", help="random seed"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bars"),
    force: bool = typer.Option(False, "--force", help="overwrite an existing run folder"),
) -> None:
    """Run an experiment and write its run folder (config, metrics, arrays, figures, report)."""
    _run(name, config, sets, out, quick, seed, quiet, force)


@app.command("fit")
def fit_cmd(
    model: str = typer.Argument(..., help="model to fit: the experiment MODEL-fit (e.g. lds, ei-subspace, rrr)"),
    data: Path = typer.Option(..., "--data", help="data file (.npz in the documented layout, .mat or .nwb)"),
    sets: list[str] = typer.Option([], "--set", help="override a config key: key=value (repeatable; "
                                   "key=None for None), e.g. align_event=start_time, window_ms=\\[-100,500]"),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML or JSON config file"),
    out: Optional[Path] = typer.Option(None, "--out", help="run folder"),
    seed: Optional[int] = typer.Option(None, "--seed"),
    quick: bool = typer.Option(False, "--quick"),
    quiet: bool = typer.Option(False, "--quiet"),
    force: bool = typer.Option(False, "--force"),
) -> None:
    """Fit a model to your recordings: runs experiment MODEL-fit with data=FILE.

    Window, units, normalisation and the hold/go transition come from the file; they are printed at the start and written to config.json.

    Loading keys, each a --set: align_event, condition_column, window_ms, bin_ms, smooth_ms, units, t_min_ms, t_max_ms, soft_norm, transition_ms (see docs/data_format.md).
    """
    from neurodyn.runner import ConfigError, get_experiment

    name = f"{model}-fit"
    try:
        get_experiment(name)
    except ConfigError:
        from neurodyn.runner import list_experiments

        fits = sorted(s.name[:-4] for s in list_experiments() if s.name.endswith("-fit"))
        _fail(f"model={model!r}: expected one of {', '.join(fits) or '(none yet)'}")
    if not data.is_file():
        _fail(f"--data={str(data)!r}: expected an existing file")
    _run(name, config, [*sets, f"data={json.dumps(str(data))}"], out, quick, seed, quiet, force)


@app.command("demo")
def demo_cmd(
    out: Optional[Path] = typer.Option(None, "--out", help="run folder (default runs/demo-TIMESTAMP)"),
    quick: bool = typer.Option(False, "--quick", help="small scale"),
    seed: Optional[int] = typer.Option(None, "--seed"),
    quiet: bool = typer.Option(False, "--quiet"),
    force: bool = typer.Option(False, "--force"),
) -> None:
    """The main job: the flagship demonstration with its report."""
    _run("demo", None, [], out, quick, seed, quiet, force)


@app.command("sweep")
def sweep_cmd(
    sweep_file: Path = typer.Argument(..., help="sweep file (.toml or .json): experiment, set, grid or points"),
    out: Optional[Path] = typer.Option(None, "--out", help="sweep folder (default sweeps/<file stem>)"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="address of an existing Dask scheduler"),
    workers: int = typer.Option(2, "--workers", min=1, help="local Dask worker processes"),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="rerun points that failed before"),
    quiet: bool = typer.Option(False, "--quiet"),
) -> None:
    """Run a parameter sweep on Dask; rerun the same command to resume after an interruption."""
    from neurodyn.runner import ConfigError
    from neurodyn.runner.sweep import run_sweep

    set_quiet(quiet)
    out = out or Path("sweeps") / sweep_file.stem
    try:
        counts = run_sweep(sweep_file, out, scheduler=scheduler, n_workers=workers, retry_failed=retry_failed,
                           quiet=quiet)
    except (ConfigError, FileNotFoundError, ValueError, TypeError) as exc:
        _fail(str(exc).splitlines()[0])
    except KeyboardInterrupt:
        _err.print(f"interrupted: finished points are kept in {out}; run the same command again to resume")
        raise typer.Exit(130)
    _out.print(f"sweep {out}: {counts['ok']} ok, {counts['error']} failed, {counts['skipped']} already done "
               f"(of {counts['total']}); table: {out / 'results.csv'}")


@app.command("report")
def report_cmd(
    run_dirs: list[Path] = typer.Argument(..., help="run folders: one to show, several to compare side by side"),
    out: Path = typer.Option(Path("comparison.html"), "--out", help="HTML file to write"),
) -> None:
    """Compare run folders side by side: configs (differing keys highlighted), metrics with their
    difference, the texts' values, figures."""
    from neurodyn.report.html import compare_runs

    try:
        path = compare_runs(run_dirs, out)
    except ValueError as exc:
        _fail(str(exc))
    _out.print(f"wrote {path}")


@app.command("reproduce")
def reproduce_cmd(
    experiments: list[str] = typer.Argument(None, help="experiments to run (default: all with text values)"),
    quick: bool = typer.Option(False, "--quick", help="quick scale (minutes) instead of the texts' scale (hours)"),
    out: Optional[Path] = typer.Option(None, "--out", help="folder (default reproduce/quick or reproduce/full)"),
    force: bool = typer.Option(False, "--force", help="rerun finished experiments instead of reusing them"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bars"),
) -> None:
    """Run every experiment with text values and write one report of all claims; rerun to resume."""
    import shlex

    from neurodyn.runner import ConfigError
    from neurodyn.report.reproduce import reproduce

    set_quiet(quiet)
    out = out or Path("reproduce") / ("quick" if quick else "full")

    def started(name: str, reused: bool) -> None:
        _err.print(f"{name}: {'finished run reused' if reused else 'running'}", highlight=False)

    try:
        summary = reproduce(out, quick=quick, experiments=experiments or None, force=force,
                            command=shlex.join(["neurodyn", *sys.argv[1:]]), on_start=started)
    except (ConfigError, ValueError, TypeError) as exc:
        _fail(str(exc).splitlines()[0])
    except KeyboardInterrupt:
        _err.print(f"interrupted: finished runs are kept in {out}; run the same command again to resume")
        raise typer.Exit(130)
    c = summary["counts"]
    table = Table(title="claims of the texts (full wording: the HTML report)", show_header=True)
    table.add_column("experiment", overflow="fold")
    table.add_column("metric", overflow="fold")
    table.add_column("this run", justify="right", no_wrap=True)
    table.add_column("agrees if", overflow="fold")
    table.add_column("source", overflow="fold")
    table.add_column("status", no_wrap=True)
    colour = {"agrees": "green", "disagrees": "red", "not measured": "dim", "run failed": "red"}
    for r in summary["claims"]:
        v = r["this_run"]
        table.add_row(r["experiment"], r["metric"], f"{v:.4g}" if isinstance(v, float) else str(v),
                      r["criterion"], r["source"],
                      f"[{colour[r['status']]}]{r['status']}[/]")
    _out.print(table)
    _out.print(f"{c['agrees']} agree, {c['disagrees']} disagree, {c['not measured']} not measured, "
               f"{c['run failed']} in failed runs; {summary['wall_seconds'] / 60:.1f} min. "
               f"Report: {out / 'report.html'}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        _err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
