"""COLMAP sparse models (``cameras``, ``images``, ``points3D``; ``.txt`` or ``.bin``), read
and written with `pycolmap <https://colmap.github.io/pycolmap/>`_.

Layout (what ``colmap mapper`` / ``image_undistorter`` and :func:`~humanrecon.datasets.sfm.run_sfm`
write)::

    folder/cameras.bin  images.bin  points3D.bin  [rigs.bin  frames.bin]   (or the .txt variants)
    folder/sparse/0/cameras.bin ...                   (a dataset root is searched too)

Frames and units
----------------
* COLMAP's ``cam_from_world`` (quaternion ``(qw, qx, qy, qz)``, Hamilton, and ``tvec``) already
  is world-to-camera in OpenCV axes (x right, y down, z forward): ``x_cam = R(q) x + t``,
  exactly :class:`~humanrecon.geometry.camera.Camera`'s ``R``, ``t``. World units are the
  reconstruction's (arbitrary scale unless the model was geo-registered).
* COLMAP puts the centre of the top-left pixel at ``(0.5, 0.5)``, the convention of
  :class:`Camera`, so the principal point is used unchanged.
* Camera models read: ``SIMPLE_PINHOLE``, ``PINHOLE`` and the distorted ``SIMPLE_RADIAL``,
  ``RADIAL``, ``OPENCV``, ``FULL_OPENCV`` (rational terms ``k4..k6`` zero) and
  ``OPENCV_FISHEYE``. :func:`read_colmap_views` undistorts the photos of distorted cameras
  once, on reading (:mod:`humanrecon.datasets.undistort`), so trainers see pinhole cameras;
  :attr:`ColmapScene.cameras` is the pinhole part of each camera (a warning names the
  distorted ones). Other models are an error.
* Images are ordered by name (COLMAP's ids are arbitrary); images without a pose
  (unregistered) are skipped. 2D keypoints and point tracks are not kept.

Why a little byte-walking remains
---------------------------------
pycolmap (4.2) reads a binary file trusting its counts: a count larger than the file (a
damaged or foreign file) makes it loop for hours, a truncated image name loops forever,
and a truncated file reads as zeros without an error. Binary files are therefore checked
for their record layout (counts and lengths only, one pass) before pycolmap reads them. An
error pycolmap raises is re-read file by file to name the file that caused it.

Every reader error is one :class:`~humanrecon.errors.InputError` naming the file (and the
camera or image); missing files are :class:`~humanrecon.errors.MissingFileError`.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import struct
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from humanrecon._validation import to_numpy
from humanrecon.datasets.split import HOLDOUT_EVERY, ViewSplit, holdout_indices, holdout_rule, read_image_stack, scale_cameras
from humanrecon.errors import InputError, MissingFileError
from humanrecon.geometry.camera import Camera
from humanrecon.io.files import check_outputs, scratch_folder

#: COLMAP model -> (the :mod:`.undistort` model, indices of its coefficients in ``params``)
LENSES = {
    "SIMPLE_PINHOLE": ("PINHOLE", ()), "PINHOLE": ("PINHOLE", ()),
    "SIMPLE_RADIAL": ("OPENCV", (3,)), "RADIAL": ("OPENCV", (3, 4)),
    "OPENCV": ("OPENCV", (4, 5, 6, 7)), "FULL_OPENCV": ("OPENCV", (4, 5, 6, 7, 8)),
    "OPENCV_FISHEYE": ("OPENCV_FISHEYE", (4, 5, 6, 7)),
}
#: the camera models :func:`read_colmap` accepts
SUPPORTED_MODELS = tuple(LENSES)
_ONE_FOCAL = ("SIMPLE_PINHOLE", "SIMPLE_RADIAL", "RADIAL")
_FILES = ("cameras", "images", "points3D")
#: every file of a model, in the order each depends on the ones before
_ALL_FILES = ("cameras", "rigs", "frames", "images", "points3D")


# --------------------------------------------------------------------------- data
@dataclass(frozen=True)
class ColmapCamera:
    """One COLMAP camera (intrinsics, shared by the images that name its id).

    ``model`` is a COLMAP model name, ``width``/``height`` in pixels, ``params`` in COLMAP's
    order for the model (pixels for focal lengths and principal point)."""

    model: str
    width: int
    height: int
    params: tuple[float, ...]

    def pinhole(self) -> tuple[float, float, float, float]:
        """``(fx, fy, cx, cy)`` in pixels (distortion dropped)."""
        p = self.params
        if self.model in _ONE_FOCAL:
            return p[0], p[0], p[1], p[2]
        return p[0], p[1], p[2], p[3]

    @property
    def distortion(self) -> tuple[float, ...]:
        """The distortion parameters (empty for the pinhole models)."""
        return self.params[3 if self.model in _ONE_FOCAL else 4:]

    def K(self) -> np.ndarray:
        """Intrinsics ``(3, 3)`` float64, pixels."""
        fx, fy, cx, cy = self.pinhole()
        return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])

    def lens(self, where: str = "COLMAP camera") -> tuple[str, np.ndarray]:
        """``(model, coefficients)`` for :func:`~humanrecon.datasets.undistort.undistorter`.

        Raises:
            InputError: a model without an undistortion here, or ``FULL_OPENCV`` with
                non-zero rational terms ``k4..k6`` (``where`` names the file and camera).
        """
        if self.model not in LENSES:
            raise InputError(f"{where}: the {self.model} camera model is not supported "
                             f"(supported: {', '.join(SUPPORTED_MODELS)})")
        if self.model == "FULL_OPENCV" and any(self.params[9:12]):
            raise InputError(f"{where}: FULL_OPENCV rational terms k4, k5, k6 = {list(self.params[9:12])} are not "
                             "supported (only k1, k2, p1, p2, k3); undistort with colmap image_undistorter first")
        model, idx = LENSES[self.model]
        return model, np.array([self.params[i] for i in idx], dtype=np.float64)


@dataclass
class ColmapScene:
    """A COLMAP sparse model in memory, images ordered by name.

    Attributes:
        names: ``N`` image names as COLMAP stores them (relative to its image folder).
        image_ids: ``(N,)`` int64 COLMAP image ids.
        camera_ids: ``(N,)`` int64 id in ``intrinsics`` of each image's camera.
        qvecs: ``(N, 4)`` float64 unit quaternions (w, x, y, z), world-to-camera rotation.
        tvecs: ``(N, 3)`` float64 world-to-camera translations (world units).
        intrinsics: camera id -> :class:`ColmapCamera`.
        points: ``(P, 3)`` float32 sparse points, world frame (``P`` may be 0).
        colors: ``(P, 3)`` float32 point colours RGB in ``[0, 1]`` (8-bit in the files).
        point_ids: ``(P,)`` int64 COLMAP point ids.
        point_errors: ``(P,)`` float64 mean reprojection errors (pixels).
        folder: the model folder read (None for a scene made in memory).
    """

    names: list[str]
    image_ids: np.ndarray
    camera_ids: np.ndarray
    qvecs: np.ndarray
    tvecs: np.ndarray
    intrinsics: dict[int, ColmapCamera]
    points: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 3))
    colors: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 3))
    point_ids: np.ndarray | None = None
    point_errors: np.ndarray | None = None
    folder: Path | None = None

    def __post_init__(self) -> None:
        n = len(self.names)
        self.image_ids = np.asarray(self.image_ids, dtype=np.int64).reshape(n)
        self.camera_ids = np.asarray(self.camera_ids, dtype=np.int64).reshape(n)
        self.qvecs = np.asarray(self.qvecs, dtype=np.float64).reshape(n, 4)
        self.tvecs = np.asarray(self.tvecs, dtype=np.float64).reshape(n, 3)
        self.points = torch.as_tensor(to_numpy(self.points, np.float32)).reshape(-1, 3)
        p = len(self.points)
        self.colors = torch.as_tensor(to_numpy(self.colors, np.float32)).reshape(p, 3)
        self.point_ids = (np.arange(1, p + 1) if self.point_ids is None else np.asarray(self.point_ids)).astype(np.int64)
        self.point_errors = (np.zeros(p) if self.point_errors is None
                             else np.asarray(self.point_errors, dtype=np.float64)).reshape(p)
        unknown = sorted(set(self.camera_ids.tolist()) - set(self.intrinsics))
        if unknown:
            raise InputError(f"ColmapScene: images name camera ids {unknown} that are not in intrinsics")

    @property
    def num_images(self) -> int:
        return len(self.names)

    @property
    def sizes(self) -> np.ndarray:
        """``(N, 2)`` int64 image sizes ``(width, height)`` in pixels."""
        return np.array([[self.intrinsics[c].width, self.intrinsics[c].height] for c in self.camera_ids.tolist()],
                        dtype=np.int64).reshape(-1, 2)

    @property
    def Ks(self) -> np.ndarray:
        """``(N, 3, 3)`` float64 pinhole intrinsics per image (pixels; distortion dropped)."""
        return np.stack([self.intrinsics[c].K() for c in self.camera_ids.tolist()]).reshape(-1, 3, 3)

    @property
    def rotations(self) -> np.ndarray:
        """``(N, 3, 3)`` float64 world-to-camera rotations from ``qvecs``."""
        return qvec_to_rotmat(self.qvecs)

    @property
    def cameras(self) -> Camera:
        """All images as one float32 :class:`Camera` batch ``N`` (OpenCV, world-to-camera).

        The pinhole part of each camera: lens distortion is not applied (a warning names
        distorted cameras; :func:`read_colmap_views` undistorts the photos instead).
        Raises :class:`InputError` if the images differ in size (use :meth:`camera`)."""
        sizes = {tuple(s) for s in self.sizes.tolist()}
        if len(sizes) != 1:
            raise InputError(f"{self.folder or 'COLMAP scene'}: images have different sizes {sorted(sizes)} (WxH); "
                             "one Camera batch needs one size: use scene.camera(i) per image")
        distorted = sorted(c for c in set(self.camera_ids.tolist()) if any(self.intrinsics[c].distortion))
        if distorted:
            warnings.warn(f"{self.folder or 'COLMAP scene'}: scene.cameras drops the lens distortion of cameras "
                          f"{distorted[:10]}; read_colmap_views undistorts the images", stacklevel=2)
        width, height = sizes.pop()
        return Camera(self.Ks, self.rotations, self.tvecs, int(width), int(height), dtype=torch.float32)

    def camera(self, index: int) -> Camera:
        """Image ``index`` as a float32 :class:`Camera` of batch 1 with its own size."""
        cam = self.intrinsics[int(self.camera_ids[index])]
        return Camera(cam.K(), qvec_to_rotmat(self.qvecs[index]), self.tvecs[index], cam.width, cam.height,
                      dtype=torch.float32)

    @classmethod
    def from_cameras(cls, cameras: Camera, names: Sequence[str] | None = None, points=None,
                     colors=None) -> "ColmapScene":
        """A scene with one PINHOLE camera per image from a :class:`Camera` batch (``R`` must be
        a rotation, ``K`` without skew); ``points (P, 3)`` world frame, ``colors (P, 3)`` in
        [0, 1] (grey when omitted). Names default to ``image_0000.png``, ..."""
        if not isinstance(cameras, Camera):
            raise InputError(f"cameras must be a humanrecon Camera, got {type(cameras).__name__}")
        n = len(cameras)
        names = [f"image_{i:04d}.png" for i in range(n)] if names is None else [str(x) for x in names]
        if len(names) != n:
            raise InputError(f"names: {len(names)} given for {n} cameras")
        K = to_numpy(cameras.K, np.float64)
        if np.any(K[:, 0, 1] != 0) or np.any(K[:, 1, 0] != 0) or np.any(K[:, 2] != (0.0, 0.0, 1.0)):
            raise InputError("cameras: K has skew or is not a pinhole matrix; COLMAP cannot store it")
        intrinsics = {i + 1: ColmapCamera("PINHOLE", cameras.width, cameras.height,
                                          (K[i, 0, 0], K[i, 1, 1], K[i, 0, 2], K[i, 1, 2])) for i in range(n)}
        points = np.zeros((0, 3)) if points is None else to_numpy(points, np.float64).reshape(-1, 3)
        colors = np.full_like(points, 0.5) if colors is None else to_numpy(colors, np.float64)
        if colors.shape != points.shape:
            raise InputError(f"colors must have shape {points.shape} like points, got {colors.shape}")
        return cls(names, np.arange(1, n + 1), np.arange(1, n + 1), rotmat_to_qvec(to_numpy(cameras.R, np.float64)),
                   to_numpy(cameras.t, np.float64), intrinsics, points, colors)


# --------------------------------------------------------------------------- rotations
def qvec_to_rotmat(qvec) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` from COLMAP quaternions ``(..., 4)`` (w, x, y, z),
    normalised first (Hamilton convention, as COLMAP)."""
    q = np.asarray(qvec, dtype=np.float64)
    w, x, y, z = np.moveaxis(q / np.linalg.norm(q, axis=-1, keepdims=True), -1, 0)
    return np.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], axis=-1).reshape(*q.shape[:-1], 3, 3)


