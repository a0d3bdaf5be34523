import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from neurodyn import Network
from neurodyn.connectivity import random_ei
from neurodyn.dynamics import (
    Linear,
    PositiveTanh,
    Tanh,
    linear_solution,
    piecewise_constant_input,
    positive_rate_input,
    simulate,
)


@pytest.fixture(scope="module")
def net():
    return random_ei(60, 0.2, 0.8, 1.0, seed=5, tau=50.0)


def test_tanh_gain_function_shape():
    f = Tanh(20.0, 100.0)
    x = jnp.linspace(-500, 500, 11)
    y = f(x, 1.5)
    assert float(y.min()) >= -20.0 and float(y.max()) <= 80.0
    np.testing.assert_allclose(f(jnp.array([-1e4, 1e4]), 1.0), [-20.0, 80.0], atol=1e-9)
    # slope at 0 equals the gain on both sides (eq. 3.2)
    for g in (0.5, 1.0, 2.0):
        assert float(jax.grad(lambda z: f(z, g))(1e-12)) == pytest.approx(g, rel=1e-9)
        assert float(jax.grad(lambda z: f(z, g))(-1e-12)) == pytest.approx(g, rel=1e-9)
    with pytest.raises(ValueError, match="rmax=10"):
        Tanh(20.0, 10.0)


def test_rk4_matches_exact_linear_solution(net):
    rng = np.random.default_rng(0)
    x0 = rng.uniform(-1, 1, (4, net.n))
    t = np.arange(0.0, 400.0 + 1e-9, 20.0)
    gains = rng.uniform(0.5, 1.0, net.n)
    exact = linear_solution(net, x0, t, gains=gains)
    exact_eig = linear_solution(net, x0, t, gains=gains, method="eig")
    np.testing.assert_allclose(exact_eig, exact, atol=1e-10)
    rk4 = np.asarray(simulate(net, x0, t, dt=0.5, gain_fn=Linear(), gains=gains))
    assert rk4.shape == (4, t.size, net.n)
    np.testing.assert_allclose(rk4, exact, atol=1e-9 * np.abs(exact).max() + 1e-10)


def test_euler_converges_first_order(net):
    x0 = np.random.default_rng(1).uniform(-1, 1, net.n)
    t = np.array([0.0, 200.0])
    exact = linear_solution(net, x0, t)[-1]
    errs = [np.abs(np.asarray(simulate(net, x0, t, dt=dt, gain_fn=Linear(), method="euler"))[-1] - exact).max()
            for dt in (2.0, 1.0)]
    assert errs[0] / errs[1] == pytest.approx(2.0, rel=0.1)


def test_linear_solution_with_constant_input(net):
    x0 = np.zeros(net.n)
    h = np.random.default_rng(2).normal(size=net.n)
    t = np.linspace(0.0, 300.0, 7)
    a = linear_solution(net, x0, t, h=h)
    b = linear_solution(net, x0, t, h=h, method="eig")
    np.testing.assert_allclose(a, b, atol=1e-10)
    rk = np.asarray(simulate(net, x0, t, dt=0.5, gain_fn=Linear(), h=h))
    np.testing.assert_allclose(rk, a, atol=1e-8)


def test_rk4_matches_solve_ivp_nonlinear(net):
    fn = Tanh(20.0, 100.0)
    x0 = np.random.default_rng(3).uniform(-30, 30, net.n)
    g = np.full(net.n, 1.3)
    t = np.linspace(0.0, 300.0, 16)
    W, tau = net.W, 50.0

    def rhs(_, x):
        f = np.where(x < 0, 20 * np.tanh(g * x / 20), 80 * np.tanh(g * x / 80))
        return (-x + W @ f) / tau

    ref = solve_ivp(rhs, (0, 300), x0, t_eval=t, rtol=1e-11, atol=1e-11, method="DOP853").y.T
    out = np.asarray(simulate(net, x0, t, dt=0.25, gain_fn=fn, gains=g))
    np.testing.assert_allclose(out, ref, atol=1e-7)


def test_positive_gain_function_reproduces_relative_rates(net):
    # eqs. (1.13)-(1.14): with h = -r0 sum_j W_ij the strictly positive f gives the same x,
    # and rates shifted by exactly r0
    fn, pfn = Tanh(20.0, 100.0), PositiveTanh(20.0, 100.0)
    x0 = np.random.default_rng(4).uniform(-10, 10, net.n)
    t = np.arange(0.0, 200.0 + 1e-9, 10.0)
    x_rel = np.asarray(simulate(net, x0, t, gain_fn=fn))
    x_pos = np.asarray(simulate(net, x0, t, gain_fn=pfn, h=positive_rate_input(net.W, 20.0)))
    np.testing.assert_allclose(x_pos, x_rel, atol=1e-10)
    np.testing.assert_allclose(np.asarray(pfn(x_pos, 1.0)), np.asarray(fn(x_rel, 1.0)) + 20.0, atol=1e-10)
    assert float(np.min(np.asarray(pfn(x_pos, 1.0)))) >= 0.0


