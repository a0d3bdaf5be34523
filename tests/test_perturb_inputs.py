"""Declarative input perturbations (seed 001 §11 optogenetic, §15 ICMS-like)."""

import numpy as np
import pytest
from scipy.stats import norm

from neurodyn.network import Network, cell_types_ei
from neurodyn.dynamics import Linear, simulate
from neurodyn.perturb import ICMSStimulation, OptogeneticStimulation


def test_opto_vector_targets_excitatory_units_with_expected_statistics():
    e = np.arange(4000) < 2000
    st = OptogeneticStimulation(amplitude=2.0, p_stim=0.75, noise_sd=0.3)
    s = st.vector(e, seed=0)
    assert np.all(s[~e] == 0.0)
    hit = s[e] > 0
    # Bernoulli(0.75) hits among E units (P(1 + 0.3 xi <= 0) = Phi(-1/0.3) ~ 4e-4 is negligible)
    assert abs(hit.mean() - 0.75) < 4 * np.sqrt(0.75 * 0.25 / e.sum())
    # mean amplitude of hit units: gamma E[max(0, 1 + sigma xi)] = gamma (Phi(1/s) + s phi(1/s)) (truncated normal)
    sig = 0.3
    expected = 2.0 * (norm.cdf(1 / sig) + sig * norm.pdf(1 / sig))
    vals = s[e][hit]
    assert abs(vals.mean() - expected) < 4 * vals.std() / np.sqrt(vals.size)
    np.testing.assert_array_equal(st.vector(e, seed=0), s)           # same seed, same vector
    assert not np.array_equal(st.vector(e, seed=1), s)


def test_icms_is_untargeted():
    e = np.arange(2000) < 1000
    s = ICMSStimulation(amplitude=1.0, p_stim=0.5).vector(e, seed=2)
    for part in (s[e], s[~e]):
        assert abs((part > 0).mean() - 0.5) < 4 * np.sqrt(0.25 / part.size)


def test_window_and_input_function_agree_with_simulation():
    st = OptogeneticStimulation(amplitude=1.0, onset_ms=100.0, duration_ms=200.0)
    t = np.arange(0.0, 500.0, 10.0)
    w = st.window(t)
    assert w.sum() == 20 and t[w][0] == 100.0 and t[w][-1] == 290.0
    # an unconnected network (W = 0): tau dx/dt = -x + h, so x(t) = s (1 - exp(-(t - on)/tau)) in the window
    n = 4
    net = Network(np.zeros((n, n)), cell_types=cell_types_ei(2, 2), tau=50.0)
    s = st.vector(net.is_excitatory, seed=3)
    x = np.asarray(simulate(net, np.zeros(n), np.array([200.0, 250.0]), dt=0.5, gain_fn=Linear(),
                            h=st.input_fn(s)))
    # RK4 with dt = 0.5 ms across the window edge: agreement to 1e-3
    np.testing.assert_allclose(x[0], s * (1 - np.exp(-100.0 / 50.0)), rtol=1e-3, atol=1e-8)
    np.testing.assert_allclose(x[1], s * (1 - np.exp(-150.0 / 50.0)), rtol=1e-3, atol=1e-8)
    np.testing.assert_allclose(st.input_array(t, s)[w], np.broadcast_to(s, (20, n)))


def test_validation():
    with pytest.raises(ValueError, match="p_stim"):
        OptogeneticStimulation(p_stim=1.5)
    with pytest.raises(ValueError, match="target"):
        OptogeneticStimulation(target="X")
    with pytest.raises(ValueError, match="amplitude"):
        ICMSStimulation(amplitude=-1.0)
