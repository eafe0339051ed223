"""Settings of structure from motion (:mod:`humanrecon.datasets.sfm`): the one home of their
defaults, read by the library and by the ``humanrecon capture`` flags. Imports nothing
heavy (no torch, no pycolmap), so the command line builds its parser fast."""

from __future__ import annotations

from dataclasses import dataclass

from humanrecon.config_checks import check_count, check_number
from humanrecon.errors import InputError

#: how image pairs are chosen for matching: every pair, or each photo with its neighbours
#: by name (video frames, a walk around the object)
MATCHERS = ("exhaustive", "sequential")
#: COLMAP camera models the photos may be calibrated with; the capture written is always
#: undistorted to PINHOLE cameras
CAMERA_MODELS = ("SIMPLE_PINHOLE", "PINHOLE", "SIMPLE_RADIAL", "RADIAL", "OPENCV", "FULL_OPENCV", "OPENCV_FISHEYE")


@dataclass(frozen=True)
class SfmConfig:
    """How structure from motion runs (pycolmap: SIFT on the CPU, matching, incremental
    mapping).

    Attributes:
        max_image_size: photos are downscaled to this longest side (pixels) for feature
            extraction only; the keypoints, cameras and undistorted photos keep the photos'
            full resolution.
        max_features: SIFT keypoints kept per photo.
        matcher: one of :data:`MATCHERS`: ``"exhaustive"`` matches every pair (up to a few
            hundred photos), ``"sequential"`` each photo with its ``overlap`` neighbours by
            name (video frames; much faster for long sequences).
        overlap: neighbours per photo of the sequential matcher.
        camera_model: one of :data:`CAMERA_MODELS` (COLMAP's names); ``"OPENCV"`` (focal
            lengths, principal point, k1 k2 p1 p2) suits phone and action cameras.
        single_camera: one camera (intrinsics) shared by every photo (one phone, one zoom:
            the photos must have one size); False: one per photo.
        min_registered: the fraction of photos that must register for a usable capture
            (at least 3 photos in any case).
        num_threads: CPU threads of COLMAP's stages (-1: every core).
        seed: COLMAP's random seed (runs with several threads may still differ slightly).

    Raises:
        InputError: a value out of range, naming the field.
    """

    max_image_size: int = 1600
    max_features: int = 8192
    matcher: str = "exhaustive"
    overlap: int = 10
    camera_model: str = "OPENCV"
    single_camera: bool = True
    min_registered: float = 0.5
    num_threads: int = -1
    seed: int = 0

    def __post_init__(self) -> None:
        check_count(self, "max_image_size", minimum=32)
        check_count(self, "max_features", minimum=16)
        check_count(self, "overlap", minimum=1)
        check_count(self, "seed", minimum=0)
        if self.matcher not in MATCHERS:
            raise InputError(f"matcher must be one of {MATCHERS}, got {self.matcher!r}")
        if self.camera_model not in CAMERA_MODELS:
            raise InputError(f"camera_model must be one of {CAMERA_MODELS}, got {self.camera_model!r}")
        if not isinstance(self.single_camera, bool):
            raise InputError(f"single_camera must be True or False, got {self.single_camera!r}")
        check_number(self, "min_registered", 0.0, 1.0, low_open=False)
        threads = self.num_threads
        if isinstance(threads, bool) or not isinstance(threads, int) or not (threads == -1 or threads >= 1):
            raise InputError(f"num_threads must be -1 (every core) or an int >= 1, got {threads!r}")
