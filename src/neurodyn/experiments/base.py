"""Named, config-driven experiments and the run folder each one writes (DESIGN.md, layer 5).

An experiment is a function ``fn(config, run) -> dict`` registered with `experiment`, together with a
pydantic config class (unknown keys, wrong types and out-of-range values are rejected with the key
path) and a ``quick`` dict of overrides for the small test scale. `run_experiment` resolves the
config, times the main computation (compilation included: ``seconds`` in metrics.json) and writes::

    OUT/config.json    resolved config (as given plus defaults), experiment name, quick flag and
                       ``provenance`` (UTC start, command line, versions, git commit, input sha256)
    OUT/metrics.json   named numbers/booleans (lists of numbers allowed), with `seconds`, and under
                       ``reference`` the comparison of the run with the texts' values
    OUT/arrays.npz     arrays the experiment stored
    OUT/*.png          figures
    OUT/report.html    self-contained report (figures embedded)

Every file is written atomically. An existing run folder is never overwritten without ``force``.

Each experiment module ends with one `describe` call: the meaning and unit of each metric and, where
a text reports a value, a `Reference` (the text's value, its section/figure and the tolerance that
counts as agreement). `compare_with_text` evaluates the references on a run's metrics.
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import json
import math
import platform
import re
import shlex
import shutil
import subprocess
import sys
import typing
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from neurodyn.fileio import atomic_write_bytes, atomic_write_json, save_npz_atomic
from neurodyn.progress import progress as _progress

T = TypeVar("T")

__all__ = ["ConfigError", "ExperimentConfig", "MetricInfo", "Reference", "Run", "compare_with_text", "config_toml",
           "describe", "describe_config", "experiment", "get_experiment", "list_experiments", "metric_info",
           "provenance", "resolve_config", "run_experiment", "toml_value"]


class ConfigError(ValueError):
    """A config key, type or value that an experiment does not accept (one-line message)."""


_NONE_WORDS = ("none", "null")


def _allows_none(annotation) -> bool:
    return annotation is None or type(None) in typing.get_args(annotation)


class ExperimentConfig(BaseModel):
    """Base config: every experiment has a ``seed``; unknown keys are errors.

    TOML has no null: for a key that accepts None, the string ``"None"`` (or ``"none"``, ``"null"``) in a
    config file means None, as ``--set key=None`` does on the command line.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    seed: int = Field(0, ge=0, description="random seed (same seed, same result on the same backend)")

    @model_validator(mode="before")
    @classmethod
    def _none_strings(cls, data: Any) -> Any:
        if isinstance(data, dict):
            fields = cls.model_fields
            data = {k: (None if isinstance(v, str) and v.strip().lower() in _NONE_WORDS and k in fields
                        and _allows_none(fields[k].annotation) else v) for k, v in data.items()}
        return data


@dataclass
class ExperimentSpec:
    name: str
    fn: Callable[[Any, "Run"], dict]
    config_cls: type[ExperimentConfig]
    summary: str
    quick: dict[str, Any]


_REGISTRY: dict[str, ExperimentSpec] = {}


def experiment(name: str, config: type[ExperimentConfig], summary: str, quick: dict[str, Any] | None = None):
    """Register ``fn(config, run) -> metrics`` as experiment ``name``."""

    def deco(fn):
        _REGISTRY[name] = ExperimentSpec(name, fn, config, summary, dict(quick or {}))
        return fn

    return deco


def _load_all() -> None:
    import neurodyn.experiments  # noqa: F401  (imports every experiment module)


