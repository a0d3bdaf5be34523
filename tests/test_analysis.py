import numpy as np
import pytest
import scipy.linalg as sla
from scipy.integrate import simpson

from neurodyn import Network
from neurodyn.analysis import (
    controllability_gramian,
    critical_gain,
    dale_svd_modes,
    equal_energy_initial_conditions,
    evoked_energy,
    henrici,
    max_transient_gain,
    observability_gramian,
    ordered_schur,
    preferred_initial_conditions,
    sigma1_scaling_exponent,
    spectral_abscissa,
)
from neurodyn.connectivity import random_ei
from neurodyn.dynamics import Linear, simulate


@pytest.fixture(scope="module")
def W():
    return random_ei(40, 0.2, 0.7, 1.0, seed=2).W


def test_spectral_abscissa_and_critical_gain():
    W = np.array([[0.5, 3.0], [0.0, -1.0]])
    assert spectral_abscissa(W) == pytest.approx(0.5)
    assert critical_gain(W) == pytest.approx(2.0)
    assert critical_gain(-np.eye(3)) == np.inf


def test_gramians_match_kronecker_solution(W):
    # independent route: vec(A^T Q + Q A) = (I kron A^T + A^T kron I) vec(Q) = -2 vec(I)
    n = W.shape[0]
    A = 0.9 * W - np.eye(n)
    K = np.kron(np.eye(n), A.T) + np.kron(A.T, np.eye(n))
    Qk = np.linalg.solve(K, -2 * np.eye(n).ravel(order="F")).reshape(n, n, order="F")
    np.testing.assert_allclose(observability_gramian(W, gain=0.9), Qk, atol=1e-9)
    K2 = np.kron(np.eye(n), A) + np.kron(A, np.eye(n))
    Pk = np.linalg.solve(K2, -2 * np.eye(n).ravel(order="F")).reshape(n, n, order="F")
    np.testing.assert_allclose(controllability_gramian(W, gain=0.9), Pk, atol=1e-9)
    # unconnected network: Q = I, every unit initial condition evokes energy 1 (thesis eq. 1.17)
    np.testing.assert_allclose(observability_gramian(np.zeros((5, 5))), np.eye(5), atol=1e-12)


def test_evoked_energy_equals_integral_of_simulation(W):
    # eps(x0) = 2/tau int ||x(t)||^2 dt (eq. C.20) by RK4 + trapezoid against x0^T Q x0 (eq. C.21)
    tau = 100.0
    net = Network(W=W, tau=tau)
    x0 = np.random.default_rng(0).normal(size=(3, W.shape[0]))
    t = np.arange(0.0, 6000.0 + 1e-9, 1.0)
    x = np.asarray(simulate(net, x0, t, dt=0.5, gain_fn=Linear()))
    integral = 2.0 / tau * simpson(np.sum(x**2, axis=-1), x=t, axis=-1)
    np.testing.assert_allclose(evoked_energy(observability_gramian(W), x0), integral, rtol=1e-7)


def test_preferred_initial_conditions(W):
    lam, V = preferred_initial_conditions(W)
    Q = observability_gramian(W)
    assert np.all(np.diff(lam) <= 1e-12)
    np.testing.assert_allclose(V.T @ V, np.eye(W.shape[0]), atol=1e-10)
    np.testing.assert_allclose(evoked_energy(Q, V.T[:3]), lam[:3], rtol=1e-10)
    rnd = np.random.default_rng(1).normal(size=(2000, W.shape[0]))
    rnd /= np.linalg.norm(rnd, axis=1, keepdims=True)
    assert evoked_energy(Q, rnd).max() <= lam[0] + 1e-9


def test_equal_energy_initial_conditions(W):
    lam, _ = preferred_initial_conditions(W)
    for m in (1, 3, 7):
        X, e = equal_energy_initial_conditions(W, m, seed=m)
        np.testing.assert_allclose(X.T @ X, np.eye(m), atol=1e-10)
        np.testing.assert_allclose(evoked_energy(observability_gramian(W), X.T), e, rtol=1e-9)
        assert e == pytest.approx(lam[:m].mean())


def test_gramian_unstable_raises():
    with pytest.raises(ValueError, match="to be stable"):
        observability_gramian(np.diag([2.0, 0.0]))


