"""The fitter on everyday poses: the shipped everyday pose prior, starts from the pose
library, the left/right swap search, and the benchmark's pose families."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from humanrecon.body import BodyModel, keypoint_map
from humanrecon.body.keypoints import BODY25_LIMB_PAIRS
from humanrecon.body.pose_library import TUNING_POSES, library_poses
from humanrecon.errors import InputError
from humanrecon.fitting import mixture
from humanrecon.fitting.priors import EverydayPosePrior, JointLimitPrior
from humanrecon.fitting.smplify import SMPLify, Stage
from humanrecon.fitting.synthetic import pa_mpjpe, sample_subjects

QUICK = (
    Stage(20, 0.0, 0.0, 0.0, ("transl", "global_orient"), torso_only=True, depth_weight=100.0, rho=10.0),
    Stage(20, 2.5, 2.5, 0.5, rho=20.0),
    Stage(20, 1.0, 1.0, 0.1, rho=5.0),
)
TOOLS = Path(__file__).resolve().parents[2] / "tools"


@pytest.fixture(scope="module")
def model():
    return BodyModel.load("open")


def test_shipped_prior_states_how_it_was_built_and_prefers_its_poses():
    prior = EverydayPosePrior()
    settings = json.loads(str(np.load(prior_path(), allow_pickle=False)["settings"]))
    assert settings == {"components": mixture.COMPONENTS, "samples_per_pose": mixture.SAMPLES_PER_POSE,
                        "perturbation_rad": mixture.PERTURBATION_RAD,
                        "covariance_floor_rad": mixture.COVARIANCE_FLOOR_RAD,
                        "em_iterations": mixture.EM_ITERATIONS, "seed": mixture.SEED,
                        "trained_on": "TUNING half of humanrecon.body.pose_library"}
    assert prior.means.shape == (mixture.COMPONENTS, 69)
    _, tuning, _ = library_poses("tuning")
    random = JointLimitPrior().sample(200, 0.5, torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert prior(torch.as_tensor(tuning)).mean() < 0.5 * prior(random).mean()
        # beyond a joint limit the steep penalty dominates
        bent = torch.as_tensor(tuning[:1]).clone()
        bent[0, 3 * 3] = -1.0  # left knee bent backwards by 1 rad (limit -0.05)
        assert prior(bent) > prior(torch.as_tensor(tuning[:1])) + 50


def prior_path() -> Path:
    from humanrecon._assets import asset_path
    from humanrecon.fitting.priors import EVERYDAY_PRIOR_ASSET

    return asset_path(EVERYDAY_PRIOR_ASSET)


def test_prior_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "not_a_prior.npz"
    np.savez(bad, means=np.zeros((2, 69)))
    with pytest.raises(InputError, match="not_a_prior.npz.*missing"):
        EverydayPosePrior(bad)


def test_starts_come_from_the_tuning_half_only(model):
    fitter = SMPLify(model)
    candidates = fitter.start_candidates()
    assert len(candidates.body_pose) == (len(TUNING_POSES) + 1) * len(fitter.start_yaws)
    _, tuning, _ = library_poses("tuning")
    _, reporting, _ = library_poses("reporting")
    rows = torch.as_tensor(np.concatenate([np.zeros((1, 69), np.float32), tuning]))
    torch.testing.assert_close(candidates.body_pose[:: len(fitter.start_yaws)], rows)
    for pose in reporting:  # no reporting pose is a start
        assert (candidates.body_pose - torch.as_tensor(pose)).abs().amax(1).min() > 1e-3


def test_library_starts_beat_the_rest_pose_on_crouching_and_sitting(model):
    names, body, root = library_poses("reporting")
    keep = [i for i, n in enumerate(names) if n.split("_")[0] in ("squat", "crouch", "sit", "kneel")][:6]
    subjects = sample_subjects(model, len(keep), noise_px=0.0, drop=0.0, seed=2, max_yaw_deg=60,
                               poses=(torch.as_tensor(root[keep]), torch.as_tensor(body[keep])), pose_noise=0.05)
    errors = {}
    for starts in ("library", None):
        fitter = SMPLify(model, stages=QUICK, start_poses=starts, mirror_search=False, swap_search=False)
        fit = fitter.fit(subjects.keypoints, subjects.confidence, subjects.intrinsics, subjects.image_size,
                         progress=False)
        with torch.no_grad():
            out = model(betas=fit.betas, global_orient=fit.global_orient, body_pose=fit.body_pose)
        errors[starts] = 1000 * pa_mpjpe(out.joints[:, :24], subjects.joints).mean()
    assert errors["library"] < 0.8 * errors[None], errors


def test_swap_search_undoes_swapped_arms(model):
    subjects = sample_subjects(model, 4, noise_px=0.0, drop=0.0, seed=4, max_yaw_deg=40, pose_scale=0.3)
    index = {n: i for i, n in enumerate(keypoint_map(model, "body25").names)}
    (left, right), _ = BODY25_LIMB_PAIRS
    order = list(range(25))
    for a, b in zip(left, right):
        order[index[a]], order[index[b]] = index[b], index[a]
    swapped = subjects.keypoints[:, order]
    error = {}
    for search in (True, False):
        fit = SMPLify(model, stages=QUICK, mirror_search=False, swap_search=search).fit(
            swapped, subjects.confidence, subjects.intrinsics, subjects.image_size, progress=False)
        # distance of the fitted keypoints to the true (unswapped) keypoints
        error[search] = (fit.keypoints_2d - subjects.clean_keypoints).norm(dim=-1).mean(1)
    assert (error[False] > 10.0).all(), error  # without the search the arms stay crossed
    # with it, most people get their arms back (the fitted keypoints 10+ px closer to the truth)
    assert (error[True] < error[False] - 10.0).sum() >= 3, error


def _bench():
    spec = importlib.util.spec_from_file_location("bench_fit_tool", TOOLS / "bench_fit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_pose_families(model, tmp_path):
    bench = _bench()
    assert bench.family_poses("prior", model) is None
    root, body = bench.family_poses("library", model)
    assert body.shape == (len(library_poses("reporting")[0]), 69) and root.shape == (body.shape[0], 3)
    motion = tmp_path / "motion.npz"
    poses = np.zeros((40, 72), np.float32)
    poses[:, 3 * 18 + 1] = np.linspace(-1.0, 0.0, 40)  # left elbow (joint 18) bending
    np.savez(motion, poses=poses, trans=np.zeros((40, 3)), mocap_framerate=30.0)
    root, body = bench.subsample(bench.family_poses(f"file:{motion}", model), 5)
    assert body.shape == (5, 69) and (root == 0).all()
    np.testing.assert_allclose(body[:, 3 * 17 + 1].numpy(), np.linspace(-1.0, 0.0, 5), atol=0.03)


def test_bench_mocap_family_reads_the_validation_subjects(model, tmp_path):
    from humanrecon.body.pose_corpus import PoseCorpus, write_corpus

    bench = _bench()
    body = np.full((4, 69), 0.1, np.float32)
    body[1] = 0.2  # a training subject's pose
    body[3] = 0.3  # a mirrored validation pose
    corpus = PoseCorpus(body, np.zeros((4, 3), np.float32), np.array(["validation", "train", "validation",
                                                                      "validation"]),
                        np.array([2, 1, 6, 6]), np.array(["02_01", "01_01", "06_02", "06_02"]),
                        np.array([False, False, False, True]))
    bench.CORPUS = write_corpus(tmp_path / "corpus.npz", corpus)
    root, poses = bench.family_poses("mocap", model)
    assert poses.shape == (2, 69) and torch.allclose(poses, torch.full((2, 69), 0.1))
