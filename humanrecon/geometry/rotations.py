"""Batched rotation conversions (axis-angle, matrices, quaternions, 6D).

Conventions: axis-angle ``(..., 3)`` (unit axis times angle in radians), rotation
matrices ``(..., 3, 3)`` acting on column vectors, quaternions ``(..., 4)`` ordered
``(w, x, y, z)``, 6D representation ``(..., 6)`` = first two *columns* of the matrix
(Zhou et al. 2019) concatenated. All functions are differentiable, keep dtype and
device, and have finite, correct gradients at the zero rotation (small-angle Taylor
series instead of dividing by the angle).
"""

from __future__ import annotations

import torch

from humanrecon.errors import InputError, InputTypeError

_SMALL_ANGLE_SQ = 1e-6  # below this squared angle the Taylor series is exact to float64 eps


def _check_last_dim(x: torch.Tensor, size: int, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise InputTypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.shape[-1:] != (size,):
        raise InputError(f"{name} must have shape (..., {size}), got {tuple(x.shape)}")


def _check_matrix(m: torch.Tensor, name: str = "matrix") -> None:
    if not isinstance(m, torch.Tensor):
        raise InputTypeError(f"{name} must be a torch.Tensor, got {type(m).__name__}")
    if m.shape[-2:] != (3, 3):
        raise InputError(f"{name} must have shape (..., 3, 3), got {tuple(m.shape)}")


def skew(v: torch.Tensor) -> torch.Tensor:
    """Cross-product matrices ``[v]_x`` with ``[v]_x @ u == v × u``: ``(..., 3) -> (..., 3, 3)``."""
    _check_last_dim(v, 3, "v")
    x, y, z = v.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], dim=-1).reshape(*v.shape[:-1], 3, 3)


def _sinc_terms(theta_sq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``sin(θ)/θ`` and ``(1 - cos θ)/θ²`` from ``θ²`` with safe small-angle series."""
    small = theta_sq < _SMALL_ANGLE_SQ
    safe_sq = torch.where(small, torch.ones_like(theta_sq), theta_sq)
    theta = safe_sq.sqrt()
    a_big = torch.sin(theta) / theta
    b_big = (1.0 - torch.cos(theta)) / safe_sq
    a_small = 1.0 - theta_sq / 6.0 + theta_sq**2 / 120.0
    b_small = 0.5 - theta_sq / 24.0 + theta_sq**2 / 720.0
    return torch.where(small, a_small, a_big), torch.where(small, b_small, b_big)


def axis_angle_to_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula: axis-angle ``(..., 3)`` -> rotation matrices ``(..., 3, 3)``.

    ``R = I + sin(θ)/θ [r]_x + (1 - cos θ)/θ² [r]_x²`` with ``θ = |r|``; the zero vector
    maps to the identity with the exact gradient ``dR/dr = [·]_x``.
    """
    _check_last_dim(axis_angle, 3, "axis_angle")
    theta_sq = (axis_angle * axis_angle).sum(-1)
    a, b = _sinc_terms(theta_sq)
    k = skew(axis_angle)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device)
    return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


