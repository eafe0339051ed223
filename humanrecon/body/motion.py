"""Motion files (sequences of SMPL-family poses) as users have them, in a model's layout.

:func:`read_motion` reads

* **AMASS** ``.npz`` files: ``poses (T, 72 | 156 | 165)`` (SMPL: root + 23 body joints;
  SMPL+H: root + 21 body joints + 2 x 15 hand joints; SMPL-X: root + 21 body joints + jaw,
  left eye, right eye + 2 x 15 hand joints), or the split keys of AMASS's SMPL-X release
  ``root_orient (T, 3)``, ``pose_body (T, 63)``, ``pose_hand (T, 90)``; optional
  ``trans (T, 3)``, ``betas (K,)`` or ``(T, K)``, ``mocap_framerate`` /
  ``mocap_frame_rate`` and ``gender``;
* **plain arrays**: an ``.npz`` with ``body_pose (T, 69 | 63)`` or ``(T, 23 | 21, 3)`` and
  optional ``global_orient (T, 3)``, ``transl (T, 3)``, ``betas (K,)``,
  ``left_hand_pose``/``right_hand_pose (T, 45)`` (smplx's names); or an ``.npy`` holding
  ``body_pose`` alone. A single pose (``(69,)``, ``(23, 3)``, ...) is a motion of T = 1.

and converts them to a target layout (``"smpl"``, ``"smplh"``, ``"smplx"``, or a
:class:`~humanrecon.body.BodyModel`):

* SMPL target from a 21-joint source (SMPL+H, SMPL-X, 63-wide ``body_pose``): SMPL's two
  hand joints (``left_hand``, ``right_hand``, joints 22 and 23) get zero rotation; finger
  poses are dropped.
* SMPL+H / SMPL-X target from a 23-joint SMPL source: joints 22 and 23 are dropped (SMPL's
  hand joints are not SMPL+H's body joints); there are no finger poses.
* SMPL+H / SMPL-X target from an SMPL+H / SMPL-X source: the 90 finger numbers become
  :attr:`Motion.hand_pose`. They are **full axis-angles, not PCA coefficients**: load the
  model with ``use_pca=False`` to pose it with them. ``flat_hand_mean=True`` matches
  AMASS, whose hand poses are absolute rotations.
* The jaw and eye rotations of SMPL-X sources, and AMASS's DMPL soft-tissue coefficients,
  are dropped.

All angles are axis-angles in radians, each joint in its parent's frame; translations are
metres in the model frame (AMASS files are Z-up: the root rotation carries that, nothing
is re-oriented here). Files are read with ``allow_pickle=False`` and only the arrays named
above are decoded, so a pickled object anywhere in the file never runs; a pickled array
where a pose should be is refused. Every problem is one :class:`PoseFileError` naming the
file.

Example::

    from humanrecon.body import BodyModel, read_motion
    model = BodyModel.load("open")
    motion = read_motion("walk_poses.npz", model)     # (T, 69) body poses
    pose = motion.frame(0)                             # {"global_orient": (3,), ...}
    out = model(**{k: torch.from_numpy(v)[None] for k, v in pose.items() if k != "betas"})
"""

from __future__ import annotations

import warnings
import zipfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from humanrecon._validation import reader
from humanrecon.body.keypoints import SMPL_JOINT_NAMES, SMPLH_JOINT_NAMES, SMPLX_JOINT_NAMES
from humanrecon.body.model import POSE_BLOCKS
from humanrecon.body.poses import MAX_ROTATION, MAX_TRANSLATION, check_betas
from humanrecon.errors import InputError, PoseFileError

#: body joints (after the root) of each target layout: 23 for SMPL, 21 for SMPL+H / SMPL-X
BODY_JOINTS = {name: blocks[0][1] for name, blocks in POSE_BLOCKS.items() if blocks[0][0] == "body_pose"}
#: width of AMASS ``poses`` -> (layout, body joints); the rest of a row after the body is
#: (SMPL-X only) 9 jaw/eye numbers, then 90 hand numbers (left hand, then right)
AMASS_WIDTHS = {72: ("smpl", 23), 156: ("smplh", 21), 165: ("smplx", 21)}
HAND_WIDTH = 90  # 2 hands x 15 joints x 3
#: the largest array a motion file may unpack to (an hour of SMPL-X at 120 fps in float64
#: is 0.6 GB); larger ones are refused before they are decompressed
MAX_ARRAY_BYTES = 4 * 2**30