def rotmat_to_qvec(R) -> np.ndarray:
    """COLMAP quaternions ``(..., 4)`` (w, x, y, z), ``w >= 0``, from rotations ``(..., 3, 3)``
    (pycolmap's ``Rotation3d``). Raises :class:`InputError` when ``R`` is not a rotation."""
    import pycolmap

    R = np.asarray(R, dtype=np.float64)
    if not np.allclose(R @ np.swapaxes(R, -1, -2), np.eye(3), atol=1e-5) or np.any(np.linalg.det(R) <= 0):
        raise InputError("cameras: R is not a rotation (orthonormal, det +1); COLMAP cannot store it")
    flat = R.reshape(-1, 3, 3)
    out = np.empty((len(flat), 4))
    for i, m in enumerate(flat):
        x, y, z, w = pycolmap.Rotation3d(np.ascontiguousarray(m)).quat
        out[i] = (w, x, y, z) if w >= 0 else (-w, -x, -y, -z)
    return out.reshape(*R.shape[:-2], 4)


# --------------------------------------------------------------------------- reading
def find_model(folder: str | os.PathLike) -> tuple[Path, str]:
    """``(model folder, ".bin" | ".txt")`` of the COLMAP model in ``folder`` or its
    ``sparse/0`` / ``sparse`` / ``0`` subfolder (binary preferred when both exist)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingFileError(f"COLMAP model folder not found: '{folder}'")
    for candidate in (folder, folder / "sparse" / "0", folder / "sparse", folder / "0"):
        for ext in (".bin", ".txt"):
            if (candidate / f"cameras{ext}").is_file():
                return candidate, ext
    raise MissingFileError(f"{folder}: no COLMAP model (cameras.bin/.txt, images.*, points3D.*) in it or in "
                           "sparse/0, sparse or 0")


def read_colmap(folder: str | os.PathLike) -> ColmapScene:
    """Read a COLMAP sparse model (text or binary) from ``folder`` (or its ``sparse/0``).

    Returns a :class:`ColmapScene`: ``scene.cameras`` is the :class:`Camera` batch (one per
    registered image, ordered by name, OpenCV world-to-camera, float32; the pinhole part of
    distorted cameras), ``scene.names``, ``scene.sizes``, ``scene.intrinsics`` (with the
    distortion), ``scene.points (P, 3)`` and ``scene.colors (P, 3)`` in ``[0, 1]``.

    Raises:
        MissingFileError: no model there, or one of its three files is missing.
        InputError: a malformed or truncated file, an unsupported camera model, a camera
            with a focal length <= 0 or its principal point outside the image, an image
            naming an unknown camera, a pose that is not a rotation (zero or NaN
            quaternion), NaN/inf points, or no registered images. The message names the
            file, and the camera or image.
    """
    model, ext = find_model(folder)
    return _read(model, ext)


def _paths(model: Path, ext: str) -> dict[str, Path]:
    paths = {name: model / f"{name}{ext}" for name in _ALL_FILES}
    for name in _FILES:
        if not paths[name].is_file():
            raise MissingFileError(f"{paths[name]}: missing from the COLMAP model in '{model}' (it has cameras{ext})")
    return {name: path for name, path in paths.items() if path.is_file()}


def _read(model: Path, ext: str) -> ColmapScene:
    paths = _paths(model, ext)
    if ext == ".bin":
        for kind, path in paths.items():
            _check_layout(kind, path)
    else:
        _check_text_names(paths["images"])
    try:
        rec = _read_folder(model, ext)
    except Exception as exc:  # pycolmap raises ValueError, IndexError, RuntimeError, MemoryError
        raise _culprit(model, ext, paths, exc) from exc
    return _scene(model, paths, rec)


#: what each text file's record holds, for messages
_RECORDS = {"cameras": "CAMERA_ID MODEL WIDTH HEIGHT PARAMS[]",
            "images": "IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME, then a line of POINTS2D[] as (X, Y, POINT3D_ID)",
            "points3D": "POINT3D_ID X Y Z R G B ERROR TRACK[] as (IMAGE_ID, POINT2D_IDX)",
            "rigs": "RIG_ID NUM_SENSORS REF_SENSOR_TYPE REF_SENSOR_ID ...",
            "frames": "FRAME_ID RIG_ID RIG_FROM_WORLD[QW QX QY QZ TX TY TZ] NUM_DATA_IDS DATA_IDS[]"}
#: pycolmap's failed checks (pattern) -> what they mean, in words
_REASONS = (
    (r"VerifyParams", "the number of parameters does not match the camera model"),
    (r"Camera model does not exist", "unknown camera model (COLMAP's models: SIMPLE_PINHOLE, PINHOLE, "
                                     "SIMPLE_RADIAL, RADIAL, OPENCV, OPENCV_FISHEYE, FULL_OPENCV, ...)"),
    (r"Name\(\)", "the image has no name"),
    (r"emplace", "its id appears more than once"),
    (r"Rig with ID (\d+) does not exist", r"it names camera \1, which the cameras file does not define"),
    (r"Camera with ID (\d+) does not exist", r"it names camera \1, which the cameras file does not define"),
    (r"Image with ID (\d+) does not exist", r"its track names image \1, which the images file does not define"),
    (r"range_check|out of range", "its track names a 2D point its image does not have"),
    (r"line_stream", "a field is missing or is not a number"),
)


def _check_text_names(path: Path) -> None:
    """InputError naming the line of an image whose name holds white space: COLMAP's text
    reader keeps only the name's first word, so the photo would silently not be found."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a COLMAP text file ({exc})") from exc
    number, pose_line = 0, True
    while number < len(lines):
        text = lines[number].strip()
        number += 1
        if pose_line and (not text or text.startswith("#")):
            continue
        if pose_line and len(text.split()) > 10:
            name = text.split(maxsplit=9)[9]
            raise InputError(f"{path}: line {number}: image name '{name}' holds white space, which COLMAP's text "
                             f"format cannot hold (COLMAP reads it as '{name.split()[0]}'); use the binary format")
        pose_line = not pose_line


