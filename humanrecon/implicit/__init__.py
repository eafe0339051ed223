"""Neural implicit shapes: occupancy networks, DeepSDF and IGR (learning from point
clouds), their losses, single-shape training (:mod:`.train`, :mod:`.data`) and
point-cloud-conditioned occupancy networks (:mod:`.conditional`)."""

from humanrecon.implicit.conditional import PointCloudOccupancy, TrainingShape, train_point_conditioned
from humanrecon.implicit.losses import (
    clamped_l1,
    eikonal_loss,
    gradient,
    latent_regularizer,
    occupancy_bce,
)
from humanrecon.implicit.networks import (
    FourierFeatures,
    ImplicitMLP,
    OccupancyNetwork,
    PointNetEncoder,
    deepsdf_decoder,
    igr_network,
)

__all__ = [
    "FourierFeatures", "ImplicitMLP", "OccupancyNetwork", "PointCloudOccupancy", "PointNetEncoder", "TrainingShape", "clamped_l1", "deepsdf_decoder",
    "eikonal_loss", "gradient", "igr_network", "latent_regularizer", "occupancy_bce",
    "train_point_conditioned",
]
