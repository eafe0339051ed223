"""Optional built-in 2D body keypoint detector: MediaPipe BlazePose mapped to OpenPose BODY_25,
for every person in a photo.

Needs the ``detect`` extra (``mediapipe==0.10.14``), whose wheel ships the BlazePose
models used by the legacy ``mediapipe.solutions.pose`` API (``pose_detection.tflite`` and
``pose_landmark_full.tflite``, i.e. ``model_complexity=1``), so detection runs offline.
The lite (0) and heavy (2) models are not in the wheel: mediapipe would try to download
them, so they are not used.

BlazePose's legacy solution finds **one person per image** (the most prominent one), so
:func:`detect_people` runs its two halves, the person detector and the landmark model, as
MediaPipe graphs of their own (the wheel's ``PoseDetectionCpu`` and ``PoseLandmarkByRoiCpu``
subgraphs, through mediapipe's ``SolutionBase``), as MediaPipe's multi-person pose task
does (that task's model bundle is not in the wheel):

1. **Person boxes** (:func:`person_boxes`). BlazePose's person detector
   (``pose_detection.tflite``; it reports every person it sees, with the hip centre and
   the body's size and tilt) on the whole image and on overlapping square windows of two
   smaller sizes, so that people small in a wide photo are found too
   (:func:`blazepose_person_boxes`), and a body box below every face that MediaPipe's
   full-range face detector finds (:func:`face_person_boxes`), for people seen from the
   waist up or cut by the frame, whom the body detector misses. It is the only person detector in the wheel (its other
   models find faces, hands, palms and irises, or segment selfies). OpenCV's HOG people
   detector (:func:`hog_person_boxes`, ``boxes="hog"``; ``"both"`` takes the boxes of the
   two) is the fallback without mediapipe; on composites of the sample photo it missed a
   person that half-hid another, and upright people only. OpenCV 5's
   ``opencv-python-headless`` has no HOG (it moved to ``opencv-contrib-python``, which
   mediapipe pulls); OpenCV 4 builds have it.
2. **Landmarks per box**: BlazePose's landmark model on each box enlarged by 25 % and made
   square (:func:`enlarge_boxes`, :func:`box_to_roi`), turned upright by the detection's
   rotation; MediaPipe crops that region (padding what lies outside the image) and returns
   landmarks in whole-image coordinates. The landmark model reads the person at the
   centre of its region, so a neighbour inside the region does not take over. BlazePose's
   legacy solution on the whole image is one more candidate, so a single large person is
   never lost.
3. **Clean-up**: keypoints outside the image get confidence 0; candidates without a result
   or with fewer than ``min_keypoints`` confident keypoints are dropped; the same person
   found twice is kept once (the more confident result, :func:`remove_duplicate_people`);
   people are sorted left to right (:func:`left_to_right`).

Limits: it reports no small toes, so BODY_25's small-toe keypoints have confidence 0;
people cut off by the image edge or seen from behind are often missed (the man on the
right of the sample photo is); two people overlapping so much that the boxes around their
keypoints have an IoU over 0.6 are taken for one. Coordinates are pixels, x right, y down,
origin at the top-left corner of the top-left pixel (the convention of
:mod:`humanrecon.fitting.keypoint_io`); left/right are the person's own sides, as in
OpenPose. Boxes are ``[x0, y0, x1, y1]`` in the same pixel coordinates.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from humanrecon.errors import InputError, MissingDependencyError
from humanrecon.body.keypoints import BODY25_NAMES
from humanrecon.fitting.keypoint_io import Keypoints2D

#: BlazePose's 33 landmark names, in its output order
BLAZEPOSE_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index",
)
#: BODY_25 keypoint -> BlazePose landmark(s); two landmarks mean their midpoint
_BODY25_FROM_BLAZEPOSE = {
    "nose": ("nose",),
    "neck": ("left_shoulder", "right_shoulder"),
    "mid_hip": ("left_hip", "right_hip"),
    "left_big_toe": ("left_foot_index",),
    "right_big_toe": ("right_foot_index",),
    **{f"{side}_{part}": (f"{side}_{part}",) for side in ("left", "right")
       for part in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle", "eye", "ear", "heel")},
}
MEDIAPIPE_MISSING = ("the built-in detector needs mediapipe: pip install 'humanrecon[detect]' "
                     "(mediapipe==0.10.14)")


def _landmark_array(landmarks) -> np.ndarray:
    """Validate ``landmarks`` as a ``(33, 4)`` float64 array ``[x_norm, y_norm, z, visibility]``."""
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (len(BLAZEPOSE_NAMES), 4):
        raise InputError(f"BlazePose landmarks must have shape ({len(BLAZEPOSE_NAMES)}, 4) "
                         f"[x_norm, y_norm, z, visibility], got {lm.shape}")
    return lm


def blazepose_to_body25(landmarks, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Map BlazePose's 33 landmarks onto OpenPose's BODY_25 keypoints.

    Args:
        landmarks: ``(33, 4)`` rows ``[x_norm, y_norm, z, visibility]`` in BlazePose order
            (:data:`BLAZEPOSE_NAMES`); x and y are fractions of the image width and height
            (they may fall outside [0, 1] for joints outside the picture), z is ignored.
        width, height: image size in pixels.

    Returns:
        ``points (25, 2)`` float32 pixels (x = x_norm * width, y = y_norm * height) and
        ``conf (25,)`` float32 in [0, 1] (visibility, clipped) in :data:`BODY25_NAMES`
        order. Neck and mid-hip are midpoints of the shoulders and hips with the smaller
        of the two confidences; small toes (not in BlazePose) are at (0, 0) with confidence 0.
    """
    lm = _landmark_array(landmarks)
    if width <= 0 or height <= 0:
        raise InputError(f"image size must be positive, got width={width}, height={height}")
    pixels = lm[:, :2] * np.array([width, height], dtype=np.float64)
    visibility = np.clip(np.nan_to_num(lm[:, 3], nan=0.0), 0.0, 1.0)
    index = {name: i for i, name in enumerate(BLAZEPOSE_NAMES)}
    points = np.zeros((len(BODY25_NAMES), 2), dtype=np.float64)
    conf = np.zeros(len(BODY25_NAMES), dtype=np.float64)
    for k, name in enumerate(BODY25_NAMES):
        sources = [index[s] for s in _BODY25_FROM_BLAZEPOSE.get(name, ())]
        if sources:
            points[k] = pixels[sources].mean(axis=0)
            conf[k] = visibility[sources].min()
    return points.astype(np.float32), conf.astype(np.float32)