_EXPECTED = ("AMASS 'poses' (T, 72 | 156 | 165) [+ 'trans', 'betas', 'mocap_framerate'], "
             "AMASS SMPL-X 'root_orient' + 'pose_body' (T, 63) [+ 'pose_hand' (T, 90), 'trans'], "
             "or 'body_pose' (T, 69 | 63 | 23x3 | 21x3) [+ 'global_orient', 'transl', 'betas']")


@dataclass
class Motion:
    """A sequence of ``T`` body poses in a target model's layout (numpy float32).

    Attributes:
        global_orient: ``(T, 3)`` root rotation, axis-angle (radians).
        body_pose: ``(T, 3 * num_body_joints)``: 69 for SMPL (23 joints), 63 for SMPL+H
            and SMPL-X (21), each joint's axis-angle in its parent's frame.
        transl: ``(T, 3)`` root translation in metres (zeros if the file has none).
        betas: ``(K,)`` shape coefficients (standard deviations) or None. ``K`` is the
            file's (AMASS: 16); pass ``betas[:model.num_betas]`` to a model.
        framerate: frames per second (``mocap_framerate`` / ``mocap_frame_rate``) or None.
        hand_pose: ``(T, 90)`` left-hand then right-hand axis-angles (15 joints each,
            smplx's joint order), for SMPL+H / SMPL-X targets when the file has them; else
            None. Full rotations, not PCA: use a model loaded with ``use_pca=False``.
        source: where the motion came from (the file path).
        gender: the file's ``gender`` (``"male"``, ``"female"``, ``"neutral"``) or None.
    """

    global_orient: np.ndarray
    body_pose: np.ndarray
    transl: np.ndarray
    betas: np.ndarray | None = None
    framerate: float | None = None
    hand_pose: np.ndarray | None = None
    source: str = "motion"
    gender: str | None = None

    def __post_init__(self) -> None:
        f32 = lambda a: np.ascontiguousarray(a, dtype=np.float32)
        self.global_orient, self.body_pose, self.transl = f32(self.global_orient), f32(self.body_pose), f32(self.transl)
        n = len(self.body_pose)
        widths = {3 * j for j in BODY_JOINTS.values()}
        if self.body_pose.ndim != 2 or self.body_pose.shape[1] not in widths or n == 0:
            raise InputError(f"{self.source}: body_pose must be (T, 69) or (T, 63) with T > 0, "
                             f"got {self.body_pose.shape}")
        shapes = {"global_orient": (self.global_orient, 3), "transl": (self.transl, 3)}
        if self.hand_pose is not None:
            self.hand_pose = f32(self.hand_pose)
            if self.body_pose.shape[1] != 3 * BODY_JOINTS["smplh"]:
                raise InputError(f"{self.source}: hand_pose goes with a 21-joint body_pose (T, 63)")
            shapes["hand_pose"] = (self.hand_pose, HAND_WIDTH)
        for name, (array, width) in shapes.items():
            if array.shape != (n, width):
                raise InputError(f"{self.source}: {name} must be ({n}, {width}) like body_pose, got {array.shape}")
        if self.betas is not None:
            self.betas = f32(self.betas).reshape(-1)
        if self.framerate is not None:
            self.framerate = float(self.framerate)
            if not (np.isfinite(self.framerate) and self.framerate > 0):
                raise InputError(f"{self.source}: framerate must be a positive number, got {self.framerate}")

    def __len__(self) -> int:
        return len(self.body_pose)

    @property
    def num_body_joints(self) -> int:
        """Body joints after the root: 23 (SMPL layout) or 21 (SMPL+H / SMPL-X)."""
        return self.body_pose.shape[1] // 3

    def frame(self, t: int) -> dict[str, np.ndarray]:
        """Frame ``t`` (negative counts from the end) as a pose dict like
        :func:`humanrecon.body.poses.load_pose` returns: ``global_orient (3,)``,
        ``body_pose (3 * num_body_joints,)``, ``transl (3,)``, ``betas (K,)`` when known,
        and ``left_hand_pose``/``right_hand_pose (45,)`` when :attr:`hand_pose` is set.
        Arrays are copies (float32); add a batch axis to pass them to a model."""
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)):
            raise InputError(f"frame index must be an integer, got {type(t).__name__}")
        if not -len(self) <= t < len(self):
            raise InputError(f"frame {t} is out of range for a motion of {len(self)} frames")
        pose = {"global_orient": self.global_orient[t].copy(), "body_pose": self.body_pose[t].copy(),
                "transl": self.transl[t].copy()}
        if self.betas is not None:
            pose["betas"] = self.betas.copy()
        if self.hand_pose is not None:
            half = HAND_WIDTH // 2
            pose["left_hand_pose"] = self.hand_pose[t, :half].copy()
            pose["right_hand_pose"] = self.hand_pose[t, half:].copy()
        return pose

    def subsample(self, every: int) -> "Motion":
        """Every ``every``-th frame, starting with the first (``framerate / every`` fps)."""
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise InputError(f"subsample: 'every' must be a positive integer, got {every!r}")
        pick = slice(None, None, int(every))
        return replace(
            self, global_orient=self.global_orient[pick], body_pose=self.body_pose[pick],
            transl=self.transl[pick], hand_pose=None if self.hand_pose is None else self.hand_pose[pick],
            framerate=None if self.framerate is None else self.framerate / every,
            betas=None if self.betas is None else self.betas.copy(),
        )


