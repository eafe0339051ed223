"""A corpus of body poses from real motion capture, split by the people captured.

Built by ``tools/build_pose_corpus.py`` from the CMU clips (:mod:`humanrecon.body.retarget`)
and the TUNING half of the everyday pose library; held in one ``.npz``
(:func:`write_corpus` / :func:`read_corpus`):

* ``body_pose (N, 69)``, ``global_orient (N, 3)`` (axis-angle radians, the body's frame:
  Y up; the heading about Y removed, so a pose is upright or leaning as captured but
  always faces +Z);
* ``split (N,)``: ``"train"`` or ``"validation"``: **whole CMU subjects** are in
  validation (:data:`VALIDATION_SUBJECTS`), never in training, tuning or start banks;
* ``subject (N,)`` (CMU subject number; -1 for library poses), ``clip (N,)`` (``"02_01"``,
  ``"library"``), ``mirrored (N,)`` (left/right mirrored copies, an augmentation).

Poses closer than ``min_distance`` (mean joint distance of the mean-shape body, root at
the origin, metres) to one already kept are dropped (:func:`distinct_poses`), so a
walk's hundred similar strides count once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from humanrecon.body.keypoints import SMPL_JOINT_NAMES
from humanrecon.errors import InputError, PoseFileError

#: CMU subjects held out for validation: 02 (walk, run, jump, punch, bend over, swordplay,
#: wash) and 06 (walk, basketball dribbling and shooting)
VALIDATION_SUBJECTS = (2, 6)
#: what the corpus file holds (module docstring)
CORPUS_KEYS = ("body_pose", "global_orient", "split", "subject", "clip", "mirrored")


@dataclass
class PoseCorpus:
    """The arrays of the module docstring, one row per pose."""

    body_pose: np.ndarray
    global_orient: np.ndarray
    split: np.ndarray
    subject: np.ndarray
    clip: np.ndarray
    mirrored: np.ndarray

    def __len__(self) -> int:
        return len(self.body_pose)

    def select(self, mask) -> "PoseCorpus":
        """The rows where ``mask (N,)`` is true."""
        mask = np.asarray(mask, bool)
        return PoseCorpus(*(getattr(self, k)[mask] for k in CORPUS_KEYS))

    def part(self, split: str) -> "PoseCorpus":
        """``"train"`` or ``"validation"`` rows."""
        if split not in ("train", "validation"):
            raise InputError(f"split must be 'train' or 'validation', got {split!r}")
        return self.select(self.split == split)


def subject_of(clip: str) -> int:
    """The CMU subject of a clip name: ``"02_01"`` and ``"cc_02_05"`` → 2."""
    parts = clip.split("_")
    try:
        return int(parts[-2])
    except (IndexError, ValueError) as exc:
        raise InputError(f"{clip}: not a CMU clip name (SS_TT or cc_SS_TT)") from exc


def without_heading(global_orient: np.ndarray) -> np.ndarray:
    """Root rotations ``(N, 3)`` with their heading about +Y removed (the body then faces
    +Z, keeping its lean): ``R' = R_y(−ψ) R`` with ``ψ`` the yaw of the body's forward
    axis ``R e_z``."""
    from humanrecon.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle

    rot = axis_angle_to_matrix(torch.as_tensor(global_orient, dtype=torch.float64))
    forward = rot[:, :, 2]
    yaw = torch.atan2(forward[:, 0], forward[:, 2])
    turn = axis_angle_to_matrix(-yaw[:, None] * torch.tensor([0.0, 1.0, 0.0], dtype=yaw.dtype))
    return matrix_to_axis_angle(turn @ rot).numpy().astype(np.float32)


def mirror_poses(global_orient: np.ndarray, body_pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left/right mirror images of SMPL poses (reflection through the body's sagittal
    plane x = 0): each joint's axis-angle ``(x, y, z)`` becomes ``(x, −y, −z)`` and the
    left and right joints swap. ``global_orient (N, 3)``, ``body_pose (N, 69)``."""
    names = SMPL_JOINT_NAMES[1:]
    order = [names.index(_other_side(n)) for n in names]
    flip = np.array([1.0, -1.0, -1.0], np.float32)
    body = body_pose.reshape(len(body_pose), -1, 3)[:, order] * flip
    return global_orient * flip, body.reshape(len(body_pose), -1)


