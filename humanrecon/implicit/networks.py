"""Neural implicit shape networks: Occupancy Networks (Mescheder et al. 2019), DeepSDF
(Park et al. 2019) and IGR (Gropp et al. 2020) decoders, a PointNet encoder and Fourier
input features.

All networks take query points ``(B, N, 3)`` (metres, the shape's frame) and return one
value per point ``(B, N)``: occupancy logits (ONet) or signed distances (DeepSDF, IGR;
negative inside). Conditioning codes are ``(B, C)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from humanrecon.errors import InputError


class FourierFeatures(nn.Module):
    """Positional encoding ``[x, sin(2^k π x / s), cos(2^k π x / s)]_{k < L}``: ``(…, 3) -> (…, 3 + 6L)``.

    ``scale`` s (metres) sets the coarsest wavelength (2 s); ``num_frequencies=0`` is the
    identity."""

    def __init__(self, num_frequencies: int = 6, scale: float = 1.0, in_dim: int = 3) -> None:
        super().__init__()
        self.in_dim = in_dim
        self.register_buffer("frequencies", math.pi * 2.0 ** torch.arange(num_frequencies) / scale)

    @property
    def out_dim(self) -> int:
        return self.in_dim * (1 + 2 * len(self.frequencies))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(self.frequencies) == 0:
            return x
        angles = x[..., None] * self.frequencies.to(x)  # (…, 3, L)
        encoded = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1).flatten(-2)
        return torch.cat([x, encoded], dim=-1)


# --------------------------------------------------------------------------- ONet
class ConditionalBatchNorm(nn.Module):
    """Batch norm over points whose scale and shift are predicted from a code:
    ``x (B, F, N)``, ``c (B, C)`` -> ``γ(c) · BN(x) + β(c)``."""

    def __init__(self, c_dim: int, features: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(features, affine=False)
        self.gamma = nn.Linear(c_dim, features)
        self.beta = nn.Linear(c_dim, features)
        nn.init.zeros_(self.gamma.weight)
        nn.init.ones_(self.gamma.bias)
        nn.init.zeros_(self.beta.weight)
        nn.init.zeros_(self.beta.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.gamma(c)[:, :, None] * self.norm(x) + self.beta(c)[:, :, None]


class ConditionalResnetBlock(nn.Module):
    """ONet's CResnetBlockConv1d: two (CBN, ReLU, 1x1 conv) layers with a skip."""

    def __init__(self, c_dim: int, features: int) -> None:
        super().__init__()
        self.bn0 = ConditionalBatchNorm(c_dim, features)
        self.bn1 = ConditionalBatchNorm(c_dim, features)
        self.fc0 = nn.Conv1d(features, features, 1)
        self.fc1 = nn.Conv1d(features, features, 1)
        nn.init.zeros_(self.fc1.weight)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = self.fc0(torch.relu(self.bn0(x, c)))
        return x + self.fc1(torch.relu(self.bn1(h, c)))


