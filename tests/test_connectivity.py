import numpy as np
import pytest

from neurodyn.analysis import eigenvalues, spectral_abscissa
from neurodyn.connectivity import gaussian, low_rank, random_ei, random_ei_w0


def test_random_ei_entries_follow_eq_1_15():
    n, p, rho, gamma = 400, 0.2, 2.0, 3.0
    net = random_ei(n, p, rho, gamma, seed=3)
    W = net.W
    w0 = random_ei_w0(p, rho, gamma)
    # w0^2 = 2 rho^2 / (p (1-p) (1 + gamma^2)) (thesis §2.2)
    assert w0**2 == pytest.approx(2 * rho**2 / (p * (1 - p) * (1 + gamma**2)))
    E, I = W[:, : n // 2], W[:, n // 2:]
    assert set(np.unique(E)) <= {0.0, w0 / np.sqrt(n)}
    assert set(np.unique(I)) <= {0.0, -gamma * w0 / np.sqrt(n)}
    assert np.all(np.diag(W) == 0)
    density = np.count_nonzero(W) / (n * n - n)
    assert density == pytest.approx(p, abs=0.01)  # binomial sd ~ 0.001
    assert net.dale and net.n_excitatory == n // 2


def test_random_ei_spectral_radius_close_to_rho():
    # gamma = 1: zero-mean entries, the circular law gives a bulk of radius rho (thesis §2.2)
    # (uniform disc): 99% of |lambda| lie inside rho and the rms modulus is rho / sqrt(2). A few edge
    # eigenvalues lie slightly outside at finite N (the rank-one mean mode is nilpotent but non-normal).
    n, rho = 1000, 1.5
    mod = np.abs(eigenvalues(random_ei(n, 0.1, rho, 1.0, seed=1).W))
    assert np.quantile(mod, 0.99) == pytest.approx(rho, rel=0.05)
    assert np.sqrt(np.mean(mod**2)) == pytest.approx(rho / np.sqrt(2), rel=0.03)
    assert np.max(mod) < 1.25 * rho


def test_random_ei_same_seed_same_matrix_and_errors():
    np.testing.assert_array_equal(random_ei(50, seed=4).W, random_ei(50, seed=4).W)
    with pytest.raises(ValueError, match="n=51: expected an even number"):
        random_ei(51)
    with pytest.raises(ValueError, match=r"p=1.5: expected a number in \(0.0, 1.0\]"):
        random_ei(50, p=1.5)
    with pytest.raises(ValueError, match="gamma=0"):
        random_ei(50, gamma=0)


def test_gaussian_radius_and_low_rank_eigenvalue():
    eig = eigenvalues(gaussian(800, g=0.7, seed=2).W)
    assert np.max(np.abs(eig)) == pytest.approx(0.7, rel=0.1)
    rng = np.random.default_rng(0)
    m, nv = rng.normal(size=300), rng.normal(size=300)
    W = low_rank(m, nv).W
    # the only nonzero eigenvalue of m n^T / N is n.m / N
    assert spectral_abscissa(W) == pytest.approx(max(nv @ m / 300, 0.0), abs=1e-10)
    assert np.linalg.matrix_rank(W) == 1
    with pytest.raises(ValueError, match="n_vectors="):
        low_rank(np.ones(3), np.ones(4))
