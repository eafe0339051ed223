"""`humanrecon fit` end to end on the shipped photo, folder mode with a bad file, and
overwrite protection."""

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
    assert overlay.shape == photo.shape
    assert np.abs(overlay - photo).mean() > 0.005  # something was drawn


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
