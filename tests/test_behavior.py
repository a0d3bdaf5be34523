"""Kinematics (seed 001 §5) and per-unit effect sizes with BH-FDR (§7)."""

import math

import numpy as np
import pytest

from neurodyn.behavior import (covariance_ellipse, lowpass_position, reach_endpoints, reaction_times, rt_effect,
                               speed, unit_effects, velocity, velocity_distance)


def _amplitude(x, f, fs):
    t = np.arange(x.size) / fs
    return 2 * abs(np.mean(x * np.exp(-2j * np.pi * f * t)))


def test_lowpass_gain_at_cutoff_is_one_half():
    fs, n = 1000.0, 4000
    t = np.arange(n) / fs
    for f, expected in [(25.0, 0.5), (5.0, 1.0)]:
        x = np.sin(2 * np.pi * f * t)[:, None]
        y = lowpass_position(x, fs)[1000:3000, 0]
        # Butterworth |H(fc)| = 1/sqrt(2); forward-backward squares it -> 1/2 at the corner
        assert _amplitude(y, f, fs) == pytest.approx(expected, abs=2e-3)
    # 4th order, 100 Hz = 4 fc: |H|^2 = 1 / (1 + 4^8) after filtfilt
    x = np.sin(2 * np.pi * 100.0 * t)[:, None]
    assert _amplitude(lowpass_position(x, fs)[1000:3000, 0], 100.0, fs) == pytest.approx(1 / (1 + 4 ** 8), abs=1e-4)


def test_velocity_exact_on_quadratic():
    fs = 1000.0
    t = np.arange(300) / fs
    pos = np.stack([3.0 * t ** 2 * 1e3, -2.0 * t * 1e3 + 5], 1)  # mm
    v = velocity(pos, fs)  # 21 samples, 2nd-order polynomial: exact for quadratics
    assert np.allclose(v[:, 0], 6.0 * t * 1e3, atol=1e-6)
    assert np.allclose(v[:, 1], -2.0e3, atol=1e-6)


def test_reaction_times_and_false_starts():
    t = np.arange(0.0, 800.0, 1.0)
    sigma, peak, centre = 60.0, 500.0, 400.0
    bell = peak * np.exp(-(t - centre) ** 2 / (2 * sigma ** 2))
    false = bell + 0.2 * peak * np.exp(-(t - 150) ** 2 / (2 * 10.0 ** 2))
    small = bell + 0.1 * peak * np.exp(-(t - 150) ** 2 / (2 * 10.0 ** 2))
    rts = reaction_times(np.stack([bell, false, small]), t, go_ms=100.0)
    # analytic crossing of 5% of peak: centre - sigma sqrt(2 ln 20), rounded up to the next 1 ms sample
    onset = centre - sigma * math.sqrt(2 * math.log(20.0))
    assert rts[0] == pytest.approx(math.ceil(onset) - 100.0)
    assert np.isnan(rts[1])  # rose above 15% and fell back below 5% before the reach
    assert rts[2] == pytest.approx(rts[0])  # a 10% excursion is not a false start


def test_rt_effect_exact_mann_whitney():
    res = rt_effect([300, 310, 320, 330, 340], [250, 260, 270, 280, 290])
    assert res["delta_ms"] == pytest.approx(50.0)
    assert res["u"] == 25.0
    assert res["p"] == pytest.approx(2 / math.comb(10, 5))  # exact two-sided, fully separated groups


def test_endpoints_and_ellipse():
    t = np.linspace(0, 1, 101)
    pos = np.zeros((2, 101, 2))
    pos[0, :, 0] = 100 * t
    pos[1, :, 1] = 50 * t
    spd = np.zeros((2, 101))
    spd[:, :60] = 200.0
    spd[:, 60:] = 10.0
    ends = reach_endpoints(pos, spd)
    assert np.allclose(ends, [[60.0, 0.0], [0.0, 30.0]])
    pts = np.array([[1.0, 0], [-1, 0], [0, 2], [0, -2]])
    c, axes, v = covariance_ellipse(pts)
    # covariance diag(2/3, 8/3); chi2(2) 95% quantile = -2 ln 0.05
    q = -2 * math.log(0.05)
    assert np.allclose(c, 0) and np.allclose(axes, np.sqrt(q * np.array([2 / 3, 8 / 3])))


def test_velocity_distance_unbiased_zero_for_identical_means():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((400, 5, 3))
    b = rng.standard_normal((400, 5, 3)) + np.array([3.0, 4.0, 0.0])
    d = velocity_distance(a, b)
    assert np.allclose(d, 5.0, atol=0.2)
    # identical means: the cross-validated squared distance averages to 0 over 400 time points, while
    # the naive squared distance is biased up by 3 * (1/100 + 1/100) = 0.06
    from neurodyn.analysis.distances import cv_distance_sq

    x = rng.standard_normal((200, 400, 3))
    assert abs(np.mean(cv_distance_sq(x[:100], x[100:]))) < 0.015
    naive = np.sum((x[:100].mean(0) - x[100:].mean(0)) ** 2, -1).mean()
    assert naive == pytest.approx(0.06, abs=0.01)
    assert np.all(velocity_distance(x[:100], x[100:]) >= 0)
    assert speed([[3.0, 4.0]])[0] == 5.0


def test_unit_effects_bh_by_hand():
    rng = np.random.default_rng(1)
    b = rng.normal(10, 2, (20, 6))
    a = b + np.array([6.0, 0.0, 3.0, 0.0, 1.5, 0.0]) + rng.normal(0, 2, (20, 6))
    res = unit_effects(a, b)
    p = res["p"]
    # Benjamini-Hochberg by hand: sort, scale by m / rank, running minimum from the top
    m = p.size
    order = np.argsort(p)
    scaled = p[order] * m / np.arange(1, m + 1)
    adj = np.minimum.accumulate(scaled[::-1])[::-1]
    expected = np.empty(m)
    expected[order] = np.minimum(adj, 1.0)
    assert np.allclose(res["p_adj"], expected)
    assert np.array_equal(res["significant"], expected <= 0.05)
    assert res["significant"][0] and not res["significant"][1]
    # rank-sum z statistic by hand for unit 0 (no ties with continuous data)
    from scipy.stats import norm, rankdata

    ranks = rankdata(np.concatenate([a[:, 0], b[:, 0]]))
    n1 = n2 = 20
    z = (ranks[:n1].sum() - n1 * (n1 + n2 + 1) / 2) / math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    assert p[0] == pytest.approx(2 * norm.sf(abs(z)))
    assert np.allclose(res["delta"], a.mean(0) - b.mean(0))
