"""Optional built-in 2D body keypoint detector: MediaPipe BlazePose mapped to OpenPose BODY_25.

Needs the ``detect`` extra (``mediapipe==0.10.14``), whose wheel ships the BlazePose
models used by the legacy ``mediapipe.solutions.pose`` API (``pose_detection.tflite`` and
``pose_landmark_full.tflite``, i.e. ``model_complexity=1``), so detection runs offline.
The lite (0) and heavy (2) models are not in the wheel: mediapipe would try to download
them, so they are not used.

Limits: BlazePose finds **one person per image** (the most prominent one); it reports no
small toes, so BODY_25's small-toe keypoints have confidence 0. Coordinates are pixels,
x right, y down, origin at the top-left corner of the top-left pixel (the convention of
:mod:`humanrecon.fitting.keypoint_io`); left/right are the person's own sides, as in
OpenPose.
"""

from __future__ import annotations

import numpy as np

from humanrecon.errors import InputError
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
    """``mediapipe`` or an ImportError that says how to install it."""
    try:
        import mediapipe
    except ImportError as exc:
        raise ImportError(MEDIAPIPE_MISSING) from exc
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
        ImportError: mediapipe is not installed (the message says how to install it).
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
