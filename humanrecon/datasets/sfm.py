"""Structure from motion with `pycolmap <https://colmap.github.io/pycolmap/>`_: a folder of
photos becomes a COLMAP capture (:func:`run_sfm`, ``humanrecon capture``), and a capture
whose poses are known but which ships no sparse points gets them by triangulation
(:func:`triangulate_known_poses`, :func:`with_sfm_points`: the splat trainer's start).

Nothing here is hand-written geometry: SIFT features (CPU), matching with geometric
verification, incremental mapping, point triangulation and undistortion are COLMAP's.

What :func:`run_sfm` writes into ``out_dir``::

    images/          the registered photos, undistorted (same names)
    sparse/0/        cameras.bin (PINHOLE), images.bin, points3D.bin, rigs.bin, frames.bin
    sfm/             COLMAP's own files, kept for inspection or a rerun with other tools:
                     database.db (features, matches), sparse/0/ (the model before
                     undistortion, with the lens model), colmap.log, report.json

``out_dir`` is then a COLMAP capture for :func:`humanrecon.datasets.views.read_views`
(format ``"colmap"``). The work happens in a scratch folder ``out_dir/.sfm-*`` that is
removed at the end, on success or failure; earlier outputs are replaced only after a
successful run, and only with ``overwrite``.

Frames and units
----------------
COLMAP's poses are world-to-camera in OpenCV axes (x right, y down, z forward), exactly
:class:`~humanrecon.geometry.camera.Camera`'s ``R``, ``t``. A reconstruction from photos
has an arbitrary similarity (scale, rotation, origin): world units are not metres.
:func:`triangulate_known_poses` keeps the capture's own cameras fixed, so its points are in
the capture's world frame and units.

COLMAP's log goes to ``sfm/colmap.log`` (``verbose=True`` also prints it). pycolmap's log
settings are process-wide: run one structure-from-motion call at a time per process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np

from humanrecon.errors import InputError, MissingFileError, OutputExistsError
from humanrecon.io.files import atomic_write, scratch_folder, write_json
from humanrecon.sfm_config import SfmConfig

if TYPE_CHECKING:
    import torch

    from humanrecon.datasets.split import ViewSplit

#: photo files :func:`run_sfm` takes from the folder (case-insensitive; other files are ignored)
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")
#: the fewest photos structure from motion is tried on
MIN_PHOTOS = 3
#: what :func:`run_sfm` writes into its output folder
OUTPUTS = ("images", "sparse", "sfm")
#: the report inside ``sfm/`` that marks a folder as written by :func:`run_sfm`
REPORT = "report.json"
#: the cache :func:`with_sfm_points` keeps in a run folder
POINTS_CACHE = "sfm_points.npz"
#: photos with fewer SIFT keypoints than this are called featureless in error messages
_FEW_FEATURES = 50
_CACHE_VERSION = 1


# --------------------------------------------------------------------------- inputs
def list_photos(photos_dir: str | os.PathLike) -> list[Path]:
    """The photo files (:data:`PHOTO_SUFFIXES`, not hidden) directly in ``photos_dir``,
    sorted by name.

    Raises:
        MissingFileError: the folder does not exist.
        InputError: it is a file, or holds fewer than :data:`MIN_PHOTOS` photos.
    """
    folder = Path(photos_dir)
    if not folder.exists():
        raise MissingFileError(f"photos folder not found: '{folder}'")
    if not folder.is_dir():
        raise InputError(f"'{folder}' is a file; give the folder that holds the photos")
    photos = sorted(p for p in folder.iterdir()
                    if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in PHOTO_SUFFIXES)
    if len(photos) < MIN_PHOTOS:
        raise InputError(f"{folder}: {len(photos)} photos ({', '.join(PHOTO_SUFFIXES)}) found, structure from motion "
                         f"needs at least {MIN_PHOTOS} (a few dozen around the subject work best)")
    return photos


def _photo_sizes(photos: Sequence[Path], single_camera: bool) -> tuple[int, int]:
    """``(width, height)`` of the first photo after checking every photo's header opens;
    with ``single_camera`` every photo must have that size. InputError naming the file."""
    from PIL import Image, UnidentifiedImageError

    first = None
    for path in photos:
        try:
            with Image.open(path) as image:
                size = image.size
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            raise InputError(f"{path}: cannot read this photo ({exc}); remove it or replace it") from exc
        if first is None:
            first = size
        elif single_camera and size != first:
            raise InputError(f"{path}: the photo is {size[0]}x{size[1]} but '{photos[0].name}' is {first[0]}x{first[1]} "
                             "(WxH); one camera needs one size: resize the photos to one size, or use one camera "
                             "per photo (single_camera=False)")
    return first


def _check_outputs(out_dir: Path, photos_dir: Path, overwrite: bool) -> list[Path]:
    """The outputs of :func:`run_sfm` in ``out_dir``, checked before any work (module
    docstring); never user data: a folder not written by :func:`run_sfm` is refused even
    with ``overwrite``."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: is a file, expected the capture folder to write")
    targets = [out_dir / name for name in OUTPUTS]
    photos = photos_dir.resolve()
    for target in targets:
        if photos == target.resolve() or target.resolve() in photos.parents:
            raise InputError(f"the photos in '{photos_dir}' lie in '{target}', which the capture writes; give another "
                             f"output folder (e.g. '{photos_dir.parent / 'capture'}')")
    existing = [t for t in targets if t.exists()]
    if existing and not overwrite:
        raise OutputExistsError(f"{existing[0]} exists; pass --overwrite (overwrite=True) to replace the capture in "
                                f"'{out_dir}'")
    if existing and not (out_dir / "sfm" / REPORT).is_file():
        raise InputError(f"{existing[0]} exists and was not written by humanrecon capture (no "
                         f"{out_dir / 'sfm' / REPORT}); not replacing it even with overwrite: choose another output "
                         "folder")
    return targets


