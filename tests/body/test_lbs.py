"""The pure LBS functions against smplx.lbs (same inputs, same outputs) and the numpy
reference in tests/oracles.py."""

from __future__ import annotations

import pytest
import smplx.lbs as ref
import torch

from humanrecon.body.lbs import batch_rigid_transform, blend_shapes, lbs, skin_vertices, vertices2joints
from humanrecon.geometry.rotations import axis_angle_to_matrix
from tests import oracles
from tests.body.model_factory import parents_for

PARENTS = torch.tensor(parents_for("smplx"))  # 55 joints, 4 tree levels of hands


def _inputs(batch=5, num_v=300, seed=0):
    g = torch.Generator().manual_seed(seed)
    num_j = len(PARENTS)
    w = torch.rand(num_v, num_j, generator=g)
    jr = torch.rand(num_j, num_v, generator=g)
    return {
        "betas": torch.randn(batch, 12, generator=g, dtype=torch.float64),
        "pose": 0.5 * torch.randn(batch, num_j * 3, generator=g, dtype=torch.float64),
        "v_template": torch.randn(num_v, 3, generator=g, dtype=torch.float64),
        "shapedirs": 0.05 * torch.randn(num_v, 3, 12, generator=g, dtype=torch.float64),
        "posedirs": 0.01 * torch.randn(9 * (num_j - 1), num_v * 3, generator=g, dtype=torch.float64),
        "J_regressor": (jr / jr.sum(1, keepdim=True)).double(),
        "parents": PARENTS,
        "lbs_weights": (w / w.sum(1, keepdim=True)).double(),
    }


@pytest.mark.parametrize("with_posedirs", [True, False])
def test_lbs_matches_smplx(with_posedirs):
    x = _inputs()
    if not with_posedirs:
        x_ref = dict(x, posedirs=torch.zeros_like(x["posedirs"]))
        x = dict(x, posedirs=None)
    else:
        x_ref = x
    v, j = lbs(**x)
    v_ref, j_ref = ref.lbs(**x_ref)
    torch.testing.assert_close(v, v_ref, atol=1e-7, rtol=0)
    torch.testing.assert_close(j, j_ref, atol=1e-7, rtol=0)
    assert v.is_contiguous()
    v_np, j_np = oracles.lbs(**{k: None if t is None else t.numpy() for k, t in x.items()})
    torch.testing.assert_close(v, torch.from_numpy(v_np), atol=1e-7, rtol=0)
    torch.testing.assert_close(j, torch.from_numpy(j_np), atol=1e-7, rtol=0)


def test_rotation_matrix_pose_and_precomputed_joints():
    x = _inputs(seed=1)
    rot = axis_angle_to_matrix(x["pose"].reshape(5, -1, 3))
    jt = x["J_regressor"] @ x["v_template"]
    js = torch.einsum("jv,vck->jck", x["J_regressor"], x["shapedirs"])
    v, j = lbs(**dict(x, pose=rot, pose2rot=False, joint_template=jt, joint_shapedirs=js))
    v_ref, j_ref = ref.lbs(**dict(x, pose=rot, pose2rot=False))
    torch.testing.assert_close(v, v_ref, atol=1e-7, rtol=0)
    torch.testing.assert_close(j, j_ref, atol=1e-7, rtol=0)


def test_building_blocks_match_smplx():
    x = _inputs(seed=2)
    torch.testing.assert_close(blend_shapes(x["betas"], x["shapedirs"]), ref.blend_shapes(x["betas"], x["shapedirs"]))
    torch.testing.assert_close(vertices2joints(x["J_regressor"], x["v_template"][None]),
                               ref.vertices2joints(x["J_regressor"], x["v_template"][None]))
    rot = axis_angle_to_matrix(x["pose"].reshape(5, -1, 3))
    joints = torch.randn(5, len(PARENTS), 3, dtype=torch.float64)
    posed, rel = batch_rigid_transform(rot, joints, PARENTS)
    posed_ref, rel_ref = ref.batch_rigid_transform(rot, joints, PARENTS, dtype=torch.float64)
    torch.testing.assert_close(posed, posed_ref)
    torch.testing.assert_close(rel, rel_ref)
    v = torch.randn(5, 300, 3, dtype=torch.float64)
    w = x["lbs_weights"]
    expected = oracles.skin(w.numpy(), rel.numpy(), v.numpy())
    torch.testing.assert_close(skin_vertices(w, rel, v), torch.from_numpy(expected))


def test_gradcheck_lbs():
    x = _inputs(batch=2, num_v=20, seed=3)
    x["parents"] = torch.tensor(parents_for("smpl"))
    num_j = 24
    x["lbs_weights"] = x["lbs_weights"][:, :num_j] / x["lbs_weights"][:, :num_j].sum(1, keepdim=True)
    x["J_regressor"] = x["J_regressor"][:num_j]
    x["posedirs"] = x["posedirs"][: 9 * (num_j - 1), :60]
    betas = x.pop("betas").requires_grad_(True)
    pose = x.pop("pose")[:, : num_j * 3].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda b, p: lbs(b, p, **x)[0], (betas, pose))


def test_parents_must_precede_children():
    bad = PARENTS.clone()
    bad[3] = 7
    with pytest.raises(ValueError, match="parents must precede their children"):
        batch_rigid_transform(torch.eye(3).expand(1, 55, 3, 3), torch.zeros(1, 55, 3), bad)
