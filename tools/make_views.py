"""Synthetic multi-view dataset of a coloured mesh in the Blender / NeRF-synthetic format.

Renders RGB + alpha from cameras spread over a sphere around the mesh (elevation within
±75°, Y up), a fixed world light (Lambert, so colours do not change with the view), and
writes ``train/``, ``val/``, ``test/`` plus ``transforms_{split}.json`` into ``--out``.
Each split's cameras come from a different seed, so val/test views are novel.
Without MESH, the open body in its rest pose, coloured by body part (dominant skinning joint).

    python tools/make_views.py [MESH] --out DIR [--views 100] [--size 128] [--val 20]
        [--test 20] [--seed 0] [--supersample 1] [--overwrite]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from humanrecon.datasets import check_writable, output_paths, write_blender  # noqa: E402
from humanrecon.datasets.synthetic import (  # noqa: E402
    GREY,
    body_part_colors,
    bounding_sphere,
    render_rgba,
    sphere_cameras,
)
from humanrecon.geometry.camera import Camera  # noqa: E402

FOV_X_RAD = math.radians(40.0)  # close to NeRF-synthetic's camera_angle_x = 0.69 rad
SPLITS = ("train", "val", "test")


def default_body() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The open body in its rest pose: vertices ``(V, 3)`` metres (Y up), faces ``(F, 3)``, part colours ``(V, 3)``."""
    import torch

    from humanrecon.body import BodyModel

    model = BodyModel.load("open")
    with torch.no_grad():
        vertices = model().vertices[0].numpy()
    return vertices, model.faces, body_part_colors(model)


def mesh_from_file(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertices, faces and vertex colours ``(V, 3)`` in [0, 1] of a mesh file (light grey if uncoloured)."""
    from humanrecon.geometry.mesh_io import load_mesh

    mesh = load_mesh(path)
    vertices = np.asarray(mesh.vertices, np.float32)
    if getattr(mesh.visual, "kind", None) in ("vertex", "face"):
        colors = np.asarray(mesh.visual.vertex_colors, np.float32)[:, :3] / 255.0
    else:
        colors = np.broadcast_to(np.asarray(GREY, np.float32), vertices.shape).copy()
    return vertices, np.asarray(mesh.faces, np.int64), colors


def make_views(
    vertices,
    faces,
    vertex_colors,
    out: str | Path,
    views: int = 100,
    size: int = 128,
    val: int = 20,
    test: int = 20,
    seed: int = 0,
    supersample: int = 1,
    overwrite: bool = False,
    *,
    fov_x_rad: float = FOV_X_RAD,
    progress: bool = True,
) -> dict[str, Camera]:
    """Render and write a Blender-format dataset; return the cameras used per split.

    Args:
        vertices: ``(V, 3)`` metres, world Y up; faces: ``(F, 3)``; vertex_colors: ``(V, 3)``
            RGB in [0, 1] or None (light grey).
        out: dataset folder. views / val / test: number of train / val / test images (a
            split with 0 images is not written).
        size: square image side in pixels; supersample: render at ``supersample`` x size and
            area-average down (fractional alpha at edges).
        seed: split ``i`` uses the cameras of seed ``(seed, i)``.
        overwrite: replace existing files; otherwise ``FileExistsError`` before rendering.
    Returns:
        ``{split: Camera}`` (OpenCV, float32) for the splits written.
    """
    counts = {name: int(n) for name, n in zip(SPLITS, (views, val, test)) if n > 0}
    if "train" not in counts:
        raise ValueError(f"views (train images) must be >= 1, got {views}")
    for name, n in counts.items():
        check_writable(output_paths(out, name, n), overwrite)
    center, radius = bounding_sphere(vertices)
    cameras = {}
    for name, n in counts.items():
        cams = sphere_cameras(center, radius, n, size, fov_x_rad, seed=(seed, SPLITS.index(name)))
        rgba = render_rgba(vertices, faces, cams, vertex_colors=vertex_colors, supersample=supersample,
                           progress=progress, desc=name)
        write_blender(out, name, rgba, cams, overwrite=overwrite)
        cameras[name] = cams
    return cameras


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mesh", nargs="?", help="mesh file (trimesh formats); default: the open body")
    parser.add_argument("--out", required=True, help="dataset folder")
    parser.add_argument("--views", type=int, default=100, help="train views")
    parser.add_argument("--val", type=int, default=20)
    parser.add_argument("--test", type=int, default=20)
    parser.add_argument("--size", type=int, default=128, help="image side in pixels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--supersample", type=int, default=1)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        mesh = mesh_from_file(args.mesh) if args.mesh else default_body()
        cams = make_views(*mesh, args.out, args.views, args.size, args.val, args.test, args.seed,
                          args.supersample, args.overwrite)
    except (FileExistsError, FileNotFoundError, ValueError) as exc:
        print(f"make_views: error: {exc}", file=sys.stderr)
        return 1
    counts = ", ".join(f"{len(c)} {name}" for name, c in cams.items())
    print(f"wrote {args.out}: {counts} views at {args.size}x{args.size} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
