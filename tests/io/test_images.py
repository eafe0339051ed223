"""The one image codec: round trips of RGB, RGBA, gray and 16-bit files, channel order
against a hand-made file, and errors naming the file."""

from __future__ import annotations

import numpy as np
import pytest

from humanrecon.errors import InputError, MissingFileError
from humanrecon.io.images import load_image, load_rgba, save_animation, save_image


def test_rgb_round_trip_is_exact_at_8_bits(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (5, 7, 3)).astype(np.uint8)
    path = save_image(tmp_path / "a.png", image)
    np.testing.assert_array_equal(load_image(path), image / np.float32(255.0))
    rgba = load_rgba(path)
    assert rgba.shape == (5, 7, 4) and (rgba[..., 3] == 1.0).all()


def test_channel_order_against_a_file_written_by_opencv(tmp_path):
    import cv2

    bgr = np.zeros((2, 2, 3), np.uint8)
    bgr[..., 2] = 255  # OpenCV's red channel
    cv2.imwrite(str(tmp_path / "red.png"), bgr)
    np.testing.assert_array_equal(load_image(tmp_path / "red.png")[0, 0], [1.0, 0.0, 0.0])
    save_image(tmp_path / "mine.png", np.array([[[1.0, 0.0, 0.0]]], np.float32))
    assert tuple(cv2.imread(str(tmp_path / "mine.png"))[0, 0]) == (0, 0, 255)


def test_rgba_round_trip_keeps_alpha(tmp_path):
    rgba = np.zeros((3, 4, 4), np.float32)
    rgba[..., 1] = 1.0
    rgba[..., 3] = np.linspace(0, 1, 4)
    out = load_rgba(save_image(tmp_path / "a.png", rgba))
    np.testing.assert_allclose(out, np.round(rgba * 255) / 255, atol=1e-7)
    np.testing.assert_array_equal(load_image(tmp_path / "a.png")[..., 1], 1.0)  # alpha dropped, not composited


def test_gray_and_16_bit_files(tmp_path):
    import cv2

    gray = np.array([[0, 128], [255, 64]], np.uint8)
    cv2.imwrite(str(tmp_path / "g.png"), gray)
    np.testing.assert_array_equal(load_image(tmp_path / "g.png"), np.repeat((gray / np.float32(255))[..., None], 3, -1))
    deep = np.array([[0, 65535]], np.uint16)
    cv2.imwrite(str(tmp_path / "d.png"), deep)
    np.testing.assert_array_equal(load_image(tmp_path / "d.png")[0, :, 0], [0.0, 1.0])


def test_errors_name_the_file_and_write_nothing(tmp_path):
    with pytest.raises(MissingFileError, match="nope.png"):
        load_image(tmp_path / "nope.png")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(InputError, match="bad.png.*not a decodable image"):
        load_image(tmp_path / "bad.png")
    with pytest.raises(InputError, match=r"x\.txt"):
        save_image(tmp_path / "x.txt", np.zeros((2, 2, 3)))
    with pytest.raises(InputError, match=r"must have shape"):
        save_image(tmp_path / "y.png", np.zeros((2, 2, 2)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.png"]


def test_animation_refuses_bad_rates_before_writing(tmp_path):
    frames = [np.zeros((4, 4, 3)), np.ones((4, 4, 3))]
    with pytest.raises(InputError, match="frames per second"):
        save_animation(tmp_path / "a.gif", frames, fps=0)
    assert not (tmp_path / "a.gif").exists()
    from PIL import Image

    with Image.open(save_animation(tmp_path / "a.gif", frames, fps=4)) as gif:
        assert gif.n_frames == 2 and gif.info["duration"] == 250