def read_motion(path: str | Path, target: Any = "smpl") -> Motion:
    """Read an AMASS or plain-array motion file into ``target``'s pose layout.

    Args:
        path: an ``.npz`` or ``.npy`` file (see the module docstring for the keys).
        target: ``"smpl"`` (body_pose ``(T, 69)``), ``"smplh"`` or ``"smplx"`` (``(T, 63)``
            and, when the file has finger poses, hand_pose ``(T, 90)``); ``"SMPL+H"``,
            ``"SMPL-X"`` spellings too; or a :class:`~humanrecon.body.BodyModel` (its
            ``model_type``; MANO has no body and is refused).
    Returns:
        :class:`Motion` (float32).
    Raises:
        PoseFileError: the file is missing, not a numpy ``.npz``/``.npy``, holds pickled
            objects where poses should be, has no recognised keys, wrong widths, no
            frames, arrays of different lengths, NaN/inf, rotations beyond
            ``MAX_ROTATION``, translations beyond ``MAX_TRANSLATION``, shape coefficients
            beyond ``check_betas``'s bound, or a framerate ≤ 0. The message names the file.
        InputError: ``target`` is not one of the above.
    """
    return _read_motion(path, _target_layout(target))


def _target_layout(target: Any) -> str:
    model_type = getattr(target, "model_type", target)
    if not isinstance(model_type, str):
        raise InputError(f"motion target must be 'smpl', 'smplh', 'smplx' or a BodyModel, got {type(target).__name__}")
    name = model_type.lower().replace("+", "").replace("-", "").replace("_", "")
    if name not in BODY_JOINTS:
        raise InputError(f"motion target '{model_type}' has no body pose layout "
                         f"(expected one of {', '.join(BODY_JOINTS)})")
    return name


