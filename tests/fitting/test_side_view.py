"""The side view of fitted bodies: framing (with or without the photo camera), tick
spacing, person colours, and renders of box "bodies" at known depths."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from humanrecon.fitting.overlay import DETECTED_COLOR, MODEL_COLOR
from humanrecon.fitting.side_view import (BACKGROUND, PERSON_COLORS, depth_step, label_people, person_colors,
                                          render_side_view, side_framing)

_BOX = trimesh.creation.box((0.4, 1.7, 0.3))  # a body-sized box, centred at the origin
FACES = np.asarray(_BOX.faces)


def bodies(*centres) -> np.ndarray:
    """``(P, 8, 3)`` boxes centred at the camera-frame ``centres`` (x right, y down, z depth)."""
    return np.stack([np.asarray(_BOX.vertices) + np.asarray(c, dtype=np.float64) for c in centres])


def test_person_colors_cycle_and_avoid_the_keypoint_colours():
    colors = person_colors(len(PERSON_COLORS) + 2)
    assert colors.shape == (len(PERSON_COLORS) + 2, 3) and colors.dtype == np.float32
    np.testing.assert_allclose(colors[len(PERSON_COLORS):], colors[:2])
    for keypoint_color in (DETECTED_COLOR, MODEL_COLOR):
        assert np.abs(colors - np.asarray(keypoint_color)).sum(1).min() > 0.3


@pytest.mark.parametrize("metres_per_pixel, step", [(0.001, 0.1), (0.004, 0.5), (0.01, 1.0), (0.02, 2.0),
                                                    (0.05, 5.0), (0.1, 10.0)])
def test_depth_step_is_round_and_wide_enough(metres_per_pixel, step):
    assert depth_step(metres_per_pixel) == pytest.approx(step)
    assert depth_step(metres_per_pixel) / metres_per_pixel >= 60


def test_framing_shows_the_camera_when_the_people_are_near():
    verts = bodies((0.0, 0.3, 3.0), (0.5, 0.3, 4.0)).reshape(-1, 3)
    frame = side_framing(verts, 640, 480)
    assert frame.camera_shown
    u_cam, _ = frame.to_pixel(0.0, 0.0)
    assert 0 < u_cam < 640
    for y, z in verts[:, 1:]:  # every body point in the picture
        u, v = frame.to_pixel(y, z)
        assert 0 <= u <= 640 and 0 <= v <= 480
    z_left, z_right = frame.depth_range()
    assert z_left < 0 < 4.15 < z_right


def test_framing_leaves_a_far_camera_out_and_keeps_the_bodies_large():
    verts = bodies((0.0, 0.3, 12.0), (0.5, 0.3, 13.0)).reshape(-1, 3)
    frame = side_framing(verts, 640, 480)
    assert not frame.camera_shown
    assert frame.depth_range()[0] > 0
    assert 1.7 * frame.scale > 0.5 * 480  # a body fills over half the height
    with pytest.raises(ValueError, match="finite"):
        side_framing(np.full((4, 3), np.nan), 640, 480)


def _hue_mask(image: np.ndarray, color) -> np.ndarray:
    """Pixels whose colour direction is that of ``color`` (shading changes brightness only)."""
    c = np.asarray(color) / np.linalg.norm(color)
    norm = np.linalg.norm(image, axis=-1)
    cosine = (image @ c) / np.maximum(norm, 1e-6)
    background = np.abs(image - np.asarray(BACKGROUND)).max(-1) < 0.02
    return (cosine > 0.995) & ~background & (norm > 0.2)


def test_side_view_puts_the_deeper_person_further_right():
    picture = render_side_view(bodies((-0.5, 0.3, 3.0), (0.5, 0.3, 4.5)), FACES, 320, 240)
    assert picture.shape == (240, 320, 3) and picture.dtype == np.float32
    assert 0.0 <= picture.min() and picture.max() <= 1.0
    first, second = (_hue_mask(picture, c) for c in PERSON_COLORS[:2])
    assert first.sum() > 200 and second.sum() > 200
    columns = np.nonzero(first)[1], np.nonzero(second)[1]
    assert columns[0].max() < columns[1].min()  # 1.5 m apart in depth: no overlap
    rows = np.nonzero(first)[0]
    assert rows.max() - rows.min() > 0.4 * 240  # tall, upright bodies


def test_side_view_of_one_person_and_bad_shapes():
    picture = render_side_view(bodies((0.0, 0.3, 3.0)), FACES, 200, 150, colors=np.array([[0.9, 0.6, 0.2]]))
    assert _hue_mask(picture, (0.9, 0.6, 0.2)).sum() > 100
    with pytest.raises(ValueError, match=r"\(P, V, 3\)"):
        render_side_view(np.zeros((8, 3)), FACES, 200, 150)


def test_label_people_writes_near_the_anchors_and_skips_missing_ones():
    image = np.full((120, 200, 3), 0.5, dtype=np.float32)
    out = label_people(image, np.array([[50.0, 60.0], [np.nan, np.nan], [150.0, 60.0]]), person_colors(3))
    changed = np.abs(out - image).max(-1) > 0.05
    assert out.shape == image.shape and changed.any()
    cols = np.nonzero(changed)[1]
    assert cols.min() > 30 and cols.max() < 170 and not changed[:, 90:110].any()
