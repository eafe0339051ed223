"""A learned latent pose prior (VPoser-style variational autoencoder), usable as SMPLify's
pose prior (``pose_prior_named("vae")``, ``--pose-prior vae``).

:class:`PoseVAE` reads the 21 body joints of SMPL's ``body_pose`` (the first 63 of its 69
axis-angle values, radians, each joint in its parent's frame; the two hand joints are
ignored) as 6D rotations ``(B, 126)``, encodes them to a diagonal Gaussian over a
32-dimensional latent and decodes a latent back to 6D -> rotation matrices (Gram-Schmidt)
-> axis-angle ``(B, 63)``. Trained by ``tools/train_pose_vae.py`` on the pose corpus's
TRAIN subjects and the tuning half of the pose library.

:class:`VAEPosePrior` turns it into an energy ``(B,)``:
``energy_scale * (|mu(θ)|² + recon_weight * Σ |R(decode(mu(θ))) - R(θ)|²) + limit_weight * Σ excess²``:
the squared norm of the encoder mean (the latent's negative log density under N(0, I),
up to constants and a factor 2), how far the pose lies from what the decoder can express
(squared rotation-matrix entries, summed over the 21 joints) and the steep penalty beyond
the joint limits of :class:`~humanrecon.fitting.priors.EverydayPosePrior` (radians).
``energy_scale`` is stored with the weights: it makes the median energy on the corpus's
training poses equal to the everyday mixture's median there, so SMPLify's stage weights
mean the same for either prior.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from humanrecon.errors import InputError
from humanrecon.fitting.priors import joint_limits, limit_penalty
from humanrecon.geometry.rotations import (axis_angle_to_matrix, matrix_to_axis_angle, matrix_to_rotation_6d,
                                           rotation_6d_to_matrix)
from humanrecon.io.checkpoints import Checkpointed

#: the shipped weights (``tools/train_pose_vae.py``)
POSE_VAE_ASSET = "models/pose_prior_vae.pt"
#: checkpoint kind of :class:`PoseVAE`
POSE_VAE_KIND = "pose-vae"
#: the joints modelled: SMPL's body joints 1..21 (the hands, 22 and 23, are not)
VAE_JOINTS = 21


def pose_to_matrices(body_pose: torch.Tensor) -> torch.Tensor:
    """``body_pose (B, >= 63)`` axis-angle radians -> rotation matrices ``(B, 21, 3, 3)``
    of the first :data:`VAE_JOINTS` joints."""
    if body_pose.ndim != 2 or body_pose.shape[1] < 3 * VAE_JOINTS:
        raise InputError(f"body_pose must be (B, >= {3 * VAE_JOINTS}), got {tuple(body_pose.shape)}")
    return axis_angle_to_matrix(body_pose[:, : 3 * VAE_JOINTS].reshape(-1, VAE_JOINTS, 3))


def geodesic_degrees(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Rotation angle (degrees) between matrices ``a`` and ``b`` ``(..., 3, 3)`` -> ``(...)``."""
    cos = ((a.transpose(-1, -2) @ b).diagonal(dim1=-2, dim2=-1).sum(-1) - 1.0) / 2.0
    return torch.rad2deg(torch.acos(cos.clamp(-1.0, 1.0)))


def _mlp(inputs: int, hidden: int, outputs: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.LeakyReLU(0.2), nn.Dropout(dropout),
                         nn.Linear(hidden, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, outputs))


