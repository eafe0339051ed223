"""The pose lifter: its loss against the body model's own joints, the winner-takes-all
gradient, made data against the true camera, a fresh lifter that learns, checkpoints, and
SMPLify's refinement of several starts per person (the lowest loss wins)."""

from __future__ import annotations

import pytest
import torch

from humanrecon.body import BodyModel
from humanrecon.body.lbs import rest_skeleton
from humanrecon.errors import CheckpointError, InputError
from humanrecon.fitting.lgd import LGDFitter, LGDNetwork, REFINE_STAGES
from humanrecon.fitting.lgd_training import fitter_frame_targets, library_tuning_poses
from humanrecon.fitting.lifting import PoseLifter, lifter_features, load_lifter
from humanrecon.fitting.lifting_training import (LifterTrainConfig, hypothesis_losses, make_chunk, train_lifter,
                                                 validation_errors, winner_takes_all)
from humanrecon.fitting.smplify import SMPLify
from humanrecon.fitting.synthetic import pa_mpjpe, sample_subjects, truth_start
from humanrecon.geometry.rotations import axis_angle_to_matrix, rotation_6d_to_matrix


@pytest.fixture(scope="module")
def model():
    return BodyModel.load("open")


def _skeleton(model):
    return rest_skeleton(model, None, 24), model.parents[:24].tolist()


def test_hypothesis_loss_is_the_body_models_joint_distance(model):
    gen = torch.Generator().manual_seed(3)
    poses = 0.4 * torch.randn(2, 3, 24, 3, generator=gen)  # 2 people x 3 hypotheses, axis-angle
    truth = 0.4 * torch.randn(2, 24, 3, generator=gen)
    losses, error = hypothesis_losses(axis_angle_to_matrix(poses), axis_angle_to_matrix(truth), *_skeleton(model))
    assert losses.shape == error.shape == (2, 3)

    def joints(aa):  # the oracle: the full body model, mean shape, no translation
        with torch.no_grad():
            return model(betas=torch.zeros(len(aa), 10), global_orient=aa[:, 0],
                         body_pose=aa[:, 1:].flatten(1)).joints[:, :24]

    expected = (joints(poses.flatten(0, 1)).view(2, 3, 24, 3) - joints(truth)[:, None]).norm(dim=-1).mean(-1)
    torch.testing.assert_close(error, expected, atol=1e-5, rtol=1e-4)
    zero, _ = hypothesis_losses(axis_angle_to_matrix(truth)[:, None], axis_angle_to_matrix(truth), *_skeleton(model))
    assert float(zero.abs().max()) < 1e-6


def test_winner_takes_all_pulls_mainly_the_best_hypothesis():
    losses = torch.tensor([[3.0, 1.0, 2.0]], requires_grad=True)
    scores = torch.zeros(1, 3, requires_grad=True)
    winner_takes_all(losses, scores).backward()
    grad = losses.grad[0]
    assert grad[1] == pytest.approx(1 + 0.05 / 3)
    assert grad[0] == pytest.approx(0.05 / 3) and grad[2] == pytest.approx(0.05 / 3)
    assert scores.grad[0, 1] < 0 < scores.grad[0, 0]  # the winner's score is pushed up


def test_made_data_are_the_people_the_true_camera_sees(model):
    pool = library_tuning_poses(23)
    chunk = make_chunk(model, pool, 7, people=16)
    assert chunk["features"].shape == (16, 78) and chunk["rot6d"].shape == (16, 24, 6)
    from humanrecon.fitting.lgd_training import training_subjects
    from humanrecon.fitting.lifting_training import FAULT_SHARE, LIFTER_SEED_BASE, POOL_SHARE

    people = training_subjects(model, 16, LIFTER_SEED_BASE + 700, pool, POOL_SHARE, FAULT_SHARE)
    target = fitter_frame_targets(people)
    rot = rotation_6d_to_matrix(chunk["rot6d"])
    with torch.no_grad():  # the stored rotations pose the true joints in the fitter's frame
        out = model(betas=people.betas, global_orient=rot[:, :1], body_pose=rot[:, 1:], pose2rot=False)
    torch.testing.assert_close(out.joints[:, :24], target["joints"], atol=1e-4, rtol=0)
    centre = chunk["features"][:, 75:77]  # the box centre's offset from the principal point / f
    seen = people.confidence > 0
    lo = torch.where(seen[..., None], people.keypoints, torch.tensor(1e9)).amin(1)
    hi = torch.where(seen[..., None], people.keypoints, torch.tensor(-1e9)).amax(1)
    focal = people.intrinsics[:, 0, 0]
    torch.testing.assert_close(centre, ((lo + hi) / 2 - people.intrinsics[:, :2, 2]) / focal[:, None])


