"""2D keypoint detections: one container and readers for OpenPose and COCO JSON.

All keypoints are pixels in the image (x right, y down; OpenPose and COCO both put the
origin at the top-left corner of the top-left pixel) with a confidence in [0, 1]; a
confidence of 0 means "not detected" and such joints are ignored by the fitters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from humanrecon.body.keypoints import BODY25_NAMES, COCO17_NAMES
from humanrecon._validation import reader
from humanrecon.errors import KeypointFileError

#: OpenPose's COCO-18 body model (``--model_pose COCO``), by our keypoint names
COCO18_NAMES = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
    "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
    "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear",
)
LAYOUTS = {"body25": BODY25_NAMES, "coco17": COCO17_NAMES, "coco18": COCO18_NAMES}


@dataclass
class Keypoints2D:
    """Detected 2D keypoints of ``P`` people in one image.

    Attributes:
        points: ``(P, K, 2)`` float32 pixel coordinates (x, y).
        confidence: ``(P, K)`` float32 in [0, 1]; 0 = missing.
        names: the ``K`` keypoint names (see :data:`LAYOUTS`), e.g. ``BODY25_NAMES``.
        layout: ``"body25"``, ``"coco17"`` or ``"coco18"``.
        source: where they came from (file name, "detector", "array"), used in messages.
        image_size: ``(width, height)`` if known (COCO files store it), else None.
    """

    points: np.ndarray
    confidence: np.ndarray
    names: tuple[str, ...]
    layout: str
    source: str = "array"
    image_size: tuple[int, int] | None = None
    person_ids: list = field(default_factory=list)

    @property
    def num_people(self) -> int:
        return int(self.points.shape[0])


def _check_array(values: np.ndarray, count: int, what: str) -> np.ndarray:
    """``(..., count * 3)`` or ``(..., count, 3)`` numbers -> ``(..., count, 3)`` float32."""
    array = np.asarray(values, dtype=np.float64)
    if array.shape[-1] == count * 3:
        array = array.reshape(*array.shape[:-1], count, 3)
    if array.shape[-2:] != (count, 3):
        raise KeypointFileError(f"{what}: expected {count} keypoints x (x, y, confidence) = {count * 3} "
                                f"numbers, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise KeypointFileError(f"{what}: contains NaN or infinite values")
    return array.astype(np.float32)


def from_array(array, layout: str = "body25", source: str = "array",
               image_size: tuple[int, int] | None = None) -> Keypoints2D:
    """Keypoints from a numpy array ``(P, K, 3)`` or ``(K, 3)`` of (x, y, confidence)
    in pixels, in a layout of :data:`LAYOUTS`."""
    if layout not in LAYOUTS:
        raise KeypointFileError(f"{source}: unknown keypoint layout '{layout}' (expected {', '.join(LAYOUTS)})")
    names = LAYOUTS[layout]
    data = _check_array(array, len(names), source)
    if data.ndim == 2:
        data = data[None]
    conf = np.clip(data[..., 2], 0.0, 1.0)
    return Keypoints2D(data[..., :2].copy(), conf, names, layout, source, image_size)


def _layout_from_count(count: int, declared: str | None, source: str) -> str:
    """Pick the layout of an OpenPose array of ``count`` numbers (checking a declared one)."""
    by_count = {3 * len(names): name for name, names in LAYOUTS.items() if name != "coco17"}
    if declared is not None:
        if declared not in LAYOUTS:
            raise KeypointFileError(f"{source}: unknown keypoint layout '{declared}' (expected {', '.join(LAYOUTS)})")
        if count != 3 * len(LAYOUTS[declared]):
            raise KeypointFileError(f"{source}: wrong joint count for {declared}: expected "
                                    f"{len(LAYOUTS[declared])} keypoints ({3 * len(LAYOUTS[declared])} numbers), "
                                    f"got {count} numbers")
        return declared
    if count not in by_count:
        raise KeypointFileError(f"{source}: {count} numbers per person match no OpenPose body model "
                                "(BODY_25: 75, COCO-18: 54)")
    return by_count[count]


def _load_json(path) -> object:
    import json
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise KeypointFileError(f"{path}: keypoint file not found")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise KeypointFileError(f"{path}: not valid JSON ({exc})") from exc


@reader(KeypointFileError, "keypoint file")
def read_openpose_json(path, layout: str | None = None) -> Keypoints2D:
    """Read an OpenPose ``--write_json`` file (``{"people": [{"pose_keypoints_2d": [...]}]}``),
    BODY_25 (75 numbers per person) or COCO-18 (54), all people in the file."""
    source = str(path)
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("people"), list):
        raise KeypointFileError(f"{source}: not an OpenPose file (no 'people' list)")
    rows = []
    for i, person in enumerate(data["people"]):
        values = person.get("pose_keypoints_2d") if isinstance(person, dict) else None
        if not isinstance(values, list):
            raise KeypointFileError(f"{source}: person {i} has no 'pose_keypoints_2d' list")
        rows.append(values)
    if not rows:
        raise KeypointFileError(f"{source}: no person in the file")
    counts = {len(r) for r in rows}
    if len(counts) != 1:
        raise KeypointFileError(f"{source}: people have different keypoint counts {sorted(counts)}")
    layout = _layout_from_count(counts.pop(), layout, source)
    try:
        values = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise KeypointFileError(f"{source}: pose_keypoints_2d holds non-numeric values ({exc})") from exc
    kp = from_array(values, layout, source)
    kp.person_ids = [p.get("person_id", [-1]) for p in data["people"]]
    return kp


@reader(KeypointFileError, "keypoint file")
def read_coco_json(path, image_name: str | None = None) -> Keypoints2D:
    """Read COCO person keypoints (17 per person): an annotation file
    (``{"images", "annotations"}``; visibility 2 -> confidence 1, 1 -> 0.5, 0 -> 0) or a
    results list (``[{"image_id", "keypoints", "score"}]``; the third value is the
    confidence). With several images in the file, ``image_name`` picks one by file name."""
    from pathlib import Path

    source = str(path)
    data = _load_json(path)
    image_size = None
    if isinstance(data, dict) and "annotations" in data:
        images = data.get("images") or []
        chosen = _pick_coco_image(images, image_name, source)
        if chosen is not None:
            image_size = (int(chosen["width"]), int(chosen["height"])) if "width" in chosen else None
        anns = [a for a in data["annotations"] if isinstance(a, dict) and "keypoints" in a
                and (chosen is None or a.get("image_id") == chosen.get("id"))]
        visibility = True
    elif isinstance(data, list):
        anns = [a for a in data if isinstance(a, dict) and "keypoints" in a]
        ids = {a.get("image_id") for a in anns}
        if len(ids) > 1 and image_name is None:
            raise KeypointFileError(f"{source}: results for {len(ids)} images; say which (image_name)")
        if image_name is not None and len(ids) > 1:
            stem = Path(image_name).stem
            anns = [a for a in anns if str(a.get("image_id")) in (stem, image_name) or
                    str(a.get("image_id")).lstrip("0") == stem.lstrip("0")]
        visibility = False
    else:
        raise KeypointFileError(f"{source}: not a COCO keypoint file (no 'annotations' and not a results list)")
    if not anns:
        raise KeypointFileError(f"{source}: no person in the file" + (f" for image {image_name}" if image_name else ""))
    data = _check_array([a["keypoints"] for a in anns], len(COCO17_NAMES), source)
    if visibility:
        data[..., 2] = np.select([data[..., 2] >= 2, data[..., 2] >= 1], [1.0, 0.5], 0.0)
    return from_array(data, "coco17", source, image_size)


def _pick_coco_image(images: list, image_name: str | None, source: str) -> dict | None:
    from pathlib import Path

    if not images:
        return None
    if image_name is None:
        if len(images) > 1:
            raise KeypointFileError(f"{source}: annotations for {len(images)} images; say which (image_name)")
        return images[0]
    for image in images:
        if Path(str(image.get("file_name", ""))).name == Path(image_name).name:
            return image
    raise KeypointFileError(f"{source}: no image named {Path(image_name).name} in the file")


@reader(KeypointFileError, "keypoint file")
def read_keypoints(path, image_name: str | None = None, layout: str | None = None) -> Keypoints2D:
    """Read any supported keypoint file (OpenPose JSON, COCO annotations or results)."""
    data = _load_json(path)
    if isinstance(data, dict) and "people" in data:
        return read_openpose_json(path, layout)
    return read_coco_json(path, image_name)


def to_layout(keypoints: Keypoints2D, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Reorder into the keypoint ``names`` of a model keypoint map: ``(P, K', 2)`` points
    and ``(P, K')`` confidences, zero confidence where the detection lacks a name."""
    index = {n: i for i, n in enumerate(keypoints.names)}
    points = np.zeros((keypoints.num_people, len(names), 2), np.float32)
    conf = np.zeros((keypoints.num_people, len(names)), np.float32)
    for j, name in enumerate(names):
        if name in index:
            points[:, j] = keypoints.points[:, index[name]]
            conf[:, j] = keypoints.confidence[:, index[name]]
    return points, conf


