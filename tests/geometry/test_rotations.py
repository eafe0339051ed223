"""Rotation conversions against scipy's Rotation (independent oracle) and gradcheck."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from humanrecon.geometry import rotations as rot


@pytest.fixture
def random_axis_angle():
    gen = torch.Generator().manual_seed(0)
    aa = torch.randn(64, 3, generator=gen, dtype=torch.float64)
    # angles in (0, π) plus a few special ones
    aa = aa / aa.norm(dim=-1, keepdim=True) * torch.rand(64, 1, generator=gen, dtype=torch.float64) * 3.1
    aa[0] = 0.0
    aa[1] = torch.tensor([1e-5, -2e-5, 3e-6])
    return aa


def test_axis_angle_to_matrix_matches_scipy(random_axis_angle):
    ours = rot.axis_angle_to_matrix(random_axis_angle).numpy()
    ref = Rotation.from_rotvec(random_axis_angle.numpy()).as_matrix()
    np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_quaternion_matches_scipy(random_axis_angle):
    q = rot.axis_angle_to_quaternion(random_axis_angle).numpy()
    ref = Rotation.from_rotvec(random_axis_angle.numpy()).as_quat()  # (x, y, z, w)
    ref = np.concatenate([ref[:, 3:], ref[:, :3]], axis=1)
    ref *= np.sign(ref[:, :1] + 1e-300)
    np.testing.assert_allclose(q, ref, atol=1e-12)
    m = rot.quaternion_to_matrix(torch.from_numpy(q)).numpy()
    np.testing.assert_allclose(m, Rotation.from_rotvec(random_axis_angle.numpy()).as_matrix(), atol=1e-12)


def test_round_trips(random_axis_angle):
    mats = rot.axis_angle_to_matrix(random_axis_angle)
    np.testing.assert_allclose(rot.matrix_to_axis_angle(mats).numpy(), random_axis_angle.numpy(), atol=1e-9)
    q = rot.matrix_to_quaternion(mats)
    np.testing.assert_allclose(rot.quaternion_to_axis_angle(q).numpy(), random_axis_angle.numpy(), atol=1e-9)
    d6 = rot.matrix_to_rotation_6d(mats)
    np.testing.assert_allclose(rot.rotation_6d_to_matrix(d6).numpy(), mats.numpy(), atol=1e-12)


def test_matrix_to_quaternion_near_pi():
    """Rotations by ~π about each axis are where naive trace formulas break."""
    aa = torch.tensor([[np.pi, 0, 0], [0, np.pi - 1e-7, 0], [0, 0, np.pi], [2.0, 2.0, 1.0]], dtype=torch.float64)
    aa[3] = aa[3] / aa[3].norm() * (np.pi - 1e-9)
    mats = rot.axis_angle_to_matrix(aa)
    back = rot.axis_angle_to_matrix(rot.matrix_to_axis_angle(mats))
    np.testing.assert_allclose(back.numpy(), mats.numpy(), atol=1e-7)


def test_6d_gram_schmidt_makes_rotation():
    d6 = torch.randn(10, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    m = rot.rotation_6d_to_matrix(d6)
    eye = torch.eye(3, dtype=torch.float64).expand(10, 3, 3)
    np.testing.assert_allclose((m.transpose(-1, -2) @ m).numpy(), eye.numpy(), atol=1e-12)
    np.testing.assert_allclose(torch.linalg.det(m).numpy(), np.ones(10), atol=1e-12)


def test_gradient_at_zero_is_exact():
    """d/dr R(r) at r = 0 is the skew generator; autograd must give it, not NaN."""
    zero = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    jac = torch.autograd.functional.jacobian(rot.axis_angle_to_matrix, zero)  # (3, 3, 3)
    for k in range(3):
        e = torch.zeros(3, dtype=torch.float64)
        e[k] = 1.0
        np.testing.assert_allclose(jac[..., k].numpy(), rot.skew(e).numpy(), atol=1e-12)
    jac_q = torch.autograd.functional.jacobian(rot.axis_angle_to_quaternion, zero)
    np.testing.assert_allclose(jac_q.numpy(), np.vstack([np.zeros((1, 3)), 0.5 * np.eye(3)]), atol=1e-12)


@pytest.mark.parametrize(
    "fn, make_input",
    [
        (rot.axis_angle_to_matrix, lambda g: torch.randn(4, 3, generator=g, dtype=torch.float64)),
        (rot.axis_angle_to_matrix, lambda g: 1e-4 * torch.randn(4, 3, generator=g, dtype=torch.float64)),
        (rot.axis_angle_to_quaternion, lambda g: torch.randn(4, 3, generator=g, dtype=torch.float64)),
        (rot.quaternion_to_axis_angle, lambda g: torch.randn(4, 4, generator=g, dtype=torch.float64)),
        (rot.rotation_6d_to_matrix, lambda g: torch.randn(4, 6, generator=g, dtype=torch.float64)),
        (rot.quaternion_to_matrix, lambda g: torch.randn(4, 4, generator=g, dtype=torch.float64)),
    ],
)
def test_gradcheck(fn, make_input):
    x = make_input(torch.Generator().manual_seed(2)).requires_grad_(True)
    assert torch.autograd.gradcheck(fn, (x,))


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match=r"axis_angle must have shape \(\.\.\., 3\)"):
        rot.axis_angle_to_matrix(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="3, 3"):
        rot.matrix_to_quaternion(torch.zeros(2, 3, 4))


def test_best_rotation_recovers_a_rotation_and_never_reflects():
    from scipy.spatial.transform import Rotation

    from humanrecon.geometry.rotations import best_rotation

    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 20, 3, generator=g, dtype=torch.float64)
    true = torch.as_tensor(Rotation.random(4, random_state=1).as_matrix())
    y = x @ true.transpose(1, 2) + torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    rot, _ = best_rotation(x, y)
    torch.testing.assert_close(rot, true)
    mirrored = x * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)  # only a reflection maps x onto it
    rot, _ = best_rotation(x, mirrored)
    assert torch.allclose(torch.linalg.det(rot), torch.ones(4, dtype=torch.float64))
