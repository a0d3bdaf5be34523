"""Small matplotlib helpers shared by experiments (Agg backend; figures saved by `Run.save_figure`)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["new_figure", "plot_spectrum", "plot_traces"]


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 4.2, height: float = 3.3):
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    return fig, axes.ravel()


def plot_spectrum(ax, eigs, *, label: str | None = None, color: str = "k", line: float | None = None,
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


def plot_traces(ax, t, x, *, n: int = 20, ylabel: str = "activity", color=None, alpha: float = 0.8):
    """Plot up to ``n`` columns of ``x`` (T x N) against ``t``."""
    x = np.asarray(x)
    k = min(n, x.shape[-1])
    ax.plot(t, x[:, :k], lw=1, color=color, alpha=alpha)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(ylabel)
