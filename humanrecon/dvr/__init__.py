"""Differentiable volumetric rendering (DVR, Niemeyer et al. CVPR 2020): implicit surfaces
rendered by ray marching with secant refinement, exact gradients by implicit
differentiation (:mod:`.surface`)."""

from humanrecon.dvr.surface import (OCCUPANCY, SDF, RayHits, SurfaceLevel, find_surface, saved_tensor_bytes,
                                    surface_depth, unrolled_surface_depth)

__all__ = ["OCCUPANCY", "SDF", "RayHits", "SurfaceLevel", "find_surface", "saved_tensor_bytes", "surface_depth",
           "unrolled_surface_depth"]