def _message(exc: BaseException, kind: str | None = None) -> str:
    """pycolmap's error in words (its failed check translated where known)."""
    text = re.sub(r"^\[[\w.]+:\d+\]\s*", "", str(exc).strip()).splitlines()
    raw = (text[0] if text else type(exc).__name__)[:300]
    for pattern, meaning in _REASONS:
        found = re.search(pattern, raw)
        if found:
            words = found.expand(meaning)
            if kind in _RECORDS and "field" in words:
                words += f"; expected {_RECORDS[kind]}"
            return words
    return raw


def _culprit(model: Path, ext: str, paths: dict[str, Path], exc: BaseException) -> InputError:
    """The error of the first file that fails when the model is read one more file at a
    time (the files after it empty), naming that file."""

    present = [kind for kind in _ALL_FILES if kind in paths]
    empty = b"\x00" * 8 if ext == ".bin" else b""
    with tempfile.TemporaryDirectory(prefix="humanrecon-colmap-") as tmp:
        for stage, kind in enumerate(present):
            for other in present:
                target = Path(tmp) / f"{other}{ext}"
                target.unlink(missing_ok=True)
                if present.index(other) <= stage:
                    shutil.copyfile(paths[other], target)
                elif other in _FILES:
                    target.write_bytes(empty)
            try:
                _read_folder(tmp, ext)
            except Exception as inner:  # noqa: BLE001 - as in _read
                line = _first_bad_line(Path(tmp) / f"{kind}{ext}", paths[kind]) if ext == ".txt" else None
                at = f": line {line} {_line_text(paths[kind], line)!r}" if line else ""
                return InputError(f"{paths[kind]}{at}: not a valid COLMAP {kind} file: {_message(inner, kind)}")
    return InputError(f"{model}: COLMAP cannot read this model: {_message(exc)}")


