"""Neural implicit shapes: occupancy networks, DeepSDF and IGR (learning from point
clouds), their losses, single-shape training (:mod:`.train`, :mod:`.data`, settings in
:mod:`.config`) and point-cloud-conditioned occupancy networks (:mod:`.conditional`).

Names are loaded lazily (PEP 562), so importing the package (e.g. for the CLI's
``--help``) does not import torch.
"""

from __future__ import annotations

from humanrecon._lazy import lazy_exports

_EXPORTS = {
    "NetworkConfig": "config",
    "TrainConfig": "config",
    "PointCloudOccupancy": "conditional",
    "TrainingShape": "conditional",
    "train_point_conditioned": "conditional",
    "clamped_l1": "losses",
    "eikonal_loss": "losses",
    "gradient": "losses",
    "latent_regularizer": "losses",
    "occupancy_bce": "losses",
    "FourierFeatures": "networks",
    "ImplicitMLP": "networks",
    "OccupancyNetwork": "networks",
    "PointNetEncoder": "networks",
    "deepsdf_decoder": "networks",
    "igr_network": "networks",
    "ImplicitShape": "train",
    "build_shape": "train",
    "fit_mesh": "data",
    "fit_points": "data",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
