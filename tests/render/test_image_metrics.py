"""PSNR and SSIM against closed forms and scikit-image."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from humanrecon.render.image_metrics import psnr, ssim


def test_psnr_closed_form_and_batch_mean():
    a = np.zeros((8, 8, 3), np.float32)
    assert psnr(a + 0.1, a) == pytest.approx(20.0, abs=1e-4)  # MSE 0.01
    assert psnr(a, a) == math.inf
    batch = np.stack([a + 0.1, a + 0.01])
    assert psnr(batch, np.stack([a, a])) == pytest.approx(30.0, abs=1e-3)  # (20 + 40) / 2


def test_masked_psnr_hand_computed():
    # 2x2 RGB image; the mask selects the two left pixels. Squared errors per pixel
    # (summed over channels): left top 3 * 0.1², left bottom 0.2² + 0 + 0, right 0.5² each
    # (outside the mask, ignored). Masked MSE = (0.03 + 0.04) / (2 pixels * 3 channels).
    target = np.zeros((2, 2, 3), np.float32)
    pred = target.copy()
    pred[0, 0] = 0.1
    pred[1, 0, 0] = 0.2
    pred[:, 1] = 0.5
    mask = np.array([[True, False], [True, False]])
    expected = 10 * math.log10(1 / ((0.03 + 0.04) / 6))
    assert psnr(pred, target, mask=mask) == pytest.approx(expected, abs=1e-4)
    assert psnr(pred, target, mask=mask.astype(np.float32)) == pytest.approx(expected, abs=1e-4)
    assert psnr(pred, target, mask=np.ones((2, 2), bool)) == pytest.approx(psnr(pred, target), abs=1e-5)
    # per-image masks in a batch, averaged like the unmasked PSNR; mask (1, H, W) broadcasts
    both = psnr(np.stack([pred, pred]), np.stack([target, target]), mask=np.stack([mask, ~mask]))
    right = 10 * math.log10(1 / 0.25)
    assert both == pytest.approx((expected + right) / 2, abs=1e-4)
    assert psnr(np.stack([pred, pred]), np.stack([target, target]), mask=mask[None]) == pytest.approx(expected, abs=1e-4)
    assert psnr(pred, target, mask=[[False, True], [False, False]]) == pytest.approx(right, abs=1e-4)
    with pytest.raises(ValueError, match="selects no pixel"):
        psnr(pred, target, mask=np.zeros((2, 2), bool))
    with pytest.raises(ValueError, match="mask must have shape"):
        psnr(pred, target, mask=np.ones((3, 2), bool))


def test_ssim_matches_scikit_image():
    rng = np.random.default_rng(0)
    target = rng.random((40, 48, 3)).astype(np.float32)
    noisy = np.clip(target + 0.1 * rng.standard_normal(target.shape), 0, 1).astype(np.float32)
    expected = structural_similarity(noisy, target, data_range=1.0, channel_axis=-1, gaussian_weights=True,
                                     sigma=1.5, use_sample_covariance=False)
    assert ssim(noisy, target) == pytest.approx(expected, abs=1e-5)
    assert ssim(target, target) == pytest.approx(1.0)


def test_masked_ssim_averages_scikit_images_map_over_the_mask():
    rng = np.random.default_rng(1)
    target = rng.random((40, 48, 3)).astype(np.float32)
    noisy = np.clip(target + 0.1 * rng.standard_normal(target.shape), 0, 1).astype(np.float32)
    noisy[:, 24:] = target[:, 24:]  # the right half is exact
    _, full = structural_similarity(noisy, target, data_range=1.0, channel_axis=-1, gaussian_weights=True,
                                    sigma=1.5, use_sample_covariance=False, full=True)
    mask = np.zeros((40, 48), bool)
    mask[8:30, 6:20] = True
    expected = full.mean(-1)[mask].mean()  # every selected centre lies 5+ pixels from the border
    assert ssim(noisy, target, mask=mask) == pytest.approx(expected, abs=1e-5)
    mask[:] = False
    mask[8:30, 32:40] = True  # windows wholly inside the exact half
    assert ssim(noisy, target, mask=mask) == pytest.approx(1.0)
    assert ssim(noisy, target, mask=np.zeros((40, 48), bool)) is None


def test_bad_images_raise():
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))
    with pytest.raises(ValueError, match="NaN"):
        ssim(np.full((16, 16, 3), np.nan), np.zeros((16, 16, 3)))
    with pytest.raises(ValueError, match="smaller than"):
        ssim(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)))


def test_gif_round_trip(tmp_path):
    from PIL import Image, ImageSequence

    from humanrecon.render import save_animation

    frames = [np.full((6, 8, 3), v, np.float32) for v in (0.0, 0.5, 1.0)]
    path = save_animation(tmp_path / "a" / "spin.gif", frames, fps=10)
    with Image.open(path) as gif:
        read = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(gif)]
    assert len(read) == 3 and read[1].shape == (6, 8, 3)
    assert [int(r[0, 0, 0]) for r in read] == [0, 128, 255]
    with pytest.raises(ValueError, match="differ in size"):
        save_animation(tmp_path / "b.gif", [frames[0], np.zeros((4, 4, 3))])