def _read_folder(folder, ext: str):
    import pycolmap

    rec = pycolmap.Reconstruction()
    (rec.read_binary if ext == ".bin" else rec.read_text)(str(folder))
    return rec


def _line_text(path: Path, line: int) -> str:
    text = path.read_bytes().splitlines()[line - 1].decode("utf-8", "replace").strip()
    return text if len(text) <= 80 else text[:77] + "..."


def _first_bad_line(staged: Path, source: Path) -> int | None:
    """The 1-based line of ``source`` (a text file of a model staged at ``staged``, which
    pycolmap fails to read) from which on its prefix no longer reads: found by bisection
    over prefixes, so a handful of reads. None if even the whole file reads alone."""
    lines = source.read_bytes().splitlines(keepends=True)

    def reads(count: int) -> bool:
        staged.write_bytes(b"".join(lines[:count]))
        try:
            _read_folder(staged.parent, ".txt")
        except Exception:  # noqa: BLE001 - any pycolmap failure means "does not read"
            return False
        return True

    lo, hi = 0, len(lines)  # the prefix of lo lines reads; of hi lines does not
    if reads(hi):
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if reads(mid) else (lo, mid)
    return hi


def _scene(model: Path, paths: dict[str, Path], rec) -> ColmapScene:
    where = paths["cameras"]
    cameras = {int(cid): ColmapCamera(cam.model.name, int(cam.width), int(cam.height),
                                      tuple(float(v) for v in cam.params)) for cid, cam in rec.cameras.items()}
    names, image_ids, camera_ids, qvecs, tvecs = [], [], [], [], []
    for image_id, image in sorted(rec.images.items(), key=lambda item: (item[1].name, item[0])):
        if not image.has_pose:
            continue
        label = f"image {image_id} ('{image.name}')"
        if int(image.camera_id) not in cameras:
            raise InputError(f"{paths['images']}: {label} names camera {image.camera_id}, which {where} does not "
                             f"define (cameras: {sorted(cameras)[:10]})")
        pose = image.cam_from_world()
        x, y, z, w = np.asarray(pose.rotation.quat, dtype=np.float64)
        q, t = np.array([w, x, y, z]), np.asarray(pose.translation, dtype=np.float64)
        if not (np.isfinite(q).all() and np.isfinite(t).all()):
            raise InputError(f"{paths['images']}: {label} has a NaN or infinite pose (qvec {q.tolist()}, "
                             f"tvec {t.tolist()})")
        if np.linalg.norm(q) < 1e-12:
            raise InputError(f"{paths['images']}: {label} has a zero-length quaternion: its pose is not a rotation")
        names.append(image.name)
        image_ids.append(image_id)
        camera_ids.append(int(image.camera_id))
        qvecs.append(q / np.linalg.norm(q))
        tvecs.append(t)
    if not names:
        raise InputError(f"{model}: the COLMAP model has no registered images ({len(rec.images)} images in "
                         f"{paths['images'].name}, none with a pose)")
    users = {}
    for name, cid in zip(names, camera_ids):
        users.setdefault(cid, name)
    for cid in sorted(users):
        _check_camera(where, cid, cameras[cid], users[cid])

    n = rec.num_points3D()
    ids, xyz = np.empty(n, dtype=np.int64), np.empty((n, 3))
    rgb, errors = np.empty((n, 3), dtype=np.uint8), np.empty(n)
    for row, (pid, point) in enumerate(sorted(rec.points3D.items())):
        ids[row], xyz[row], rgb[row], errors[row] = pid, point.xyz, point.color, point.error
    if not np.isfinite(xyz).all():
        bad = int(np.argmax(~np.isfinite(xyz).all(axis=1)))
        raise InputError(f"{paths['points3D']}: point {ids[bad]} has NaN or infinite coordinates {xyz[bad].tolist()}")
    return ColmapScene(names=names, image_ids=image_ids, camera_ids=camera_ids, qvecs=np.array(qvecs),
                       tvecs=np.array(tvecs), intrinsics=cameras, points=xyz.astype(np.float32),
                       colors=rgb.astype(np.float32) / 255.0, point_ids=ids, point_errors=errors, folder=model)


