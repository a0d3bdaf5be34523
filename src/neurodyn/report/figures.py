"""Small matplotlib helpers shared by experiments (Agg backend; figures saved by `Run.save_figure`).

Axes carry units and name any normalisation (`rate_label`); a fitted model shown against data shows
every condition, one panel each (`small_multiples`), not a chosen one.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from jaxtyping import ArrayLike, Float, Shaped  # noqa: E402

__all__ = ["new_figure", "plot_spectrum", "plot_traces", "rate_label", "small_multiples"]


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 4.2, height: float = 3.3):
    """A figure of ``nrows`` x ``ncols`` panels of ``width`` x ``height`` inches; returns (figure, flat axes)."""
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    return fig, axes.ravel()


def plot_spectrum(ax, eigs: Shaped[ArrayLike, "*batch"], *, label: str | None = None, color: str = "k", line: float | None = None,
                  line_label: str | None = None, s: float = 8.0):
    """Eigenvalues in the complex plane, with an optional vertical line at Re = ``line``."""
    eigs = np.asarray(eigs)
    ax.scatter(eigs.real, eigs.imag, s=s, color=color, label=label, alpha=0.7, linewidths=0)
    if line is not None:
        ax.axvline(line, color="r", ls="--", lw=1, label=line_label)
    ax.set_xlabel("Re λ")
    ax.set_ylabel("Im λ")
    ax.axhline(0, color="0.8", lw=0.5)
    ax.axvline(0, color="0.8", lw=0.5)


def plot_traces(ax, t: Float[ArrayLike, "time"], x: Float[ArrayLike, "time neurons"], *, n: int = 20, ylabel: str = "activity", color=None, alpha: float = 0.8):
    """Plot up to ``n`` columns (neurons) of ``x`` against ``t``."""
    x = np.asarray(x)
    k = min(n, x.shape[-1])
    ax.plot(t, x[:, :k], lw=1, color=color, alpha=alpha)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(ylabel)


def rate_label(soft_norm: float | None = None, unit: str = "spikes/s") -> str:
    """Axis label for firing rates, naming the soft normalisation ``r / (range + c)`` when one is applied."""
    if soft_norm is None:
        return f"rate ({unit})"
    return f"r / (range + {soft_norm:g} {unit}) (soft-normalised)"


def small_multiples(t: Float[ArrayLike, "time"], data: Float[ArrayLike, "conditions time neurons"],
                    model: Float[ArrayLike, "conditions time neurons"], *, titles=None, neurons=None,
                    n_neurons: int = 3, ylabel: str = "rate (spikes/s)", xlabel: str = "time (ms)",
                    data_label: str = "data", model_label: str = "model", ncols: int = 4, width: float = 2.7, height: float = 2.1, suptitle: str | None = None):
    """One panel per condition: ``data`` (solid) and ``model`` (dashed), both ``(conditions, time, neurons)``.

    The same neurons in every panel (``neurons``, default the ``n_neurons`` with the largest variance of
    ``data`` over conditions and time), one colour each; shared axes, labels on the outer panels only.
    Returns the figure.
    """
    data, model = np.asarray(data), np.asarray(model)
    if data.ndim != 3 or model.shape != data.shape:
        raise ValueError(f"data.shape={data.shape}, model.shape={model.shape}: expected equal "
                         "(conditions, time, neurons) shapes")
    t = np.asarray(t)
    if t.shape != (data.shape[1],):
        raise ValueError(f"t.shape={t.shape}: expected ({data.shape[1]},), one time per bin")
    n_conditions = data.shape[0]
    if neurons is None:
        neurons = np.argsort(-data.reshape(-1, data.shape[2]).var(0))[:n_neurons]
    neurons = [int(n) for n in neurons]
    titles = list(titles) if titles is not None else [f"condition {c}" for c in range(n_conditions)]
    if len(titles) != n_conditions:
        raise ValueError(f"titles: {len(titles)} given, expected one per condition ({n_conditions})")
    ncols = max(1, min(ncols, n_conditions))
    nrows = -(-n_conditions // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False,
                             sharex=True, sharey=True)
    for c, ax in enumerate(axes.ravel()):
        if c >= n_conditions:
            ax.set_visible(False)
            continue
        for k, n in enumerate(neurons):
            ax.plot(t, data[c, :, n], color=f"C{k % 10}", lw=1.4, label=f"neuron {n}" if c == 0 else None)
            ax.plot(t, model[c, :, n], color=f"C{k % 10}", ls="--", lw=1)
        ax.set_title(str(titles[c]), fontsize=9)
        if c % ncols == 0:
            ax.set_ylabel(ylabel, fontsize=8)
        if c >= n_conditions - ncols:
            ax.set_xlabel(xlabel, fontsize=8)
    first = axes.ravel()[0]
    first.plot([], [], color="0.3", lw=1.4, label=data_label)
    first.plot([], [], color="0.3", ls="--", lw=1, label=model_label)
    first.legend(frameon=False, fontsize=7)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    return fig