def test_a_fresh_lifter_learns_and_round_trips(model, tmp_path):
    data = make_chunk(model, library_tuning_poses(23), 1, people=128)
    config = LifterTrainConfig(steps=40, max_seconds=None, batch=32, hidden=32, blocks=1, hypotheses=3,
                               checkpoint_every=0, progress=False)
    before = validation_errors(PoseLifter(hypotheses=3, hidden=32, blocks=1), data, *_skeleton(model))
    lifter, history = train_lifter(model, data, tmp_path / "lifter.pt", config)
    after = validation_errors(lifter, data, *_skeleton(model))
    assert after["best_mm"] < 0.8 * before["best_mm"], (before, after)
    loaded = load_lifter(tmp_path / "lifter.pt")  # float16 on disk, float32 again when loaded
    assert next(loaded.parameters()).dtype == torch.float32
    rot, scores = loaded(data["features"][:4])
    torch.testing.assert_close(rot, lifter(data["features"][:4])[0], atol=2e-2, rtol=0)
    assert rot.shape == (4, 3, 24, 3, 3) and scores.shape == (4, 3)
    eye = torch.eye(3).expand_as(rot)
    torch.testing.assert_close(rot @ rot.transpose(-1, -2), eye, atol=1e-5, rtol=0)


def test_a_foreign_file_is_not_lifter_weights(tmp_path, model):
    path = tmp_path / "lgd.pt"
    LGDNetwork().save(path)
    with pytest.raises(CheckpointError, match="lgd.pt"):
        load_lifter(path)


def test_refine_keeps_the_lowest_loss_start_per_person(model):
    subjects = sample_subjects(model, 2, noise_px=1.0, seed=21, poses=library_tuning_poses(23))
    args = (subjects.keypoints, subjects.confidence, subjects.intrinsics, subjects.image_size)
    smplify = SMPLify(model, mirror_search=False)
    truth = truth_start(model, subjects, smplify.num_betas)
    wrong = {k: v.clone() for k, v in truth.items()}
    wrong["body_pose"] = torch.zeros_like(wrong["body_pose"])
    wrong["global_orient"] = torch.tensor([0.0, 3.14159, 0.0]).expand(2, 3)  # turned round
    stacked = {k: torch.cat([wrong[k], truth[k]]) for k in truth}

    def error(result):
        with torch.no_grad():
            out = model(betas=result.betas, global_orient=result.global_orient, body_pose=result.body_pose)
        return 1000 * pa_mpjpe(out.joints[:, :24], subjects.joints)

    both, bad = (smplify.refine(s, *args, REFINE_STAGES) for s in (stacked, wrong))
    assert both.body_pose.shape == (2, 69)
    assert float(error(both).max()) < 25.0  # the start at the truth is kept
    assert float(error(bad).mean()) > float(error(both).mean()) + 20.0
    with pytest.raises(InputError, match="C·B"):
        smplify.refine({k: v[:1] for k, v in truth.items()}, *args, REFINE_STAGES)


