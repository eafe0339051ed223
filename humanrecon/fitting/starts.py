"""Where the fitter starts: library poses at candidate yaws, ranked by how well their
projections match the 2D keypoints.

An optimiser started from the rest pose stays near it; people crouch, sit and reach. Each
candidate start is a library pose (``global_orient``, ``body_pose``) turned by a yaw about
the vertical; its mean-shape keypoints are projected with a weak-perspective camera that
looks at the body's front (the fitter's :data:`~humanrecon.fitting.smplify.FRONT_VIEW_R`:
image x = model X, image y = model -Y), a scale and a 2D shift are fitted robustly
(iteratively reweighted least squares with Geman-McClure weights) to each person's
keypoints, and the robust residual ranks the candidates. Everything is batched:
``(B people) x (C candidates) x (K keypoints)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from humanrecon.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle

#: the shipped start bank from real motion capture (``tools/build_mocap_priors.py``)
START_BANK_ASSET = "models/start_poses_mocap.npz"

#: height (metres) that turns the fitted weak-perspective scale into the person's height in
#: pixels, so residuals are in percent of that height (as the fitter's data term)
PERSON_HEIGHT_M = 1.7


@dataclass
class StartCandidates:
    """Candidate starts: ``global_orient (C, 3)``, ``body_pose (C, P)`` (model frame,
    axis-angle radians) and their mean-shape keypoints ``keypoints (C, K, 3)`` (metres,
    model frame, root joint at the origin)."""

    global_orient: torch.Tensor
    body_pose: torch.Tensor
    keypoints: torch.Tensor


def turn(global_orient: torch.Tensor, yaws: torch.Tensor) -> torch.Tensor:
    """Every root orientation ``(M, 3)`` turned by every yaw ``(Y,)`` (radians about the
    model's vertical +Y, applied after the pose's own root rotation) -> ``(M * Y, 3)``,
    pose-major."""
    yaw = axis_angle_to_matrix(yaws[:, None] * torch.tensor([0.0, 1.0, 0.0], dtype=yaws.dtype))  # (Y, 3, 3)
    rot = yaw[None] @ axis_angle_to_matrix(global_orient)[:, None]  # (M, Y, 3, 3)
    return matrix_to_axis_angle(rot.reshape(-1, 3, 3))


def make_candidates(forward, global_orient: torch.Tensor, body_pose: torch.Tensor,
                    yaws: torch.Tensor) -> StartCandidates:
    """Candidates = ``M`` poses x ``Y`` yaws. ``forward(global_orient, body_pose) ->
    (joints (N, J, 3), keypoints (N, K, 3))`` poses the mean body; keypoints are returned
    relative to the root joint."""
    orient = turn(global_orient, yaws)
    pose = body_pose.repeat_interleave(len(yaws), dim=0)
    with torch.no_grad():
        joints, keypoints = forward(orient, pose)
    return StartCandidates(orient, pose, keypoints - joints[:, :1])


def weak_perspective_residual(template: torch.Tensor, points: torch.Tensor, conf: torch.Tensor, rho: float = 20.0,
                              iterations: int = 3) -> torch.Tensor:
    """Robust 2D mismatch ``(B, C)`` between every person and every candidate.

    Args:
        template: ``(C, K, 3)`` candidate keypoints (model frame, metres).
        points: ``(B, K, 2)`` observed keypoints (pixels); conf ``(B, K)`` (0 = unseen).
        rho: Geman-McClure scale in percent of the person's height.
    Returns:
        the confidence-weighted Geman-McClure residual per person and candidate, residuals
        measured in percent of the person's height (``scale * PERSON_HEIGHT_M`` pixels),
        divided by the total confidence; a fitted negative scale (a mirrored match) gets
        ``rho²``, the worst a keypoint can score.
    """
    q = torch.stack([template[..., 0], -template[..., 1]], -1)[None]  # (1, C, K, 2)
    p = points[:, None]  # (B, 1, K, 2)
    weight = conf[:, None].expand(-1, q.shape[1], -1)  # (B, C, K)
    rho_sq = rho * rho
    for _ in range(iterations + 1):
        wsum = weight.sum(-1, keepdim=True).clamp(min=1e-9)
        q_mean = (weight[..., None] * q).sum(-2) / wsum
        p_mean = (weight[..., None] * p).sum(-2) / wsum
        qc, pc = q - q_mean[..., None, :], p - p_mean[..., None, :]
        scale = (weight * (qc * pc).sum(-1)).sum(-1) / (weight * qc.square().sum(-1)).sum(-1).clamp(min=1e-12)
        height_px = (scale.abs() * PERSON_HEIGHT_M).clamp(min=1e-6)
        r_sq = ((scale[..., None, None] * qc - pc) / (height_px[..., None, None] / 100.0)).square().sum(-1)
        weight = conf[:, None] * (rho_sq / (rho_sq + r_sq)).square()
    robust = rho_sq * r_sq / (rho_sq + r_sq)
    score = (conf[:, None] * robust).sum(-1) / conf.sum(-1, keepdim=True).clamp(min=1e-9)
    return torch.where(scale > 0, score, torch.full_like(score, rho_sq))


def rank_starts(candidates: StartCandidates, points: torch.Tensor, conf: torch.Tensor, count: int,
                rho: float = 20.0) -> torch.Tensor:
    """Indices ``(B, count)`` of each person's best-matching candidates, best first."""
    residual = weak_perspective_residual(candidates.keypoints.to(points), points, conf, rho)
    return residual.topk(min(count, residual.shape[1]), dim=1, largest=False).indices


def start_bank(body_dim: int = 69, path=None) -> tuple:
    """The rest pose and the poses of a start bank (default the shipped one, learned from
    the CMU training subjects): ``(global_orient (M + 1, 3), body_pose (M + 1, body_dim))``
    numpy float32 (SMPL+H / SMPL-X: the first 21 body joints)."""
    import numpy as np

    from humanrecon._assets import asset_path
    from humanrecon.body.io import load_model_arrays
    from humanrecon.errors import InputError

    path = asset_path(START_BANK_ASSET) if path is None else path
    arrays = load_model_arrays(path)
    if "global_orient" not in arrays or "body_pose" not in arrays:
        raise InputError(f"{path}: not a start bank (needs global_orient and body_pose)")
    root = np.asarray(arrays["global_orient"], np.float32)
    body = np.asarray(arrays["body_pose"], np.float32)[:, :body_dim]
    return (np.concatenate([np.zeros((1, 3), np.float32), root]),
            np.concatenate([np.zeros((1, body_dim), np.float32), body]))