# --------------------------------------------------------------------------- pycolmap plumbing
@contextlib.contextmanager
def _colmap_log(log_file: Path, verbose: bool) -> Iterator[None]:
    """COLMAP's (glog's) messages into ``log_file`` for the duration (and to stderr only when
    ``verbose``); the previous settings come back afterwards."""
    import pycolmap

    log = pycolmap.logging
    before = log.alsologtostderr
    prefix = str(log_file) + "."
    log.alsologtostderr = bool(verbose)
    log.set_log_destination(log.INFO, prefix)
    try:
        yield
    finally:
        log.set_log_destination(log.INFO, "")  # closes (and flushes) the file; no file logging, pycolmap's default
        log.alsologtostderr = before
        written = sorted(log_file.parent.glob(log_file.name + ".*"))
        with contextlib.suppress(OSError):
            if written:
                with open(log_file, "ab") as out:
                    for part in written:
                        out.write(part.read_bytes())
                        part.unlink()


def _stage(where: Path, what: str, call):
    """Run one pycolmap call; its errors become one InputError naming ``where`` and the stage."""
    try:
        return call()
    except (RuntimeError, ValueError, OSError) as exc:
        message = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{where}: COLMAP {what} failed: {message}") from exc


def _threads(config: SfmConfig) -> int:
    return config.num_threads if config.num_threads > 0 else -1


def _extract(config: SfmConfig, database: Path, image_dir: Path, names: Sequence[str], *, camera_model: str,
             single_camera: bool, camera_params: str = "") -> None:
    import pycolmap

    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = camera_model
    if camera_params:
        reader.camera_params = camera_params
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.num_threads = _threads(config)
    extraction.max_image_size = config.max_image_size
    extraction.sift.max_num_features = config.max_features
    mode = pycolmap.CameraMode.SINGLE if single_camera else pycolmap.CameraMode.PER_IMAGE
    pycolmap.extract_features(database, image_dir, image_names=list(names), camera_mode=mode, reader_options=reader,
                              extraction_options=extraction, device=pycolmap.Device.cpu)


def _match(config: SfmConfig, database: Path) -> None:
    import pycolmap

    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads = _threads(config)
    if config.matcher == "sequential":
        pairing = pycolmap.SequentialPairingOptions()
        pairing.overlap = config.overlap
        pairing.num_threads = _threads(config)
        pycolmap.match_sequential(database, matching_options=matching, pairing_options=pairing,
                                  device=pycolmap.Device.cpu)
    else:
        pycolmap.match_exhaustive(database, matching_options=matching, device=pycolmap.Device.cpu)