def test_lgd_smplify_with_a_lifter_refines_every_hypothesis(model):
    subjects = sample_subjects(model, 2, noise_px=2.0, seed=23, poses=library_tuning_poses(23))
    lifter = PoseLifter(hypotheses=2, hidden=32, blocks=1)
    fitter = LGDFitter(model, smplify=SMPLify(model, mirror_search=False), lifter=lifter)
    obs = fitter.observe(subjects.keypoints, subjects.confidence, subjects.intrinsics)
    features = lifter_features(obs.features, obs.centre, obs.size, obs.intrinsics)
    assert features.shape == (2, 78)
    start = {"transl": torch.tensor([[0.0, 0.0, 5.0], [0.1, 0.0, 4.0]]), "global_orient": torch.zeros(2, 3),
             "body_pose": torch.zeros(2, 69), "betas": torch.zeros(2, 10)}
    stacked = fitter._with_hypotheses(start, obs)
    assert stacked["body_pose"].shape == (6, 69)  # LGD's start, then 2 hypotheses, candidate-major
    rot, _ = lifter(features)
    for k in range(2):
        for b in range(2):
            row = 2 * (k + 1) + b
            posed = axis_angle_to_matrix(torch.cat([stacked["global_orient"][row:row + 1],
                                                    stacked["body_pose"][row:row + 1]], 1).view(24, 3))
            torch.testing.assert_close(posed, rot[b, k], atol=1e-4, rtol=0)
            torch.testing.assert_close(stacked["transl"][row], start["transl"][b])
    result = fitter.fit(subjects.keypoints, subjects.confidence, subjects.intrinsics, subjects.image_size,
                        method="lgd+smplify")
    assert result.body_pose.shape == (2, 69)
    assert float(result.reprojection_error_px.max()) < 10.0


def test_a_lifter_for_another_skeleton_is_refused(model):
    with pytest.raises(CheckpointError, match="22 joints"):
        LGDFitter(model, lifter=PoseLifter(joints=22, hypotheses=2, hidden=16, blocks=1))


def test_unseen_legs_start_straight_seen_ones_keep_their_start():
    """A person cut at the thighs (no knee, ankle or foot keypoint) starts every candidate
    with straight legs; the other person, and every other joint, keep their starts."""
    from humanrecon.body.keypoints import BODY25_NAMES, SMPL_JOINT_NAMES
    from humanrecon.fitting.lgd import LIMBS, rest_unseen_limbs

    confidence = torch.ones(2, 25)
    leg_points = [BODY25_NAMES.index(p) for p in LIMBS["left_leg"][0] + LIMBS["right_leg"][0]]
    confidence[1, leg_points] = 0.0
    pose = torch.randn(3 * 2, 69, generator=torch.Generator().manual_seed(0))  # 3 candidates of 2 people
    start = {"body_pose": pose, "transl": torch.zeros(6, 3)}
    out = rest_unseen_limbs(start, confidence)
    assert out["transl"] is start["transl"]
    legs = [SMPL_JOINT_NAMES.index(j) - 1 for j in LIMBS["left_leg"][1] + LIMBS["right_leg"][1]]
    cols = torch.tensor([3 * j + a for j in legs for a in range(3)])
    other = torch.ones(69, dtype=torch.bool)
    other[cols] = False
    for row in range(6):
        person = row % 2
        if person == 1:
            assert out["body_pose"][row, cols].abs().max() == 0
        else:
            torch.testing.assert_close(out["body_pose"][row, cols], pose[row, cols])
        torch.testing.assert_close(out["body_pose"][row, other], pose[row, other])
    # one leg seen by a single heel keypoint keeps its start
    confidence[1, BODY25_NAMES.index("left_heel")] = 0.6
    out = rest_unseen_limbs(start, confidence)
    left = torch.tensor([3 * (SMPL_JOINT_NAMES.index(j) - 1) + a for j in LIMBS["left_leg"][1] for a in range(3)])
    torch.testing.assert_close(out["body_pose"][1, left], pose[1, left])
    assert rest_unseen_limbs(start, torch.ones(2, 25)) is start
    with pytest.raises(InputError, match="whole number"):
        rest_unseen_limbs(start, torch.ones(4, 25))
