"""Safe reading of SMPL-family model files (``.npz`` and the official ``.pkl``).

The official ``.pkl`` files are Python-2 pickles that hold chumpy arrays and scipy
sparse matrices. Unpickling them with :mod:`pickle` would import chumpy (which does not
run on Python ≥ 3.11) and, worse, lets a crafted file run arbitrary code. We use a
restricted unpickler instead: it resolves only numpy's array/dtype reconstructors, chumpy
classes (mapped to inert placeholders whose stored value becomes a numpy array) and
scipy's sparse matrix classes (rebuilt by us from their index arrays). Any other global
(``os.system``, ``builtins.eval``, ...) raises :class:`UnsafeModelFileError`.
"""

from __future__ import annotations

import copyreg
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from humanrecon.errors import InputError, ModelFileError, UnsafeModelFileError


class _ChumpyPlaceholder:
    """Stands in for any ``chumpy`` class: keeps the pickled state, runs nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.state: dict = {}

    def __setstate__(self, state: Any) -> None:
        self.state = state if isinstance(state, dict) else {"state": state}

    def to_numpy(self) -> np.ndarray | None:
        """The array value of a chumpy leaf (its ``x``), or None for a lazy expression."""
        value = self.state.get("x")
        if isinstance(value, _ChumpyPlaceholder):
            return value.to_numpy()
        return None if value is None else np.asarray(value)


class _SparsePlaceholder:
    """Stands in for scipy's ``csc_matrix``/``csr_matrix``; converts to a dense array."""

    format = "csc"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.state: dict = {}

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise UnsafeModelFileError("sparse matrix with an unexpected pickled state")
        self.state = state

    #: the largest dense matrix a body-model file may expand to (SMPL-X's J_regressor is
    #: 55 x 10,475 = 0.6 M entries)
    MAX_ENTRIES = 50_000_000

    def to_numpy(self) -> np.ndarray:
        """The dense array; every field checked first (raises ``ValueError`` saying what is wrong)."""
        s = self.state
        missing = [k for k in ("data", "indices", "indptr") if k not in s]
        if missing or not ("_shape" in s or "shape" in s):
            raise ValueError(f"sparse matrix without {', '.join(missing) or 'shape'}")
        shape = tuple(int(n) for n in s.get("_shape", s.get("shape", ())))
        if len(shape) != 2 or min(shape) < 0 or shape[0] * shape[1] > self.MAX_ENTRIES:
            raise ValueError(f"sparse matrix with invalid or oversized shape {shape}")
        data = np.asarray(s["data"])
        indices = np.asarray(s["indices"], dtype=np.int64).reshape(-1)
        indptr = np.asarray(s["indptr"], dtype=np.int64).reshape(-1)
        minor_size, major_size = (shape[0], shape[1]) if self.format == "csc" else (shape[1], shape[0])
        if data.ndim != 1 or len(data) != len(indices) or len(indptr) != major_size + 1:
            raise ValueError("sparse matrix whose data, indices and indptr do not fit together")
        if indptr[0] != 0 or indptr[-1] != len(data) or (np.diff(indptr) < 0).any():
            raise ValueError("sparse matrix with a broken indptr")
        if len(indices) and (indices.min() < 0 or indices.max() >= minor_size):
            raise ValueError(f"sparse matrix with indices out of range [0, {minor_size})")
        dense = np.zeros(shape, dtype=data.dtype)
        major = np.repeat(np.arange(major_size), np.diff(indptr))
        if self.format == "csc":
            dense[indices, major] = data
        else:
            dense[major, indices] = data
        return dense


class _CsrPlaceholder(_SparsePlaceholder):
    format = "csr"


def _restricted_reconstructor(cls: type, base: type, state: Any) -> Any:
    """``copyreg._reconstructor`` limited to the classes :func:`_resolve_global` allowed."""
    if base is not object and base is not np.ndarray:
        raise UnsafeModelFileError(f"refusing to reconstruct {cls!r} from base {base!r}")
    return copyreg._reconstructor(cls, base, state)


def _numpy_global(name: str) -> Any:
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray  # type: ignore[no-redef]
    return {"_reconstruct": multiarray._reconstruct, "scalar": multiarray.scalar}[name]


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    """``_codecs.encode`` as Python-3 protocol-2 pickles use it for bytes (latin1 only)."""
    if encoding.replace("-", "").lower() not in ("latin1", "iso88591"):
        raise UnsafeModelFileError(f"refusing _codecs.encode with encoding '{encoding}'")
    return text.encode("latin1")


_ALLOWED = {
    ("_codecs", "encode"): lambda: _latin1_encode,
    ("__builtin__", "set"): lambda: set,
    ("builtins", "set"): lambda: set,
    ("__builtin__", "frozenset"): lambda: frozenset,
    ("builtins", "frozenset"): lambda: frozenset,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("copy_reg", "_reconstructor"): lambda: _restricted_reconstructor,
    ("copyreg", "_reconstructor"): lambda: _restricted_reconstructor,
    ("__builtin__", "object"): lambda: object,
    ("builtins", "object"): lambda: object,
}
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    for _name in ("_reconstruct", "scalar"):
        _ALLOWED[(_mod, _name)] = lambda _name=_name: _numpy_global(_name)
for _mod in ("scipy.sparse.csc", "scipy.sparse._csc", "scipy.sparse.csr", "scipy.sparse._csr"):
    _cls = _CsrPlaceholder if "csr" in _mod else _SparsePlaceholder
    _ALLOWED[(_mod, _mod.rsplit(".", 1)[-1].lstrip("_") + "_matrix")] = lambda _cls=_cls: _cls
