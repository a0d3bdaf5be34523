"""From raw stimulation recordings to rates: ERAASR2 artifact removal (seed 001 Methods §3.2),
simulated Neuropixels ICMS recordings, spike detection and scoring (§3.5-§3.6), artifact-source
localisation (§3.3) and firing-rate gain correction (§3.7)."""

from neurodyn.preprocess.artifact_subspace import artifact_subspace, complete_window, trace_ratio
from neurodyn.preprocess.common_average import common_average_reference
from neurodyn.preprocess.eraasr import EraasrResult, eraasr2, eraasr2_trial
from neurodyn.preprocess.eraasr_recording import eraasr_recording
from neurodyn.preprocess.saturation import possibly_saturated, saturation_limits
from neurodyn.preprocess.synthetic import (StimRecording, neuropixels_3a_probe, pulse_train_samples,
                                           simulate_stim_recording)

__all__ = ["EraasrResult", "artifact_subspace", "common_average_reference", "complete_window", "eraasr2",
           "eraasr2_trial", "eraasr_recording", "possibly_saturated", "saturation_limits", "trace_ratio",
           "StimRecording", "neuropixels_3a_probe", "pulse_train_samples", "simulate_stim_recording"]
