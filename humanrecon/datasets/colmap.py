"""COLMAP sparse models: ``cameras``, ``images`` and ``points3D`` as ``.txt`` or ``.bin``.

Layout (what ``colmap mapper`` / ``image_undistorter`` write)::

    folder/cameras.bin  images.bin  points3D.bin     (or the .txt variants)
    folder/sparse/0/cameras.bin ...                  (a dataset root is searched too)

Frames and units
----------------
* COLMAP's ``qvec = (qw, qx, qy, qz)`` (Hamilton, unit) and ``tvec`` already are
  world-to-camera in OpenCV axes (x right, y down, z forward): ``x_cam = R(qvec) x + tvec``,
  exactly :class:`~humanrecon.geometry.camera.Camera`'s ``R``, ``t``. World units are the
  reconstruction's (arbitrary scale unless the model was geo-registered).
* COLMAP puts the centre of the top-left pixel at ``(0.5, 0.5)``, the same convention as
  :class:`Camera`, so the principal point is used unchanged.
* Camera models read: ``SIMPLE_PINHOLE (f, cx, cy)``, ``PINHOLE (fx, fy, cx, cy)``,
  ``SIMPLE_RADIAL (f, cx, cy, k)``, ``RADIAL (f, cx, cy, k1, k2)``, ``OPENCV (fx, fy, cx, cy,
  k1, k2, p1, p2)``. Only the pinhole intrinsics are used: distortion is ignored (with a
  warning when non-zero), so the images are expected undistorted (``colmap
  image_undistorter`` writes PINHOLE cameras for them). Fisheye and other models are an error.
* Images are ordered by name (COLMAP's ids are arbitrary). 2D keypoints and point tracks
  are skipped when reading and written empty.

Every reader error is one :class:`~humanrecon.errors.InputError` naming the file (and the
line for text files); missing files are :class:`~humanrecon.errors.MissingFileError`.
"""

from __future__ import annotations

import math
import os
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from humanrecon._validation import reader, to_numpy
from humanrecon.errors import InputError, MissingFileError
from humanrecon.datasets.split import HOLDOUT_EVERY, BlenderSplit, downscale_rgba, holdout_indices, scale_cameras
from humanrecon.geometry.camera import Camera
from humanrecon.io.images import load_rgba
from humanrecon.io.files import atomic_write, check_outputs

#: COLMAP camera models: name -> (model id, number of parameters).
CAMERA_MODELS = {
    "SIMPLE_PINHOLE": (0, 3), "PINHOLE": (1, 4), "SIMPLE_RADIAL": (2, 4), "RADIAL": (3, 5), "OPENCV": (4, 8),
    "OPENCV_FISHEYE": (5, 8), "FULL_OPENCV": (6, 12), "FOV": (7, 5), "SIMPLE_RADIAL_FISHEYE": (8, 4),
    "RADIAL_FISHEYE": (9, 5), "THIN_PRISM_FISHEYE": (10, 12), "RAD_TAN_THIN_PRISM_FISHEYE": (11, 16),
}
#: The models :func:`read_colmap` turns into pinhole cameras.
SUPPORTED_MODELS = ("SIMPLE_PINHOLE", "PINHOLE", "SIMPLE_RADIAL", "RADIAL", "OPENCV")
_MODEL_NAMES = {model_id: name for name, (model_id, _) in CAMERA_MODELS.items()}
_FILES = ("cameras", "images", "points3D")


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
        if self.model in ("PINHOLE", "OPENCV"):
            return p[0], p[1], p[2], p[3]
        return p[0], p[0], p[1], p[2]

    @property
    def distortion(self) -> tuple[float, ...]:
        """The distortion parameters (empty for the pinhole models)."""
        return self.params[{"PINHOLE": 4, "OPENCV": 4}.get(self.model, 3):]

    def K(self) -> np.ndarray:
        """Intrinsics ``(3, 3)`` float64, pixels."""
        fx, fy, cx, cy = self.pinhole()
        return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


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
        folder: the folder read (None for a scene made in memory).
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
        """``(N, 3, 3)`` float64 pinhole intrinsics per image (pixels)."""
        return np.stack([self.intrinsics[c].K() for c in self.camera_ids.tolist()]).reshape(-1, 3, 3)

    @property
    def rotations(self) -> np.ndarray:
        """``(N, 3, 3)`` float64 world-to-camera rotations from ``qvecs``."""
        return qvec_to_rotmat(self.qvecs)

    @property
    def cameras(self) -> Camera:
        """All images as one float32 :class:`Camera` batch ``N`` (OpenCV, world-to-camera).

        Raises :class:`InputError` if the images differ in size (use :meth:`camera`)."""
        sizes = {tuple(s) for s in self.sizes.tolist()}
        if len(sizes) != 1:
            raise InputError(f"{self.folder or 'COLMAP scene'}: images have different sizes {sorted(sizes)} (WxH); "
                             "one Camera batch needs one size: use scene.camera(i) per image")
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
    normalised first (Hamilton convention, as COLMAP's ``qvec2rotmat``)."""
    q = np.asarray(qvec, dtype=np.float64)
    w, x, y, z = np.moveaxis(q / np.linalg.norm(q, axis=-1, keepdims=True), -1, 0)
    return np.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], axis=-1).reshape(*q.shape[:-1], 3, 3)


