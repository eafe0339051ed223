"""Triangle-mesh file I/O through trimesh (.obj, .ply, .stl, .glb, ...)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

MESH_SUFFIXES = (".obj", ".ply", ".stl", ".glb", ".off")


def save_mesh(path: str | Path, vertices, faces, vertex_colors=None) -> Path:
    """Write ``vertices (V, 3)`` (metres) and ``faces (F, 3)`` to ``path`` without
    merging or reordering vertices; ``vertex_colors (V, 3)`` in [0, 1] optional.
    Creates parent folders. Returns the path."""
    import trimesh

    path = Path(path)
    if path.suffix.lower() not in MESH_SUFFIXES:
        raise ValueError(f"{path}: unsupported mesh format (use one of {', '.join(MESH_SUFFIXES)})")
    v = np.asarray(vertices.detach().cpu() if hasattr(vertices, "detach") else vertices, dtype=np.float64)
    f = np.asarray(faces.detach().cpu() if hasattr(faces, "detach") else faces, dtype=np.int64)
    colors = None
    if vertex_colors is not None:
        colors = (np.clip(np.asarray(vertex_colors, dtype=np.float64), 0, 1) * 255).round().astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    trimesh.Trimesh(v, f, vertex_colors=colors, process=False).export(path)
    return path


def load_mesh(path: str | Path):
    """Read a triangle mesh file into a ``trimesh.Trimesh`` (scenes are merged).
    Raises ValueError naming the file if it is missing or not a triangle mesh."""
    import trimesh

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: mesh file not found")
    try:
        mesh = trimesh.load(path, force="mesh", process=False)
    except Exception as exc:  # trimesh raises many types for broken files
        raise ValueError(f"{path}: not a readable mesh ({type(exc).__name__}: {exc})") from exc
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise ValueError(f"{path}: no triangles found")
    return mesh
