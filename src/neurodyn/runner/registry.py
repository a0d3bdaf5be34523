"""The registry of named experiments.

An experiment is a function ``fn(config, run) -> dict`` registered with `experiment`, together with a
pydantic config class and a ``quick`` dict of overrides for the small test scale. Each module of the
`neurodyn.experiments` package registers its experiment when imported; `list_experiments` and
`get_experiment` import the package (every module under it) first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from neurodyn.runner.config import ConfigError, ExperimentConfig

if TYPE_CHECKING:
    from neurodyn.runner.run import Run

__all__ = ["ExperimentSpec", "experiment", "get_experiment", "list_experiments"]


@dataclass
class ExperimentSpec:
    """A registered experiment: its name, function, config class, one-line summary and quick overrides."""

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
    """Every registered experiment, sorted by name."""
    _load_all()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def get_experiment(name: str) -> ExperimentSpec:
    """The experiment called ``name`` (a `ConfigError` listing the names if there is none)."""
    _load_all()
    if name not in _REGISTRY:
        raise ConfigError(f"experiment={name!r}: expected one of {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]
