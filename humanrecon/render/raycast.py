"""Mesh pictures by ray casting (open3d ``RaycastingScene``) and hand-written shading.

Frames and units: vertices are world-frame positions in metres, cameras are
:class:`humanrecon.geometry.camera.Camera` (OpenCV convention, world-to-camera
extrinsics). Outputs are numpy arrays on the CPU, images ``(H, W, 3)`` float32 RGB in
``[0, 1]``. ``open3d`` is imported lazily, on the first render.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np

from humanrecon._validation import mesh_arrays, to_numpy
from humanrecon.errors import InputError, InputTypeError
from humanrecon.geometry.raycasting import INVALID_ID, raycasting_scene
from humanrecon.geometry.camera import Camera

Color = Union[Sequence[float], np.ndarray]


@dataclass
class RenderResult:
    """One rendered view; all arrays are numpy on the CPU.

    Attributes:
        image: ``(H, W, 3)`` float32 RGB in ``[0, 1]``, the shaded mesh over the background.
        depth: ``(H, W)`` float32 z-depth along the camera's optical axis in metres, ``inf``
            where no surface was hit.
        normals: ``(H, W, 3)`` float32 world-frame unit face normals facing the camera,
            zero where no surface was hit.
        mask: ``(H, W)`` bool, True where a triangle was hit.
        face_ids: ``(H, W)`` int64 index of the hit triangle, ``-1`` where nothing was hit.
    """

    image: np.ndarray
    depth: np.ndarray
    normals: np.ndarray
    mask: np.ndarray
    face_ids: np.ndarray


@dataclass
class _Hits:
    """Raw ray-cast output for one view, shapes ``(H, W, ...)``."""

    directions: np.ndarray  # unit world ray directions (H, W, 3)
    distance: np.ndarray  # Euclidean hit distance (H, W), inf on miss
    face_ids: np.ndarray  # (H, W) int64, -1 on miss
    uvs: np.ndarray  # barycentric (u, v) of the hit, p = (1-u-v) p0 + u p1 + v p2
    normals: np.ndarray  # (H, W, 3) unit, facing the camera, 0 on miss
    depth: np.ndarray  # (H, W) z-depth, inf on miss

    @property
    def mask(self) -> np.ndarray:
        return self.face_ids >= 0


# --------------------------------------------------------------------------- inputs
def _as_color_array(c, name: str, n: int | None = None) -> np.ndarray:
    """Colour(s) as float32 RGB in [0, 1]; uint8 input is divided by 255."""
    arr = to_numpy(c)
    arr = arr.astype(np.float32) / 255.0 if arr.dtype == np.uint8 else arr.astype(np.float32)
    if arr.shape[-1:] != (3,) or (n is not None and arr.shape != (n, 3)):
        want = f"({n}, 3)" if n is not None else "(3,)"
        raise InputError(f"{name} must have shape {want} RGB, got {arr.shape}")
    return arr


def _single_view(camera: Camera) -> Camera:
    if not isinstance(camera, Camera):
        raise InputTypeError(f"camera must be a humanrecon Camera, got {type(camera).__name__}")
    if camera.batch_size != 1:
        raise InputError(f"render_mesh renders one view: pass camera[i], got batch size {camera.batch_size}")
    return camera


def _background(background, height: int, width: int) -> np.ndarray:
    """Background image ``(H, W, 3)`` float32 from None (white), a colour or an image."""
    if background is None:
        return np.ones((height, width, 3), np.float32)
    bg = to_numpy(background)
    bg = bg.astype(np.float32) / 255.0 if bg.dtype == np.uint8 else bg.astype(np.float32)
    if bg.shape == (3,):
        return np.broadcast_to(bg, (height, width, 3)).copy()
    if bg.shape != (height, width, 3):
        raise InputError(f"background must be an RGB colour (3,) or an image ({height}, {width}, 3), got {bg.shape}")
    return bg.copy()


# --------------------------------------------------------------------------- ray casting
class _Scene:
    """An open3d ray-casting scene of one triangle mesh (built once, cast many times)."""

    def __init__(self, vertices, faces) -> None:
        import open3d as o3d  # lazy: heavy import

        self.vertices, self.faces = mesh_arrays(vertices, faces)
        self._o3d = o3d
        self.scene = raycasting_scene(self.vertices, self.faces)

    def cast(self, camera: Camera) -> _Hits:
        camera = _single_view(camera)
        origins, dirs = camera.rays()  # (1, H, W, 3), unit directions
        origins = origins[0].detach().cpu().numpy().astype(np.float32)
        dirs = dirs[0].detach().cpu().numpy().astype(np.float32)
        rays = self._o3d.core.Tensor(np.ascontiguousarray(np.concatenate([origins, dirs], axis=-1)))
        ans = self.scene.cast_rays(rays)
        prim = ans["primitive_ids"].numpy()
        hit = prim != INVALID_ID
        face_ids = np.where(hit, prim.astype(np.int64), -1)
        distance = np.where(hit, ans["t_hit"].numpy(), np.inf).astype(np.float32)
        normals = _facing_normals(ans["primitive_normals"].numpy(), dirs, hit)
        axis = camera.optical_axis[0].detach().cpu().numpy().astype(np.float64)
        axis /= np.linalg.norm(axis)
        depth = np.where(hit, distance * (dirs @ axis), np.inf).astype(np.float32)
        uvs = np.where(hit[..., None], ans["primitive_uvs"].numpy(), 0.0).astype(np.float32)
        return _Hits(dirs, distance, face_ids, uvs, normals, depth)


def _facing_normals(normals: np.ndarray, dirs: np.ndarray, hit: np.ndarray) -> np.ndarray:
    """Unit normals flipped to face the viewer (``n . d <= 0``); zero on misses."""
    n = normals.astype(np.float32)
    length = np.linalg.norm(n, axis=-1, keepdims=True)
    n = np.where(length > 0, n / np.maximum(length, 1e-12), 0.0)
    flip = (n * dirs).sum(-1, keepdims=True) > 0
    n = np.where(flip, -n, n)
    return np.where(hit[..., None], n, 0.0).astype(np.float32)


# --------------------------------------------------------------------------- shading
def _base_colors(hits: _Hits, scene: _Scene, vertex_colors, color) -> np.ndarray:
    """Albedo per pixel ``(H, W, 3)``: barycentric vertex colours or one uniform colour."""
    if vertex_colors is None:
        return np.broadcast_to(_as_color_array(color, "color"), hits.normals.shape)
    vc = _as_color_array(vertex_colors, "vertex_colors", n=len(scene.vertices))
    tri = scene.faces[np.maximum(hits.face_ids, 0)]  # (H, W, 3) vertex ids
    u, v = hits.uvs[..., 0:1], hits.uvs[..., 1:2]
    weights = np.concatenate([1.0 - u - v, u, v], axis=-1)  # (H, W, 3)
    return (weights[..., None] * vc[tri]).sum(axis=-2)


def _lambert(hits: _Hits, light_dir, ambient: float) -> np.ndarray:
    """Intensity ``ambient + (1 - ambient) max(0, n . l)`` per pixel ``(H, W, 1)``.

    ``light_dir`` is the world direction *towards* the light; ``None`` is a headlight
    (light at the camera centre, ``l = -ray direction``).
    """
    if not 0.0 <= ambient <= 1.0:
        raise InputError(f"ambient must lie in [0, 1], got {ambient}")
    if light_dir is None:
        light = -hits.directions
    else:
        light = to_numpy(light_dir).astype(np.float32).reshape(-1)
        if light.shape != (3,) or not np.linalg.norm(light) > 0:
            raise InputError(f"light_dir must be a non-zero (3,) direction, got {light}")
        light = light / np.linalg.norm(light)
    diffuse = np.clip((hits.normals * light).sum(-1, keepdims=True), 0.0, 1.0)
    return ambient + (1.0 - ambient) * diffuse


def _composite(rgb: np.ndarray, mask: np.ndarray, background: np.ndarray, alpha: float) -> np.ndarray:
    """Blend ``rgb`` over ``background`` with opacity ``alpha`` where ``mask``."""
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"alpha must lie in [0, 1], got {alpha}")
    out = background.copy()
    if alpha > 0:
        out[mask] = alpha * rgb[mask] + (1.0 - alpha) * background[mask]
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _render_hits(hits: _Hits, scene: _Scene, camera: Camera, *, vertex_colors, color, background, alpha, light_dir, ambient) -> RenderResult:
    albedo = _base_colors(hits, scene, vertex_colors, color)
    rgb = albedo * _lambert(hits, light_dir, ambient)
    bg = _background(background, camera.height, camera.width)
    image = _composite(rgb, hits.mask, bg, alpha)
    return RenderResult(image=image, depth=hits.depth, normals=hits.normals, mask=hits.mask, face_ids=hits.face_ids)


# --------------------------------------------------------------------------- public API
def render_mesh(
    vertices,
    faces,
    camera: Camera,
    *,
    vertex_colors=None,
    color: Color = (0.75, 0.75, 0.8),
    background=None,
    alpha: float = 1.0,
    light_dir=None,
    ambient: float = 0.25,
) -> RenderResult:
    """Render one view of a triangle mesh by ray casting.

    Args:
        vertices: ``(V, 3)`` world positions in metres (numpy or torch, any device).
        faces: ``(F, 3)`` integer vertex indices.
        camera: a :class:`Camera` with batch size 1 (use ``cameras[i]``).
        vertex_colors: optional ``(V, 3)`` RGB in ``[0, 1]`` (or uint8), interpolated
            barycentrically; otherwise the uniform ``color``.
        background: None (white), an RGB colour ``(3,)`` or an image ``(H, W, 3)`` in ``[0, 1]``.
        alpha: opacity of the mesh over the background (1 opaque, 0 invisible).
        light_dir: world direction towards a directional light; None = headlight.
        ambient: ambient fraction of the Lambert shading.

    Returns:
        :class:`RenderResult` (image, z-depth, camera-facing normals, mask, face ids).
    """
    scene = _Scene(vertices, faces)
    hits = scene.cast(camera)
    return _render_hits(
        hits, scene, camera, vertex_colors=vertex_colors, color=color,
        background=background, alpha=alpha, light_dir=light_dir, ambient=ambient,
    )


def render_depth(vertices, faces, camera: Camera) -> np.ndarray:
    """z-depth ``(H, W)`` float32 in metres along the optical axis, ``inf`` where nothing is hit."""
    return _Scene(vertices, faces).cast(camera).depth


def render_normals(vertices, faces, camera: Camera) -> np.ndarray:
    """World-frame unit normals facing the camera ``(H, W, 3)`` float32, zero where nothing is hit."""
    return _Scene(vertices, faces).cast(camera).normals


def _camera_list(cameras: Camera | Sequence[Camera]) -> list[Camera]:
    if isinstance(cameras, Camera):
        return [cameras[i] for i in range(cameras.batch_size)]
    return [_single_view(c) for c in cameras]


def render_views(vertices, faces, cameras: Camera | Sequence[Camera], **kwargs) -> list[RenderResult]:
    """Render one mesh from several cameras (a batched :class:`Camera` or a list of them).

    The ray-casting scene is built once. ``kwargs`` are those of :func:`render_mesh`.
    """
    scene = _Scene(vertices, faces)
    defaults = dict(vertex_colors=None, color=(0.75, 0.75, 0.8), background=None, alpha=1.0, light_dir=None, ambient=0.25)
    unknown = set(kwargs) - set(defaults)
    if unknown:
        raise InputTypeError(f"unexpected keyword arguments: {sorted(unknown)}")
    opts = {**defaults, **kwargs}
    return [_render_hits(scene.cast(cam), scene, cam, **opts) for cam in _camera_list(cameras)]


def turntable_cameras(
    center,
    distance: float,
    n_views: int,
    *,
    width: int,
    height: int,
    fov_x_rad: float = math.radians(40.0),
    elevation_rad: float = math.radians(10.0),
    up: Color = (0.0, 1.0, 0.0),
) -> Camera:
    """``n_views`` cameras on a circle around ``up`` through ``center`` (world, metres).

    View 0 looks from the side the world z axis points to (the front of a Y-up,
    +z-facing body); the azimuth grows counter-clockwise seen from above. Returns a
    :class:`Camera` of batch size ``n_views`` looking at ``center``, upright.
    """
    if n_views < 1:
        raise InputError(f"n_views must be >= 1, got {n_views}")
    c = np.asarray(to_numpy(center), np.float64).reshape(3)
    u = np.asarray(up, np.float64).reshape(3)
    u /= np.linalg.norm(u)
    ref = np.array([0.0, 0.0, 1.0]) if abs(u[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e1 = ref - (ref @ u) * u
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(u, e1)
    az = 2.0 * np.pi * np.arange(n_views) / n_views
    ring = np.cos(az)[:, None] * e1 + np.sin(az)[:, None] * e2
    eye = c + distance * (math.cos(elevation_rad) * ring + math.sin(elevation_rad) * u)
    target = np.broadcast_to(c, eye.shape)
    return Camera.look_at(eye.astype(np.float32), target.astype(np.float32), u.astype(np.float32),
                          width=width, height=height, fov_x_rad=fov_x_rad)


def render_turntable(
    vertices,
    faces,
    n_views: int = 8,
    *,
    width: int = 256,
    height: int = 256,
    fov_x_rad: float = math.radians(40.0),
    elevation_rad: float = math.radians(10.0),
    distance: float | None = None,
    up: Color = (0.0, 1.0, 0.0),
    **kwargs,
) -> list[RenderResult]:
    """Render ``n_views`` views around the mesh's bounding-box centre (see :func:`turntable_cameras`).

    ``distance`` (metres) defaults to one that fits the bounding sphere in the narrower
    field of view with a 10% margin. ``kwargs`` go to :func:`render_mesh`.
    """
    v, f = mesh_arrays(vertices, faces)
    lo, hi = v.min(0), v.max(0)
    center = 0.5 * (lo + hi)
    if distance is None:
        radius = max(0.5 * float(np.linalg.norm(hi - lo)), 1e-6)
        half_fov = 0.5 * min(fov_x_rad, 2.0 * math.atan(math.tan(0.5 * fov_x_rad) * height / width))
        distance = 1.1 * radius / math.sin(half_fov)
    cams = turntable_cameras(center, distance, n_views, width=width, height=height,
                             fov_x_rad=fov_x_rad, elevation_rad=elevation_rad, up=up)
    return render_views(v, f, cams, **kwargs)
