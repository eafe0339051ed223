"""Structure from motion (:mod:`humanrecon.datasets.sfm`) against a scene with known cameras:
photos of a textured room rendered by the oracle (:func:`tests.oracles.render_room`), the
cameras COLMAP recovers compared with the true ones after a similarity alignment (Umeyama
on the centres), points triangulated on the true cameras measured against the walls, and
every bad input refused with one error naming the folder or file, touching nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from humanrecon.cli import build_parser, main
from humanrecon.datasets import sfm
from humanrecon.datasets.colmap import read_colmap
from humanrecon.datasets.sfm import POINTS_CACHE, run_sfm, triangulate_known_poses, with_sfm_points
from humanrecon.datasets.split import ViewSplit
from humanrecon.datasets.views import read_views
from humanrecon.errors import InputError, MissingFileError, OutputExistsError
from humanrecon.geometry.camera import Camera
from humanrecon.io.images import save_image
from humanrecon.sfm_config import SfmConfig
from tests import oracles

N, WIDTH, HEIGHT = 8, 200, 150
#: small and fast: 1024 SIFT features per photo, both cores
FAST = {"max_features": 1024, "num_threads": 2, "progress": False}


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    """``(photos folder, K, R, t, images)`` of the room seen by :func:`oracles.room_cameras`."""
    K, R, t = oracles.room_cameras(N, WIDTH, HEIGHT)
    images = oracles.render_room(K, R, t, WIDTH, HEIGHT)
    photos = tmp_path_factory.mktemp("photos")
    for i, image in enumerate(images):
        save_image(photos / f"room_{i:02d}.png", image)
    return photos, K, R, t, images


@pytest.fixture(scope="module")
def capture(room, tmp_path_factory):
    out = tmp_path_factory.mktemp("sfm") / "capture"
    assert run_sfm(room[0], out, **FAST) == out
    return out


def _views(K, R, t, images, root="room") -> ViewSplit:
    images = torch.as_tensor(images)
    return ViewSplit(images=images, alpha=torch.ones(images.shape[:3]), cameras=Camera(K, R, t, WIDTH, HEIGHT),
                     names=[f"room_{i:02d}.png" for i in range(len(images))], root=Path(root), split="train")


def _snapshot(folder: Path) -> dict:
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- photos -> capture
def test_the_photos_register_with_the_true_cameras(room, capture):
    _, K, R, t, _ = room
    report = json.loads((capture / "sfm" / "report.json").read_text())
    assert report["photos"] == N and report["registered"] >= N - 1, report
    views = read_views(capture, "all")
    assert views.format == "colmap" and len(views) == report["registered"]
    index = [int(Path(name).stem.split("_")[1]) for name in views.names]
    true_centres = np.stack([-R[i].T @ t[i] for i in index])
    found = views.cameras.center.double().numpy()
    s, rotation, shift = oracles.similarity_align(found, true_centres)
    size = np.ptp(true_centres, axis=0).max()  # 2 m
    assert np.abs(s * found @ rotation.T + shift - true_centres).max() < 0.02 * size
    # world-to-camera in the true frame: R_found maps found-world to camera, rotation maps found-world to true-world
    angles = oracles.rotation_angle_deg(R[index], views.cameras.R.double().numpy() @ rotation.T)
    assert angles.max() <= 3.0, angles
    # the undistorted focal length is the truth up to the reconstruction's few per cent
    assert abs(float(views.cameras.fx[0]) / K[0, 0, 0] - 1) < 0.05


def test_the_capture_is_a_colmap_dataset_with_pinhole_cameras(capture):
    scene = read_colmap(capture / "sparse" / "0")
    assert {cam.model for cam in scene.intrinsics.values()} == {"PINHOLE"} and len(scene.points) > 200
    assert sorted(p.name for p in (capture / "images").iterdir()) == sorted(scene.names)
    assert (capture / "sfm" / "database.db").is_file() and (capture / "sfm" / "colmap.log").stat().st_size > 0
    assert read_colmap(capture / "sfm" / "sparse" / "0").intrinsics[1].model == SfmConfig.camera_model
    assert not list(capture.glob(".sfm-*"))  # the scratch folder is gone
    train, test = read_views(capture, "train"), read_views(capture, "test")
    assert len(train) + len(test) == len(scene.names) and train.points is not None


def test_existing_outputs_are_refused_and_left_alone(room, capture, tmp_path):
    before = _snapshot(capture)
    with pytest.raises(OutputExistsError, match="--overwrite"):
        run_sfm(room[0], capture, **FAST)
    assert _snapshot(capture) == before
    # a folder of someone's own images/ is never replaced, even with overwrite
    theirs = tmp_path / "theirs"
    (theirs / "images").mkdir(parents=True)
    (theirs / "images" / "mine.jpg").write_bytes(b"precious")
    with pytest.raises(InputError, match="not written by humanrecon capture"):
        run_sfm(room[0], theirs, overwrite=True, **FAST)
    assert (theirs / "images" / "mine.jpg").read_bytes() == b"precious"
    # photos inside the folder the capture writes
    with pytest.raises(InputError, match="which the capture writes"):
        run_sfm(capture / "images", capture, overwrite=True, **FAST)
    assert _snapshot(capture) == before


def test_a_missing_folder_or_too_few_photos(room, tmp_path):
    with pytest.raises(MissingFileError, match="photos folder not found: .*nowhere"):
        run_sfm(tmp_path / "nowhere", tmp_path / "out", **FAST)
    two = tmp_path / "two"
    two.mkdir()
    for name in ("room_00.png", "room_01.png"):
        (two / name).write_bytes((room[0] / name).read_bytes())
    (two / "notes.txt").write_text("not a photo")
    with pytest.raises(InputError, match=r"two: 2 photos .* at least 3"):
        run_sfm(two, tmp_path / "out", **FAST)
    assert not (tmp_path / "out").exists()


def test_an_unreadable_photo_is_named(room, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        (photos / f"room_{i:02d}.png").write_bytes((room[0] / f"room_{i:02d}.png").read_bytes())
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    with pytest.raises(InputError, match=r"broken\.jpg: cannot read this photo"):
        run_sfm(photos, tmp_path / "out", **FAST)
    assert not (tmp_path / "out").exists()


def test_photos_of_different_sizes_need_one_camera_each(room, tmp_path):
    photos = tmp_path / "photos"
    for i in range(3):
        save_image(photos / f"p{i}.png", room[4][i][: HEIGHT - 10 * i])
    with pytest.raises(InputError, match=r"p1\.png: the photo is 200x140 but 'p0\.png' is 200x150"):
        run_sfm(photos, tmp_path / "out", **FAST)


@pytest.mark.parametrize("kind", ["blank", "noise"])
def test_too_few_registered_photos_say_how_many_and_why(kind, tmp_path):
    rng = np.random.default_rng(0)
    photos = tmp_path / "photos"
    for i in range(4):
        image = np.full((HEIGHT, WIDTH, 3), 0.5) if kind == "blank" else rng.random((HEIGHT, WIDTH, 3))
        save_image(photos / f"{kind}_{i}.png", image)
    out = tmp_path / "out"
    with pytest.raises(InputError, match=r"only 0 of 4 photos registered .*texture.*overlap.*--matcher sequential"):
        run_sfm(photos, out, **FAST)
    assert not out.exists()  # made by the run, removed with its scratch


def test_bad_settings_are_refused_before_any_work(room, tmp_path):
    with pytest.raises(InputError, match="matcher must be one of"):
        run_sfm(room[0], tmp_path / "out", matcher="vocab")
    with pytest.raises(InputError, match="camera_model must be one of"):
        SfmConfig(camera_model="FISHEYE_42")
    with pytest.raises(InputError, match="num_threads"):
        SfmConfig(num_threads=0)
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- known poses -> points
def test_triangulated_points_lie_on_the_walls(room, tmp_path):
    _, K, R, t, images = room
    points, colors = triangulate_known_poses(_views(K, R, t, images), tmp_path / "work", max_features=1024,
                                             num_threads=2, progress=False)
    assert points.dtype == colors.dtype == torch.float32 and points.shape == colors.shape
    assert len(points) >= 300 and 0 <= float(colors.min()) and float(colors.max()) <= 1
    distance = oracles.room_surface_distance(points.numpy())
    assert np.median(distance) < 0.01  # metres: the room is 4 m across
    assert (distance < 0.03).mean() > 0.8
    assert list((tmp_path / "work").iterdir()) == []  # its scratch folder is removed


def _fake_triangulation(monkeypatch, count=150):
    calls = []

    def fake(views, work_dir, **options):
        calls.append(options)
        points = torch.rand(count, 3, generator=torch.Generator().manual_seed(0))
        return points, torch.full((count, 3), 0.5)

    monkeypatch.setattr(sfm, "triangulate_known_poses", fake)
    return calls


def test_with_sfm_points_caches_in_the_run_folder(room, tmp_path, monkeypatch):
    _, K, R, t, images = room
    calls = _fake_triangulation(monkeypatch)
    views = _views(K, R, t, images)
    filled = with_sfm_points(views, tmp_path / "run", progress=False)
    assert filled.points.shape == (150, 3) and filled.point_colors.shape == (150, 3) and views.points is None
    assert (tmp_path / "run" / POINTS_CACHE).is_file() and len(calls) == 1
    again = with_sfm_points(views, tmp_path / "run", progress=False)
    assert len(calls) == 1 and torch.equal(again.points, filled.points)  # from the cache
    moved = _views(K, R, t + 0.1, images)
    with_sfm_points(moved, tmp_path / "run", progress=False)
    assert len(calls) == 2  # other cameras: computed again
    assert with_sfm_points(filled, tmp_path / "other", progress=False) is filled and len(calls) == 2


def test_with_sfm_points_warns_or_raises_when_none_are_found(room, tmp_path, monkeypatch):
    _, K, R, t, images = room
    _fake_triangulation(monkeypatch, count=20)
    views = _views(K, R, t, images)
    with pytest.warns(UserWarning, match="only 20 points triangulated"):
        assert with_sfm_points(views, tmp_path, progress=False) is views
    with pytest.raises(InputError, match="only 20 points"):
        with_sfm_points(views, tmp_path, required=True, progress=False)

    def failing(views, work_dir, **options):
        raise InputError("room: COLMAP matching failed: no luck")

    monkeypatch.setattr(sfm, "triangulate_known_poses", failing)
    with pytest.warns(UserWarning, match="no luck"):
        assert with_sfm_points(views, None, progress=False) is views


def test_splat_auto_init_starts_photos_without_points_from_triangulated_ones(room, tmp_path, monkeypatch):
    from humanrecon.splat.config import SplatConfig
    from humanrecon.splat.train import train_splats

    _, K, R, t, images = room
    calls = _fake_triangulation(monkeypatch, count=150)
    config = SplatConfig(steps=1, backend="torch", progress=False, checkpoint_every=0)
    model, _ = train_splats(_views(K, R, t, images), tmp_path, config)
    assert model.num_gaussians == 150 and (tmp_path / POINTS_CACHE).is_file() and len(calls) == 1
    random = SplatConfig(steps=1, backend="torch", progress=False, checkpoint_every=0, init="random", init_points=40)
    assert train_splats(_views(K, R, t, images), tmp_path / "random", random)[0].num_gaussians == 40
    assert len(calls) == 1


# --------------------------------------------------------------------------- the command
def test_cli_capture_writes_the_capture_and_says_what_next(room, tmp_path, capsys):
    out = tmp_path / "capture"
    assert main(["capture", str(room[0]), "--out", str(out), "--max-features", "1024", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}: " in printed and f"of {N} photos registered" in printed
    assert f"next: humanrecon splat train {out} --out " in printed
    assert read_views(out, "all").format == "colmap"
    before = _snapshot(out)
    assert main(["capture", str(room[0]), "--out", str(out), "--quiet"]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err and _snapshot(out) == before
    assert main(["capture", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip().endswith(f"photos folder not found: '{tmp_path / 'none'}'")


def test_cli_flag_defaults_are_the_library_defaults():
    action = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    parser = action.choices["capture"]
    defaults = {a.dest: a.default for a in parser._actions}
    for name in ("matcher", "max_image_size", "max_features", "camera_model"):
        assert defaults[name] == getattr(SfmConfig, name), name
