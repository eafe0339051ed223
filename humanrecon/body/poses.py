"""Named poses and pose files for SMPL-type bodies.

A pose is a dict of smplx-named arrays: ``global_orient (3,)``, ``body_pose``
``(3 * num_body_joints,)``, ``transl (3,)``, ``betas (K,)``; ``body_pose`` may instead be
a dict ``{joint_name: [rx, ry, rz]}`` (axis-angle, radians, in the joint's parent frame)
naming only the joints that move. Axes are SMPL's: Y up, the body faces +Z, its left is +X.

Built-in poses (``POSES``): ``"t"`` (the rest T-pose), ``"a"`` (arms 45° down, as in a
scan), ``"walk"`` (mid-stride, left leg forward, arms swinging). :func:`load_pose` also
takes the names of the pose library (``humanrecon.body.pose_library``, e.g.
``"phone_at_right_ear"``, ``"lying_on_back"``), which set ``global_orient`` too.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from humanrecon.body.keypoints import SMPL_JOINT_NAMES
from humanrecon._validation import reader
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

#: bounds on pose-file values, beyond which a value is an error, not a pose: shape
#: coefficients are standard deviations (|β| ≤ 10), a rotation turns at most
#: ``MAX_ROTATION`` radians (axis-angle norm; 16 full turns), a translation is at most
#: ``MAX_TRANSLATION`` metres
MAX_ABS_BETA, MAX_ROTATION, MAX_TRANSLATION = 10.0, 32 * math.pi, 1e4


def body_pose_from_names(joint_rotations: Mapping[str, Any], num_body_joints: int = 23,
                         joint_names: tuple[str, ...] = SMPL_JOINT_NAMES, source: str = "pose") -> np.ndarray:
    """``{joint_name: axis-angle (3,)}`` -> flat ``body_pose (3 * num_body_joints,)``.

    Joint names are those after the root in ``joint_names`` (SMPL's by default)."""
    body_names = joint_names[1: 1 + num_body_joints]
    pose = np.zeros((num_body_joints, 3), dtype=np.float32)
    for name, value in joint_rotations.items():
        if name not in body_names:
            raise PoseFileError(f"{source}: unknown joint '{name}' (body joints: {', '.join(body_names)})")
        pose[body_names.index(name)] = _rotations(_vector(value, 3, f"{source}: body_pose['{name}']"),
                                                  f"{source}: body_pose['{name}']")
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


def _rotations(array: np.ndarray, what: str) -> np.ndarray:
    """``array`` (3k axis-angles) if every rotation angle is within :data:`MAX_ROTATION`."""
    angles = np.linalg.norm(array.astype(np.float64).reshape(-1, 3), axis=1)
    if (angles > MAX_ROTATION).any():
        raise PoseFileError(f"{what}: a rotation of {angles.max():.3g} rad is not a pose "
                            f"(axis-angles are at most {MAX_ROTATION:.0f} rad)")
    return array


def check_betas(betas: np.ndarray, what: str) -> np.ndarray:
    """``betas`` if every coefficient is within ±:data:`MAX_ABS_BETA` standard deviations."""
    if np.abs(betas).max(initial=0.0) > MAX_ABS_BETA:
        raise PoseFileError(f"{what}: shape coefficients are standard deviations, |beta| <= {MAX_ABS_BETA:g}; "
                            f"got {np.abs(betas).max():.3g}")
    return betas


def pose_from_dict(data: Mapping[str, Any], num_body_joints: int = 23, source: str = "pose",
                   joint_names: tuple[str, ...] = SMPL_JOINT_NAMES) -> dict[str, np.ndarray]:
    """Validate a pose dict (see module docstring) into flat float32 arrays."""
    if not isinstance(data, Mapping):
        raise PoseFileError(f"{source}: expected a JSON object with keys {', '.join(_KEYS)}")
    unknown = set(data) - set(_KEYS)
    if unknown:
        raise PoseFileError(f"{source}: unknown keys {sorted(unknown)} (allowed: {', '.join(_KEYS)})")
    pose: dict[str, np.ndarray] = {}
    if "global_orient" in data:
        pose["global_orient"] = _rotations(_vector(data["global_orient"], 3, f"{source}: global_orient"),
                                           f"{source}: global_orient")
    if "transl" in data:
        pose["transl"] = _vector(data["transl"], 3, f"{source}: transl")
        if np.abs(pose["transl"]).max() > MAX_TRANSLATION:
            raise PoseFileError(f"{source}: transl is beyond {MAX_TRANSLATION:g} m")
    if "betas" in data:
        pose["betas"] = check_betas(_vector(data["betas"], None, f"{source}: betas"), f"{source}: betas")
    if "body_pose" in data:
        body = data["body_pose"]
        if isinstance(body, Mapping):
            pose["body_pose"] = body_pose_from_names(body, num_body_joints, joint_names, source)
        else:
            pose["body_pose"] = _rotations(_vector(body, 3 * num_body_joints, f"{source}: body_pose"),
                                           f"{source}: body_pose")
    return pose


@reader(PoseFileError, "pose file")
def load_pose(name_or_path: str | Path, num_body_joints: int = 23,
              joint_names: tuple[str, ...] = SMPL_JOINT_NAMES) -> dict[str, np.ndarray]:
    """A built-in pose by name (``"t"``, ``"a"``, ``"walk"``), a pose-library name (``body_pose``
    and ``global_orient``; ``num_body_joints`` 23 or 21) or a pose JSON file."""
    key = str(name_or_path)
    if key in POSES:
        return {"body_pose": body_pose_from_names(POSES[key], num_body_joints, joint_names, key)}
    if key.isidentifier():  # a name, not a path: look in the library (imported on demand)
        from humanrecon.body import pose_library

        if key in pose_library.POSE_NAMES:
            return pose_library.library_pose(key, num_body_joints)
    path = Path(name_or_path)
    if not path.is_file():
        from humanrecon.body import pose_library

        raise PoseFileError(f"{path}: pose file not found (built-in poses: {', '.join(POSES)}; library poses "
                            f"such as {', '.join(pose_library.POSE_NAMES[:3])}, ... in humanrecon.body.pose_library)")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PoseFileError(f"{path}: not valid JSON ({exc})") from exc
    return pose_from_dict(data, num_body_joints, str(path), joint_names)
