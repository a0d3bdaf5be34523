"""Layer 5 (run): named, config-driven experiments.

Importing this package imports every module in it, so each module registers its experiments with
`neurodyn.experiments.base.experiment`; adding an experiment means adding a module, nothing else.
"""

import importlib as _importlib
import pkgutil as _pkgutil

from neurodyn.experiments.base import (
    ConfigError,
    ExperimentConfig,
    Run,
    experiment,
    get_experiment,
    list_experiments,
    run_experiment,
)

for _mod in _pkgutil.iter_modules(__path__):
    if not _mod.name.startswith("_") and _mod.name not in ("base", "sweep"):
        _importlib.import_module(f"{__name__}.{_mod.name}")

__all__ = ["ConfigError", "ExperimentConfig", "Run", "experiment", "get_experiment", "list_experiments",
           "run_experiment"]
