"""Network size, number of random groups and readout units (thesis, seed 003, §4.4-4.5): `groups-size`."""

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from neurodyn.connectivity import random_ei
from neurodyn.experiments.thesis.groups_size import _iterations_to_within
from neurodyn.learning import GainTask, NodePerturbation, Readout, TrialDynamics, learn_combination, sample_times
from neurodyn.learning.groups import membership_matrix

from gain_reference import reference_error


def test_iterations_to_within_one_percent():
    # hand-worked: minimum 2.0 at t = 4; 2.01 <= 1.01 * 2.0 first at t = 3 (index 0 is before training)
    e = np.array([[9.0, 5.0, 4.0, 2.01, 2.0, 2.5], [9.0, 1.0, 3.0, 3.0, 3.0, 3.0]])
    assert np.array_equal(_iterations_to_within(e), [3, 1])


def test_more_groups_beat_the_best_single_gain():
    # one group = one scalar gain gamma, so no session can go below min_gamma eps(gamma) (found here
    # independently by a grid + bounded Brent search); neuron-specific modulation can. Fixture: the
    # target is the output at non-uniform gains g* = 1.2 + 0.3 N(0, 1). Measured once: best single gain
    # 1.0531 with eps = 0.46354; one group reaches it to 2e-6; 12 groups reach 0.16 and 0.12.
    n = 12
    net = random_ei(n, 0.3, 0.6, 1.0, seed=4)
    t = sample_times(50.0, 200.0)
    rng = np.random.default_rng(0)
    dyn = TrialDynamics(net, 3.0 * rng.normal(size=n), t, dt=2.5)
    ro = Readout(rng.normal(size=(1, n // 2)), rng.normal(size=1))
    y = np.asarray(GainTask(dyn, ro, t[None, :, None]).output(1.2 + 0.3 * np.random.default_rng(5).normal(size=n)))
    task = GainTask(dyn, ro, y[None])
    grid = np.linspace(0.0, 3.0, 301)
    eg = np.asarray(task.errors(grid[:, None] * np.ones(n)))[:, 0]
    k = int(np.argmin(eg))
    best = minimize_scalar(lambda gm: float(task.errors(np.full((1, n), gm))[0, 0]), method="bounded",
                           bounds=(grid[k - 1], grid[k + 1]), options={"xatol": 1e-10})
    bases = np.stack([membership_matrix(np.zeros(n, int), n)[None], np.eye(n)[None]])   # 1 group, n groups
    res = learn_combination(dyn, ro, bases, np.stack([y, y])[:, None], 2, 300, c0=np.ones(n), seed=1,
                            rule=NodePerturbation(noise_sd=0.01))
    e_min = res.errors[:, :, 1:].min(-1)                                                 # (2 counts, 2 sessions)
    assert np.all(e_min[0] >= best.fun - 1e-9)                                           # bound of the scalar search
    assert np.allclose(e_min[0], best.fun, rtol=1e-3)                                    # ... and reached
    assert np.all(e_min[1] < 0.5 * best.fun)                                             # n groups: well below it


def test_groups_size_experiment_quick(tmp_path):
    from neurodyn.runner import run_experiment

    cfg = {"sizes": [10, 20], "group_counts": [1, 2, 5], "iterations": 40, "readout_iterations": 40,
           "n_trials": 5}
    m = run_experiment("groups-size", tmp_path / "run", quick=True, config=cfg)
    a = np.load(tmp_path / "run" / "arrays.npz")
    assert (tmp_path / "run" / "groups_size.png").exists() and m["seconds"] > 0
    for n in (10, 20):
        cs = list(a[f"n{n}_group_counts"])
        assert cs == [1, 2, 5, n]
        e_min = a[f"n{n}_min_errors"]                                    # (counts, targets, sessions)
        assert e_min.shape == (4, 2, 2)
        # independent route: the saved network re-simulated by SciPy. Gains 1 give the initial error;
        # one group is one scalar gain gamma, so its sessions cannot go below min_gamma eps(gamma),
        # found here by a grid on [0, 3] and a bounded Brent search of the re-simulated error
        eps = lambda gm, q: reference_error(a, np.full(n, gm), a["targets"][1 + q], f"n{n}_network_")  # noqa: E731
        assert m[f"initial_error_n{n}"] == pytest.approx(np.mean([eps(1.0, q) for q in range(2)]), rel=1e-4)
        grid = np.linspace(0.0, 3.0, 13)
        for q in range(2):
            eg = [eps(gm, q) for gm in grid]
            k = int(np.argmin(eg))
            best = minimize_scalar(lambda gm: eps(gm, q), method="bounded",
                                   bounds=(grid[max(k - 1, 0)], grid[min(k + 1, 12)]), options={"xatol": 1e-6})
            assert np.all(e_min[0, q] >= min(best.fun, min(eg)) * (1 - 1e-4))
    assert a["k2_initial_outputs"].shape == a["k2_targets"].shape == (2, 2, 200)
