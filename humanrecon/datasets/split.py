"""What every capture reader returns: :class:`ViewSplit` (images, opacity, optional object
masks and OpenCV cameras of one split), and the helpers all readers share: image stacks
read and downscaled in one way (:func:`read_image_stack`), masks (:func:`read_mask_stack`),
intrinsics scaled with them (:func:`scale_cameras`), and the held-out split of captures
that name none (:func:`holdout_indices`, every 8th image: the mip-NeRF 360 convention).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from humanrecon.errors import InputError, MissingFileError
from humanrecon.geometry.camera import Camera
from humanrecon.io.images import load_rgba

#: every 8th image (by name) is held out for testing in captures without named splits
HOLDOUT_EVERY = 8
SPLITS = ("train", "test", "val", "all")


# --------------------------------------------------------------------------- result
@dataclass
class ViewSplit:
    """One split of a multi-view dataset, in memory.

    Attributes:
        images: ``(N, H, W, 3)`` float32 RGB in ``[0, 1]`` (straight, not premultiplied).
        alpha: ``(N, H, W)`` float32 opacity in ``[0, 1]``: the images' own alpha channel
            (renders with a transparent background), ones for photographs.
        cameras: one :class:`Camera` of batch ``N`` (OpenCV, world-to-camera, float32,
            pinhole: distorted captures are undistorted on reading).
        names: the ``N`` image files read (absolute or relative to the working directory).
        root: the dataset folder.
        split: ``"train"``, ``"val"``, ``"test"``, ``"all"``, ...
        bounds: ``(2, 3)`` scene box ``[min, max]`` (world units) when the dataset gives one
            (None: :func:`humanrecon.geometry.scene.dataset_bounds` derives it from the cameras).
        points: ``(P, 3)`` sparse world points of a structure-from-motion model, or None.
        point_colors: ``(P, 3)`` their RGB in ``[0, 1]``, or None.
        masks: ``(N, H, W)`` float32 object masks in ``[0, 1]`` from the capture (DTU's
            ``mask/``, transforms.json ``mask_path``), or None. Unlike ``alpha`` the photo
            around a mask is real background, not transparency.
        near_far: ``(N, 2)`` near and far scene depth per view (world units) when the format
            stores it (LLFF), or None.
        split_rule: how the split was chosen, for ``metrics.json``: e.g. ``"the dataset's own
            (transforms_test.json)"`` or ``"every 8th image by name held out (mip-NeRF 360)"``.
        format: the capture format read (``"blender"``, ``"instant-ngp"``, ``"colmap"``,
            ``"llff"``, ``"idr"``).
    """

    images: torch.Tensor
    alpha: torch.Tensor
    cameras: Camera
    names: list[str]
    root: Path
    split: str
    bounds: torch.Tensor | None = None
    points: torch.Tensor | None = None
    point_colors: torch.Tensor | None = None
    masks: torch.Tensor | None = None
    near_far: torch.Tensor | None = None
    split_rule: str = ""
    format: str = ""

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def width(self) -> int:
        return self.cameras.width

    @property
    def height(self) -> int:
        return self.cameras.height

    def on_masks(self) -> "ViewSplit":
        """The same views with the object masks as opacity (``alpha = masks``), so a trainer
        learns the object alone over its background colour, as on renders with alpha.

        Raises:
            InputError: the split has no masks.
        """
        if self.masks is None:
            raise InputError(f"{self.root}: this capture has no object masks to train on")
        return dataclasses.replace(self, alpha=self.masks.clone())

    def composite(self, background: Sequence[float] | torch.Tensor) -> torch.Tensor:
        """Images over a background colour ``(3,)`` RGB in ``[0, 1]``: ``rgb a + bg (1 - a)``.

        Returns ``(N, H, W, 3)`` float32.
        """
        bg = torch.as_tensor(background, dtype=self.images.dtype, device=self.images.device)
        if bg.shape != (3,):
            raise InputError(f"background must be an RGB colour of shape (3,), got {tuple(bg.shape)}")
        a = self.alpha.unsqueeze(-1)
        return self.images * a + bg * (1.0 - a)


#: the former name, kept for code written against the Blender-only reader
BlenderSplit = ViewSplit


# --------------------------------------------------------------------------- splits
def holdout_indices(n: int, split: str, holdout_every: int = HOLDOUT_EVERY) -> list[int]:
    """Image indices (``0..n-1``, by name) of ``split`` in a capture without named splits:
    ``"test"`` (= ``"val"``) is every ``holdout_every``-th image (0, 8, 16, ...), ``"train"``
    the rest, ``"all"`` every image."""
    if split not in SPLITS:
        raise InputError(f"split must be one of {SPLITS} for a capture without named splits, got {split!r}")
    if holdout_every < 2:
        raise InputError(f"holdout_every must be >= 2, got {holdout_every}")
    if split == "all":
        return list(range(n))
    test = split in ("test", "val")
    return [i for i in range(n) if (i % holdout_every == 0) == test]


def holdout_rule(holdout_every: int = HOLDOUT_EVERY) -> str:
    """The ``split_rule`` text of :func:`holdout_indices`."""
    return f"every {holdout_every}th image by name held out for testing (mip-NeRF 360 convention)"


# --------------------------------------------------------------------------- image helpers
def check_image_count(where, n: int, folder, files: Sequence[Path], what: str = "views") -> None:
    """One image per view: ``files`` (sorted, in ``folder``) must number ``n``.

    Raises:
        MissingFileError: fewer (names the first frame without an image).
        InputError: more (names the first image without a camera).
    """
    if len(files) < n:
        raise MissingFileError(f"{where}: {n} {what} but '{folder}' holds {len(files)} images: "
                               f"frame {len(files)} has no image")
    if len(files) > n:
        raise InputError(f"{where}: {n} {what} but '{folder}' holds {len(files)} images "
                         f"(first without a camera: frame {n}, '{Path(files[n]).name}')")


def _as_factor(factor) -> int:
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
        raise InputError(f"downscale factor must be an integer >= 1, got {factor!r}")
    return int(factor)


def downscale_rgba(rgb: torch.Tensor, alpha: torch.Tensor, factor: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Area-average ``factor x factor`` pixel blocks, premultiplied by alpha.

    Args:
        rgb: ``(..., H, W, 3)`` straight colour; alpha: ``(..., H, W)``.
        factor: integer >= 1. Rows/columns beyond a multiple of ``factor`` (bottom, right)
            are cropped, which leaves intrinsics scaled by ``1 / factor`` exact.
    Returns:
        ``(rgb, alpha)`` of shapes ``(..., H // factor, W // factor, 3)`` and ``(..., H', W')``;
        colour is un-premultiplied again (0 where the averaged alpha is 0).
    """
    factor = _as_factor(factor)
    if factor == 1:
        return rgb, alpha
    h, w = alpha.shape[-2] // factor, alpha.shape[-1] // factor
    if h == 0 or w == 0:
        raise InputError(f"cannot downscale a {alpha.shape[-1]}x{alpha.shape[-2]} image by {factor}")
    rgba = torch.cat([rgb * alpha.unsqueeze(-1), alpha.unsqueeze(-1)], dim=-1)
    rgba = rgba[..., : h * factor, : w * factor, :]
    blocks = rgba.reshape(*rgba.shape[:-3], h, factor, w, factor, 4).mean(dim=(-4, -2))
    a = blocks[..., 3]
    color = torch.where(a.unsqueeze(-1) > 0, blocks[..., :3] / a.clamp_min(1e-12).unsqueeze(-1), 0.0)
    return color.clamp(0.0, 1.0), a


