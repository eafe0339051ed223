"""Learned gradient descent: the training targets against the true camera's projection
(exact), the state encoding, a fresh network that learns, the shipped weights on people
drawn with seeds training never used, ``lgd+smplify``, the CLI flag and bad weight files."""

from __future__ import annotations

import json

from types import SimpleNamespace

import pytest
import torch

from humanrecon._assets import asset_path, assets_dir
from humanrecon.body import BodyModel
from humanrecon.errors import CheckpointError, InputError
from humanrecon.fitting.lgd import LGD_ASSET, LGDFitter, LGDNetwork, load_network, make_fitter, save_network
from humanrecon.fitting.lgd_training import (LGDTrainConfig, fitter_frame_targets, lgd_loss, make_batch,
                                             train_lgd, training_subjects, library_tuning_poses)
from humanrecon.fitting.smplify import FRONT_VIEW_R
from humanrecon.fitting.synthetic import DETECTOR_FAULTS, pa_mpjpe, sample_subjects
from humanrecon.geometry import Camera

WEIGHTS = assets_dir() / LGD_ASSET


@pytest.fixture(scope="module")
def model():
    return BodyModel.load("open")


def test_fitter_frame_targets_project_like_the_true_camera(model):
    subjects = sample_subjects(model, 5, seed=11, faults=DETECTOR_FAULTS)  # pitched and rolled cameras
    target = fitter_frame_targets(subjects)
    out = model(betas=subjects.betas, global_orient=target["global_orient"], body_pose=subjects.body_pose)
    level = Camera(subjects.camera.K, FRONT_VIEW_R.expand(5, 3, 3), target["transl"], 1000, 1000)
    torch.testing.assert_close(level.project(out.vertices), subjects.camera.project(subjects.vertices), atol=1e-3,
                               rtol=0)
    torch.testing.assert_close(out.joints[:, :24], target["joints"], atol=1e-5, rtol=0)


def test_state_round_trip(model):
    fitter = LGDFitter(model, LGDNetwork())
    subjects = sample_subjects(model, 4, seed=12)
    state = fitter.encode(subjects.global_orient, subjects.body_pose, subjects.betas, subjects.camera.t)
    params = fitter.decode(state)
    from humanrecon.geometry.rotations import axis_angle_to_matrix

    torch.testing.assert_close(params["body_pose"], axis_angle_to_matrix(subjects.body_pose.reshape(4, 23, 3)),
                               atol=1e-5, rtol=0)
    torch.testing.assert_close(params["transl"], subjects.camera.t, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(params["betas"], subjects.betas)


def test_a_fresh_network_learns_on_a_tiny_set(model, tmp_path):
    config = LGDTrainConfig(steps=120, max_seconds=None, batch=8, hidden=64, iterations=2, lr=3e-3,
                            checkpoint_every=0, progress=False)
    _, history = train_lgd(model, tmp_path / "tiny.pt", config)
    early, late = sum(history.losses[:10]) / 10, sum(history.losses[-10:]) / 10
    assert late < 0.8 * early, (early, late)
    network = load_network(tmp_path / "tiny.pt")
    assert network.settings["hidden"] == 64 and network.iterations == 2
    from dataclasses import replace

    _, more = train_lgd(model, tmp_path / "tiny.pt", replace(config, steps=130), resume=True)
    assert more.steps == 10  # continues at step 120


def test_resume_equals_an_uninterrupted_run(model, tmp_path):
    """8 steps in one go, and 4 + an interruption + 4 resumed, end with the same weights
    (which needs Adam's moments and step counts restored, not only the counters)."""
    from tests.resume_check import Interrupted, InterruptAt

    config = LGDTrainConfig(steps=8, max_seconds=None, batch=4, hidden=32, iterations=1, checkpoint_every=4,
                            progress=False)
    whole, _ = train_lgd(model, tmp_path / "whole.pt", config)
    with pytest.raises(Interrupted):
        train_lgd(model, tmp_path / "cut.pt", config, hooks=[InterruptAt(4)])
    saved = torch.load(tmp_path / "cut.pt", weights_only=True)
    assert saved["step"] == 4 and saved["optimizer"]["state"]
    halfway = saved["state_dict"]
    resumed, history = train_lgd(model, tmp_path / "cut.pt", config, resume=True)
    assert history.steps == 4
    for name, tensor in whole.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], tensor, atol=1e-6, rtol=1e-6, msg=name)
    assert any(not torch.equal(halfway[name], tensor) for name, tensor in whole.state_dict().items())


def test_training_data_is_the_tuning_half_with_faults(model):
    library = library_tuning_poses()
    a = training_subjects(model, 8, 10**6, library)
    b = training_subjects(model, 8, 10**6, library)
    torch.testing.assert_close(a.keypoints, b.keypoints)  # reproducible from the seed
    assert a.body_pose.shape == (8, 69) and len(a.camera) == 8
    fitter = LGDFitter(model, LGDNetwork(hidden=32, iterations=1))
    batch = make_batch(fitter, a)
    obs = fitter.observe(a.keypoints, a.confidence, a.intrinsics)
    loss, parts = lgd_loss(fitter, [batch.state], batch)  # the true state scores ~0
    assert parts["joints_mm"] < 0.1 and parts["vertices_mm"] < 0.1 and loss < 1e-3
    assert fitter.energy(batch.state, obs).shape == (8,)


