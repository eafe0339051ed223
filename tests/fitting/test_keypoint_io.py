"""Keypoint file readers: OpenPose BODY_25 / COCO-18, COCO annotations and results, and
every malformed input with a clear error naming the file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from humanrecon.body.keypoints import BODY25_NAMES, COCO17_NAMES
from humanrecon.fitting.keypoint_io import (
    COCO18_NAMES,
    KeypointFileError,
    from_array,
    read_coco_json,
    read_keypoints,
    read_openpose_json,
    to_layout,
    validate,
)


def _openpose(path, people):
    path.write_text(json.dumps({"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": p} for p in people]}))
    return path


def _person(count, seed=0, width=640, height=480):
    rng = np.random.default_rng(seed)
    pts = np.column_stack([rng.uniform(0, width, count), rng.uniform(0, height, count), rng.uniform(0.2, 1, count)])
    return pts.reshape(-1).tolist()


def test_openpose_body25_two_people(tmp_path):
    people = [_person(25, 0), _person(25, 1)]
    kp = read_openpose_json(_openpose(tmp_path / "img_keypoints.json", people))
    assert kp.layout == "body25" and kp.names == BODY25_NAMES and kp.num_people == 2
    np.testing.assert_allclose(kp.points[1, 3], people[1][9:11], rtol=1e-6)
    np.testing.assert_allclose(kp.confidence[0, 24], people[0][74], rtol=1e-6)


def test_openpose_coco18_maps_to_body25_names(tmp_path):
    person = _person(18, 2)
    kp = read_keypoints(_openpose(tmp_path / "k.json", [person]))
    assert kp.layout == "coco18" and kp.names == COCO18_NAMES
    points, conf = to_layout(kp, BODY25_NAMES)
    assert points.shape == (1, 25, 2)
    # COCO-18 index 8 is the right hip, BODY_25 index 9
    np.testing.assert_allclose(points[0, BODY25_NAMES.index("right_hip")], person[24:26], rtol=1e-6)
    assert conf[0, BODY25_NAMES.index("mid_hip")] == 0 and conf[0, BODY25_NAMES.index("left_heel")] == 0


def test_coco_annotations_visibility_and_image_pick(tmp_path):
    kps = np.zeros((17, 3))
    kps[:, :2] = np.arange(34).reshape(17, 2)
    kps[:, 2] = [2] * 10 + [1] * 5 + [0] * 2
    data = {"images": [{"id": 7, "file_name": "a.jpg", "width": 640, "height": 480},
                       {"id": 8, "file_name": "b.jpg", "width": 320, "height": 240}],
            "annotations": [{"image_id": 7, "keypoints": kps.reshape(-1).tolist(), "category_id": 1},
                            {"image_id": 8, "keypoints": kps.reshape(-1).tolist(), "category_id": 1}]}
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(data))
    kp = read_coco_json(path, image_name="b.jpg")
    assert kp.names == COCO17_NAMES and kp.num_people == 1 and kp.image_size == (320, 240)
    np.testing.assert_array_equal(kp.confidence[0], [1.0] * 10 + [0.5] * 5 + [0.0] * 2)
    with pytest.raises(KeypointFileError, match="annotations for 2 images; say which"):
        read_coco_json(path)
    with pytest.raises(KeypointFileError, match="no image named c.jpg"):
        read_coco_json(path, image_name="c.jpg")


def test_coco_results_list(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps([{"image_id": 1, "keypoints": _person(17), "score": 0.9}]))
    kp = read_keypoints(path)
    assert kp.layout == "coco17" and kp.num_people == 1


@pytest.mark.parametrize(
    "content, message",
    [
        ("{broken", "not valid JSON"),
        (json.dumps({"people": []}), "no person in the file"),
        (json.dumps({"persons": []}), "not a COCO keypoint file"),
        (json.dumps({"people": [{"pose_keypoints_2d": [1, 2, 3] * 20}]}), "60 numbers per person match no OpenPose"),
        (json.dumps({"people": [{"pose_keypoints_2d": [1.0] * 74 + [float("nan")]}]}), "NaN"),
        (json.dumps({"people": [{"pose_keypoints_2d": ["a"] * 75}]}), "non-numeric"),
        (json.dumps({"people": [{"pose_keypoints_2d": [1] * 75}, {"pose_keypoints_2d": [1] * 54}]}),
         "different keypoint counts"),
    ],
)
def test_malformed_files(tmp_path, content, message):
    path = tmp_path / "bad_keypoints.json"
    path.write_text(content.replace("NaN", "NaN"))
    with pytest.raises(KeypointFileError, match=message) as info:
        read_keypoints(path)
    assert "bad_keypoints.json" in str(info.value)


def test_declared_layout_with_wrong_joint_count(tmp_path):
    path = _openpose(tmp_path / "k.json", [_person(25)])
    with pytest.raises(KeypointFileError, match="wrong joint count for coco18: expected 18 keypoints"):
        read_openpose_json(path, layout="coco18")


def test_missing_file():
    with pytest.raises(KeypointFileError, match="nope.json: keypoint file not found"):
        read_keypoints("nope.json")


def test_validate_against_image(tmp_path):
    kp = from_array(np.array(_person(25, 3, width=1920, height=1080)).reshape(25, 3), source="k.json")
    with pytest.raises(KeypointFileError, match=r"k.json: keypoints do not match the image size 640x480"):
        validate(kp, 640, 480)
    validate(kp, 1920, 1080)
    zero = from_array(np.zeros((25, 3)), source="z.json")
    with pytest.raises(KeypointFileError, match="z.json: all keypoint confidences are zero"):
        validate(zero, 640, 480)
    sized = from_array(np.ones((17, 3)), "coco17", source="c.json", image_size=(320, 240))
    with pytest.raises(KeypointFileError, match="keypoints are for a 320x240 image, the image is 640x480"):
        validate(sized, 640, 480)


def test_focal_from_exif(tmp_path):
    from PIL import Image

    from humanrecon.fitting.pipeline import focal_from_exif

    path = tmp_path / "photo.jpg"
    image = Image.new("RGB", (400, 300))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[41989] = 28  # FocalLengthIn35mmFilm
    image.save(path, exif=exif)
    assert focal_from_exif(path, 400, 300) == pytest.approx(28 / 36 * 400)
    plain = tmp_path / "plain.jpg"
    Image.new("RGB", (400, 300)).save(plain)
    assert focal_from_exif(plain, 400, 300) is None
