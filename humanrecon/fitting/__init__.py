"""Fitting body models to images from 2D keypoints: SMPLify (optimisation) and LGD
(learned gradient descent, :mod:`.lgd`), keypoint file readers, the optional built-in
detector, and overlay pictures.

Example::

    from humanrecon.body import BodyModel
    from humanrecon.fitting import SMPLify, read_keypoints, to_layout
    from humanrecon.body.keypoints import BODY25_NAMES
    kp = read_keypoints("photo_keypoints.json")
    points, conf = to_layout(kp, BODY25_NAMES)
    fit = SMPLify(BodyModel.load("open")).fit(points, conf, K, (width, height))
    fast = LGDFitter(BodyModel.load("open")).fit(points, conf, K, (width, height))  # learned, ~10x faster
"""

from humanrecon.fitting.keypoint_io import (
    KeypointFileError,
    Keypoints2D,
    from_array,
    read_coco_json,
    read_keypoints,
    read_openpose_json,
    to_layout,
    validate,
)
from humanrecon.fitting.smplify import DEFAULT_STAGES, FitResult, SMPLify, Stage, default_focal
from humanrecon.fitting.lgd import METHODS, LGDFitter, make_fitter

__all__ = [
    "DEFAULT_STAGES", "FitResult", "KeypointFileError", "Keypoints2D", "LGDFitter", "METHODS", "SMPLify", "Stage",
    "default_focal", "make_fitter",
    "from_array", "read_coco_json", "read_keypoints", "read_openpose_json", "to_layout", "validate",
]
