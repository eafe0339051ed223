"""Synthetic fitting problems with known answers: random bodies seen by random cameras,
their keypoints projected, noised and partly dropped (for tests and ``tools/bench_fit.py``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from humanrecon.body import BodyModel, keypoint_map
from humanrecon.body.keypoints import BODY25_LIMB_PAIRS, SMPL_JOINT_NAMES
from humanrecon.fitting.priors import JointLimitPrior
from humanrecon.fitting.smplify import FRONT_VIEW_R
from humanrecon.geometry import Camera
from humanrecon.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle


@dataclass(frozen=True)
class Faults:
    """What real cameras and detectors do that the fitter does not assume.

    Attributes:
        camera_pitch_deg, camera_roll_deg: the true camera is pitched/rolled by a uniform
            angle in ± these (degrees) away from :data:`FRONT_VIEW_R`, which the fitter assumes.
        focal_error: the fitter is told a focal length off by a uniform factor in
            ``1 ± focal_error`` (the true one projects the keypoints).
        swap: probability, per person and per limb pair (arms, legs; :data:`~humanrecon.body.keypoints.BODY25_LIMB_PAIRS`),
            that the detector swaps the left and right chains.
        outliers: fraction of the visible keypoints replaced by a gross error: a uniform
            pixel inside the person's 2D box grown by 50 %, reported with full confidence.
    """

    camera_pitch_deg: float = 0.0
    camera_roll_deg: float = 0.0
    focal_error: float = 0.0
    swap: float = 0.0
    outliers: float = 0.0


#: the faults of ``tools/bench_fit.py --faults``: camera pitch ±15°, roll ±5°, 2 % of limb
#: pairs swapped, 5 % gross outliers (focal error separately: ``--focal-error``)
DETECTOR_FAULTS = Faults(camera_pitch_deg=15.0, camera_roll_deg=5.0, swap=0.02, outliers=0.05)


@dataclass
class SyntheticSubjects:
    """Ground truth and observations of ``N`` subjects.

    Attributes:
        betas ``(N, K)``, global_orient ``(N, 3)``, body_pose ``(N, 69)``: true parameters.
        camera: the true :class:`Camera` batch N (R = FRONT_VIEW_R unless ``Faults`` pitch
            or roll it; t places the body 2-8 m away).
        intrinsics ``(N, 3, 3)``: what the fitter is told (the true ``camera.K`` unless
            ``Faults.focal_error``).
        joints ``(N, J, 3)`` true skeleton joints, vertices ``(N, V, 3)`` (model frame).
        keypoints ``(N, 25, 2)`` observed pixels (noised, faulty), confidence ``(N, 25)``
        (0 = dropped or unavailable), clean_keypoints ``(N, 25, 2)``.
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
    intrinsics: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.intrinsics is None:
            self.intrinsics = self.camera.K


