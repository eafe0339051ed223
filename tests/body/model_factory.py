"""Random but valid SMPL / SMPL+H / SMPL-X / MANO model files for tests.

The arrays have the official layouts and sizes (vertex counts, joint trees, 207/459/486/135
pose-corrective columns, hand PCA components, SMPL-X landmarks), random contents: a
template around a unit blob, small shape/pose blend shapes, non-negative joint regressor
and skinning weights with rows summing to one. ``write_official_pickle`` writes them the
way the official ``.pkl`` files are stored: a protocol-2 pickle whose arrays are chumpy
``Ch`` objects and whose ``J_regressor`` is a scipy ``csc_matrix``.
"""

from __future__ import annotations

import pickle
import sys
import types
from pathlib import Path

import numpy as np
import scipy.sparse

VERTEX_COUNT = {"smpl": 6890, "smplh": 6890, "smplx": 10475, "mano": 778}
BODY_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19]


def _hand_parents(wrist: int, first: int) -> list[int]:
    """Parents of 15 finger joints (5 chains of 3) numbered from ``first``."""
    parents = []
    for finger in range(5):
        base = first + 3 * finger
        parents += [wrist, base, base + 1]
    return parents


def parents_for(model_type: str) -> list[int]:
    if model_type == "smpl":
        return BODY_PARENTS + [20, 21]
    if model_type == "smplh":
        return BODY_PARENTS + _hand_parents(20, 22) + _hand_parents(21, 37)
    if model_type == "smplx":
        return BODY_PARENTS + [15, 15, 15] + _hand_parents(20, 25) + _hand_parents(21, 40)
    if model_type == "mano":
        return [-1] + _hand_parents(0, 1)
    raise ValueError(model_type)


def _rows_sum_to_one(rng: np.random.Generator, rows: int, cols: int, nonzero: int) -> np.ndarray:
    out = np.zeros((rows, cols))
    for r in range(rows):
        idx = rng.choice(cols, size=nonzero, replace=False)
        out[r, idx] = rng.random(nonzero) + 0.1
    return out / out.sum(1, keepdims=True)


def random_model_arrays(model_type: str, seed: int = 0, num_shape: int | None = None) -> dict:
    """Arrays of a random model of ``model_type`` in the official layout."""
    rng = np.random.default_rng(seed)
    num_v = VERTEX_COUNT[model_type]
    parents = parents_for(model_type)
    num_j = len(parents)
    if num_shape is None:
        num_shape = {"smplx": 20}.get(model_type, 10)
    scale = 0.1 if model_type == "mano" else 1.0
    v_template = scale * (rng.normal(size=(num_v, 3)) * [0.3, 0.8, 0.15])
    arrays = {
        "v_template": v_template,
        "shapedirs": scale * 0.03 * rng.normal(size=(num_v, 3, num_shape)),
        "posedirs": scale * 0.01 * rng.normal(size=(num_v, 3, 9 * (num_j - 1))),
        "J_regressor": _rows_sum_to_one(rng, num_j, num_v, 12),
        "weights": _rows_sum_to_one(rng, num_v, num_j, 4),
        "kintree_table": np.array([[4294967295] + parents[1:], list(range(num_j))], dtype=np.int64),
        "f": rng.integers(0, num_v, size=(2 * num_v, 3)).astype(np.uint32),
    }
    if model_type in ("smplh", "smplx"):
        for side in "lr":
            arrays[f"hands_components{side}"] = np.linalg.qr(rng.normal(size=(45, 45)))[0]
            arrays[f"hands_mean{side}"] = 0.2 * rng.normal(size=45)
    if model_type == "mano":
        arrays["hands_components"] = np.linalg.qr(rng.normal(size=(45, 45)))[0]
        arrays["hands_mean"] = 0.2 * rng.normal(size=45)
    if model_type == "smplx":
        arrays["lmk_faces_idx"] = rng.integers(0, len(arrays["f"]), size=51)
        bary = rng.random((51, 3))
        arrays["lmk_bary_coords"] = bary / bary.sum(1, keepdims=True)
    return arrays


def write_npz(arrays: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


# --- official .pkl layout: chumpy Ch objects and a scipy csc_matrix -----------------

def _fake_chumpy_class() -> type:
    """A class that pickles exactly like ``chumpy.ch.Ch`` (module/qualname and a state
    dict whose ``x`` holds the array), without chumpy installed."""
    module = sys.modules.get("chumpy.ch") or types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            self.x = np.asarray(x)
            self._dirty_vars = set()

        def __reduce_ex__(self, protocol):
            import copyreg

            return copyreg.__newobj__, (type(self),), dict(self.__dict__)

    Ch.__module__ = "chumpy.ch"
    Ch.__qualname__ = "Ch"
    module.Ch = Ch
    return Ch


def write_official_pickle(arrays: dict, path: Path, old_numpy_names: bool = True) -> Path:
    """Write ``arrays`` like an official SMPL-family ``.pkl`` (protocol 2, chumpy Ch for
    float arrays, csc_matrix ``J_regressor``). With ``old_numpy_names`` the pickle refers
    to ``numpy.core.multiarray`` as files written with numpy 1.x do."""
    ch_class = _fake_chumpy_class()
    saved = {name: sys.modules.get(name) for name in ("chumpy", "chumpy.ch")}
    sys.modules["chumpy"] = types.ModuleType("chumpy")
    sys.modules["chumpy.ch"] = sys.modules.get("chumpy.ch") or types.ModuleType("chumpy.ch")
    sys.modules["chumpy.ch"].Ch = ch_class
    try:
        data = {}
        for key, value in arrays.items():
            if key == "J_regressor":
                data[key] = scipy.sparse.csc_matrix(value)
            elif key in ("v_template", "shapedirs", "posedirs", "weights"):
                data[key] = ch_class(value)
            else:
                data[key] = value
        data["bs_style"] = "lbs"
        payload = pickle.dumps(data, protocol=2)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    if old_numpy_names:
        payload = payload.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return path
