"""A trained NeRF: the radiance field, its occupancy grid and the marching settings,
with ray and image rendering and checkpoints.

World frame and units follow :mod:`humanrecon.geometry` (metres, OpenCV cameras).
"""

from __future__ import annotations


import torch
from torch import nn

from humanrecon._validation import box_tensor
from humanrecon.errors import InputTypeError
from humanrecon.geometry.camera import Camera
from humanrecon.io.checkpoints import Checkpointed
from humanrecon.nerf.field import NGPField
from humanrecon.nerf.occupancy_grid import OccupancyGrid
from humanrecon.nerf.volume import PackedSamples, RenderedRays, composite, march_rays, render_weights

#: field settings a checkpoint records (the NGPField keyword arguments)
FIELD_KEYS = ("levels", "features_per_level", "log2_table_size", "base_resolution", "finest_resolution",
              "hidden", "geo_features", "sh_degree", "color_layers", "density_bias")


class NerfModel(Checkpointed, nn.Module):
    """Radiance field + occupancy grid over a scene box.

    Args:
        bounds: ``(2, 3)`` scene box ``[min, max]`` in metres.
        samples_per_diagonal: the marching step is the box diagonal divided by this.
        grid_resolution: occupancy-grid cells per axis.
        transmittance_threshold: samples behind which less light than this arrives are
            dropped (early ray termination).
        field: keyword arguments of :class:`NGPField` (see ``FIELD_KEYS``).

    Checkpoints: ``save(path, **extra)``, ``NerfModel.load(path, map_location)`` (eval
    mode), ``NerfModel.restore(path, map_location) -> (model, checkpoint dict)``
    (:class:`~humanrecon.io.checkpoints.Checkpointed`).
    """

    checkpoint_kind = "nerf"

    def __init__(self, bounds, *, samples_per_diagonal: int = 512, grid_resolution: int = 64,
                 transmittance_threshold: float = 1e-4, **field) -> None:
        super().__init__()
        unknown = set(field) - set(FIELD_KEYS)
        if unknown:
            raise InputTypeError(f"unknown field settings: {sorted(unknown)}")
        bounds = box_tensor(bounds)
        self.settings = {"bounds": bounds.tolist(), "samples_per_diagonal": int(samples_per_diagonal),
                         "grid_resolution": int(grid_resolution),
                         "transmittance_threshold": float(transmittance_threshold), **field}
        self.register_buffer("bounds", bounds.clone())
        self.step = float((bounds[1] - bounds[0]).norm()) / samples_per_diagonal
        self.transmittance_threshold = float(transmittance_threshold)
        self.field = NGPField(bounds, **field)
        self.grid = OccupancyGrid(bounds, grid_resolution, step=self.step)

    # ------------------------------------------------------------------ rendering
    def sample(self, origins: torch.Tensor, directions: torch.Tensor, *, jitter: bool = False,
               generator: torch.Generator | None = None) -> PackedSamples:
        """March rays ``(R, 3)`` through the occupied cells, then drop the samples behind
        which the (gradient-free) transmittance has fallen below the threshold."""
        samples = march_rays(origins, directions, self.bounds, self.step, occupied=self.grid.is_occupied,
                             spans=self.grid.ray_spans, jitter=jitter, generator=generator)
        if len(samples) == 0 or self.transmittance_threshold <= 0:
            return samples
        with torch.no_grad():
            sigma = self.field.density(samples.points(origins, directions))
            _, transmittance, _ = render_weights(sigma, samples)
        return samples.select(transmittance > self.transmittance_threshold)

    def render_rays(self, origins: torch.Tensor, directions: torch.Tensor, background: torch.Tensor | float = 1.0,
                    *, jitter: bool = False, generator: torch.Generator | None = None) -> tuple[RenderedRays, int]:
        """Render unit-direction rays ``(R, 3)`` (world, metres) over ``background``
        (``(3,)``, ``(R, 3)`` or a grey scalar). Returns the per-ray results and the
        number of field samples evaluated."""
        samples = self.sample(origins, directions, jitter=jitter, generator=generator)
        sigma, rgb = self.field(samples.points(origins, directions), directions[samples.ray_indices])
        return composite(sigma, rgb, samples, background), len(samples)

    @torch.no_grad()
    def render_image(self, camera: Camera, background=1.0, chunk: int = 1 << 14) -> dict[str, torch.Tensor]:
        """Render one camera (batch 1): ``rgb (H, W, 3)``, ``opacity (H, W)``,
        ``depth (H, W)`` (expected Euclidean ray distance of the visible surface in
        metres, divided by opacity; 0 where empty). On the model's device."""
        device = self.bounds.device
        origins, directions = camera.to(device=device)[0].rays()
        origins, directions = origins.reshape(-1, 3), directions.reshape(-1, 3)
        rgb, opacity, depth = [], [], []
        for start in range(0, len(origins), chunk):
            out, _ = self.render_rays(origins[start:start + chunk], directions[start:start + chunk], background)
            rgb.append(out.rgb)
            opacity.append(out.opacity)
            depth.append(out.depth / out.opacity.clamp_min(1e-6))
        h, w = camera.height, camera.width
        return {"rgb": torch.cat(rgb).reshape(h, w, 3).clamp(0, 1), "opacity": torch.cat(opacity).reshape(h, w),
                "depth": torch.cat(depth).reshape(h, w)}

    # ------------------------------------------------------------------ meshing
    def extract_mesh(self, resolution: int = 256, level: float | None = None, *, initial_resolution: int = 32,
                     progress: bool = False):
        """The ``level`` iso-surface of the density (1/m; default
        :func:`humanrecon.nerf.evaluate.density_level`) in the scene box by the shared
        hierarchical extractor: an :class:`~humanrecon.geometry.meshing.ExtractionResult`
        (world metres, normals outwards); ``resolution = initial_resolution · 2^k``."""
        from humanrecon.nerf.evaluate import extract_density_mesh

        return extract_density_mesh(self, resolution, level, initial_resolution=initial_resolution, progress=progress)