def list_experiments() -> list[ExperimentSpec]:
    _load_all()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def get_experiment(name: str) -> ExperimentSpec:
    _load_all()
    if name not in _REGISTRY:
        raise ConfigError(f"experiment={name!r}: expected one of {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def _format_validation_error(err: ValidationError, config_cls: type[BaseModel] | None = None) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "config"
        value = e.get("input")
        vtxt = repr(value)
        if len(vtxt) > 60:
            vtxt = vtxt[:57] + "..."
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
            if config_cls is not None and len(e["loc"]) == 1:
                allowed = list(config_cls.model_fields)
                close = difflib.get_close_matches(str(e["loc"][0]), allowed, n=1, cutoff=0.5)
                hint = f"did you mean {close[0]!r}? " if close else ""
                msg = f"unknown key ({hint}allowed: {', '.join(allowed)})"
        parts.append(f"{loc}={vtxt}: {msg}")
    return "; ".join(parts)


def _parse_value(text: str) -> Any:
    """A ``--set`` value: JSON when it parses (``1``, ``[1, 2]``, ``true``), ``None``/``none``/``null`` as
    None, anything else as the string itself."""
    if text.strip().lower() in _NONE_WORDS:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["a=1", "b.c=x"]`` -> nested dict; values parsed as JSON when possible."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value")
        key, _, value = item.partition("=")
        key = key.strip()
        if not key:
            raise ConfigError(f"--set {item!r}: expected a non-empty key")
        node = out
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = _parse_value(value)
    return out


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def resolve_config(spec: ExperimentSpec, given: dict[str, Any] | None = None, quick: bool = False,
                   seed: int | None = None) -> ExperimentConfig:
    """Defaults, then ``quick`` overrides, then ``given`` (file and --set), then ``seed``.

    With ``quick``, a given value that equals the key's default does not undo the quick setting: a file
    printed by ``neurodyn config`` lists every default, and ``--quick`` must still shrink its run.
    """
    data: dict[str, Any] = {}
    given = dict(given or {})
    if quick:
        data = _merge(data, spec.quick)
        fields = spec.config_cls.model_fields
        for k in spec.quick:
            if k in given and k in fields:
                f = fields[k]
                default = f.default if f.default_factory is None else f.default_factory()
                if given[k] == default:
                    del given[k]
    data = _merge(data, given)
    if seed is not None:
        data["seed"] = seed
    try:
        return spec.config_cls(**data)
    except ValidationError as err:
        raise ConfigError(f"{spec.name} config: {_format_validation_error(err, spec.config_cls)}") from None


