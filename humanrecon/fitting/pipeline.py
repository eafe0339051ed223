"""Fit bodies to photos, file to file: the work behind ``humanrecon fit``.

One image or a folder of images; keypoints from OpenPose/COCO JSON files (or the
optional detector, which finds every person); all people of all images fitted in one
batched run per image size of the fitter (SMPLify, or learned gradient descent:
:func:`humanrecon.fitting.lgd.make_fitter`); per image ``mesh.obj`` (``mesh_<k>.obj`` for several
people), ``params.json`` and ``overlay.png`` (the fit over the photo, with a side view of
the bodies at its right). A bad input file fails only its own image; failures are collected and
reported at the end. Existing outputs are never replaced unless ``overwrite``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from humanrecon.errors import HumanreconError, MissingFileError
from humanrecon.io.files import check_outputs, write_json
from humanrecon.body.keypoints import BODY25_NAMES
from humanrecon.fitting.keypoint_io import KeypointFileError, read_keypoints, to_layout, validate
from humanrecon.fitting.smplify import default_focal

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
OUTPUT_NAMES = ("params.json", "overlay.png")


@dataclass
class FitJob:
    """One image to fit: where its keypoints are (None: run the detector) and where its
    outputs go."""

    image: Path
    keypoints: Path | None
    out_dir: Path


@dataclass
class PreparedImage:
    """An image with validated BODY_25 detections ``points (P, 25, 2)``, ``confidence (P, 25)``
    and its focal length (pixels; ``focal_source`` says where it came from)."""

    job: FitJob
    image: np.ndarray
    points: np.ndarray
    confidence: np.ndarray
    people: list[int]
    focal: float
    focal_source: str

    @property
    def size(self) -> tuple[int, int]:
        return int(self.image.shape[1]), int(self.image.shape[0])


@dataclass
class FitReport:
    """What a run did: outputs written per image, and failures (image, message)."""

    written: dict[Path, list[Path]] = field(default_factory=dict)
    failures: list[tuple[Path, str]] = field(default_factory=list)


def keypoints_for(image: Path, folder: Path) -> Path | None:
    """The keypoint file of ``image`` in ``folder``: OpenPose's ``<stem>_keypoints.json``,
    else ``<stem>.json``."""
    for name in (f"{image.stem}_keypoints.json", f"{image.stem}.json"):
        if (folder / name).is_file():
            return folder / name
    return None


def find_jobs(image_arg: str | Path, keypoints_arg: str | Path | None, out_arg: str | Path) -> list[FitJob]:
    """Jobs for one image (``out_arg`` is its output folder) or a folder of images (one
    output sub-folder per image stem; ``keypoints_arg`` a folder, or one COCO file that
    covers all images)."""
    image_arg, out = Path(image_arg), Path(out_arg)
    kp = Path(keypoints_arg) if keypoints_arg else None
    if image_arg.is_file():
        return [FitJob(image_arg, kp, out)]
    if not image_arg.is_dir():
        raise MissingFileError(f"{image_arg}: no such image or folder")
    images = sorted(p for p in image_arg.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise MissingFileError(f"{image_arg}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    jobs = []
    for image in images:
        if kp is None:
            path = None
        elif kp.is_dir():
            path = keypoints_for(image, kp) or kp / f"{image.stem}_keypoints.json"
        else:
            path = kp
        jobs.append(FitJob(image, path, out / image.stem))
    return jobs


def focal_from_exif(path: Path, width: int, height: int) -> float | None:
    """Focal length in pixels from the photo's EXIF 35 mm-equivalent focal length
    (``f_px = f35 / 36 mm × long side``), or None if absent or unreadable."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with scikit-image
        return None
    try:
        with Image.open(path) as im:
            exif = im.getexif()
            f35 = exif.get_ifd(0x8769).get(41989) or exif.get(41989)
    except Exception:  # noqa: BLE001 - no EXIF is the normal case
        return None
    if not f35:
        return None
    return float(f35) / 36.0 * max(width, height)


def _check_outputs_free(out_dir: Path, overwrite: bool) -> None:
    """Every file a fit may write into ``out_dir`` (params.json, overlay.png, and any
    mesh*.obj already there) must be free unless ``overwrite``."""
    taken = [p for p in out_dir.glob("mesh*.obj")] if out_dir.is_dir() else []
    check_outputs([out_dir / name for name in OUTPUT_NAMES] + sorted(taken), overwrite)