def downscale_mask(mask: torch.Tensor, factor: int) -> torch.Tensor:
    """Area-average ``(..., H, W)`` masks by ``factor`` (cropped as :func:`downscale_rgba`)."""
    factor = _as_factor(factor)
    if factor == 1:
        return mask
    h, w = mask.shape[-2] // factor, mask.shape[-1] // factor
    if h == 0 or w == 0:
        raise InputError(f"cannot downscale a {mask.shape[-1]}x{mask.shape[-2]} mask by {factor}")
    m = mask[..., : h * factor, : w * factor]
    return m.reshape(*m.shape[:-2], h, factor, w, factor).mean(dim=(-3, -1))


def scale_cameras(cameras: Camera, scale: float, width: int | None = None, height: int | None = None) -> Camera:
    """The same cameras for images resampled by ``scale`` (2: twice as many pixels per side).

    Pixel coordinates scale by ``scale`` (exact for the pixel-area convention of
    :class:`Camera`), so ``fx, fy, cx, cy`` do; ``R``, ``t`` are kept. ``width`` and
    ``height`` default to ``round(W * scale)`` and ``round(H * scale)``; pass them when the
    image was also cropped (e.g. ``W // factor`` after :func:`downscale_rgba`).
    """
    width = round(cameras.width * scale) if width is None else width
    height = round(cameras.height * scale) if height is None else height
    diag = torch.tensor([scale, scale, 1.0], dtype=cameras.dtype, device=cameras.device)
    return Camera(cameras.K * diag[:, None], cameras.R, cameras.t, width, height)


