"""Shared checks and conversions for arrays that come from users (private).

Every subsystem validates its inputs with these, so one kind of input gets one kind of
message: the argument's name, the expected shape and what was given. All raise
:class:`humanrecon.errors.InputError`.
"""

from __future__ import annotations

import numpy as np

from humanrecon.errors import InputError


def is_torch(x) -> bool:
    """Whether ``x`` is a torch tensor (checked without importing torch)."""
    return type(x).__module__.startswith("torch")


def to_numpy(x, dtype=None) -> np.ndarray:
    """numpy view/copy of a numpy array, a torch tensor (any device, with grad) or a list."""
    if is_torch(x):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def points_array(x, name: str = "points", dim: int = 3, dtype=np.float64) -> np.ndarray:
    """``x`` as a non-empty, finite ``(N, dim)`` numpy array of ``dtype``."""
    p = to_numpy(x, dtype)
    if p.ndim != 2 or p.shape[1] != dim or len(p) == 0:
        raise InputError(f"{name} must be a non-empty (N, {dim}) array, got shape {p.shape}")
    if not np.isfinite(p).all():
        raise InputError(f"{name} contains NaN or infinite values")
    return p


def box_array(bounds, name: str = "bounds") -> np.ndarray:
    """A box ``[[xmin, ymin, zmin], [xmax, ymax, zmax]]`` (metres) as float64 ``(2, 3)``,
    finite with max > min on every axis."""
    b = to_numpy(bounds, np.float64)
    if b.shape != (2, 3):
        raise InputError(f"{name} must be a (2, 3) box [min, max], got shape {b.shape}")
    if not np.isfinite(b).all():
        raise InputError(f"{name} must be finite, got {b.tolist()}")
    if not (b[1] > b[0]).all():
        raise InputError(f"{name} need min < max on every axis, got min {b[0].tolist()} max {b[1].tolist()}")
    return b


def box_tensor(bounds, name: str = "bounds"):
    """:func:`box_array` as a float32 torch tensor ``(2, 3)`` (on the CPU)."""
    import torch

    return torch.as_tensor(box_array(bounds, name), dtype=torch.float32)


def mesh_arrays(vertices, faces) -> tuple[np.ndarray, np.ndarray]:
    """A triangle mesh as vertices ``(V, 3)`` float32 (finite) and faces ``(F, 3)`` int64
    indexing them; both non-empty."""
    v = to_numpy(vertices)
    f = to_numpy(faces)
    if v.ndim != 2 or v.shape[1] != 3 or v.shape[0] == 0:
        raise InputError(f"vertices must have shape (V, 3) with V > 0, got {v.shape}")
    if f.ndim != 2 or f.shape[1] != 3 or f.shape[0] == 0:
        raise InputError(f"faces must have shape (F, 3) with F > 0, got {f.shape}")
    if not np.issubdtype(f.dtype, np.integer):
        raise InputError(f"faces must hold integer vertex indices, got dtype {f.dtype}")
    if f.min() < 0 or f.max() >= v.shape[0]:
        raise InputError(f"faces index vertices out of range [0, {v.shape[0]}): min {f.min()}, max {f.max()}")
    v = v.astype(np.float32)
    if not np.isfinite(v).all():
        raise InputError(f"vertices must be finite, got NaN or inf in array of shape {v.shape}")
    return v, f.astype(np.int64)


def reader(error: type, what: str):
    """Decorator for a reader of untrusted files ``fn(path, ...)``: a structure it did not
    foresee (a list where a dict should be, a missing key, a string for a number) becomes
    ``error`` naming the file, never a bare ``TypeError``/``KeyError``/... The reader's own
    errors pass through unchanged."""
    import functools

    from humanrecon.errors import HumanreconError

    def wrap(fn):
        @functools.wraps(fn)
        def read(path, *args, **kwargs):
            try:
                return fn(path, *args, **kwargs)
            except HumanreconError:
                raise
            except (TypeError, KeyError, AttributeError, IndexError, ValueError, OverflowError) as exc:
                raise error(f"{path}: malformed {what} ({type(exc).__name__}: {exc})") from exc
        return read
    return wrap
