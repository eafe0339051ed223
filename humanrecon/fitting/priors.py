"""Priors for fitting SMPL-type bodies: anatomical joint limits (default), SMPLify's
Gaussian-mixture pose prior (from a user's ``gmm_08.pkl``), shape and bending priors.

All pose priors act on ``body_pose (B, 69)``: axis-angle of SMPL joints 1..23 in their
parents' frames (SMPL axes: Y up, the body faces +Z, its left is +X). Each returns a
per-sample penalty ``(B,)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from humanrecon.errors import InputError
from humanrecon.body.keypoints import SMPL_JOINT_NAMES

#: per-joint axis-angle limits (radians) for the body's LEFT side and the spine, as
#: ((x_lo, x_hi), (y_lo, y_hi), (z_lo, z_hi)) in SMPL's joint frames. Signs follow SMPL's
#: axes: hip/knee flexion is about X (hip -x, knee +x), spine forward bend +x, left
#: shoulder raise +z and forward swing -y, left elbow flexion -y. Right-side limits are
#: the mirror image (x kept, y and z negated).
_LEFT_AND_CENTRE_LIMITS = {
    "left_hip": ((-2.2, 0.6), (-0.7, 0.7), (-0.35, 1.0)),
    "left_knee": ((-0.05, 2.6), (-0.15, 0.15), (-0.15, 0.15)),
    "left_ankle": ((-0.8, 0.8), (-0.4, 0.4), (-0.4, 0.4)),
    "left_foot": ((-0.5, 0.5), (-0.2, 0.2), (-0.2, 0.2)),
    "left_collar": ((-0.3, 0.3), (-0.4, 0.4), (-0.3, 0.4)),
    "left_shoulder": ((-1.5, 1.5), (-1.6, 0.8), (-1.7, 1.6)),
    "left_elbow": ((-1.2, 1.2), (-2.6, 0.05), (-0.15, 0.15)),
    "left_wrist": ((-1.0, 1.0), (-0.8, 0.8), (-1.0, 1.0)),
    "left_hand": ((-0.3, 0.3), (-0.3, 0.3), (-0.3, 0.3)),
    "spine1": ((-0.4, 0.9), (-0.5, 0.5), (-0.4, 0.4)),
    "spine2": ((-0.3, 0.6), (-0.4, 0.4), (-0.3, 0.3)),
    "spine3": ((-0.3, 0.6), (-0.4, 0.4), (-0.3, 0.3)),
    "neck": ((-0.6, 0.8), (-0.8, 0.8), (-0.5, 0.5)),
    "head": ((-0.5, 0.6), (-0.6, 0.6), (-0.4, 0.4)),
}


def joint_limits() -> torch.Tensor:
    """``(23, 3, 2)`` lower/upper axis-angle limits of SMPL joints 1..23 (radians)."""
    limits = np.zeros((23, 3, 2))
    for j, name in enumerate(SMPL_JOINT_NAMES[1:]):
        if name.startswith("right_"):
            left = np.array(_LEFT_AND_CENTRE_LIMITS["left_" + name[len("right_"):]])
            mirrored = left.copy()
            mirrored[1:] = -left[1:, ::-1]  # y and z: negate and swap lo/hi
            limits[j] = mirrored
        else:
            limits[j] = _LEFT_AND_CENTRE_LIMITS[name]
    return torch.tensor(limits, dtype=torch.float32)


def limit_penalty(body_pose: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    """Sum of squared excess beyond the joint limits ``(B,)`` (radians²) of ``body_pose
    (B, 69)`` against ``lower``/``upper (69,)`` (:func:`joint_limits`): the steep penalty
    every pose prior adds."""
    excess = torch.relu(lower.to(body_pose) - body_pose) + torch.relu(body_pose - upper.to(body_pose))
    return excess.square().sum(-1)


class JointLimitPrior(nn.Module):
    """Anatomical pose prior: a Gaussian around the rest pose whose per-joint, per-axis
    standard deviation is a quarter of that joint's range of motion, plus a steep penalty
    beyond the joint limits:
    ``0.5 * rest_weight * Σ (θ / σ)² + limit_weight * Σ excess²`` (radians).
    ``forward(body_pose (B, 69)) -> (B,)``."""

    def __init__(self, rest_weight: float = 1.0, limit_weight: float = 100.0) -> None:
        super().__init__()
        limits = joint_limits()
        self.register_buffer("lower", limits[..., 0].reshape(-1))
        self.register_buffer("upper", limits[..., 1].reshape(-1))
        self.register_buffer("std", (self.upper - self.lower) / 4.0)
        self.rest_weight = rest_weight
        self.limit_weight = limit_weight

    def forward(self, body_pose: torch.Tensor) -> torch.Tensor:
        gauss = 0.5 * (body_pose / self.std.to(body_pose)).square().sum(-1)
        return self.rest_weight * gauss + self.limit_weight * limit_penalty(body_pose, self.lower, self.upper)

    def sample(self, batch: int, scale: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
        """Random poses ``(B, 69)``: N(0, (scale σ)²) per joint axis, clipped to the limits."""
        noise = torch.randn(batch, self.std.numel(), generator=generator)
        return (noise * self.std * scale).clamp(self.lower, self.upper)


class GMMPosePrior(nn.Module):
    """SMPLify's mixture-of-Gaussians pose prior (``gmm_08.pkl``: ``means (M, 69)``,
    ``covars (M, 69, 69)``, ``weights (M,)``), evaluated as SMPLify does ("max-mixture"):
    ``min_m [ 0.5 (θ - μ_m)ᵀ Σ_m⁻¹ (θ - μ_m) - log(w_m / sqrt(det Σ_m)) ]``, offset so that
    the best possible value is 0. ``forward(body_pose (B, 69)) -> (B,)``."""

    def __init__(self, means: np.ndarray, covars: np.ndarray, weights: np.ndarray, source: str = "GMM") -> None:
        super().__init__()
        means, covars, weights = (np.asarray(a, dtype=np.float64) for a in (means, covars, weights))
        m = means.shape[0] if means.ndim == 2 else 0
        if means.shape != (m, 69) or covars.shape != (m, 69, 69) or weights.shape != (m,) or m == 0:
            raise InputError(f"{source}: a pose GMM needs means (M, 69), covars (M, 69, 69), weights (M,); "
                             f"got {means.shape}, {covars.shape}, {weights.shape}")
        if not all(np.isfinite(a).all() for a in (means, covars, weights)) or (weights <= 0).any():
            raise InputError(f"{source}: GMM arrays must be finite with positive weights")
        precisions = np.linalg.inv(covars)
        _, logdet = np.linalg.slogdet(covars)
        constants = -np.log(weights) + 0.5 * logdet
        self.register_buffer("means", torch.tensor(means, dtype=torch.float32))
        self.register_buffer("precisions", torch.tensor(precisions, dtype=torch.float32))
        self.register_buffer("constants", torch.tensor(constants - constants.min(), dtype=torch.float32))

    @classmethod
    def load(cls, path: str | Path) -> "GMMPosePrior":
        """Read SMPLify's ``gmm_08.pkl`` (or an ``.npz`` with the same keys) safely."""
        from humanrecon.body.io import load_model_arrays

        arrays = load_model_arrays(path)
        missing = [k for k in ("means", "covars", "weights") if k not in arrays]
        if missing:
            raise InputError(f"{path}: not a pose GMM file, missing {missing}")
        return cls(arrays["means"], arrays["covars"], arrays["weights"], str(path))

    def forward(self, body_pose: torch.Tensor) -> torch.Tensor:
        diff = body_pose[:, None, :] - self.means.to(body_pose)  # (B, M, 69)
        maha = torch.einsum("bmi,mij,bmj->bm", diff, self.precisions.to(body_pose), diff)
        return (0.5 * maha + self.constants.to(body_pose)).min(dim=1).values


