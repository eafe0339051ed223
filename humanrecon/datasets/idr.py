"""DTU as IDR / NeuS ship it: ``cameras_sphere.npz`` plus ``image/`` (or ``images/``) and ``mask/``.

Layout (IDR's and NeuS's preprocessed DTU scans)::

    root/cameras_sphere.npz   world_mat_i (4x4 or 3x4: P = K [R | t], world units),
                              scale_mat_i (4x4 similarity: the unit sphere around the object
                              -> world); optional camera_mat_i, *_inv_i (ignored)
    root/image/000000.png ... the N photos, sorted by name, view i <-> i-th file
                              (``images/`` is accepted too)
    root/mask/000.png ...     optional object masks (white = object), sorted, one per photo

``cameras.npz`` (IDR's name) is read when ``cameras_sphere.npz`` is absent and the default
was asked for; ``cameras_file="cameras_large.npz"`` picks NeuS's larger sphere.

Frames and units
----------------
* The cameras are returned in the **normalised frame** of NeuS and IDR, where the object
  lies inside the unit sphere: ``P = world_mat_i @ scale_mat_i`` (a world point ``X`` has
  normalised coordinates ``scale_mat^-1 X``), decomposed by an RQ factorisation (what
  ``cv2.decomposeProjectionMatrix`` does) into ``K`` (normalised to ``K[2, 2] = 1``, skew
  kept), a rotation ``R`` and ``t``: OpenCV axes, world-to-camera, ``x_cam = R x + t``. A
  missing ``scale_mat`` (all views) is the identity; ``scale_mat`` must be one similarity
  (uniform scale, rotation, translation) shared by all views. ``bounds`` is the unit
  sphere's box ``[-1, 1]^3``.
* Pixel centres: IDR and NeuS cast a pixel's ray through **integer** coordinates (top-left
  pixel centre at ``(0, 0)``, OpenCV's convention), so ``P`` maps points to those; our
  :class:`~humanrecon.geometry.camera.Camera` puts that centre at ``(0.5, 0.5)``, so the
  principal point gets ``+ 0.5`` on reading (and ``- 0.5`` on writing): ``camera.project(x)
  = (P X)_xy / (P X)_z + 0.5``.
* ``downscale=N`` area-averages images and masks in memory and scales the intrinsics by
  ``1 / N`` exactly (:func:`~humanrecon.datasets.split.scale_cameras`).

Splits: the scans name none (IDR and NeuS train on every view), so ``"test"`` is every 8th
view (0, 8, 16, ...: the mip-NeRF 360 convention), ``"train"`` the rest, ``"all"`` every one.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from pathlib import Path

import numpy as np
import torch

from humanrecon.datasets.split import (HOLDOUT_EVERY, ViewSplit, _as_factor, check_image_count, downscale_mask, downscale_rgba,
                                       holdout_indices, holdout_rule, scale_cameras)
from humanrecon.errors import InputError, InputTypeError, MissingFileError
from humanrecon.geometry.camera import Camera
from humanrecon.io.files import check_outputs, write_bytes
from humanrecon.io.images import IMAGE_SUFFIXES, load_rgba, save_image

CAMERAS_FILE = "cameras_sphere.npz"
_FALLBACK_CAMERAS_FILE = "cameras.npz"  # IDR's name for the same content
IMAGE_FOLDERS = ("image", "images")
MASK_FOLDER = "mask"
#: the unit sphere's box, the scene bounds of the normalised frame
UNIT_BOUNDS = ((-1.0, -1.0, -1.0), (1.0, 1.0, 1.0))


# --------------------------------------------------------------------------- detection
def is_idr(root: str | os.PathLike) -> bool:
    """True when ``root`` is a folder holding ``cameras_sphere.npz`` (NeuS) or ``cameras.npz`` (IDR)."""
    root = Path(root)
    return (root / CAMERAS_FILE).is_file() or (root / _FALLBACK_CAMERAS_FILE).is_file()


def _cameras_path(root: Path, cameras_file: str | os.PathLike) -> Path:
    path = root / cameras_file
    if not path.is_file() and str(cameras_file) == CAMERAS_FILE and (root / _FALLBACK_CAMERAS_FILE).is_file():
        return root / _FALLBACK_CAMERAS_FILE
    if not path.is_file():
        raise MissingFileError(f"IDR / NeuS cameras file not found: '{path}'")
    return path


def _list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES)


# --------------------------------------------------------------------------- the npz
def _load_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of the npz (read eagerly, so a truncated member fails here, naming the file)."""
    try:  # from bytes: np.load leaves the file open when the zip directory is damaged
        npz = np.load(io.BytesIO(path.read_bytes()), allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise InputError(f"{path}: not a readable .npz archive ({type(exc).__name__}: {exc})") from exc
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise InputError(f"{path}: not an .npz archive of named arrays (a single .npy array)")
    try:
        with npz:
            return {key: np.asarray(npz[key]) for key in npz.files}
    except Exception as exc:  # BadZipFile (CRC), zlib.error, ValueError, EOFError ... from a damaged member
        raise InputError(f"{path}: damaged .npz archive ({type(exc).__name__}: {exc})") from exc


def _matrix(path: Path, arrays: dict, key: str, view: int, *, affine: bool = False) -> np.ndarray:
    """``arrays[key]`` as a finite float64 4x4 (a 3x4 gets ``[0 0 0 1]``). A projection's last
    row plays no part (``P`` is the top 3x4); an ``affine`` transform's must be ``[0 0 0 1]``."""
    m = arrays[key]
    if m.dtype.kind not in "fiu" or m.shape not in ((4, 4), (3, 4)):
        raise InputError(f"{path}: frame {view} {key} must be a 4x4 (or 3x4) matrix of numbers, got "
                         f"shape {m.shape} dtype {m.dtype}")
    m = m.astype(np.float64)
    if not np.isfinite(m).all():
        raise InputError(f"{path}: frame {view} {key} contains NaN or inf")
    if affine and m.shape == (4, 4) and not np.allclose(m[3], (0.0, 0.0, 0.0, 1.0), atol=1e-6):
        raise InputError(f"{path}: frame {view} {key} has last row {m[3].tolist()}, expected [0, 0, 0, 1]")
    return np.vstack([m[:3], [0.0, 0.0, 0.0, 1.0]])


def _view_count(path: Path, arrays: dict) -> int:
    views = sorted(int(m.group(1)) for k in arrays if (m := re.fullmatch(r"world_mat_(\d+)", k)))
    if not views:
        raise InputError(f"{path}: no 'world_mat_<i>' arrays (found {sorted(arrays)[:8]})")
    missing = sorted(set(range(views[-1] + 1)) - set(views))
    if missing:
        raise InputError(f"{path}: frame {missing[0]} has no 'world_mat_{missing[0]}' "
                         f"(views must be numbered 0..{views[-1]} without gaps)")
    return len(views)


def _scale_mats(path: Path, arrays: dict, n: int) -> np.ndarray:
    """``(4, 4)`` normalised -> world similarity, shared by every view (identity when absent)."""
    have = [i for i in range(n) if f"scale_mat_{i}" in arrays]
    if not have:
        return np.eye(4)
    if len(have) < n:
        lacking = next(i for i in range(n) if f"scale_mat_{i}" not in arrays)
        raise InputError(f"{path}: frame {lacking} has no 'scale_mat_{lacking}' but frame {have[0]} has one "
                         "(give every view's scale_mat, or none for the identity)")
    first = None
    for i in range(n):
        s = _matrix(path, arrays, f"scale_mat_{i}", i, affine=True)
        a = s[:3, :3]
        scale = abs(np.linalg.det(a)) ** (1.0 / 3.0)
        if scale <= 0 or not np.allclose(a.T @ a, scale**2 * np.eye(3), atol=1e-4 * scale**2):
            raise InputError(f"{path}: frame {i} scale_mat_{i} is not a similarity (uniform scale, rotation, "
                             f"translation): its 3x3 part is {np.round(a, 6).tolist()}")
        if np.linalg.det(a) < 0:
            raise InputError(f"{path}: frame {i} scale_mat_{i} mirrors the scene (negative determinant)")
        if first is None:
            first = s
        elif not np.allclose(s, first, rtol=1e-5, atol=1e-6 * scale):
            raise InputError(f"{path}: frame {i} scale_mat_{i} differs from scale_mat_0: every view must share "
                             "one normalisation (the unit sphere around the object)")
    return first


def _rq(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``m = K @ R``: upper-triangular ``K`` with a positive diagonal, orthonormal ``R``."""
    flip = np.eye(3)[::-1]
    q, u = np.linalg.qr((flip @ m).T)
    K, R = flip @ u.T @ flip, flip @ q.T
    signs = np.diag(np.sign(np.diag(K)))
    return K @ signs, signs @ R


def decompose_projection(P: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``P (3, 4) = s K [R | t]`` -> ``(K, R, t)`` with ``K[2, 2] = 1``, positive focal lengths
    and ``det R = +1`` (``P`` and ``-P`` are the same camera; the sign with ``det P[:, :3] > 0``
    is taken). The pixel convention of ``K`` is ``P``'s. Raises :class:`InputError` when the
    left 3x3 block is singular (no finite camera centre)."""
    P = np.asarray(P, dtype=np.float64)[:3, :4]
    m = P[:, :3]
    det = np.linalg.det(m)
    if not np.isfinite(det) or abs(det) <= 1e-12 * max(np.abs(m).max(), 1e-300) ** 3:
        raise InputError("not a finite projective camera: the left 3x3 part of P is singular")
    if det < 0:
        P, m = -P, -m
    K, R = _rq(m)
    t = np.linalg.solve(K, P[:, 3])
    return K / K[2, 2], R, t


def _camera_from_projection(path: Path, view: int, P: np.ndarray, width: int, height: int):
    """``(K, R, t)`` of one view in our pixel convention, checked against the image size."""
    try:
        K, R, t = decompose_projection(P)
    except InputError as exc:
        raise InputError(f"{path}: frame {view} world_mat_{view} (times scale_mat_{view}) is {exc}") from None
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-6) or np.linalg.det(R) <= 0:  # cannot happen: RQ gives one
        raise InputError(f"{path}: frame {view} world_mat_{view} does not factor into K times a rotation")
    K = K.copy()
    K[0, 2] += 0.5
    K[1, 2] += 0.5
    cx, cy = K[0, 2], K[1, 2]
    if not (0 <= cx <= width and 0 <= cy <= height):
        raise InputError(f"{path}: frame {view} world_mat_{view} puts the principal point (cx, cy) = "
                         f"({cx:g}, {cy:g}) outside its {width}x{height} image")
    if t[2] <= 0:
        raise InputError(f"{path}: frame {view} world_mat_{view}: the unit sphere's centre (the object) lies "
                         f"behind the camera (depth {t[2]:g})")
    return K, R, t


def _cameras(path: Path, arrays: dict, n: int, width: int, height: int) -> tuple[Camera, np.ndarray]:
    scale_mat = _scale_mats(path, arrays, n)
    Ks, Rs, ts = [], [], []
    for i in range(n):
        world = _matrix(path, arrays, f"world_mat_{i}", i)
        K, R, t = _camera_from_projection(path, i, (world @ scale_mat)[:3], width, height)
        Ks.append(K)
        Rs.append(R)
        ts.append(t)
    cameras = Camera(torch.from_numpy(np.stack(Ks)), torch.from_numpy(np.stack(Rs)), torch.from_numpy(np.stack(ts)),
                     width, height)
    return cameras, scale_mat


def read_idr_cameras(root: str | os.PathLike, width: int, height: int, *,
                     cameras_file: str | os.PathLike = CAMERAS_FILE) -> tuple[Camera, np.ndarray]:
    """Every view's camera of ``root/cameras_file`` in the normalised (unit-sphere) frame,
    without reading images.

    Args:
        width, height: the photos' full-resolution size (the npz does not store it); used
            for the principal-point check and the :class:`Camera`.
    Returns:
        ``(cameras, scale_mat)``: a float64 :class:`Camera` of batch ``N`` and the ``(4, 4)``
        normalised -> world similarity (world point ``X = scale_mat @ [x, 1]``).
    """
    path = _cameras_path(Path(root), cameras_file)
    arrays = _load_npz(path)
    return _cameras(path, arrays, _view_count(path, arrays), width, height)


# --------------------------------------------------------------------------- reading
def _image_folder(root: Path, where: Path) -> Path:
    for name in IMAGE_FOLDERS:
        if (root / name).is_dir():
            return root / name
    raise MissingFileError(f"{where}: its image folder does not exist: looked for "
                           f"{' and '.join(repr(str(root / n)) for n in IMAGE_FOLDERS)}")


def _read_mask(path: Path) -> np.ndarray:
    """A mask file as ``(H, W)`` float32 in ``[0, 1]``: its alpha channel where it has one, else mean RGB."""
    rgba = load_rgba(path)
    return rgba[..., 3] if bool((rgba[..., 3] < 1).any()) else rgba[..., :3].mean(axis=-1)


def read_idr(
    root: str | os.PathLike,
    split: str = "train",
    *,
    downscale: int = 1,
    cameras_file: str | os.PathLike = CAMERAS_FILE,
    holdout_every: int = HOLDOUT_EVERY,
) -> ViewSplit:
    """Read one split of a DTU scan in the IDR / NeuS layout (frames: the module docstring).

    Args:
        root: the scan folder.
        split: ``"train"``, ``"test"`` (= ``"val"``: every ``holdout_every``-th view) or ``"all"``.
        downscale: integer factor; images and masks are area-averaged, intrinsics scaled.
        cameras_file: the npz inside ``root`` (``"cameras_large.npz"``: NeuS's larger sphere).
        holdout_every: the test stride (8, the mip-NeRF 360 convention).
    Returns:
        :class:`ViewSplit` with format ``"idr"``, opaque ``alpha``, float32 cameras in the
        normalised frame, ``bounds`` the box ``[-1, 1]^3`` and ``masks`` from ``mask/`` (or None).
    Raises:
        MissingFileError: no npz or image folder; fewer images (or masks) than views (names
            the folder and the first frame lacking one).
        InputError: a damaged npz, a singular projection, a ``scale_mat`` that is not one
            similarity, a principal point outside the image, an object behind a camera, more
            images (or masks) than views, images of different sizes, a mask of another size
            than its image: each names the file and the frame.
    """
    root = Path(root)
    factor = _as_factor(downscale)
    path = _cameras_path(root, cameras_file)
    arrays = _load_npz(path)
    n = _view_count(path, arrays)
    folder = _image_folder(root, path)
    files = _list_images(folder)
    check_image_count(path, n, folder, files, "views")
    mask_files = None
    if (root / MASK_FOLDER).is_dir():
        mask_files = _list_images(root / MASK_FOLDER)
        if len(mask_files) != n:
            error = MissingFileError if len(mask_files) < n else InputError
            raise error(f"{root / MASK_FOLDER}: {len(mask_files)} masks for {n} images in '{folder}': "
                        f"frame {min(len(mask_files), n)} has " + ("no mask" if len(mask_files) < n else
                                                                   f"no image (mask '{mask_files[n].name}')"))
    index = holdout_indices(n, split, holdout_every)
    if not index:
        raise InputError(f"{path}: no views in split '{split}' ({n} views, holdout_every={holdout_every})")

    first = load_rgba(files[index[0]])  # its size checks the intrinsics before the other images are read
    size = (first.shape[1], first.shape[0])
    cameras, _ = _cameras(path, arrays, n, *size)
    cameras = cameras[index]

    images = masks = None
    for row, i in enumerate(index):
        rgba = torch.from_numpy(first if row == 0 else load_rgba(files[i]))
        first = None
        found = (rgba.shape[1], rgba.shape[0])
        if found != size:
            raise InputError(f"{path}: frame {i} image '{files[i]}' is {found[0]}x{found[1]} but frame {index[0]} "
                             f"'{files[index[0]]}' is {size[0]}x{size[1]} (WxH)")
        rgb = downscale_rgba(rgba[..., :3], rgba[..., 3], factor)[0]
        if images is None:  # allocate once: a split can hold gigabytes of pixels
            images = torch.empty((len(index), *rgb.shape), dtype=torch.float32)
        images[row] = rgb
        if mask_files is not None:
            mask = _read_mask(mask_files[i])
            if (mask.shape[1], mask.shape[0]) != found:
                raise InputError(f"{path}: frame {i} mask '{mask_files[i]}' is {mask.shape[1]}x{mask.shape[0]} but "
                                 f"its image '{files[i]}' is {found[0]}x{found[1]} (WxH)")
            mask = downscale_mask(torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32)), factor)
            if masks is None:
                masks = torch.empty((len(index), *mask.shape), dtype=torch.float32)
            masks[row] = mask
    if factor > 1:
        cameras = scale_cameras(cameras, 1.0 / factor, images.shape[2], images.shape[1])
    return ViewSplit(images=images, alpha=torch.ones(images.shape[:3]), cameras=cameras.to(dtype=torch.float32),
                     names=[str(files[i]) for i in index], root=root, split=split,
                     bounds=torch.tensor(UNIT_BOUNDS, dtype=torch.float32), masks=masks,
                     split_rule=holdout_rule(holdout_every), format="idr")


