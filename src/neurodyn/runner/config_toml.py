"""An experiment's config written as a commented TOML file (``neurodyn config NAME``).

Read back with `neurodyn.runner.config.resolve_config`, the file gives the same config as the defaults.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel

from neurodyn.runner.config import describe_config

if TYPE_CHECKING:
    from neurodyn.runner.registry import ExperimentSpec

__all__ = ["config_toml", "toml_key", "toml_value"]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_key(key: str) -> str:
    """``key`` as a TOML key: bare when it may be, else quoted."""
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
        items = [f"{toml_key(str(k))} = {toml_value(v)}" for k, v in value.items() if v is not None]
        return "{" + ", ".join(items) + "}"
    if isinstance(value, (list, tuple, np.ndarray)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if value is None:
        raise TypeError("value=None: expected a value TOML can hold (None is written as a commented line)")
    raise TypeError(f"value={value!r}: expected a number, string, boolean, list or table for TOML")


def config_toml(spec: "ExperimentSpec") -> str:
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
            lines.append(f'# {toml_key(key)} = "None"  (the default; uncomment and give a value to set it)')
        else:
            lines.append(f"{toml_key(key)} = {toml_value(default)}")
    return "\n".join(lines) + "\n"