class PoseVAE(Checkpointed, nn.Module):
    """VPoser-style VAE over the 21 body joints' 6D rotations.

    Args:
        latent: latent size (32).
        hidden: MLP width (512), two hidden layers each side.
        dropout: dropout after the first hidden layer (training only).
    Buffers: ``energy_scale ()`` the factor :class:`VAEPosePrior` applies (set by the
    trainer). Checkpoints: ``save(path)``, ``PoseVAE.load(path)``
    (:class:`~humanrecon.io.checkpoints.Checkpointed`; :func:`load_pose_vae` also finds
    the shipped weights).
    """

    checkpoint_kind = POSE_VAE_KIND

    def __init__(self, latent: int = 32, hidden: int = 512, dropout: float = 0.1) -> None:
        super().__init__()
        self.settings = {"latent": latent, "hidden": hidden, "dropout": dropout}
        self.latent = latent
        self.encoder = _mlp(6 * VAE_JOINTS, hidden, 2 * latent, dropout)
        self.decoder = _mlp(latent, hidden, 6 * VAE_JOINTS, dropout)
        self.register_buffer("energy_scale", torch.tensor(1.0))

    def encode(self, body_pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``body_pose (B, >= 63)`` -> latent mean and log-variance, each ``(B, latent)``."""
        d6 = matrix_to_rotation_6d(pose_to_matrices(body_pose)).reshape(body_pose.shape[0], -1)
        mu, logvar = self.encoder(d6).chunk(2, dim=-1)
        return mu, logvar.clamp(-10.0, 10.0)

    def decode_matrices(self, z: torch.Tensor) -> torch.Tensor:
        """Latent ``z (B, latent)`` -> rotation matrices ``(B, 21, 3, 3)``."""
        return rotation_6d_to_matrix(self.decoder(z).reshape(z.shape[0], VAE_JOINTS, 6))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent ``z (B, latent)`` -> axis-angle ``(B, 63)`` radians of joints 1..21."""
        return matrix_to_axis_angle(self.decode_matrices(z)).reshape(z.shape[0], -1)

    def negative_elbo(self, body_pose: torch.Tensor, kl_weight: float = 5e-3,
                      generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-pose ``(loss, reconstruction, KL)``, each ``(B,)``: reconstruction is the
        squared rotation-matrix error of a sampled latent, summed over joints;
        ``loss = reconstruction + kl_weight * KL``."""
        mu, logvar = self.encode(body_pose)
        noise = torch.randn(mu.shape, generator=generator, dtype=mu.dtype).to(mu.device)
        z = mu + noise * (0.5 * logvar).exp()
        recon = (self.decode_matrices(z) - pose_to_matrices(body_pose)).square().sum((-1, -2, -3))
        kl = 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar).sum(-1)
        return recon + kl_weight * kl, recon, kl


def load_pose_vae(path: str | os.PathLike | None = None, map_location="cpu") -> PoseVAE:
    """VAE weights from a checkpoint (default: the shipped ``assets/models/pose_prior_vae.pt``).
    Raises :class:`~humanrecon.errors.CheckpointError` naming the file when it is not
    pose-VAE weights or does not fit, :class:`~humanrecon.errors.MissingFileError` when absent."""
    from humanrecon._assets import asset_path

    return PoseVAE.load(Path(path) if path is not None else asset_path(POSE_VAE_ASSET), map_location)


class VAEPosePrior(nn.Module):
    """The learned pose prior's energy (module docstring).
    ``forward(body_pose (B, 69)) -> (B,)``, differentiable w.r.t. ``body_pose``.

    Args:
        vae: a trained :class:`PoseVAE` or the path of its weights (default the shipped ones).
        recon_weight: weight of the reconstruction term relative to ``|mu|²``.
        limit_weight: weight of the squared excess beyond the joint limits (radians).
    """

    def __init__(self, vae: PoseVAE | str | os.PathLike | None = None, recon_weight: float = 10.0,
                 limit_weight: float = 100.0) -> None:
        super().__init__()
        self.vae = vae if isinstance(vae, PoseVAE) else load_pose_vae(vae)
        self.vae.eval().requires_grad_(False)
        limits = joint_limits()
        self.register_buffer("lower", limits[..., 0].reshape(-1))
        self.register_buffer("upper", limits[..., 1].reshape(-1))
        self.recon_weight, self.limit_weight = recon_weight, limit_weight

    def learned_energy(self, body_pose: torch.Tensor) -> torch.Tensor:
        """``(B,)`` the VAE part, unscaled: ``|mu|² + recon_weight * Σ |R(decode(mu)) - R(θ)|²``."""
        mu, _ = self.vae.encode(body_pose)
        recon = (self.vae.decode_matrices(mu) - pose_to_matrices(body_pose)).square().sum((-1, -2, -3))
        return mu.square().sum(-1) + self.recon_weight * recon

    def forward(self, body_pose: torch.Tensor) -> torch.Tensor:
        if body_pose.ndim != 2 or body_pose.shape[1] != self.lower.numel():
            raise InputError(f"body_pose must be (B, {self.lower.numel()}), got {tuple(body_pose.shape)}")
        self.vae.eval()
        scale = self.vae.energy_scale.to(body_pose)
        return scale * self.learned_energy(body_pose) + self.limit_weight * limit_penalty(body_pose, self.lower, self.upper)
