"""Random but valid SMPL / SMPL+H / SMPL-X / MANO model arrays, for tests and benchmarks
when the licensed model files are absent.

:func:`random_model_arrays` returns a dict in the official layout, with the official
sizes and random contents. ``V`` vertices (SMPL and SMPL+H 6,890, SMPL-X 10,475, MANO
778), ``J`` skeleton joints (SMPL 24, SMPL+H 52, SMPL-X 55, MANO 16), ``K`` shape
components (default 10, SMPL-X 20), ``P = 9 (J - 1)`` pose-corrective columns (207 /
459 / 486 / 135)::

    v_template     (V, 3)      float64  a unit-sized random blob (MANO: 0.1 scale)
    shapedirs      (V, 3, K)   float64  small random shape blend shapes
    posedirs       (V, 3, P)   float64  small random pose correctives
    J_regressor    (J, V)      float64  non-negative, 12 non-zeros per row, rows sum to 1
    weights        (V, J)      float64  non-negative, 4 non-zeros per row, rows sum to 1
    kintree_table  (2, J)      int64    parents (root 4294967295, as in the files), ids
    f              (2V, 3)     uint32   random vertex triples (not a manifold mesh)
    SMPL+H, SMPL-X: hands_components{l,r} (45, 45) orthonormal, hands_mean{l,r} (45,)
    MANO:           hands_components (45, 45) orthonormal, hands_mean (45,)
    SMPL-X:         lmk_faces_idx (51,) int64, lmk_bary_coords (51, 3) rows summing to 1

``humanrecon.body.BodyModel.load`` (after ``np.savez``) and smplx accept these arrays;
the model type is detected from the kinematic tree as for real files.
"""

from __future__ import annotations

import numpy as np

from humanrecon.errors import InputError

#: official vertex counts per model type
VERTEX_COUNT = {"smpl": 6890, "smplh": 6890, "smplx": 10475, "mano": 778}
#: parents of the 22 body joints shared by SMPL, SMPL+H and SMPL-X
BODY_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19]


def _hand_parents(wrist: int, first: int) -> list[int]:
    """Parents of 15 finger joints (5 chains of 3) numbered from ``first``."""
    parents = []
    for finger in range(5):
        base = first + 3 * finger
        parents += [wrist, base, base + 1]
    return parents


def parents_for(model_type: str) -> list[int]:
    """Parent index of every joint of ``model_type`` (``-1`` for the root), in the
    official kinematic order: ``"smpl"`` 24, ``"smplh"`` 52, ``"smplx"`` 55, ``"mano"`` 16."""
    if model_type == "smpl":
        return BODY_PARENTS + [20, 21]
    if model_type == "smplh":
        return BODY_PARENTS + _hand_parents(20, 22) + _hand_parents(21, 37)
    if model_type == "smplx":
        return BODY_PARENTS + [15, 15, 15] + _hand_parents(20, 25) + _hand_parents(21, 40)
    if model_type == "mano":
        return [-1] + _hand_parents(0, 1)
    raise InputError(f"unknown model type '{model_type}' (expected one of {', '.join(VERTEX_COUNT)})")


def _rows_sum_to_one(rng: np.random.Generator, rows: int, cols: int, nonzero: int) -> np.ndarray:
    out = np.zeros((rows, cols))
    for r in range(rows):
        idx = rng.choice(cols, size=nonzero, replace=False)
        out[r, idx] = rng.random(nonzero) + 0.1
    return out / out.sum(1, keepdims=True)


def random_model_arrays(model_type: str, seed: int = 0, num_shape: int | None = None) -> dict:
    """Arrays of a random ``model_type`` model (``"smpl"``, ``"smplh"``, ``"smplx"`` or
    ``"mano"``) in the official layout (shapes in the module docstring). ``seed`` fixes
    the contents; ``num_shape`` is the number of shape components (default 10, SMPL-X 20)."""
    rng = np.random.default_rng(seed)
    parents = parents_for(model_type)
    num_v = VERTEX_COUNT[model_type]
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