def _database_images(database: Path) -> tuple[dict, dict, int]:
    """``({name: Image}, {image_id: keypoint count}, verified pairs)`` of a feature database."""
    import pycolmap

    db = pycolmap.Database.open(database)
    try:
        images = {image.name: image for image in db.read_all_images()}
        keypoints = {image.image_id: db.num_keypoints_for_image(image.image_id) for image in images.values()}
        pairs = db.num_verified_image_pairs()
    finally:
        db.close()
    return images, keypoints, pairs


def _check_imported(where: Path, folder: Path, names: Sequence[str], imported: dict) -> None:
    missing = [name for name in names if name not in imported]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise InputError(f"{folder / missing[0]}: COLMAP could not read this photo{more} (damaged, or a format or "
                         f"size it does not take); see {where}")


def _pipeline_options(config: SfmConfig):
    import pycolmap

    options = pycolmap.IncrementalPipelineOptions()
    options.num_threads = _threads(config)
    options.random_seed = config.seed
    return options


def _progress(total: int, desc: str, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="stage", disable=not progress, leave=False, mininterval=0)


# --------------------------------------------------------------------------- photos -> capture
def run_sfm(photos_dir: str | os.PathLike, out_dir: str | os.PathLike, *, overwrite: bool = False,
            max_image_size: int = SfmConfig.max_image_size, matcher: str = SfmConfig.matcher,
            camera_model: str = SfmConfig.camera_model, single_camera: bool = SfmConfig.single_camera,
            max_features: int = SfmConfig.max_features, min_registered: float = SfmConfig.min_registered,
            num_threads: int = SfmConfig.num_threads, seed: int = SfmConfig.seed, progress: bool = True,
            verbose: bool = False) -> Path:
    """Structure from motion on a folder of photos: write a COLMAP capture into ``out_dir``.

    Stages (pycolmap, CPU): SIFT features (photos downscaled to ``max_image_size`` for this
    only), matching (``matcher``) with geometric verification, incremental mapping (the
    model with the most registered photos is kept), undistortion to PINHOLE cameras. The
    layout written is the module docstring's; ``read_views(out_dir)`` reads it.

    Args:
        photos_dir: a folder of photos (:data:`PHOTO_SUFFIXES`; subfolders are ignored) of
            one static scene, taken from many positions with overlap.
        out_dir: the capture folder (created; ``images/``, ``sparse/0/``, ``sfm/``).
        overwrite: replace the ``images/``, ``sparse/`` and ``sfm/`` of an earlier
            :func:`run_sfm` there (after the new run succeeded).
        max_image_size, matcher, camera_model, single_camera, max_features, min_registered,
            num_threads, seed: :class:`~humanrecon.sfm_config.SfmConfig`.
        progress: a progress bar over the stages.
        verbose: print COLMAP's log as it runs (it is in ``sfm/colmap.log`` either way).
    Returns:
        ``out_dir`` as a ``Path``. ``sfm/report.json`` says how many photos registered
        (and which did not), the camera found, the number of points and each stage's time.
    Raises:
        MissingFileError: ``photos_dir`` does not exist.
        InputError: fewer than 3 photos, a photo that cannot be read (named), photos of
            different sizes with ``single_camera``, too few photos registered (how many of
            how many, and the likely causes), or a COLMAP stage failing.
        OutputExistsError: ``out_dir`` holds outputs and not ``overwrite`` (nothing is touched).
    """
    import pycolmap

    config = SfmConfig(max_image_size=max_image_size, max_features=max_features, matcher=matcher,
                       camera_model=camera_model, single_camera=single_camera, min_registered=min_registered,
                       num_threads=num_threads, seed=seed)
    photos_dir, out_dir = Path(photos_dir), Path(out_dir)
    photos = list_photos(photos_dir)
    width, height = _photo_sizes(photos, config.single_camera)
    targets = _check_outputs(out_dir, photos_dir, overwrite)
    names = [p.name for p in photos]
    created = not out_dir.exists()
    scratch = scratch_folder(out_dir, ".sfm-")
    database, log_file = scratch / "database.db", scratch / "colmap.log"
    seconds: dict[str, float] = {}
    bar = _progress(4, "sfm", progress)
    try:
        pycolmap.set_random_seed(config.seed)
        with _colmap_log(log_file, verbose):
            start = time.perf_counter()
            bar.set_description("sfm: features")
            _stage(photos_dir, "feature extraction", lambda: _extract(
                config, database, photos_dir, names, camera_model=config.camera_model,
                single_camera=config.single_camera))
            imported, keypoints, _ = _database_images(database)
            _check_imported(log_file, photos_dir, names, imported)
            featureless = sorted(image.name for image in imported.values()
                                 if keypoints[image.image_id] < _FEW_FEATURES)
            seconds["features"] = time.perf_counter() - start
            bar.set_postfix_str(f"{sum(keypoints.values()) // len(names)} keypoints per photo")
            bar.update()

            start = time.perf_counter()
            bar.set_description("sfm: matching")
            _stage(photos_dir, "matching", lambda: _match(config, database))
            _, _, pairs = _database_images(database)
            seconds["matching"] = time.perf_counter() - start
            bar.set_postfix_str(f"{pairs} verified pairs")
            bar.update()

            start = time.perf_counter()
            bar.set_description("sfm: mapping")
            registered = [0]

            def next_image() -> None:
                registered[0] += 1
                bar.set_postfix_str(f"{registered[0]}/{len(names)} photos")

            models_dir = scratch / "models"
            models_dir.mkdir()
            models = _stage(photos_dir, "mapping", lambda: pycolmap.incremental_mapping(
                database, photos_dir, models_dir, _pipeline_options(config), next_image_callback=next_image))
            seconds["mapping"] = time.perf_counter() - start
            best = max(models, key=lambda k: models[k].num_reg_images(), default=None)
            model = models[best] if best is not None else None
            done = [] if model is None else sorted(model.images[i].name for i in model.reg_image_ids())
            need = max(MIN_PHOTOS, math.ceil(config.min_registered * len(names)))
            if len(done) < need:
                raise InputError(_too_few_message(photos_dir, len(done), len(names), need, featureless, pairs, config))
            bar.set_postfix_str(f"{len(done)}/{len(names)} photos registered")
            bar.update()

            start = time.perf_counter()
            bar.set_description("sfm: undistortion")
            chosen = scratch / "sparse" / "0"
            chosen.mkdir(parents=True)
            model.write_binary(str(chosen))
            shutil.rmtree(models_dir, ignore_errors=True)
            undistorted = scratch / "undistorted"
            _stage(photos_dir, "undistortion", lambda: pycolmap.undistort_images(
                undistorted, chosen, photos_dir, output_type="COLMAP", num_threads=_threads(config)))
            seconds["undistortion"] = time.perf_counter() - start
            bar.update()
        camera = next(iter(model.cameras.values())) if config.single_camera else None
        report = {
            "photos": len(names), "registered": len(done), "unregistered": sorted(set(names) - set(done)),
            "points": model.num_points3D(), "photo_size": [width, height], "verified_pairs": pairs,
            "camera_model": config.camera_model, "single_camera": config.single_camera,
            "camera": None if camera is None else {"model": camera.model.name, "params": camera.params.tolist()},
            "matcher": config.matcher, "max_image_size": config.max_image_size, "max_features": config.max_features,
            "mean_reprojection_error": model.compute_mean_reprojection_error(),
            "seconds": {k: round(v, 2) for k, v in seconds.items()}, "pycolmap": pycolmap.__version__,
        }
        write_json(scratch / REPORT, report)
        _install(scratch, undistorted, out_dir, targets)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        if created:
            with contextlib.suppress(OSError):
                out_dir.rmdir()  # only when still empty
        raise
    finally:
        bar.close()
    _warn_sizes(out_dir, config)
    return out_dir


