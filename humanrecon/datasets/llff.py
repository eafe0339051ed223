"""LLFF captures: ``poses_bounds.npy`` plus ``images/`` (and its ``images_N/`` downscales).

Layout (as written by LLFF's ``imgs2poses.py`` and read by NeRF's ``load_llff.py``)::

    root/poses_bounds.npy   (N, 17) float: per image a 3x5 pose, row-major, then near, far
    root/images/            the N photos; sorted by file name, row i <-> i-th image
    root/images_4/ ...      optional downscales by 4, 8, ... (``images_N/``)

Frames and units
----------------
* The 3x5 pose is ``[c2w (3x4) | hwf]``: the first three columns are the camera's axes in
  world coordinates in LLFF's order **[down, right, backwards]**, the fourth the camera
  centre (world units of the SfM that made the file; not metres in general), the fifth
  ``[height, width, focal]`` of the full-resolution ``images/`` in pixels. NeRF's loader
  turns the axes into OpenGL ``[right, up, backwards]`` by ``[x1, -x0, x2]``; this module
  converts that to the OpenCV :class:`~humanrecon.geometry.camera.Camera` (x right, y down,
  z forward, world-to-camera) via ``Camera.from_opengl_c2w``, and back in :func:`write_llff`.
* Intrinsics: ``fx = fy = focal`` and a **centred** principal point ``cx = W / 2``,
  ``cy = H / 2`` in the pixel-area convention of :class:`Camera` (top-left pixel centre at
  ``(0.5, 0.5)``), i.e. the image centre that LLFF assumes. NeRF's original ray generator
  samples integer pixel coordinates with ``cx = W / 2``, which is half a pixel off that
  centre (mip-NeRF corrected it); we follow LLFF's intent, not that offset.
* No recentring, no ``bd_factor`` rescaling, no spherification: those are training choices
  of NeRF's loader; the cameras stay in the file's world frame and ``near_far`` in its units.
* ``downscale=N``: images from ``images_N/`` when that folder exists (focal ``/ N``, the
  principal point at the centre of those images, whose size must be the full size ``/ N``
  to within a pixel), else ``images/`` area-averaged in memory (intrinsics scaled exactly,
  see :func:`~humanrecon.datasets.split.scale_cameras`).

Splits: LLFF names none, so ``"test"`` is every 8th image (0, 8, 16, ...: NeRF's
``llffhold = 8`` and the mip-NeRF 360 convention), ``"train"`` the rest, ``"all"`` every one.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import torch

from humanrecon.datasets.split import (HOLDOUT_EVERY, ViewSplit, _as_factor, check_image_count, downscale_rgba, holdout_indices,
                                       holdout_rule, scale_cameras)
from humanrecon.errors import InputError, InputTypeError, MissingFileError
from humanrecon.geometry.camera import Camera, intrinsics_from_focal
from humanrecon.io.files import check_outputs, write_bytes
from humanrecon.io.images import IMAGE_SUFFIXES, load_rgba, save_image

POSES_FILE = "poses_bounds.npy"
#: the pose columns LLFF stores, for messages
_AXES = "[down, right, backwards]"


# --------------------------------------------------------------------------- detection
def is_llff(root: str | os.PathLike) -> bool:
    """True when ``root`` is a folder holding ``poses_bounds.npy``."""
    return (Path(root) / POSES_FILE).is_file()


def list_images(folder: str | os.PathLike) -> list[Path]:
    """The image files of ``folder`` sorted by name (hidden files and other suffixes skipped)."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES)