def rotmat_to_qvec(R) -> np.ndarray:
    """COLMAP quaternions ``(..., 4)`` (w, x, y, z), ``w >= 0``, from rotations ``(..., 3, 3)``."""
    R = np.asarray(R, dtype=np.float64)
    if not np.allclose(R @ np.swapaxes(R, -1, -2), np.eye(3), atol=1e-5) or np.any(np.linalg.det(R) <= 0):
        raise InputError("cameras: R is not a rotation (orthonormal, det +1); COLMAP cannot store it")
    flat = R.reshape(-1, 3, 3)
    out = np.empty((len(flat), 4))
    for i, m in enumerate(flat):  # the largest-eigenvalue eigenvector of Bar-Itzhack's K (COLMAP's rotmat2qvec)
        (xx, yx, zx), (xy, yy, zy), (xz, yz, zz) = m  # COLMAP's names for R.flat
        k = np.array([[xx - yy - zz, 0, 0, 0], [yx + xy, yy - xx - zz, 0, 0], [zx + xz, zy + yz, zz - xx - yy, 0],
                      [yz - zy, zx - xz, xy - yx, xx + yy + zz]]) / 3.0
        values, vectors = np.linalg.eigh(k)
        q = vectors[[3, 0, 1, 2], np.argmax(values)]
        out[i] = -q if q[0] < 0 else q
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
    image, ordered by name, OpenCV world-to-camera, float32), ``scene.names``,
    ``scene.sizes``, ``scene.points (P, 3)`` and ``scene.colors (P, 3)`` in ``[0, 1]``.
    Distortion parameters are ignored (a warning names the cameras with non-zero ones):
    undistorted images are expected.

    Raises:
        MissingFileError: no model there, or one of its three files is missing.
        InputError: a malformed file (names the file and line or byte offset), an
            unsupported camera model, an image naming an unknown camera, no images,
            NaN/inf values or a zero-length quaternion.
    """
    model, ext = find_model(folder)
    paths = {name: model / f"{name}{ext}" for name in _FILES}
    for path in paths.values():
        if not path.is_file():
            raise MissingFileError(f"{path}: missing from the COLMAP model in '{model}' (it has cameras{ext})")
    if ext == ".txt":
        cameras = _read_cameras_text(paths["cameras"])
        images = _read_images_text(paths["images"])
        points = _read_points_text(paths["points3D"])
    else:
        cameras = _read_cameras_binary(paths["cameras"])
        images = _read_images_binary(paths["images"])
        points = _read_points_binary(paths["points3D"])
    return _assemble(model, paths, cameras, images, points)


def _assemble(model: Path, paths: dict[str, Path], cameras: dict[int, ColmapCamera], images: list[tuple],
              points: tuple[np.ndarray, ...]) -> ColmapScene:
    if not images:
        raise InputError(f"{paths['images']}: no images in the COLMAP model")
    for image_id, _, _, camera_id, name in images:
        if camera_id not in cameras:
            raise InputError(f"{paths['images']}: image {image_id} ('{name}') names camera {camera_id}, which "
                             f"{paths['cameras']} does not define (cameras: {sorted(cameras)[:10]})")
    images = sorted(images, key=lambda im: (im[4], im[0]))
    distorted = [cid for cid, cam in sorted(cameras.items()) if any(v != 0 for v in cam.distortion)]
    if distorted:
        warnings.warn(f"{paths['cameras']}: distortion parameters of cameras {distorted[:10]} are ignored; "
                      "humanrecon expects undistorted images (colmap image_undistorter)", stacklevel=3)
    ids, xyz, rgb, errors = points
    return ColmapScene(names=[im[4] for im in images], image_ids=[im[0] for im in images],
                       camera_ids=[im[3] for im in images], qvecs=np.array([im[1] for im in images]),
                       tvecs=np.array([im[2] for im in images]), intrinsics=cameras,
                       points=xyz.astype(np.float32), colors=(rgb.astype(np.float32) / 255.0), point_ids=ids,
                       point_errors=errors, folder=model)


def _camera(path: Path, where: str, camera_id: int, model: str, width: int, height: int,
            params: Sequence[float]) -> ColmapCamera:
    """Check one camera; ``where`` is ``line N`` or ``camera N`` for the message."""
    if model not in CAMERA_MODELS:
        raise InputError(f"{path}: {where}: unknown camera model '{model}' (COLMAP models: {', '.join(CAMERA_MODELS)})")
    if model not in SUPPORTED_MODELS:
        raise InputError(f"{path}: {where}: camera {camera_id} uses the {model} model, which is not supported "
                         f"(supported: {', '.join(SUPPORTED_MODELS)}); undistort the images first "
                         "(colmap image_undistorter writes PINHOLE cameras)")
    count = CAMERA_MODELS[model][1]
    if len(params) != count:
        raise InputError(f"{path}: {where}: a {model} camera has {count} parameters, got {len(params)}")
    if width <= 0 or height <= 0:
        raise InputError(f"{path}: {where}: camera {camera_id} has image size {width}x{height}; both must be > 0")
    cam = ColmapCamera(model, int(width), int(height), tuple(float(v) for v in params))
    fx, fy, cx, cy = cam.pinhole()
    if not all(math.isfinite(v) for v in cam.params) or fx <= 0 or fy <= 0:
        raise InputError(f"{path}: {where}: camera {camera_id} has invalid parameters {list(cam.params)} "
                         "(need finite values and focal lengths > 0)")
    return cam


def _image(path: Path, where: str, image_id: int, qvec, tvec, camera_id: int, name: str) -> tuple:
    q, t = np.asarray(qvec, dtype=np.float64), np.asarray(tvec, dtype=np.float64)
    if not (np.isfinite(q).all() and np.isfinite(t).all()):
        raise InputError(f"{path}: {where}: image {image_id} ('{name}') has NaN or infinite qvec/tvec")
    norm = np.linalg.norm(q)
    if norm < 1e-12:
        raise InputError(f"{path}: {where}: image {image_id} ('{name}') has a zero-length quaternion")
    if not name:
        raise InputError(f"{path}: {where}: image {image_id} has an empty name")
    return int(image_id), q / norm, t, int(camera_id), name


def _points(path: Path, ids, xyz, rgb, errors) -> tuple[np.ndarray, ...]:
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    xyz = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
    if not np.isfinite(xyz).all():
        bad = int(np.argmax(~np.isfinite(xyz).all(axis=1)))
        raise InputError(f"{path}: point {ids[bad]} has NaN or infinite coordinates")
    return ids, xyz, np.asarray(rgb, dtype=np.uint8).reshape(-1, 3), np.asarray(errors, dtype=np.float64).reshape(-1)


def _unique(path: Path, ids: list[int], what: str) -> None:
    if len(set(ids)) != len(ids):
        seen, dup = set(), None
        for i in ids:
            if i in seen:
                dup = i
                break
            seen.add(i)
        raise InputError(f"{path}: {what} id {dup} appears more than once")


# ---- text
def _lines(path: Path) -> list[tuple[int, str]]:
    """``(line number, stripped line)`` of the non-empty, non-comment lines."""
    try:
        text = path.read_text()
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a COLMAP text file (byte {exc.start} is not UTF-8; a .bin renamed?)") from exc
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1)
            if line.strip() and not line.lstrip().startswith("#")]


def _fields(path: Path, number: int, line: str, parse: str, what: str) -> list:
    """Parse the leading fields of ``line`` by ``parse`` (``i`` int, ``f`` float, ``s`` str)."""
    words = line.split()
    if len(words) < len(parse):
        raise InputError(f"{path}: line {number}: expected {what}, got {len(words)} fields: '{line[:80]}'")
    out = []
    for code, word in zip(parse, words):
        try:
            out.append(int(word) if code == "i" else float(word) if code == "f" else word)
        except ValueError:
            kind = "an integer" if code == "i" else "a number"
            raise InputError(f"{path}: line {number}: '{word}' is not {kind} (expected {what})") from None
    return out + words[len(parse):]


@reader(InputError, "COLMAP cameras.txt")
def _read_cameras_text(path: Path) -> dict[int, ColmapCamera]:
    cameras, ids = {}, []
    what = "CAMERA_ID MODEL WIDTH HEIGHT PARAMS[]"
    for number, line in _lines(path):
        camera_id, model, width, height, *rest = _fields(path, number, line, "isii", what)
        try:
            params = [float(v) for v in rest]
        except ValueError:
            raise InputError(f"{path}: line {number}: camera parameters are not numbers: '{line[:80]}'") from None
        ids.append(camera_id)
        cameras[camera_id] = _camera(path, f"line {number}", camera_id, model, width, height, params)
    _unique(path, ids, "camera")
    return cameras


@reader(InputError, "COLMAP images.txt")
def _read_images_text(path: Path) -> list[tuple]:
    try:
        raw = path.read_text().splitlines()
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a COLMAP text file (byte {exc.start} is not UTF-8; a .bin renamed?)") from exc
    images, index = [], 0
    what = "IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME"
    while index < len(raw):
        line = raw[index].strip()
        index += 1
        if not line or line.startswith("#"):
            continue
        number = index
        values = _fields(path, number, line, "ifffffffi", what)
        name = line.split(None, 9)[9].strip() if len(values) > 9 else ""
        images.append(_image(path, f"line {number}", values[0], values[1:5], values[5:8], values[8], name))
        index += 1  # the POINTS2D line that follows every image line (may be empty): skipped
    _unique(path, [im[0] for im in images], "image")
    return images


@reader(InputError, "COLMAP points3D.txt")
def _read_points_text(path: Path) -> tuple[np.ndarray, ...]:
    ids, xyz, rgb, errors = [], [], [], []
    what = "POINT3D_ID X Y Z R G B ERROR TRACK[]"
    for number, line in _lines(path):
        values = _fields(path, number, line, "ifffiiif", what)
        if not all(0 <= c <= 255 for c in values[4:7]):
            raise InputError(f"{path}: line {number}: colour {values[4:7]} outside 0..255")
        ids.append(values[0])
        xyz.append(values[1:4])
        rgb.append(values[4:7])
        errors.append(values[7])
    _unique(path, ids, "point")
    return _points(path, ids, xyz, rgb, errors)


# ---- binary
class _Cursor:
    """Little-endian reads from a file's bytes with one clear error when it ends early."""

    def __init__(self, path: Path):
        self.path, self.data, self.offset = path, path.read_bytes(), 0

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize("<" + fmt)
        if self.offset + size > len(self.data):
            raise InputError(f"{self.path}: truncated COLMAP binary file: needs {size} more bytes at offset "
                             f"{self.offset}, the file has {len(self.data)}")
        values = struct.unpack_from("<" + fmt, self.data, self.offset)
        self.offset += size
        return values

    def skip(self, count: int, item: int, what: str) -> None:
        if count < 0 or self.offset + count * item > len(self.data):
            raise InputError(f"{self.path}: truncated COLMAP binary file: {count} {what} at offset {self.offset} "
                             f"need {count * item} bytes, the file has {len(self.data) - self.offset} left")
        self.offset += count * item

    def name(self) -> str:
        end = self.data.find(b"\x00", self.offset)
        if end < 0:
            raise InputError(f"{self.path}: truncated COLMAP binary file: image name at offset {self.offset} "
                             "has no terminating NUL byte")
        raw, self.offset = self.data[self.offset:end], end + 1
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{self.path}: image name at offset {end - len(raw)} is not UTF-8: {raw[:40]!r}") from None

    def finish(self) -> None:
        if self.offset != len(self.data):
            raise InputError(f"{self.path}: malformed COLMAP binary file: {len(self.data) - self.offset} unexpected "
                             f"bytes after the last record (offset {self.offset}); a wrong file or model?")

    def count(self, what: str, min_record: int) -> int:
        (n,) = self.take("Q")
        if n * min_record > len(self.data) - self.offset:
            raise InputError(f"{self.path}: truncated or malformed COLMAP binary file: it declares {n} {what} but "
                             f"has only {len(self.data) - self.offset} bytes for them")
        return n