class OccupancyNetwork(nn.Module):
    """Occupancy Networks' decoder (DecoderCBatchNorm): points -> occupancy logits,
    conditioned on a code through conditional batch norm in ``num_blocks`` ResNet blocks.

    ``forward(points (B, N, 3), code (B, c_dim)) -> logits (B, N)``; occupancy probability
    is ``sigmoid(logits)``, inside where > 0.5."""

    def __init__(self, c_dim: int = 128, hidden: int = 256, num_blocks: int = 5,
                 encoding: FourierFeatures | None = None) -> None:
        super().__init__()
        self.encoding = encoding or FourierFeatures(0)
        self.c_dim = c_dim
        self.fc_p = nn.Conv1d(self.encoding.out_dim, hidden, 1)
        self.blocks = nn.ModuleList(ConditionalResnetBlock(c_dim, hidden) for _ in range(num_blocks))
        self.bn = ConditionalBatchNorm(c_dim, hidden)
        self.fc_out = nn.Conv1d(hidden, 1, 1)

    def forward(self, points: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        x = self.fc_p(self.encoding(points).transpose(1, 2))  # (B, hidden, N)
        for block in self.blocks:
            x = block(x, code)
        return self.fc_out(torch.relu(self.bn(x, code)))[:, 0]


class ResnetBlockFC(nn.Module):
    """Fully connected ResNet block (ONet's ResnetBlockFC), ``(…, in) -> (…, out)``."""

    def __init__(self, size_in: int, size_out: int | None = None) -> None:
        super().__init__()
        size_out = size_out or size_in
        hidden = min(size_in, size_out)
        self.fc0 = nn.Linear(size_in, hidden)
        self.fc1 = nn.Linear(hidden, size_out)
        self.shortcut = nn.Linear(size_in, size_out, bias=False) if size_in != size_out else None
        nn.init.zeros_(self.fc1.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dx = self.fc1(torch.relu(self.fc0(torch.relu(x))))
        return (x if self.shortcut is None else self.shortcut(x)) + dx


class PointNetEncoder(nn.Module):
    """ONet's ResnetPointnet: a point cloud ``(B, M, 3)`` -> code ``(B, c_dim)``, with
    max-pooled features concatenated back to every point between blocks."""

    def __init__(self, c_dim: int = 128, hidden: int = 128, num_blocks: int = 5) -> None:
        super().__init__()
        self.fc_pos = nn.Linear(3, 2 * hidden)
        self.blocks = nn.ModuleList(ResnetBlockFC(2 * hidden, hidden) for _ in range(num_blocks))
        self.fc_c = nn.Linear(hidden, c_dim)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        x = self.blocks[0](self.fc_pos(points))
        for block in self.blocks[1:]:
            pooled = x.max(dim=1, keepdim=True).values.expand_as(x)
            x = block(torch.cat([x, pooled], dim=-1))
        return self.fc_c(torch.relu(x.max(dim=1).values))


# --------------------------------------------------------------------------- DeepSDF / IGR
class ImplicitMLP(nn.Module):
    """DeepSDF's / IGR's decoder: an MLP on ``[code, encoded point]`` with the input
    concatenated again at the middle layer (skip connection).

    ``forward(points (B, N, 3), code (B, c_dim) or None) -> (B, N)`` signed distances.

    Args:
        c_dim: code size (0: a single shape, no code).
        hidden, num_layers: width and number of hidden layers (DeepSDF: 512, 8).
        activation: ``"relu"`` (DeepSDF) or ``"softplus"`` (IGR, β = 100, smooth gradients).
        geometric_init: IGR/SAL's initialisation so the network starts as the SDF of a
            sphere of radius ``init_radius`` (metres) — needed for learning from raw points.
        output_tanh: DeepSDF's tanh on the output (use with clamped targets).
        weight_norm: weight-normalised layers (DeepSDF).
    """

    def __init__(self, c_dim: int = 0, hidden: int = 512, num_layers: int = 8, activation: str = "relu",
                 geometric_init: bool = False, init_radius: float = 0.5, output_tanh: bool = False,
                 weight_norm: bool = False, encoding: FourierFeatures | None = None) -> None:
        super().__init__()
        if activation not in ("relu", "softplus"):
            raise InputError(f"activation must be 'relu' or 'softplus', got '{activation}'")
        self.encoding = encoding or FourierFeatures(0)
        self.c_dim = c_dim
        in_dim = c_dim + self.encoding.out_dim
        self.skip = num_layers // 2
        dims = [in_dim] + [hidden] * num_layers + [1]
        layers = []
        for i in range(len(dims) - 1):
            out = dims[i + 1] - in_dim if i + 1 == self.skip else dims[i + 1]
            layers.append(nn.Linear(dims[i], out))
        if geometric_init:
            self._geometric_init(layers, init_radius, c_dim, self.encoding.in_dim, self.skip)
        if weight_norm:
            layers = [nn.utils.parametrizations.weight_norm(layer) for layer in layers]
        self.layers = nn.ModuleList(layers)
        self.activation = nn.Softplus(beta=100) if activation == "softplus" else nn.ReLU()
        self.output_tanh = output_tanh

    @staticmethod
    def _geometric_init(layers: list[nn.Linear], radius: float, c_dim: int, raw_dim: int, skip: int) -> None:
        """SAL/IGR initialisation: hidden layers N(0, 2/out), last layer so the output is
        ≈ |x| − radius at the start (the SDF of a sphere). Inputs other than the raw
        coordinates (code, Fourier features) start with zero weights where they enter."""
        for i, layer in enumerate(layers):
            if i == len(layers) - 1:
                nn.init.normal_(layer.weight, mean=math.sqrt(math.pi) / math.sqrt(layer.in_features), std=1e-5)
                nn.init.constant_(layer.bias, -radius)
                continue
            nn.init.normal_(layer.weight, 0.0, math.sqrt(2.0) / math.sqrt(layer.out_features))
            nn.init.zeros_(layer.bias)
            if i in (0, skip):
                with torch.no_grad():
                    start = layer.in_features - (layers[0].in_features if i == skip else layer.in_features)
                    extra = torch.ones(layer.in_features, dtype=torch.bool)
                    extra[start + c_dim: start + c_dim + raw_dim] = False
                    extra[:start] = False
                    layer.weight[:, extra] = 0.0

    def forward(self, points: torch.Tensor, code: torch.Tensor | None = None) -> torch.Tensor:
        x = self.encoding(points)
        if self.c_dim:
            if code is None:
                raise InputError(f"this network needs a code (B, {self.c_dim})")
            x = torch.cat([code[:, None, :].expand(-1, x.shape[1], -1), x], dim=-1)
        inputs = x
        for i, layer in enumerate(self.layers):
            if i == self.skip:
                x = torch.cat([x, inputs], dim=-1) / math.sqrt(2.0)
            x = layer(x)
            if i < len(self.layers) - 1:
                x = self.activation(x)
        x = x[..., 0]
        return torch.tanh(x) if self.output_tanh else x


def deepsdf_decoder(c_dim: int = 256, hidden: int = 512, num_layers: int = 8, **kwargs) -> ImplicitMLP:
    """DeepSDF's auto-decoder network (ReLU, weight norm, skip at the middle, tanh output)."""
    return ImplicitMLP(c_dim, hidden, num_layers, activation="relu", weight_norm=True, output_tanh=True, **kwargs)


def igr_network(hidden: int = 512, num_layers: int = 8, init_radius: float = 0.5, **kwargs) -> ImplicitMLP:
    """IGR's network (softplus β = 100, geometric initialisation, skip at the middle)."""
    return ImplicitMLP(0, hidden, num_layers, activation="softplus", geometric_init=True,
                       init_radius=init_radius, **kwargs)