def read_image_stack(paths: Sequence[str | os.PathLike], where: str, *, downscale: int = 1,
                     size: tuple[int, int] | None = None, transform=None,
                     frames: Sequence[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Read images of one split into ``(N, H, W, 3)`` RGB and ``(N, H, W)`` alpha, float32.

    Args:
        paths: the image files, in the split's order.
        where: the dataset file that names them (for error messages).
        downscale: integer factor, applied after ``transform`` (area average).
        size: the expected full-resolution ``(W, H)`` (e.g. from the format's intrinsics);
            None: the first image's size, and every other image must match it.
        transform: optional ``f(index, rgba (H, W, 4) numpy float32) -> rgba`` run at full
            resolution before downscaling (undistortion); ``index`` is the row in ``paths``.
        frames: the dataset's own frame number of each path, for error messages
            (default: the row).
    Raises:
        MissingFileError: an image is missing (names it and its frame).
        InputError: an image of another size (names both).
    """
    factor = _as_factor(downscale)
    images = alpha = None
    for row, path in enumerate(paths):
        path, frame = Path(path), row if frames is None else frames[row]
        if not path.is_file():
            raise MissingFileError(f"{where}: image of frame {frame} not found: '{path}'")
        rgba = load_rgba(path)
        found = (rgba.shape[1], rgba.shape[0])
        if size is None:
            size = found
        elif found != tuple(size):
            raise InputError(f"{where}: frame {frame} image '{path}' is {found[0]}x{found[1]} but the capture's "
                             f"camera (or its first image) is {size[0]}x{size[1]} (WxH)")
        if transform is not None:
            rgba = transform(row, rgba)
        rgba = torch.from_numpy(np.ascontiguousarray(rgba))
        rgb, a = downscale_rgba(rgba[..., :3], rgba[..., 3], factor)
        if images is None:  # allocate once: a split can hold gigabytes of pixels
            images = torch.empty((len(paths), *rgb.shape), dtype=torch.float32)
            alpha = torch.empty((len(paths), *a.shape), dtype=torch.float32)
        images[row], alpha[row] = rgb, a
    if images is None:
        raise InputError(f"{where}: no images in this split")
    return images, alpha


def read_mask_stack(paths: Sequence[str | os.PathLike], where: str, size: tuple[int, int], *,
                    downscale: int = 1, transform=None, frames: Sequence[int] | None = None) -> torch.Tensor:
    """Read object masks (any 8/16-bit image; white = object; RGB is averaged, an alpha
    channel is used where present) into ``(N, H, W)`` float32 in ``[0, 1]``.

    Args:
        size: the images' full-resolution ``(W, H)``: every mask must have it.
        transform: optional ``f(index, mask (H, W) numpy float32) -> mask`` at full resolution.
        frames: the dataset's frame number of each path, for error messages (default: the row).
    Raises:
        MissingFileError / InputError naming the file and the frame.
    """
    out = []
    for row, path in enumerate(paths):
        path, frame = Path(path), row if frames is None else frames[row]
        if not path.is_file():
            raise MissingFileError(f"{where}: mask of frame {frame} not found: '{path}'")
        rgba = load_rgba(path)
        if (rgba.shape[1], rgba.shape[0]) != tuple(size):
            raise InputError(f"{where}: frame {frame} mask '{path}' is {rgba.shape[1]}x{rgba.shape[0]} but its image "
                             f"is {size[0]}x{size[1]} (WxH)")
        has_alpha = bool((rgba[..., 3] < 1).any())
        mask = rgba[..., 3] if has_alpha else rgba[..., :3].mean(axis=-1)
        if transform is not None:
            mask = transform(row, mask)
        out.append(downscale_mask(torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32)), downscale))
    return torch.stack(out)