def _open_binary(path: Path) -> _Cursor:
    try:
        return _Cursor(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc


@reader(InputError, "COLMAP cameras.bin")
def _read_cameras_binary(path: Path) -> dict[int, ColmapCamera]:
    cur = _open_binary(path)
    cameras, ids = {}, []
    for _ in range(cur.count("cameras", 24)):
        camera_id, model_id, width, height = cur.take("iiQQ")
        if model_id not in _MODEL_NAMES:
            raise InputError(f"{path}: camera {camera_id} has unknown model id {model_id} "
                             f"(COLMAP ids 0..{len(_MODEL_NAMES) - 1})")
        model = _MODEL_NAMES[model_id]
        params = cur.take("d" * CAMERA_MODELS[model][1])
        ids.append(camera_id)
        cameras[camera_id] = _camera(path, f"camera {camera_id}", camera_id, model, width, height, params)
    cur.finish()
    _unique(path, ids, "camera")
    return cameras


@reader(InputError, "COLMAP images.bin")
def _read_images_binary(path: Path) -> list[tuple]:
    cur = _open_binary(path)
    images = []
    for _ in range(cur.count("images", 69)):
        image_id, qw, qx, qy, qz, tx, ty, tz, camera_id = cur.take("idddddddi")
        name = cur.name()
        (n2d,) = cur.take("Q")
        cur.skip(n2d, 24, f"2D points of image {image_id}")
        images.append(_image(path, f"image {image_id}", image_id, (qw, qx, qy, qz), (tx, ty, tz), camera_id, name))
    cur.finish()
    _unique(path, [im[0] for im in images], "image")
    return images


@reader(InputError, "COLMAP points3D.bin")
def _read_points_binary(path: Path) -> tuple[np.ndarray, ...]:
    cur = _open_binary(path)
    n = cur.count("points", 51)
    ids = np.empty(n, dtype=np.int64)
    xyz = np.empty((n, 3))
    rgb = np.empty((n, 3), dtype=np.uint8)
    errors = np.empty(n)
    for i in range(n):
        ids[i], xyz[i, 0], xyz[i, 1], xyz[i, 2], rgb[i, 0], rgb[i, 1], rgb[i, 2], errors[i], track = cur.take("QdddBBBdQ")
        cur.skip(track, 8, f"track entries of point {ids[i]}")
    cur.finish()
    _unique(path, ids.tolist(), "point")
    return _points(path, ids, xyz, rgb, errors)


# --------------------------------------------------------------------------- writing
def _model_id(camera_id: int, cam: ColmapCamera) -> int:
    if cam.model not in CAMERA_MODELS or len(cam.params) != CAMERA_MODELS[cam.model][1]:
        raise InputError(f"camera {camera_id}: model {cam.model!r} with {len(cam.params)} parameters is not a "
                         "valid COLMAP camera")
    return CAMERA_MODELS[cam.model][0]


def _rows(scene: ColmapScene):
    rgb = np.clip(np.round(to_numpy(scene.colors, np.float64) * 255.0), 0, 255).astype(np.uint8)
    return to_numpy(scene.points, np.float64), rgb


def write_colmap_text(folder: str | os.PathLike, scene: ColmapScene, overwrite: bool = False) -> Path:
    """Write ``scene`` as ``cameras.txt``, ``images.txt``, ``points3D.txt`` in ``folder``
    (created; each file atomic; no 2D points or tracks). Raises
    :class:`~humanrecon.errors.OutputExistsError` before writing anything if one exists
    and not ``overwrite``. Returns ``folder``."""
    folder = Path(folder)
    paths = check_outputs([folder / f"{name}.txt" for name in _FILES], overwrite)
    for camera_id, cam in scene.intrinsics.items():
        _model_id(camera_id, cam)
    cams = ["# Camera list with one line of data per camera:", "#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]",
            f"# Number of cameras: {len(scene.intrinsics)}"]
    cams += [" ".join([str(cid), cam.model, str(cam.width), str(cam.height), *map(repr, map(float, cam.params))])
             for cid, cam in sorted(scene.intrinsics.items())]
    imgs = ["# Image list with two lines of data per image:",
            "#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME", "#   POINTS2D[] as (X, Y, POINT3D_ID)",
            f"# Number of images: {scene.num_images}, mean observations per image: 0"]
    for i in range(scene.num_images):
        numbers = [*scene.qvecs[i].tolist(), *scene.tvecs[i].tolist()]
        imgs += [" ".join([str(int(scene.image_ids[i])), *map(repr, numbers), str(int(scene.camera_ids[i])),
                           scene.names[i]]), ""]
    xyz, rgb = _rows(scene)
    pts = ["# 3D point list with one line of data per point:",
           "#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)",
           f"# Number of points: {len(xyz)}, mean track length: 0"]
    pts += [" ".join([str(int(pid)), *map(repr, p.tolist()), *map(str, c.tolist()), repr(float(e))])
            for pid, p, c, e in zip(scene.point_ids, xyz, rgb, scene.point_errors)]
    for path, lines in zip(paths, (cams, imgs, pts)):
        with atomic_write(path) as handle:
            handle.write(("\n".join(lines) + "\n").encode("utf-8"))
    return folder


def write_colmap_binary(folder: str | os.PathLike, scene: ColmapScene, overwrite: bool = False) -> Path:
    """Write ``scene`` as ``cameras.bin``, ``images.bin``, ``points3D.bin`` in ``folder``
    (COLMAP's little-endian layout; no 2D points or tracks). Same overwrite rule as
    :func:`write_colmap_text`. Returns ``folder``."""
    folder = Path(folder)
    paths = check_outputs([folder / f"{name}.bin" for name in _FILES], overwrite)
    cams = [struct.pack("<Q", len(scene.intrinsics))]
    for cid, cam in sorted(scene.intrinsics.items()):
        cams.append(struct.pack("<iiQQ", cid, _model_id(cid, cam), cam.width, cam.height))
        cams.append(struct.pack(f"<{len(cam.params)}d", *cam.params))
    imgs = [struct.pack("<Q", scene.num_images)]
    for i in range(scene.num_images):
        imgs.append(struct.pack("<idddddddi", int(scene.image_ids[i]), *scene.qvecs[i].tolist(),
                                *scene.tvecs[i].tolist(), int(scene.camera_ids[i])))
        imgs.append(scene.names[i].encode("utf-8") + b"\x00" + struct.pack("<Q", 0))
    xyz, rgb = _rows(scene)
    pts = [struct.pack("<Q", len(xyz))]
    pts += [struct.pack("<QdddBBBdQ", int(pid), *p.tolist(), *c.tolist(), float(e), 0)
            for pid, p, c, e in zip(scene.point_ids, xyz, rgb, scene.point_errors)]
    for path, chunks in zip(paths, (cams, imgs, pts)):
        with atomic_write(path) as handle:
            handle.write(b"".join(chunks))
    return folder


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
                      holdout_every: int = HOLDOUT_EVERY) -> BlenderSplit:
    """Images and cameras of a COLMAP capture as a :class:`BlenderSplit`.

    Args:
        root: the capture folder: a model (``cameras``/``images``/``points3D``, text or binary)
            in it or in ``sparse/0``, and the undistorted images in ``root/images`` (or next to
            the model), named as the model names them.
        split: ``"train"``, ``"test"`` (= ``"val"``: every ``holdout_every``-th image by name)
            or ``"all"``.
        downscale: integer factor; images are area-averaged and the intrinsics scaled.
    Returns:
        a split with ``images (N, H, W, 3)``, ``alpha (N, H, W)`` (ones unless the images have
        alpha), OpenCV world-to-camera float32 ``cameras``, ``points (P, 3)``,
        ``point_colors (P, 3)`` and ``bounds (2, 3)`` (None with fewer than 10 points).
    Raises:
        MissingFileError: no model, no image folder, or an image the model names is missing.
        InputError: images of different sizes, an image whose size is not its camera's, an
            empty split.
    """
    root = Path(root)
    scene = read_colmap(root)
    folder = _image_folder(root, scene.folder)
    indices = holdout_indices(scene.num_images, split, holdout_every)
    if not indices:
        raise InputError(f"{root}: split '{split}' of {scene.num_images} images is empty (every {holdout_every}th "
                         "image is held out for testing)")
    cameras = scene.cameras[indices]  # raises for mixed sizes
    images = alpha = None
    for row, i in enumerate(indices):
        path = folder / scene.names[i]
        if not path.is_file():
            raise MissingFileError(f"{path}: image '{scene.names[i]}' of the COLMAP model in '{scene.folder}' is missing")
        rgba = torch.from_numpy(load_rgba(path))
        if (rgba.shape[1], rgba.shape[0]) != (cameras.width, cameras.height):
            raise InputError(f"{path}: image is {rgba.shape[1]}x{rgba.shape[0]} but its COLMAP camera is "
                             f"{cameras.width}x{cameras.height} (WxH); give the images the model was made from")
        rgb, a = downscale_rgba(rgba[..., :3], rgba[..., 3], downscale)
        if images is None:
            images = torch.empty((len(indices), *rgb.shape), dtype=torch.float32)
            alpha = torch.empty((len(indices), *a.shape), dtype=torch.float32)
        images[row], alpha[row] = rgb, a
    cameras = scale_cameras(cameras, 1.0 / int(downscale), images.shape[2], images.shape[1])
    return BlenderSplit(images=images, alpha=alpha, cameras=cameras.to(dtype=torch.float32),
                        names=[str(folder / scene.names[i]) for i in indices], root=root, split=split,
                        bounds=_point_box(scene.points), points=scene.points.clone(),
                        point_colors=scene.colors.clone())
