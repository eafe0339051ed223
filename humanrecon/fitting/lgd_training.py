"""Training learned gradient descent (:mod:`humanrecon.fitting.lgd`) on synthetic people
drawn on the fly (the work behind ``tools/train_lgd.py``).

Data per step (``batch`` people, :func:`training_subjects`): random shapes (betas N(0, 1)
clipped to ±2); ``library_share`` of the poses from the TUNING half of the everyday pose
library (never the half the benchmark reports on), shuffled, each joint axis perturbed by
N(0, s²) with s uniform in 0.05-0.3 rad, the rest from the anatomical prior (N(0, (0.5
σ_joint)²) around the T-pose); any yaw, ±10° lean; cameras 2-8 m away, focal length
uniform in 600-1600 px on a 1000×1000 image; keypoint noise σ uniform in 0-5 px, 10 %
dropped, and the fitting benchmark's camera and detector faults (camera pitch ±15°, roll
±5°, 2 % left/right limb swaps, 5 % gross outliers, focal length told ±10 %) on
``fault_share`` of the batches. Subjects are drawn from seeds ``10**6 + ...``: the
benchmark (seed 0) and the tests (seeds < 1000) never see them.

Loss (summed over the start and every iteration, weighted ``(t + 1) / (T + 1)``): mean
3D joint error and error of 256 surface vertices, both pelvis-centred (metres); rotation
matrix error of the root and every joint (squared Frobenius); betas (squared); camera
``(t_x/t_z, t_y/t_z)`` and ``log t_z`` (absolute). Targets are in SMPLify's frame: the true
camera's pitch and roll folded into the body's root rotation (the fitter assumes a level
camera), exactly (:func:`fitter_frame_targets`).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from humanrecon.body import BodyModel
from humanrecon.fitting.lgd import LGDFitter, LGDNetwork
from humanrecon.fitting.smplify import FRONT_VIEW_R
from humanrecon.fitting.synthetic import DETECTOR_FAULTS, Faults, SyntheticSubjects, sample_subjects
from humanrecon.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from humanrecon.config_checks import check_count, check_number
from humanrecon.errors import InputError
from humanrecon.trainer import Trainer, fit
from humanrecon.training import Budget, Progress, TrainingHistory, cosine_decay

#: first seed of the training subjects (benchmarks use 0, tests < 1000)
TRAINING_SEED_BASE = 10**6


@dataclass
class LGDTrainConfig:
    """How to train (defaults: the shipped weights; ``tools/train_lgd.py`` exposes them)."""

    steps: int = 4000
    max_seconds: float | None = 1500.0
    batch: int = 64
    lr: float = 1e-3
    lr_final_fraction: float = 0.05
    iterations: int = 6
    hidden: int = 512
    layers: int = 2
    library_share: float = 0.75
    fault_share: float = 0.75
    checkpoint_every: int = 250
    seed: int = 0
    progress: bool = True
    #: the synthetic training people are made on the CPU, so LGD trains there
    device: str = "cpu"
    #: where the training poses come from: "library" (the tuning half of the pose
    #: library) or the path of a pose corpus (its TRAIN split: CMU training subjects +
    #: the tuning library, mirrored; ``tools/build_pose_corpus.py``)
    poses: str = "library"
    #: with a corpus: the share of the pose pool that is tuning-library poses (repeated to
    #: make it up; the corpus has few sitting, kneeling or lying poses)
    library_fraction: float = 0.5

    def __post_init__(self) -> None:
        Budget(self.steps, self.max_seconds)  # checks steps and max_seconds
        for name in ("batch", "iterations", "hidden", "layers"):
            check_count(self, name, 1)
        check_count(self, "checkpoint_every", 0)
        check_number(self, "lr")
        check_number(self, "lr_final_fraction", 0.0, 1.0)
        for name in ("library_share", "fault_share", "library_fraction"):
            check_number(self, name, 0.0, 1.0, low_open=False)
        if self.device != "cpu":
            raise InputError(f"device: LGD trains on the CPU (its synthetic people are made there), got {self.device!r}")


@dataclass
class TrainingBatch:
    """Synthetic people and their targets in SMPLify's frame: ``state (B, D)``,
    ``joints (B, J, 3)``, ``vertices (B, S, 3)`` (the loss vertices), model-frame metres."""

    subjects: SyntheticSubjects
    state: torch.Tensor
    joints: torch.Tensor
    vertices: torch.Tensor


def library_tuning_poses(body_joints: int = 23) -> tuple[torch.Tensor, torch.Tensor]:
    """``(global_orient (M, 3), body_pose (M, 3·body_joints))`` of the tuning half."""
    from humanrecon.body.pose_library import library_poses

    _, body, root = library_poses("tuning", body_joints)
    return torch.as_tensor(root, dtype=torch.float32), torch.as_tensor(body, dtype=torch.float32)


def training_poses(source: str, body_joints: int = 23,
                   library_fraction: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(global_orient (M, 3), body_pose (M, 3·body_joints))`` LGD trains on: the tuning
    half of the pose library (``"library"``) or a pose corpus's TRAIN split (a path), to
    which the tuning library poses are added, repeated, until they are ``library_fraction``
    of the pool."""
    library = library_tuning_poses(body_joints)
    if source == "library":
        return library
    from humanrecon.body.pose_corpus import read_corpus

    train = read_corpus(source).part("train")
    root = torch.as_tensor(train.global_orient, dtype=torch.float32)
    body = torch.as_tensor(train.body_pose[:, : 3 * body_joints], dtype=torch.float32)
    if library_fraction > 0:
        wanted = int(round(len(body) * library_fraction / (1.0 - library_fraction))) if library_fraction < 1 else 0
        repeat = torch.arange(max(wanted, len(library[1]))) % len(library[1])
        root, body = torch.cat([root, library[0][repeat]]), torch.cat([body, library[1][repeat]])
    return root, body


