import os

os.environ.setdefault("NEURODYN_QUIET", "1")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import neurodyn  # noqa: E402,F401  (enables 64-bit JAX)