def describe_config(spec: ExperimentSpec) -> list[tuple[str, Any, str]]:
    """``(key, default, description)`` for every config field."""
    rows = []
    for name, f in spec.config_cls.model_fields.items():
        default = f.default if f.default_factory is None else f.default_factory()
        rows.append((name, default, f.description or ""))
    return rows


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def toml_value(value: Any) -> str:
    """``value`` as a TOML value (inline arrays and tables); None has no TOML form and is refused."""
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)                                     # shortest round-trip form, e.g. 1e-07, 0.5
    if isinstance(value, (str, Path)):
        return json.dumps(str(value))                      # JSON escapes are valid TOML basic strings
    if isinstance(value, dict):
        items = [f"{_toml_key(str(k))} = {toml_value(v)}" for k, v in value.items() if v is not None]
        return "{" + ", ".join(items) + "}"
    if isinstance(value, (list, tuple, np.ndarray)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if value is None:
        raise TypeError("value=None: expected a value TOML can hold (None is written as a commented line)")
    raise TypeError(f"value={value!r}: expected a number, string, boolean, list or table for TOML")


def config_toml(spec: ExperimentSpec) -> str:
    """An experiment's default config as TOML, each key preceded by its meaning as a comment.

    A None default has no TOML form: it is written as a commented line (``# key = "None"``), so the
    file parses and, read back with `resolve_config`, gives the same config (the key keeps its default);
    ``key = "None"`` sets None explicitly (`ExperimentConfig`).
    """
    lines = [f"# {spec.name}: {spec.summary}"]
    if spec.quick:
        lines.append(f"# --quick sets: {', '.join(f'{k} = {toml_value(v)}' for k, v in spec.quick.items())}")
    for key, default, desc in describe_config(spec):
        if desc:
            lines.append(f"# {desc}")
        if default is None:
            lines.append(f'# {_toml_key(key)} = "None"  (the default; uncomment and give a value to set it)')
        else:
            lines.append(f"{_toml_key(key)} = {toml_value(default)}")
    return "\n".join(lines) + "\n"


@dataclass
class Run:
    """Handle an experiment uses to store results in its run folder."""

    out: Path
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    figures: list[tuple[str, str]] = field(default_factory=list)  # (file name, caption)
    notes: list[str] = field(default_factory=list)
    tables: list[tuple[str, list[str], list[list[Any]]]] = field(default_factory=list)

    def progress(self, iterable: Iterable[T], total: int | None = None, description: str = "working") -> Iterator[T]:
        return _progress(iterable, total=total, description=description)

    def save_array(self, name: str, value: Any) -> None:
        self.arrays[name] = np.asarray(value)

    def save_figure(self, fig, name: str, caption: str = "") -> Path:
        """Save a matplotlib figure as ``name.png`` (atomically) and list it in the report."""
        import io

        import matplotlib.pyplot as plt

        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        path = atomic_write_bytes(self.out / f"{name}.png", buf.getvalue())
        self.figures.append((path.name, caption))
        return path

    def note(self, text: str) -> None:
        """A sentence for the report (what the figure shows, how to read a number)."""
        self.notes.append(text)

    def table(self, title: str, header: list[str], rows: list[list[Any]]) -> None:
        self.tables.append((title, header, rows))


def _check_metrics(name: str, metrics: dict) -> dict:
    clean: dict[str, Any] = {}
    for k, v in metrics.items():
        if isinstance(v, (bool, np.bool_)):
            clean[k] = bool(v)
        elif isinstance(v, (int, float, np.integer, np.floating)):
            fv = float(v)
            if math.isnan(fv):
                raise RuntimeError(f"experiment {name}: metric {k!r} is NaN")
            clean[k] = int(v) if isinstance(v, (int, np.integer)) else fv
        elif isinstance(v, (list, tuple, np.ndarray)):
            clean[k] = [float(x) for x in np.asarray(v, dtype=float).ravel()]
        else:
            raise RuntimeError(f"experiment {name}: metric {k!r} has type {type(v).__name__}")
    return clean


def software_versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("neurodyn", "jax", "jaxlib", "numpy", "scipy", "scikit-learn", "matplotlib", "optax"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    try:
        import jax

        out["jax_backend"] = jax.default_backend()
    except Exception:  # pragma: no cover
        pass
    return out


# ---------------------------------------------------------------------------------------------------
# Metric declarations and the texts' values


@dataclass(frozen=True)
class MetricInfo:
    """What a metric means and its unit (``""`` for a pure number, a fraction or a count)."""

    meaning: str
    unit: str = ""


_RELATIONS = ("approx", "below", "above", "at_most", "at_least", "equal", "ratio")


@dataclass(frozen=True)
class Reference:
    """A value a text reports for a metric, where it reports it, and what counts as agreement.

    ``value`` is a number, a boolean, or the name of another metric of the same run (a level the run
    computes itself, e.g. the chance projection ``sqrt(K/N)``). Agreement of this run's value ``x``:

    ========  =====================================
    approx    ``|x - value| <= tol``
    below     ``x < value``
    above     ``x > value``
    at_most   ``x <= value``
    at_least  ``x >= value``
    equal     ``x == value`` (booleans, counts)
    ratio     ``value / tol <= x <= value * tol`` (``tol > 1``)
    ========  =====================================

    ``text`` is the text's statement of the value (as the text words it), ``source`` the text with
    section and figure, ``scale`` the conditions under which the text reports it (a quick run at a
    smaller scale may then disagree for that reason alone).
    """

    metric: str
    value: float | bool | str
    source: str
    text: str
    relation: str = "approx"
    tol: float = 0.0
    scale: str = ""

    def __post_init__(self):
        if self.relation not in _RELATIONS:
            raise ValueError(f"relation={self.relation!r}: expected one of {', '.join(_RELATIONS)}")
        if self.relation == "ratio" and not self.tol > 1:
            raise ValueError(f"tol={self.tol!r}: expected a factor > 1 for relation='ratio'")
        if self.relation == "approx" and not self.tol >= 0:
            raise ValueError(f"tol={self.tol!r}: expected a tolerance >= 0 for relation='approx'")

    def criterion(self, target: Any = None) -> str:
        """The agreement rule in words, with ``target`` (the resolved value) when given."""
        v = self.value if target is None else target
        vt = _fmt_value(v) if not isinstance(v, str) else v
        if self.relation == "approx":
            return f"{vt} ± {_fmt_value(self.tol)}"
        if self.relation == "below":
            return f"< {vt}"
        if self.relation == "above":
            return f"> {vt}"
        if self.relation == "at_most":
            return f"≤ {vt}"
        if self.relation == "at_least":
            return f"≥ {vt}"
        if self.relation == "equal":
            return f"= {vt}"
        return f"{vt} ×/÷ {_fmt_value(self.tol)}"

    def agrees(self, x: Any, target: Any) -> bool | None:
        """Whether ``x`` agrees with ``target``; None when either is missing or not a scalar."""
        if x is None or target is None or isinstance(x, (list, dict)) or isinstance(target, (list, dict)):
            return None
        if self.relation == "equal":
            return bool(x == target)
        x, target = float(x), float(target)
        if self.relation == "approx":
            return bool(abs(x - target) <= self.tol)
        if self.relation == "below":
            return bool(x < target)
        if self.relation == "above":
            return bool(x > target)
        if self.relation == "at_most":
            return bool(x <= target)
        if self.relation == "at_least":
            return bool(x >= target)
        lo, hi = sorted((target / self.tol, target * self.tol))
        return bool(lo <= x <= hi)


def _fmt_value(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt_value(x) for x in v[:8]) + (", ...]" if len(v) > 8 else "]")
    return str(v)


@dataclass
class Description:
    metrics: dict[str, MetricInfo]
    references: list[Reference]


_COMMON_METRICS = {"seconds": MetricInfo("wall time of the experiment's computation, JAX compilation included", "s")}
_DESCRIPTIONS: dict[str, Description] = {}
UNDOCUMENTED = "undocumented"


def describe(name: str, metrics: dict[str, MetricInfo | tuple[str, str] | str],
             references: Iterable[Reference] = ()) -> None:
    """Declare the meaning and unit of experiment ``name``'s metrics and the texts' values for them.

    Keys of ``metrics`` are metric names or `fnmatch` patterns (``final_error_*``) for metrics whose
    names carry a parameter; a value is a `MetricInfo`, a ``(meaning, unit)`` pair or a meaning.
    """
    infos: dict[str, MetricInfo] = {}
    for key, info in metrics.items():
        if isinstance(info, MetricInfo):
            infos[key] = info
        elif isinstance(info, str):
            infos[key] = MetricInfo(info)
        elif isinstance(info, tuple) and len(info) == 2:
            infos[key] = MetricInfo(*info)
        else:
            raise TypeError(f"metrics[{key!r}]={info!r}: expected MetricInfo, (meaning, unit) or a meaning")
    refs = list(references)
    for r in refs:
        if not isinstance(r, Reference):
            raise TypeError(f"references: {r!r}: expected a Reference")
    _DESCRIPTIONS[name] = Description(infos, refs)


def declared_experiments() -> list[str]:
    """Names given to `describe` (each should be a registered experiment; the tests check it)."""
    return sorted(_DESCRIPTIONS)


def _description(name: str) -> Description:
    return _DESCRIPTIONS.get(name, Description({}, []))


def metric_info(name: str, metric: str) -> MetricInfo | None:
    """The declared `MetricInfo` of ``metric`` in experiment ``name`` (exact name first, then patterns)."""
    infos = {**_COMMON_METRICS, **_description(name).metrics}
    if metric in infos:
        return infos[metric]
    matches = [key for key in infos if any(c in key for c in "*?[") and fnmatch.fnmatchcase(metric, key)]
    if not matches:
        return None
    # the most specific pattern wins: most literal characters (``a_max_*`` before ``a_*``)
    return infos[max(matches, key=lambda k: len(k) - sum(k.count(c) for c in "*?"))]


def undeclared_metrics(name: str, metrics: Iterable[str]) -> list[str]:
    """Metrics of a run that experiment ``name`` does not declare."""
    return [m for m in metrics if m != "reference" and metric_info(name, m) is None]


def references(name: str) -> list[Reference]:
    """The texts' values declared for experiment ``name``."""
    return list(_description(name).references)


def compare_with_text(name: str, metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per declared reference: metric, meaning, unit, this run, the text's value, source, agrees.

    ``agrees`` is True/False, or None when the run lacks the metric (``this_run`` is then None).
    """
    rows = []
    for ref in references(name):
        info = metric_info(name, ref.metric) or MetricInfo(UNDOCUMENTED)
        x = metrics.get(ref.metric)
        target = metrics.get(ref.value) if isinstance(ref.value, str) else ref.value
        shown = ref.text if not isinstance(ref.value, str) or target is None else (
            f"{ref.text} (= {_fmt_value(target)} in this run)")
        rows.append({"metric": ref.metric, "meaning": info.meaning, "unit": info.unit, "this_run": x,
                     "text_value": shown, "criterion": ref.criterion(target), "source": ref.source,
                     "scale": ref.scale, "agrees": ref.agrees(x, target)})
    return rows


# ---------------------------------------------------------------------------------------------------
# Provenance


def _git_commit(path: Path) -> str | None:
    """The commit of the git work tree holding ``path`` (``+dirty`` if it has changes), or None."""
    try:
        head = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None  # git absent or hanging: no commit to report
    commit = head.stdout.strip()
    return commit + ("+dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _input_files(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """``{dotted key: path}`` for every string config value that names an existing file."""
    out: dict[str, str] = {}
    for k, v in config.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_input_files(v, key + "."))
        elif isinstance(v, (list, tuple)):
            for i, item in enumerate(v):
                if isinstance(item, str) and item and Path(item).is_file():
                    out[f"{key}[{i}]"] = item
        elif isinstance(v, str) and v and ("/" in v or "." in v) and Path(v).is_file():
            out[key] = v
    return out


def _command_line() -> str:
    """This process's command line; ``python -m neurodyn`` written as such."""
    argv = list(sys.argv)
    if argv and Path(argv[0]).name == "__main__.py" and Path(argv[0]).parent.name == "neurodyn":
        argv = [sys.executable, "-m", "neurodyn", *argv[1:]]
    return shlex.join(argv)


def provenance(config: dict[str, Any], command: str | None = None) -> dict[str, Any]:
    """When, how and on what a run was made.

    ``started_utc`` (ISO 8601), ``command`` (the exact command line, ``sys.argv`` unless given),
    ``neurodyn_version``, ``git_commit`` (None where git or a work tree is absent), ``host`` and
    ``inputs``: ``{config key: {"path", "sha256", "bytes"}}`` for each config value naming a file.
    """
    import neurodyn

    inputs = {}
    for key, path in _input_files(config).items():
        p = Path(path)
        inputs[key] = {"path": str(p.resolve()), "sha256": sha256_file(p), "bytes": p.stat().st_size}
    return {"started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": command if command is not None else _command_line(),
            "neurodyn_version": getattr(neurodyn, "__version__", None),
            "git_commit": _git_commit(Path(neurodyn.__file__).resolve().parent),
            "host": platform.node(), "inputs": inputs}


def run_experiment(name: str, out: str | Path, *, config: dict[str, Any] | None = None, quick: bool = False,
                   seed: int | None = None, force: bool = False, command: str | None = None) -> dict[str, Any]:
    """Run experiment ``name`` into folder ``out`` and return its metrics.

    ``command`` is recorded in the provenance (default: this process's command line).
    """
    import matplotlib

    matplotlib.use("Agg")
    spec = get_experiment(name)
    cfg = resolve_config(spec, config, quick=quick, seed=seed)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not force:
            raise FileExistsError(f"out={str(out)!r}: folder exists and is not empty (use --force to overwrite)")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    run = Run(out=out)
    resolved = {"experiment": name, "quick": quick, **cfg.model_dump()}
    resolved["provenance"] = provenance(resolved, command)
    atomic_write_json(out / "config.json", resolved)
    t0 = time.perf_counter()
    try:
        metrics = spec.fn(cfg, run)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)  # a failed run leaves no half-written run folder behind
        raise
    seconds = time.perf_counter() - t0
    metrics = _check_metrics(name, {**metrics, "seconds": seconds})
    comparison = compare_with_text(name, metrics)
    atomic_write_json(out / "metrics.json", {**metrics, "reference": comparison})
    save_npz_atomic(out / "arrays.npz", **run.arrays)
    from neurodyn.report.html import write_run_report

    info = {k: metric_info(name, k) or MetricInfo(UNDOCUMENTED) for k in metrics}
    write_run_report(out, title=f"neurodyn: {name}", summary=spec.summary, metrics=metrics, config=resolved,
                     figures=run.figures, notes=run.notes, tables=run.tables, versions=software_versions(),
                     metric_info={k: (v.meaning, v.unit) for k, v in info.items()}, reference=comparison)
    return metrics