def _other_side(name: str) -> str:
    if name.startswith("left_"):
        return "right_" + name[5:]
    if name.startswith("right_"):
        return "left_" + name[6:]
    return name


def pose_joints(model, global_orient: np.ndarray, body_pose: np.ndarray, batch: int = 4096) -> np.ndarray:
    """Mean-shape joints ``(N, 24, 3)`` (metres, root joint at the origin) of poses."""
    from humanrecon.body.lbs import skeleton_joints
    from humanrecon.geometry.rotations import axis_angle_to_matrix

    out = []
    with torch.no_grad():
        for i in range(0, len(body_pose), batch):
            pose = torch.as_tensor(np.concatenate([global_orient[i:i + batch], body_pose[i:i + batch]], 1))
            joints = skeleton_joints(model, axis_angle_to_matrix(pose.reshape(len(pose), 24, 3).float()))
            out.append((joints - joints[:, :1]).numpy())
    return np.concatenate(out) if out else np.zeros((0, 24, 3), np.float32)


def distinct_poses(joints: np.ndarray, min_distance: float) -> np.ndarray:
    """Indices of poses kept greedily in order: a pose is kept when its mean joint
    distance (metres) to every pose kept before is at least ``min_distance``.
    ``joints (N, J, 3)``."""
    flat = torch.as_tensor(joints.reshape(len(joints), -1))
    kept: list[int] = []
    bank = torch.zeros(0, flat.shape[1])
    j = joints.shape[1]
    for start in range(0, len(flat), 256):
        for i in range(start, min(start + 256, len(flat))):
            if len(kept):
                d = (bank - flat[i]).reshape(len(bank), j, 3).norm(dim=-1).mean(-1)
                if float(d.min()) < min_distance:
                    continue
            kept.append(i)
            bank = torch.cat([bank, flat[i:i + 1]])
    return np.asarray(kept, np.int64)


def write_corpus(path: str | Path, corpus: PoseCorpus, *, overwrite: bool = False) -> Path:
    """The corpus as an ``.npz`` (atomic; an existing file is kept unless ``overwrite``)."""
    from humanrecon.io.files import atomic_write, check_outputs

    path = Path(path)
    check_outputs([path], overwrite)
    with atomic_write(path, "wb") as handle:
        np.savez(handle, **{k: getattr(corpus, k) for k in CORPUS_KEYS})
    return path


def read_corpus(path: str | Path) -> PoseCorpus:
    """A corpus written by :func:`write_corpus` (``PoseFileError`` naming the file and what
    is wrong)."""
    path = Path(path)
    if not path.is_file():
        raise PoseFileError(f"{path}: pose corpus not found (build it with 'python tools/build_pose_corpus.py')")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in CORPUS_KEYS if k not in data.files]
            if missing:
                raise PoseFileError(f"{path}: not a pose corpus, missing {', '.join(missing)}")
            arrays = {k: data[k] for k in CORPUS_KEYS}
    except (OSError, ValueError) as exc:
        raise PoseFileError(f"{path}: not a readable .npz ({exc})") from exc
    n = len(arrays["body_pose"])
    if arrays["body_pose"].shape != (n, 69) or arrays["global_orient"].shape != (n, 3) or any(
            len(arrays[k]) != n for k in CORPUS_KEYS):
        raise PoseFileError(f"{path}: corpus arrays disagree in shape (body_pose {arrays['body_pose'].shape})")
    if not (np.isfinite(arrays["body_pose"]).all() and np.isfinite(arrays["global_orient"]).all()):
        raise PoseFileError(f"{path}: the corpus holds NaN or infinite rotations")
    return PoseCorpus(**arrays)