@reader(PoseFileError, "motion file")
def _read_motion(path: str | Path, target: str) -> Motion:
    path = Path(path)
    source = str(path)
    arrays, keys = _open(path)

    def per_frame(key: str, widths: tuple[int, ...], frames: int | None = None) -> np.ndarray:
        return _per_frame(arrays[key], key, widths, source, frames)

    hands = None
    if "poses" in arrays:
        poses = per_frame("poses", tuple(AMASS_WIDTHS))
        layout, joints = AMASS_WIDTHS[poses.shape[1]]
        _check_rotations(poses, source, "poses", _JOINT_NAMES[layout])
        root, body = poses[:, :3], poses[:, 3: 3 + 3 * joints]
        if joints == 21:
            hands = poses[:, -HAND_WIDTH:]
    elif "pose_body" in arrays or "root_orient" in arrays:
        if "pose_body" not in arrays:
            raise PoseFileError(f"{source}: has 'root_orient' but no 'pose_body' (T, 63) (keys: {', '.join(keys)})")
        body = per_frame("pose_body", (63,))
        _check_rotations(body, source, "pose_body", _JOINT_NAMES["smplh"][1:])
        root = _root(arrays, "root_orient", source, len(body))
        if "pose_hand" in arrays:
            hands = per_frame("pose_hand", (HAND_WIDTH,), len(body))
            _check_rotations(hands, source, "pose_hand", _JOINT_NAMES["smplh"][22:])
    elif "body_pose" in arrays:
        body = per_frame("body_pose", (69, 63))
        layout = "smpl" if body.shape[1] == 69 else "smplh"
        _check_rotations(body, source, "body_pose", _JOINT_NAMES[layout][1:])
        root = _root(arrays, "global_orient" if "global_orient" in arrays else "root_orient", source, len(body))
        hands = _plain_hands(arrays, per_frame, body, source)
    else:
        raise PoseFileError(f"{source}: no motion arrays found (keys: {', '.join(keys) or 'none'}); "
                            f"expected {_EXPECTED}")

    frames = len(body)
    trans_key = next((k for k in ("trans", "transl") if k in arrays), None)
    transl = per_frame(trans_key, (3,), frames) if trans_key else np.zeros((frames, 3))
    if np.abs(transl).max() > MAX_TRANSLATION:
        t = int(np.abs(transl).max(axis=1).argmax())
        raise PoseFileError(f"{source}: '{trans_key}' frame {t} is {np.abs(transl[t]).max():.3g} m from the "
                            f"origin; translations are at most {MAX_TRANSLATION:g} m")

    if target == "smpl":
        if body.shape[1] == 63:
            body = np.concatenate([body, np.zeros((frames, 6))], axis=1)  # SMPL's hand joints 22, 23
        hands = None
    elif body.shape[1] == 69:
        body, hands = body[:, :63], None  # SMPL's joints 22, 23 are not SMPL+H's body joints

    return Motion(
        global_orient=root, body_pose=body, transl=transl, betas=_betas(arrays, source),
        framerate=_framerate(arrays, source), hand_pose=hands, source=source, gender=_gender(arrays),
    )


# --------------------------------------------------------------------------- helpers
#: the keys this module reads; nothing else in a file is decoded
_KNOWN_KEYS = ("poses", "root_orient", "pose_body", "pose_hand", "body_pose", "global_orient",
               "left_hand_pose", "right_hand_pose", "trans", "transl", "betas", "mocap_framerate",
               "mocap_frame_rate", "gender")
_JOINT_NAMES = {"smpl": SMPL_JOINT_NAMES, "smplh": SMPLH_JOINT_NAMES, "smplx": SMPLX_JOINT_NAMES}


def _open(path: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    """``(arrays, keys)``: the arrays of :data:`_KNOWN_KEYS` the file has, and all its keys.

    Other arrays are never decoded (AMASS SMPL-X files hold pickled dicts in some); a
    ``gender`` that is not plain text is skipped."""
    if not path.is_file():
        raise PoseFileError(f"{path}: motion file not found")
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(b"\x93NUMPY"):
        return {"body_pose": _decode(path, "the .npy", lambda: np.load(path, allow_pickle=False))}, ["body_pose"]
    if not zipfile.is_zipfile(path):
        hint = (" (a Python pickle: motion pickles are not read, since unpickling runs code; "
                "re-save the arrays with np.savez)") if head[:1] == b"\x80" else ""
        raise PoseFileError(f"{path}: not a numpy .npz or .npy file{hint}")
    with _decode(path, "the .npz", lambda: np.load(path, allow_pickle=False)) as archive:
        keys = sorted(archive.files)
        sizes = {info.filename.removesuffix(".npy"): info.file_size for info in archive.zip.infolist()}
        arrays = {}
        for key in _KNOWN_KEYS:
            if key not in keys:
                continue
            if sizes.get(key, 0) > MAX_ARRAY_BYTES:
                raise PoseFileError(f"{path}: '{key}' unpacks to {sizes[key] / 2**30:.1f} GiB, more than "
                                    f"a motion file holds (at most {MAX_ARRAY_BYTES / 2**30:g} GiB per array)")
            try:
                arrays[key] = _decode(path, f"'{key}'", lambda: archive[key])
            except PoseFileError:
                if key != "gender":
                    raise
    return arrays, keys


def _decode(path: Path, what: str, load: Callable[[], Any]) -> Any:
    try:
        return load()
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise PoseFileError(f"{path}: {what} holds pickled Python objects, which are not read "
                                "(unpickling runs code); re-save it with plain numeric arrays") from exc
        raise PoseFileError(f"{path}: {what} is not a readable numpy array ({exc})") from exc
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, MemoryError) as exc:
        raise PoseFileError(f"{path}: {what} is not readable ({type(exc).__name__}: {exc})") from exc


