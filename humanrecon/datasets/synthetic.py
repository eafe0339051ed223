"""Synthetic multi-view datasets of a mesh: cameras on a sphere, body-part colours, RGBA renders.

Frames and units: world coordinates in metres, Y up (the body model's convention);
cameras are OpenCV :class:`~humanrecon.geometry.camera.Camera` objects (world-to-camera).
Images are float32 in ``[0, 1]``. Shading is Lambert under a *fixed world* light, so a
surface point has the same colour in every view (what NeRF-style methods assume for
view-independent appearance).
"""

from __future__ import annotations

import colorsys
import math
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from humanrecon._validation import to_numpy
from humanrecon.errors import InputError
from humanrecon.io.files import check_outputs
from humanrecon.datasets.blender import output_paths, write_blender
from humanrecon.datasets.split import downscale_rgba, scale_cameras
from humanrecon.geometry.camera import Camera

LIGHT_DIR = (0.3, 0.8, 0.5)  # world direction *towards* the light: above, right, in front (+z)
AMBIENT = 0.35
GREY = (0.8, 0.8, 0.8)
_GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))  # radians between Fibonacci-sphere points
_GOLDEN_FRACTION = (math.sqrt(5.0) - 1.0) / 2.0  # hue step between palette colours


def bounding_sphere(vertices) -> tuple[np.ndarray, float]:
    """A sphere holding all ``vertices (V, 3)``: centre ``(3,)`` (bounding-box centre) and radius (metres)."""
    v = to_numpy(vertices).astype(np.float64)
    if v.ndim != 2 or v.shape[1] != 3 or len(v) == 0:
        raise InputError(f"vertices must have shape (V, 3) with V > 0, got {v.shape}")
    center = 0.5 * (v.min(0) + v.max(0))
    return center, float(np.linalg.norm(v - center, axis=1).max())


def sphere_directions(n: int, seed: int | Sequence[int] = 0, max_elevation_rad: float = math.radians(75.0)) -> np.ndarray:
    """``n`` unit directions ``(n, 3)`` spread evenly over the sphere band ``|elevation| <= max_elevation_rad``.

    A Fibonacci lattice in the band (equal area per point, elevation measured from the
    world XZ plane, Y up) with a random azimuth rotation and stratum offset from ``seed``
    (an int or ints for numpy's ``SeedSequence``): different seeds give different points.
    """
    if n < 1:
        raise InputError(f"n must be >= 1, got {n}")
    if not 0.0 <= max_elevation_rad < 0.5 * math.pi:
        raise InputError(f"max_elevation_rad must lie in [0, pi/2), got {max_elevation_rad}")
    rng = np.random.default_rng(seed)
    offset, azimuth0 = rng.random(), rng.uniform(0.0, 2.0 * math.pi)
    k = np.arange(n)
    y = math.sin(max_elevation_rad) * (1.0 - 2.0 * (k + offset) / n)
    azimuth = azimuth0 + _GOLDEN_ANGLE * k
    ring = np.sqrt(1.0 - y**2)
    return np.stack([ring * np.sin(azimuth), y, ring * np.cos(azimuth)], axis=-1)


def fit_distance(radius: float, fov_rad: float, margin: float = 1.1) -> float:
    """Camera distance (metres) at which a sphere of ``margin * radius`` just fills the field of view ``fov_rad``."""
    if not 0.0 < fov_rad < math.pi:
        raise InputError(f"field of view must lie in (0, pi) radians, got {fov_rad}")
    return margin * radius / math.sin(0.5 * fov_rad)


def sphere_cameras(
    center,
    radius: float,
    n: int,
    size: int,
    fov_x_rad: float = math.radians(40.0),
    seed: int | Sequence[int] = 0,
    *,
    margin: float = 1.1,
    max_elevation_rad: float = math.radians(75.0),
) -> Camera:
    """``n`` square ``size x size`` cameras looking at ``center (3,)``, spread over a sphere.

    The eyes lie on :func:`sphere_directions` (``seed``) at :func:`fit_distance` from the
    centre, so a bounding sphere of ``radius`` (metres) fits the view with ``margin``;
    images are upright for world up = +Y. Returns a float32 :class:`Camera` of batch ``n``.
    """
    if radius <= 0:
        raise InputError(f"radius must be > 0, got {radius}")
    c = np.asarray(to_numpy(center), np.float64).reshape(3)
    eye = c + fit_distance(radius, fov_x_rad, margin) * sphere_directions(n, seed, max_elevation_rad)
    target = np.broadcast_to(c, eye.shape)
    return Camera.look_at(torch.from_numpy(eye), torch.from_numpy(target.copy()), (0.0, 1.0, 0.0),
                          width=size, height=size, fov_x_rad=torch.tensor(fov_x_rad, dtype=torch.float64),
                          ).to(dtype=torch.float32)