def perturb_poses(global_orient: torch.Tensor, body_pose: torch.Tensor, n: int, noise: float,
                  generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` poses drawn from ``M`` given ones (``global_orient (M, 3)``, ``body_pose (M, 69)``),
    cycling through them in order, each body joint axis moved by N(0, ``noise``²) radians and
    clipped to the anatomical joint limits. Returns ``(n, 3)``, ``(n, 69)``."""
    rows = torch.arange(n) % body_pose.shape[0]
    prior = JointLimitPrior()
    moved = body_pose[rows] + noise * torch.randn(n, body_pose.shape[1], generator=generator)
    return global_orient[rows].clone(), torch.maximum(torch.minimum(moved, prior.upper), prior.lower)


def sample_subjects(model: BodyModel, n: int, *, noise_px: float = 0.0, drop: float = 0.1, seed: int = 0,
                    image_size: tuple[int, int] = (1000, 1000), focal: float = 1000.0,
                    distance: tuple[float, float] = (2.0, 8.0), pose_scale: float = 0.5,
                    max_yaw_deg: float = 180.0, poses: tuple[torch.Tensor, torch.Tensor] | None = None,
                    pose_noise: float = 0.1, faults: Faults = Faults()) -> SyntheticSubjects:
    """Sample ``n`` subjects: betas ~ N(0, 1) clipped to ±2; body poses either Gaussian
    N(0, (``pose_scale`` σ)²) per joint axis around the rest (T) pose with the anatomical
    prior's σ, clipped to its joint limits (:meth:`JointLimitPrior.sample`: the fitter's
    own prior family, so these subjects flatter it), or, with ``poses = (global_orient
    (M, 3), body_pose (M, 69))`` (e.g. the reporting half of the pose library, or a motion
    file), those poses in turn perturbed by N(0, ``pose_noise``²) rad per joint axis
    (:func:`perturb_poses`); then a yaw uniform in ±``max_yaw_deg`` and a lean (pitch/roll)
    of ±10° applied on top of the pose's own root orientation; body centre 2-8 m in front of
    the camera and inside the image.
    Keypoints: BODY_25 projections + N(0, noise_px²) pixel noise, a fraction ``drop`` of
    the available keypoints given confidence 0, and the camera and detector ``faults``
    (:class:`Faults`; drawn from their own generator, so a run without faults draws the
    same subjects as before they existed)."""
    gen = torch.Generator().manual_seed(seed)
    kmap = keypoint_map(model, "body25")
    betas = (torch.randn(n, model.num_betas, generator=gen)).clamp(-2, 2)
    if poses is None:
        root, body_pose = torch.zeros(n, 3), JointLimitPrior().sample(n, pose_scale, gen)
    else:
        root, body_pose = perturb_poses(*(torch.as_tensor(p, dtype=torch.float32) for p in poses), n,
                                        pose_noise, gen)
    angles = torch.stack([
        torch.empty(n).uniform_(-0.17, 0.17, generator=gen),
        torch.empty(n).uniform_(-np.radians(max_yaw_deg), np.radians(max_yaw_deg), generator=gen),
        torch.empty(n).uniform_(-0.17, 0.17, generator=gen)], dim=1)
    # compose yaw (about Y) then small pitch/roll, as one rotation, then the pose's own root
    rot = axis_angle_to_matrix(angles[:, 1:2] * torch.tensor([0.0, 1.0, 0.0])) \
        @ axis_angle_to_matrix(angles * torch.tensor([1.0, 0.0, 1.0])) @ axis_angle_to_matrix(root)
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
    fault_gen = torch.Generator().manual_seed(seed + 7919)
    tilt = torch.stack([torch.empty(n).uniform_(-1, 1, generator=fault_gen) * np.radians(faults.camera_pitch_deg),
                        torch.zeros(n),
                        torch.empty(n).uniform_(-1, 1, generator=fault_gen) * np.radians(faults.camera_roll_deg)], 1)
    # pitch about the camera's x axis, roll about its z axis (camera frame, after FRONT_VIEW_R)
    cam_R = axis_angle_to_matrix(tilt[:, 2:] * torch.tensor([0.0, 0.0, 1.0])) \
        @ axis_angle_to_matrix(tilt * torch.tensor([1.0, 0.0, 0.0])) @ FRONT_VIEW_R
    centre_world = out.joints[:, 0]  # pelvis
    t = ray * depth[:, None] - (cam_R @ centre_world[..., None])[..., 0]
    camera = Camera(intr, cam_R, t, width, height)
    clean = camera.project(kp3d)
    noisy = clean + noise_px * torch.randn(clean.shape, generator=gen)
    conf = kmap.available.float().expand(n, -1).clone()
    conf[torch.rand(conf.shape, generator=gen) < drop] = 0.0
    noisy = _detector_faults(noisy, conf, kmap.names, faults, fault_gen)
    told = intr.clone()
    if faults.focal_error:
        factor = 1.0 + torch.empty(n).uniform_(-faults.focal_error, faults.focal_error, generator=fault_gen)
        told[:, 0, 0] *= factor
        told[:, 1, 1] *= factor
    return SyntheticSubjects(betas, global_orient, body_pose, camera, out.joints[:, :model.num_joints],
                             out.vertices, noisy, conf, clean, image_size, told)


def _detector_faults(points: torch.Tensor, conf: torch.Tensor, names: tuple[str, ...], faults: Faults,
                     gen: torch.Generator) -> torch.Tensor:
    """Left/right chain swaps and gross outliers on ``points (N, K, 2)`` (see :class:`Faults`)."""
    points = points.clone()
    n = points.shape[0]
    index = {name: i for i, name in enumerate(names)}
    for left, right in BODY25_LIMB_PAIRS:
        swapped = torch.rand(n, generator=gen) < faults.swap
        li, ri = [index[k] for k in left], [index[k] for k in right]
        points[swapped.nonzero()[:, :1], li + ri] = points[swapped.nonzero()[:, :1], ri + li]
    seen = conf > 0
    big = float(torch.finfo(points.dtype).max)
    lo = torch.where(seen[..., None], points, torch.full_like(points, big)).amin(1)
    hi = torch.where(seen[..., None], points, torch.full_like(points, -big)).amax(1)
    centre, half = (lo + hi) / 2, 0.75 * (hi - lo)  # the box grown by 50 %
    wild = centre[:, None] + half[:, None] * (2 * torch.rand(points.shape, generator=gen) - 1)
    outlier = seen & (torch.rand(seen.shape, generator=gen) < faults.outliers)
    return torch.where(outlier[..., None], wild, points)


def truth_start(model: BodyModel, subjects: SyntheticSubjects, num_betas: int | None = None) -> dict[str, torch.Tensor]:
    """The true answer in the fitter's parametrisation, as a start for
    :meth:`~humanrecon.fitting.smplify.SMPLify.refine`: the camera fixed at
    :data:`FRONT_VIEW_R` (what the fitter assumes), so the true camera's pitch and roll
    (:class:`Faults`) move into ``global_orient`` and ``transl`` (OpenCV, world-to-camera,
    metres) is the translation that puts every body point where the true camera sees it.

    Returns ``transl (N, 3)``, ``global_orient (N, 3)``, ``body_pose (N, 69)``, ``betas
    (N, num_betas)`` (default all of the model's). What SMPLify reaches from here is the
    objective's own answer near the truth: the floor a better start search could reach
    (``tools/bench_fit.py --methods truth+smplify``)."""
    true_r = subjects.camera.R  # (N, 3, 3)
    front = FRONT_VIEW_R.to(true_r).expand_as(true_r)
    # x_cam = R_true x + t = FRONT (C x') + t' with the body turned by C = FRONT^T R_true
    # about its root joint j0: t' = t + R_true j0 - FRONT j0
    turn = front.transpose(1, 2) @ true_r
    global_orient = matrix_to_axis_angle(turn @ axis_angle_to_matrix(subjects.global_orient))
    with torch.no_grad():
        root = model(betas=subjects.betas).joints[:, 0]  # (N, 3), the root joint of each shape
    transl = subjects.camera.t + ((true_r - front) @ root[..., None])[..., 0]
    betas = subjects.betas if num_betas is None else subjects.betas[:, :num_betas]
    return {"transl": transl, "global_orient": global_orient, "body_pose": subjects.body_pose.clone(),
            "betas": betas.clone()}


def procrustes_align(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Similarity-align ``source (B, N, 3)`` to ``target (B, N, 3)`` (rotation, uniform scale,
    translation; Umeyama), returning the aligned source."""
    from humanrecon.geometry.rotations import best_rotation

    mu_s, mu_t = source.mean(1, keepdim=True), target.mean(1, keepdim=True)
    xs = source - mu_s
    rot, sing = best_rotation(source, target)
    scale = sing.sum(-1) / xs.square().sum((1, 2))
    return scale[:, None, None] * xs @ rot.transpose(1, 2) + mu_t


#: the 14 LSP joints (ankles, knees, hips, wrists, elbows, shoulders, neck, head) taken as
#: the SMPL skeleton joints of those names (no head-top vertex): indices into the 24 joints
LSP14_JOINTS = tuple(SMPL_JOINT_NAMES.index(name) for name in (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "right_wrist",
    "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist", "neck", "head"))


def mpjpe(pred: torch.Tensor, true: torch.Tensor, root: int = 0) -> torch.Tensor:
    """Root-aligned mean per-joint position error ``(B,)`` (same units as the inputs)."""
    return ((pred - pred[:, root:root + 1]) - (true - true[:, root:root + 1])).norm(dim=-1).mean(-1)


def pa_mpjpe(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Mean per-joint error after Procrustes (similarity) alignment ``(B,)``."""
    return (procrustes_align(pred, true) - true).norm(dim=-1).mean(-1)
