"""The estimator contract every fitted model follows, and model files without pickle.

Contract (scikit-learn's, DESIGN.md "Models"):

* hyper-parameters are keyword arguments of ``__init__``, stored unchanged under their own names
  (so `sklearn.base.clone`, ``get_params`` and ``set_params`` work); validation happens in ``fit``;
* ``fit(X, ...)`` returns ``self``; learned attributes end in ``_``; before ``fit`` every method that
  needs them raises scikit-learn's `NotFittedError`;
* ``transform(X)`` returns posterior-mean latents ``(conditions or trials, time, K)`` and
  ``fit_transform`` is ``fit`` then ``transform``; ``predict`` returns the model's prediction of the
  observations; ``score(X)`` is the mean log-likelihood per observed bin (higher is better) for every
  probabilistic model;
* ``save(path)`` writes one ``.npz`` of arrays plus a JSON header (format name, format version, class,
  hyper-parameters, scalar learned attributes); `load_model` reads it back with ``allow_pickle=False``.

A learned attribute is saved automatically when it is a NumPy/JAX array, a JSON value (number, string,
bool, None, list or dict of those) or a NamedTuple of arrays (such as `LDSParams`). A model with other
learned state overrides ``_extra_state`` / ``_restore_extra``.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from jaxtyping import Float
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

__all__ = ["FORMAT", "FORMAT_VERSION", "NeurodynEstimator", "NotFittedError", "check_rates", "load_model"]

FORMAT = "neurodyn-model"
FORMAT_VERSION = 1
_HEADER = "__header__"
_REGISTRY: dict[str, type["NeurodynEstimator"]] = {}


def check_rates(X, name: str = "X", *, min_times: int = 2) -> Float[np.ndarray, "batch time neurons"]:
    """``X`` as a finite float array ``(conditions or trials, time, neurons)``; a `PopulationData` gives
    its ``rates``. An empty, 1-D, 2-D or 4-D array is refused with one line naming the expected layout."""
    if hasattr(X, "rates") and hasattr(X, "t_ms"):
        X = X.rates
    try:
        arr = np.asarray(X, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a numeric array (conditions or trials, time, neurons); "
                        f"got {type(X).__name__}") from None
    if arr.ndim != 3:
        hint = " (one condition? add a leading axis: X[None])" if arr.ndim == 2 else ""
        raise ValueError(f"{name}=array of shape {arr.shape}: expected a 3-d array (conditions or trials, "
                         f"time, neurons){hint}")
    if arr.size == 0:
        raise ValueError(f"{name}=array of shape {arr.shape}: expected a non-empty 3-d array "
                         "(conditions or trials, time, neurons)")
    if arr.shape[1] < min_times:
        raise ValueError(f"{name}=array of shape {arr.shape}: expected at least {min_times} time bins "
                         "(axes are conditions or trials, time, neurons)")
    if not np.all(np.isfinite(arr)):
        bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name}=array of shape {arr.shape}: expected finite values, found {bad} NaN/inf")
    return arr


def _is_namedtuple(v) -> bool:
    return isinstance(v, tuple) and hasattr(v, "_fields")


def _json_value(v) -> bool:
    try:
        json.dumps(v, allow_nan=True)
    except (TypeError, ValueError):
        return False
    return True


def _plain(v):
    """NumPy scalars become Python scalars; anything array-like becomes an ndarray."""
    if isinstance(v, (np.generic,)):
        return v.item()
    return v


class NeurodynEstimator(BaseEstimator):
    """Base class of every fitted model: scikit-learn's `BaseEstimator` plus model files.

    Subclasses are registered by class name for `load_model`.
    """

    _model_format_version: ClassVar[int] = FORMAT_VERSION

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    # ----------------------------------------------------------------- contract helpers
    def _check_fitted(self, attribute: str | None = None) -> None:
        """Raise `NotFittedError` (one line, naming the class) unless ``fit`` has run."""
        fitted = hasattr(self, attribute) if attribute else any(
            k.endswith("_") and not k.startswith("_") for k in vars(self))
        if not fitted:
            raise NotFittedError(f"{type(self).__name__}: call fit before using the model")

    def __sklearn_is_fitted__(self) -> bool:
        return any(k.endswith("_") and not k.startswith("_") for k in vars(self))

    def fit_transform(self, X: Float[np.ndarray, "batch time neurons"], y=None, **fit_params
                      ) -> Float[np.ndarray, "batch time latents"]:
        """``fit(X, **fit_params)`` then ``transform(X)``."""
        return self.fit(X, **fit_params).transform(X)

    # ----------------------------------------------------------------- model files
    def _learned_attributes(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_")}

    def _extra_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Arrays and JSON values of learned state that the generic rules cannot save (override)."""
        return {}, {}

    def _restore_extra(self, arrays: dict[str, np.ndarray], values: dict[str, Any]) -> None:
        """Inverse of `_extra_state` (override)."""

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model to ``path`` (``.npz``): arrays plus a JSON header; never pickle."""
        from neurodyn.fileio import save_npz_atomic

        self._check_fitted()
        arrays: dict[str, np.ndarray] = {}
        values: dict[str, Any] = {}
        tuples: dict[str, dict[str, Any]] = {}
        skipped = []
        for k, v in self._learned_attributes().items():
            v = _plain(v)
            if _is_namedtuple(v):
                cls = type(v)
                tuples[k] = {"class": f"{cls.__module__}:{cls.__qualname__}", "fields": list(v._fields)}
                for f, a in zip(v._fields, v):
                    arrays[f"{k}.{f}"] = np.asarray(a)
            elif isinstance(v, np.ndarray) or (hasattr(v, "shape") and hasattr(v, "dtype")):
                arr = np.asarray(v)
                if arr.dtype == object:
                    skipped.append(k)
                else:
                    arrays[k] = arr
            elif _json_value(v):
                values[k] = v
            else:
                skipped.append(k)
        extra_arrays, extra_values = self._extra_state()
        arrays.update({f"extra.{k}": np.asarray(v) for k, v in extra_arrays.items()})
        unsaved = [k for k in skipped if k not in extra_arrays and k not in extra_values]
        if unsaved:
            raise TypeError(f"{type(self).__name__}.save: learned attributes {unsaved} are neither arrays nor "
                            "JSON values; the class must save them in _extra_state")
        params = self.get_params(deep=False)
        bad = [k for k, v in params.items() if not _json_value(_plain(v))]
        if bad:
            raise TypeError(f"{type(self).__name__}.save: hyper-parameters {bad} are not JSON values")
        header = {"format": FORMAT, "version": self._model_format_version, "class": type(self).__name__,
                  "params": {k: _plain(v) for k, v in params.items()}, "values": values, "tuples": tuples,
                  "extra_values": extra_values}
        arrays[_HEADER] = np.array(json.dumps(header, allow_nan=True))
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        return save_npz_atomic(path, **arrays)


def _tuple_class(spec: str):
    mod, _, qual = spec.partition(":")
    if not mod.startswith("neurodyn."):
        raise ValueError(f"model file: refusing to rebuild {spec!r}, which is not a neurodyn type")
    obj = importlib.import_module(mod)
    for part in qual.split("."):
        obj = getattr(obj, part)
    return obj


def load_model(path: str | os.PathLike) -> NeurodynEstimator:
    """Read a model written by ``save``; an unknown format, version or class is refused in one line."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.npz"
    if not path.exists():
        raise FileNotFoundError(f"model file {str(path)!r} does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"model file {str(path)!r}: not a readable .npz ({type(exc).__name__})") from None
    if _HEADER not in arrays:
        raise ValueError(f"model file {str(path)!r}: no model header; it was not written by Model.save")
    try:
        header = json.loads(str(arrays.pop(_HEADER)))
    except json.JSONDecodeError:
        raise ValueError(f"model file {str(path)!r}: the model header is not valid JSON") from None
    if header.get("format") != FORMAT:
        raise ValueError(f"model file {str(path)!r}: format {header.get('format')!r}, expected {FORMAT!r}")
    name = header.get("class")
    if name not in _REGISTRY:
        import neurodyn.models  # noqa: F401  (registers every model class)
    if name not in _REGISTRY:
        raise ValueError(f"model file {str(path)!r}: unknown model class {name!r}; known: {sorted(_REGISTRY)}")
    cls = _REGISTRY[name]
    version = header.get("version")
    if version != cls._model_format_version:
        raise ValueError(f"model file {str(path)!r}: {name} format version {version!r}; this neurodyn reads "
                         f"version {cls._model_format_version}")
    model = cls(**header.get("params", {}))
    for k, v in header.get("values", {}).items():
        setattr(model, k, v)
    for k, spec in header.get("tuples", {}).items():
        tcls = _tuple_class(spec["class"])
        setattr(model, k, tcls(*(arrays.pop(f"{k}.{f}") for f in spec["fields"])))
    extra = {k[len("extra."):]: arrays.pop(k) for k in list(arrays) if k.startswith("extra.")}
    for k, v in arrays.items():
        setattr(model, k, v)
    model._restore_extra(extra, header.get("extra_values", {}))
    return model