def matrix_to_axis_angle(matrix: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``(..., 3, 3)`` -> axis-angle ``(..., 3)`` with angle in ``[0, π]``.

    Goes through the quaternion, which is numerically stable for all angles including
    0 and π.
    """
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))


def axis_angle_to_quaternion(axis_angle: torch.Tensor) -> torch.Tensor:
    """Axis-angle ``(..., 3)`` -> unit quaternion ``(..., 4)`` ``(w, x, y, z)``, ``w >= 0``
    for angles up to π."""
    _check_last_dim(axis_angle, 3, "axis_angle")
    half_sq = (axis_angle * axis_angle).sum(-1) / 4.0  # (θ/2)²
    small = half_sq < _SMALL_ANGLE_SQ
    safe = torch.where(small, torch.ones_like(half_sq), half_sq).sqrt()
    # sin(θ/2)/θ = 0.5 * sin(h)/h with h = θ/2
    s_big = 0.5 * torch.sin(safe) / safe
    s_small = 0.5 * (1.0 - half_sq / 6.0 + half_sq**2 / 120.0)
    s = torch.where(small, s_small, s_big)
    w = torch.where(small, 1.0 - half_sq / 2.0 + half_sq**2 / 24.0, torch.cos(safe))
    return torch.cat([w[..., None], axis_angle * s[..., None]], dim=-1)


def quaternion_to_axis_angle(quaternion: torch.Tensor) -> torch.Tensor:
    """Quaternion ``(..., 4)`` ``(w, x, y, z)`` (need not be unit) -> axis-angle ``(..., 3)``
    with angle in ``[0, π]``."""
    _check_last_dim(quaternion, 4, "quaternion")
    q = quaternion / quaternion.norm(dim=-1, keepdim=True)
    q = torch.where(q[..., :1] < 0, -q, q)  # canonical hemisphere: angle in [0, π]
    w, xyz = q[..., 0], q[..., 1:]
    sin_sq = (xyz * xyz).sum(-1)
    small = sin_sq < _SMALL_ANGLE_SQ
    sin_half = torch.where(small, torch.ones_like(sin_sq), sin_sq).sqrt()
    half = torch.atan2(sin_half, w)
    factor_big = 2.0 * half / sin_half
    # small angle: θ ≈ 2 sin(θ/2)/w (1 + sin²/(3w²)) -> factor ≈ 2/w (1 + s²/(3 w²))
    factor_small = 2.0 / w * (1.0 + sin_sq / (3.0 * w * w))
    factor = torch.where(small, factor_small, factor_big)
    return xyz * factor[..., None]


def quaternion_to_matrix(quaternion: torch.Tensor) -> torch.Tensor:
    """Quaternion ``(..., 4)`` ``(w, x, y, z)`` -> rotation matrix ``(..., 3, 3)``.
    Non-unit quaternions are normalised first."""
    _check_last_dim(quaternion, 4, "quaternion")
    q = quaternion / quaternion.norm(dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    m = torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    )
    return m.reshape(*q.shape[:-1], 3, 3)


def matrix_to_quaternion(matrix: torch.Tensor) -> torch.Tensor:
    """Rotation matrix ``(..., 3, 3)`` -> unit quaternion ``(..., 4)`` ``(w, x, y, z)``, ``w >= 0``.

    Uses the four candidate formulas (Shepperd's method) and picks the best-conditioned
    one per element, so it is stable for every rotation.
    """
    _check_matrix(matrix)
    m = matrix
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    # 4 q_i^2 for i = w, x, y, z
    diag = torch.stack(
        [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22],
        dim=-1,
    )
    # Rows: each candidate quaternion scaled by 4 q_i
    candidates = torch.stack(
        [
            torch.stack([diag[..., 0], m21 - m12, m02 - m20, m10 - m01], dim=-1),
            torch.stack([m21 - m12, diag[..., 1], m10 + m01, m02 + m20], dim=-1),
            torch.stack([m02 - m20, m10 + m01, diag[..., 2], m21 + m12], dim=-1),
            torch.stack([m10 - m01, m20 + m02, m12 + m21, diag[..., 3]], dim=-1),
        ],
        dim=-2,
    )
    best = diag.argmax(dim=-1)
    index = best[..., None, None].expand(*best.shape, 1, 4)
    q = candidates.gather(-2, index).squeeze(-2)
    q = q / q.norm(dim=-1, keepdim=True)
    return torch.where(q[..., :1] < 0, -q, q)


def rotation_6d_to_matrix(d6: torch.Tensor) -> torch.Tensor:
    """6D representation ``(..., 6)`` -> rotation matrix ``(..., 3, 3)`` by Gram-Schmidt.

    The 6 numbers are the (unnormalised) first and second columns of the matrix.
    """
    _check_last_dim(d6, 6, "d6")
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = torch.nn.functional.normalize(a1, dim=-1)
    b2 = torch.nn.functional.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def matrix_to_rotation_6d(matrix: torch.Tensor) -> torch.Tensor:
    """Rotation matrix ``(..., 3, 3)`` -> 6D representation ``(..., 6)`` (first two columns)."""
    _check_matrix(matrix)
    return torch.cat([matrix[..., :, 0], matrix[..., :, 1]], dim=-1)


def best_rotation(source: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The proper rotation ``R (B, 3, 3)`` that best maps the centred points ``source
    (B, N, 3)`` onto the centred ``target (B, N, 3)`` in least squares (Kabsch / Umeyama,
    reflections excluded), and the singular values ``(B, 3)`` signed as used (for
    Umeyama's scale ``Σ s / |source|²``)."""
    xs, xt = source - source.mean(1, keepdim=True), target - target.mean(1, keepdim=True)
    u, sing, vh = torch.linalg.svd(xt.transpose(1, 2) @ xs)
    d = torch.sign(torch.linalg.det(u @ vh))
    fix = torch.stack([torch.ones_like(d), torch.ones_like(d), d], -1)
    return u @ torch.diag_embed(fix) @ vh, sing * fix
