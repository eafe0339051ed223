"""Point-cloud files: ``.xyz`` / ``.xyzn`` / ``.xyzrgb`` / ``.pts`` / ``.txt`` text (parsed
here, line by line, so a malformed line is an error naming it, never a silently dropped
point), ``.ply`` (through trimesh, which refuses a file shorter than its header says) and
``.pcd`` (through open3d, with the count read checked against the header's)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from humanrecon.errors import InputError, MissingFileError

TEXT_SUFFIXES = (".xyz", ".xyzn", ".xyzrgb", ".pts", ".txt")
BINARY_SUFFIXES = (".ply", ".pcd")
POINT_SUFFIXES = TEXT_SUFFIXES + BINARY_SUFFIXES


def read_point_cloud(path: str | os.PathLike, need_normals: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Points ``(M, 3)`` float32 (metres) and unit normals ``(M, 3)`` (or None) from a file.

    Text files hold one point per line: ``x y z`` (3 columns), ``x y z nx ny nz`` (6,
    ``.xyzn``) or ``x y z r g b`` (6, ``.xyzrgb``: colours ignored); ``#`` starts a comment.
    Raises :class:`InputError` naming the file (and line) for malformed content, no
    points, non-finite values, or no normals when ``need_normals``.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: point cloud file not found")
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        points, normals = _read_text(path)
    elif suffix == ".ply":
        points, normals = _read_ply(path)
    elif suffix == ".pcd":
        points, normals = _read_pcd(path)
    else:
        raise InputError(f"{path}: unsupported point-cloud format (use one of {', '.join(POINT_SUFFIXES)})")
    if len(points) == 0:
        raise InputError(f"{path}: no points in the file")
    if not np.isfinite(points).all() or (normals is not None and not np.isfinite(normals).all()):
        raise InputError(f"{path}: the point cloud contains NaN or infinite values")
    if need_normals and normals is None:
        raise InputError(f"{path}: normals were requested (--use-normals) but the point cloud has none")
    if normals is not None:
        norm = np.linalg.norm(normals, axis=1, keepdims=True)
        normals = normals / np.where(norm > 0, norm, 1.0)
    return points.astype(np.float32), None if normals is None else normals.astype(np.float32)


def _read_text(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    rows, width = [], None
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a text point file ({exc.reason})") from exc
    for number, line in enumerate(lines, start=1):
        fields = line.split("#", 1)[0].replace(",", " ").split()
        if not fields:
            continue
        try:
            values = [float(v) for v in fields]
        except ValueError as exc:
            raise InputError(f"{path}: line {number} is not numbers: '{line.strip()[:60]}'") from exc
        if len(values) not in (3, 6) or (width is not None and len(values) != width):
            want = f"{width}" if width is not None else "3 (x y z) or 6 (x y z nx ny nz)"
            raise InputError(f"{path}: line {number} has {len(values)} numbers, expected {want}")
        width = len(values)
        rows.append(values)
    data = np.asarray(rows, dtype=np.float64).reshape(-1, width or 3)
    has_normals = data.shape[1] == 6 and path.suffix.lower() != ".xyzrgb"
    return data[:, :3], data[:, 3:6] if has_normals else None


def _read_ply(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    import trimesh

    try:
        loaded = trimesh.load(path, file_type="ply", process=False)
    except Exception as exc:  # trimesh raises many types for broken files
        raise InputError(f"{path}: broken PLY file ({type(exc).__name__}: {exc})") from exc
    points = np.asarray(getattr(loaded, "vertices", np.zeros((0, 3))), dtype=np.float64)
    raw = loaded.metadata.get("_ply_raw", {}).get("vertex", {}).get("data")
    names = (list(raw.keys()) if isinstance(raw, dict) else list(raw.dtype.names or ())) if raw is not None else []
    if raw is None or not {"nx", "ny", "nz"} <= set(names):
        return points, None
    normals = np.stack([np.asarray(raw[k], dtype=np.float64).reshape(-1) for k in ("nx", "ny", "nz")], axis=1)
    return points, normals


def _declared_count(path: Path) -> int | None:
    """The point count a PCD header declares (``POINTS N``)."""
    with open(path, "rb") as handle:
        header = handle.read(4096).decode("latin-1")
    match = re.search(r"^POINTS (\d+)", header, re.M)
    return int(match.group(1)) if match else None


def _read_pcd(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    import open3d as o3d

    declared = _declared_count(path)
    cloud = o3d.io.read_point_cloud(str(path))
    points = np.asarray(cloud.points, dtype=np.float64)
    if declared is None or len(points) != declared:
        said = "no point count" if declared is None else f"{declared} points"
        raise InputError(f"{path}: broken point-cloud file: its header declares {said} but {len(points)} "
                         "could be read")
    return points, np.asarray(cloud.normals, dtype=np.float64) if cloud.has_normals() else None
