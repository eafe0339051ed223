"""Real spherical-harmonics encoding of view directions, as Instant-NGP / tiny-cuda-nn's
``SphericalHarmonics`` encoding.

Convention
----------
Output column ``k = l² + l + m`` (``l = 0 … degree-1``, ``m = -l … l``) holds the real
harmonic ``Y_lm(d)`` evaluated as a polynomial in the direction's components, with
tiny-cuda-nn's constants and signs: ``Y_lm = √2 · Re Y_l^m`` for ``m > 0``, ``Y_l^0`` for
``m = 0`` and ``√2 · Im Y_l^|m|`` for ``m < 0``, where ``Y_l^m`` is the complex harmonic
*with* the Condon-Shortley phase (SciPy's ``sph_harm_y``). This is ``(-1)^m`` times the
"real spherical harmonics" table found on Wikipedia. The functions are orthonormal on
the unit sphere: ``∫ Y_i Y_j dΩ = δ_ij``.

Directions are expected to be unit length (the polynomials are evaluated as given; pass
``normalize=True`` to normalise first). tiny-cuda-nn takes its inputs in ``[0, 1]``
(``(d + 1) / 2``); here the direction itself is the input.
"""

from __future__ import annotations

import torch
from torch import nn

from humanrecon.errors import InputError

MAX_DEGREE = 4


def spherical_harmonics(directions: torch.Tensor, degree: int = 4, normalize: bool = False) -> torch.Tensor:
    """Real SH basis: ``directions (…, 3)`` (unit, any frame) -> ``(…, degree²)``.

    ``degree`` is the number of bands (1 … 4; Instant-NGP uses 4 → 16 values).
    Differentiable; dtype and device follow the input."""
    if not 1 <= degree <= MAX_DEGREE:
        raise InputError(f"degree must be in 1..{MAX_DEGREE}, got {degree}")
    if directions.shape[-1] != 3:
        raise InputError(f"directions must have shape (..., 3), got {tuple(directions.shape)}")
    if normalize:
        directions = torch.nn.functional.normalize(directions, dim=-1)
    x, y, z = directions.unbind(-1)
    out = [torch.full_like(x, 0.28209479177387814)]                       # 1/(2√π)
    if degree > 1:
        c1 = 0.48860251190291987                                          # √3/(2√π)
        out += [-c1 * y, c1 * z, -c1 * x]
    if degree > 2:
        xy, yz, xz, x2, y2, z2 = x * y, y * z, x * z, x * x, y * y, z * z
        out += [1.0925484305920792 * xy,                                  # √15/(2√π)
                -1.0925484305920792 * yz,
                0.94617469575755997 * z2 - 0.31539156525251999,           # √5(3z²-1)/(4√π)
                -1.0925484305920792 * xz,
                0.54627421529603959 * (x2 - y2)]                          # √15/(4√π)
    if degree > 3:
        out += [0.59004358992664352 * y * (y2 - 3.0 * x2),               # √70/(8√π)
                2.8906114426405538 * xy * z,                              # √105/(2√π)
                0.45704579946446572 * y * (1.0 - 5.0 * z2),               # √42/(8√π)
                0.3731763325901154 * z * (5.0 * z2 - 3.0),                # √7/(4√π)
                0.45704579946446572 * x * (1.0 - 5.0 * z2),
                1.4453057213202769 * z * (x2 - y2),                       # √105/(4√π)
                0.59004358992664352 * x * (3.0 * y2 - x2)]
    return torch.stack(out, dim=-1)


class SHEncoding(nn.Module):
    """Direction encoding ``(…, 3) -> (…, degree²)`` with :func:`spherical_harmonics`.
    No parameters."""

    def __init__(self, degree: int = 4, normalize: bool = False) -> None:
        super().__init__()
        if not 1 <= degree <= MAX_DEGREE:
            raise InputError(f"degree must be in 1..{MAX_DEGREE}, got {degree}")
        self.degree = int(degree)
        self.normalize = bool(normalize)

    @property
    def output_dim(self) -> int:
        """``degree²``."""
        return self.degree ** 2

    @property
    def out_dim(self) -> int:
        """Alias of :attr:`output_dim`."""
        return self.output_dim

    def extra_repr(self) -> str:
        return f"degree={self.degree}, normalize={self.normalize}"

    def forward(self, directions: torch.Tensor) -> torch.Tensor:
        return spherical_harmonics(directions, self.degree, self.normalize)
