"""Instant-NGP's radiance field: hash-grid encoding → small density MLP (density +
geometry features) → with a spherical-harmonics encoding of the view direction → colour
MLP.

Points are world coordinates in metres, directions world-frame unit vectors; densities
``σ`` are in 1/m (opacity over a length ``δ`` is ``1 − exp(−σδ)``), colours RGB in [0, 1].
"""

from __future__ import annotations

import torch
from torch import nn

from humanrecon.nerf.hashgrid import HashGridEncoding
from humanrecon.nerf.sh import SHEncoding


class _TruncExp(torch.autograd.Function):
    """``exp(x)`` whose gradient uses ``exp(min(x, 15))`` (Instant-NGP's density
    activation: large pre-activations cannot blow the gradient up)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.exp(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * torch.exp(x.clamp(max=15.0))


def trunc_exp(x: torch.Tensor) -> torch.Tensor:
    """Truncated-exponential activation (elementwise, any shape)."""
    return _TruncExp.apply(x)


def mlp(in_dim: int, hidden: int, out_dim: int, layers: int) -> nn.Sequential:
    """``layers`` hidden ReLU layers of width ``hidden``, linear output (no biases, as
    tiny-cuda-nn's fully fused MLPs)."""
    dims = [in_dim] + [hidden] * layers
    blocks: list[nn.Module] = []
    for a, b in zip(dims[:-1], dims[1:]):
        blocks += [nn.Linear(a, b, bias=False), nn.ReLU(inplace=True)]
    blocks.append(nn.Linear(dims[-1], out_dim, bias=False))
    return nn.Sequential(*blocks)


class NGPField(nn.Module):
    """The radiance field of Instant-NGP.

    Args:
        bounds: ``(2, 3)`` scene box in metres; the hash grid covers it.
        levels, features_per_level, log2_table_size, base_resolution, finest_resolution:
            the :class:`HashGridEncoding` settings.
        hidden: width of both MLPs. geo_features: geometry features passed from the
            density MLP to the colour MLP (besides the density itself).
        sh_degree: spherical-harmonics degree of the direction encoding (4 → 16 values).
        density_bias: added to the raw density before ``trunc_exp`` (negative values start
            the field mostly empty).
    """

    def __init__(self, bounds, *, levels: int = 16, features_per_level: int = 2, log2_table_size: int = 19,
                 base_resolution: int = 16, finest_resolution: int = 2048, hidden: int = 64,
                 geo_features: int = 15, sh_degree: int = 4, color_layers: int = 2,
                 density_bias: float = 0.0) -> None:
        super().__init__()
        self.encoding = HashGridEncoding(levels=levels, features_per_level=features_per_level,
                                         log2_table_size=log2_table_size, base_resolution=base_resolution,
                                         finest_resolution=finest_resolution, bounds=bounds)
        self.density_mlp = mlp(self.encoding.output_dim, hidden, 1 + geo_features, 1)
        self.direction_encoding = SHEncoding(sh_degree)
        self.color_mlp = mlp(self.direction_encoding.output_dim + geo_features, hidden, 3, color_layers)
        self.density_bias = float(density_bias)

    def _density_and_features(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.density_mlp(self.encoding(points))
        return trunc_exp(h[:, 0] + self.density_bias), h[:, 1:]

    def density(self, points: torch.Tensor) -> torch.Tensor:
        """``points (N, 3)`` → ``σ (N,)`` in 1/m."""
        return self._density_and_features(points)[0]

    def forward(self, points: torch.Tensor, directions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``points (N, 3)``, unit ``directions (N, 3)`` → ``σ (N,)``, ``rgb (N, 3)``."""
        sigma, features = self._density_and_features(points)
        rgb = torch.sigmoid(self.color_mlp(torch.cat([self.direction_encoding(directions), features], dim=-1)))
        return sigma, rgb

    def parameter_groups(self, lr: float, weight_decay: float) -> list[dict]:
        """Adam parameter groups: the hash tables without weight decay, the MLPs with
        (Instant-NGP applies L2 only to the network weights)."""
        mlp_params = list(self.density_mlp.parameters()) + list(self.color_mlp.parameters())
        return [{"params": list(self.encoding.parameters()), "lr": lr, "weight_decay": 0.0},
                {"params": mlp_params, "lr": lr, "weight_decay": weight_decay}]
