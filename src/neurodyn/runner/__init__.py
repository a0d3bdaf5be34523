"""Layer 5 (run): the experiment runner.

Configs (`ExperimentConfig`, overrides, resolution), the registry of named experiments, the metric
declarations and the texts' values (`describe`, `Reference`), provenance, the run folder
(`run_experiment`) and sweeps on Dask (`run_sweep`). The experiments themselves live in
`neurodyn.experiments`, which registers them on import.
"""

from neurodyn.runner.config import (ConfigError, ExperimentConfig, describe_config, parse_overrides,
                                    resolve_config)
from neurodyn.runner.config_toml import config_toml, toml_value
from neurodyn.runner.configs import SOCGroupsConfig
from neurodyn.runner.data_options import DataOptions, EpochOptions, RateOptions
from neurodyn.runner.dicts import flatten, merge, nest
from neurodyn.runner.provenance import provenance
from neurodyn.runner.references import (MetricInfo, Reference, compare_with_text, declared_experiments, describe,
                                        metric_info, references, undeclared_metrics)
from neurodyn.runner.registry import ExperimentSpec, experiment, get_experiment, list_experiments
from neurodyn.runner.run import Run, run_experiment
from neurodyn.runner.sweep import load_sweep, run_sweep

__all__ = ["ConfigError", "DataOptions", "EpochOptions", "ExperimentConfig", "ExperimentSpec", "MetricInfo",
           "RateOptions", "Reference", "Run", "SOCGroupsConfig", "compare_with_text", "config_toml",
           "declared_experiments", "describe", "describe_config", "experiment", "flatten", "get_experiment",
           "list_experiments", "load_sweep", "merge", "metric_info", "nest", "parse_overrides", "provenance",
           "references", "resolve_config", "run_experiment", "run_sweep", "toml_value", "undeclared_metrics"]
