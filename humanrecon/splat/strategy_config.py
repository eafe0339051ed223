"""Settings of adaptive density control (torch-free; used by :mod:`humanrecon.splat.strategy`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DensityConfig:
    """When and how to densify (steps; gradients in NDC units as gsplat: pixels · 2/size;
    sizes relative to the scene scale, metres)."""

    refine_start: int = 500
    refine_stop: int = 15_000
    refine_every: int = 100
    reset_every: int = 3_000
    grow_grad2d: float = 0.0002
    grow_scale3d: float = 0.01
    prune_opacity: float = 0.005
    prune_scale3d: float = 0.1
    max_gaussians: int = 2_000_000