def test_batch_equals_loop_and_inputs(net):
    rng = np.random.default_rng(6)
    x0 = rng.uniform(-5, 5, (3, net.n))
    gains = rng.uniform(0.5, 1.5, (3, net.n))
    t = np.arange(0.0, 100.0 + 1e-9, 5.0)
    batch = np.asarray(simulate(net, x0, t, gains=gains))
    for k in range(3):
        single = np.asarray(simulate(net, x0[k], t, gains=gains[k]))
        np.testing.assert_allclose(batch[k], single, atol=1e-12)
    # a callable input equal to a constant gives the same trajectory
    h = rng.normal(size=net.n)
    a = np.asarray(simulate(net, x0[0], t, h=h))
    b = np.asarray(simulate(net, x0[0], t, h=lambda tt: jnp.asarray(h) * jnp.ones_like(tt)))
    np.testing.assert_allclose(a, b, atol=1e-12)
    # a piecewise-constant input that is on for [0, 50) only equals a run with h then without
    hp = piecewise_constant_input(h[None, :], [0.0, 50.0])
    c = np.asarray(simulate(net, x0[0], t, h=hp))
    # (the RK4 step that ends at t = 50 already sees the input off in its last stage, so compare up
    # to t = 45 with the input on, and from t = 50 on with no input)
    first = np.asarray(simulate(net, x0[0], np.arange(0.0, 45.0 + 1e-9, 5.0), h=h))
    rest = np.asarray(simulate(net, c[10], np.arange(0.0, 50.0 + 1e-9, 5.0)))
    np.testing.assert_allclose(c[:10], first, atol=1e-12)
    np.testing.assert_allclose(c[10:], rest, atol=1e-12)
    assert np.abs(c[10] - np.asarray(simulate(net, x0[0], [50.0], h=h))[0]).max() > 1e-6


def test_noise_gives_ornstein_uhlenbeck_variance():
    # W = 0: tau dx = -x dt + sigma dB, stationary variance sigma^2 / (2 tau) (analytic)
    tau, sigma = 20.0, 3.0
    net = Network(W=np.zeros((4, 4)), tau=tau)
    x = np.asarray(simulate(net, np.zeros((500, 4)), [400.0], dt=0.5, gain_fn=Linear(), noise_sd=sigma,
                            key=jax.random.PRNGKey(0), method="euler"))
    var = x[:, -1, :].var()
    # Euler-Maruyama's stationary variance is sigma^2 dt / (tau^2 (1 - (1 - dt/tau)^2))
    dt = 0.5
    expected = sigma**2 * dt / tau**2 / (1 - (1 - dt / tau) ** 2)
    assert expected == pytest.approx(sigma**2 / (2 * tau), rel=0.02)
    assert var == pytest.approx(expected, rel=0.08)  # 2000 samples: sd of the estimate ~3%
    # same key, same draw; different key, different draw
    again = np.asarray(simulate(net, np.zeros((500, 4)), [400.0], dt=0.5, gain_fn=Linear(), noise_sd=sigma,
                                key=jax.random.PRNGKey(0), method="euler"))
    np.testing.assert_array_equal(x, again)


def test_simulate_bad_input(net):
    x0 = np.zeros(net.n)
    with pytest.raises(ValueError, match="dt=50.0: expected a step smaller than tau=50"):
        simulate(net, x0, [0.0, 100.0], dt=50.0)
    with pytest.raises(ValueError, match=r"x0=array of shape \(3,\)"):
        simulate(net, np.zeros(3), [0.0])
    with pytest.raises(ValueError, match="t_eval=.*on the integration grid"):
        simulate(net, x0, [0.0, 0.3], dt=1.0)
    with pytest.raises(ValueError, match="uniformly spaced"):
        simulate(net, x0, [0.0, 1.0, 3.0])
    with pytest.raises(ValueError, match="key=None: expected a jax.random key"):
        simulate(net, x0, [0.0, 1.0], noise_sd=1.0)
    with pytest.raises(ValueError, match="method='midpoint'"):
        simulate(net, x0, [0.0], method="midpoint")


def test_linear_rollout_matches_matrix_powers_and_superposition():
    """x_t = A^t x_0 + sum_{s=1..t} A^{t-s} d_s (closed form of the recursion), batched over two axes."""
    import jax.numpy as jnp

    from neurodyn.dynamics import linear_response_from_rest, linear_rollout

    rng = np.random.default_rng(3)
    A = 0.5 * rng.standard_normal((4, 4))
    x0, d = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 6, 4))
    out = np.asarray(linear_rollout(jnp.asarray(A), jnp.asarray(x0), jnp.asarray(d)))
    P = [np.linalg.matrix_power(A, k) for k in range(6)]
    for t in range(6):
        ref = x0 @ P[t].T + sum(d[..., s, :] @ P[t - s].T for s in range(1, t + 1))
        np.testing.assert_allclose(out[..., t, :], ref, rtol=1e-12, atol=1e-12)
    rest = np.asarray(linear_response_from_rest(jnp.asarray(A), jnp.asarray(d[0])))
    assert rest.shape == (3, 7, 4)
    np.testing.assert_allclose(rest[:, 0], 0.0)
    np.testing.assert_allclose(rest[:, 3], d[0][:, 2] + d[0][:, 1] @ A.T + d[0][:, 0] @ P[2].T, rtol=1e-12)