# --------------------------------------------------------------------------- the file
def load_poses_bounds(path: str | os.PathLike) -> np.ndarray:
    """``poses_bounds.npy`` as float64 ``(N, 17)``, checked: shape, finite values, every
    pose's 3x3 part a rotation, ``h, w`` positive integers equal in every row, ``focal > 0``,
    ``0 <= near < far``. Errors name the file and the frame (row)."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"LLFF poses file not found: '{path}'")
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{path}: not a readable .npy array ({exc})") from exc
    if not isinstance(data, np.ndarray) or data.dtype.kind not in "fiu":
        raise InputError(f"{path}: expected a numeric (N, 17) array, got {type(data).__name__} "
                         f"of dtype {getattr(data, 'dtype', '?')}")
    if data.ndim != 2 or data.shape[1] != 17 or data.shape[0] == 0:
        raise InputError(f"{path}: expected shape (N, 17) (a 3x5 pose and near, far per image), got {data.shape}")
    data = data.astype(np.float64)
    first_hw = None
    for i, row in enumerate(data):
        if not np.isfinite(row).all():
            raise InputError(f"{path}: frame {i} contains NaN or inf")
        pose = row[:15].reshape(3, 5)
        rot = pose[:, :3]
        if not np.allclose(rot.T @ rot, np.eye(3), atol=1e-3) or np.linalg.det(rot) <= 0:
            raise InputError(f"{path}: frame {i} is not a camera pose: its 3x3 part (columns {_AXES}) is not a "
                             f"rotation (orthonormal, det +1): {np.round(rot, 4).tolist()}")
        h, w, focal = pose[:, 4]
        if min(h, w) < 1 or abs(h - round(h)) > 1e-3 or abs(w - round(w)) > 1e-3:
            raise InputError(f"{path}: frame {i} has image size h={h:g}, w={w:g}: expected positive integers")
        if focal <= 0:
            raise InputError(f"{path}: frame {i} has focal length {focal:g}: must be > 0 pixels")
        hw = (round(h), round(w))
        if first_hw is None:
            first_hw = hw
        elif hw != first_hw:
            raise InputError(f"{path}: frame {i} has image size {hw[1]}x{hw[0]} but frame 0 has "
                             f"{first_hw[1]}x{first_hw[0]} (WxH): one capture, one image size")
        near, far = row[15:17]
        if not 0 <= near < far:
            raise InputError(f"{path}: frame {i} has near={near:g}, far={far:g}: need 0 <= near < far")
    return data


def _cameras_from_rows(data: np.ndarray) -> Camera:
    """Full-resolution float64 cameras of the rows of ``poses_bounds``."""
    poses = data[:, :15].reshape(-1, 3, 5)
    down, right, back, centre = (poses[:, :, k] for k in range(4))
    c2w_gl = np.stack([right, -down, back, centre], axis=-1)  # OpenGL [right, up, back | centre]
    h, w = round(poses[0, 0, 4]), round(poses[0, 1, 4])
    focal = torch.from_numpy(poses[:, 2, 4].copy())
    K = intrinsics_from_focal(focal, focal, torch.full_like(focal, w / 2.0), torch.full_like(focal, h / 2.0))
    return Camera.from_opengl_c2w(torch.from_numpy(c2w_gl), K, w, h)


def read_llff_cameras(root: str | os.PathLike) -> tuple[Camera, torch.Tensor]:
    """All cameras of ``root/poses_bounds.npy`` at full resolution, without images.

    Returns ``(cameras, near_far)``: a float32 :class:`Camera` of batch ``N`` (OpenCV,
    world-to-camera, size ``w x h`` of the file) and ``(N, 2)`` float32 near/far depths.
    """
    data = load_poses_bounds(Path(root) / POSES_FILE)
    return (_cameras_from_rows(data).to(dtype=torch.float32),
            torch.from_numpy(data[:, 15:17].astype(np.float32)))


# --------------------------------------------------------------------------- reading
def _image_folder(root: Path, factor: int) -> tuple[Path, bool]:
    """``(folder, prescaled)``: ``images_N/`` when ``factor > 1`` and it exists, else ``images/``."""
    if factor > 1 and (root / f"images_{factor}").is_dir():
        return root / f"images_{factor}", True
    folder = root / "images"
    if not folder.is_dir():
        others = sorted(p.name for p in root.glob("images_*") if p.is_dir())
        hint = f" (found {', '.join(others)}: pass the matching downscale)" if others else ""
        raise MissingFileError(f"{root / POSES_FILE}: its image folder '{folder}' does not exist{hint}")
    return folder, False


def read_llff(
    root: str | os.PathLike,
    split: str = "train",
    *,
    downscale: int = 1,
    holdout_every: int = HOLDOUT_EVERY,
) -> ViewSplit:
    """Read one split of an LLFF capture (see the module docstring for frames and layout).

    Args:
        root: folder holding ``poses_bounds.npy`` and ``images/`` (and optionally ``images_N/``).
        split: ``"train"``, ``"test"`` (= ``"val"``: every ``holdout_every``-th image) or ``"all"``.
        downscale: integer factor: ``images_N/`` if present, else ``images/`` area-averaged.
        holdout_every: the test stride (8: NeRF's ``llffhold``, mip-NeRF 360).
    Returns:
        :class:`ViewSplit` with format ``"llff"``, opaque ``alpha``, float32 OpenCV cameras,
        ``near_far (N, 2)`` from the file (its world units) and ``split_rule``.
    Raises:
        MissingFileError: no ``poses_bounds.npy`` or image folder; fewer images than poses
            (names the folder and the first frame without an image).
        InputError: a malformed file, a pose that is not a rotation, a bad focal/size, more
            images than poses, or an image whose size differs from the file's ``h, w``
            (scaled for ``images_N/``): each names the file and the frame.
    """
    root = Path(root)
    factor = _as_factor(downscale)
    poses_path = root / POSES_FILE
    data = load_poses_bounds(poses_path)
    n = data.shape[0]
    folder, prescaled = _image_folder(root, factor)
    files = list_images(folder)
    check_image_count(poses_path, n, folder, files, "poses")

    cameras = _cameras_from_rows(data)
    h, w = cameras.height, cameras.width
    index = holdout_indices(n, split, holdout_every)
    # images_N/ may round the size either way (ImageMagick's resize); images/ must match exactly
    expect = (w / factor, h / factor) if prescaled else (w, h)
    what = f"{w}x{h} / {factor} = {expect[0]:g}x{expect[1]:g}" if prescaled else f"{w}x{h}"
    if not index:
        raise InputError(f"{poses_path}: no images in split '{split}' ({n} frames, holdout_every={holdout_every})")
    images = first = None
    for row, i in enumerate(index):
        path = files[i]
        rgba = torch.from_numpy(load_rgba(path))
        size = (rgba.shape[1], rgba.shape[0])
        if abs(size[0] - expect[0]) >= 1 or abs(size[1] - expect[1]) >= 1:
            raise InputError(f"{poses_path}: frame {i} image '{path}' is {size[0]}x{size[1]} but the file's "
                             f"h, w give {what} (WxH)")
        if first is None:
            first = (size, files[i])
        elif size != first[0]:
            raise InputError(f"{poses_path}: frame {i} image '{path}' is {size[0]}x{size[1]} but '{first[1]}' "
                             f"is {first[0][0]}x{first[0][1]} (WxH)")
        rgb = rgba[..., :3] if prescaled else downscale_rgba(rgba[..., :3], rgba[..., 3], factor)[0]
        if row == 0:  # allocate once: a split can hold gigabytes of pixels
            images = torch.empty((len(index), *rgb.shape), dtype=torch.float32)
        images[row] = rgb

    cameras = cameras[index]
    out_h, out_w = images.shape[1:3]
    if prescaled:
        K = cameras.K.clone()
        K[:, :2, :2] /= factor
        K[:, 0, 2], K[:, 1, 2] = out_w / 2.0, out_h / 2.0
        cameras = Camera(K, cameras.R, cameras.t, out_w, out_h)
    elif factor > 1:
        cameras = scale_cameras(cameras, 1.0 / factor, out_w, out_h)
    return ViewSplit(images=images, alpha=torch.ones(images.shape[:3]), cameras=cameras.to(dtype=torch.float32),
                     names=[str(files[i]) for i in index], root=root, split=split,
                     near_far=torch.from_numpy(data[index, 15:17].astype(np.float32)),
                     split_rule=holdout_rule(holdout_every), format="llff")


# --------------------------------------------------------------------------- writing
def image_path(root: str | os.PathLike, index: int) -> Path:
    """Where :func:`write_llff` puts image ``index``: ``root/images/{index:03d}.png``."""
    return Path(root) / "images" / f"{index:03d}.png"


def poses_bounds_array(cameras: Camera, near_far) -> np.ndarray:
    """The ``(N, 17)`` float64 ``poses_bounds`` rows of OpenCV ``cameras`` and ``near_far (N, 2)``.

    Raises :class:`InputError` for cameras LLFF cannot store: ``fx != fy``, skew, or a
    principal point off the image centre (by more than 1e-3 pixels).
    """
    if not isinstance(cameras, Camera):
        raise InputTypeError(f"cameras must be a humanrecon Camera, got {type(cameras).__name__}")
    cams = cameras.to(device="cpu", dtype=torch.float64)
    n, w, h = cams.batch_size, cams.width, cams.height
    K = cams.K.detach().numpy()
    for i in range(n):
        k = K[i]
        if (abs(k[0, 0] - k[1, 1]) > 1e-6 * abs(k[0, 0]) or k[0, 1] != 0 or k[1, 0] != 0
                or np.any(k[2] != (0.0, 0.0, 1.0))):
            raise InputError(f"camera {i}: LLFF stores one focal length and no skew, got K = {k.tolist()}")
        if abs(k[0, 2] - w / 2.0) > 1e-3 or abs(k[1, 2] - h / 2.0) > 1e-3:
            raise InputError(f"camera {i}: LLFF assumes the principal point at the image centre "
                             f"({w / 2:g}, {h / 2:g}), got ({k[0, 2]:g}, {k[1, 2]:g})")
    bounds = np.asarray(near_far.detach().cpu().numpy() if isinstance(near_far, torch.Tensor) else near_far,
                        dtype=np.float64)
    if bounds.shape != (n, 2) or not np.isfinite(bounds).all():
        raise InputError(f"near_far must be finite of shape ({n}, 2), got {bounds.shape}")
    bad = np.nonzero(~((bounds[:, 0] >= 0) & (bounds[:, 0] < bounds[:, 1])))[0]
    if bad.size:
        raise InputError(f"near_far of camera {bad[0]} is {bounds[bad[0]].tolist()}: need 0 <= near < far")
    gl = cams.to_opengl_c2w().detach().numpy()[:, :3]  # [right, up, back | centre]
    hwf = np.stack([np.full(n, float(h)), np.full(n, float(w)), K[:, 0, 0]], axis=-1)
    poses = np.concatenate([-gl[:, :, 1:2], gl[:, :, 0:1], gl[:, :, 2:3], gl[:, :, 3:4], hwf[:, :, None]], axis=-1)
    return np.concatenate([poses.reshape(n, 15), bounds], axis=-1)


def write_llff(
    root: str | os.PathLike,
    cameras: Camera,
    near_far,
    *,
    images=None,
    overwrite: bool = False,
) -> Path:
    """Write ``root/poses_bounds.npy`` (atomically) and optionally ``root/images/000.png ...``.

    Args:
        cameras: :class:`Camera` of batch ``N`` (OpenCV, world-to-camera) with ``fx = fy``
            and the principal point at the image centre (what LLFF can store).
        near_far: ``(N, 2)`` near and far depths, ``0 <= near < far``.
        images: optional ``(N, H, W, 3)`` RGB in ``[0, 1]`` (or uint8), numpy or torch, of the
            cameras' size, written as 8-bit PNGs.
        overwrite: replace existing files; otherwise :class:`OutputExistsError` names the
            first one (checked before anything is written).
    Returns the path of ``poses_bounds.npy`` (written last).
    """
    rows = poses_bounds_array(cameras, near_far)
    n = rows.shape[0]
    poses_path = Path(root) / POSES_FILE
    image_paths = [] if images is None else [image_path(root, i) for i in range(n)]
    if images is not None:
        arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
        if arr.shape != (n, cameras.height, cameras.width, 3):
            raise InputError(f"images must have shape (N, H, W, 3) = ({n}, {cameras.height}, {cameras.width}, 3) "
                             f"to match the cameras, got {arr.shape}")
    check_outputs([poses_path, *image_paths], overwrite)
    for path, image in zip(image_paths, arr if images is not None else []):
        save_image(path, image)
    buf = io.BytesIO()
    np.save(buf, rows, allow_pickle=False)
    write_bytes(poses_path, buf.getvalue())
    return poses_path
