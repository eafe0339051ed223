"""SMPLify on synthetic subjects with known ground truth, and its priors against
independent formulas (scipy's multivariate normal, SMPLify's angle prior)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from humanrecon.body import BodyModel, keypoint_map
from humanrecon.fitting.priors import GMMPosePrior, JointLimitPrior, bending_prior, geman_mcclure, joint_limits
from humanrecon.fitting.smplify import SMPLify, Stage
from humanrecon.fitting.synthetic import pa_mpjpe, procrustes_align, sample_subjects

QUICK = (
    Stage(20, 0.0, 0.0, 0.0, ("transl", "global_orient"), torso_only=True, depth_weight=100.0),
    Stage(20, 2.5, 2.5, 0.5),
    Stage(20, 0.5, 0.5, 0.1),
    Stage(20, 0.25, 0.25, 0.05),
)


@pytest.fixture(scope="module")
def model():
    return BodyModel.load("open")


@pytest.fixture(scope="module")
def subjects(model):
    return sample_subjects(model, 6, noise_px=0.0, drop=0.0, seed=5, pose_scale=0.3, max_yaw_deg=60)


@pytest.fixture(scope="module")
def fitted(model, subjects):
    return SMPLify(model, stages=QUICK).fit(subjects.keypoints, subjects.confidence, subjects.camera.K,
                                            subjects.image_size, progress=False)


def test_recovers_synthetic_subjects(model, subjects, fitted):
    assert fitted.reprojection_error_px.mean() < 3.0
    with torch.no_grad():
        out = model(betas=fitted.betas, global_orient=fitted.global_orient, body_pose=fitted.body_pose)
    error_mm = 1000 * pa_mpjpe(out.joints[:, :24], subjects.joints)
    assert error_mm.mean() < 60.0, error_mm
    # the start (mean body in rest pose) is far worse
    with torch.no_grad():
        rest = model(global_orient=subjects.global_orient, body_pose=torch.zeros(6, 69))
    assert 1000 * pa_mpjpe(rest.joints[:, :24], subjects.joints).mean() > 1.5 * error_mm.mean()


def pinhole(camera, points):
    """By hand: ``x_cam = R X + t``, ``u = fx x/z + s y/z + cx``, ``v = fy y/z + cy`` (numpy)."""
    K, R, t = (a.double().numpy() for a in (camera.K, camera.R, camera.t))
    x, y, z = np.moveaxis(np.einsum("bij,bkj->bki", R, points.double().numpy()) + t[:, None], -1, 0)
    fx, s, cx, fy, cy = (K[:, None, i, j] for i, j in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2)))
    return np.stack([fx * x / z + s * y / z + cx, fy * y / z + cy], axis=-1)


def mean_error_px(pixels, keypoints, confidence):
    """Mean distance (B,) over the keypoints with confidence > 0."""
    seen = confidence.numpy() > 0
    return (np.linalg.norm(pixels - keypoints.numpy(), axis=-1) * seen).sum(1) / seen.sum(1)


def test_result_is_consistent(model, fitted, subjects):
    np.testing.assert_allclose(fitted.keypoints_2d.numpy(), pinhole(fitted.camera, fitted.keypoints_3d), atol=1e-3)
    np.testing.assert_allclose(fitted.reprojection_error_px.numpy(),
                               mean_error_px(fitted.keypoints_2d.numpy(), subjects.keypoints, subjects.confidence),
                               rtol=1e-5)
    # mesh and keypoints are those of the returned parameters (transl 0, the camera moved)
    with torch.no_grad():
        out = model(betas=fitted.betas, global_orient=fitted.global_orient, body_pose=fitted.body_pose)
    torch.testing.assert_close(fitted.vertices, out.vertices)
    torch.testing.assert_close(fitted.keypoints_3d, keypoint_map(model, "body25")(out), atol=1e-5, rtol=0)
    person = fitted.person(0)
    assert person["body_pose"] == fitted.body_pose[0].tolist() and person["transl"] == [0.0, 0.0, 0.0]
    assert person["camera"]["t"] == fitted.camera.t[0].tolist()
    assert person["reprojection_error_px"] == pytest.approx(float(fitted.reprojection_error_px[0]))
    assert len(person["body_pose"]) == 69 and person["camera"]["width"] == subjects.image_size[0]
    assert set(person["losses"]) == {"data", "pose", "shape", "bend", "upright"}


def test_deterministic(model, subjects):
    args = (subjects.keypoints[:2], subjects.confidence[:2], subjects.camera.K[:2], subjects.image_size)
    a = SMPLify(model, stages=QUICK[:2]).fit(*args, progress=False)
    b = SMPLify(model, stages=QUICK[:2]).fit(*args, progress=False)
    torch.testing.assert_close(a.vertices, b.vertices, atol=0, rtol=0)


def test_adam_option_fits_too(model, subjects):
    stages = (QUICK[0], Stage(40, 1.0, 1.0, 0.1))
    result = SMPLify(model, stages=stages, optimizer="adam", adam_lr=0.03).fit(
        subjects.keypoints[:2], subjects.confidence[:2], subjects.camera.K[:2], subjects.image_size, progress=False)
    assert result.reprojection_error_px.mean() < 15.0


def test_zero_confidence_keypoints_are_ignored(model, subjects):
    """Moving a keypoint with confidence 0 anywhere must not change the fit."""
    conf = subjects.confidence[:1].clone()
    conf[0, 4] = 0.0
    moved = subjects.keypoints[:1].clone()
    moved[0, 4] += 300.0
    args = (conf, subjects.camera.K[:1], subjects.image_size)
    a = SMPLify(model, stages=QUICK[:2]).fit(subjects.keypoints[:1], *args, progress=False)
    b = SMPLify(model, stages=QUICK[:2]).fit(moved, *args, progress=False)
    torch.testing.assert_close(a.vertices, b.vertices)


def test_bad_inputs(model, subjects):
    fitter = SMPLify(model, stages=QUICK[:1])
    k, c, K, size = subjects.keypoints[:1], subjects.confidence[:1], subjects.camera.K[:1], subjects.image_size
    with pytest.raises(ValueError, match=r"keypoints must be \(B, 25, 2\)"):
        fitter.fit(k[:, :17], c[:, :17], K, size)
    bad = k.clone()
    bad[0, 3, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        fitter.fit(bad, c, K, size)
    with pytest.raises(ValueError, match="no keypoint with confidence > 0"):
        fitter.fit(k, torch.zeros_like(c), K, size)
    with pytest.raises(ValueError, match="cannot be fitted to body keypoints"):
        SMPLify(BodyModel.load("open-hand"))


def test_gmm_prior_matches_scipy(tmp_path):
    rng = np.random.default_rng(0)
    means = rng.normal(size=(3, 69)) * 0.2
    covars = np.stack([np.diag(rng.uniform(0.05, 0.3, 69)) for _ in range(3)])
    weights = np.array([0.5, 0.3, 0.2])
    path = tmp_path / "gmm_08.pkl"
    path.write_bytes(pickle.dumps({"means": means, "covars": covars, "weights": weights}, protocol=2))
    prior = GMMPosePrior.load(path)
    x = rng.normal(size=(5, 69)) * 0.3
    gaussians = [multivariate_normal(means[m], covars[m]) for m in range(3)]
    neg_log = np.stack([-np.log(weights[m]) - gaussians[m].logpdf(x) for m in range(3)])
    # per-sample max-mixture, offset so that the best possible value (at the mean of the
    # component with the highest peak w_m N(mu_m; mu_m, Sigma_m)) is 0
    peak = min(-np.log(weights[m]) - gaussians[m].logpdf(means[m]) for m in range(3))
    expected = neg_log.min(0) - peak
    ours = prior(torch.tensor(x, dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-3)
    best = int(np.argmin([-np.log(weights[m]) - gaussians[m].logpdf(means[m]) for m in range(3)]))
    assert prior(torch.tensor(means[best:best + 1], dtype=torch.float32)).item() == pytest.approx(0.0, abs=1e-3)


def test_gmm_file_errors(tmp_path):
    path = tmp_path / "not_gmm.pkl"
    path.write_bytes(pickle.dumps({"means": np.zeros((2, 69))}, protocol=2))
    with pytest.raises(ValueError, match="not a pose GMM file, missing"):
        GMMPosePrior.load(path)


def test_joint_limits_are_mirrored_and_contain_rest():
    limits = joint_limits()
    assert (limits[..., 0] <= 0).all() and (limits[..., 1] >= 0).all()
    left, right = limits[15], limits[16]  # left/right shoulder (body_pose order)
    torch.testing.assert_close(right[0], left[0])
    torch.testing.assert_close(right[1:], -left[1:].flip(-1))


def test_joint_limit_prior():
    prior = JointLimitPrior()
    inside = prior.sample(64, 1.0, torch.Generator().manual_seed(0))
    assert ((inside >= prior.lower) & (inside <= prior.upper)).all()
    pose = torch.zeros(1, 69)
    assert prior(pose).item() == 0.0
    pose[0, 3 * 3] = -0.5  # left knee bent backwards, beyond its -0.05 limit
    excess = 0.45
    expected = 0.5 * (0.5 / prior.std[9]) ** 2 + 100.0 * excess ** 2
    torch.testing.assert_close(prior(pose), expected.reshape(1))


def test_bending_prior_is_smplifys_angle_prior():
    pose = torch.randn(4, 69)
    full = torch.cat([torch.zeros(4, 3), pose], 1)
    expected = torch.exp(full[:, [55, 58, 12, 15]] * torch.tensor([1.0, -1.0, -1.0, -1.0])).sum(1)
    torch.testing.assert_close(bending_prior(pose), expected)


def test_geman_mcclure():
    r2 = torch.tensor([0.0, 1.0, 1e8])
    out = geman_mcclure(r2, 10.0)
    torch.testing.assert_close(out, torch.tensor([0.0, 100.0 / 101.0, 100.0 * 1e8 / (1e8 + 100.0)]))


def test_procrustes_recovers_similarity():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 24, 3, generator=g)
    from humanrecon.geometry.rotations import axis_angle_to_matrix

    rot = axis_angle_to_matrix(torch.tensor([[0.3, -1.0, 2.0], [0.0, 0.1, 0.0]]))
    y = 1.7 * x @ rot.transpose(1, 2) + torch.tensor([1.0, 2.0, 3.0])
    torch.testing.assert_close(procrustes_align(x, y), y, atol=1e-5, rtol=0)


def test_official_smpl_layout_model_fits(tmp_path, model, subjects):
    """An SMPL-layout file (here the open body without its surface regressor, so keypoints
    come from SMPL joints as for official files) goes through the same fitter."""
    from humanrecon.body.io import load_model_arrays
    from humanrecon._assets import asset_path

    arrays = load_model_arrays(asset_path("models/open_body.npz"))
    keep = ("v_template", "shapedirs", "J_regressor", "weights", "kintree_table", "f")
    np.savez(tmp_path / "SMPL_NEUTRAL.npz", **{k: arrays[k] for k in keep})
    smpl = BodyModel.load(tmp_path / "SMPL_NEUTRAL.npz")
    fitter = SMPLify(smpl, stages=QUICK[:2])
    assert int(fitter.kmap.available.sum()) == 14  # joints only: no face/feet vertex picks on this topology
    result = fitter.fit(subjects.keypoints[:2], subjects.confidence[:2], subjects.camera.K[:2], subjects.image_size,
                        progress=False)
    assert result.reprojection_error_px.mean() < 25.0


def test_upright_prior():
    from humanrecon.fitting.priors import upright_prior

    angles = torch.tensor([[0.0, 1.3, 0.0], [0.3, 0.0, 0.0], [0.0, 0.0, -0.5]])  # yaw, pitch, roll
    expected = torch.tensor([0.0, np.sin(0.3) ** 2, np.sin(0.5) ** 2], dtype=torch.float32)
    torch.testing.assert_close(upright_prior(angles), expected)


def test_smplx_layout_model_runs(tmp_path, subjects):
    """SMPL-X's 63-dim body pose goes through the same priors (joint limits of SMPL's first
    21 body joints) and keypoint map (skeleton joints + smplx vertex picks)."""
    from tests.body.model_factory import random_model_arrays, write_npz

    smplx_model = BodyModel.load(write_npz(random_model_arrays("smplx"), tmp_path / "SMPLX_NEUTRAL.npz"))
    fitter = SMPLify(smplx_model, stages=QUICK[:2])
    assert fitter.body_dim == 63 and bool(fitter.kmap.available.all())
    result = fitter.fit(subjects.keypoints[:1], subjects.confidence[:1], subjects.camera.K[:1], subjects.image_size,
                        progress=False)
    assert result.body_pose.shape == (1, 63) and result.betas.shape == (1, smplx_model.num_betas)
    with torch.no_grad():
        out = smplx_model(betas=result.betas, global_orient=result.global_orient, body_pose=result.body_pose)
        rest = smplx_model(betas=result.betas, global_orient=result.global_orient)
    torch.testing.assert_close(result.vertices, out.vertices)
    kmap = keypoint_map(smplx_model, "body25")
    torch.testing.assert_close(result.keypoints_3d, kmap(out), atol=1e-5, rtol=0)
    np.testing.assert_allclose(result.keypoints_2d.numpy(), pinhole(result.camera, result.keypoints_3d), atol=1e-3)
    error = mean_error_px(result.keypoints_2d.numpy(), subjects.keypoints[:1], subjects.confidence[:1])
    np.testing.assert_allclose(result.reprojection_error_px.numpy(), error, rtol=1e-5)
    # the 63 pose values are fitted: the rest pose in the same camera is far worse (139 px vs 61 px)
    rest_error = mean_error_px(pinhole(result.camera, kmap(rest)), subjects.keypoints[:1], subjects.confidence[:1])
    assert error[0] < 0.6 * rest_error[0], (error, rest_error)
    # the priors read the 63-dim pose in SMPL's order: elbows about y (body_pose 52, 55),
    # knees about x (9, 12), SMPLify's exp(sign θ) angle prior
    theta = result.body_pose[0].double()
    bend = torch.exp(theta[52]) + torch.exp(-theta[55]) + torch.exp(-theta[9]) + torch.exp(-theta[12])
    assert float(result.losses["bend"][0]) == pytest.approx(float(bend), rel=1e-5)
    assert float(result.losses["shape"][0]) == pytest.approx(float(result.betas.square().sum()), rel=1e-5)


def test_truth_start_projects_like_the_true_camera(model):
    """The true answer moved into the fitter's frame (camera fixed at FRONT_VIEW_R, the
    faults' pitch and roll in global_orient) projects to the clean keypoints: oracle =
    the true camera's own projection."""
    from humanrecon.fitting.synthetic import DETECTOR_FAULTS, truth_start

    truth = sample_subjects(model, 4, seed=3, faults=DETECTOR_FAULTS)
    fitter = SMPLify(model)
    start = truth_start(model, truth, fitter.num_betas)
    result = fitter.result_from(start, truth.clean_keypoints, torch.ones(4, 25), truth.camera.K, truth.image_size)
    seen = keypoint_map(model, "body25").available
    assert torch.allclose(result.keypoints_2d[:, seen], truth.clean_keypoints[:, seen], atol=1e-2)
    assert not torch.allclose(truth.camera.R, fitter._camera(truth.camera.K, start["transl"], truth.image_size).R)
