"""Named poses and pose files for SMPL-type bodies.

A pose is a dict of smplx-named arrays: ``global_orient (3,)``, ``body_pose``
``(3 * num_body_joints,)``, ``transl (3,)``, ``betas (K,)``; ``body_pose`` may instead be
a dict ``{joint_name: [rx, ry, rz]}`` (axis-angle, radians, in the joint's parent frame)
naming only the joints that move. Axes are SMPL's: Y up, the body faces +Z, its left is +X.

Built-in poses (``POSES``): ``"t"`` (the rest T-pose), ``"a"`` (arms 45° down, as in a
scan), ``"walk"`` (mid-stride, left leg forward, arms swinging).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from humanrecon.body.keypoints import SMPL_JOINT_NAMES
from humanrecon.errors import PoseFileError

_ARMS_DOWN = math.radians(45.0)
POSES: dict[str, dict[str, list[float]]] = {
    "t": {},
    "a": {
        "left_shoulder": [0.0, 0.0, -_ARMS_DOWN],
        "right_shoulder": [0.0, 0.0, _ARMS_DOWN],
    },
    "walk": {
        # hips: flexion is a rotation about -X (leg forward, towards +Z)
        "left_hip": [-0.45, 0.0, 0.05],
        "right_hip": [0.35, 0.0, -0.05],
        "left_knee": [0.25, 0.0, 0.0],
        "right_knee": [0.65, 0.0, 0.0],
        "left_ankle": [0.15, 0.0, 0.0],
        "right_ankle": [-0.15, 0.0, 0.0],
        # arms down (about Z), then swinging opposite to the legs (about Y in the arm frame)
        "left_shoulder": [0.0, 0.35, -1.2],
        "right_shoulder": [0.0, 0.35, 1.2],
        "left_elbow": [0.0, -0.35, 0.0],
        "right_elbow": [0.0, 0.45, 0.0],
        "spine1": [0.03, 0.05, 0.0],
        "spine3": [0.0, -0.08, 0.0],
    },
}

_KEYS = ("betas", "global_orient", "body_pose", "transl")


def body_pose_from_names(joint_rotations: Mapping[str, Any], num_body_joints: int = 23,
                         joint_names: tuple[str, ...] = SMPL_JOINT_NAMES, source: str = "pose") -> np.ndarray:
    """``{joint_name: axis-angle (3,)}`` -> flat ``body_pose (3 * num_body_joints,)``.

    Joint names are those after the root in ``joint_names`` (SMPL's by default)."""
    body_names = joint_names[1: 1 + num_body_joints]
    pose = np.zeros((num_body_joints, 3), dtype=np.float32)
    for name, value in joint_rotations.items():
        if name not in body_names:
            raise PoseFileError(f"{source}: unknown joint '{name}' (body joints: {', '.join(body_names)})")
        pose[body_names.index(name)] = _vector(value, 3, f"{source}: body_pose['{name}']")
    return pose.reshape(-1)


def _vector(value: Any, size: int | None, what: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise PoseFileError(f"{what} must be a list of numbers ({exc})") from exc
    if size is not None and array.shape != (size,):
        raise PoseFileError(f"{what} must have {size} numbers, got {array.size}")
    if not np.isfinite(array).all():
        raise PoseFileError(f"{what} contains NaN or infinite values")
    return array


def pose_from_dict(data: Mapping[str, Any], num_body_joints: int = 23, source: str = "pose",
                   joint_names: tuple[str, ...] = SMPL_JOINT_NAMES) -> dict[str, np.ndarray]:
    """Validate a pose dict (see module docstring) into flat float32 arrays."""
    if not isinstance(data, Mapping):
        raise PoseFileError(f"{source}: expected a JSON object with keys {', '.join(_KEYS)}")
    unknown = set(data) - set(_KEYS)
    if unknown:
        raise PoseFileError(f"{source}: unknown keys {sorted(unknown)} (allowed: {', '.join(_KEYS)})")
    pose: dict[str, np.ndarray] = {}
    for key in ("global_orient", "transl"):
        if key in data:
            pose[key] = _vector(data[key], 3, f"{source}: {key}")
    if "betas" in data:
        pose["betas"] = _vector(data["betas"], None, f"{source}: betas")
    if "body_pose" in data:
        body = data["body_pose"]
        if isinstance(body, Mapping):
            pose["body_pose"] = body_pose_from_names(body, num_body_joints, joint_names, source)
        else:
            pose["body_pose"] = _vector(body, 3 * num_body_joints, f"{source}: body_pose")
    return pose


def load_pose(name_or_path: str | Path, num_body_joints: int = 23,
              joint_names: tuple[str, ...] = SMPL_JOINT_NAMES) -> dict[str, np.ndarray]:
    """A built-in pose by name (``"t"``, ``"a"``, ``"walk"``) or a pose JSON file."""
    key = str(name_or_path)
    if key in POSES:
        return {"body_pose": body_pose_from_names(POSES[key], num_body_joints, joint_names, key)}
    path = Path(name_or_path)
    if not path.is_file():
        raise PoseFileError(f"{path}: pose file not found (built-in poses: {', '.join(POSES)})")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PoseFileError(f"{path}: not valid JSON ({exc})") from exc
    return pose_from_dict(data, num_body_joints, str(path), joint_names)
