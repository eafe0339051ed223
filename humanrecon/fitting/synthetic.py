"""Synthetic fitting problems with known answers: random bodies seen by random cameras,
their keypoints projected, noised and partly dropped (for tests and ``tools/bench_fit.py``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from humanrecon.body import BodyModel, keypoint_map
from humanrecon.fitting.priors import JointLimitPrior
from humanrecon.fitting.smplify import FRONT_VIEW_R
from humanrecon.geometry import Camera
from humanrecon.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle


@dataclass
class SyntheticSubjects:
    """Ground truth and observations of ``N`` subjects.

    Attributes:
        betas ``(N, K)``, global_orient ``(N, 3)``, body_pose ``(N, 69)``: true parameters.
        camera: :class:`Camera` batch N (R = FRONT_VIEW_R, t places the body 2-8 m away).
        joints ``(N, J, 3)`` true skeleton joints, vertices ``(N, V, 3)`` (model frame).
        keypoints ``(N, 25, 2)`` observed pixels (noised), confidence ``(N, 25)`` (0 = dropped
        or unavailable), clean_keypoints ``(N, 25, 2)``.
        image_size: (width, height).
    """

    betas: torch.Tensor
    global_orient: torch.Tensor
    body_pose: torch.Tensor
    camera: Camera
    joints: torch.Tensor
    vertices: torch.Tensor
    keypoints: torch.Tensor
    confidence: torch.Tensor
    clean_keypoints: torch.Tensor
    image_size: tuple[int, int]


def sample_subjects(model: BodyModel, n: int, *, noise_px: float = 0.0, drop: float = 0.1, seed: int = 0,
                    image_size: tuple[int, int] = (1000, 1000), focal: float = 1000.0,
                    distance: tuple[float, float] = (2.0, 8.0), pose_scale: float = 0.5,
                    max_yaw_deg: float = 180.0) -> SyntheticSubjects:
    """Sample ``n`` subjects: betas ~ N(0, 1) clipped to ±2, body poses Gaussian
    N(0, (``pose_scale`` σ)²) per joint axis around the rest (T) pose with the anatomical
    prior's σ, clipped to its joint limits (:meth:`JointLimitPrior.sample`: the fitter's
    own prior family, so these subjects flatter it), yaw uniform in ±``max_yaw_deg``
    (pitch/roll ±10°), body centre 2-8 m in front of the camera and inside the image.
    Keypoints: BODY_25 projections + N(0, noise_px²) pixel noise, a fraction ``drop`` of
    the available keypoints given confidence 0."""
    gen = torch.Generator().manual_seed(seed)
    kmap = keypoint_map(model, "body25")
    betas = (torch.randn(n, model.num_betas, generator=gen)).clamp(-2, 2)
    body_pose = JointLimitPrior().sample(n, pose_scale, gen)
    angles = torch.stack([
        torch.empty(n).uniform_(-0.17, 0.17, generator=gen),
        torch.empty(n).uniform_(-np.radians(max_yaw_deg), np.radians(max_yaw_deg), generator=gen),
        torch.empty(n).uniform_(-0.17, 0.17, generator=gen)], dim=1)
    # compose yaw (about Y) then small pitch/roll, as one rotation
    rot = axis_angle_to_matrix(angles[:, 1:2] * torch.tensor([0.0, 1.0, 0.0])) \
        @ axis_angle_to_matrix(angles * torch.tensor([1.0, 0.0, 1.0]))
    global_orient = matrix_to_axis_angle(rot)
    with torch.no_grad():
        out = model(betas=betas, global_orient=global_orient, body_pose=body_pose)
        kp3d = kmap(out)
    width, height = image_size
    depth = torch.empty(n).uniform_(*distance, generator=gen)
    # place the body centre on a random pixel in the middle 50 % of the image
    centre_px = torch.stack([torch.empty(n).uniform_(0.25 * width, 0.75 * width, generator=gen),
                             torch.empty(n).uniform_(0.3 * height, 0.7 * height, generator=gen)], 1)
    intr = torch.tensor([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1.0]]).expand(n, 3, 3)
    ray = torch.cat([(centre_px - intr[:, :2, 2]) / focal, torch.ones(n, 1)], 1)
    centre_world = out.joints[:, 0]  # pelvis
    t = ray * depth[:, None] - (FRONT_VIEW_R @ centre_world[..., None])[..., 0]
    camera = Camera(intr, FRONT_VIEW_R.expand(n, 3, 3), t, width, height)
    clean = camera.project(kp3d)
    noisy = clean + noise_px * torch.randn(clean.shape, generator=gen)
    conf = kmap.available.float().expand(n, -1).clone()
    conf[torch.rand(conf.shape, generator=gen) < drop] = 0.0
    return SyntheticSubjects(betas, global_orient, body_pose, camera, out.joints[:, :model.num_joints],
                             out.vertices, noisy, conf, clean, image_size)


def procrustes_align(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Similarity-align ``source (B, N, 3)`` to ``target (B, N, 3)`` (rotation, uniform scale,
    translation; Umeyama), returning the aligned source."""
    mu_s, mu_t = source.mean(1, keepdim=True), target.mean(1, keepdim=True)
    xs, xt = source - mu_s, target - mu_t
    cov = xt.transpose(1, 2) @ xs  # (B, 3, 3)
    u, sing, vh = torch.linalg.svd(cov)
    d = torch.sign(torch.linalg.det(u @ vh))
    fix = torch.diag_embed(torch.stack([torch.ones_like(d), torch.ones_like(d), d], -1))
    rot = u @ fix @ vh
    scale = (sing * torch.diagonal(fix, dim1=1, dim2=2)).sum(-1) / xs.square().sum((1, 2))
    return scale[:, None, None] * xs @ rot.transpose(1, 2) + mu_t


def mpjpe(pred: torch.Tensor, true: torch.Tensor, root: int = 0) -> torch.Tensor:
    """Root-aligned mean per-joint position error ``(B,)`` (same units as the inputs)."""
    return ((pred - pred[:, root:root + 1]) - (true - true[:, root:root + 1])).norm(dim=-1).mean(-1)


def pa_mpjpe(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Mean per-joint error after Procrustes (similarity) alignment ``(B,)``."""
    return (procrustes_align(pred, true) - true).norm(dim=-1).mean(-1)
