"""`humanrecon fit` end to end on the shipped photo and on a two-person composite made from
it (overlay with a side view), folder mode with a bad file, and overwrite protection."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import trimesh

from humanrecon._assets import asset_path
from humanrecon.cli import main

PHOTO = asset_path("samples/basketball1.png")
KEYPOINTS = asset_path("samples/basketball1_keypoints.json")


@pytest.fixture(scope="module")
def fit_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("fit")
    assert main(["fit", str(PHOTO), "--keypoints", str(KEYPOINTS), "--out", str(out), "--quiet"]) == 0
    return out


def test_outputs(fit_dir):
    from humanrecon.render import load_image

    mesh = trimesh.load(fit_dir / "mesh.obj", process=False)
    assert len(mesh.vertices) == 13348
    params = json.loads((fit_dir / "params.json").read_text())
    person = params["people"][0]
    assert params["focal_source"].startswith("default") and len(person["betas"]) == 10
    assert person["reprojection_error_px"] < 15.0  # a 370-px-tall person
    photo, overlay = load_image(PHOTO), load_image(fit_dir / "overlay.png")
    height, width = photo.shape[:2]
    assert overlay.shape == (height, 2 * width, 3)  # [overlay | side view]
    left, side = overlay[:, :width], overlay[:, width:]
    assert np.abs(left - photo).mean() > 0.005  # something was drawn over the photo
    assert _tinted(side, "blue").sum() > 2000  # the body, in the overlay's mesh colour


def _tinted(image: np.ndarray, hue: str) -> np.ndarray:
    """Mask of clearly blue (person 0's mesh) or orange (person 1's) pixels; the photo is gray."""
    r, b = image[..., 0], image[..., 2]
    return (b - r > 0.1) if hue == "blue" else (r - b > 0.2)


def test_mesh_projects_onto_the_person(fit_dir):
    """The fitted mesh, projected with the saved camera, covers the detected person."""
    import torch

    from humanrecon.geometry import Camera

    params = json.loads((fit_dir / "params.json").read_text())
    cam = params["people"][0]["camera"]
    camera = Camera(torch.tensor(cam["K"]), torch.tensor(cam["R"]), torch.tensor(cam["t"]), cam["width"], cam["height"])
    mesh = trimesh.load(fit_dir / "mesh.obj", process=False)
    pixels = camera.project(torch.tensor(mesh.vertices, dtype=torch.float32)[None])[0].numpy()
    kp = np.array(json.loads(KEYPOINTS.read_text())["people"][0]["pose_keypoints_2d"]).reshape(25, 3)
    seen = kp[kp[:, 2] > 0, :2]
    lo, hi = pixels.min(0), pixels.max(0)
    assert (seen.min(0) > lo - 15).all() and (seen.max(0) < hi + 15).all()
    assert (hi - lo)[1] < 1.3 * (seen.max(0) - seen.min(0))[1]


def _two_person_case(tmp_path):
    """The photo with the left man pasted again, 0.7 times as large (so further away), on
    the wall to his right, and an OpenPose file with both people (the shipped keypoints,
    and the same moved and scaled)."""
    import cv2

    from humanrecon.render import load_image, save_image

    photo = load_image(PHOTO)
    strip = photo[:, 20:190]
    small = cv2.resize(strip, None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA)
    x0, y0 = 300, 100
    image = photo.copy()
    image[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
    save_image(tmp_path / "two.png", image)
    doc = json.loads(KEYPOINTS.read_text())
    first = np.array(doc["people"][0]["pose_keypoints_2d"]).reshape(25, 3)
    second = first.copy()
    second[:, :2] = (first[:, :2] - [20, 0]) * 0.7 + [x0, y0]
    second[first[:, 2] == 0] = 0
    doc["people"].append(dict(doc["people"][0], pose_keypoints_2d=second.ravel().tolist()))
    (tmp_path / "two_keypoints.json").write_text(json.dumps(doc))
    return tmp_path / "two.png", tmp_path / "two_keypoints.json", (first, second)


def test_two_people_fit_draws_both_and_the_side_view(tmp_path):
    from humanrecon.render import load_image

    image_path, kp_path, people = _two_person_case(tmp_path)
    out = tmp_path / "out"
    assert main(["fit", str(image_path), "--keypoints", str(kp_path), "--out", str(out), "--quiet"]) == 0
    assert (out / "mesh_0.obj").is_file() and (out / "mesh_1.obj").is_file() and not (out / "mesh.obj").exists()
    params = json.loads((out / "params.json").read_text())
    assert [p["index_in_file"] for p in params["people"]] == [0, 1]
    depth = [p["camera"]["t"][2] for p in params["people"]]
    assert depth[1] > 1.2 * depth[0]  # the smaller copy is further away

    photo, overlay = load_image(image_path), load_image(out / "overlay.png")
    height, width = photo.shape[:2]
    assert overlay.shape == (height, 2 * width, 3)
    left, side = overlay[:, :width], overlay[:, width:]
    for k, (hue, kp) in enumerate(zip(("blue", "orange"), people)):  # each person in its own colour
        seen = kp[kp[:, 2] > 0, :2]
        (x0, y0), (x1, y1) = seen.min(0).astype(int), seen.max(0).astype(int)
        assert _tinted(left[y0:y1, x0:x1], hue).mean() > 0.2, k
    blue, orange = _tinted(side, "blue"), _tinted(side, "orange")
    assert blue.sum() > 1000 and orange.sum() > 500  # both bodies in the side view
    columns = np.arange(width)[None, :]
    assert (columns * orange).sum() / orange.sum() > (columns * blue).sum() / blue.sum()  # deeper = further right


def test_detect_finds_and_fits_both_people(tmp_path):
    """``--detect`` (only where mediapipe is installed) on the two-person composite."""
    pytest.importorskip("mediapipe")
    image_path, _, _ = _two_person_case(tmp_path)
    out = tmp_path / "out"
    assert main(["fit", str(image_path), "--detect", "--out", str(out), "--quiet"]) == 0
    params = json.loads((out / "params.json").read_text())
    assert params["keypoints"] == "detector" and len(params["people"]) == 2
    assert (out / "mesh_0.obj").is_file() and (out / "mesh_1.obj").is_file()
    depth = [p["camera"]["t"][2] for p in params["people"]]  # left to right: the big man, then the copy
    assert depth[1] > 1.2 * depth[0]
    assert all(p["reprojection_error_px"] < 15.0 for p in params["people"])


def test_refuses_to_overwrite(fit_dir, capsys):
    before = (fit_dir / "params.json").read_text()
    assert main(["fit", str(PHOTO), "--keypoints", str(KEYPOINTS), "--out", str(fit_dir), "--quiet"]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert (fit_dir / "params.json").read_text() == before


def test_folder_mode_reports_bad_images_and_fits_the_rest(tmp_path, capsys):
    photos, kps = tmp_path / "photos", tmp_path / "kps"
    photos.mkdir()
    kps.mkdir()
    for name in ("a", "b", "c"):
        shutil.copy(PHOTO, photos / f"{name}.png")
    shutil.copy(KEYPOINTS, kps / "a_keypoints.json")
    (kps / "b_keypoints.json").write_text('{"people": [{"pose_keypoints_2d": [0, 0, 0]}]}')  # wrong count
    # c has no keypoint file
    out = tmp_path / "out"
    code = main(["fit", str(photos), "--keypoints", str(kps), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "2 of 3 image(s) failed" in err
    assert "b_keypoints.json" in err and "match no OpenPose body model" in err
    assert "c_keypoints.json" in err
    assert (out / "a" / "mesh.obj").is_file() and not (out / "b").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "give --keypoints"),
        (["--keypoints", "KP", "--focal", "-3"], "--focal must be a positive number"),
        (["--keypoints", "KP", "--person", "x"], "--person must be an index"),
        (["--keypoints", "KP", "--model", "nope.pkl"], "nope.pkl: model file not found"),
        (["--keypoints", "KP", "--person", "3"], "no person 3 (the file has 1)"),
    ],
)
def test_bad_arguments(tmp_path, capsys, args, message):
    args = [str(KEYPOINTS) if a == "KP" else a for a in args]
    assert main(["fit", str(PHOTO), "--out", str(tmp_path / "o"), "--quiet"] + args) == 2
    assert message in capsys.readouterr().err


def test_unreadable_image_and_size_mismatch(tmp_path, capsys):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    assert main(["fit", str(broken), "--keypoints", str(KEYPOINTS), "--out", str(tmp_path / "o1"), "--quiet"]) == 2
    assert "broken.png" in capsys.readouterr().err
    from humanrecon.render import load_image, save_image

    small = tmp_path / "small.png"
    save_image(small, load_image(PHOTO)[::4, ::4])
    assert main(["fit", str(small), "--keypoints", str(KEYPOINTS), "--out", str(tmp_path / "o2"), "--quiet"]) == 2
    assert "keypoints do not match the image size 160x120" in capsys.readouterr().err


def test_detect_without_mediapipe_says_how_to_install(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "mediapipe", None)  # as on an install without the extra
    assert main(["fit", str(PHOTO), "--detect", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "pip install 'humanrecon[detect]'" in capsys.readouterr().err
