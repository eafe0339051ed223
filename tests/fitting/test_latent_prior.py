"""The learned latent pose prior (humanrecon.fitting.latent_prior) and its shipped weights."""

import pytest
import torch

from humanrecon.body.pose_library import library_poses
from humanrecon.errors import CheckpointError, MissingFileError
from humanrecon.fitting.latent_prior import (PoseVAE, VAEPosePrior, geodesic_degrees, load_pose_vae,
                                             pose_to_matrices)
from humanrecon.fitting.priors import JointLimitPrior, pose_prior_named


@pytest.fixture(scope="module")
def prior():
    return VAEPosePrior()


def _library(count: int = 8) -> torch.Tensor:
    return torch.tensor(library_poses("tuning")[1][:count])


def test_shipped_prior_loads_and_is_finite_and_differentiable(prior):
    pose = torch.cat([torch.zeros(1, 69), _library(4)]).requires_grad_(True)
    energy = prior(pose)
    assert energy.shape == (5,) and torch.isfinite(energy).all()
    (grad,) = torch.autograd.grad(energy.sum(), pose)
    assert torch.isfinite(grad).all() and grad[:, :63].abs().sum(-1).gt(0).all()


def test_real_poses_cost_less_than_random_joint_limit_poses(prior):
    real = torch.cat([torch.zeros(1, 69), _library()])
    random = JointLimitPrior().sample(64, scale=1.0, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert prior(real).median() < prior(random).median()
        assert prior(torch.zeros(1, 69))[0] < prior(random).median()


def test_round_trip_is_close_for_training_like_poses(prior):
    pose = _library()
    with torch.no_grad():
        mu, _ = prior.vae.encode(pose)
        decoded = prior.vae.decode(mu)
        angle = geodesic_degrees(pose_to_matrices(decoded), pose_to_matrices(pose))
    assert decoded.shape == (8, 63)
    assert angle.mean() < 15.0


def test_bad_weight_files_name_the_file(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="junk.pt"):
        VAEPosePrior(junk)
    from humanrecon.io.checkpoints import save_checkpoint

    other = save_checkpoint(tmp_path / "nerf.pt", "nerf", {}, {})
    with pytest.raises(CheckpointError, match="expected a humanrecon-pose-vae checkpoint"):
        load_pose_vae(other)
    small = PoseVAE(hidden=8).save(tmp_path / "small.pt")
    data = torch.load(small, weights_only=True)
    data["state_dict"].pop("energy_scale")
    torch.save(data, tmp_path / "broken.pt")
    with pytest.raises(CheckpointError, match="broken.pt.*damaged pose-vae checkpoint"):
        load_pose_vae(tmp_path / "broken.pt")
    with pytest.raises(MissingFileError, match="absent.pt"):
        load_pose_vae(tmp_path / "absent.pt")


def test_named_choice():
    assert isinstance(pose_prior_named("vae"), VAEPosePrior)