def _too_few_message(photos_dir: Path, registered: int, total: int, need: int, featureless: list[str], pairs: int,
                     config: SfmConfig) -> str:
    causes = ["too little texture (blank walls, sky, shiny, transparent or moving surfaces)",
              "too little overlap between neighbouring photos (take one every 10-20 degrees around the subject)",
              "blurred photos"]
    if config.matcher == "exhaustive":
        causes.append("for a video's frames try the sequential matcher (--matcher sequential)")
    else:
        causes.append("for photos not in walking order try the exhaustive matcher (--matcher exhaustive)")
    extra = ""
    if featureless:
        shown = ", ".join(featureless[:3]) + (f" and {len(featureless) - 3} more" if len(featureless) > 3 else "")
        extra = f"; {len(featureless)} photos have (almost) no features: {shown}"
    return (f"{photos_dir}: only {registered} of {total} photos registered in the structure-from-motion model (need at "
            f"least {need}; {pairs} photo pairs matched{extra}). Likely causes: " + "; ".join(causes))


def _install(scratch: Path, undistorted: Path, out_dir: Path, targets: list[Path]) -> None:
    """Move a finished run into ``out_dir``: the earlier outputs (checked to be an earlier
    run's) go only now, so a failure before leaves them whole."""
    images, sparse, sfm = targets
    for leftover in ("stereo", "run-colmap-geometric.sh", "run-colmap-photometric.sh"):
        path = undistorted / leftover
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    try:
        for target in targets:
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        os.replace(undistorted / "images", images)
        sparse.mkdir()
        os.replace(undistorted / "sparse", sparse / "0")
        shutil.rmtree(undistorted)
        os.replace(scratch, sfm)
    except OSError as exc:
        raise InputError(f"cannot write the capture into '{out_dir}': {exc.strerror or exc}") from exc