@pytest.mark.skipif(not WEIGHTS.is_file(), reason="shipped LGD weights missing")
def test_shipped_weights_fit_people_training_never_saw(model):
    from humanrecon.body.pose_library import library_poses

    _, body, root = library_poses("reporting")
    subjects = sample_subjects(model, 12, noise_px=2.0, seed=321, faults=DETECTOR_FAULTS,
                               poses=(torch.as_tensor(root), torch.as_tensor(body)))
    fitter = LGDFitter(model)
    args = (subjects.keypoints, subjects.confidence, subjects.intrinsics, subjects.image_size)
    result = fitter.fit(*args)
    obs = fitter.observe(*args[:3])
    with torch.no_grad():
        states = fitter.unroll(obs)
    start, end = fitter.energy(states[0], obs), fitter.energy(states[-1], obs)
    assert end.mean() < 0.5 * start.mean()  # the updates lower the reprojection energy
    with torch.no_grad():
        out = model(betas=result.betas, global_orient=result.global_orient, body_pose=result.body_pose)
    error = pa_mpjpe(out.joints[:, :24], subjects.joints)
    assert error.mean() < 0.12, error  # metres; SMPLify on such people: ~0.1
    assert result.reprojection_error_px.median() < 25
    refined = fitter.fit(*args, method="lgd+smplify")
    assert refined.reprojection_error_px.mean() < result.reprojection_error_px.mean()
    assert refined.iterations > result.iterations == fitter.iterations


def test_bad_and_foreign_weight_files(model, tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="junk.pt"):
        LGDFitter(model, junk)
    from humanrecon.io.checkpoints import save_checkpoint

    other = save_checkpoint(tmp_path / "nerf.pt", "nerf", {}, {})
    with pytest.raises(CheckpointError, match="expected a humanrecon-lgd checkpoint"):
        load_network(other)
    smplx_sized = save_network(tmp_path / "smplx.pt", LGDNetwork(body_joints=21, hidden=16))
    with pytest.raises(CheckpointError, match="do not fit the"):
        LGDFitter(model, smplx_sized)
    broken = tmp_path / "broken.pt"
    data = torch.load(smplx_sized, weights_only=True)
    data["state_dict"].pop("mean_state")
    torch.save(data, broken)
    with pytest.raises(CheckpointError, match="damaged lgd checkpoint"):
        load_network(broken)
    with pytest.raises(InputError, match="method must be"):
        make_fitter(model, "hmr")


def test_auto_picks_lgd_smplify_where_weights_exist(model):
    from humanrecon.fitting.lgd import resolve_method

    assert resolve_method("auto", model) == "lgd+smplify"  # the open body's weights are shipped
    official = SimpleNamespace(name="SMPL_NEUTRAL.pkl")
    assert resolve_method("auto", official) == "smplify"
    assert resolve_method("auto", official, "my_lgd.pt") == "lgd+smplify"
    assert resolve_method("lgd", official) == "lgd"


@pytest.mark.skipif(not WEIGHTS.is_file(), reason="shipped LGD weights missing")
def test_cli_fit_with_lgd(tmp_path):
    from humanrecon.cli import main

    photo, keypoints = asset_path("samples/basketball1.png"), asset_path("samples/basketball1_keypoints.json")
    for method in ("lgd", "lgd+smplify"):
        out = tmp_path / method
        assert main(["fit", str(photo), "--keypoints", str(keypoints), "--out", str(out), "--method", method,
                     "--quiet"]) == 0
        person = json.loads((out / "params.json").read_text())["people"][0]
        assert person["reprojection_error_px"] < 25.0 and (out / "overlay.png").is_file()
        assert json.loads((out / "params.json").read_text())["method"] == method


def test_training_poses_from_a_corpus_take_the_train_split_only(tmp_path):
    import numpy as np

    from humanrecon.body.pose_corpus import PoseCorpus, write_corpus
    from humanrecon.fitting.lgd_training import training_poses

    body = np.arange(3 * 69, dtype=np.float32).reshape(3, 69) / 1000
    corpus = PoseCorpus(body, np.zeros((3, 3), np.float32), np.array(["train", "validation", "train"]),
                        np.array([1, 2, 1]), np.array(["01_01", "02_01", "01_01"]), np.zeros(3, bool))
    root, pose = training_poses(str(write_corpus(tmp_path / "c.npz", corpus)), 21)
    assert pose.shape == (2, 63) and root.shape == (2, 3)
    torch.testing.assert_close(pose, torch.as_tensor(body[[0, 2], :63]))
    assert training_poses("library")[1].shape == (36, 69)
    root, pose = training_poses(str(tmp_path / "c.npz"), 23, library_fraction=0.5)
    assert pose.shape == (2 + 36, 69)  # at least every library pose once
    library = training_poses("library")[1]
    torch.testing.assert_close(pose[2:], library)
