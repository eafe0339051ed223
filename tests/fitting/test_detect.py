"""Built-in 2D detector: BlazePose -> BODY_25 mapping and the multi-person geometry (pure),
the missing-mediapipe error, OpenCV's HOG people boxes (where cv2 has HOG), and (only
where mediapipe is installed) real detections on the shipped sample photo and on a
two-person composite made from it."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from humanrecon._assets import asset_path
from humanrecon.body.keypoints import BODY25_NAMES
from humanrecon.errors import InputError, MissingDependencyError
from humanrecon.fitting import detect
from humanrecon.fitting.detect import (BLAZEPOSE_NAMES, MEDIAPIPE_MISSING, blazepose_to_body25,
                                       detect_keypoints, detect_people)

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
    with pytest.raises(MissingDependencyError) as info:  # an ImportError too
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


def test_detect_people_without_mediapipe_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mediapipe", None)
    with pytest.raises(ImportError, match=r"humanrecon\[detect\]"):
        detect_people(np.zeros((32, 32, 3), dtype=np.float32))


# --- multi-person geometry (pure, no mediapipe) ----------------------------------------------


def test_enlarge_boxes_keeps_centres_and_squares():
    boxes = np.array([[10.0, 20.0, 50.0, 120.0], [0.0, 0.0, 8.0, 4.0]])
    out = detect.enlarge_boxes(boxes, margin=0.25)
    assert out.shape == (2, 4)
    np.testing.assert_allclose((out[:, :2] + out[:, 2:]) / 2, (boxes[:, :2] + boxes[:, 2:]) / 2)
    np.testing.assert_allclose(out[:, 2:] - out[:, :2], [[125.0, 125.0], [10.0, 10.0]])
    loose = detect.enlarge_boxes(boxes[0], margin=0.5, square=False)  # one (4,) box
    np.testing.assert_allclose(loose, [[0.0, -5.0, 60.0, 145.0]])
    with pytest.raises(ValueError, match="margin"):
        detect.enlarge_boxes(boxes, margin=-0.1)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        detect.enlarge_boxes(np.zeros((2, 3)))


def test_box_to_roi_is_normalised_and_may_leave_the_image():
    roi = detect.box_to_roi([[-50.0, 0.0, 150.0, 200.0]], 400, 200, rotations=[0.3])
    np.testing.assert_allclose(roi, [[50 / 400, 0.5, 0.5, 1.0, 0.3]])
    assert detect.box_to_roi(np.zeros((3, 4)), 10, 10).shape == (3, 5)


@pytest.mark.parametrize("top, angle", [((100.0, 20.0), 0.0),       # upright: top straight above the hips
                                        ((180.0, 100.0), np.pi / 2),  # lying, head to the image's right
                                        ((20.0, 100.0), -np.pi / 2),
                                        ((100.0, 180.0), -np.pi)])    # upside down
def test_detection_box_square_and_rotation(top, angle):
    box, rotation = detect.detection_box((100.0, 100.0), top)
    np.testing.assert_allclose(box, [20.0, 20.0, 180.0, 180.0])
    assert rotation == pytest.approx(angle) and -np.pi <= rotation < np.pi


def test_box_iou_values():
    a = np.array([[0.0, 0.0, 10.0, 10.0]])
    b = np.array([[0.0, 0.0, 10.0, 10.0], [5.0, 0.0, 15.0, 10.0], [20.0, 20.0, 30.0, 30.0], [3.0, 3.0, 3.0, 9.0]])
    np.testing.assert_allclose(detect.box_iou(a, b), [[1.0, 1 / 3, 0.0, 0.0]])
    assert detect.box_iou(b, b).shape == (4, 4)


def test_non_max_suppression_keeps_the_best_of_each_cluster():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [30, 0, 40, 10], [0, 1, 10, 11], [31, 0, 41, 10]], float)
    scores = np.array([0.5, 0.9, 0.3, 0.8, 0.4])
    keep = detect.non_max_suppression(boxes, scores, iou_threshold=0.5)
    assert keep.tolist() == [1, 4]
    assert detect.non_max_suppression(boxes, scores, iou_threshold=1.0).tolist() == [1, 3, 0, 4, 2]
    assert detect.non_max_suppression(np.zeros((0, 4)), np.zeros(0)).shape == (0,)
    with pytest.raises(ValueError, match="one value per box"):
        detect.non_max_suppression(boxes, scores[:2])


@pytest.mark.parametrize("width, height", [(640, 480), (1280, 480), (300, 900), (100, 100)])
def test_square_windows_cover_the_image(width, height):
    windows = detect.square_windows(width, height)
    assert windows.dtype == np.int64 and windows.shape[1] == 4
    assert windows[0].tolist() == [0, 0, width, height]
    assert (windows[:, :2] >= 0).all() and (windows[:, 2] <= width).all() and (windows[:, 3] <= height).all()
    covered = np.zeros((height, width), bool)
    for x0, y0, x1, y1 in windows[1:]:
        assert x1 - x0 == y1 - y0 or x1 == width or y1 == height  # squares, unless the image is narrower
        covered[y0:y1, x0:x1] = True
    if len(windows) > 1:
        assert covered.all()
    if (width, height) == (640, 480):
        sides = sorted({int(x1 - x0) for x0, _, x1, _ in windows[1:]})
        assert sides == [240, 480]  # the short side and its half; 120 px is under min_side


def _person(shift=(0.0, 0.0), scale=1.0) -> tuple[np.ndarray, np.ndarray]:
    """The shipped sample person, ``points (25, 2)`` and ``conf (25,)``, moved and scaled."""
    points, conf = _shipped_keypoints()
    return points * scale + np.asarray(shift), conf


def test_person_scale_and_keypoint_box():
    points, conf = _person()
    seen = points[conf > 0]
    box = detect.keypoint_box(points, conf)
    np.testing.assert_allclose(box, [*seen.min(0), *seen.max(0)])
    assert detect.person_scale(points, conf) == pytest.approx(np.hypot(*(box[2:] - box[:2])))
    assert detect.person_scale(points, np.zeros(25)) == 0.0
    assert np.isnan(detect.keypoint_box(points, np.zeros(25))).all()


def test_same_person_tolerates_jitter_not_a_neighbour():
    a, ca = _person()
    jitter = np.random.default_rng(0).normal(0, 3.0, a.shape)
    assert detect.same_person(a, ca, a + jitter, ca)
    side_by_side, _ = _person(shift=(170.0, 0.0))  # one body width further: another person
    assert not detect.same_person(a, ca, side_by_side, ca)
    distorted = a.copy()
    distorted[:, 1] = a[:, 1].min() + 0.75 * (a[:, 1] - a[:, 1].min())  # squashed reading of the same body
    assert detect.same_person(a, ca, distorted, ca)
    assert not detect.same_person(a, np.zeros(25), a, ca)  # nothing in common


def _head_width(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[_b25("right_ear")] - points[_b25("left_ear")]))


def _moved_body(points: np.ndarray, head_shift, body_shift) -> np.ndarray:
    """The person with the head points moved by ``head_shift`` and the rest by ``body_shift`` (px)."""
    out = points + np.asarray(body_shift, dtype=np.float64)
    out[detect.HEAD_POINTS] = points[detect.HEAD_POINTS] + np.asarray(head_shift, dtype=np.float64)
    return out


def test_same_head_catches_a_reading_whose_body_went_elsewhere():
    a, ca = _person()
    width = _head_width(a)
    assert width > 5
    # one head, the body read 200 px away (an arm and torso taken from a neighbour)
    second_reading = _moved_body(a, (0.3 * width, 0.0), (200.0, 40.0))
    assert detect.same_head(a, ca, second_reading, ca)
    assert detect.same_person(a, ca, second_reading, ca)
    # a neighbour's head one head width away or more is another person
    neighbour = _moved_body(a, (1.2 * width, 0.0), (200.0, 40.0))
    assert not detect.same_head(a, ca, neighbour, ca)
    # head points too unsure in one of them: no verdict from the head
    unsure = ca.copy()
    unsure[detect.HEAD_POINTS] = 0.2
    assert not detect.same_head(a, ca, second_reading, unsure)
    assert not detect.same_head(a[:18], ca[:18], a[:18], ca[:18])  # not BODY_25


def test_weak_detections_are_kept_only_clear_of_everyone():
    a, ca = _person()
    width = _head_width(a)
    far, _ = _person(shift=(400.0, 0.0))
    close = _moved_body(a, (1.2 * width, 0.0), (100.0, 0.0))  # a head beside a's, a body a body-width away
    points = np.stack([a, close, far])
    conf = np.stack([ca, ca * 0.9, ca * 0.9])
    # as ordinary detections, the close one is another person (heads 1.2 widths apart)
    assert sorted(detect.remove_duplicate_people(points, conf).tolist()) == [0, 1, 2]
    # as weak ones, only the one clear of everyone stays; ordinary people come first
    keep = detect.remove_duplicate_people(points, conf, weak=[False, True, True])
    assert keep.tolist() == [0, 2]
    assert detect.near_person(a, ca, close, ca) and not detect.near_person(a, ca, far, ca)
    # a weak detection never displaces an ordinary one, even when more confident
    keep = detect.remove_duplicate_people(np.stack([a, a + 1.0]), np.stack([ca * 0.5, ca]), weak=[False, True])
    assert keep.tolist() == [0]


def test_person_boxes_weak_mask():
    boxes = detect.PersonBoxes(np.zeros((2, 4)), np.ones(2), np.zeros(2), "hog")
    assert boxes.weak_mask().tolist() == [False, False]
    boxes = detect.PersonBoxes(np.zeros((2, 4)), np.ones(2), np.zeros(2), "blazepose", np.array([True, False]))
    assert boxes.weak_mask().tolist() == [True, False]


def test_remove_duplicates_keeps_the_more_confident_and_sorting_is_left_to_right():
    a, ca = _person()
    b, cb = _person(shift=(300.0, 10.0))
    points = np.stack([b, a + 2.0, a, b + 1.0])
    conf = np.stack([cb * 0.9, ca * 0.8, ca, cb])
    keep = detect.remove_duplicate_people(points, conf)
    assert sorted(keep.tolist()) == [2, 3]
    order = detect.left_to_right(points[keep], conf[keep])
    assert points[keep][order][0, 0, 0] < points[keep][order][1, 0, 0]
    assert detect.left_to_right(np.stack([b, a]), np.stack([cb, np.zeros(25)])).tolist() == [0, 1]
    with pytest.raises(ValueError, match=r"\(P, K, 2\)"):
        detect.remove_duplicate_people(points[0], conf[0])


# --- OpenCV's HOG people boxes (cv2 only) ----------------------------------------------------


def _photo_u8() -> np.ndarray:
    from humanrecon.io.images import load_image, to_uint8

    return to_uint8(load_image(asset_path(SAMPLE)))


def _two_person_composite() -> tuple[np.ndarray, int]:
    """The photo's left 240 columns (the left man, none of the right man) twice side by
    side: ``(480, 480, 3)`` uint8 with one person in each half, and the offset (240 px)."""
    strip = _photo_u8()[:, :240]
    return np.ascontiguousarray(np.concatenate([strip, strip], axis=1)), strip.shape[1]


def _contains(box: np.ndarray, points: np.ndarray) -> bool:
    return bool((points[:, 0] >= box[0]).all() and (points[:, 0] <= box[2]).all()
                and (points[:, 1] >= box[1]).all() and (points[:, 1] <= box[3] + 10).all())


needs_hog = pytest.mark.skipif(not detect.hog_available(), reason="this cv2 has no HOGDescriptor (OpenCV 5 "
                               "headless); OpenCV 4 or opencv-contrib-python have it")


@needs_hog
def test_hog_finds_the_man_in_the_photo():
    boxes, scores = detect.hog_person_boxes(_photo_u8())
    assert len(boxes) >= 1 and boxes.shape[1] == 4 and (np.diff(scores) <= 0).all()
    points, conf = _person()
    assert _contains(boxes[0], points[conf > 0])  # the best box holds the left man


@needs_hog
def test_hog_finds_exactly_the_two_people_of_the_composite():
    image, offset = _two_person_composite()
    boxes, _ = detect.hog_person_boxes(image)
    assert len(boxes) == 2
    boxes = boxes[np.argsort(boxes[:, 0])]
    for k, box in enumerate(boxes):
        points, conf = _person(shift=(k * offset, 0.0))
        assert _contains(box, points[conf > 0]), (k, box)
    assert detect.box_iou(boxes[:1], boxes[1:])[0, 0] < 0.3


def test_person_boxes_without_mediapipe_falls_back_to_hog(monkeypatch):
    monkeypatch.setitem(sys.modules, "mediapipe", None)
    if not detect.hog_available():
        with pytest.raises(MissingDependencyError, match="HOG"):
            detect.person_boxes(_photo_u8())
        return
    found = detect.person_boxes(_photo_u8())
    assert found.method == "hog" and len(found.boxes) >= 1 and (found.rotations == 0).all()
    with pytest.raises(ValueError, match="'auto', 'blazepose', 'hog' or 'both'"):
        detect.person_boxes(_photo_u8(), "yolo")


# --- every person (only where mediapipe is installed) ----------------------------------------


def _assert_close(found: np.ndarray, found_conf: np.ndarray, ref: np.ndarray, ref_conf: np.ndarray) -> None:
    seen = (found_conf > 0.5) & (ref_conf > 0.5)
    assert seen.sum() >= 20
    error = np.linalg.norm(found[seen] - ref[seen], axis=1)
    assert np.median(error) < 4.0 and error.max() < 16.0, error  # px, on a ~400-px-tall person


@pytest.mark.parametrize("boxes", ["auto", "hog", "both"])
def test_detect_people_on_the_two_person_composite(boxes):
    pytest.importorskip("mediapipe")
    if boxes in ("hog", "both") and not detect.hog_available():
        pytest.skip("this cv2 has no HOGDescriptor")
    image, offset = _two_person_composite()
    single = detect_keypoints(image[:, :offset].copy(), source="strip")
    kp = detect_people(image, source="composite.png", boxes=boxes)
    assert kp.num_people == 2 and kp.points.shape == (2, 25, 2) and kp.confidence.shape == (2, 25)
    assert kp.image_size == (2 * offset, image.shape[0]) and kp.layout == "body25" and kp.source == "composite.png"
    for k in range(2):  # left to right, each the single-person detection moved by the paste offset
        _assert_close(kp.points[k], kp.confidence[k], single.points[0] + [k * offset, 0], single.confidence[0])


def test_detect_people_on_the_photo_finds_the_man():
    pytest.importorskip("mediapipe")
    kp = detect_people(_photo_u8(), source="basketball1.png")
    assert kp.num_people >= 1
    ref, ref_conf = _shipped_keypoints()
    _assert_close(kp.points[0], kp.confidence[0], ref, ref_conf)


def test_detect_people_finds_the_man_turned_away():
    """The right man of the sample photo shows his back and is cut at the thighs: the body
    detector scores him 0.5-0.55 (a weak box), and he is the only detection there."""
    pytest.importorskip("mediapipe")
    kp = detect_people(_photo_u8(), source="basketball1.png")
    assert kp.num_people == 2
    centre = [np.median(p[c >= 0.5], axis=0) for p, c in zip(kp.points, kp.confidence)]
    assert centre[0][0] < 200 and 430 < centre[1][0] < 640, centre


def test_detect_people_without_a_person_names_the_source():
    pytest.importorskip("mediapipe")
    with pytest.raises(ValueError, match="blank.png: the detector found no person"):
        detect_people(np.full((240, 320, 3), 0.5, dtype=np.float32), source="blank.png")


def test_face_box_to_body_box():
    """A face box becomes a square body box FACE_TO_BODY_SIDE faces wide, centred
    FACE_TO_HIP_DROP faces below the face's centre (an adult's proportions)."""
    body = detect.face_box_to_body_box([[100.0, 50.0, 120.0, 70.0], [0.0, 0.0, 10.0, 20.0]])
    assert body.shape == (2, 4)
    side = detect.FACE_TO_BODY_SIDE * 20.0
    np.testing.assert_allclose(body[0], [110 - side / 2, 60 + 70 - side / 2, 110 + side / 2, 60 + 70 + side / 2])
    np.testing.assert_allclose(body[1, 2] - body[1, 0], side)  # the longer side of the face box counts
    assert body[0, 1] < 50.0 < 70.0 < body[0, 3]  # the face lies inside its body box
    with pytest.raises(InputError):
        detect.face_box_to_body_box(np.zeros((2, 3)))