def _import_mediapipe():
    """``mediapipe``, or a :class:`MissingDependencyError` (an ``ImportError``) that says how to install it."""
    try:
        import mediapipe
    except ImportError as exc:
        raise MissingDependencyError(MEDIAPIPE_MISSING) from exc
    return mediapipe


def _rgb_uint8(image) -> np.ndarray:
    """``(H, W, 3)`` RGB (float in [0, 1] or uint8; gray ``(H, W)`` too) -> C-contiguous uint8."""
    from humanrecon.io.images import to_uint8

    return np.ascontiguousarray(to_uint8(image))


def _run_blazepose(mp, rgb: np.ndarray) -> np.ndarray | None:
    """BlazePose (full model, static image mode) on uint8 RGB ``(H, W, 3)``; ``mp`` is mediapipe.

    Returns ``(33, 4)`` landmarks ``[x_norm, y_norm, z, visibility]`` or None if no person.
    """
    with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1,
                                enable_segmentation=False) as pose:
        result = pose.process(rgb)
    if result.pose_landmarks is None:
        return None
    return np.array([[p.x, p.y, p.z, p.visibility] for p in result.pose_landmarks.landmark],
                    dtype=np.float64)


def detect_keypoints(image, source: str = "detector") -> Keypoints2D:
    """Detect one person's BODY_25 keypoints in an image with MediaPipe BlazePose.

    Args:
        image: ``(H, W, 3)`` RGB, float32 in [0, 1] or uint8 (gray ``(H, W)`` is accepted).
        source: name used in messages and stored in the result (e.g. the image file name).

    Returns:
        :class:`Keypoints2D` with one person: ``points (1, 25, 2)`` pixels,
        ``confidence (1, 25)``, layout ``"body25"``, ``image_size (W, H)``.

    Raises:
        MissingDependencyError: mediapipe is not installed (an ``ImportError``; the message says
            how to install it).
        ValueError: no person was found in the image.
    """
    mp = _import_mediapipe()
    rgb = _rgb_uint8(image)
    landmarks = _run_blazepose(mp, rgb)
    if landmarks is None:
        raise InputError(f"{source}: the detector found no person in the image")
    height, width = rgb.shape[:2]
    points, conf = blazepose_to_body25(landmarks, width, height)
    return Keypoints2D(points=points[None], confidence=conf[None], names=BODY25_NAMES,
                       layout="body25", source=source, image_size=(width, height),
                       person_ids=[[-1]])  # OpenPose person_id per person, as read_openpose_json


# --------------------------------------------------------------------------- box geometry (pure)
def _boxes_array(boxes, name: str = "boxes") -> np.ndarray:
    """``(4,)`` or ``(N, 4)`` ``[x0, y0, x1, y1]`` -> ``(N, 4)`` float64."""
    b = np.asarray(boxes, dtype=np.float64)
    if b.ndim == 1:
        b = b[None]
    if b.ndim != 2 or b.shape[1] != 4:
        raise InputError(f"{name} must have shape (N, 4) [x0, y0, x1, y1], got {np.shape(boxes)}")
    return b


