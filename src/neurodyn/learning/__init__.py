"""Layer 4 (learn): movements through neuronal gain modulation (thesis, seed 003, chapters 2.6 and 3).

EMG-like Gaussian-process targets (`targets`), readouts fit on noisy trials (`readout`), the error
1 - R^2 (`error`), the gain-learning task (`task`, simulated by `neurodyn.dynamics.integrate`), the one
reward-rule driver of eqs. (3.5)-(3.9) (`reward_rule`) over three gain parametrisations
(`gain_parameters`: per neuron in `node_perturbation`, per group in `groups`, per coefficient in
`primitives`), back-propagation training (`backprop`), movement libraries (`library`), speed and shape
control (`speed`), the thesis' circuits (`movement`) and a user's own network file (`network_file`).
Arrays put time before units: ``(..., time, neurons)`` and ``(..., time, readouts)``.
"""

from neurodyn.learning.backprop import BackpropResult, train_backprop
from neurodyn.learning.error import output_error, r2_error
from neurodyn.learning.movement import chaotic_dynamics, preferred_x0, rate_amplitude, soc_dynamics
from neurodyn.learning.network_file import UserGainNetwork, load_gain_network
from neurodyn.learning.node_perturbation import LearningResult, learn_gains
from neurodyn.learning.reward_rule import NodePerturbation, RewardRuleResult, perturbation_noise, run_reward_rule
from neurodyn.learning.gain_parameters import CoefficientGains, GroupGains, NeuronGains
from neurodyn.learning.primitives import (CombinationResult, combination_errors, learn_combination,
                                          pair_correlations, primitive_bases)
from neurodyn.learning.readout import fit_readout, fit_readout_on_trials, noisy_initial_conditions, snr_noise_sd
from neurodyn.learning.targets import emg_kernel, emg_targets, sample_times, scale_targets, slow_fast_targets
from neurodyn.learning.task import GainTask, RampInput, Readout, TrialDynamics, check_stability, readout_output

__all__ = [
    "BackpropResult", "GainTask", "LearningResult", "NodePerturbation", "RampInput", "Readout", "TrialDynamics",
    "UserGainNetwork", "chaotic_dynamics", "check_stability", "emg_kernel", "emg_targets", "fit_readout",
    "fit_readout_on_trials", "learn_gains", "load_gain_network", "noisy_initial_conditions", "output_error",
    "perturbation_noise", "preferred_x0", "r2_error", "rate_amplitude", "readout_output", "sample_times",
    "scale_targets", "slow_fast_targets", "snr_noise_sd", "soc_dynamics", "train_backprop",
    "CombinationResult", "combination_errors", "learn_combination", "pair_correlations", "primitive_bases",
    "CoefficientGains", "GroupGains", "NeuronGains", "RewardRuleResult", "run_reward_rule",
]
