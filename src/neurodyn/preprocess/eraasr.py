"""ERAASR2: electrical-stimulation artifact removal by a spontaneous-aware artifact subspace.

Seed 001 Methods §3.2 (a modified version of O'Shea & Shenoy's ERAASR). Per trial, with n_ch channels,
the spontaneous second ``X_sp`` (T_sp x n_ch) before the train and the stimulation window ``X`` (T x n_ch):

0. Baseline and marks. Each channel is referred to its spontaneous baseline ``m_c = median_t X_sp``;
   the window ``X - m`` keeps the train's mean artifact offset as part of the artifact, and clipped
   samples cannot bias the reference (a window mean taken over unclipped samples only would, and the
   regression of step 4 has no intercept). Samples at or beyond the per-channel conservative limits
   (`saturation_limits`) are *possibly saturated*, a mask ``P`` (T x n_ch).
1. Spontaneous covariance ``S = X_sp^T X_sp / T_sp`` (centred) from the 1 s before stimulation.
2. Artifact covariance ``A = X_F^T X_F / |F|`` over the time points ``F`` with no possibly-saturated
   sample (the text: "excluding samples marked as possibly saturated").
3. Subspace. The objective was an image lost from the text; the prose fixes it: "maximal variance
   during the artifact period, while capturing minimal spontaneous neural variance", a numerator
   (artifact variance) and a denominator (spontaneous variance) traded off by lambda, reducing to PCA
   on the artifact when lambda = 0. The form that satisfies all three statements is the trace ratio on
   the Stiefel manifold ``V_K(R^n_ch)``

       U_art = argmax_{U in V_K}  tr(U^T A U) / tr(U^T B U),   B = (1 - lambda) I + lambda S / s̄,

   with ``s̄ = tr(S) / n_ch`` so both terms of B have unit mean eigenvalue (the lambda trade-off is then
   scale free). For lambda = 0, B = I and the ratio is tr(U^T A U) / K: PCA. We solve the trace ratio
   exactly (not its ratio-trace relaxation) by the Newton / Krylov iteration of Ngo, Bellalij & Saad
   (2012): ``rho_k = tr(U_k^T A U_k) / tr(U_k^T B U_k)``, ``U_{k+1}`` = top-K eigenvectors of
   ``A - rho_k B``; at the optimum rho* the top-K eigenvalues of ``A - rho* B`` sum to 0. For K = 1
   the trace ratio and the generalised eigenproblem ``A u = mu B u`` coincide (`scipy.linalg.eigh`).
4. Components and regression. The text projects the window, ``Z = X U_art`` (T x K), and regresses
   each channel on Z "excluding possibly saturated samples in determining the coefficients":

       beta_c = argmin_b  sum_{t : P_tc = 0} (x_tc - z_t^T b)^2,    x̂_tc = z_t^T beta_c,
       cleaned_tc = x_tc - x̂_tc.

   Projecting clipped values would corrupt z_t at every time point where *any* channel clipped, and
   with it the coefficients of the channels that did not clip. So the marked entries of X are first
   replaced by their expected unclipped values under a rank-K model of the window (missing-data PCA
   by EM, Roweis 1998): with V the top-K principal axes of A, at each time point t with marked
   channels ``w_t = argmin_w sum_{c : P_tc = 0} (x_tc - V_c w)^2`` and the marked entries become
   ``V_c w_t``; V is re-estimated on the completed window and the two steps repeated ``n_impute``
   times. The completion uses PCA axes (lambda = 0), not U_art: the trace ratio weights directions
   by their spontaneous variance and may leave a weak artifact direction out of U_art (the regression
   recovers it through the other components), whereas the completion needs a basis that spans the
   artifact. Z is then the projection of the completed window; the coefficients use unmarked samples
   only. Both least-squares problems are solved for all time points (channels) at once from their
   K x K normal equations, ``G = sum_c mask_c (v_c v_c^T)``, with one matrix product and a batched
   solve.
5. Saturation: where more than 60% of channels are possibly saturated at a sample, every channel is
   cleared to 0; otherwise a possibly-saturated sample is *actually saturated* when the predicted
   artifact exceeds the recording, ``|x̂_tc| > |x_tc| - tol_sd sigma_c`` (the amplifier clipped what
   the artifact would have reached), and is cleared to 0. ``tol_sd = 0`` is the text's test; a
   positive value (robust SDs ``sigma_c`` of the channel's spontaneous signal) also clears marked
   samples whose prediction falls just short of the recording.
6. Common average reference per ADC group (Siegle et al.): at each sample the median over the group's
   unsaturated channels is subtracted from them; saturated samples stay 0. A median of a handful of
   channels follows the spikes on those channels (a spike on two of four channels moves it by half
   its amplitude, taking half the spike off its own channels and printing inverted copies on the
   others), so where fewer than ``min_channels`` of a group's channels are unsaturated at a sample
   (a small group, or a group mostly cleared during a pulse) the median over all unsaturated channels
   of the probe is used instead.

The steps live in their own modules: the trace-ratio subspace and the window completion (steps 3-4)
in `neurodyn.preprocess.artifact_subspace`, the saturation limits (step 0) in
`neurodyn.preprocess.saturation`, the common average reference (step 6) in
`neurodyn.preprocess.common_average`; this module runs them per trial (`eraasr2_trial`) and over
trials (`eraasr2`). `EraasrRecording` (`neurodyn.preprocess.eraasr_recording`) wraps any SpikeInterface
recording as a preprocessing step: every segment, read in chunks of bounded memory, common-average
referenced (its docstring states the memory). All public names stay importable from this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Bool, Float, Int

from neurodyn.preprocess.artifact_subspace import (artifact_subspace, complete_window, masked_lstsq,
                                                   trace_ratio)
from neurodyn.preprocess.common_average import common_average_reference
from neurodyn.preprocess.saturation import possibly_saturated, saturation_limits
from neurodyn.progress import progress
from neurodyn.validation import fail, finite_array, in_range, positive_int

__all__ = ["EraasrResult", "artifact_subspace", "trace_ratio", "saturation_limits", "possibly_saturated",
           "eraasr2_trial", "eraasr2", "common_average_reference", "complete_window", "EraasrRecording",
           "eraasr_recording", "recording_limits"]

#: Names defined in `neurodyn.preprocess.eraasr_recording` (which imports this module), served lazily.
_RECORDING_NAMES = ("EraasrRecording", "eraasr_recording", "recording_limits")


def _median_and_robust_sd(x_tc: Float[np.ndarray, "time channels"],
                          block: int = 32) -> tuple[Float[np.ndarray, " channels"], Float[np.ndarray, " channels"]]:
    """Per channel (column) of ``x_tc`` (time x channels): ``m = median x`` and the robust SD
    ``median |x - m| / 0.6745``, ``block`` channels at a time (bounded working memory)."""
    c = x_tc.shape[1]
    med, sd = np.empty(c), np.empty(c)
    for j in range(0, c, block):
        xb = np.ascontiguousarray(x_tc[:, j:j + block].T)  # contiguous rows: faster medians
        m = np.median(xb, axis=1)
        med[j:j + block] = m
        sd[j:j + block] = np.median(np.abs(xb - m[:, None]), axis=1) / 0.6745
    return med, sd


def _centred_covariance(x: Float[np.ndarray, "time channels"], block: int = 4096) -> Float[np.ndarray,
                        "channels channels"]:
    """``(x - xbar)^T (x - xbar) / T`` for ``x`` (T x n_ch), summed over blocks of ``block`` time points."""
    mu = x.mean(0)
    S = np.zeros((x.shape[1], x.shape[1]))
    for i in range(0, x.shape[0], block):
        xb = x[i:i + block] - mu
        S += xb.T @ xb
    return S / x.shape[0]


@dataclass
class EraasrResult:
    """Output of `eraasr2_trial`, arrays (time, channels) over the window: ``cleaned`` (relative to
    the spontaneous baseline, cleared samples 0), ``artifact`` the predicted artifact, ``saturated``
    the samples cleared to zero, ``marked`` the possibly-saturated samples, ``baseline`` (n_ch,) the
    spontaneous median, ``U`` the subspace and ``rho`` its trace ratio."""

    cleaned: Float[np.ndarray, "time channels"]
    artifact: Float[np.ndarray, "time channels"]
    saturated: Bool[np.ndarray, "time channels"]
    U: Float[np.ndarray, "channels k"]
    rho: float
    marked: Bool[np.ndarray, "time channels"] | None = None
    baseline: Float[np.ndarray, " channels"] | None = None


def eraasr2_trial(spont: Float[np.ndarray, "spont_time channels"], window: Float[np.ndarray, "time channels"], *,
                  k: int = 4,
                  lam: float = 0.05, lo: Float[np.ndarray, " channels"] | None = None,
                  hi: Float[np.ndarray, " channels"] | None = None,
                  all_saturated_frac: float = 0.6, n_impute: int = 2, tol_sd: float = 0.0) -> EraasrResult:
    """ERAASR2 on one trial (module docstring, steps 0-5).

    ``spont`` (T_sp, n_ch): the 1 s before stimulation; ``window`` (T_art, n_ch): the stimulation window.
    ``lo``/``hi``: per-channel possibly-saturated limits (`saturation_limits`); None marks nothing.
    """
    sp = finite_array("spont", spont, ndim=2)
    w = finite_array("window", window, ndim=2)
    if sp.shape[1] != w.shape[1]:
        fail("window", w, f"the same number of channels as spont ({sp.shape[1]})")
    c = w.shape[1]
    k = positive_int("k", k)
    if k >= c:
        fail("k", k, f"an integer < number of channels {c}")
    in_range("all_saturated_frac", all_saturated_frac, 0.0, 1.0)
    n_impute = positive_int("n_impute", n_impute, 0)
    tol_sd = in_range("tol_sd", tol_sd, 0.0, 100.0)
    if lo is None:
        marked = np.zeros(w.shape, bool)
    else:
        marked = possibly_saturated(w, np.asarray(lo), np.asarray(hi))
    baseline, noise_sd = _median_and_robust_sd(sp)
    S = _centred_covariance(sp)
    xc = w - baseline
    frac = marked.mean(1)
    usable = frac <= all_saturated_frac
    full = ~marked.any(1)
    xa = xc[full] if full.sum() > 2 * k else np.where(marked, 0.0, xc)[usable]
    U, rho = artifact_subspace(xa.T @ xa / max(xa.shape[0], 1), S, k, lam)
    xi = complete_window(xc, marked, k, n_impute, usable)
    Z = xi @ U
    ok = ~marked
    n_ok = ok.sum(0)
    fit = n_ok >= k + 1
    pred = np.array(xc)  # channels with too few unmarked samples to fit are cleared entirely
    beta = masked_lstsq(Z, xc[:, fit], ok[:, fit].astype(float))
    pred[:, fit] = Z @ beta.T
    cleaned = xc - pred
    actual = marked & (np.abs(pred) > np.abs(xc) - tol_sd * noise_sd[None, :])
    actual[~usable] = True
    actual[:, ~fit] = True
    cleaned[actual] = 0.0
    return EraasrResult(cleaned=cleaned, artifact=pred, saturated=actual, U=U, rho=rho, marked=marked,
                        baseline=baseline)


def eraasr2(trials: Float[np.ndarray, "trials time channels"], stim_start: int, stim_stop: int, fs: float, *,
            k: int = 4, lam: float = 0.05,
            adc_group: Int[np.ndarray, " channels"] | None = None,
            limits: tuple[Float[np.ndarray, " channels"], Float[np.ndarray, " channels"]] | None = None,
            tail_ms: float = 3.0, car: bool = True, min_channels: int = 16, n_impute: int = 2, tol_sd: float = 0.0,
            progress_bar: bool = True) -> tuple[Float[np.ndarray, "trials time channels"],
                                                Float[np.ndarray, "trials time channels"],
                                                Bool[np.ndarray, "trials time channels"]]:
    """ERAASR2 over trials ``(n_trials, T, n_ch)``; stimulation occupies samples [stim_start, stim_stop).

    Spontaneous covariance and baseline from the 1 s before ``stim_start``; the artifact window extends
    ``tail_ms`` past ``stim_stop`` to cover the last pulse's recovery. ``limits=(lo, hi)`` per channel
    (default: `saturation_limits` of all trials). Returns ``(cleaned, artifact, saturated)``, each
    ``(n_trials, T, n_ch)``: the whole trial relative to the channel's spontaneous baseline with the window
    cleaned and its saturated samples 0, common-average referenced per ADC group if ``car``; the
    predicted artifact (relative to the baseline, zero outside the window); the cleared samples.
    """
    x = np.asarray(trials)
    if x.ndim != 3:
        fail("trials", x, "a (trials, time, channels) array")
    n, t, c = x.shape
    n_sp = int(round(fs))
    if not (n_sp <= stim_start < stim_stop <= t):
        fail("stim_start", stim_start, f"a window with >= 1 s ({n_sp} samples) of data before it inside {t}")
    stop = min(t, stim_stop + int(round(tail_ms * 1e-3 * fs)))
    groups = np.zeros(c, int) if adc_group is None else np.asarray(adc_group, int)
    lo, hi = saturation_limits(x, groups) if limits is None else limits
    cleaned = np.empty((n, t, c), np.float32)
    artifact = np.zeros((n, t, c), np.float32)
    saturated = np.zeros((n, t, c), bool)
    it = progress(range(n), n, "ERAASR2 trials") if progress_bar else range(n)
    for i in it:
        tr = x[i].astype(float)
        res = eraasr2_trial(tr[stim_start - n_sp:stim_start], tr[stim_start:stop], k=k, lam=lam,
                            lo=lo, hi=hi, n_impute=n_impute, tol_sd=tol_sd)
        out = tr - res.baseline
        out[stim_start:stop] = res.cleaned
        artifact[i, stim_start:stop] = res.artifact
        saturated[i, stim_start:stop] = res.saturated
        cleaned[i] = common_average_reference(out, groups, saturated[i], min_channels) if car else out
    return cleaned, artifact, saturated


def __getattr__(name):
    if name in _RECORDING_NAMES:
        import importlib

        # the package binds the name ``eraasr_recording`` to the function, so import the module by path
        return getattr(importlib.import_module("neurodyn.preprocess.eraasr_recording"), name)
    raise AttributeError(name)