def prepare(job: FitJob, *, focal: float | None = None, person: int | None = None, detect: bool = False,
            layout: str | None = None, overwrite: bool = False) -> PreparedImage:
    """Read and check one job's image and keypoints. Raises an error naming the file."""
    from humanrecon.render import load_image

    _check_outputs_free(job.out_dir, overwrite)
    image = load_image(job.image)
    height, width = image.shape[:2]
    if detect:
        from humanrecon.fitting.detect import detect_people

        keypoints = detect_people(image, source=str(job.image))
    else:
        if job.keypoints is None or not job.keypoints.is_file():
            raise KeypointFileError(f"{job.keypoints or job.image}: no keypoint file for image {job.image.name}")
        keypoints = read_keypoints(job.keypoints, image_name=job.image.name, layout=layout)
    validate(keypoints, width, height)
    points, conf = to_layout(keypoints, BODY25_NAMES)
    people = [i for i in range(len(points)) if (conf[i] > 0).sum() >= 4]
    if person is not None:
        if person not in range(len(points)):
            raise KeypointFileError(f"{keypoints.source}: no person {person} (the file has {len(points)})")
        people = [person] if person in people else []
    if not people:
        raise KeypointFileError(f"{keypoints.source}: no person with at least 4 keypoints")
    exif = focal_from_exif(job.image, width, height) if focal is None else None
    f, source = (focal, "--focal") if focal is not None else (exif, "EXIF") if exif else \
        (default_focal(width, height), "default (image diagonal)")
    return PreparedImage(job, image, points[people], conf[people], people, float(f), source)


def fit_prepared(images: list[PreparedImage], fitter, progress: bool = True) -> list:
    """Fit all people of all images, one batched run per image size. Returns, per image,
    ``(result, rows)``: the :class:`FitResult` of its batch and its people's rows in it."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i, prepared in enumerate(images):
        groups.setdefault(prepared.size, []).append(i)
    results: list = [None] * len(images)
    for size, members in groups.items():
        points = np.concatenate([images[i].points for i in members])
        conf = np.concatenate([images[i].confidence for i in members])
        intr = torch.cat([_intrinsics(images[i]).expand(len(images[i].people), 3, 3) for i in members])
        result = fitter.fit(torch.as_tensor(points), torch.as_tensor(conf), intr, size, progress=progress)
        start = 0
        for i in members:
            count = len(images[i].people)
            results[i] = (result, list(range(start, start + count)))
            start += count
    return results


def _intrinsics(prepared: PreparedImage) -> torch.Tensor:
    width, height = prepared.size
    f = prepared.focal
    return torch.tensor([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])


def write_outputs(prepared: PreparedImage, result, rows: list[int], faces: np.ndarray, model_name: str,
                  keep: list[int] | None = None, method: str = "smplify") -> list[Path]:
    """Write meshes, params.json and overlay.png of one image; returns the paths.
    ``rows``: the image's people in ``result``; ``keep``: positions among them to write."""
    keep = list(range(len(rows))) if keep is None else keep
    rows = [rows[k] for k in keep]
    people = [prepared.people[k] for k in keep]
    from humanrecon.fitting.overlay import fit_overlay
    from humanrecon.io.meshes import save_mesh
    from humanrecon.render import save_image

    out = prepared.job.out_dir
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for k, row in enumerate(rows):
        name = "mesh.obj" if len(rows) == 1 else f"mesh_{k}.obj"
        written.append(save_mesh(out / name, result.vertices[row], faces))
    params = {
        "image": str(prepared.job.image), "keypoints": str(prepared.job.keypoints or "detector"),
        "model": model_name, "method": method, "focal_px": prepared.focal, "focal_source": prepared.focal_source,
        "people": [dict(result.person(row), index_in_file=int(p)) for row, p in zip(rows, people)],
    }
    written.append(write_json(out / "params.json", params, indent=1))
    overlay = fit_overlay(prepared.image, result.vertices[rows], faces, result.camera[rows],
                          prepared.points[keep], prepared.confidence[keep], result.keypoints_2d[rows].numpy())
    written.append(save_image(out / "overlay.png", overlay))
    return written


def run(jobs: list[FitJob], fitter, *, faces: np.ndarray, model_name: str, focal: float | None = None,
        person: int | None = None, detect: bool = False, layout: str | None = None, overwrite: bool = False,
        progress: bool = True) -> FitReport:
    """Prepare, fit and write every job; input errors fail only their own image."""
    report = FitReport()
    prepared = []
    for job in jobs:
        try:
            prepared.append(prepare(job, focal=focal, person=person, detect=detect, layout=layout, overwrite=overwrite))
        except HumanreconError as exc:  # MissingDependencyError (no detector) included
            report.failures.append((job.image, str(exc)))
    if not prepared:
        return report
    for item, (result, rows) in zip(prepared, fit_prepared(prepared, fitter, progress)):
        keep = [k for k, r in enumerate(rows) if torch.isfinite(result.vertices[r]).all()]
        if len(keep) < len(rows):
            report.failures.append((item.job.image, f"the fit diverged for {len(rows) - len(keep)} person(s)"))
        if keep:
            report.written[item.job.image] = write_outputs(item, result, rows, fitter.model.faces, model_name, keep,
                                                           method=getattr(fitter, "method", "smplify"))
    return report