# --------------------------------------------------------------------------- writing
def output_paths(root: str | os.PathLike, n: int, *, images: bool = False, masks: bool = False,
                 cameras_file: str = CAMERAS_FILE) -> list[Path]:
    """What :func:`write_idr` writes: the npz, then ``image/000000.png ...``, then ``mask/000.png ...``."""
    root = Path(root)
    return ([root / cameras_file] + [root / "image" / f"{i:06d}.png" for i in range(n if images else 0)]
            + [root / MASK_FOLDER / f"{i:03d}.png" for i in range(n if masks else 0)])


def _stack(value, name: str, shape: tuple[int, ...]) -> np.ndarray:
    arr = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    if arr.shape != shape:
        raise InputError(f"{name} must have shape {shape} to match the cameras, got {arr.shape}")
    return arr


def write_idr(
    root: str | os.PathLike,
    cameras: Camera,
    *,
    scale_mat=None,
    images=None,
    masks=None,
    cameras_file: str = CAMERAS_FILE,
    overwrite: bool = False,
) -> Path:
    """Write cameras (and optionally photos and masks) in the IDR / NeuS layout.

    Args:
        cameras: :class:`Camera` of batch ``N`` in the normalised frame (the object inside
            the unit sphere), OpenCV, world-to-camera, our pixel convention.
        scale_mat: ``(4, 4)`` similarity from that frame to world units (default identity);
            stored as every ``scale_mat_i``, and ``world_mat_i = K' [R | t] @ scale_mat^-1``
            with ``K'`` the intrinsics in IDR's integer-pixel-centre convention (``cx - 0.5``).
        images: optional ``(N, H, W, 3)`` RGB in ``[0, 1]`` (or uint8) -> ``image/000000.png ...``.
        masks: optional ``(N, H, W)`` in ``[0, 1]`` (or uint8) -> ``mask/000.png ...``.
        overwrite: replace existing files; otherwise :class:`OutputExistsError` names the
            first one (checked before anything is written).
    The npz (``world_mat_i``, ``world_mat_inv_i``, ``scale_mat_i``, ``scale_mat_inv_i``,
    float64) is written last and atomically. Returns its path.
    """
    if not isinstance(cameras, Camera):
        raise InputTypeError(f"cameras must be a humanrecon Camera, got {type(cameras).__name__}")
    cams = cameras.to(device="cpu", dtype=torch.float64)
    n, w, h = cams.batch_size, cams.width, cams.height
    S = np.eye(4) if scale_mat is None else _stack(scale_mat, "scale_mat", (4, 4)).astype(np.float64)
    if not np.isfinite(S).all() or abs(np.linalg.det(S)) < 1e-12:
        raise InputError(f"scale_mat must be a finite invertible 4x4 matrix, got {S.tolist()}")
    img = None if images is None else _stack(images, "images", (n, h, w, 3))
    msk = None if masks is None else _stack(masks, "masks", (n, h, w))
    paths = output_paths(root, n, images=img is not None, masks=msk is not None, cameras_file=cameras_file)
    check_outputs(paths, overwrite)

    K = cams.K.detach().numpy().copy()
    K[:, 0, 2] -= 0.5
    K[:, 1, 2] -= 0.5
    Rt = np.concatenate([cams.R.detach().numpy(), cams.t.detach().numpy()[:, :, None]], axis=-1)
    S_inv = np.linalg.inv(S)
    out = {}
    for i in range(n):
        P = np.eye(4)
        P[:3] = K[i] @ Rt[i]
        world = P @ S_inv
        out[f"world_mat_{i}"] = world
        out[f"world_mat_inv_{i}"] = np.linalg.inv(world)
        out[f"scale_mat_{i}"] = S
        out[f"scale_mat_inv_{i}"] = S_inv
    rest = iter(paths[1:])
    for image in [] if img is None else img:
        save_image(next(rest), image)
    for mask in [] if msk is None else msk:
        save_image(next(rest), mask)
    buf = io.BytesIO()
    np.savez(buf, **out)
    write_bytes(paths[0], buf.getvalue())
    return paths[0]
