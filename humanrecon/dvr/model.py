"""The DVR scene model: a shape network and a texture field over one scene box.

Shape: IGR's network (:func:`humanrecon.implicit.networks.igr_network`; softplus, geometric
initialisation as a sphere, Fourier features) on points normalised to the box (centre 0,
half-diagonal 1). Its output ``f`` is a signed-distance-like value, surface at 0, inside
below (:data:`humanrecon.dvr.surface.SDF`); the occupancy probability of DVR's losses is
``sigmoid(−f / temperature)``, so the level ``f = 0`` is DVR's ``τ = 0.5``. Texture: an MLP
on Fourier features of the normalised point, RGB in ``[0, 1]``.

World units (metres) everywhere outside; ``bounds (2, 3)`` is the box the scene lives in.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from humanrecon.dvr.surface import SDF, SurfaceLevel
from humanrecon.implicit.networks import FourierFeatures, ImplicitMLP

CHECKPOINT_KIND = "dvr"
CHECKPOINT = "dvr.pt"


class DVRModel(nn.Module):
    """Shape and texture of one scene.

    Args:
        bounds: ``(2, 3)`` scene box ``[min, max]`` (metres).
        hidden, layers: shape network width and depth; texture_hidden, texture_layers: the
            texture MLP's.
        frequencies: Fourier frequencies of both networks' inputs.
        init_radius: radius of the starting sphere, as a fraction of the half-diagonal.
        temperature: occupancy = sigmoid(−f / temperature).
    """

    surface: SurfaceLevel = SDF

    def __init__(self, bounds, hidden: int = 128, layers: int = 6, texture_hidden: int = 128,
                 texture_layers: int = 4, frequencies: int = 6, init_radius: float = 0.5,
                 temperature: float = 0.01) -> None:
        super().__init__()
        bounds = torch.as_tensor(bounds, dtype=torch.float32).reshape(2, 3)
        self.settings = {"bounds": bounds.tolist(), "hidden": hidden, "layers": layers,
                         "texture_hidden": texture_hidden, "texture_layers": texture_layers,
                         "frequencies": frequencies, "init_radius": init_radius, "temperature": temperature}
        self.register_buffer("bounds", bounds)
        self.register_buffer("centre", bounds.mean(0))
        self.register_buffer("radius", (bounds[1] - bounds[0]).norm() / 2)
        self.temperature = temperature
        self.shape = ImplicitMLP(0, hidden, layers, activation="softplus", geometric_init=True,
                                 init_radius=init_radius, encoding=FourierFeatures(frequencies, 2.0))
        encoding = FourierFeatures(frequencies, 2.0)
        blocks: list[nn.Module] = []
        width = encoding.out_dim
        for _ in range(texture_layers):
            blocks += [nn.Linear(width, texture_hidden), nn.ReLU()]
            width = texture_hidden
        self.texture = nn.Sequential(encoding, *blocks, nn.Linear(width, 3))

    def normalise(self, points: torch.Tensor) -> torch.Tensor:
        """World points ``(M, 3)`` -> the networks' frame (box centre 0, half-diagonal 1)."""
        return (points - self.centre) / self.radius

    def sdf(self, points: torch.Tensor) -> torch.Tensor:
        """``(M,)`` shape values at world ``points (M, 3)`` in metres (surface 0, inside < 0)."""
        return self.shape(self.normalise(points)[None])[0] * self.radius

    def occupancy(self, points: torch.Tensor) -> torch.Tensor:
        """``(M,)`` occupancy probability (DVR's field; 0.5 on the surface)."""
        return torch.sigmoid(-self.sdf(points) / self.temperature)

    def occupancy_logits(self, points: torch.Tensor) -> torch.Tensor:
        """``(M,)`` logits of :meth:`occupancy` (for binary cross-entropy)."""
        return -self.sdf(points) / self.temperature

    def color(self, points: torch.Tensor) -> torch.Tensor:
        """``(M, 3)`` RGB in [0, 1] of the texture field at world ``points (M, 3)``."""
        return torch.sigmoid(self.texture(self.normalise(points)))

    def normals(self, points: torch.Tensor) -> torch.Tensor:
        """``(M, 3)`` unit outward normals (the shape's gradient), without a graph."""
        with torch.enable_grad():
            p = points.detach().requires_grad_(True)
            grad, = torch.autograd.grad(self.sdf(p).sum(), p)
        return grad / grad.norm(dim=-1, keepdim=True).clamp(min=1e-12)

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path, **extra) -> Path:
        """Checkpoint (settings, weights, ``extra``) through the shared helper."""
        from humanrecon.io.checkpoints import save_checkpoint

        return save_checkpoint(path, CHECKPOINT_KIND, dict(self.settings), self.state_dict(), **extra)

    @classmethod
    def load(cls, path: str | Path, map_location="cpu") -> tuple["DVRModel", dict]:
        """``(model in eval mode, checkpoint dict)``; :class:`CheckpointError` naming the file
        for anything else."""
        from humanrecon.io.checkpoints import restore_module

        model, data = restore_module(path, CHECKPOINT_KIND, lambda s: cls(**s), map_location)
        return model.eval(), data