def validate(keypoints: Keypoints2D, width: int, height: int, margin: float = 0.1) -> None:
    """Check detections against the image they belong to: some person, some confident
    keypoint per person, and confident keypoints inside the image (``margin`` of its size
    allowed outside). Raises :class:`KeypointFileError` naming the source."""
    src = keypoints.source
    if keypoints.num_people == 0:
        raise KeypointFileError(f"{src}: no person in the file")
    if keypoints.image_size is not None and tuple(keypoints.image_size) != (width, height):
        raise KeypointFileError(f"{src}: keypoints are for a {keypoints.image_size[0]}x{keypoints.image_size[1]} "
                                f"image, the image is {width}x{height}")
    empty = [i for i in range(keypoints.num_people) if not (keypoints.confidence[i] > 0).any()]
    if len(empty) == keypoints.num_people:
        raise KeypointFileError(f"{src}: all keypoint confidences are zero")
    seen = keypoints.confidence > 0
    x, y = keypoints.points[..., 0][seen], keypoints.points[..., 1][seen]
    lo_x, hi_x, lo_y, hi_y = -margin * width, (1 + margin) * width, -margin * height, (1 + margin) * height
    if x.min() < lo_x or x.max() > hi_x or y.min() < lo_y or y.max() > hi_y:
        raise KeypointFileError(
            f"{src}: keypoints do not match the image size {width}x{height}: they span "
            f"x {x.min():.0f}..{x.max():.0f}, y {y.min():.0f}..{y.max():.0f} px")
