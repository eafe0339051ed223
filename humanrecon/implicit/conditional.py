"""Occupancy Networks conditioned on a point cloud (Mescheder et al. 2019, Sec. 4.2):
a PointNet encoder maps an observed cloud ``(B, M, 3)`` to a code, the CBN decoder maps
query points and that code to occupancy logits. Trained over many shapes, it completes
the surface of a shape it has never seen from a sparse, noisy cloud.

Coordinates are metres in one world frame shared by clouds and queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from humanrecon.errors import InputError
from humanrecon.io.checkpoints import Checkpointed
from humanrecon.implicit.losses import occupancy_bce
from humanrecon.implicit.networks import OccupancyNetwork, PointNetEncoder
from humanrecon.implicit.train import History, TrainConfig, optimize

#: ``(n, generator) -> (points (n, 3), occupancy (n,))``: labelled query points of one shape
QuerySampler = Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class TrainingShape:
    """One training shape: ``surface (S, 3)`` points to draw input clouds from, and a
    sampler of labelled query points (e.g. a :class:`humanrecon.implicit.data.PointPool`)."""

    surface: torch.Tensor
    queries: QuerySampler


class PointCloudOccupancy(Checkpointed, nn.Module):
    """PointNet encoder + conditional-batch-norm occupancy decoder.

    ``forward(cloud (B, M, 3), points (B, N, 3)) -> logits (B, N)`` (inside where > 0).
    """

    def __init__(self, c_dim: int = 128, encoder_hidden: int = 128, decoder_hidden: int = 256,
                 decoder_blocks: int = 5) -> None:
        super().__init__()
        self.config = {"c_dim": c_dim, "encoder_hidden": encoder_hidden, "decoder_hidden": decoder_hidden,
                       "decoder_blocks": decoder_blocks}
        self.encoder = PointNetEncoder(c_dim, encoder_hidden)
        self.decoder = OccupancyNetwork(c_dim, decoder_hidden, decoder_blocks)

    def forward(self, cloud: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        return self.decoder(points, self.encoder(cloud))

    checkpoint_kind = "pointcloud-occupancy"

    def checkpoint_settings(self) -> dict:
        return dict(self.config)


def noisy_cloud(surface: torch.Tensor, n: int, noise: float, generator: torch.Generator) -> torch.Tensor:
    """``n`` random points of ``surface (S, 3)`` plus N(0, noise²) per coordinate (metres)."""
    idx = torch.randint(len(surface), (n,), generator=generator)
    return surface[idx] + noise * torch.randn(n, 3, generator=generator)


def train_point_conditioned(model: PointCloudOccupancy, shapes: list[TrainingShape], config: TrainConfig,
                            shapes_per_step: int = 8, cloud_points: int = 300, noise: float = 0.005) -> History:
    """ONet's point-cloud completion objective: each step draws ``shapes_per_step``
    shapes, a cloud of ``cloud_points`` noisy surface points and ``config.batch_points``
    labelled queries of each, and minimises the BCE of the decoded occupancy."""
    if not shapes:
        raise InputError("need at least one training shape")
    per_shape = max(1, config.batch_points // shapes_per_step)

    def loss_fn(step, generator):
        picks = torch.randint(len(shapes), (shapes_per_step,), generator=generator).tolist()
        clouds = torch.stack([noisy_cloud(shapes[i].surface, cloud_points, noise, generator) for i in picks])
        queries = [shapes[i].queries(per_shape, generator) for i in picks]
        points = torch.stack([q[0] for q in queries])
        occupancy = torch.stack([q[1] for q in queries])
        return occupancy_bce(model(clouds, points), occupancy)
    return optimize(model, loss_fn, config, name="point-cloud occupancy")
