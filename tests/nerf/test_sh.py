"""Spherical-harmonics encoding against SciPy's complex harmonics and quadrature."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import sph_harm_y

from humanrecon.nerf.sh import SHEncoding, spherical_harmonics

# Sign of tiny-cuda-nn's Y_lm relative to the textbook real SH (Wikipedia's table, built
# below from SciPy), column k = l² + l + m: (-1)^m, i.e. the Condon-Shortley phase is kept.
SIGN = [1,
        -1, 1, -1,
        1, -1, 1, -1, 1,
        -1, 1, -1, 1, -1, 1, -1]


def textbook_real_sh(l: int, m: int, polar: np.ndarray, azimuth: np.ndarray) -> np.ndarray:
    """Real SH from SciPy's complex ones: √2 (-1)^m Im Y_l^|m| (m < 0), Y_l^0, √2 (-1)^m Re Y_l^m (m > 0)."""
    y = sph_harm_y(l, abs(m), polar, azimuth)
    if m < 0:
        return np.sqrt(2) * (-1) ** m * y.imag
    if m == 0:
        return y.real
    return np.sqrt(2) * (-1) ** m * y.real


def sphere_quadrature(n_polar: int = 10, n_azimuth: int = 20) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gauss-Legendre in cos(polar) × uniform azimuth: exact for polynomials of degree
    < 2·n_polar on the sphere. Returns ``polar, azimuth, weights`` (weights sum to 4π)."""
    z, wz = np.polynomial.legendre.leggauss(n_polar)
    az = (np.arange(n_azimuth) + 0.5) * 2 * np.pi / n_azimuth
    polar = np.repeat(np.arccos(z), n_azimuth)
    azimuth = np.tile(az, n_polar)
    weights = np.repeat(wz, n_azimuth) * 2 * np.pi / n_azimuth
    return polar, azimuth, weights


def directions_from_angles(polar: np.ndarray, azimuth: np.ndarray) -> torch.Tensor:
    d = np.stack([np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth), np.cos(polar)], -1)
    return torch.from_numpy(d)


def test_each_function_is_scipy_real_sh_with_fixed_sign():
    rng = np.random.default_rng(0)
    polar, azimuth = np.arccos(rng.uniform(-1, 1, 500)), rng.uniform(0, 2 * np.pi, 500)
    got = spherical_harmonics(directions_from_angles(polar, azimuth), degree=4).numpy()
    for l in range(4):
        for m in range(-l, l + 1):
            k = l * l + l + m
            np.testing.assert_allclose(got[:, k], SIGN[k] * textbook_real_sh(l, m, polar, azimuth), atol=1e-12,
                                       err_msg=f"l={l} m={m}")


def test_orthonormal_on_the_sphere():
    polar, azimuth, w = sphere_quadrature()
    assert np.isclose(w.sum(), 4 * np.pi)
    basis = spherical_harmonics(directions_from_angles(polar, azimuth), degree=4).numpy()
    gram = basis.T @ (w[:, None] * basis)
    np.testing.assert_allclose(gram, np.eye(16), atol=1e-12)


def test_tcnn_constants_by_hand():
    # Along +z only the m = 0 harmonics survive: Y_l0(pole) = sqrt((2l+1)/(4π)).
    out = spherical_harmonics(torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64))[0]
    poles = {0: 0, 2: 1, 6: 2, 12: 3}
    for k, l in poles.items():
        assert out[k].item() == pytest.approx(np.sqrt((2 * l + 1) / (4 * np.pi)), abs=1e-14)
    assert torch.count_nonzero(out).item() == 4
    # Along +x: tcnn's out[3] = -sqrt(3)/(2 sqrt(pi)) x.
    out = spherical_harmonics(torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64))[0]
    assert out[3].item() == pytest.approx(-np.sqrt(3) / (2 * np.sqrt(np.pi)), abs=1e-14)


def test_degrees_shapes_dtype_and_module():
    d = torch.nn.functional.normalize(torch.randn(2, 5, 3), dim=-1)
    full = spherical_harmonics(d, 4)
    assert full.shape == (2, 5, 16) and full.dtype == torch.float32
    for degree in (1, 2, 3):
        torch.testing.assert_close(spherical_harmonics(d, degree), full[..., :degree ** 2])
    enc = SHEncoding(3)
    assert enc.output_dim == 9 == enc.out_dim and enc(d).shape == (2, 5, 9)
    assert list(enc.parameters()) == []
    torch.testing.assert_close(SHEncoding(4, normalize=True)(3.0 * d), full)
    with pytest.raises(ValueError):
        SHEncoding(5)
    with pytest.raises(ValueError):
        spherical_harmonics(d[..., :2])