#: the shipped everyday pose prior (``tools/build_pose_prior.py``)
EVERYDAY_PRIOR_ASSET = "models/pose_prior_everyday.npz"
#: the shipped prior learned from real motion capture (``tools/build_mocap_priors.py``)
MOCAP_PRIOR_ASSET = "models/pose_prior_mocap.npz"
#: the pose priors known by name (``humanrecon fit --pose-prior``)
PRIOR_NAMES = ("everyday", "mocap", "vae", "anatomical")


class EverydayPosePrior(GMMPosePrior):
    """The default pose prior: a Gaussian mixture fitted to the TUNING half of the everyday
    pose library, each pose perturbed within the joint limits
    (:mod:`humanrecon.fitting.mixture`; not centred on the T-pose), evaluated as SMPLify
    evaluates its GMM (max-mixture), plus the anatomical prior's steep penalty beyond the
    joint limits: ``gmm(θ) + limit_weight * Σ excess²`` (radians).
    ``forward(body_pose (B, 69)) -> (B,)``.

    Args:
        path: an ``.npz`` with ``means (M, 69)``, ``covars (M, 69, 69)``, ``weights (M,)``;
            default the shipped ``assets/models/pose_prior_everyday.npz``.
    """

    def __init__(self, path: str | Path | None = None, limit_weight: float = 100.0) -> None:
        from humanrecon._assets import asset_path
        from humanrecon.body.io import load_model_arrays

        path = Path(path) if path is not None else asset_path(EVERYDAY_PRIOR_ASSET)
        arrays = load_model_arrays(path)
        missing = [k for k in ("means", "covars", "weights") if k not in arrays]
        if missing:
            raise InputError(f"{path}: not a pose mixture file, missing {missing}")
        super().__init__(arrays["means"], arrays["covars"], arrays["weights"], str(path))
        limits = joint_limits()
        self.register_buffer("lower", limits[..., 0].reshape(-1))
        self.register_buffer("upper", limits[..., 1].reshape(-1))
        self.limit_weight = limit_weight

    def forward(self, body_pose: torch.Tensor) -> torch.Tensor:
        return super().forward(body_pose) + self.limit_weight * limit_penalty(body_pose, self.lower, self.upper)


