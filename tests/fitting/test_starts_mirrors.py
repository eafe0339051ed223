"""Library starts ranked by 2D match, limb depth mirrors, the mixture EM and the benchmark's
fault model, each against an independent construction."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from humanrecon.body import BodyModel, keypoint_map
from humanrecon.fitting.mirrors import ALTERNATIVES, limb_alternatives, limb_indices, mirror
from humanrecon.fitting.mixture import fit_gaussian_mixture
from humanrecon.fitting.priors import JointLimitPrior
from humanrecon.fitting.starts import make_candidates, rank_starts, turn, weak_perspective_residual
from humanrecon.body.keypoints import BODY25_LIMB_PAIRS
from humanrecon.fitting.synthetic import Faults, sample_subjects
from humanrecon.geometry import Camera
from humanrecon.geometry.rotations import axis_angle_to_matrix


@pytest.fixture(scope="module")
def model():
    return BodyModel.load("open")


def _poses(n: int, seed: int) -> torch.Tensor:
    return JointLimitPrior().sample(n, 0.6, torch.Generator().manual_seed(seed))


def test_turn_composes_yaw_after_the_root():
    root = torch.tensor([[0.3, -0.2, 0.1], [0.0, 0.0, 0.0]])
    yaws = torch.tensor([0.0, 1.0, -2.0])
    turned = axis_angle_to_matrix(turn(root, yaws)).reshape(2, 3, 3, 3)
    for m in range(2):
        for y in range(3):
            expected = axis_angle_to_matrix(torch.tensor([[0.0, float(yaws[y]), 0.0]]))[0] \
                @ axis_angle_to_matrix(root[m:m + 1])[0]
            torch.testing.assert_close(turned[m, y], expected, atol=1e-5, rtol=0)


def test_ranking_finds_the_pose_and_yaw_that_made_the_keypoints(model):
    kmap = keypoint_map(model, "body25")
    poses = _poses(12, 0)

    def forward(orient, pose):
        out = model(global_orient=orient, body_pose=pose)
        return out.joints, kmap(out)

    yaws = torch.tensor(np.radians(np.arange(-135.0, 181.0, 45.0)), dtype=torch.float32)
    candidates = make_candidates(forward, torch.zeros(12, 3), poses, yaws)
    # photograph 5 candidates with a real perspective camera 6 m away, 3 % outliers
    chosen = torch.tensor([3, 17, 40, 66, 90])
    with torch.no_grad():
        out = model(global_orient=candidates.global_orient[chosen], body_pose=candidates.body_pose[chosen])
    cam = Camera(torch.tensor([[1000.0, 0, 500], [0, 1000.0, 500], [0, 0, 1]]).expand(5, 3, 3),
                 torch.diag(torch.tensor([1.0, -1.0, -1.0])).expand(5, 3, 3), torch.tensor([[0.2, 0.1, 6.0]]).expand(5, 3),
                 1000, 1000)
    points = cam.project(kmap(out))
    conf = kmap.available.float().expand(5, -1).clone()
    points[:, 4] += 300.0  # a gross outlier on every person (right wrist)
    best = rank_starts(candidates, points, conf, 3)
    assert (best[:, 0] == chosen).all(), best
    residual = weak_perspective_residual(candidates.keypoints, points, conf)
    assert residual.shape == (5, 96)


@pytest.mark.parametrize("limb", range(4))
def test_mirrored_limbs_keep_their_image_and_move_in_depth(model, limb):
    """Oracle: the posed joints of each alternative equal the limb rebuilt from bone vectors
    mirrored by hand; the rest of the skeleton does not move."""
    torch.manual_seed(limb)
    poses = _poses(6, 1 + limb).double()
    orient = (0.3 * torch.randn(6, 3)).double()
    m = BodyModel.load("open", dtype=torch.float64)
    with torch.no_grad():
        joints = m(global_orient=orient, body_pose=poses).joints[:, :24]
    a, b, c = limb_indices(m.joint_names)[limb]
    view = torch.nn.functional.normalize(torch.randn(6, 3, dtype=torch.float64), dim=-1)
    alternatives = limb_alternatives(orient, poses, joints, m.parents, (a, b, c), view)
    assert len(alternatives) == len(ALTERNATIVES)
    upper, lower = joints[:, b] - joints[:, a], joints[:, c] - joints[:, b]
    for pose, (flip_upper, flip_lower) in zip(alternatives, ALTERNATIVES):
        with torch.no_grad():
            moved = m(global_orient=orient, body_pose=pose).joints[:, :24]
        elbow = joints[:, a] + (mirror(upper, view) if flip_upper else upper)
        wrist = elbow + (mirror(lower, view) if flip_lower else lower)
        torch.testing.assert_close(moved[:, b], elbow, atol=1e-9, rtol=0)
        torch.testing.assert_close(moved[:, c], wrist, atol=1e-9, rtol=0)
        untouched = [j for j in range(24) if j not in (b, c) and not _descends(m.parents, j, b)]
        torch.testing.assert_close(moved[:, untouched], joints[:, untouched], atol=1e-9, rtol=0)
        # same image along the view direction: elbow and wrist moved only along `view`
        for j in (b, c):
            shift = moved[:, j] - joints[:, j]
            sideways = shift - (shift * view).sum(-1, keepdim=True) * view
            assert sideways.norm(dim=-1).max() < 1e-9
        assert (moved[:, c] - joints[:, c]).norm(dim=-1).max() > 1e-3  # something moved


def _descends(parents, joint: int, ancestor: int) -> bool:
    while joint > 0:
        joint = int(parents[joint])
        if joint == ancestor:
            return True
    return False


def test_mirror_keeps_the_projection_along_the_view():
    d, n = torch.randn(50, 3, dtype=torch.float64), torch.nn.functional.normalize(torch.randn(50, 3, dtype=torch.float64), dim=-1)
    md = mirror(d, n)
    across = lambda v: v - (v * n).sum(-1, keepdim=True) * n
    torch.testing.assert_close(across(md), across(d))
    torch.testing.assert_close((md * n).sum(-1), -(d * n).sum(-1))


def test_em_recovers_a_known_mixture():
    rng = np.random.default_rng(0)
    a = rng.normal([0.0, 0.0], 0.3, (3000, 2))
    b = rng.normal([3.0, 1.0], [0.5, 0.2], (1000, 2))
    gmm = fit_gaussian_mixture(np.concatenate([a, b]), components=2, iterations=40, floor=1e-3)
    order = np.argsort(gmm["means"][:, 0])
    np.testing.assert_allclose(gmm["means"][order], [[0.0, 0.0], [3.0, 1.0]], atol=0.05)
    np.testing.assert_allclose(gmm["weights"][order], [0.75, 0.25], atol=0.02)
    np.testing.assert_allclose(np.sqrt(np.diagonal(gmm["covars"][order[1]])), [0.5, 0.2], rtol=0.1)


def test_faults_do_what_they_say(model):
    clean = sample_subjects(model, 400, noise_px=0.0, drop=0.0, seed=3)
    faulty = sample_subjects(model, 400, noise_px=0.0, drop=0.0, seed=3,
                             faults=Faults(camera_pitch_deg=15, camera_roll_deg=5, focal_error=0.1, swap=0.1,
                                           outliers=0.05))
    torch.testing.assert_close(faulty.body_pose, clean.body_pose)
    # the camera is tilted by at most the pitch/roll bounds; the fitter is told a wrong focal
    angle = torch.arccos(((faulty.camera.R @ clean.camera.R.transpose(1, 2)).diagonal(dim1=1, dim2=2).sum(-1) - 1) / 2)
    assert angle.max() <= np.radians(np.hypot(15, 5)) + 1e-4 and angle.max() > np.radians(10)
    ratio = faulty.intrinsics[:, 0, 0] / faulty.camera.K[:, 0, 0]
    assert ratio.min() >= 0.9 - 1e-6 and ratio.max() <= 1.1 + 1e-6 and ratio.std() > 0.03
    # swaps: whole chains exchanged, ~10 % of people per limb pair
    kmap = keypoint_map(model, "body25")
    truth = faulty.camera.project(kmap(model(betas=faulty.betas, global_orient=faulty.global_orient,
                                             body_pose=faulty.body_pose)))
    index = {name: i for i, name in enumerate(kmap.names)}
    available = kmap.available
    wrong = ((faulty.keypoints - truth).norm(dim=-1) > 1e-2) & available
    for left, right in BODY25_LIMB_PAIRS:
        li, ri = [index[k] for k in left], [index[k] for k in right]
        swapped = torch.isclose(faulty.keypoints[:, li], truth[:, ri], atol=1e-3).all(-1).all(-1)
        assert 0.04 < swapped.float().mean() < 0.18
    rate = wrong.sum() / (available.sum() * 400)
    assert 0.05 < rate < 0.2  # 5 % outliers + the swapped chains