def test_henrici_known_values():
    assert henrici(np.diag([1.0, -2.0, 3.0])) == pytest.approx(0.0, abs=1e-7)
    R = np.array([[0.0, -1.0], [1.0, 0.0]])  # normal (rotation), complex eigenvalues
    assert henrici(R) == pytest.approx(0.0, abs=1e-7)
    a = 3.0
    # [[1, a], [0, 1]]: ||A||_F^2 = 2 + a^2, sum |lambda|^2 = 2
    assert henrici(np.array([[1.0, a], [0.0, 1.0]])) == pytest.approx(np.sqrt(a**2 / (2 + a**2)), rel=1e-6)
    assert henrici(np.eye(6, k=-1)) == pytest.approx(1.0)  # nilpotent chain
    S = np.random.default_rng(0).normal(size=(30, 30))
    assert henrici(S + S.T) == pytest.approx(0.0, abs=1e-6)


def test_max_transient_gain_two_by_two():
    # A = [[-1, a], [0, -1]]: exp(At) = e^{-t} [[1, a t], [0, 1]], norm peaks above 1 for large a
    a = 10.0
    A = np.array([[-1.0, a], [0.0, -1.0]])
    t = np.linspace(0, 5, 20001)
    brute = max(np.linalg.norm(sla.expm(A * tk), 2) for tk in t[::50])
    g, tmax = max_transient_gain(A, 5.0, n_times=401)
    assert g == pytest.approx(brute, rel=1e-3) and g > 3.0


def test_ordered_schur(W):
    S = ordered_schur(W)
    np.testing.assert_allclose(S.Q @ S.T @ S.Q.T, W, atol=1e-12)
    np.testing.assert_allclose(S.Q.T @ S.Q, np.eye(W.shape[0]), atol=1e-12)
    assert np.all(np.triu(S.T, 2) == 0)
    # superdiagonal only inside 2x2 blocks
    for i in range(W.shape[0] - 1):
        if S.T[i, i + 1] != 0:
            assert i in S.block_starts and S.T[i + 1, i] != 0
    np.testing.assert_allclose(np.sort_complex(S.eigenvalues), np.sort_complex(np.linalg.eigvals(W)), atol=1e-10)
    assert np.all(np.diff(S.scores) >= 0)
    # default order: decreasing real part
    assert S.eigenvalues[0].real == pytest.approx(spectral_abscissa(W))
    # custom order: increasing modulus
    S2 = ordered_schur(W, score=lambda lam: abs(lam))
    mods = np.abs(S2.eigenvalues)
    assert np.all(np.diff(mods) >= -1e-10)
    # feedforward input: row norms of the strictly-lower block part
    i = S.block_starts[3]
    assert S.feedforward_input[i] == pytest.approx(np.linalg.norm(S.T[i, :i]))


def test_dale_svd_modes_and_scaling():
    sizes = [100, 200, 400, 800]
    s1 = []
    for n in sizes:
        net = random_ei(n, 0.5, 5.0, 3.0, seed=n)
        d = dale_svd_modes(net)
        assert d.u1_coactivation and d.v1_differential
        np.testing.assert_allclose(np.linalg.norm(net.W.T @ d.u1), d.sigma1, rtol=1e-10)
        s1.append(d.sigma1)
    # seed 001 §14: sigma_1 = O(sqrt(N)) when entries scale as 1/sqrt(N). The mean (Dale) part has
    # sigma = p w0 sqrt(N (1 + gamma^2) / 2), the random bulk O(rho); their ratio is sqrt(pN/(1-p))/2,
    # so p = 0.5 puts these sizes in the asymptotic regime (at p = 0.1 the slope is still ~0.45).
    assert sigma1_scaling_exponent(sizes, s1) == pytest.approx(0.5, abs=0.03)
    # a matrix without Dale's law has no such structure
    g = np.random.default_rng(0).normal(size=(200, 200)) / np.sqrt(200)
    d = dale_svd_modes(g, is_excitatory=np.arange(200) < 100)
    assert not d.u1_coactivation


def test_r2_difference_and_its_jackknife_match_brute_force():
    """The paired difference equals the two r2_score values' difference, and its SE the jackknife
    computed by recomputing both scores with each neuron left out (a second, direct route)."""
    from neurodyn.analysis.metrics import r2_difference, r2_score

    rng = np.random.default_rng(5)
    Y = rng.standard_normal((3, 20, 9)) * np.linspace(0.5, 2.0, 9)
    A = Y + 0.4 * rng.standard_normal(Y.shape)
    B = Y + 0.6 * rng.standard_normal(Y.shape)
    d, se = r2_difference(Y, A, B)
    assert np.isclose(d, r2_score(Y, A) - r2_score(Y, B), rtol=1e-12)
    loo = np.array([r2_score(np.delete(Y, i, -1), np.delete(A, i, -1)) - r2_score(np.delete(Y, i, -1), np.delete(B, i, -1))
                    for i in range(9)])
    assert np.isclose(se, np.sqrt(8 / 9 * np.sum((loo - loo.mean()) ** 2)), rtol=1e-10)
    assert d > 0 and se > 0