def fitter_frame_targets(subjects: SyntheticSubjects) -> dict[str, torch.Tensor]:
    """The true bodies as SMPLify's model sees them: the camera's own rotation ``R_c``
    folded into the root, ``R' = R_front^T R_c R_root`` about the pelvis ``J0``, and the
    camera translation ``t' = R_c J0 + t − R_front J0``, so that ``R_front X' + t' = R_c X + t``
    for every point. Returns ``global_orient (B, 3)``, ``transl (B, 3)``, ``joints`` and
    ``vertices`` ``(B, ·, 3)`` rotated the same way."""
    cam_R, t = subjects.camera.R, subjects.camera.t
    front = FRONT_VIEW_R.to(cam_R)
    delta = front.T @ cam_R  # (B, 3, 3)
    root = subjects.joints[:, :1]
    orient = matrix_to_axis_angle(delta @ axis_angle_to_matrix(subjects.global_orient))
    transl = (cam_R @ root[:, 0, :, None])[..., 0] + t - (front @ root[:, 0, :, None])[..., 0]

    def rotate(x):
        return (x - root) @ delta.transpose(1, 2) + root

    return {"global_orient": orient, "transl": transl, "joints": rotate(subjects.joints),
            "vertices": rotate(subjects.vertices)}


def training_subjects(model: BodyModel, n: int, seed: int, library: tuple[torch.Tensor, torch.Tensor],
                      library_share: float = 0.75, fault_share: float = 0.75) -> SyntheticSubjects:
    """``n`` training people from ``seed`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n_library = int(round(n * library_share))
    faults = Faults(**{**DETECTOR_FAULTS.__dict__, "focal_error": 0.1}) if rng.random() < fault_share else Faults()
    common = dict(noise_px=float(rng.uniform(0, 5)), drop=0.1, focal=float(rng.uniform(600, 1600)), faults=faults)
    parts = []
    if n_library:
        order = torch.as_tensor(rng.permutation(len(library[1])))
        poses = (library[0][order], library[1][order])
        parts.append(sample_subjects(model, n_library, seed=seed, poses=poses,
                                     pose_noise=float(rng.uniform(0.05, 0.3)), **common))
    if n - n_library:
        parts.append(sample_subjects(model, n - n_library, seed=seed + 1, **common))
    return _concat(parts)


def _concat(parts: list[SyntheticSubjects]) -> SyntheticSubjects:
    if len(parts) == 1:
        return parts[0]
    from humanrecon.geometry import Camera

    cams = [p.camera for p in parts]
    cat = {name: torch.cat([getattr(p, name) for p in parts]) for name in
           ("betas", "global_orient", "body_pose", "joints", "vertices", "keypoints", "confidence", "clean_keypoints",
            "intrinsics")}
    camera = Camera(torch.cat([c.K for c in cams]), torch.cat([c.R for c in cams]), torch.cat([c.t for c in cams]),
                    cams[0].width, cams[0].height)
    return SyntheticSubjects(camera=camera, image_size=parts[0].image_size, **cat)


def make_batch(fitter: LGDFitter, subjects: SyntheticSubjects) -> TrainingBatch:
    """Targets of ``subjects`` for ``fitter`` (its state layout and loss vertices)."""
    target = fitter_frame_targets(subjects)
    state = fitter.encode(target["global_orient"], subjects.body_pose, subjects.betas, target["transl"])
    vertex_ids = fitter.vertex_ids[fitter.loss_vertex_rows]
    return TrainingBatch(subjects, state, target["joints"][:, : fitter.model.num_joints],
                         target["vertices"][:, vertex_ids])


def lgd_loss(fitter: LGDFitter, states: list[torch.Tensor], batch: TrainingBatch) -> tuple[torch.Tensor, dict]:
    """Training loss over the unrolled ``states`` (module docstring); returns
    ``(loss, parts of the last state as floats)``."""
    j = fitter.body_dim // 3
    true = fitter.decode(batch.state)
    true_rot = torch.cat([true["global_orient"], true["body_pose"]], 1)
    target_joints = batch.joints - batch.joints[:, :1]
    target_vertices = batch.vertices - batch.joints[:, :1]
    total = torch.zeros((), dtype=batch.state.dtype)
    weights = torch.arange(1, len(states) + 1, dtype=total.dtype) / len(states)
    parts = {}
    for weight, state in zip(weights, states):
        params, out, _ = fitter.body(state)
        joints = out.joints[:, : fitter.model.num_joints]
        centre = joints[:, :1]
        joint_err = ((joints - centre) - target_joints).norm(dim=-1).mean()
        vertex_err = ((out.vertices[:, fitter.loss_vertex_rows] - centre) - target_vertices).norm(dim=-1).mean()
        rot = torch.cat([params["global_orient"], params["body_pose"]], 1)
        rot_err = (rot - true_rot).square().sum((-2, -1)).mean() / (j + 1)
        beta_err = (state[:, 6 + 6 * j: -3] - batch.state[:, 6 + 6 * j: -3]).square().mean()
        cam_err = (state[:, -3:] - batch.state[:, -3:]).abs().mean()
        parts = {"joints_mm": 1000 * joint_err.item(), "vertices_mm": 1000 * vertex_err.item(),
                 "rotation": rot_err.item(), "betas": beta_err.item(), "camera": cam_err.item()}
        total = total + weight * (joint_err + vertex_err + 0.1 * rot_err + 0.01 * beta_err + 0.1 * cam_err)
    return total / weights.sum(), parts


def initialise_network(network: LGDNetwork, fitter: LGDFitter, batch: TrainingBatch) -> None:
    """Set the buffers of a fresh network: ``mean_state`` from the tuning library's mean
    body pose (root identity, mean shape), ``grad_scale`` the median gradient size per
    state entry at the start of a training batch."""
    library = library_tuning_poses(fitter.body_dim // 3)
    mean_pose = library[1].mean(0, keepdim=True)
    zeros = torch.zeros(1, 3)
    mean = fitter.encode(zeros, mean_pose, torch.zeros(1, network.num_betas), torch.tensor([[0.0, 0.0, 1.0]]))
    network.mean_state.copy_(mean[0])
    obs = fitter.observe(batch.subjects.keypoints, batch.subjects.confidence, batch.subjects.intrinsics)
    with torch.no_grad():
        state = fitter.unroll(obs)[0]
    probe = state.detach().requires_grad_(True)
    grad, = torch.autograd.grad(fitter.energy(probe, obs).sum(), probe)
    scale = grad.abs().median(0).values
    network.grad_scale.copy_(scale.clamp(min=float(scale.max()) * 1e-4 + 1e-12))


class LGDTrainer(Trainer):
    """LGD on the one trainer shape (:mod:`humanrecon.trainer`): the "split" is the body
    model; each step draws ``config.batch`` people from the step's own seed
    (:func:`training_subjects`), unrolls the fitter and applies :func:`lgd_loss`; Adam with a
    cosine decay. A fresh network's buffers come from :func:`initialise_network`."""

    name = "LGD"
    checkpoint_name = "lgd.pt"
    model_class = LGDNetwork

    def __init__(self, body: BodyModel, config: LGDTrainConfig, *, device: torch.device,
                 generator: torch.Generator, model: LGDNetwork | None = None) -> None:
        self.body, self.config = body, config
        body_joints = body.input_sizes()["body_pose"] // 3
        fresh = model is None
        self.model = model if model is not None else LGDNetwork(
            body_joints=body_joints, num_betas=min(10, body.num_betas), iterations=config.iterations,
            hidden=config.hidden, layers=config.layers)
        self.fitter = LGDFitter(body, self.model)
        self.library = training_poses(config.poses, body_joints, config.library_fraction)
        self.seed_base = TRAINING_SEED_BASE + 100_000 * config.seed
        if fresh:
            initialise_network(self.model, self.fitter, self.batch_at(-1))
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.history = TrainingHistory()
        self.parts: dict = {}

    def batch_at(self, step: int) -> TrainingBatch:
        """The people of training step ``step`` (the same on every run and resume)."""
        subjects = training_subjects(self.body, self.config.batch, self.seed_base + 2 * step, self.library,
                                     self.config.library_share, self.config.fault_share)
        return make_batch(self.fitter, subjects)

    def step(self, progress: Progress) -> torch.Tensor:
        batch = self.batch_at(progress.step)
        obs = self.fitter.observe(batch.subjects.keypoints, batch.subjects.confidence, batch.subjects.intrinsics)
        loss, self.parts = lgd_loss(self.fitter, self.fitter.unroll(obs, train=True), batch)
        return loss

    def learning_rate(self, fraction: float) -> float:
        return cosine_decay(self.config.lr, fraction, self.config.lr_final_fraction)

    def postfix(self) -> dict:
        return {k: f"{v:.3g}" for k, v in self.parts.items()}


def train_lgd(model: BodyModel, out: str | os.PathLike, config: LGDTrainConfig | None = None, *,
              resume: bool = False, hooks=()) -> tuple[LGDNetwork, TrainingHistory]:
    """Train LGD weights for ``model`` (:class:`LGDTrainer` by :func:`humanrecon.trainer.fit`);
    checkpoints (optimiser, step, elapsed time, random state) go to ``out`` (a ``.pt``
    file, the weights a fitter loads); ``resume=True`` continues an interrupted run exactly;
    the finished file holds the weights without the optimiser state (a third of the
    size; resuming it goes on with a fresh Adam). ``hooks``: per-step
    :class:`~humanrecon.training.TrainingHook` s. Returns ``(network in eval mode, history)``."""
    config = config or LGDTrainConfig()
    out = Path(out)
    network, history = fit(LGDTrainer, model, out.parent, config, resume=resume, hooks=hooks,
                           checkpoint_name=out.name)
    from humanrecon.io.checkpoints import load_checkpoint

    saved = load_checkpoint(out, LGDNetwork.checkpoint_kind)
    network.save(out, step=saved["step"], elapsed=saved["elapsed"], config=asdict(config))
    return network, history
