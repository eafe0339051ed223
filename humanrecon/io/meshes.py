"""Triangle-mesh files through trimesh (.obj, .ply, .stl, .glb, .off); written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from humanrecon._validation import to_numpy
from humanrecon.errors import InputError, MissingFileError
from humanrecon.io.files import check_suffix, write_bytes

MESH_SUFFIXES = (".obj", ".ply", ".stl", ".glb", ".off")


def check_mesh_path(path: str | os.PathLike, what: str = "mesh") -> Path:
    """``path`` if :func:`save_mesh` can write its format, else :class:`InputError`
    (call before the work whose result it will hold)."""
    return check_suffix(path, MESH_SUFFIXES, f"{what} '{path}'")


def save_mesh(path: str | os.PathLike, vertices, faces, vertex_colors=None) -> Path:
    """Write ``vertices (V, 3)`` (metres) and ``faces (F, 3)`` to ``path`` atomically,
    without merging or reordering vertices; ``vertex_colors (V, 3)`` in [0, 1] optional.
    The format follows the suffix (:data:`MESH_SUFFIXES`). Creates parent folders.
    Returns the path."""
    import trimesh

    path = check_mesh_path(path)
    v = to_numpy(vertices, np.float64)
    f = to_numpy(faces, np.int64)
    colors = None
    if vertex_colors is not None:
        colors = (np.clip(to_numpy(vertex_colors, np.float64), 0, 1) * 255).round().astype(np.uint8)
    data = trimesh.Trimesh(v, f, vertex_colors=colors, process=False).export(file_type=path.suffix.lower()[1:])
    return write_bytes(path, data.encode("utf-8") if isinstance(data, str) else data)


def load_mesh(path: str | os.PathLike):
    """Read a triangle mesh file into a ``trimesh.Trimesh`` (scenes are merged), vertices
    as stored (no merging). Raises :class:`MissingFileError` / :class:`InputError` naming
    the file if it is missing or not a triangle mesh."""
    import trimesh

    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: mesh file not found")
    try:
        mesh = trimesh.load(path, force="mesh", process=False)
    except Exception as exc:  # trimesh raises many types for broken files
        raise InputError(f"{path}: not a readable mesh ({type(exc).__name__}: {exc})") from exc
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise InputError(f"{path}: no triangles found")
    return mesh
