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
    inputs = {k: 0.3 * torch.randn(3, n, generator=gen) for k, n in model._input_sizes(True).items()}
    full = model(**inputs)
    ids = torch.tensor([5, 17, 400, 2000, 6000])
    part = model(**inputs, vertex_ids=ids[[2, 0, 4, 1, 3]])  # any order in, ascending out
    torch.testing.assert_close(part.vertices, full.vertices[:, ids])
    torch.testing.assert_close(part.joints, full.joints[:, : model.num_joints])
    extras = torch.einsum("ev,bvc->bec", model.extra_joint_matrix(), full.vertices)
    torch.testing.assert_close(extras, full.joints[:, model.num_joints:], atol=1e-5, rtol=0)
