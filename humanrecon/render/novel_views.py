"""How any scene model (NeRF, Gaussian splats, ...) is judged on held-out views and shown
from new ones. A model here is anything with ``render_image(camera, background) ->
{"rgb": (H, W, 3), "opacity": (H, W)}`` for a one-camera :class:`Camera` and a grey
level ``background`` in [0, 1]."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from humanrecon.geometry.camera import Camera

#: a rendered pixel counts as foreground when its opacity exceeds this (see evaluate_split)
FOREGROUND_OPACITY = 0.1


def evaluate_split(model, split, out_dir: str | Path | None = None, background: float = 1.0,
                   progress: bool = True, foreground_opacity: float = FOREGROUND_OPACITY) -> dict:
    """Render every camera of ``split`` over ``background`` (white by default, as the
    NeRF-synthetic protocol) and compare with its images.

    Returns (means over images):

    * ``psnr``, ``ssim``: over the whole image, as NeRF papers report. When the subject
      fills a small part of the frame these mostly measure the (easy) empty background.
    * ``psnr_foreground``: PSNR over the pixels the subject covers in either image: true
      alpha > 0 or rendered opacity > ``foreground_opacity`` (default 0.1), so both
      missing body and floaters count. Images where no pixel qualifies are left out of
      this mean (``None`` if that is every image).
    * ``foreground_fraction``: mean fraction of the pixels in that foreground.
    * ``per_image``: lists of ``psnr``, ``ssim``, ``psnr_foreground`` (``None`` where
      undefined) and ``foreground_fraction``.

    With ``out_dir``, writes ``<name>.png`` per view: rendering | ground truth side by side.
    """
    from humanrecon.render import image_grid, psnr, save_image, ssim

    out = Path(out_dir) if out_dir is not None else None
    psnrs, ssims, fg_psnrs, fg_fractions = [], [], [], []
    truths = split.composite(torch.full((3,), float(background)))
    for i in tqdm(range(len(split.cameras)), desc="evaluate", disable=not progress, leave=False):
        rendered = model.render_image(split.cameras[i], background)
        pred = rendered["rgb"].cpu()
        truth = truths[i]
        psnrs.append(psnr(pred, truth))
        ssims.append(ssim(pred, truth))
        foreground = (split.alpha[i] > 0) | (rendered["opacity"].cpu() > foreground_opacity)
        fg_fractions.append(float(foreground.float().mean()))
        fg_psnrs.append(psnr(pred, truth, mask=foreground) if foreground.any() else None)
        if out is not None:
            save_image(out / f"{Path(split.names[i]).stem}.png", image_grid([pred.numpy(), truth.numpy()], cols=2, pad=2))
    defined = [v for v in fg_psnrs if v is not None]
    return {"psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims)),
            "psnr_foreground": float(np.mean(defined)) if defined else None,
            "foreground_fraction": float(np.mean(fg_fractions)),
            "per_image": {"psnr": psnrs, "ssim": ssims, "psnr_foreground": fg_psnrs,
                          "foreground_fraction": fg_fractions}}


def orbit_cameras(like: Camera, centre: torch.Tensor, n_views: int, width: int | None = None,
                  height: int | None = None) -> Camera:
    """``n_views`` novel cameras on a circle around ``centre (3,)``: at the mean distance
    of the cameras ``like``, with their horizontal field of view, around their mean up
    direction (the world direction of image −y), 15° above the centre."""
    from humanrecon.render.raycast import turntable_cameras

    up = -like.R[:, 1, :].mean(0)
    distance = (like.center - centre).norm(dim=-1).mean().item()
    return turntable_cameras(centre.numpy(), distance, n_views, width=width or like.width,
                             height=height or like.height, fov_x_rad=float(like.fov_x[0]),
                             elevation_rad=math.radians(15.0), up=(up / up.norm()).numpy())


def render_orbit(model, cameras: Camera, background: float = 1.0, progress: bool = True) -> list[np.ndarray]:
    """Render each camera: a list of ``(H, W, 3)`` float32 images."""
    return [model.render_image(cameras[i], background)["rgb"].cpu().numpy()
            for i in tqdm(range(len(cameras)), desc="render", disable=not progress, leave=False)]