def enlarge_boxes(boxes, margin: float = 0.25, square: bool = True) -> np.ndarray:
    """Grow boxes about their centres.

    Args:
        boxes: ``(N, 4)`` (or one ``(4,)``) ``[x0, y0, x1, y1]`` pixels.
        margin: fraction added to each side length (0.25: 25 % larger).
        square: make both sides the longer one first (BlazePose's landmark model reads a
            square region, so the person stays whole whatever the box's shape).

    Returns:
        ``(N, 4)`` float64 boxes with the same centres; not clipped to any image.
    """
    if not margin >= 0:
        raise InputError(f"margin must be >= 0, got {margin}")
    b = _boxes_array(boxes)
    centre = (b[:, :2] + b[:, 2:]) / 2.0
    size = b[:, 2:] - b[:, :2]
    if square:
        size = np.repeat(size.max(axis=1, keepdims=True), 2, axis=1)
    half = size * (1.0 + margin) / 2.0
    return np.concatenate([centre - half, centre + half], axis=1)


def box_to_roi(boxes, width: int, height: int, rotations=None) -> np.ndarray:
    """Boxes as MediaPipe regions of interest (``NormalizedRect`` fields).

    Args:
        boxes: ``(N, 4)`` ``[x0, y0, x1, y1]`` pixels (already enlarged; may reach past the
            image edge: MediaPipe pads what lies outside the image).
        width, height: the image size in pixels.
        rotations: ``(N,)`` radians, clockwise in the image (MediaPipe's ``rotation``;
            default 0: upright).

    Returns:
        ``(N, 5)`` float64 rows ``[x_center, y_center, width, height, rotation]`` with the
        first four fractions of the image width or height.
    """
    b = _boxes_array(boxes)
    rot = np.zeros(len(b)) if rotations is None else np.asarray(rotations, np.float64).reshape(len(b))
    size = np.array([width, height], dtype=np.float64)
    centre = (b[:, :2] + b[:, 2:]) / 2.0 / size
    extent = (b[:, 2:] - b[:, :2]) / size
    return np.concatenate([centre, extent, rot[:, None]], axis=1)


def detection_box(hip, top) -> tuple[np.ndarray, float]:
    """Box and rotation of a BlazePose person detection from its first two keypoints.

    Args:
        hip: ``(2,)`` pixels, the hip centre; top: ``(2,)`` pixels, the point of the circle
            around the whole body straight "above" the hips (BlazePose keypoints 0 and 1).

    Returns:
        ``box (4,)``: the circle's bounding square ``[x0, y0, x1, y1]``; ``rotation``: the
        clockwise angle (radians, in [-pi, pi)) from image-up to the hip->top direction,
        as MediaPipe's ``AlignmentPointsRectsCalculator`` with a 90° target computes it.
    """
    hip, top = np.asarray(hip, np.float64).reshape(2), np.asarray(top, np.float64).reshape(2)
    radius = float(np.linalg.norm(top - hip))
    angle = np.pi / 2 - np.arctan2(-(top[1] - hip[1]), top[0] - hip[0])
    angle = float(angle - 2 * np.pi * np.floor((angle + np.pi) / (2 * np.pi)))
    return np.concatenate([hip - radius, hip + radius]), angle


