"""Partial forward passes (``vertex_ids``) and the extras-as-vertex-weights matrix agree
with the full forward pass."""

from __future__ import annotations

import pytest
import torch

from humanrecon.body import BodyModel
from tests.body.model_factory import random_model_arrays, write_npz


@pytest.mark.parametrize("model_type", ["smpl", "smplx"])
def test_subset_and_extra_matrix(tmp_path, model_type):
    model = BodyModel.load(write_npz(random_model_arrays(model_type, seed=1), tmp_path / "m.npz"), use_pca=False)
    gen = torch.Generator().manual_seed(0)
    inputs = {k: 0.3 * torch.randn(3, n, generator=gen) for k, n in model.input_sizes().items()}
    full = model(**inputs)
    ids = torch.tensor([5, 17, 400, 2000, 6000])
    part = model(**inputs, vertex_ids=ids[[2, 0, 4, 1, 3]])  # any order in, ascending out
    torch.testing.assert_close(part.vertices, full.vertices[:, ids])
    torch.testing.assert_close(part.joints, full.joints[:, : model.num_joints])
    extras = torch.einsum("ev,bvc->bec", model.extra_joint_matrix(), full.vertices)
    torch.testing.assert_close(extras, full.joints[:, model.num_joints:], atol=1e-5, rtol=0)


@pytest.mark.parametrize("model_type, fmt", [("smplx", "body25"), ("smpl", "coco17")])
def test_restricted_keypoint_map_on_a_partial_pass_equals_the_full_map(tmp_path, model_type, fmt):
    """What SMPLify does while optimising: fold the extras into vertex weights, keep the
    vertices with weight, skin only those; the keypoints must be the full map's."""
    from humanrecon.body import keypoint_map

    model = BodyModel.load(write_npz(random_model_arrays(model_type, seed=2), tmp_path / "m.npz"), use_pca=False)
    gen = torch.Generator().manual_seed(1)
    inputs = {k: 0.3 * torch.randn(2, n, generator=gen) for k, n in model.input_sizes().items()}
    kmap = keypoint_map(model, fmt)
    expected = kmap(model(**inputs))
    folded = kmap.fold_extras(model)
    assert folded.joint_weights.shape == (len(kmap.names), model.num_joints)
    ids = folded.vertex_weights.abs().sum(0).nonzero()[:, 0]
    assert 0 < len(ids) < model.v_template.shape[0] // 10  # only a few vertices are needed
    partial = folded.restrict(ids[torch.randperm(len(ids), generator=gen)])  # any order in
    torch.testing.assert_close(partial(model(**inputs, vertex_ids=ids)), expected, atol=1e-5, rtol=0)


def test_input_sizes_name_what_forward_accepts(tmp_path):
    smplx = BodyModel.load(write_npz(random_model_arrays("smplx", seed=3), tmp_path / "x.npz"), num_pca_comps=6)
    sizes = smplx.input_sizes()
    assert sizes["body_pose"] == 63 and sizes["left_hand_pose"] == 6 and sizes["jaw_pose"] == 3
    assert smplx.input_sizes(pose2rot=False)["body_pose"] == 21 * 9
    with pytest.raises(ValueError, match="takes no 'hand_pose'"):
        smplx(hand_pose=torch.zeros(1, 6))
