"""Layer 5 (run): named, config-driven experiments, grouped by the text they reproduce.

``thesis`` (seed 003), ``seed001`` and ``seed000`` reproduce the texts' results, ``fits`` fits the models
to a user's recording, and ``demo`` is the tour of the package. Each module holds one experiment, named
after it, and registers it with `neurodyn.runner.experiment` when imported. Importing this package
imports every module under it, so adding an experiment means adding a module, nothing else. The runner
itself (configs, registry, run folders, sweeps) is `neurodyn.runner`.
"""

import importlib as _importlib
import pkgutil as _pkgutil

from neurodyn.runner import (
    ConfigError,
    ExperimentConfig,
    Run,
    experiment,
    get_experiment,
    list_experiments,
    run_experiment,
)

for _mod in _pkgutil.walk_packages(__path__, prefix=f"{__name__}."):
    _importlib.import_module(_mod.name)

__all__ = ["ConfigError", "ExperimentConfig", "Run", "experiment", "get_experiment", "list_experiments",
           "run_experiment"]
