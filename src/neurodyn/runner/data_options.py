"""Config keys shared by every fit experiment: how a recording is loaded, windowed and normalised.

Their ``"auto"`` and None defaults are resolved from the data by `neurodyn.data.prepare` (see its
docstring and docs/data_format.md); the resolved values are printed and written to ``config.json``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from neurodyn.runner.config import ExperimentConfig

__all__ = ["DataOptions", "EpochOptions", "HELDOUT_METRICS", "RateOptions"]


class DataOptions(ExperimentConfig):
    """Loading and window keys (every fit)."""

    t_min_ms: float | Literal["auto"] | None = Field(
        "auto", description="first time bin kept (ms; auto: the whole recording, or the bundled data's fit window; "
                            "None: all)")
    t_max_ms: float | Literal["auto"] | None = Field(
        "auto", description="last time bin kept (ms; auto: the whole recording, or the bundled data's fit window; "
                            "None: all)")
    units: Literal["auto", "spikes/s", "normalized", "counts"] = Field(
        "auto", description="units of binned rates (auto: the file's 'units' entry, else inferred from the values)")
    align_event: str | None = Field(
        None, description="NWB trials-table column / .mat trial field the trials are aligned to "
                          "(None: go_cue_time when present, else start_time or the raster start)")
    condition_column: str | None = Field(
        None, description="trials-table column / trial field that labels conditions "
                          "(None: the first of condition, direction, target, reach_direction present)")
    window_ms: list[float] | None = Field(
        None, min_length=2, max_length=2, description="[start, stop] ms around align_event binned from spike "
                                                      "times, or kept from binned data (None: the span every "
                                                      "trial covers / the whole file)")
    bin_ms: float | None = Field(None, gt=0, description="bin width in ms (None: 10 ms for spike times, the "
                                                         "file's bins for binned data)")
    smooth_ms: float | None = Field(None, gt=0, description="SD of Gaussian smoothing in time, ms (None: none)")


class RateOptions(DataOptions):
    """Plus the normalisation (fits to trial-averaged rates)."""

    soft_norm: Annotated[float, Field(ge=0)] | Literal["auto"] | None = Field(
        "auto", description="soft normalisation constant r / (range + c), spikes/s (auto: 5 for rates in "
                            "spikes/s, none for normalised values; None: raw values)")


class EpochOptions(RateOptions):
    """Plus the hold/go input transition (models with epoch inputs)."""

    transition_ms: float | Literal["auto"] | None = Field(
        "auto", description="hold->go input transition time (ms; auto: the file's, the bundled data's, else "
                            "one epoch; None: one epoch)")
    bundled_window_ms: list[float] = Field(
        [-400.0, 400.0], min_length=2, max_length=2,
        description="fit window of the bundled M1 data (ms from movement onset; not used with data)")


# The held-out metrics every fit of a latent model reports (`neurodyn.models.heldout.score_new_conditions`):
# their meaning and unit, declared once for the fit experiments' `describe` blocks.
HELDOUT_METRICS = {
    "heldout_neuron_r2": ("R^2 of held-out neurons predicted from the latents inferred from the other neurons "
                          "(never seen in the fit)", "fraction"),
    "heldout_neuron_r2_baseline": ("R^2 of the same held-out neurons by the baseline predictor", "fraction"),
    "heldout_neuron_r2_minus_baseline": ("heldout_neuron_r2 minus the baseline's: above 0 when the model predicts "
                                         "held-out neurons better", "fraction"),
    "heldout_neuron_r2_minus_baseline_se": ("jackknife standard error over neurons of that difference (a "
                                            "difference within about 2 SE is a tie)", "fraction"),
}
