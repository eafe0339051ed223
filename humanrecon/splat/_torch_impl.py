"""Pure-PyTorch reference rasterizer: the oracle every compiled backend is tested against.

Implements ``conventions.md`` (in this folder) exactly, in two autograd-differentiable
stages that the compiled backends split the same way:

* :func:`project` — 3D Gaussians to screen-space means, conics, depths and integer radii;
* :func:`rasterize_pixels` — per-tile depth-sorted alpha compositing (front to back);

plus the helpers shared by all backends: :func:`sh_colors` (view-dependent colour from
spherical harmonics) and :func:`tile_intersections` (which 16x16 tiles each Gaussian
touches, per tile sorted by depth).

Everything is vectorised: no Python loop over Gaussians or pixels. Tiles are processed
in a few chunks (grouped by how many Gaussians they hold, each chunk padded to its own
longest list) to bound memory; with gradients on and more than one chunk, each chunk is
recomputed in the backward pass (activation checkpointing) so memory stays bounded too.

Shapes: ``N`` Gaussians, ``C`` cameras, ``H x W`` pixels, ``D`` colour channels.
Frames/units: world metres; ``viewmats`` world-to-camera OpenCV (x right, y down,
z forward); ``Ks`` and all 2D quantities in pixels, pixel ``(i, j)`` centred at
``(i + 0.5, j + 0.5)``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch.utils.checkpoint import checkpoint

from humanrecon.geometry.rotations import quaternion_to_matrix

TILE_SIZE = 16
#: low-pass filter added to the 2D covariance (pixels²)
BLUR = 0.3
#: extra field-of-view margin (fraction of tan(fov/2)) for the Jacobian's clamping
FOV_MARGIN = 0.3
ALPHA_MAX = 0.99
ALPHA_MIN = 1.0 / 255.0
T_MIN = 1e-4
#: per chunk, at most this many (pixel, Gaussian) pairs are evaluated at once
CHUNK_PAIRS = 1 << 21

SH_C0 = 0.28209479177387814
SH_C1 = 0.4886025119029199
SH_C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396)
SH_C3 = (-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154,
         -0.4570457994644658, 1.445305721320277, -0.5900435899266435)


# --------------------------------------------------------------------------- projection
def project(means: torch.Tensor, quats: torch.Tensor, scales: torch.Tensor, viewmats: torch.Tensor,
            Ks: torch.Tensor, width: int, height: int, near_plane: float = 0.01, far_plane: float = 1e10):
    """EWA projection of ``N`` Gaussians into ``C`` cameras (conventions.md, "Per Gaussian").

    Args:
        means: ``(N, 3)`` world centres, metres.
        quats: ``(N, 4)`` rotations ``(w, x, y, z)``, normalised here (must be non-zero).
        scales: ``(N, 3)`` standard deviations along the rotated axes, metres (> 0).
        viewmats: ``(C, 4, 4)`` world-to-camera (OpenCV); the bottom row is ignored.
        Ks: ``(C, 3, 3)`` intrinsics, pixels.
        width, height: image size in pixels.
        near_plane, far_plane: Gaussians are kept only for ``near < z < far`` (metres).

    Returns:
        ``means2d (C, N, 2)`` pixels, ``conics (C, N, 3)`` (inverse 2D covariance
        ``xx, xy, yy``, 1/pixels²), ``depths (C, N)`` camera-frame z (metres, also for
        culled Gaussians), ``radii (C, N)`` int32 pixels, 0 = culled. Culled Gaussians
        have ``means2d`` and ``conics`` 0. Differentiable w.r.t. all float inputs.
    """
    rot = quaternion_to_matrix(quats)  # (N, 3, 3), normalises
    m = rot * scales[:, None, :]  # R diag(s)
    cov = m @ m.transpose(-1, -2)  # (N, 3, 3) world
    rv, tv = viewmats[:, :3, :3], viewmats[:, :3, 3]
    p = torch.einsum("cij,nj->cni", rv, means) + tv[:, None, :]  # (C, N, 3)
    cov_c = rv[:, None] @ cov[None] @ rv[:, None].transpose(-1, -2)  # (C, N, 3, 3)
    z = p[..., 2]
    valid = (z > near_plane) & (z < far_plane)
    zs = torch.where(valid, z, torch.ones_like(z))  # safe depth: culled rows stay finite

    fx, fy = Ks[:, 0, 0, None], Ks[:, 1, 1, None]  # (C, 1)
    cx, cy = Ks[:, 0, 2, None], Ks[:, 1, 2, None]
    tan_fovx, tan_fovy = 0.5 * width / fx, 0.5 * height / fy
    lim_x_pos = (width - cx) / fx + FOV_MARGIN * tan_fovx
    lim_x_neg = cx / fx + FOV_MARGIN * tan_fovx
    lim_y_pos = (height - cy) / fy + FOV_MARGIN * tan_fovy
    lim_y_neg = cy / fy + FOV_MARGIN * tan_fovy
    xz, yz = p[..., 0] / zs, p[..., 1] / zs
    tx = zs * torch.minimum(torch.maximum(xz, -lim_x_neg), lim_x_pos)
    ty = zs * torch.minimum(torch.maximum(yz, -lim_y_neg), lim_y_pos)
    zero = torch.zeros_like(zs)
    jac = torch.stack([fx / zs, zero, -fx * tx / (zs * zs),
                       zero, fy / zs, -fy * ty / (zs * zs)], dim=-1).reshape(*zs.shape, 2, 3)
    cov2d = jac @ cov_c @ jac.transpose(-1, -2)  # (C, N, 2, 2)
    a = cov2d[..., 0, 0] + BLUR
    b = cov2d[..., 0, 1]
    c = cov2d[..., 1, 1] + BLUR
    det = a * c - b * b
    valid = valid & (det > 0)
    det_s = torch.where(valid, det, torch.ones_like(det))
    conics = torch.stack([c / det_s, -b / det_s, a / det_s], dim=-1)
    means2d = torch.stack([fx * xz + cx, fy * yz + cy], dim=-1)

    with torch.no_grad():
        mid = 0.5 * (a + c)
        lam = mid + torch.sqrt(torch.clamp(mid * mid - det, min=0.1))
        radius = torch.ceil(3.0 * torch.sqrt(lam))
        mx, my = means2d[..., 0], means2d[..., 1]
        valid = (valid & (mx + radius > 0) & (mx - radius < width)
                 & (my + radius > 0) & (my - radius < height))
        radii = torch.where(valid, radius, torch.zeros_like(radius)).to(torch.int32)
    means2d = torch.where(valid[..., None], means2d, torch.zeros_like(means2d))
    conics = torch.where(valid[..., None], conics, torch.zeros_like(conics))
    return means2d, conics, z, radii


# --------------------------------------------------------------------------- colour
def sh_colors(sh: torch.Tensor, sh_degree: int, means: torch.Tensor, viewmats: torch.Tensor) -> torch.Tensor:
    """View-dependent RGB ``(C, N, 3)`` from SH coefficients ``sh (N, K, 3)`` (conventions.md 8).

    Uses the first ``(sh_degree + 1)²`` coefficients (``sh_degree`` in 0..3) in the 3DGS
    ``computeColorFromSH`` basis, the view direction ``normalize(mean - campos)`` of each
    camera (``campos = -R_vᵀ t_v``; a Gaussian exactly at the camera centre gets the zero
    direction), plus 0.5, clamped at 0. Differentiable w.r.t. ``sh``, ``means``, ``viewmats``.
    """
    rv, tv = viewmats[:, :3, :3], viewmats[:, :3, 3]
    campos = -(rv.transpose(-1, -2) @ tv[..., None])[..., 0]  # (C, 3)
    d = means[None] - campos[:, None]  # (C, N, 3)
    norm = d.norm(dim=-1, keepdim=True)
    d = d / torch.where(norm > 0, norm, torch.ones_like(norm))
    x, y, z = d[..., 0:1], d[..., 1:2], d[..., 2:3]  # (C, N, 1)
    # one unbind (a single gradient tensor in backward) instead of indexing per coefficient
    s = [c[None] for c in sh[:, :(sh_degree + 1) ** 2].unbind(1)]  # K x (1, N, 3)
    res = SH_C0 * s[0]
    if sh_degree > 0:
        res = res - SH_C1 * y * s[1] + SH_C1 * z * s[2] - SH_C1 * x * s[3]
        if sh_degree > 1:
            xx, yy, zz, xy, yz, xz = x * x, y * y, z * z, x * y, y * z, x * z
            res = (res + SH_C2[0] * xy * s[4] + SH_C2[1] * yz * s[5]
                   + SH_C2[2] * (2.0 * zz - xx - yy) * s[6]
                   + SH_C2[3] * xz * s[7] + SH_C2[4] * (xx - yy) * s[8])
            if sh_degree > 2:
                res = (res + SH_C3[0] * y * (3.0 * xx - yy) * s[9]
                       + SH_C3[1] * xy * z * s[10]
                       + SH_C3[2] * y * (4.0 * zz - xx - yy) * s[11]
                       + SH_C3[3] * z * (2.0 * zz - 3.0 * xx - 3.0 * yy) * s[12]
                       + SH_C3[4] * x * (4.0 * zz - xx - yy) * s[13]
                       + SH_C3[5] * z * (xx - yy) * s[14]
                       + SH_C3[6] * x * (xx - 3.0 * yy) * s[15])
    return torch.clamp(res + 0.5, min=0.0)


# --------------------------------------------------------------------------- tiles
class TileLists(NamedTuple):
    """Per-tile Gaussian lists in CSR form (as gsplat's ``flatten_ids`` / ``isect_offsets``).

    Tile ``(c, y, x)`` has flat id ``f = (c * tiles_y + y) * tiles_x + x``; its Gaussians
    are ``gauss_ids[offsets[f]:offsets[f + 1]]`` (indices into ``N``), front to back
    (depth ascending, ties by lower index).
    """

    gauss_ids: torch.Tensor  # (M,) int64
    offsets: torch.Tensor  # (C * tiles_y * tiles_x + 1,) int64
    tiles_x: int
    tiles_y: int
    tile_size: int


def tile_grid(width: int, height: int, tile_size: int = TILE_SIZE) -> tuple[int, int]:
    """``(tiles_x, tiles_y)`` covering a ``width x height`` image."""
    return -(-int(width) // tile_size), -(-int(height) // tile_size)


def tile_coverage(means2d: torch.Tensor, radii: torch.Tensor, width: int, height: int,
                  tile_size: int = TILE_SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    """How many tiles each Gaussian's box ``m ± r`` overlaps and how many Gaussians each tile
    holds, without building the lists (O(N): per-box corner updates of a difference grid,
    then 2D prefix sums): ``tiles_per_gauss (C, N)``, ``tile_counts (C, tiles_y, tiles_x)``
    int32 — the counts of :func:`tile_intersections`."""
    C, N = radii.shape
    tiles_x, tiles_y = tile_grid(width, height, tile_size)
    with torch.no_grad():
        m, r = means2d.detach(), radii.to(means2d.dtype)
        x0 = torch.floor((m[..., 0] - r) / tile_size).clamp(0, tiles_x).long()
        x1 = torch.ceil((m[..., 0] + r) / tile_size).clamp(0, tiles_x).long()
        y0 = torch.floor((m[..., 1] - r) / tile_size).clamp(0, tiles_y).long()
        y1 = torch.ceil((m[..., 1] + r) / tile_size).clamp(0, tiles_y).long()
        live = (radii > 0) & (x1 > x0) & (y1 > y0)
        count = torch.where(live, (x1 - x0) * (y1 - y0), torch.zeros_like(x0))
        grid = torch.zeros(C, tiles_y + 1, tiles_x + 1, dtype=torch.int64, device=radii.device)
        cam = torch.arange(C, device=radii.device)[:, None].expand(C, N)
        one = live.long()
        for ys, xs, sign in ((y0, x0, 1), (y0, x1, -1), (y1, x0, -1), (y1, x1, 1)):
            grid.index_put_((cam, ys, xs), sign * one, accumulate=True)
        counts = grid.cumsum(1).cumsum(2)[:, :tiles_y, :tiles_x]
    return count.to(torch.int32), counts.to(torch.int32)


def tile_intersections(means2d: torch.Tensor, radii: torch.Tensor, depths: torch.Tensor, width: int,
                       height: int, tile_size: int = TILE_SIZE):
    """Which tiles each Gaussian's box ``m ± r`` overlaps, and per tile the depth order.

    Returns ``(lists, tiles_per_gauss, tile_counts)``: ``lists`` a :class:`TileLists`,
    ``tiles_per_gauss (C, N)`` int32 (0 for culled), ``tile_counts (C, tiles_y, tiles_x)``
    int32. Not differentiable (integer bookkeeping).
    """
    C, N = radii.shape
    tiles_x, tiles_y = tile_grid(width, height, tile_size)
    n_tiles = tiles_x * tiles_y
    device = radii.device
    with torch.no_grad():
        m = means2d.detach()
        r = radii.to(m.dtype)
        x0 = torch.floor((m[..., 0] - r) / tile_size).clamp(0, tiles_x).long()
        x1 = torch.ceil((m[..., 0] + r) / tile_size).clamp(0, tiles_x).long()
        y0 = torch.floor((m[..., 1] - r) / tile_size).clamp(0, tiles_y).long()
        y1 = torch.ceil((m[..., 1] + r) / tile_size).clamp(0, tiles_y).long()
        w = (x1 - x0).clamp(min=0)
        count = torch.where(radii > 0, w * (y1 - y0).clamp(min=0), torch.zeros_like(w))  # (C, N)

        flat_count = count.reshape(-1)
        total = int(flat_count.sum())
        g = torch.repeat_interleave(torch.arange(C * N, device=device), flat_count)  # (M,) camera*N + n
        starts = torch.cumsum(flat_count, 0) - flat_count
        local = torch.arange(total, device=device) - starts[g]
        wg = w.reshape(-1)[g]
        tx = x0.reshape(-1)[g] + local % wg.clamp(min=1)
        ty = y0.reshape(-1)[g] + local // wg.clamp(min=1)
        tile = (g // max(N, 1)) * n_tiles + ty * tiles_x + tx
        # depth order, ties by index (g is ascending in n within a camera; stable sorts keep it)
        order = torch.sort(depths.detach().reshape(-1)[g], stable=True).indices
        order = order[torch.sort(tile[order], stable=True).indices]
        gauss_ids = g[order] % max(N, 1)
        tile_counts = torch.bincount(tile, minlength=C * n_tiles)
        offsets = torch.cat([tile_counts.new_zeros(1), torch.cumsum(tile_counts, 0)])
    lists = TileLists(gauss_ids, offsets, tiles_x, tiles_y, tile_size)
    return lists, count.to(torch.int32), tile_counts.reshape(C, tiles_y, tiles_x).to(torch.int32)


# --------------------------------------------------------------------------- compositing
def _chunks(counts: torch.Tensor, pixels_per_tile: int) -> list[torch.Tensor]:
    """Group the non-empty tiles (flat ids) into chunks of at most ``CHUNK_PAIRS`` pairs,
    each padded to its own longest list (tiles sorted by list length)."""
    tiles = torch.nonzero(counts > 0).reshape(-1)
    if tiles.numel() == 0:
        return []
    sorted_counts, perm = torch.sort(counts[tiles].cpu(), stable=True)
    tiles = tiles[perm.to(tiles.device)]
    cap = max(1, CHUNK_PAIRS // pixels_per_tile)
    out, start, n = [], 0, len(sorted_counts)
    while start < n:
        k = torch.arange(1, n - start + 1)
        fits = int((k * sorted_counts[start:] <= cap).sum())  # a prefix (counts ascending)
        k = max(1, fits)
        out.append(tiles[start:start + k])
        start += k
    return out


def _composite_chunk(tiles: torch.Tensor, length: int, lists: TileLists, n_gauss: int, width: int,
                     means2d: torch.Tensor, conics: torch.Tensor, colors: torch.Tensor, opacities: torch.Tensor,
                     depths: torch.Tensor):
    """Front-to-back compositing of the tiles ``tiles (B,)`` (flat ids), lists padded to
    ``length``. Returns ``(color (B, P, D), transmittance (B, P))`` with ``P = tile_size²``."""
    ts = lists.tile_size
    n_tiles = lists.tiles_x * lists.tiles_y
    dev, dt = means2d.device, means2d.dtype
    cam = tiles // n_tiles
    local = tiles % n_tiles
    tyi, txi = local // lists.tiles_x, local % lists.tiles_x
    lin = torch.arange(ts, device=dev)
    py, px = torch.meshgrid(lin, lin, indexing="ij")
    pix_x = (txi[:, None] * ts + px.reshape(1, -1)).to(dt) + 0.5  # (B, P)
    pix_y = (tyi[:, None] * ts + py.reshape(1, -1)).to(dt) + 0.5

    slot = torch.arange(length, device=dev)
    start = lists.offsets[tiles]
    in_list = slot[None] < (lists.offsets[tiles + 1] - start)[:, None]  # (B, L)
    pos = torch.where(in_list, start[:, None] + slot[None], torch.zeros_like(start[:, None]))
    gid = lists.gauss_ids[pos]  # (B, L)
    flat = cam[:, None] * n_gauss + gid
    m = means2d.reshape(-1, 2)[flat]  # (B, L, 2)
    con = conics.reshape(-1, 3)[flat]
    col = colors.reshape(-1, colors.shape[-1])[flat]  # (B, L, D)
    op = opacities[gid]  # (B, L)

    dx = m[:, None, :, 0] - pix_x[:, :, None]  # (B, P, L)
    dy = m[:, None, :, 1] - pix_y[:, :, None]
    sigma = 0.5 * (con[:, None, :, 0] * dx * dx + con[:, None, :, 2] * dy * dy) + con[:, None, :, 1] * dx * dy
    # sigma < 0 is skipped; clamp first so exp cannot overflow into a NaN gradient
    alpha = torch.clamp(op[:, None, :] * torch.exp(-torch.clamp(sigma, min=0.0)), max=ALPHA_MAX)
    with torch.no_grad():
        take = in_list[:, None, :] & (sigma >= 0) & (alpha >= ALPHA_MIN)
        # stop at the first Gaussian whose T' = T (1 - α) < T_MIN (that one not added):
        # T' is non-increasing along the list, so the stopped set is a suffix
        t_incl = torch.cumprod(torch.where(take, 1.0 - alpha, torch.ones_like(alpha)), dim=-1)
        take &= t_incl >= T_MIN
    alpha = torch.where(take, alpha, torch.zeros_like(alpha))
    trans = torch.cumprod(1.0 - alpha, dim=-1)  # T after each Gaussian (factors >= 0.01: no zeros)
    t_before = torch.cat([torch.ones_like(trans[..., :1]), trans[..., :-1]], dim=-1)
    weights = alpha * t_before
    rgb = torch.einsum("bpl,bld->bpd", weights, col)
    return rgb, trans[..., -1]


def rasterize_pixels(means2d: torch.Tensor, conics: torch.Tensor, colors: torch.Tensor, opacities: torch.Tensor,
                     depths: torch.Tensor, radii: torch.Tensor, width: int, height: int,
                     backgrounds: torch.Tensor | None = None, *, tiles: tuple | None = None):
    """Alpha-composite projected Gaussians front to back (conventions.md, "Per pixel").

    Args:
        means2d: ``(C, N, 2)`` pixels; conics: ``(C, N, 3)``; colors: ``(C, N, D)``;
        opacities: ``(N,)`` in [0, 1]; depths: ``(C, N)`` (the sort key); radii: ``(C, N)``
        int, 0 = skipped; width, height: pixels; backgrounds: ``(C, D)`` or None (0).
        tiles: optional precomputed ``tile_intersections(...)`` result (reference only).

    Returns:
        ``render (C, H, W, D) = C + T · background`` and ``alphas (C, H, W, 1) = 1 - T``,
        differentiable w.r.t. means2d, conics, colors, opacities (and depths only through
        ``colors`` if the caller appends them).
    """
    C, N = radii.shape
    D = colors.shape[-1]
    if tiles is None:
        tiles = tile_intersections(means2d, radii, depths, width, height)
    lists, _, tile_counts = tiles
    ts = lists.tile_size
    P = ts * ts
    n_all = C * lists.tiles_x * lists.tiles_y
    chunks = _chunks(tile_counts.reshape(-1), P)
    counts = tile_counts.reshape(-1).cpu()
    grad = torch.is_grad_enabled() and any(
        t.requires_grad for t in (means2d, conics, colors, opacities, depths))

    rgb = means2d.new_zeros((n_all, P, D))
    trans = means2d.new_ones((n_all, P))
    if chunks:
        parts_rgb, parts_t = [], []
        for tile_ids in chunks:
            length = int(counts[tile_ids.cpu()].max())
            args = (tile_ids, length, lists, N, width, means2d, conics, colors, opacities, depths)
            if grad and len(chunks) > 1:
                out = checkpoint(_composite_chunk, *args, use_reentrant=False)
            else:
                out = _composite_chunk(*args)
            parts_rgb.append(out[0])
            parts_t.append(out[1])
        ids = torch.cat(chunks)
        rgb = rgb.index_copy(0, ids, torch.cat(parts_rgb))
        trans = trans.index_copy(0, ids, torch.cat(parts_t))

    def to_image(x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(C, lists.tiles_y, lists.tiles_x, ts, ts, -1).permute(0, 1, 3, 2, 4, 5)
        return x.reshape(C, lists.tiles_y * ts, lists.tiles_x * ts, -1)[:, :height, :width]

    rgb, trans = to_image(rgb), to_image(trans[..., None])
    if backgrounds is not None:
        rgb = rgb + trans * backgrounds[:, None, None, :]
    return rgb, 1.0 - trans


__all__ = ["project", "sh_colors", "tile_intersections", "rasterize_pixels", "TileLists", "tile_grid",
           "TILE_SIZE", "SH_C0"]