def _warn_sizes(out_dir: Path, config: SfmConfig) -> None:
    if config.single_camera:
        return
    from humanrecon.datasets.colmap import read_colmap

    sizes = {tuple(s) for s in read_colmap(out_dir / "sparse" / "0").sizes.tolist()}
    if len(sizes) > 1:
        warnings.warn(f"{out_dir}: with one camera per photo the undistorted photos have {len(sizes)} sizes; "
                      "read_views needs one size per split (use single_camera=True for photos of one camera)",
                      stacklevel=3)


# --------------------------------------------------------------------------- known poses -> points
def triangulate_known_poses(views: "ViewSplit", work_dir: str | os.PathLike, *, max_points: int = 100_000,
                            max_image_size: int = SfmConfig.max_image_size,
                            max_features: int = SfmConfig.max_features, matcher: str = SfmConfig.matcher,
                            num_threads: int = SfmConfig.num_threads, seed: int = SfmConfig.seed,
                            progress: bool = True, verbose: bool = False) -> tuple["torch.Tensor", "torch.Tensor"]:
    """Sparse points of a capture whose cameras are known (instant-ngp / nerfstudio, DTU /
    IDR, Blender, LLFF): COLMAP's SIFT features and matches on the images, triangulated with
    the cameras held fixed (``pycolmap.triangulate_points``: COLMAP's point_triangulator).

    Args:
        views: a :class:`~humanrecon.datasets.split.ViewSplit` of at least 2 views (pinhole
            OpenCV cameras, as every reader gives); images with transparency are composited
            over grey first.
        work_dir: a folder for the scratch files (created); the temporary folder made in it
            (images, feature database) is removed afterwards.
        max_points: at most this many points (a seeded random subset of more).
        max_image_size, max_features, matcher, num_threads, seed:
            :class:`~humanrecon.sfm_config.SfmConfig`.
        progress: a progress bar over the stages; verbose: print COLMAP's log.
    Returns:
        ``(points (P, 3), colors (P, 3))`` float32 tensors: world points in the views' frame
        and units, RGB in ``[0, 1]`` from the images; ``P`` may be 0 (nothing matched).
    Raises:
        InputError: fewer than 2 views, a camera with skew or a non-rotation ``R``, a
            COLMAP stage failing.
    """
    import pycolmap
    import torch

    from humanrecon.io.images import save_image

    config = SfmConfig(max_image_size=max_image_size, max_features=max_features, matcher=matcher,
                       num_threads=num_threads, seed=seed)
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 1:
        raise InputError(f"max_points must be an int >= 1, got {max_points!r}")
    where = Path(getattr(views, "root", "views"))
    n = len(views)
    if n < 2:
        raise InputError(f"{where}: {n} view; triangulation needs at least 2 views with known cameras")
    K = views.cameras.K.detach().cpu().double().numpy()
    R = _rotations(views.cameras.R.detach().cpu().double().numpy(), where)
    t = views.cameras.t.detach().cpu().double().numpy()
    if np.any(np.abs(K[:, 0, 1]) > 1e-6 * np.abs(K[:, 0, 0])):
        raise InputError(f"{where}: a camera has skew (K[0, 1] != 0); COLMAP's PINHOLE cameras cannot hold it")
    work = Path(work_dir)
    scratch = scratch_folder(work, ".triangulate-")
    image_dir, database = scratch / "images", scratch / "database.db"
    bar = _progress(3, "triangulate", progress)
    try:
        bar.set_description("triangulate: features")
        rgb = views.composite((0.5, 0.5, 0.5)) if bool((views.alpha < 1).any()) else views.images
        names = [f"view_{i:05d}.png" for i in range(n)]
        for name, image in zip(names, rgb):
            save_image(image_dir / name, image.detach().cpu().numpy())
        pycolmap.set_random_seed(config.seed)
        with _colmap_log(scratch / "colmap.log", verbose):
            fx, fy, cx, cy = K[0, 0, 0], K[0, 1, 1], K[0, 0, 2], K[0, 1, 2]
            _stage(where, "feature extraction", lambda: _extract(
                config, database, image_dir, names, camera_model="PINHOLE", single_camera=False,
                camera_params=",".join(repr(float(v)) for v in (fx, fy, cx, cy))))
            imported, _, _ = _database_images(database)
            _check_imported(scratch / "colmap.log", image_dir, names, imported)
            reconstruction = _known_reconstruction(database, names, imported, K, R, t)
            bar.update()
            bar.set_description("triangulate: matching")
            _stage(where, "matching", lambda: _match(config, database))
            bar.update()
            bar.set_description("triangulate: points")
            output = scratch / "model"
            output.mkdir()
            options = _pipeline_options(config)
            result = _stage(where, "triangulation", lambda: pycolmap.triangulate_points(
                reconstruction, database, image_dir, output, clear_points=True, options=options,
                refine_intrinsics=False))
            bar.update()
        points3d = list(result.points3D.values())
        xyz = np.array([p.xyz for p in points3d], dtype=np.float64).reshape(-1, 3)
        colors = np.array([p.color for p in points3d], dtype=np.float64).reshape(-1, 3) / 255.0
    finally:
        bar.close()
        shutil.rmtree(scratch, ignore_errors=True)
    keep = np.isfinite(xyz).all(axis=1)
    xyz, colors = xyz[keep], colors[keep]
    if len(xyz) > max_points:
        pick = np.sort(np.random.default_rng(seed).choice(len(xyz), max_points, replace=False))
        xyz, colors = xyz[pick], colors[pick]
    return torch.from_numpy(xyz.astype(np.float32)), torch.from_numpy(colors.astype(np.float32))