for _name in ("float64", "float32", "int64", "int32", "uint32", "bool_"):
    _ALLOWED[("numpy", _name)] = lambda _name=_name: getattr(np, _name)


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedIOBase, source: str) -> None:
        super().__init__(file, encoding="latin1")
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        if module == "chumpy" or module.startswith("chumpy."):
            return _ChumpyPlaceholder
        factory = _ALLOWED.get((module, name))
        if factory is None:
            raise UnsafeModelFileError(
                f"{self.source}: refusing to load: the pickle references '{module}.{name}'; "
                "a body model file may only contain numpy arrays, chumpy arrays and scipy "
                "sparse matrices"
            )
        return factory()


def _to_plain(value: Any, key: str, source: str) -> Any:
    """Convert placeholders to numpy arrays; lazy chumpy expressions become None."""
    if isinstance(value, (_ChumpyPlaceholder, _SparsePlaceholder)):
        try:
            return value.to_numpy()
        except (ValueError, TypeError, IndexError, KeyError, MemoryError, OverflowError) as exc:
            raise ModelFileError(f"{source}: field '{key}': {exc}") from exc
    if isinstance(value, np.ndarray) and value.dtype == object and value.ndim == 0:
        return _to_plain(value.item(), key, source)
    return value


def load_pickle(path: str | Path) -> dict[str, Any]:
    """Read an official SMPL/SMPL+H/SMPL-X/MANO ``.pkl`` into a dict of numpy arrays,
    safely (no chumpy import, no code execution). Raises :class:`UnsafeModelFileError`
    for pickles that reference anything but array data and :class:`ModelFileError` for
    unreadable files."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = _RestrictedUnpickler(f, str(path)).load()
    except UnsafeModelFileError:
        raise
    except (pickle.UnpicklingError, EOFError, AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: not a readable model pickle ({type(exc).__name__}: {exc})") from exc
    if not isinstance(data, dict):
        raise ModelFileError(f"{path}: expected a pickled dict of arrays, got {type(data).__name__}")
    return {str(k): _to_plain(v, str(k), str(path)) for k, v in data.items()}


def load_npz(path: str | Path) -> dict[str, Any]:
    """Read a model ``.npz`` into a dict of numpy arrays without allowing pickled objects.

    Object arrays (which need pickle) are refused, except that 0-d/1-d string-like data
    is read as text."""
    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: not a readable .npz (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise UnsafeModelFileError(
                f"{path}: the .npz holds pickled Python objects; re-save it with plain arrays "
                "(e.g. np.savez(path, **{k: np.asarray(v) for k, v in d.items()}))"
            ) from exc
        raise ModelFileError(f"{path}: not a readable .npz ({exc})") from exc
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ModelFileError(f"{path}: not a readable .npz ({exc})") from exc


def load_model_arrays(path: str | Path) -> dict[str, Any]:
    """Read a body model file (``.pkl`` or ``.npz``) into a dict of numpy arrays."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: model file not found")
    suffix = path.suffix.lower()
    if suffix == ".pkl":
        return load_pickle(path)
    if suffix == ".npz":
        return load_npz(path)
    raise ModelFileError(f"{path}: unknown model file extension '{suffix}' (expected .pkl or .npz)")


# --------------------------------------------------------------------------- model-file lookup
#: built-in models shipped in ``assets/`` (no licence gate)
BUILTIN_MODELS = {"open": "models/open_body.npz", "open-hand": "models/open_hand_right.npz"}


def resolve_model_path(path_or_name: str | Path, gender: str = "neutral",
                       model_type: str | None = None) -> tuple[Path, str | None]:
    """Turn a built-in name, a file or a smplx-style model folder into a model file path.

    Returns ``(path, name)`` where ``name`` is the built-in name or None. Raises
    :class:`ModelFileError` naming what was looked for."""
    from humanrecon._assets import assets_dir

    key = str(path_or_name)
    if key in BUILTIN_MODELS:
        path = assets_dir() / BUILTIN_MODELS[key]
        if not path.is_file():
            raise ModelFileError(f"built-in model '{key}' is missing: {path} not found "
                                 "(rebuild it with tools/build_open_model.py)")
        return path, key
    if gender.lower() not in ("neutral", "male", "female"):
        raise InputError(f"gender must be 'neutral', 'male' or 'female', got '{gender}'")
    path = Path(path_or_name).expanduser()
    if path.is_file():
        return path, None
    if path.is_dir():
        candidates = _folder_candidates(path, gender.upper(), model_type)
        for candidate in candidates:
            if candidate.is_file():
                return candidate, None
        tried = ", ".join(str(c.relative_to(path)) for c in candidates[:8])
        raise ModelFileError(f"{path}: no body model file found in this folder (looked for {tried}, ...)")
    hint = "" if path.suffix.lower() in (".pkl", ".npz", "") else " (model files end in .pkl or .npz)"
    builtin = ", ".join(f"'{n}'" for n in BUILTIN_MODELS)
    raise ModelFileError(f"{path}: model file not found{hint}; built-in models: {builtin}")


def _folder_candidates(folder: Path, gender: str, model_type: str | None) -> list[Path]:
    """File names smplx.create would look for, in a folder or its per-type subfolders."""
    types = [model_type.lower().replace("+", "").replace("-", "")] if model_type else ["smpl", "smplx", "smplh", "mano"]
    candidates = []
    for mtype in types:
        stem = {"smpl": f"SMPL_{gender}", "smplh": f"SMPLH_{gender}", "smplx": f"SMPLX_{gender}",
                "mano": "MANO_RIGHT"}.get(mtype, f"{mtype.upper()}_{gender}")
        for sub in (folder, folder / mtype):
            for ext in (".npz", ".pkl"):
                candidates.append(sub / f"{stem}{ext}")
    return candidates
