"""Losses for implicit shapes. Points ``(B, N, 3)`` in metres; values ``(B, N)``."""

from __future__ import annotations

import torch


def occupancy_bce(logits: torch.Tensor, occupancy: torch.Tensor) -> torch.Tensor:
    """Occupancy Networks' loss: binary cross-entropy of logits against 0/1 occupancy,
    mean over points."""
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, occupancy.to(logits))


def clamped_l1(pred: torch.Tensor, target: torch.Tensor, delta: float = 0.1) -> torch.Tensor:
    """DeepSDF's loss ``|clamp(pred, ±δ) − clamp(target, ±δ)|`` (δ in metres), mean."""
    return (pred.clamp(-delta, delta) - target.clamp(-delta, delta)).abs().mean()


def latent_regularizer(codes: torch.Tensor, sigma: float = 0.01) -> torch.Tensor:
    """DeepSDF's code prior ``|z|² / σ²`` per code, mean over codes ``(B, C)``."""
    return codes.square().sum(-1).mean() / sigma ** 2


def gradient(values: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Spatial gradient ``∂values/∂points`` ``(B, N, 3)`` with a graph (for second-order
    losses); ``points`` must require grad."""
    return torch.autograd.grad(values, points, torch.ones_like(values), create_graph=True)[0]


def eikonal_loss(grad: torch.Tensor) -> torch.Tensor:
    """IGR's eikonal term ``(|∇f| − 1)²``, mean: a signed distance has unit gradient."""
    return (grad.norm(dim=-1) - 1.0).square().mean()
