"""Metric declarations and the texts' values (DESIGN.md, layer 5).

Each experiment module ends with one `describe` call: the meaning and unit of each metric and, where
a text reports a value, a `Reference` (the text's value, its section/figure and the tolerance that
counts as agreement). `compare_with_text` evaluates the references on a run's metrics; the rows go to
``metrics.json`` under ``reference``, the run's report and ``neurodyn reproduce``.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

__all__ = ["UNDOCUMENTED", "MetricInfo", "Reference", "compare_with_text", "declared_experiments", "describe",
           "metric_info", "references", "undeclared_metrics"]


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