def _root(arrays: dict[str, np.ndarray], key: str, source: str, frames: int) -> np.ndarray:
    """Root rotations ``(T, 3)`` from ``key``, zeros when the file has none."""
    if key not in arrays:
        return np.zeros((frames, 3))
    root = _per_frame(arrays[key], key, (3,), source, frames)
    _check_rotations(root, source, key, ("pelvis",))
    return root


def _numeric(array: Any, key: str, source: str) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype.kind not in "iuf":
        raise PoseFileError(f"{source}: '{key}' must hold numbers, got dtype {array.dtype}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise PoseFileError(f"{source}: '{key}' contains NaN or infinite values")
    return array


def _per_frame(array: Any, key: str, widths: tuple[int, ...], source: str, frames: int | None) -> np.ndarray:
    """``array`` as float64 ``(T, width)``, ``width`` in ``widths``: ``(T, J, 3)`` is
    flattened, a single row ``(width,)`` or ``(J, 3)`` is T = 1."""
    a = _numeric(array, key, source)
    if a.ndim == 1:
        a = a[None]
    elif a.ndim == 3 and a.shape[2] == 3:
        a = a.reshape(a.shape[0], 3 * a.shape[1])
    elif a.ndim == 2 and a.shape[1] == 3 and 3 not in widths and 3 * a.shape[0] in widths:
        a = a.reshape(1, -1)  # one pose given joint by joint
    if a.ndim != 2 or a.shape[1] not in widths:
        want = " | ".join(map(str, widths))
        raise PoseFileError(f"{source}: '{key}' must be (T, {want}), got shape {np.shape(array)}")
    if len(a) == 0:
        raise PoseFileError(f"{source}: '{key}' has no frames (T = 0)")
    if frames is not None and len(a) != frames:
        raise PoseFileError(f"{source}: '{key}' has {len(a)} frames but the poses have {frames}")
    return a


def _check_rotations(array: np.ndarray, source: str, key: str, names: tuple[str, ...]) -> None:
    """Every axis-angle of ``array (T, 3n)`` turns at most :data:`MAX_ROTATION`; ``names``
    names its rotations in order (the rest are numbered)."""
    with np.errstate(over="ignore"):  # 1e300 squared is inf: still beyond the bound
        angles = np.linalg.norm(array.reshape(len(array), -1, 3), axis=2)
    if (angles > MAX_ROTATION).any():
        t, j = np.unravel_index(int(angles.argmax()), angles.shape)
        joint = names[j] if j < len(names) else f"rotation {j}"
        raise PoseFileError(f"{source}: '{key}' frame {t}, {joint}: a rotation of {angles[t, j]:.3g} rad is "
                            f"not a pose (axis-angles are at most {MAX_ROTATION:.0f} rad)")


def _plain_hands(arrays: dict[str, np.ndarray], per_frame, body: np.ndarray, source: str) -> np.ndarray | None:
    """smplx-named ``left_hand_pose``/``right_hand_pose (T, 45)`` of a plain file, or None."""
    sides = [k for k in ("left_hand_pose", "right_hand_pose") if k in arrays]
    if not sides:
        return None
    if len(sides) == 1:
        raise PoseFileError(f"{source}: has '{sides[0]}' but not the other hand; give both or neither")
    if body.shape[1] != 63:
        raise PoseFileError(f"{source}: hand poses go with a 21-joint body_pose (T, 63), "
                            f"not a 23-joint SMPL one (T, 69)")
    hands = []
    for key in sides:
        if np.shape(arrays[key])[-1:] not in ((45,), (3,)):
            raise PoseFileError(f"{source}: '{key}' must be (T, 45) axis-angles, got shape "
                                f"{np.shape(arrays[key])} (PCA hand poses are not read)")
        hand = per_frame(key, (45,), len(body))
        _check_rotations(hand, source, key, ())
        hands.append(hand)
    return np.concatenate(hands, axis=1)


def _betas(arrays: dict[str, np.ndarray], source: str) -> np.ndarray | None:
    if "betas" not in arrays:
        return None
    betas = _numeric(arrays["betas"], "betas", source)
    if betas.ndim == 2 and len(betas):
        if not np.allclose(betas, betas[:1], atol=1e-6):
            warnings.warn(f"{source}: 'betas' change over the frames; using the first frame's", stacklevel=5)
        betas = betas[0]
    if betas.ndim != 1:
        raise PoseFileError(f"{source}: 'betas' must be (K,) or (T, K), got shape {betas.shape}")
    if betas.size == 0:
        return None
    return check_betas(betas, f"{source}: betas")


def _framerate(arrays: dict[str, np.ndarray], source: str) -> float | None:
    key = next((k for k in ("mocap_framerate", "mocap_frame_rate") if k in arrays), None)
    if key is None:
        return None
    value = _numeric(arrays[key], key, source)
    if value.size != 1:
        raise PoseFileError(f"{source}: '{key}' must be one number, got shape {value.shape}")
    rate = float(value.reshape(()))
    if rate <= 0:
        raise PoseFileError(f"{source}: '{key}' must be positive (frames per second), got {rate:g}")
    return rate


def _gender(arrays: dict[str, np.ndarray]) -> str | None:
    """The file's ``gender`` text, or None (absent or not plain text)."""
    value = np.asarray(arrays.get("gender", np.zeros(0)))
    if value.dtype.kind not in "US" or value.size != 1:
        return None
    text = value.reshape(()).item()
    return (text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)).strip() or None