def part_palette(n: int) -> np.ndarray:
    """``(n, 3)`` distinct saturated RGB colours in ``[0, 1]``.

    Hues step by the golden fraction of a turn (so neighbouring indices differ strongly)
    and brightness alternates between odd and even indices.
    """
    return np.array([
        colorsys.hsv_to_rgb((k * _GOLDEN_FRACTION) % 1.0, 0.8, 0.95 if k % 2 == 0 else 0.7) for k in range(n)
    ], dtype=np.float32)


def body_part_colors(model) -> np.ndarray:
    """``(V, 3)`` float32 RGB per vertex of a body model: the palette colour of its dominant joint.

    ``model`` is anything with skinning weights ``lbs_weights (V, J)`` (e.g. a
    :class:`humanrecon.body.BodyModel`); joint ``j`` gets ``part_palette(J)[j]``.
    """
    weights = to_numpy(model.lbs_weights)
    return part_palette(weights.shape[1])[weights.argmax(axis=1)]


def render_rgba(
    vertices,
    faces,
    cameras: Camera,
    *,
    vertex_colors=None,
    color=GREY,
    supersample: int = 1,
    light_dir=LIGHT_DIR,
    ambient: float = AMBIENT,
    progress: bool = False,
    desc: str | None = None,
) -> np.ndarray:
    """Render RGBA views ``(N, H, W, 4)`` float32 of a mesh (straight, not premultiplied, alpha).

    Args:
        vertices: ``(V, 3)`` world positions in metres; faces: ``(F, 3)`` vertex indices.
        cameras: batch-``N`` :class:`Camera` of size ``W x H``.
        vertex_colors: optional ``(V, 3)`` RGB in ``[0, 1]``; otherwise the uniform ``color``.
        supersample: render at ``supersample`` times the size and area-average the
            premultiplied colour and the coverage down, giving fractional alpha at edges.
        light_dir: fixed world direction towards the light (Lambert with ``ambient``).
        progress, desc: show a tqdm bar (one step per view) labelled ``desc``.
    """
    from tqdm import tqdm

    from humanrecon.render import render_views  # lazy: pulls in open3d on first render

    if isinstance(supersample, bool) or not isinstance(supersample, int) or supersample < 1:
        raise InputError(f"supersample must be an integer >= 1, got {supersample!r}")
    fine = scale_cameras(cameras, supersample)
    out = np.empty((cameras.batch_size, cameras.height, cameras.width, 4), np.float32)
    for i in tqdm(range(cameras.batch_size), desc=desc, disable=not progress, unit="view"):
        result = render_views(vertices, faces, fine[i], vertex_colors=vertex_colors, color=color,
                              background=(0.0, 0.0, 0.0), light_dir=light_dir, ambient=ambient)[0]
        rgb, alpha = downscale_rgba(torch.from_numpy(result.image), torch.from_numpy(result.mask.astype(np.float32)),
                                    supersample)
        out[i, ..., :3], out[i, ..., 3] = rgb.numpy(), alpha.numpy()
    return out


# --------------------------------------------------------------------------- datasets
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
    from humanrecon.io.meshes import load_mesh

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
        raise InputError(f"views (train images) must be >= 1, got {views}")
    for name, n in counts.items():
        check_outputs(output_paths(out, name, n), overwrite)
    center, radius = bounding_sphere(vertices)
    cameras = {}
    for name, n in counts.items():
        cams = sphere_cameras(center, radius, n, size, fov_x_rad, seed=(seed, SPLITS.index(name)))
        rgba = render_rgba(vertices, faces, cams, vertex_colors=vertex_colors, supersample=supersample,
                           progress=progress, desc=name)
        write_blender(out, name, rgba, cams, overwrite=overwrite)
        cameras[name] = cams
    return cameras
