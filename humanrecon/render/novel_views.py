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
    NeRF-synthetic protocol) and compare with its images. The one evaluation of every
    scene model (NeRF, splats, DVR).

    Returns (means over images unless said):

    * ``psnr``, ``ssim``: over the whole image, as NeRF papers report. When the subject
      fills a small part of the frame these mostly measure the (easy) empty background.
    * ``psnr_foreground``: PSNR over the pixels the subject covers in either image: true
      alpha > 0 or rendered opacity > ``foreground_opacity`` (default 0.1), so both
      missing body and floaters count. Images where no pixel qualifies are left out of
      this mean (``None`` if that is every image).
    * ``foreground_fraction``: mean fraction of the pixels in that foreground.
    * ``mask_iou``: IoU of the rendered silhouette (opacity > 0.5) with the true mask
      (alpha > 0.5), over all pixels of all views together (pooled); None for photographs
      (alpha 1 everywhere: the model renders the background too, so there is no silhouette).
    * ``psnr_masked``, ``ssim_masked``: the rendered colour against the true straight colour
      over the object's pixels: the capture's object masks (``split.masks``, e.g. DTU's)
      where it has them, else alpha > 0.5. PSNR is one MSE over all views pooled, SSIM the
      map averaged over window centres on the object (:func:`~humanrecon.render.ssim`);
      None without object pixels (photographs without masks).
    * ``views``: the number of views; ``per_image``: lists of ``psnr``, ``ssim``,
      ``psnr_foreground`` (``None`` where undefined) and ``foreground_fraction``.

    With ``out_dir``, writes ``<name>.png`` per view: rendering | ground truth (| normals,
    when the model's render gives ``normals``) side by side.
    """
    from humanrecon.render import image_grid, psnr, save_image, ssim
    from humanrecon.render.image_metrics import mask_iou, pooled_psnr

    out = Path(out_dir) if out_dir is not None else None
    psnrs, ssims, fg_psnrs, fg_fractions, predictions, silhouettes = [], [], [], [], [], []
    masked_ssims = []
    truths = split.composite(torch.full((3,), float(background)))
    masks = getattr(split, "masks", None)
    object_mask = (split.alpha if masks is None else masks).cpu() > 0.5
    has_object = masks is not None or not bool(object_mask.all())  # photos without masks: no object pixels
    for i in tqdm(range(len(split.cameras)), desc="evaluate", disable=not progress, leave=False):
        rendered = model.render_image(split.cameras[i], background)
        pred = rendered["rgb"].detach().cpu()
        opacity = rendered["opacity"].detach().cpu()
        truth = truths[i]
        predictions.append(pred)
        silhouettes.append(opacity > 0.5)
        psnrs.append(psnr(pred, truth))
        ssims.append(ssim(pred, truth))
        masked_ssims.append(ssim(pred, split.images[i].cpu(), mask=object_mask[i]) if has_object else None)
        foreground = (split.alpha[i] > 0) | (opacity > foreground_opacity)
        fg_fractions.append(float(foreground.float().mean()))
        fg_psnrs.append(psnr(pred, truth, mask=foreground) if foreground.any() else None)
        if out is not None:
            tiles = [pred.numpy(), truth.numpy()]
            if "normals" in rendered:
                tiles.append(normal_picture(rendered["normals"], opacity > 0.5))
            save_image(out / f"{Path(split.names[i]).stem}.png", image_grid(tiles, cols=len(tiles), pad=2))
    true_mask = split.alpha.cpu() > 0.5
    defined = [v for v in fg_psnrs if v is not None]
    masked = [v for v in masked_ssims if v is not None]
    return {"psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims)),
            "psnr_foreground": float(np.mean(defined)) if defined else None,
            "foreground_fraction": float(np.mean(fg_fractions)),
            "mask_iou": mask_iou(torch.stack(silhouettes), true_mask) if not true_mask.all() else None,
            "psnr_masked": pooled_psnr(torch.stack(predictions), split.images.cpu(), object_mask) if has_object else None,
            "ssim_masked": float(np.mean(masked)) if masked else None,
            "views": len(psnrs),
            "per_image": {"psnr": psnrs, "ssim": ssims, "psnr_foreground": fg_psnrs,
                          "foreground_fraction": fg_fractions}}


def normal_picture(normals, mask) -> np.ndarray:
    """A picture ``(H, W, 3)`` float32 in [0, 1] of unit ``normals (H, W, 3)`` (any frame):
    ``(n + 1) / 2`` on the pixels of ``mask (H, W)``, white elsewhere."""
    from humanrecon.errors import InputError

    normals = np.asarray(torch.as_tensor(normals).detach().cpu(), np.float32)
    mask = np.asarray(torch.as_tensor(mask).detach().cpu(), bool)
    if normals.ndim != 3 or normals.shape[-1] != 3 or mask.shape != normals.shape[:2]:
        raise InputError(f"normals must be (H, W, 3) and mask (H, W), got {normals.shape} and {mask.shape}")
    image = np.clip((normals + 1.0) / 2.0, 0.0, 1.0)
    image[~mask] = 1.0
    return image.astype(np.float32)


def orbit_cameras(like: Camera, centre: torch.Tensor, n_views: int, width: int | None = None,
                  height: int | None = None, elevation_rad: float = math.radians(15.0)) -> Camera:
    """``n_views`` novel cameras on a circle around ``centre (3,)``: at the mean distance
    of the cameras ``like``, with their horizontal field of view, around their mean up
    direction (the world direction of image −y), ``elevation_rad`` above the centre (15°)."""
    from humanrecon.render.raycast import turntable_cameras

    up = -like.R[:, 1, :].mean(0)
    distance = (like.center - centre).norm(dim=-1).mean().item()
    return turntable_cameras(centre.numpy(), distance, n_views, width=width or like.width,
                             height=height or like.height, fov_x_rad=float(like.fov_x[0]),
                             elevation_rad=elevation_rad, up=(up / up.norm()).numpy())


def render_orbit(model, cameras: Camera, background: float = 1.0, progress: bool = True) -> list[np.ndarray]:
    """Render each camera: a list of ``(H, W, 3)`` float32 images."""
    return [model.render_image(cameras[i], background)["rgb"].cpu().numpy()
            for i in tqdm(range(len(cameras)), desc="render", disable=not progress, leave=False)]
