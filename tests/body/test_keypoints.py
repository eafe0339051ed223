"""Keypoint maps against SMPLify-X's published joint-index maps (smpl_to_openpose)."""

from __future__ import annotations

import numpy as np
import pytest
import smplx
import torch
from smplx.utils import Struct

from humanrecon.body import BodyModel, keypoint_map
from humanrecon.body.keypoints import BODY25_NAMES, COCO17_NAMES, HAND21_NAMES
from tests.body.model_factory import random_model_arrays, write_npz

# SMPLify-X utils.smpl_to_openpose, BODY_25 without hands/face: indices into smplx joints
SMPLIFYX_BODY25 = {
    "smpl": [24, 12, 17, 19, 21, 16, 18, 20, 0, 2, 5, 8, 1, 4, 7, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34],
    "smplx": [55, 12, 17, 19, 21, 16, 18, 20, 0, 2, 5, 8, 1, 4, 7, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65],
}
# COCO-17 picked from the same smplx joint list (nose/eyes/ears are vertex picks)
COCO17 = {
    "smpl": [24, 26, 25, 28, 27, 16, 17, 18, 19, 20, 21, 1, 2, 4, 5, 7, 8],
    "smplx": [55, 57, 56, 59, 58, 16, 17, 18, 19, 20, 21, 1, 2, 4, 5, 7, 8],
}


@pytest.fixture(scope="module", params=["smpl", "smplx"])
def model_and_ref(request, tmp_path_factory):
    mtype = request.param
    arrays = random_model_arrays(mtype, seed=11)
    folder = tmp_path_factory.mktemp(mtype)
    path = write_npz(arrays, folder / f"{mtype.upper()}_NEUTRAL.npz")
    if mtype == "smpl":
        ref = smplx.SMPL(model_path=str(folder), data_struct=Struct(**arrays), batch_size=3)
    else:
        ref = smplx.SMPLX(model_path=str(path), ext="npz", batch_size=3, use_pca=False)
    return mtype, BodyModel.load(path, use_pca=False), ref


def _pose(model, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return {k: 0.4 * torch.randn(3, n, generator=gen) for k, n in model.input_sizes().items()}


def test_body25_matches_smplifyx_map(model_and_ref):
    mtype, model, ref = model_and_ref
    inputs = _pose(model)
    kmap = keypoint_map(model, "body25")
    assert kmap.names == BODY25_NAMES and bool(kmap.available.all())
    ours = kmap(model(**inputs))
    expected = ref(**inputs).joints[:, SMPLIFYX_BODY25[mtype]]
    np.testing.assert_allclose(ours.detach().numpy(), expected.detach().numpy(), atol=1e-5)


def test_coco17_matches_joint_picks(model_and_ref):
    mtype, model, ref = model_and_ref
    inputs = _pose(model, 1)
    ours = keypoint_map(model, "coco17")(model(**inputs))
    expected = ref(**inputs).joints[:, COCO17[mtype]]
    np.testing.assert_allclose(ours.detach().numpy(), expected.detach().numpy(), atol=1e-5)
    assert keypoint_map(model, "coco17").names == COCO17_NAMES


def test_mano_hand21_uses_fingertip_vertices(tmp_path):
    model = BodyModel.load(write_npz(random_model_arrays("mano"), tmp_path / "MANO_RIGHT.npz"))
    kmap = keypoint_map(model, "hand21")
    assert kmap.names == HAND21_NAMES and bool(kmap.available.all())
    out = model(hand_pose=0.3 * torch.randn(2, 6))
    points = kmap(out)
    # smplx's MANO tip picks: thumb 744, index 320, middle 443, ring 554, pinky 671
    for name, vid in {"thumb4": 744, "index4": 320, "middle4": 443, "ring4": 554, "pinky4": 671}.items():
        torch.testing.assert_close(points[:, HAND21_NAMES.index(name)], out.vertices[:, vid])
    torch.testing.assert_close(points[:, HAND21_NAMES.index("index1")], out.joints[:, 1])
    assert len(kmap.edges) == 20


def test_keypoints_follow_the_mesh_gradient(model_and_ref):
    """d(keypoints)/d(body_pose) equals smplx's own autograd through its joint picks
    (SMPLify-X's map), for a generic linear read-out of the keypoints."""
    mtype, model, ref = model_and_ref
    weights = torch.randn(3, 25, 3, generator=torch.Generator().manual_seed(7))
    pose, ref_pose = _pose(model), _pose(model)
    pose["body_pose"].requires_grad_(True)
    ref_pose["body_pose"].requires_grad_(True)
    (keypoint_map(model, "body25")(model(**pose)) * weights).sum().backward()
    (ref(**ref_pose).joints[:, SMPLIFYX_BODY25[mtype]] * weights).sum().backward()
    assert pose["body_pose"].grad.abs().max() > 0.1
    torch.testing.assert_close(pose["body_pose"].grad, ref_pose["body_pose"].grad, atol=1e-4, rtol=1e-4)


def test_bad_format_and_model_combinations(model_and_ref):
    _, model, _ = model_and_ref
    with pytest.raises(ValueError, match="unknown keypoint format 'body18'"):
        keypoint_map(model, "body18")
    with pytest.raises(ValueError, match="does not apply"):
        keypoint_map(model, "hand21")
