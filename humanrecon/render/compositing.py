"""Compositing over backgrounds, the one home for it: the background colours a trainer
draws per image or per ray (random, so transparent pixels teach "empty" whatever the
colour, or white) and straight RGB + alpha over them."""

from __future__ import annotations

import torch


def background_colors(n: int, generator: torch.Generator, random: bool = True,
                      device: torch.device | str = "cpu") -> torch.Tensor:
    """``(n, 3)`` RGB in [0, 1] on ``device``: uniform random (drawn from the CPU
    ``generator``, so a run is the same on every device) or white."""
    if random:
        return torch.rand(n, 3, generator=generator).to(device)
    return torch.ones(n, 3, device=device)


def over_background(rgb: torch.Tensor, alpha: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """Straight ``rgb (N, ..., 3)`` with ``alpha (N, ..., 1)`` over ``background (N, 3)``
    (one colour per leading index, broadcast over the middle dimensions, e.g. image rows
    and columns): ``rgb · a + background · (1 − a)``, the shape of ``rgb``."""
    extra = rgb.dim() - background.dim()
    background = background.reshape(background.shape[:-1] + (1,) * extra + (3,))
    return rgb * alpha + background * (1 - alpha)