def _rotations(R: np.ndarray, where: Path) -> np.ndarray:
    """``R (N, 3, 3)`` projected onto the nearest rotations (float32 round-off); InputError
    when one is not close to a rotation."""
    u, _, vt = np.linalg.svd(R)
    nearest = u @ vt
    bad = (np.linalg.det(nearest) < 0) | (np.abs(nearest - R).max(axis=(1, 2)) > 1e-3)
    if bad.any():
        raise InputError(f"{where}: camera {int(np.argmax(bad))} has an R that is not a rotation (orthonormal, det +1)")
    return nearest


def _known_reconstruction(database: Path, names: Sequence[str], imported: dict, K, R, t):
    """A pycolmap reconstruction of the known cameras: the database's camera of each image
    set to the view's PINHOLE intrinsics (in the database too), its pose the view's."""
    import pycolmap

    db = pycolmap.Database.open(database)
    try:
        cameras = {camera.camera_id: camera for camera in db.read_all_cameras()}
        reconstruction = pycolmap.Reconstruction()
        for i, name in enumerate(names):
            image = imported[name]
            camera = cameras[image.camera_id]
            camera.params = np.array([K[i, 0, 0], K[i, 1, 1], K[i, 0, 2], K[i, 1, 2]], dtype=np.float64)
            db.update_camera(camera)
            reconstruction.add_camera_with_trivial_rig(camera)
            pose = pycolmap.Rigid3d(pycolmap.Rotation3d(np.ascontiguousarray(R[i])), np.ascontiguousarray(t[i]))
            reconstruction.add_image_with_trivial_frame(
                pycolmap.Image(name=name, camera_id=image.camera_id, image_id=image.image_id), pose)
    finally:
        db.close()
    return reconstruction


