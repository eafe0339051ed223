"""Pictures of a DVR scene: the first surface crossing of each camera ray (secant search,
:func:`humanrecon.dvr.surface.find_surface`), its texture colour, depth and normal.

Rays are searched only inside the model's scene box (``model.bounds``, world metres, via
:func:`humanrecon.geometry.scene.ray_aabb`); a ray that misses the box, meets no surface in
it, or starts inside the shape is a miss. Everything runs without autograd except the
normals, which are the shape's gradient (:meth:`~humanrecon.dvr.model.DVRModel.normals`).
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from humanrecon.dvr.surface import CHUNK_RAYS, COARSE_DIVISOR, FIELD_BATCH, SECANT_STEPS, find_surface
from humanrecon.errors import InputError
from humanrecon.geometry.camera import Camera
from humanrecon.geometry.scene import ray_aabb

#: marching samples per ray at test time (DVR trains with 128 and renders with more)
RENDER_SAMPLES = 256
#: cells per axis of :func:`occupied_box`'s grid, and the cells it grows the box by
OCCUPIED_GRID, OCCUPIED_GROW_CELLS = 64, 2
#: grey levels of the nearest and farthest hit pixel in :func:`depth_image`
DEPTH_NEAR_GREY, DEPTH_FAR_GREY = 0.15, 0.85


def _surface_shading(model, points: torch.Tensor, chunk: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Texture colour ``(H, 3)`` in [0, 1] and unit normals ``(H, 3)`` at world surface
    ``points (H, 3)``, ``chunk`` points at a time (call under ``torch.no_grad``)."""
    colors, normals = [], []
    for s in range(0, points.shape[0], chunk):
        p = points[s:s + chunk]
        colors.append(model.color(p))
        normals.append(model.normals(p).detach())  # its own enable_grad: a gradient, no graph kept
    if not colors:
        empty = points.new_zeros(0, 3)
        return empty, empty
    return torch.cat(colors), torch.cat(normals)


@torch.no_grad()
def occupied_box(model, resolution: int = OCCUPIED_GRID, chunk: int = FIELD_BATCH) -> torch.Tensor:
    """The part ``(2, 3)`` (world metres) of ``model.bounds`` where the surface can be:
    the bounding box of the centres of a ``resolution³`` grid that are inside the shape or
    within a quarter cell diagonal of its surface (the value is a distance near the
    surface, eikonal-trained), grown by :data:`OCCUPIED_GROW_CELLS` cells (parts thinner
    than a cell that end between grid points) and clipped to the bounds; the whole bounds
    when no centre qualifies. Rays searched inside it get denser samples for the same
    count (empty-space skipping, as NeRF's occupancy grid)."""
    bounds = model.bounds
    axes = [torch.linspace(float(lo), float(hi), resolution + 1, device=bounds.device, dtype=bounds.dtype)
            for lo, hi in zip(bounds[0], bounds[1])]
    centres = [0.5 * (a[1:] + a[:-1]) for a in axes]
    grid = torch.stack(torch.meshgrid(*centres, indexing="ij"), -1).reshape(-1, 3)
    cell = (bounds[1] - bounds[0]) / resolution
    values = torch.cat([model.sdf(grid[s:s + chunk]) for s in range(0, len(grid), chunk)])
    near = grid[values <= 0.25 * float(cell.norm())]
    if not len(near):
        return bounds.clone()
    grow = OCCUPIED_GROW_CELLS * cell
    return torch.stack([torch.maximum(near.amin(0) - grow, bounds[0]), torch.minimum(near.amax(0) + grow, bounds[1])])


