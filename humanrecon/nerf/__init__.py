"""Neural radiance fields with Instant-NGP's multiresolution hash grid.

* :mod:`.hashgrid`: ``HashGridEncoding``; :mod:`.sh`: ``SHEncoding``, ``spherical_harmonics``
* :mod:`.field`: ``NGPField`` (hash grid → density MLP → SH directions → colour MLP)
* :mod:`.occupancy_grid`: ``OccupancyGrid`` (empty-space skipping)
* :mod:`.volume`: ray–box tests, ray marching, compositing on packed samples
* :mod:`.model`: ``NerfModel`` (field + grid, rendering, checkpoints)
* :mod:`.train`: ``NerfConfig``, ``train_nerf``; :mod:`.evaluate`: PSNR/SSIM, orbits, meshes

Names are loaded lazily (PEP 562), so importing the package (e.g. for the CLI's
``--help``) does not import torch.
"""

from __future__ import annotations

from humanrecon._lazy import lazy_exports

_EXPORTS = {
    "HashGridEncoding": "hashgrid",
    "SHEncoding": "sh",
    "spherical_harmonics": "sh",
    "NGPField": "field",
    "OccupancyGrid": "occupancy_grid",
    "composite": "volume",
    "march_rays": "volume",
    "ray_aabb": "volume",
    "NerfModel": "model",
    "NerfConfig": "train",
    "train_nerf": "train",
    "evaluate_split": "evaluate",
    "extract_density_mesh": "evaluate",
    "orbit_cameras": "evaluate",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