# --------------------------------------------------------------------------- the splat trainer's start
def _views_key(views: "ViewSplit", options: dict) -> str:
    """A digest of what the triangulation depends on: image names, size, cameras, options."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"version": _CACHE_VERSION, "names": [Path(n).name for n in views.names],
                              "size": [views.width, views.height], "options": options}, sort_keys=True).encode())
    for tensor in (views.cameras.K, views.cameras.R, views.cameras.t):
        digest.update(np.ascontiguousarray(tensor.detach().cpu().numpy(), dtype=np.float32).round(5).tobytes())
    digest.update(np.ascontiguousarray(views.images[:, ::17, ::17].detach().cpu().numpy(), dtype=np.float32)
                  .round(3).tobytes())
    return digest.hexdigest()


def _read_cache(path: Path, key: str):
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["key"]) != key:
                return None
            return data["points"].astype(np.float32), data["colors"].astype(np.float32), str(data["problem"])
    except (OSError, KeyError, ValueError):
        return None  # a damaged or foreign cache: computed again


def with_sfm_points(views: "ViewSplit", cache_dir: str | os.PathLike | None, *, max_points: int = 100_000,
                    min_points: int = 100, required: bool = False, progress: bool = True,
                    **options) -> "ViewSplit":
    """``views`` with sparse points: its own when it has them, else triangulated on its known
    cameras (:func:`triangulate_known_poses`), cached in ``cache_dir/sfm_points.npz``.

    The cache holds a digest of the views (image names and size, cameras, a sample of the
    pixels) and the options, and is computed again when they differ; ``cache_dir`` is a
    run's output folder, never the dataset's (datasets may be read-only). ``None``:
    nothing is cached.

    Args:
        max_points: passed to :func:`triangulate_known_poses`.
        min_points: fewer triangulated points count as none.
        required: raise instead of warning when the triangulation fails or finds fewer than
            ``min_points`` points.
        options: further keyword arguments of :func:`triangulate_known_poses`
            (``max_image_size``, ``max_features``, ``matcher``, ``num_threads``, ``seed``).
    Returns:
        a copy of ``views`` with ``points (P, 3)`` and ``point_colors (P, 3)`` float32 (world
        frame and units; colours in ``[0, 1]``), or ``views`` itself when it had points or
        none could be found (a warning says why).
    Raises:
        InputError: with ``required``, when no points could be found (says why).
    """
    import torch

    if views.points is not None and len(views.points) > 0:
        return views
    key = _views_key(views, {"max_points": max_points, **options})
    cache = None if cache_dir is None else Path(cache_dir) / POINTS_CACHE
    found = None if cache is None else _read_cache(cache, key)
    if found is None:
        problem = ""
        try:
            with contextlib.ExitStack() as stack:
                work = cache_dir if cache_dir is not None else stack.enter_context(tempfile.TemporaryDirectory())
                points, colors = triangulate_known_poses(views, work, max_points=max_points, progress=progress,
                                                         **options)
            points, colors = points.numpy(), colors.numpy()
        except InputError as exc:
            if required:
                raise
            problem = str(exc)
            points, colors = np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32)
        found = points, colors, problem
        if cache is not None:
            with atomic_write(cache) as handle:
                np.savez(handle, key=np.array(key), points=points, colors=colors, problem=np.array(problem))
    points, colors, problem = found
    if len(points) < min_points:
        why = problem or f"only {len(points)} points triangulated (fewer than {min_points})"
        message = f"{views.root}: no sparse points from the known cameras: {why}"
        if required:
            raise InputError(message)
        warnings.warn(message, stacklevel=2)
        return views
    return dataclasses.replace(views, points=torch.from_numpy(points), point_colors=torch.from_numpy(colors))