def box_iou(a, b) -> np.ndarray:
    """Intersection over union of boxes ``a (N, 4)`` and ``b (M, 4)``: ``(N, M)`` in [0, 1]."""
    a, b = _boxes_array(a, "a"), _boxes_array(b, "b")
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(hi - lo, 0, None).prod(-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def non_max_suppression(boxes, scores, iou_threshold: float = 0.5) -> np.ndarray:
    """Greedy non-maximum suppression.

    Args:
        boxes: ``(N, 4)`` ``[x0, y0, x1, y1]``; scores: ``(N,)``, higher is better.
        iou_threshold: a box whose IoU with a kept, better box exceeds this is dropped.

    Returns:
        ``(K,)`` int64 indices of the kept boxes, best first.
    """
    b = _boxes_array(boxes) if len(np.asarray(boxes)) else np.zeros((0, 4))
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(s) != len(b):
        raise InputError(f"scores must have one value per box: {len(s)} scores, {len(b)} boxes")
    order = np.argsort(-s, kind="stable")
    keep: list[int] = []
    for i in order:
        if not keep or box_iou(b[i], b[keep]).max() <= iou_threshold:
            keep.append(int(i))
    return np.asarray(keep, dtype=np.int64)


def square_windows(width: int, height: int, min_side: int = 160, levels: int = 3) -> np.ndarray:
    """Overlapping square windows for a person detector that wants big people.

    Level 0 is the whole image; level ``k >= 1`` has squares of side
    ``min(width, height) / 2**(k - 1)`` overlapping by half, covering the image; levels
    whose side would be under ``min_side`` pixels are skipped. Returns ``(N, 4)`` int64
    ``[x0, y0, x1, y1)`` inside the image.
    """
    windows = [(0, 0, width, height)]
    short = min(width, height)
    for k in range(1, levels):
        side = int(round(short / 2 ** (k - 1)))
        if side < min_side or (k == 1 and side == max(width, height)):
            continue
        xs = _starts(width, side)
        ys = _starts(height, side)
        windows += [(x, y, min(x + side, width), min(y + side, height)) for y in ys for x in xs]
    return np.asarray(windows, dtype=np.int64)


def _starts(length: int, side: int) -> list[int]:
    """Window starts along one axis: stride ``side / 2``, the last one flush with the end."""
    if side >= length:
        return [0]
    count = int(np.ceil((length - side) / (side / 2.0))) + 1
    return sorted({int(round(v)) for v in np.linspace(0, length - side, count)})


# --------------------------------------------------------------------------- people (pure)
def person_scale(points, confidence) -> float:
    """Size of one person in pixels: the diagonal of the box of its keypoints with
    confidence > 0 (``points (K, 2)``, ``confidence (K,)``); 0 with fewer than two."""
    p = np.asarray(points, dtype=np.float64)[np.asarray(confidence) > 0]
    if len(p) < 2:
        return 0.0
    return float(np.linalg.norm(p.max(0) - p.min(0)))


def keypoint_box(points, confidence) -> np.ndarray:
    """``[x0, y0, x1, y1]`` around one person's keypoints ``(K, 2)`` with confidence > 0
    (``confidence (K,)``); all NaN with none."""
    p = np.asarray(points, dtype=np.float64)[np.asarray(confidence) > 0]
    if not len(p):
        return np.full(4, np.nan)
    return np.concatenate([p.min(0), p.max(0)])


#: BODY_25 indices of the head's points (nose, eyes, ears) and of the two ears
HEAD_POINTS = [BODY25_NAMES.index(n) for n in ("nose", "right_eye", "left_eye", "right_ear", "left_ear")]
EARS = (BODY25_NAMES.index("right_ear"), BODY25_NAMES.index("left_ear"))


def same_head(points_a, conf_a, points_b, conf_b, min_conf: float = 0.5, max_offset: float = 0.7) -> bool:
    """Whether two BODY_25 detections ``(25, 2)`` / ``(25,)`` read the same head.

    Two people's heads cannot overlap, so corresponding head points (nose, eyes, ears) of
    two different people lie at least about one head width apart. The heads are the same
    if at least 3 head points are seen by both with confidence >= ``min_conf`` and their
    median distance is under ``max_offset`` times the mean head width (ear to ear, in
    pixels). Catches a second reading of one person whose body the landmark model placed
    elsewhere (an arm or a torso taken from a neighbour), which the whole-body tests of
    :func:`same_person` miss.
    """
    pa, pb = np.asarray(points_a, np.float64), np.asarray(points_b, np.float64)
    ca, cb = np.asarray(conf_a, np.float64), np.asarray(conf_b, np.float64)
    if pa.shape[0] != len(BODY25_NAMES):
        return False
    both = (ca[HEAD_POINTS] >= min_conf) & (cb[HEAD_POINTS] >= min_conf)
    if both.sum() < 3:
        return False
    width = 0.5 * (np.linalg.norm(pa[EARS[0]] - pa[EARS[1]]) + np.linalg.norm(pb[EARS[0]] - pb[EARS[1]]))
    offset = np.median(np.linalg.norm(pa[HEAD_POINTS][both] - pb[HEAD_POINTS][both], axis=1))
    return bool(width > 0 and offset < max_offset * width)


def same_person(points_a, conf_a, points_b, conf_b, tolerance: float = 0.15, min_conf: float = 0.3,
                max_overlap: float = 0.6) -> bool:
    """Whether two detections ``(K, 2)`` / ``(K,)`` are the same person.

    They are if, over the keypoints both see with confidence >= ``min_conf`` (all both
    see, if fewer than 3), the median distance is under ``tolerance`` times the smaller
    :func:`person_scale`; or if the boxes around their keypoints overlap with an IoU over
    ``max_overlap`` (a distorted second reading of one person: two real people that
    overlap that much rarely give usable keypoints anyway); or, for BODY_25 detections, if
    they read the same head (:func:`same_head`).
    """
    pa, pb = np.asarray(points_a, np.float64), np.asarray(points_b, np.float64)
    ca, cb = np.asarray(conf_a, np.float64), np.asarray(conf_b, np.float64)
    if same_head(pa, ca, pb, cb):
        return True
    both = (ca >= min_conf) & (cb >= min_conf)
    if both.sum() < 3:
        both = (ca > 0) & (cb > 0)
    if both.sum() < 3:
        return False
    scale = min(person_scale(pa, ca), person_scale(pb, cb))
    distance = np.median(np.linalg.norm(pa[both] - pb[both], axis=1))
    if distance < tolerance * scale:
        return True
    return bool(box_iou(keypoint_box(pa, ca), keypoint_box(pb, cb))[0, 0] > max_overlap)


def near_person(points_a, conf_a, points_b, conf_b, max_overlap: float = 0.3, max_head_offset: float = 1.5) -> bool:
    """The looser test for a weak detection ``(K, 2)`` / ``(K,)`` against a kept one: the
    boxes around their keypoints overlap with an IoU over ``max_overlap``, or their heads
    lie within ``max_head_offset`` head widths (:func:`same_head`), or :func:`same_person`."""
    pa, pb = np.asarray(points_a, np.float64), np.asarray(points_b, np.float64)
    ca, cb = np.asarray(conf_a, np.float64), np.asarray(conf_b, np.float64)
    if same_head(pa, ca, pb, cb, max_offset=max_head_offset):
        return True
    if box_iou(keypoint_box(pa, ca), keypoint_box(pb, cb))[0, 0] > max_overlap:
        return True
    return same_person(pa, ca, pb, cb)


def remove_duplicate_people(points, confidence, tolerance: float = 0.15, weak=None) -> np.ndarray:
    """Keep each person once.

    Args:
        points: ``(P, K, 2)`` pixels; confidence: ``(P, K)``.
        tolerance: see :func:`same_person`.
        weak: ``(P,)`` bool, detections from weak boxes (:class:`PersonBoxes`): each is
            kept only if it is :func:`near_person` to none of the people kept before it
            (every other detection comes first); default none weak.

    Returns:
        ``(Q,)`` int64 indices of the people kept, most confident first (mean confidence
        over the ``K`` keypoints; of two detections of one person the more confident stays),
        then the weak ones kept.
    """
    pts = np.asarray(points, dtype=np.float64)
    conf = np.asarray(confidence, dtype=np.float64)
    if pts.ndim != 3 or pts.shape[-1] != 2 or conf.shape != pts.shape[:2]:
        raise InputError(f"points (P, K, 2) and confidence (P, K) expected, got {pts.shape} and {conf.shape}")
    weak = np.zeros(len(pts), bool) if weak is None else np.asarray(weak, bool).reshape(len(pts))
    order = np.argsort(-conf.mean(axis=1), kind="stable")
    keep: list[int] = []
    for i in order[~weak[order]]:
        if not any(same_person(pts[i], conf[i], pts[j], conf[j], tolerance) for j in keep):
            keep.append(int(i))
    for i in order[weak[order]]:
        if not any(near_person(pts[i], conf[i], pts[j], conf[j]) for j in keep):
            keep.append(int(i))
    return np.asarray(keep, dtype=np.int64)


def left_to_right(points, confidence) -> np.ndarray:
    """Order ``(P,)`` of people ``points (P, K, 2)``, ``confidence (P, K)`` by the median x
    of their keypoints with confidence > 0 (people without any go last)."""
    pts = np.asarray(points, dtype=np.float64)
    conf = np.asarray(confidence)
    xs = [np.median(p[c > 0, 0]) if (c > 0).any() else np.inf for p, c in zip(pts, conf)]
    return np.argsort(np.asarray(xs), kind="stable")


# --------------------------------------------------------------------------- person boxes
HOG_MISSING = ("this OpenCV build has no HOG people detector (OpenCV 5 moved it to opencv-contrib-python): "
               "pip install opencv-contrib-python, or 'opencv-python-headless<5'")


def hog_available() -> bool:
    """Whether cv2 has ``HOGDescriptor`` (OpenCV 4 builds, and OpenCV 5's contrib build)."""
    import cv2

    return hasattr(cv2, "HOGDescriptor")


def hog_person_boxes(image, *, max_side: int = 1280, score_threshold: float = 1.0,
                     iou_threshold: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """People boxes from OpenCV's HOG + linear SVM people detector (Dalal & Triggs).

    An image whose long side exceeds ``max_side`` pixels is shrunk to it (speed; HOG's
    window is 64 x 128, so people down to ~130 px at that size are found), padded by 32 px of
    replicated border (people cut by the image edge), scanned at scales 1.05 apart with a
    4-px stride, and the raw windows with an SVM score >= ``score_threshold`` are merged by
    :func:`non_max_suppression`.

    Args:
        image: ``(H, W, 3)`` RGB, float in [0, 1] or uint8.

    Returns:
        ``boxes (N, 4)`` ``[x0, y0, x1, y1]`` full-image pixels (they may reach past the
        image edge) and ``scores (N,)``, best first. HOG windows hold a margin around the
        person (about 1/4 of the width on each side, 1/8 of the height).

    Raises:
        MissingDependencyError: cv2 has no ``HOGDescriptor`` (an ``ImportError``; :data:`HOG_MISSING`).
    """
    import cv2

    if not hog_available():
        raise MissingDependencyError(HOG_MISSING)
    gray = cv2.cvtColor(_rgb_uint8(image), cv2.COLOR_RGB2GRAY)
    scale = min(1.0, max_side / max(gray.shape))
    if scale < 1.0:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    pad = 32
    gray = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    rects, weights = hog.detectMultiScale(gray, winStride=(4, 4), padding=(8, 8), scale=1.05,
                                          hitThreshold=0.0, groupThreshold=0)
    rects = np.asarray(rects, dtype=np.float64).reshape(-1, 4)
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    ok = weights >= score_threshold
    rects, weights = rects[ok], weights[ok]
    boxes = np.concatenate([rects[:, :2] - pad, rects[:, :2] + rects[:, 2:] - pad], axis=1) / scale
    keep = non_max_suppression(boxes, weights, iou_threshold) if len(boxes) else np.zeros(0, np.int64)
    return boxes[keep], weights[keep]


class PersonBoxes(NamedTuple):
    """People found by a box detector: ``boxes (N, 4)`` ``[x0, y0, x1, y1]`` pixels,
    ``scores (N,)`` (higher is better), ``rotations (N,)`` each person's tilt, radians
    clockwise from upright (MediaPipe's ``rotation``; 0 for HOG), the ``method`` used, and
    ``weak (N,)`` bool: boxes under the detector's confident score, whose people are kept
    only where they are clearly nobody else (:func:`detect_people`; None: none is weak)."""

    boxes: np.ndarray
    scores: np.ndarray
    rotations: np.ndarray
    method: str
    weak: np.ndarray | None = None

    def weak_mask(self) -> np.ndarray:
        """``(N,)`` bool, all False where ``weak`` is None."""
        return np.zeros(len(self.boxes), bool) if self.weak is None else np.asarray(self.weak, bool)


_POSE_DETECTION_GRAPH = """
input_stream: "image"
output_stream: "detections"
node {
  calculator: "PoseDetectionCpu"
  input_stream: "IMAGE:image"
  output_stream: "DETECTIONS:detections"
}
"""
_POSE_LANDMARK_BY_ROI_GRAPH = """
input_stream: "image"
input_stream: "roi"
output_stream: "landmarks"
node {
  calculator: "PoseLandmarkByRoiCpu"
  input_side_packet: "MODEL_COMPLEXITY:model_complexity"
  input_side_packet: "ENABLE_SEGMENTATION:enable_segmentation"
  input_stream: "IMAGE:image"
  input_stream: "ROI:roi"
  output_stream: "LANDMARKS:landmarks"
}
"""


def _graph(config: str, **side_inputs):
    """A MediaPipe graph from the wheel's registered subgraphs (BlazePose's detector,
    ``PoseDetectionCpu``, and landmark model, ``PoseLandmarkByRoiCpu``: the two halves of
    ``mp.solutions.pose``), run through mediapipe's ``SolutionBase``."""
    import importlib

    from mediapipe.python.solution_base import SolutionBase

    importlib.import_module("mediapipe.python.solutions.pose")  # registers the graphs' option protos

    return SolutionBase(graph_config=config, side_inputs=side_inputs or None)


def blazepose_person_boxes(image, *, windows: np.ndarray | None = None, iou_threshold: float = 0.7,
                           min_score: float = 0.7, weak_score: float = 0.5,
                           weak_max_tilt: float = 45.0) -> PersonBoxes:
    """People boxes from BlazePose's person detector, run on :func:`square_windows`.

    The detector sees its input at 224 x 224, so people small in a wide image are found in
    the smaller windows. Each detection carries the hip centre and a point on the circle
    around the whole body; its box is that circle's bounding square, turned upright by its
    rotation (:func:`detection_box`; BlazePose's own region of interest before its 25 %
    enlargement). Boxes from all windows are merged by :func:`non_max_suppression` at
    ``iou_threshold`` (high: two people side by side have heavily overlapping squares; a
    person found twice is removed later by comparing keypoints).

    Args:
        image: ``(H, W, 3)`` RGB, float in [0, 1] or uint8.
        windows: ``(N, 4)`` ``[x0, y0, x1, y1)`` windows (default :func:`square_windows`).
        min_score: detections from this score up are people (people seen whole score
            0.8-0.95; below 0.7 the detector mostly fires on parts of a person, with odd
            rotations, or on background).
        weak_score, weak_max_tilt: detections from ``weak_score`` to ``min_score`` are kept
            as **weak** boxes (``PersonBoxes.weak``) if they stand within ``weak_max_tilt``
            degrees of upright with the hip centre inside the image: people turned away or
            cut by the frame score 0.5-0.55 (:func:`detect_people` keeps a weak box's
            person only where it is clearly nobody else).

    Raises:
        MissingDependencyError: mediapipe is not installed (an ``ImportError``).
    """
    _import_mediapipe()
    rgb = _rgb_uint8(image)
    height, width = rgb.shape[:2]
    windows = square_windows(width, height) if windows is None else np.asarray(windows, dtype=np.int64)
    boxes, scores, rotations = [], [], []
    with _graph(_POSE_DETECTION_GRAPH) as detector:
        for x0, y0, x1, y1 in windows:
            result = detector.process({"image": np.ascontiguousarray(rgb[y0:y1, x0:x1])})
            for det in result.detections or []:
                score = float(det.score[0]) if len(det.score) else 0.0
                kps = det.location_data.relative_keypoints
                if score < min(min_score, weak_score) or len(kps) < 2:
                    continue
                size = np.array([x1 - x0, y1 - y0], dtype=np.float64)
                hip = np.array([x0, y0]) + np.array([kps[0].x, kps[0].y]) * size
                top = np.array([x0, y0]) + np.array([kps[1].x, kps[1].y]) * size
                box, rotation = detection_box(hip, top)
                if score < min_score and not (abs(np.degrees(rotation)) <= weak_max_tilt
                                              and 0 <= hip[0] < width and 0 <= hip[1] < height):
                    continue
                if box[2] > box[0]:
                    boxes.append(box)
                    scores.append(score)
                    rotations.append(rotation)
    if not boxes:
        return PersonBoxes(np.zeros((0, 4)), np.zeros(0), np.zeros(0), "blazepose", np.zeros(0, bool))
    keep = non_max_suppression(boxes, scores, iou_threshold)
    scores = np.asarray(scores)[keep]
    return PersonBoxes(np.asarray(boxes)[keep], scores, np.asarray(rotations)[keep], "blazepose", scores < min_score)


#: a body's box from its face box (both square, sides in face-box heights): BlazePose's
#: person detector wants the whole body and misses people seen from the waist up or cut by
#: the frame; a person whose head and torso are visible shows a face. An adult is about
#: 7.5 heads tall and the hips lie about 3.5 heads below the face's centre, so the box is
#: centred there and 8.5 faces wide (the landmark model pads what falls outside the image)
FACE_TO_BODY_SIDE = 8.5
FACE_TO_HIP_DROP = 3.5


def face_box_to_body_box(face) -> np.ndarray:
    """Body boxes ``(N, 4)`` ``[x0, y0, x1, y1]`` pixels from upright face boxes ``face (N, 4)``
    (same layout), by :data:`FACE_TO_BODY_SIDE` and :data:`FACE_TO_HIP_DROP`."""
    face = _boxes_array(face, "face")
    size = np.maximum(face[:, 2] - face[:, 0], face[:, 3] - face[:, 1])
    cx = 0.5 * (face[:, 0] + face[:, 2])
    cy = 0.5 * (face[:, 1] + face[:, 3]) + FACE_TO_HIP_DROP * size
    half = 0.5 * FACE_TO_BODY_SIDE * size
    return np.stack([cx - half, cy - half, cx + half, cy + half], 1)


def face_person_boxes(image, min_score: float = 0.6) -> PersonBoxes:
    """People boxes from MediaPipe's full-range face detector (``model_selection=1``, in the
    ``detect`` extra's wheel): each face's box becomes a body box
    (:func:`face_box_to_body_box`), upright (rotation 0). Finds people the body detector
    misses: seen from the waist up, or cut by the frame; not people turned away.

    Raises:
        MissingDependencyError: mediapipe is not installed (an ``ImportError``).
    """
    mp = _import_mediapipe()
    rgb = _rgb_uint8(image)
    height, width = rgb.shape[:2]
    with mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=min_score) as faces:
        result = faces.process(rgb)
    boxes, scores = [], []
    for det in result.detections or []:
        box = det.location_data.relative_bounding_box
        if box.width <= 0 or box.height <= 0:
            continue
        boxes.append([box.xmin * width, box.ymin * height, (box.xmin + box.width) * width,
                      (box.ymin + box.height) * height])
        scores.append(float(det.score[0]) if len(det.score) else 0.0)
    if not boxes:
        return PersonBoxes(np.zeros((0, 4)), np.zeros(0), np.zeros(0), "face")
    return PersonBoxes(face_box_to_body_box(np.asarray(boxes)), np.asarray(scores), np.zeros(len(boxes)), "face")


def person_boxes(image, method: str = "auto") -> PersonBoxes:
    """People boxes by ``method``: ``"blazepose"`` (:func:`blazepose_person_boxes` and
    :func:`face_person_boxes`, needs mediapipe), ``"hog"`` (:func:`hog_person_boxes`, needs a cv2 with HOG), ``"both"``
    (all boxes of the two) or ``"auto"``: BlazePose's detector where mediapipe is
    installed, else HOG."""
    if method not in ("auto", "blazepose", "hog", "both"):
        raise InputError(f"person box method must be 'auto', 'blazepose', 'hog' or 'both', got '{method}'")
    if method == "auto":
        method = "blazepose" if _has_mediapipe() else "hog"
    parts = []
    if method in ("blazepose", "both"):
        parts.append(blazepose_person_boxes(image))
        parts.append(face_person_boxes(image))
    if method in ("hog", "both"):
        boxes, scores = hog_person_boxes(image)
        parts.append(PersonBoxes(boxes, scores, np.zeros(len(boxes)), "hog"))
    if len(parts) == 1:
        return parts[0]
    return PersonBoxes(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("boxes", "scores", "rotations")),
                       method, np.concatenate([p.weak_mask() for p in parts]))