def _check_camera(path: Path, camera_id: int, cam: ColmapCamera, user: str) -> None:
    where = f"{path}: camera {camera_id} (of image '{user}')"
    if cam.model not in SUPPORTED_MODELS:
        raise InputError(f"{where} uses the {cam.model} model, which is not supported (supported: "
                         f"{', '.join(SUPPORTED_MODELS)}); undistort the images first (colmap image_undistorter "
                         "writes PINHOLE cameras)")
    if cam.width <= 0 or cam.height <= 0:
        raise InputError(f"{where} has image size {cam.width}x{cam.height}; both must be > 0")
    fx, fy, cx, cy = cam.pinhole()
    if not all(math.isfinite(v) for v in cam.params) or fx <= 0 or fy <= 0:
        raise InputError(f"{where} has invalid parameters {list(cam.params)} (need finite values and focal "
                         "lengths > 0)")
    if not (0 <= cx <= cam.width and 0 <= cy <= cam.height):
        raise InputError(f"{where} has its principal point ({cx}, {cy}) outside the {cam.width}x{cam.height} image")
    cam.lens(where)


# ---- the layout of binary files, checked before pycolmap trusts their counts
def _param_counts() -> dict[int, int]:
    import pycolmap

    return {int(m.value): len(pycolmap.Camera.create_from_model_id(1, m, 1.0, 1, 1).params)
            for name, m in pycolmap.CameraModelId.__members__.items() if name != "INVALID"}