@torch.no_grad()
def render_rays(model, origins: torch.Tensor, directions: torch.Tensor, *, background: float = 1.0,
                samples: int = RENDER_SAMPLES, secant_steps: int = SECANT_STEPS,
                chunk: int = CHUNK_RAYS, box: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Render ``R`` rays of a DVR model (:class:`~humanrecon.dvr.model.DVRModel`).

    Args:
        model: anything with ``sdf``, ``color``, ``normals`` and a ``bounds (2, 3)`` buffer.
        origins, directions: ``(R, 3)`` world rays (metres; unit directions, as
            :meth:`Camera.rays` gives them, so depths are distances in metres).
        background: grey level in [0, 1] of the pixels that miss.
        samples, secant_steps: the surface search's uniform samples inside the box per ray
            and secant refinements.
        chunk: rays (and surface points) per network batch.
        box: ``(2, 3)`` world box searched (default ``model.bounds``; e.g. :func:`occupied_box`).
        The search is :func:`~humanrecon.dvr.surface.find_surface`'s coarse march
        (``samples // COARSE_DIVISOR`` first) when the model's shape value is a distance
        (``model.distance_like``), else one dense march.
    Returns:
        ``rgb (R, 3)`` surface colour in [0, 1] (``background`` where missed), ``hit (R,)``
        bool, ``depth (R,)`` ray parameter of the surface in metres (0 where missed),
        ``normals (R, 3)`` world unit outward normals (0 where missed); on the rays' device.
    """
    if origins.ndim != 2 or origins.shape[-1] != 3 or directions.shape != origins.shape:
        raise InputError(f"origins and directions must both be (R, 3), got {tuple(origins.shape)} and "
                         f"{tuple(directions.shape)}")
    rays = origins.shape[0]
    bounds = (model.bounds if box is None else box).to(origins)
    t_near, t_far, in_box = ray_aabb(origins, directions, bounds)
    rgb = torch.full((rays, 3), float(background), dtype=origins.dtype, device=origins.device)
    depth = origins.new_zeros(rays)
    normals = origins.new_zeros(rays, 3)
    hit = torch.zeros(rays, dtype=torch.bool, device=origins.device)
    index = in_box.nonzero().squeeze(1)
    if index.numel():
        coarse = max(2, samples // COARSE_DIVISOR) if getattr(model, "distance_like", False) else None
        hits = find_surface(model.sdf, origins[index], directions[index], t_near[index], t_far[index],
                            samples=samples, secant_steps=secant_steps, surface=model.surface, chunk=chunk,
                            coarse=coarse)
        index = index[hits.hit]
        color, normal = _surface_shading(model, hits.points[hits.hit], chunk)
        hit[index] = True
        depth[index] = hits.depth[hits.hit]
        rgb[index] = color.to(rgb.dtype)
        normals[index] = normal.to(normals.dtype)
    return {"rgb": rgb, "hit": hit, "depth": depth, "normals": normals}


def render_views(model, cameras: Camera, *, background: float = 1.0, samples: int = RENDER_SAMPLES,
                 progress: bool = True) -> dict[str, torch.Tensor]:
    """Render every camera of ``cameras`` (a batch of ``C``, all ``H x W``), one at a time,
    on the device of ``model.bounds``, searching only the model's :func:`occupied_box`.

    Returns CPU tensors: ``rgb (C, H, W, 3)`` in [0, 1] over ``background``, ``mask (C, H, W)``
    bool (the ray hit the surface), ``depth (C, H, W)`` distance along the ray in metres
    (0 off the mask), ``normals (C, H, W, 3)`` world unit normals (0 off the mask).
    """
    out: dict[str, list[torch.Tensor]] = {"rgb": [], "mask": [], "depth": [], "normals": []}
    for i in tqdm(range(len(cameras)), desc="render", disable=not progress, leave=False):
        result = model.render_image(cameras[i], background, samples=samples)
        out["rgb"].append(result["rgb"].cpu())
        out["mask"].append(result["opacity"].cpu() > 0.5)
        out["depth"].append(result["depth"].cpu())
        out["normals"].append(result["normals"].cpu())
    return {key: torch.stack(values) for key, values in out.items()}


def _background_white(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    image[~mask] = 1.0
    return image.astype(np.float32)


def depth_image(depth, mask) -> np.ndarray:
    """A grey picture ``(H, W, 3)`` float32 in [0, 1] of ``depth (H, W)`` (metres): over the
    hit pixels ``mask (H, W)`` the nearest is dark grey (0.15) and the farthest light grey
    (0.85), linearly; the background is white."""
    depth = np.asarray(torch.as_tensor(depth).detach().cpu(), np.float32)
    mask = np.asarray(torch.as_tensor(mask).detach().cpu(), bool)
    if depth.ndim != 2 or mask.shape != depth.shape:
        raise InputError(f"depth and mask must both be (H, W), got {depth.shape} and {mask.shape}")
    image = np.ones((*depth.shape, 3), np.float32)
    if mask.any():
        near, far = float(depth[mask].min()), float(depth[mask].max())
        t = (depth - near) / max(far - near, 1e-12)
        grey = DEPTH_NEAR_GREY + (DEPTH_FAR_GREY - DEPTH_NEAR_GREY) * np.clip(t, 0.0, 1.0)
        image = np.repeat(grey[..., None], 3, axis=-1)
    return _background_white(image, mask)


def normal_image(normals, mask) -> np.ndarray:
    """:func:`humanrecon.render.novel_views.normal_picture` (the shared picture of normals)."""
    from humanrecon.render.novel_views import normal_picture

    return normal_picture(normals, mask)
