"""Training the pose lifter (:mod:`humanrecon.fitting.lifting`; the work behind
``tools/train_lifter.py``).

Data: synthetic people made as LGD's (:func:`~humanrecon.fitting.lgd_training.training_subjects`):
85 % of them from the pose pool (the pose corpus's TRAIN split, CMU training subjects
mirrored, plus the tuning half of the pose library repeated to half the pool), each joint
axis perturbed by N(0, s²) with s uniform in 0.05-0.3 rad, 15 % from the anatomical prior;
any yaw, ±10° lean, cameras 2-8 m away, f uniform in 600-1600 px, keypoint noise σ uniform
in 0-5 px, 10 % dropped, the benchmark's camera and detector faults (and ±10 % focal error)
on 75 % of the batches. Making a person costs twice a training step, so people are made
once, in chunks of :data:`CHUNK` (``chunk_NNNN.pt`` in a data folder, seeds
``6·10⁶ + 100·chunk + batch``: neither the benchmark's seed 0, the tests' < 1000 nor LGD's
``10⁶ + 2·step``), and training draws batches from all of them; chunk 0 is held out to
validate on.

Loss per hypothesis ``k`` (:func:`hypothesis_losses`): the mean distance (metres) between
the joints of the mean-shape skeleton posed by hypothesis ``k`` and by the truth (the root
rotation included: the fitter's frame, the true camera's pitch and roll folded in), plus
0.02 × the mean squared Frobenius distance of the rotations (it fixes what joints do not
show: twists, hands, feet, head). Relaxed winner-takes-all (Rupprecht et al. 2017):
``min_k + 0.05 · mean_k``, plus 0.01 × the cross-entropy of the scores against the winner.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from humanrecon.body import BodyModel
from humanrecon.body.lbs import batch_rigid_transform, rest_skeleton
from humanrecon.config_checks import check_count, check_number
from humanrecon.errors import InputError, MissingFileError
from humanrecon.fitting.lifting import PoseLifter, lifter_features
from humanrecon.geometry.rotations import axis_angle_to_matrix, matrix_to_rotation_6d, rotation_6d_to_matrix
from humanrecon.trainer import Trainer, fit
from humanrecon.training import Budget, Progress, TrainingHistory, cosine_decay

#: people per data chunk (16 batches of 512 sharing a batch's noise level and faults)
CHUNK = 8192
#: first seed of the lifter's training people
LIFTER_SEED_BASE = 6 * 10**6
#: share of the people drawn from the pose pool (the rest: the anatomical prior)
POOL_SHARE = 0.85
#: share of the batches with the benchmark's camera and detector faults
FAULT_SHARE = 0.75


@dataclass
class LifterTrainConfig:
    """How to train (defaults: the shipped weights; ``tools/train_lifter.py`` exposes them)."""

    steps: int = 20000
    max_seconds: float | None = 2400.0
    batch: int = 512
    lr: float = 1e-3
    lr_final_fraction: float = 0.02
    hypotheses: int = 8
    hidden: int = 1024
    blocks: int = 3
    checkpoint_every: int = 500
    seed: int = 0
    progress: bool = True
    device: str = "cpu"

    def __post_init__(self) -> None:
        Budget(self.steps, self.max_seconds)
        for name in ("batch", "hypotheses", "hidden", "blocks"):
            check_count(self, name, 1)
        check_count(self, "checkpoint_every", 0)
        check_number(self, "lr")
        check_number(self, "lr_final_fraction", 0.0, 1.0)


def make_chunk(model: BodyModel, pool: tuple[torch.Tensor, torch.Tensor], index: int,
               people: int = CHUNK) -> dict[str, torch.Tensor]:
    """Chunk ``index`` of training people (``people``, a multiple of 512 or fewer than 512):
    ``features (N, 3K + 3)`` (the lifter's input), ``rot6d (N, J + 1, 6)`` (root then body
    rotations in the fitter's frame) and ``betas (N, 10)``."""
    from humanrecon.fitting.lgd import LGDFitter, LGDNetwork
    from humanrecon.fitting.lgd_training import fitter_frame_targets, training_subjects

    joints = model.input_sizes()["body_pose"] // 3
    observer = LGDFitter(model, LGDNetwork(body_joints=joints, num_betas=min(10, model.num_betas)))
    parts: dict[str, list[torch.Tensor]] = {"features": [], "rot6d": [], "betas": []}
    per_batch = min(512, people)
    for batch in range(people // per_batch):
        people = training_subjects(model, per_batch, LIFTER_SEED_BASE + 100 * index + batch, pool, POOL_SHARE,
                                   FAULT_SHARE)
        obs = observer.observe(people.keypoints, people.confidence, people.intrinsics)
        target = fitter_frame_targets(people)
        rot = axis_angle_to_matrix(torch.cat([target["global_orient"], people.body_pose], 1).reshape(
            per_batch, -1, 3))
        parts["features"].append(lifter_features(obs.features, obs.centre, obs.size, obs.intrinsics))
        parts["rot6d"].append(matrix_to_rotation_6d(rot))
        parts["betas"].append(people.betas[:, :10])
    return {k: torch.cat(v) for k, v in parts.items()}


def chunk_paths(folder: str | os.PathLike, count: int) -> list[Path]:
    """The paths of chunks ``0 .. count-1`` in ``folder``."""
    return [Path(folder) / f"chunk_{i:04d}.pt" for i in range(count)]


def write_chunks(model: BodyModel, folder: str | os.PathLike, indices: range, poses: str | os.PathLike,
                 progress: bool = True) -> list[Path]:
    """Make the chunks ``indices`` in ``folder`` (those already there are kept: the same
    seeds make the same people; several processes may fill one folder with disjoint
    ranges) from the pose pool of the pose corpus ``poses``
    (:func:`~humanrecon.fitting.lgd_training.training_poses`, half of it tuning-library
    poses). Each chunk is written atomically. Returns their paths."""
    import io

    from humanrecon.fitting.lgd_training import training_poses
    from humanrecon.io.files import write_bytes

    Path(folder).mkdir(parents=True, exist_ok=True)
    pool = training_poses(str(poses), model.input_sizes()["body_pose"] // 3, 0.5)
    paths = chunk_paths(folder, indices.stop)
    for i in tqdm(indices, desc="lifter data", disable=not progress):
        if not paths[i].exists():
            buffer = io.BytesIO()
            torch.save(make_chunk(model, pool, i), buffer)
            write_bytes(paths[i], buffer.getvalue())
    return [paths[i] for i in indices]


def read_chunks(paths: list[Path]) -> dict[str, torch.Tensor]:
    """The chunks at ``paths`` joined into one set of tensors (:func:`make_chunk`'s keys)."""
    if not paths:
        raise InputError("no lifter data chunks given")
    data = []
    for path in paths:
        if not Path(path).is_file():
            raise MissingFileError(f"{path}: lifter data chunk not found (tools/train_lifter.py makes them)")
        data.append(torch.load(path, weights_only=True))
    return {k: torch.cat([d[k] for d in data]) for k in data[0]}


def hypothesis_losses(rotations: torch.Tensor, true_rotations: torch.Tensor, rest: torch.Tensor,
                      parents: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-hypothesis loss and joint error ``(B, K)`` each (module docstring) of
    ``rotations (B, K, J, 3, 3)`` against ``true_rotations (B, J, 3, 3)``, the skeleton
    ``rest (J, 3)`` (metres) with ``parents``."""
    batch, count, joints = rotations.shape[:3]

    def pose(rot: torch.Tensor) -> torch.Tensor:
        return batch_rigid_transform(rot, rest.expand(len(rot), -1, -1), parents)[0]

    predicted = pose(rotations.flatten(0, 1)).view(batch, count, joints, 3)
    joint_error = (predicted - pose(true_rotations)[:, None]).norm(dim=-1).mean(-1)
    rotation_error = (rotations - true_rotations[:, None]).square().sum((-2, -1)).mean(-1)
    return joint_error + 0.02 * rotation_error, joint_error


def winner_takes_all(losses: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """The relaxed winner-takes-all loss of per-hypothesis ``losses (B, K)`` and the
    scores' cross-entropy against each row's winner (module docstring)."""
    best = losses.detach().argmin(1)
    return losses.gather(1, best[:, None]).mean() + 0.05 * losses.mean() \
        + 0.01 * torch.nn.functional.cross_entropy(scores, best)


def validation_errors(lifter: PoseLifter, data: dict[str, torch.Tensor], rest: torch.Tensor,
                      parents: list[int]) -> dict[str, float]:
    """Joint errors (mm, root rotation included, no alignment) on held-out people:
    ``best_mm`` (the best hypothesis per person: what the fitter's choice can reach) and
    ``top_scored_mm`` (the hypothesis the lifter scores highest)."""
    lifter.eval()
    with torch.no_grad():
        rot, scores = lifter(data["features"])
        _, error = hypothesis_losses(rot, rotation_6d_to_matrix(data["rot6d"]), rest, parents)
    return {"best_mm": round(1000 * float(error.min(1).values.mean()), 1),
            "top_scored_mm": round(1000 * float(error.gather(1, scores.argmax(1, keepdim=True)).mean()), 1)}


class LifterTrainer(Trainer):
    """The lifter on the one trainer shape (:mod:`humanrecon.trainer`): the "split" is
    ``(body model, training data)`` (:func:`read_chunks`); each step draws ``config.batch``
    people from the data with the trainer's generator; Adam with a cosine decay."""

    name = "lifter"
    checkpoint_name = "pose_lifter.pt"
    model_class = PoseLifter

    def __init__(self, split: tuple[BodyModel, dict[str, torch.Tensor]], config: LifterTrainConfig, *,
                 device: torch.device, generator: torch.Generator, model: PoseLifter | None = None) -> None:
        body, self.data = split
        self.config, self.generator = config, generator
        joints = body.input_sizes()["body_pose"] // 3 + 1
        self.rest = rest_skeleton(body, None, joints)
        self.parents = body.parents[:joints].tolist()
        self.model = model if model is not None else PoseLifter(
            joints=joints, hypotheses=config.hypotheses, hidden=config.hidden, blocks=config.blocks)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.history = TrainingHistory()
        self.parts: dict = {}

    def step(self, progress: Progress) -> torch.Tensor:
        rows = torch.randint(len(self.data["features"]), (self.config.batch,), generator=self.generator)
        rot, scores = self.model(self.data["features"][rows])
        losses, error = hypothesis_losses(rot, rotation_6d_to_matrix(self.data["rot6d"][rows]), self.rest,
                                          self.parents)
        self.parts = {"best_mm": 1000 * float(error.detach().min(1).values.mean())}
        return winner_takes_all(losses, scores)

    def learning_rate(self, fraction: float) -> float:
        return cosine_decay(self.config.lr, fraction, self.config.lr_final_fraction)

    def postfix(self) -> dict:
        return {k: f"{v:.3g}" for k, v in self.parts.items()}


def train_lifter(model: BodyModel, data: dict[str, torch.Tensor], out: str | os.PathLike,
                 config: LifterTrainConfig | None = None, *, resume: bool = False, hooks=(),
                 half: bool = True) -> tuple[PoseLifter, TrainingHistory]:
    """Train lifter weights for ``model`` on ``data`` (:func:`read_chunks`) by
    :func:`humanrecon.trainer.fit`; checkpoints go to ``out`` (``resume=True`` continues
    one exactly); the finished file holds the weights without the optimiser state, as
    float16 (``half``; resuming it goes on with a fresh Adam).
    Returns ``(lifter in eval mode, history)``."""
    config = config or LifterTrainConfig()
    out = Path(out)
    lifter, history = fit(LifterTrainer, (model, data), out.parent, config, resume=resume, hooks=hooks,
                          checkpoint_name=out.name)
    from humanrecon.io.checkpoints import load_checkpoint

    saved = load_checkpoint(out, PoseLifter.checkpoint_kind)
    lifter.save(out, half=half, step=saved["step"], elapsed=saved["elapsed"], config=asdict(config))
    return lifter, history
