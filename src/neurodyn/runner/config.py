"""Experiment configs: the pydantic base class, ``--set`` overrides and their resolution.

A config class rejects unknown keys, wrong types and out-of-range values with the key path; a run's
config is the defaults, then the experiment's ``quick`` overrides, then the given values (file and
``--set``), then the seed (`resolve_config`).
"""

from __future__ import annotations

import difflib
import json
import typing
from typing import TYPE_CHECKING, Any, Iterable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from neurodyn.runner.dicts import merge, nest

if TYPE_CHECKING:
    from neurodyn.runner.registry import ExperimentSpec

__all__ = ["ConfigError", "ExperimentConfig", "describe_config", "format_validation_error", "parse_overrides",
           "parse_value", "resolve_config"]


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


def format_validation_error(err: ValidationError, config_cls: type[BaseModel] | None = None) -> str:
    """One line per pydantic error, ``key=value: message``, joined by ``;`` (unknown keys get the allowed
    keys and the closest match)."""
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


def parse_value(text: str) -> Any:
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
    flat: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value")
        key, _, value = item.partition("=")
        key = key.strip()
        if not key:
            raise ConfigError(f"--set {item!r}: expected a non-empty key")
        flat[key] = parse_value(value)
    return nest(flat)


def resolve_config(spec: "ExperimentSpec", given: dict[str, Any] | None = None, quick: bool = False,
                   seed: int | None = None) -> ExperimentConfig:
    """Defaults, then ``quick`` overrides, then ``given`` (file and --set), then ``seed``.

    With ``quick``, a given value that equals the key's default does not undo the quick setting: a file
    printed by ``neurodyn config`` lists every default, and ``--quick`` must still shrink its run.
    """
    data: dict[str, Any] = {}
    given = dict(given or {})
    if quick:
        data = merge(data, spec.quick)
        fields = spec.config_cls.model_fields
        for k in spec.quick:
            if k in given and k in fields:
                f = fields[k]
                default = f.default if f.default_factory is None else f.default_factory()
                if given[k] == default:
                    del given[k]
    data = merge(data, given)
    if seed is not None:
        data["seed"] = seed
    try:
        return spec.config_cls(**data)
    except ValidationError as err:
        raise ConfigError(f"{spec.name} config: {format_validation_error(err, spec.config_cls)}") from None


def describe_config(spec: "ExperimentSpec") -> list[tuple[str, Any, str]]:
    """``(key, default, description)`` for every config field."""
    rows = []
    for name, f in spec.config_cls.model_fields.items():
        default = f.default if f.default_factory is None else f.default_factory()
        rows.append((name, default, f.description or ""))
    return rows
