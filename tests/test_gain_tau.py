"""Gain and time constant reshape the spectrum and the SOC rates (thesis, seed 003, §2.4-2.5)."""

import numpy as np
import pytest

from neurodyn.connectivity import random_ei
from neurodyn.runner import run_experiment
from neurodyn.experiments.thesis.gain_tau_spectrum import dominant_frequency


def test_dominant_frequency_of_damped_cosines():
    # analytic: the periodogram of exp(-t/T) cos(2 pi f t) peaks at sqrt(f^2 - 1/(2 pi T)^2) ~ f for
    # T >> 1/f; with f = 3 Hz and 7.5 Hz, T = 1 s the shift is < 0.01 Hz.
    dt = 1.0
    t = np.arange(0, 8000.0, dt) / 1000.0
    x = np.stack([np.exp(-t) * np.cos(2 * np.pi * 3.0 * t), np.exp(-t) * np.sin(2 * np.pi * 7.5 * t)], axis=1)
    f = dominant_frequency(x, dt)
    assert f == pytest.approx([3.0, 7.5], abs=0.02)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gain_tau") / "run"
    return run_experiment("gain-tau-spectrum", out, quick=True), out


def test_linear_spectrum_ratios_are_the_eigenvalue_map(quick_run):
    m, out = quick_run
    # eigenvalues of (gW - I)/tau are (g lambda - 1)/tau (Appendix A, Lemma 1): halving tau or doubling
    # g doubles the imaginary parts; g = 2, tau = 400 ms keeps them
    assert m["spec_imag_ratio_half_tau"] == pytest.approx(2.0, rel=1e-12)
    assert m["spec_imag_ratio_double_gain"] == pytest.approx(2.0, rel=1e-12)
    assert m["spec_imag_ratio_joint"] == pytest.approx(1.0, rel=1e-12)
    # abscissas from an independent eigenvalue computation of the same §2.2 matrix (N=50, p=0.1, rho=0.2)
    alpha = np.max(np.linalg.eigvals(random_ei(50, 0.1, 0.2, 1.0, seed=0).W).real)
    for key, g, tau in (("baseline", 1, 200), ("half_tau", 1, 100), ("double_gain", 2, 200), ("joint", 2, 400)):
        assert m[f"spec_abscissa_{key}_per_s"] == pytest.approx(1000 * (g * alpha - 1) / tau, rel=1e-10)
    # the stored spectrum equals the eigenvalues of the assembled matrix (2W - I)/400 computed directly
    z = np.load(out / "arrays.npz")
    direct = np.linalg.eigvals((2 * random_ei(50, 0.1, 0.2, 1.0, seed=0).W - np.eye(50)) / 400)
    assert np.allclose(np.sort_complex(z["spectrum_joint"]), np.sort_complex(direct), atol=1e-12)


def test_nonlinear_soc_frequency_and_amplitude(quick_run):
    m, _ = quick_run
    for key in ("freq_ratio_half_tau", "freq_ratio_double_gain", "amp_ratio_double_gain", "freq_ratio_joint",
                "amp_ratio_joint"):
        assert key in m
    # tau only rescales time in eq. (2.1), for any gain function: x(t; tau/2) = x(2t; tau), so the
    # frequency doubles and the amplitude is unchanged (up to the periodogram's resolution)
    assert m["freq_ratio_half_tau"] == pytest.approx(2.0, rel=0.03)
    assert m["amp_ratio_half_tau"] == pytest.approx(1.0, rel=1e-3)
    # thesis §2.5: doubling g raises amplitude (alpha((gW - I)/tau) closer to 0) and frequency;
    # with tau/g fixed the frequency stays about the same while the amplitude grows
    assert m["amp_ratio_double_gain"] > 1.0 and m["freq_ratio_double_gain"] > 1.2
    assert m["freq_ratio_joint"] == pytest.approx(1.0, abs=0.3)
    assert m["amp_ratio_joint"] > 1.0
    assert m["final_decay_baseline"] < 0.05  # the transient has died out within the window