def shape_prior(betas: torch.Tensor) -> torch.Tensor:
    """``|β|²`` per sample ``(B,)``: betas are in standard deviations of the shape space."""
    return betas.square().sum(-1)


#: (index in body_pose, sign): elbow flexion about y (left -, right +), knee flexion about
#: x (+); SMPLify's angle prior penalises bending the wrong way, exp(sign * θ).
_BENDS = ((3 * 17 + 1, 1.0), (3 * 18 + 1, -1.0), (3 * 3 + 0, -1.0), (3 * 4 + 0, -1.0))


def bending_prior(body_pose: torch.Tensor) -> torch.Tensor:
    """SMPLify's elbow/knee prior ``Σ exp(sign θ)`` ``(B,)``: grows fast when an elbow or
    knee bends backwards (against its natural flexion), ~1 per joint otherwise."""
    idx = [i for i, _ in _BENDS]
    signs = torch.tensor([s for _, s in _BENDS], dtype=body_pose.dtype, device=body_pose.device)
    return torch.exp(body_pose[:, idx] * signs).sum(-1)


def upright_prior(global_orient: torch.Tensor) -> torch.Tensor:
    """``(B,)`` squared horizontal component of the body's up axis (``R(global_orient) @ Y``
    in the world frame, which the fitting camera views level): 0 for an upright body,
    ``sin²`` of its lean otherwise. Resolves the lean-towards/away-from-camera ambiguity."""
    from humanrecon.geometry.rotations import axis_angle_to_matrix

    up = axis_angle_to_matrix(global_orient)[..., :, 1]  # (B, 3)
    return up[:, 0].square() + up[:, 2].square()


def geman_mcclure(residual_sq: torch.Tensor, rho: float) -> torch.Tensor:
    """Geman-McClure robust error of squared residuals: ``ρ² r² / (ρ² + r²)`` (same units
    as ``r²``; saturates at ``ρ²`` for outliers)."""
    rho_sq = rho * rho
    return rho_sq * residual_sq / (rho_sq + residual_sq)



def pose_prior_named(choice: str) -> nn.Module:
    """A pose prior by name: ``everyday`` (the mixture of the tuning half of the pose
    library, plus joint limits), ``mocap`` (the mixture learned from the CMU training
    subjects of the pose corpus, plus joint limits), ``vae`` (the learned latent prior of
    :mod:`humanrecon.fitting.latent_prior`: a VPoser-style VAE trained on the same poses,
    plus joint limits), ``anatomical`` (joint limits, centred on the T-pose), or a GMM file (SMPLify's ``gmm_08.pkl`` or an ``.npz`` of the same
    arrays)."""
    from humanrecon._assets import asset_path

    if choice == "everyday":
        return EverydayPosePrior()
    if choice == "mocap":
        return EverydayPosePrior(asset_path(MOCAP_PRIOR_ASSET))
    if choice == "vae":
        from humanrecon.fitting.latent_prior import VAEPosePrior

        return VAEPosePrior()
    if choice == "anatomical":
        return JointLimitPrior()
    return GMMPosePrior.load(choice)