def _check_layout(kind: str, path: Path) -> None:
    """Walk the records of one binary file (counts and lengths only): InputError naming the
    file when it is truncated, declares more records than it holds, has an unknown camera
    model or has bytes after its last record."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    size = len(data)
    unpack = struct.unpack_from

    def need(offset: int, count: int, what: str) -> None:
        if count < 0 or offset + count > size:
            raise InputError(f"{path}: truncated COLMAP binary file: {what} at offset {offset} needs {count} bytes, "
                             f"the file has {size - offset} left")

    need(0, 8, "the record count")
    (n,) = unpack("<Q", data, 0)
    smallest = {"cameras": 24, "images": 73, "points3D": 51, "rigs": 8, "frames": 68}[kind]
    if n * smallest > size - 8:
        raise InputError(f"{path}: truncated or malformed COLMAP binary file: it declares {n} {kind} records but "
                         f"has only {size - 8} bytes for them")
    offset, counts = 8, _param_counts() if kind == "cameras" else {}
    for _ in range(n):
        if kind == "cameras":
            need(offset, 24, "a camera")
            camera_id, model_id = unpack("<ii", data, offset)
            if model_id not in counts:
                raise InputError(f"{path}: camera {camera_id} has unknown model id {model_id} (COLMAP ids "
                                 f"{min(counts)}..{max(counts)})")
            offset += 24
            need(offset, 8 * counts[model_id], f"the parameters of camera {camera_id}")
            offset += 8 * counts[model_id]
        elif kind == "images":
            need(offset, 64, "an image")
            (image_id,) = unpack("<i", data, offset)
            end = data.find(b"\x00", offset + 64)
            if end < 0:
                raise InputError(f"{path}: truncated COLMAP binary file: the name of image {image_id} at offset "
                                 f"{offset + 64} has no terminating NUL byte")
            need(end + 1, 8, f"the 2D point count of image {image_id}")
            (points,) = unpack("<Q", data, end + 1)
            offset = end + 9
            need(offset, 24 * points, f"{points} 2D points of image {image_id}")
            offset += 24 * points
        elif kind == "points3D":
            need(offset, 51, "a point")
            point_id, track = unpack("<Q35xQ", data, offset)
            offset += 51
            need(offset, 8 * track, f"{track} track entries of point {point_id}")
            offset += 8 * track
        elif kind == "rigs":
            need(offset, 8, "a rig")
            rig_id, sensors = unpack("<II", data, offset)
            offset += 8 + (8 if sensors else 0)
            need(offset, 9 * max(sensors - 1, 0), f"{sensors} sensors of rig {rig_id}")
            for _ in range(max(sensors - 1, 0)):
                need(offset, 9, f"a sensor of rig {rig_id}")
                offset += 9 + (56 if data[offset + 8] else 0)
            need(offset, 0, f"rig {rig_id}")
        else:  # frames
            need(offset, 68, "a frame")
            frame_id, data_ids = unpack("<I60xI", data, offset)
            offset += 68
            need(offset, 16 * data_ids, f"{data_ids} data ids of frame {frame_id}")
            offset += 16 * data_ids
    if offset != size:
        raise InputError(f"{path}: malformed COLMAP binary file: {size - offset} unexpected bytes after the last "
                         f"record (offset {offset}); a wrong file or model?")


# --------------------------------------------------------------------------- writing
def _reconstruction(scene: ColmapScene):
    import pycolmap

    rec = pycolmap.Reconstruction()
    names = {model.name for model in pycolmap.CameraModelId.__members__.values()} - {"INVALID"}
    for camera_id, cam in sorted(scene.intrinsics.items()):
        camera = (pycolmap.Camera.create_from_model_name(int(camera_id), cam.model, 1.0, int(cam.width),
                                                         int(cam.height)) if cam.model in names else None)
        if camera is None or len(camera.params) != len(cam.params):
            raise InputError(f"camera {camera_id}: model {cam.model!r} with {len(cam.params)} parameters is not a "
                             "valid COLMAP camera")
        camera.params = np.asarray(cam.params, dtype=np.float64)
        rec.add_camera_with_trivial_rig(camera)
    for i in range(scene.num_images):
        w, x, y, z = scene.qvecs[i] / np.linalg.norm(scene.qvecs[i])
        pose = pycolmap.Rigid3d(pycolmap.Rotation3d(np.array([x, y, z, w])), scene.tvecs[i].astype(np.float64))
        image = pycolmap.Image(name=scene.names[i], camera_id=int(scene.camera_ids[i]),
                               image_id=int(scene.image_ids[i]))
        rec.add_image_with_trivial_frame(image, pose)
    rgb = np.clip(np.round(to_numpy(scene.colors, np.float64) * 255.0), 0, 255).astype(np.uint8)
    for pid, xyz, color, error in zip(scene.point_ids.tolist(), to_numpy(scene.points, np.float64), rgb,
                                      scene.point_errors.tolist()):
        point = pycolmap.Point3D(xyz=xyz, color=color, error=float(error))
        rec.add_point3D_with_id(int(pid), point)
    return rec


def _write(folder: str | os.PathLike, scene: ColmapScene, overwrite: bool, ext: str) -> Path:
    folder = Path(folder)
    targets = check_outputs([folder / f"{name}{ext}" for name in _ALL_FILES], overwrite)
    rec = _reconstruction(scene)
    tmp = scratch_folder(folder, ".colmap-")
    try:
        (rec.write_binary if ext == ".bin" else rec.write_text)(str(tmp))
        for target in targets:  # each file appears whole, in one rename
            os.replace(tmp / target.name, target)
    except OSError as exc:
        raise InputError(f"cannot write '{folder}': {exc.strerror or exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def write_colmap_text(folder: str | os.PathLike, scene: ColmapScene, overwrite: bool = False) -> Path:
    """Write ``scene`` as ``cameras.txt``, ``images.txt``, ``points3D.txt`` (and COLMAP 3.12's
    ``rigs.txt``, ``frames.txt``: one trivial rig per camera, one frame per image) in
    ``folder`` (created; each file atomic; no 2D points or tracks). Raises
    :class:`~humanrecon.errors.OutputExistsError` before writing anything if one exists and
    not ``overwrite``, :class:`InputError` for an image name with white space (COLMAP's text
    format cannot hold it: write binary). Returns ``folder``."""
    spaced = [name for name in scene.names if re.search(r"\s", name)]
    if spaced:
        raise InputError(f"{folder}: image name '{spaced[0]}' has white space, which COLMAP's text format cannot "
                         "hold; write the binary format instead")
    return _write(folder, scene, overwrite, ".txt")


def write_colmap_binary(folder: str | os.PathLike, scene: ColmapScene, overwrite: bool = False) -> Path:
    """Write ``scene`` as ``cameras.bin``, ``images.bin``, ``points3D.bin`` (and ``rigs.bin``,
    ``frames.bin``) in ``folder`` (COLMAP's little-endian layout, by pycolmap; no 2D points
    or tracks). Same overwrite rule as :func:`write_colmap_text`. Returns ``folder``."""
    return _write(folder, scene, overwrite, ".bin")


# --------------------------------------------------------------------------- a capture's views
def _image_folder(root: Path, model: Path) -> Path:
    for candidate in (root / "images", model / "images", model.parent.parent / "images", model.parent / "images"):
        if candidate.is_dir():
            return candidate
    raise MissingFileError(f"{root}: COLMAP model found in '{model}' but no 'images' folder next to it "
                           f"(looked in {root / 'images'})")


def _point_box(points: torch.Tensor) -> torch.Tensor | None:
    if len(points) < 10:
        return None
    lo, hi = torch.quantile(points.double(), torch.tensor([0.01, 0.99], dtype=torch.float64), dim=0)
    pad = 0.1 * (hi - lo).clamp(min=1e-6)
    return torch.stack([lo - pad, hi + pad]).float()


def read_colmap_views(root: str | os.PathLike, split: str = "train", *, downscale: int = 1,
                      holdout_every: int = HOLDOUT_EVERY) -> ViewSplit:
    """Images and cameras of a COLMAP capture as a :class:`ViewSplit` (``format="colmap"``).

    Args:
        root: the capture folder: a model (``cameras``/``images``/``points3D``, text or binary)
            in it or in ``sparse/0`` (or ``sparse``), and the images in ``root/images`` (or
            next to the model), named as the model names them.
        split: ``"train"``, ``"test"`` (= ``"val"``: every ``holdout_every``-th image by name)
            or ``"all"``.
        downscale: integer factor, after undistortion; images are area-averaged and the
            intrinsics scaled.
    Returns:
        a split with ``images (N, H, W, 3)``, ``alpha (N, H, W)`` (ones, or the images' own
        alpha; 0 where undistortion had no source pixel), pinhole OpenCV world-to-camera
        float32 ``cameras`` (distorted cameras' photos are undistorted: their ``K`` is the
        undistorted one), ``points (P, 3)``, ``point_colors (P, 3)``, ``bounds (2, 3)``
        (None with fewer than 10 points) and ``split_rule``.
    Raises:
        MissingFileError: no model, no image folder, or an image the model names is missing
            (names the file and the image).
        InputError: the errors of :func:`read_colmap`, images of different sizes, an image
            whose size is not its camera's, an empty split.
    """
    from humanrecon.datasets.undistort import undistorter

    root = Path(root)
    model, ext = find_model(root)
    scene = _read(model, ext)
    folder = _image_folder(root, model)
    indices = holdout_indices(scene.num_images, split, holdout_every)
    if not indices:
        raise InputError(f"{root}: split '{split}' of {scene.num_images} images is empty (every {holdout_every}th "
                         "image is held out for testing)")
    sizes = sorted({tuple(scene.sizes[i].tolist()) for i in indices})
    if len(sizes) != 1:
        raise InputError(f"{model}: images of split '{split}' have different sizes {sizes} (WxH); one split needs "
                         "one size")
    width, height = sizes[0]
    camera_ids = [int(scene.camera_ids[i]) for i in indices]
    lenses = {}
    for cid in sorted(set(camera_ids)):
        cam = scene.intrinsics[cid]
        lenses[cid] = undistorter(cam.K(), *cam.lens(f"{model / ('cameras' + ext)}: camera {cid}"), width, height)
    paths = [folder / scene.names[i] for i in indices]
    images, alpha = read_image_stack(paths, str(model / f"images{ext}"), downscale=downscale, size=(width, height),
                                     transform=lambda row, rgba: lenses[camera_ids[row]].image(rgba),
                                     frames=[int(scene.image_ids[i]) for i in indices])
    K = np.stack([lenses[cid].K for cid in camera_ids])
    cameras = Camera(K, scene.rotations[indices], scene.tvecs[indices], width, height, dtype=torch.float64)
    cameras = scale_cameras(cameras, 1.0 / int(downscale), images.shape[2], images.shape[1])
    return ViewSplit(images=images, alpha=alpha, cameras=cameras.to(dtype=torch.float32),
                     names=[str(p) for p in paths], root=root, split=split, bounds=_point_box(scene.points),
                     points=scene.points.clone(), point_colors=scene.colors.clone(),
                     split_rule=holdout_rule(holdout_every), format="colmap")
