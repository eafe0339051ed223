"""Image-quality metrics for rendered views: PSNR and SSIM (Wang et al. 2004).

Images are ``(H, W, C)`` or batched ``(B, H, W, C)`` float in ``[0, data_range]``
(numpy or torch, any device); results are Python floats (mean over the batch).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from humanrecon.errors import InputError


def _as_images(x, name: str) -> torch.Tensor:
    t = torch.as_tensor(x).float()
    if t.dim() == 3:
        t = t[None]
    if t.dim() != 4:
        raise InputError(f"{name} must have shape (H, W, C) or (B, H, W, C), got {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise InputError(f"{name} contains NaN or infinite values")
    return t


def _pair(a, b) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = _as_images(a, "prediction"), _as_images(b, "target")
    if x.shape != y.shape:
        raise InputError(f"images differ in shape: {tuple(x.shape)} vs {tuple(y.shape)}")
    return x, y.to(x.device)


def psnr(prediction, target, data_range: float = 1.0, mask=None) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(range² / MSE)``, computed per image
    and averaged over the batch (as NeRF papers report); ``inf`` for identical images.

    ``mask`` (optional, ``(H, W)`` or ``(B, H, W)``, bool or numbers: non-zero selects a
    pixel) restricts each image's MSE to the selected pixels, all channels:
    ``MSE = Σ_selected Σ_c (x - y)² / (n_selected · C)``. A mask that selects no pixel
    of some image raises ``InputError`` (its PSNR is undefined)."""
    x, y = _pair(prediction, target)
    if mask is not None:
        m = torch.as_tensor(mask).to(x.device)
        if m.dim() == 2:
            m = m[None]
        if m.shape not in (x.shape[:3], (1, *x.shape[1:3])):
            raise InputError(f"mask must have shape (H, W) or (B, H, W) = {tuple(x.shape[:3])}, "
                             f"got {tuple(torch.as_tensor(mask).shape)}")
        m = (m != 0).expand(x.shape[:3])
        count = m.flatten(1).sum(1)
        if (count == 0).any():
            raise InputError(f"mask selects no pixel of image {int((count == 0).nonzero()[0])}: PSNR is undefined")
        squared = ((x - y) ** 2).sum(-1) * m
        mse = squared.flatten(1).sum(1) / (count * x.shape[-1])
    else:
        mse = ((x - y) ** 2).flatten(1).mean(1)
    values = [math.inf if m == 0 else 10 * math.log10(data_range**2 / m) for m in mse.tolist()]
    return sum(values) / len(values)


def _gaussian_window(size: int, sigma: float, device) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64, device=device) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return g


def ssim(prediction, target, data_range: float = 1.0, window: int = 11, sigma: float = 1.5, mask=None) -> float:
    """Structural similarity with an 11×11 Gaussian window (σ = 1.5), K1 = 0.01,
    K2 = 0.03, per channel, averaged over the valid (unpadded) positions, channels and
    the batch: the definition of Wang et al. and of ``skimage.metrics.
    structural_similarity(gaussian_weights=True, use_sample_covariance=False)``.

    ``mask`` (optional ``(H, W)`` or ``(B, H, W)``, non-zero selects): average the SSIM map
    only over the valid positions whose window centre is selected (per image, then over
    the images that select any; None when none does)."""
    x, y = _pair(prediction, target)
    if mask is None:
        return float(ssim_loss_term(x.double(), y.double(), data_range, window, sigma))
    m = torch.as_tensor(mask).to(x.device)
    m = (m[None] if m.dim() == 2 else m).bool()
    if m.shape != x.shape[:3]:
        raise InputError(f"mask must be (H, W) or (B, H, W) matching the images {tuple(x.shape[:3])}, "
                         f"got {tuple(m.shape)}")
    half = window // 2
    inner = m[:, half: m.shape[1] - half, half: m.shape[2] - half]
    maps = ssim_loss_term(x.double(), y.double(), data_range, window, sigma, reduce=False).mean(1)
    values = [float(maps[i][inner[i]].mean()) for i in range(len(maps)) if inner[i].any()]
    return float(np.mean(values)) if values else None


def ssim_loss_term(prediction: torch.Tensor, target: torch.Tensor, data_range: float = 1.0, window: int = 11,
                   sigma: float = 1.5, reduce: bool = True) -> torch.Tensor:
    """:func:`ssim` as a differentiable scalar tensor in the inputs' dtype, for training
    losses (``1 - ssim``): ``prediction``, ``target`` ``(B, H, W, C)`` tensors. With
    ``reduce=False``: the SSIM map ``(B, C, H - window + 1, W - window + 1)``."""
    x, y = prediction, target
    if min(x.shape[1:3]) < window:
        raise InputError(f"images of {tuple(x.shape[1:3])} pixels are smaller than the {window}-pixel SSIM window")
    x = x.permute(0, 3, 1, 2)
    y = y.permute(0, 3, 1, 2)
    channels = x.shape[1]
    g = _gaussian_window(window, sigma, x.device).to(x.dtype)
    # the five local means in one separable pass (the 2D Gaussian is a product of two 1D
    # ones): two 1D convolutions of `window` taps instead of one of window² (2x faster
    # forward and backward on a 270x480 photo, the same map to float rounding)
    stack = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    maps = 5 * channels
    stack = torch.nn.functional.conv2d(stack, g.view(1, 1, window, 1).expand(maps, 1, window, 1), groups=maps)
    stack = torch.nn.functional.conv2d(stack, g.view(1, 1, 1, window).expand(maps, 1, 1, window), groups=maps)
    mu_x, mu_y, xx, yy, xy = stack.split(channels, dim=1)
    var_x = xx - mu_x**2
    var_y = yy - mu_y**2
    cov = xy - mu_x * mu_y
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return s.flatten(1).mean(1).mean() if reduce else s


def mask_iou(predicted: torch.Tensor, true: torch.Tensor) -> float:
    """Intersection over union of two boolean masks of the same shape (any, e.g.
    ``(N, H, W)``), over all their pixels together; 1.0 when both are empty."""
    union = int((predicted | true).sum())
    return 1.0 if union == 0 else int((predicted & true).sum()) / union


def pooled_psnr(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> float | None:
    """PSNR in dB of one MSE over the pixels of ``mask (N, H, W)`` of all images
    ``(N, H, W, 3)`` together (all channels; data range 1); None when no pixel is selected,
    ``inf`` when they are equal there."""
    count = int(mask.sum())
    if count == 0:
        return None
    mse = float(((prediction - target) ** 2).sum(-1)[mask].sum()) / (3 * count)
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)
