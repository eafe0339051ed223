"""Lens distortion removed once, at the ``datasets/`` boundary, so every trainer sees pinhole
:class:`~humanrecon.geometry.camera.Camera`\\ s.

Models (the names COLMAP, nerfstudio and instant-ngp use):

* ``PINHOLE``: no distortion (nothing is resampled).
* ``OPENCV``: radial-tangential ``k1, k2, p1, p2`` (plus ``k3`` as ``FULL_OPENCV``'s first
  extra radial term; COLMAP's ``SIMPLE_RADIAL``/``RADIAL`` map to ``k1`` / ``k1, k2``).
* ``OPENCV_FISHEYE``: the equidistant fisheye ``k1, k2, k3, k4`` (OpenCV's ``cv2.fisheye``).

Frames: intrinsics follow :class:`Camera`'s convention (the centre of the top-left pixel at
``(0.5, 0.5)``, as COLMAP and nerfstudio); OpenCV puts it at ``(0, 0)``, so ``0.5`` is taken
off the principal point only inside the calls to OpenCV. The undistorted image keeps the
distorted one's size; its pinhole ``K`` is OpenCV's optimal new camera matrix with no invalid
pixels (``alpha = 0``: a slight zoom, no black border), and any pixel that still maps outside
the photo gets opacity 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from humanrecon.errors import InputError

#: model name -> names of its distortion coefficients, in order
MODELS = {
    "PINHOLE": (),
    "OPENCV": ("k1", "k2", "p1", "p2", "k3"),
    "OPENCV_FISHEYE": ("k1", "k2", "k3", "k4"),
}


def _opencv(K: np.ndarray) -> np.ndarray:
    """Our pixel-area convention -> OpenCV's pixel-centre one (principal point - 0.5)."""
    K = np.array(K, dtype=np.float64)
    K[0, 2] -= 0.5
    K[1, 2] -= 0.5
    return K


def _ours(K: np.ndarray) -> np.ndarray:
    K = np.array(K, dtype=np.float64)
    K[0, 2] += 0.5
    K[1, 2] += 0.5
    return K


@dataclass
class Undistorter:
    """Resamples one camera's photos to a pinhole camera of the same size.

    Attributes:
        K: ``(3, 3)`` float64 pinhole intrinsics of the undistorted images (pixels, pixel-area
            convention).
        map_x, map_y: ``(H, W)`` float32 source pixel of every output pixel (OpenCV's
            convention), for ``cv2.remap``; None for a pinhole camera (identity).
        valid: ``(H, W)`` bool: output pixels whose source lies inside the photo.
    """

    K: np.ndarray
    map_x: np.ndarray | None
    map_y: np.ndarray | None
    valid: np.ndarray | None

    @property
    def is_identity(self) -> bool:
        return self.map_x is None

    def image(self, rgba: np.ndarray) -> np.ndarray:
        """``(H, W, C)`` float32 photo -> the undistorted ``(H, W, C)`` (bilinear; when
        ``C == 4`` the opacity of pixels from outside the photo is 0)."""
        if self.is_identity:
            return rgba
        import cv2

        out = cv2.remap(np.ascontiguousarray(rgba, dtype=np.float32), self.map_x, self.map_y, cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE)
        if out.ndim == 3 and out.shape[-1] == 4:
            out[..., 3] *= self.valid
        return out

    def mask(self, mask: np.ndarray) -> np.ndarray:
        """``(H, W)`` float32 object mask -> undistorted (bilinear, 0 outside the photo)."""
        if self.is_identity:
            return mask
        import cv2

        out = cv2.remap(np.ascontiguousarray(mask, dtype=np.float32), self.map_x, self.map_y, cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
        return out * self.valid


def coefficients(model: str, values: dict[str, float], where: str) -> np.ndarray:
    """The model's coefficient vector from named values (missing ones are 0).

    Raises:
        InputError: an unknown model, or a non-finite coefficient (``where`` names the file).
    """
    if model not in MODELS:
        raise InputError(f"{where}: camera model '{model}' is not supported (supported: {', '.join(MODELS)})")
    coeffs = np.array([float(values.get(name, 0.0)) for name in MODELS[model]], dtype=np.float64)
    if not np.isfinite(coeffs).all():
        raise InputError(f"{where}: distortion coefficients of the {model} camera are not finite: {coeffs.tolist()}")
    return coeffs


def undistorter(K: np.ndarray, model: str, coeffs, width: int, height: int) -> Undistorter:
    """Build the resampling from a distorted camera to a pinhole one of the same size.

    Args:
        K: ``(3, 3)`` intrinsics of the distorted camera (pixels, pixel-area convention).
        model: ``"PINHOLE"``, ``"OPENCV"`` or ``"OPENCV_FISHEYE"``.
        coeffs: the model's coefficients in :data:`MODELS` order (``OPENCV``: 4 or 5 values).
        width, height: the photo's size in pixels.
    """
    import cv2

    coeffs = np.asarray(coeffs, dtype=np.float64).reshape(-1)
    if model not in MODELS:
        raise InputError(f"camera model '{model}' is not supported (supported: {', '.join(MODELS)})")
    if model == "PINHOLE" or not np.any(coeffs):
        return Undistorter(np.array(K, dtype=np.float64), None, None, None)
    size = (int(width), int(height))
    K_cv = _opencv(K)
    if model == "OPENCV_FISHEYE":
        D = np.zeros(4)
        D[: len(coeffs)] = coeffs[:4]
        new_K = cv2.fisheye.estimateNewCameraMatrixForUndistortRectify(K_cv, D, size, np.eye(3), balance=0.0)
        map_x, map_y = cv2.fisheye.initUndistortRectifyMap(K_cv, D, np.eye(3), new_K, size, cv2.CV_32FC1)
    else:
        D = np.zeros(5)
        D[: min(len(coeffs), 5)] = coeffs[:5]
        new_K, _ = cv2.getOptimalNewCameraMatrix(K_cv, D, size, 0.0, size, centerPrincipalPoint=False)
        map_x, map_y = cv2.initUndistortRectifyMap(K_cv, D, np.eye(3), new_K, size, cv2.CV_32FC1)
    new_K = np.array(new_K, dtype=np.float64)
    new_K[0, 1] = 0.0
    valid = (map_x >= -0.5) & (map_x <= width - 0.5) & (map_y >= -0.5) & (map_y <= height - 0.5)
    return Undistorter(_ours(new_K), map_x, map_y, valid.astype(np.float32))
