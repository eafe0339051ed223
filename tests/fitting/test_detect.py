"""Built-in 2D detector: BlazePose -> BODY_25 mapping (pure), the missing-mediapipe error,
and (only where mediapipe is installed) a real detection on the shipped sample photo."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from humanrecon._assets import asset_path
from humanrecon.body.keypoints import BODY25_NAMES
from humanrecon.fitting.detect import (BLAZEPOSE_NAMES, MEDIAPIPE_MISSING, blazepose_to_body25,
                                       detect_keypoints)

WIDTH, HEIGHT = 640, 480
SAMPLE = "samples/basketball1.png"
SAMPLE_KEYPOINTS = "samples/basketball1_keypoints.json"


def _landmarks(seed: int = 0) -> np.ndarray:
    """Random but distinct ``(33, 4)`` BlazePose landmarks ``[x_norm, y_norm, z, visibility]``."""
    rng = np.random.default_rng(seed)
    lm = np.empty((len(BLAZEPOSE_NAMES), 4))
    lm[:, :2] = rng.uniform(0.05, 0.95, (len(BLAZEPOSE_NAMES), 2))
    lm[:, 2] = rng.normal(size=len(BLAZEPOSE_NAMES))
    lm[:, 3] = rng.uniform(0.2, 1.0, len(BLAZEPOSE_NAMES))
    return lm


def _bp(lm: np.ndarray, name: str) -> np.ndarray:
    return lm[BLAZEPOSE_NAMES.index(name)]


def _b25(name: str) -> int:
    return BODY25_NAMES.index(name)


def test_mapping_shapes_and_pixel_scaling():
    lm = _landmarks()
    points, conf = blazepose_to_body25(lm, WIDTH, HEIGHT)
    assert points.shape == (25, 2) and conf.shape == (25,)
    assert points.dtype == np.float32 and conf.dtype == np.float32
    nose = _bp(lm, "nose")
    np.testing.assert_allclose(points[_b25("nose")], [nose[0] * WIDTH, nose[1] * HEIGHT], rtol=1e-6)
    assert conf[_b25("nose")] == pytest.approx(nose[3])


@pytest.mark.parametrize("body25, blazepose", [
    ("neck", ("left_shoulder", "right_shoulder")),
    ("mid_hip", ("left_hip", "right_hip")),
])
def test_midpoints_take_the_smaller_confidence(body25, blazepose):
    lm = _landmarks(1)
    points, conf = blazepose_to_body25(lm, WIDTH, HEIGHT)
    a, b = (_bp(lm, n) for n in blazepose)
    np.testing.assert_allclose(points[_b25(body25)], (a[:2] + b[:2]) / 2 * [WIDTH, HEIGHT], rtol=1e-6)
    assert conf[_b25(body25)] == pytest.approx(min(a[3], b[3]))


@pytest.mark.parametrize("side", ["left", "right"])
def test_sides_and_feet_map_to_the_same_side(side):
    lm = _landmarks(2)
    points, _ = blazepose_to_body25(lm, WIDTH, HEIGHT)
    pairs = {f"{side}_{p}": f"{side}_{p}" for p in ("shoulder", "elbow", "wrist", "hip", "knee",
                                                   "ankle", "eye", "ear", "heel")}
    pairs[f"{side}_big_toe"] = f"{side}_foot_index"
    for body25, blazepose in pairs.items():
        expected = _bp(lm, blazepose)[:2] * [WIDTH, HEIGHT]
        np.testing.assert_allclose(points[_b25(body25)], expected, rtol=1e-6, err_msg=body25)


def test_small_toes_are_missing():
    points, conf = blazepose_to_body25(_landmarks(3), WIDTH, HEIGHT)
    for name in ("left_small_toe", "right_small_toe"):
        assert conf[_b25(name)] == 0.0
        assert np.all(points[_b25(name)] == 0.0)
    assert np.count_nonzero(conf) == 23


def test_visibility_is_clipped_to_unit_interval():
    lm = _landmarks(4)
    lm[:, 3] = np.linspace(-0.5, 1.5, len(lm))
    lm[0, 3] = np.nan
    _, conf = blazepose_to_body25(lm, WIDTH, HEIGHT)
    assert conf.min() >= 0.0 and conf.max() <= 1.0
    assert conf[_b25("nose")] == 0.0


@pytest.mark.parametrize("shape", [(33, 3), (25, 4), (33,)])
def test_wrong_landmark_shape_is_rejected(shape):
    with pytest.raises(ValueError, match="33, 4"):
        blazepose_to_body25(np.zeros(shape), WIDTH, HEIGHT)


def test_missing_mediapipe_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mediapipe", None)  # makes `import mediapipe` fail
    with pytest.raises(ImportError) as info:
        detect_keypoints(np.zeros((32, 32, 3), dtype=np.float32))
    assert str(info.value) == MEDIAPIPE_MISSING
    assert "humanrecon[detect]" in str(info.value) and "mediapipe==0.10.14" in str(info.value)


# --- real detection: only where the optional mediapipe is installed --------------------------


def _shipped_keypoints() -> tuple[np.ndarray, np.ndarray]:
    """The shipped OpenPose JSON of the sample: ``points (25, 2)``, ``conf (25,)``."""
    with open(asset_path(SAMPLE_KEYPOINTS)) as f:
        flat = np.asarray(json.load(f)["people"][0]["pose_keypoints_2d"]).reshape(25, 3)
    return flat[:, :2], flat[:, 2]


def test_detection_on_sample_photo_matches_shipped_keypoints():
    pytest.importorskip("mediapipe")
    from humanrecon.io.images import load_image

    image = load_image(asset_path(SAMPLE))
    kp = detect_keypoints(image, source="basketball1.png")
    height, width = image.shape[:2]
    assert kp.layout == "body25" and kp.num_people == 1 and kp.image_size == (width, height)
    assert kp.points.shape == (1, 25, 2) and kp.confidence.shape == (1, 25)
    ref_points, ref_conf = _shipped_keypoints()
    found = ref_conf > 0
    assert found.sum() == 23 and (kp.confidence[0][found] > 0.5).all()
    error = np.linalg.norm(kp.points[0][found] - ref_points[found], axis=1)
    assert error.max() < 0.05 * max(width, height)
    # the player faces the camera: his right side is on the image's left
    assert kp.points[0, _b25("right_shoulder"), 0] < kp.points[0, _b25("left_shoulder"), 0]
    assert kp.points[0, _b25("right_hip"), 0] < kp.points[0, _b25("left_hip"), 0]


def test_detection_without_a_person_names_the_source():
    pytest.importorskip("mediapipe")
    with pytest.raises(ValueError, match="blank.png"):
        detect_keypoints(np.full((240, 320, 3), 0.5, dtype=np.float32), source="blank.png")