def _has_mediapipe() -> bool:
    try:
        _import_mediapipe()
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------- everyone
def detect_people(image, source: str = "detector", *, boxes: str = "auto", margin: float = 0.25,
                  min_keypoints: int = 6, min_confidence: float = 0.5) -> Keypoints2D:
    """Detect every person's BODY_25 keypoints in an image (see the module docstring).

    Args:
        image: ``(H, W, 3)`` RGB, float32 in [0, 1] or uint8 (gray ``(H, W)`` is accepted).
        source: name used in messages and stored in the result (e.g. the image file name).
        boxes: how people are found before BlazePose's landmark model runs on each:
            ``"auto"``, ``"blazepose"`` or ``"hog"`` (see :func:`person_boxes`).
        margin: the landmark model sees each box enlarged by this fraction, made square.
        min_keypoints: a result with fewer BODY_25 keypoints of confidence >= 0.5 (inside
            the image) is not a person.
        min_confidence: keypoints under this confidence get 0 (BlazePose's visibility
            under 0.5: the point is probably hidden or outside the photo, and the landmark
            model's guess, e.g. legs at the bottom edge for a person seen from the waist
            up, pulls a fit towards a pose that is not there).

    Returns:
        :class:`Keypoints2D` with ``P >= 1`` people sorted left to right: ``points (P, 25, 2)``
        pixels, ``confidence (P, 25)`` (0 for keypoints outside the image, under
        ``min_confidence``, and for the small toes), layout ``"body25"``, ``image_size (W, H)``.

    Raises:
        MissingDependencyError: mediapipe is not installed (an ``ImportError``; the message says
            how to install it).
        InputError: no person was found in the image (a ``ValueError``).
    """
    mp = _import_mediapipe()
    from mediapipe.framework.formats import rect_pb2

    rgb = _rgb_uint8(image)
    height, width = rgb.shape[:2]
    found = person_boxes(rgb, boxes)
    candidates = [_run_blazepose(mp, rgb)]  # the whole image: BlazePose's most prominent person
    weak = [False] + list(found.weak_mask())
    if len(found.boxes):
        rois = box_to_roi(enlarge_boxes(found.boxes, margin), width, height, found.rotations)
        with _graph(_POSE_LANDMARK_BY_ROI_GRAPH, model_complexity=1, enable_segmentation=False) as landmarker:
            for x, y, w, h, rotation in rois:
                roi = rect_pb2.NormalizedRect(x_center=x, y_center=y, width=w, height=h, rotation=rotation)
                result = landmarker.process({"image": rgb, "roi": roi})
                candidates.append(None if result.landmarks is None else np.array(
                    [[p.x, p.y, p.z, p.visibility] for p in result.landmarks.landmark][:len(BLAZEPOSE_NAMES)]))
    points, confidence, is_weak = [], [], []
    for landmarks, w in zip(candidates, weak):
        if landmarks is None:
            continue
        p, c = blazepose_to_body25(landmarks, width, height)
        inside = (p[:, 0] >= 0) & (p[:, 0] <= width) & (p[:, 1] >= 0) & (p[:, 1] <= height)
        c = np.where(inside & (c >= min_confidence), c, 0.0).astype(np.float32)
        if (c >= 0.5).sum() >= min_keypoints:
            points.append(p)
            confidence.append(c)
            is_weak.append(w)
    if not points:
        raise InputError(f"{source}: the detector found no person in the image")
    points, confidence, is_weak = np.stack(points), np.stack(confidence), np.asarray(is_weak, bool)
    keep = remove_duplicate_people(points, confidence, weak=is_weak)
    points, confidence = points[keep], confidence[keep]
    order = left_to_right(points, confidence)
    points, confidence = points[order], confidence[order]
    return Keypoints2D(points=points, confidence=confidence, names=BODY25_NAMES, layout="body25",
                       source=source, image_size=(width, height), person_ids=[[-1] for _ in range(len(points))])
