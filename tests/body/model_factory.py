"""Random but valid SMPL / SMPL+H / SMPL-X / MANO model files for tests.

The arrays come from :mod:`humanrecon.body.random_models` (``random_model_arrays``,
``parents_for``; re-exported here): official layouts and sizes, random contents.
``write_npz`` saves them as ``.npz``; ``write_official_pickle`` writes them the
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

from humanrecon.body.random_models import parents_for, random_model_arrays

# parents_for and random_model_arrays are re-exported for the tests
__all__ = ["parents_for", "random_model_arrays", "write_npz", "write_official_pickle"]


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