#: AMASS ``poses`` layout per model type: (body joints, jaw + eyes joints, hand joints)
_AMASS_LAYOUT = {"smpl": (23, 0, 0), "smplh": (21, 0, 30), "smplx": (21, 3, 30)}


def write_motion(path: str | Path, motion: Motion, model_type: str = "smpl", *, overwrite: bool = False,
                 extra: dict | None = None) -> Path:
    """``motion`` as an AMASS-style ``.npz`` for ``model_type`` (``smpl``: ``poses (T, 72)``;
    ``smplh``: 156; ``smplx``: 165): root, body joints (SMPL's two hand joints zero when the
    motion has 21; dropped for SMPL+H/SMPL-X), zero jaw/eyes, the motion's hand poses or
    zeros; ``trans (T, 3)`` metres, ``betas``, ``mocap_framerate``, ``gender`` when known,
    and ``extra`` arrays. Written atomically; an existing file is kept unless ``overwrite``
    (:func:`read_motion` reads it back)."""
    from humanrecon.io.files import atomic_write, check_outputs

    if model_type not in _AMASS_LAYOUT:
        raise InputError(f"model_type must be one of {', '.join(_AMASS_LAYOUT)}, got {model_type!r}")
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise InputError(f"{path}: a motion file is written as .npz")
    check_outputs([path], overwrite)
    body_joints, face_joints, hand_joints = _AMASS_LAYOUT[model_type]
    frames = len(motion)
    body = motion.body_pose.reshape(frames, -1, 3)[:, :body_joints]
    body = np.concatenate([body, np.zeros((frames, body_joints - body.shape[1], 3), body.dtype)], 1)
    hands = np.zeros((frames, 3 * hand_joints), np.float32)
    if hand_joints and motion.hand_pose is not None:
        hands = motion.hand_pose.astype(np.float32)
    parts = [motion.global_orient.reshape(frames, 3), body.reshape(frames, -1),
             np.zeros((frames, 3 * face_joints), np.float32), hands]
    arrays = {"poses": np.concatenate(parts, 1).astype(np.float32), "trans": motion.transl.astype(np.float32)}
    if motion.betas is not None:
        arrays["betas"] = np.asarray(motion.betas, np.float32)
    if motion.framerate:
        arrays["mocap_framerate"] = np.float64(motion.framerate)
    if motion.gender:
        arrays["gender"] = np.array(motion.gender)
    arrays |= dict(extra or {})
    with atomic_write(path, "wb") as handle:
        np.savez(handle, **arrays)
    return path
