"""COLMAP sparse models: text and binary readers against hand-written files, round trips
text <-> binary <-> Camera, COLMAP's projection equals Camera.project, one clear error per
kind of broken model."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from humanrecon.datasets.colmap import (
    ColmapScene,
    qvec_to_rotmat,
    read_colmap,
    rotmat_to_qvec,
    write_colmap_binary,
    write_colmap_text,
)
from humanrecon.errors import InputError, MissingFileError, OutputExistsError
from humanrecon.geometry.camera import Camera

Q1 = (0.9, 0.1, -0.3, 0.2)  # not unit: readers normalise
T1 = (0.2, -0.1, 3.0)
Q2 = (0.7071067811865476, 0.0, 0.7071067811865476, 0.0)
T2 = (0.0, 0.5, 4.0)

CAMERAS_TXT = """# Camera list with one line of data per camera:
#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]
1 PINHOLE 640 480 500.0 510.0 320.5 239.5
2 SIMPLE_RADIAL 640 480 450.0 300.0 250.0 0.0
3 OPENCV 640 480 400 410 330 250 0 0 0 0
"""
IMAGES_TXT = f"""# Image list with two lines of data per image:
#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME
#   POINTS2D[] as (X, Y, POINT3D_ID)
7 {' '.join(map(str, Q1))} {' '.join(map(str, T1))} 1 frame_b.jpg
10.5 20.5 1 30.0 40.0 -1
3 {' '.join(map(str, Q2))} {' '.join(map(str, T2))} 2 a.jpg

5 1 0 0 0 0 0 2 3 c.jpg

"""
POINTS_TXT = """# 3D point list with one line of data per point:
1 0.1 0.2 0.3 255 0 128 0.5 7 0
4 -1.5 2.5 10 0 255 0 1.25
"""


def _text_model(folder: Path, cameras=CAMERAS_TXT, images=IMAGES_TXT, points=POINTS_TXT) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (("cameras", cameras), ("images", images), ("points3D", points)):
        if text is not None:
            (folder / f"{name}.txt").write_text(text)
    return folder


def _hamilton_rotate(q, v):
    """Rotate ``v`` by quaternion ``q = (w, x, y, z)`` as ``q v q*`` (independent of the reader)."""
    w, x, y, z = np.asarray(q, float) / np.linalg.norm(q)
    def mul(a, b):
        aw, ax, ay, az = a
        bw, bx, by, bz = b
        return np.array([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                         aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw])
    return mul(mul((w, x, y, z), (0.0, *v)), (w, -x, -y, -z))[1:]


def test_text_model_reads_and_projects_like_colmap(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # zero distortion: no warning
        scene = read_colmap(_text_model(tmp_path))
    assert scene.names == ["a.jpg", "c.jpg", "frame_b.jpg"]  # by name
    assert scene.image_ids.tolist() == [3, 5, 7] and scene.camera_ids.tolist() == [2, 3, 1]
    assert scene.sizes.tolist() == [[640, 480]] * 3
    np.testing.assert_allclose(scene.Ks[0], [[450, 0, 300], [0, 450, 250], [0, 0, 1]])
    np.testing.assert_allclose(scene.Ks[2], [[500, 0, 320.5], [0, 510, 239.5], [0, 0, 1]])
    cams = scene.cameras
    assert isinstance(cams, Camera) and len(cams) == 3 and cams.dtype == torch.float32
    X = np.array([0.3, -0.2, 1.0])
    for i, (q, t) in enumerate([(Q2, T2), ((1, 0, 0, 0), (0, 0, 2)), (Q1, T1)]):
        xc = _hamilton_rotate(q, X) + np.asarray(t)  # COLMAP: world-to-camera x_c = R(q) X + t
        K = scene.Ks[i]
        pixel = (K @ xc)[:2] / xc[2]  # K [R|t] X
        if i == 1:  # the identity rotation and t = (0, 0, 2) put X at z = 3 in front of camera 3 (OPENCV)
            np.testing.assert_allclose(pixel, [400 * 0.3 / 3 + 330, 410 * -0.2 / 3 + 250])
        projected = cams[i].project(torch.tensor(X[None], dtype=torch.float32))[0, 0].double().numpy()
        np.testing.assert_allclose(projected, pixel, atol=2e-4)
    np.testing.assert_allclose(scene.points.numpy(), [[0.1, 0.2, 0.3], [-1.5, 2.5, 10]], rtol=1e-7)
    np.testing.assert_allclose(scene.colors.numpy(), [[1, 0, 128 / 255], [0, 1, 0]], rtol=1e-7)
    assert scene.point_ids.tolist() == [1, 4] and scene.point_errors.tolist() == [0.5, 1.25]
    np.testing.assert_allclose(np.linalg.norm(scene.qvecs, axis=1), 1.0)


def test_distorted_camera_keeps_its_lens_and_warns_when_dropped(tmp_path):
    folder = _text_model(tmp_path, cameras=CAMERAS_TXT.replace("250.0 0.0", "250.0 0.05"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # reading keeps the distortion: no warning
        scene = read_colmap(folder)
    assert scene.intrinsics[2].distortion == (0.05,)
    assert scene.intrinsics[2].lens()[0] == "OPENCV"
    np.testing.assert_allclose(scene.intrinsics[2].lens()[1], [0.05])
    np.testing.assert_allclose(scene.Ks[0], [[450, 0, 300], [0, 450, 250], [0, 0, 1]])
    with pytest.warns(UserWarning, match=r"scene\.cameras drops the lens distortion of cameras \[2\]"):
        scene.cameras


def test_text_binary_round_trips(tmp_path):
    scene = read_colmap(_text_model(tmp_path / "text"))
    write_colmap_binary(tmp_path / "bin", scene)
    binary = read_colmap(tmp_path / "bin")
    write_colmap_text(tmp_path / "text2", binary)
    again = read_colmap(tmp_path / "text2")
    for other in (binary, again):
        assert other.names == scene.names and other.intrinsics == scene.intrinsics
        for key in ("image_ids", "camera_ids", "qvecs", "tvecs", "point_ids", "point_errors"):
            np.testing.assert_array_equal(getattr(other, key), getattr(scene, key))
        torch.testing.assert_close(other.points, scene.points, rtol=0, atol=0)
        torch.testing.assert_close(other.colors, scene.colors, rtol=0, atol=0)
        torch.testing.assert_close(other.cameras.R, scene.cameras.R, rtol=0, atol=0)
    with pytest.raises(OutputExistsError, match=r"cameras\.bin exists"):
        write_colmap_binary(tmp_path / "bin", scene)
    write_colmap_binary(tmp_path / "bin", scene, overwrite=True)


def test_camera_round_trip_through_both_formats(tmp_path):
    cams = Camera.look_at(torch.tensor([[2.0, 0.5, 1.0], [-1.0, 1.0, -2.0], [0.3, -2.0, 0.1]]), torch.zeros(3),
                          width=320, height=240, focal=280.0)
    cams = Camera(cams.K.clone().index_put_((torch.tensor([1]), torch.tensor([0]), torch.tensor([2])),
                                            torch.tensor([150.0])), cams.R, cams.t, 320, 240)
    points = torch.randn(20, 3, generator=torch.Generator().manual_seed(0))
    colors = torch.rand(20, 3, generator=torch.Generator().manual_seed(1))
    scene = ColmapScene.from_cameras(cams, ["c.png", "a.png", "b.png"], points, colors)
    for writer, name in ((write_colmap_text, "txt"), (write_colmap_binary, "bin")):
        back = read_colmap(writer(tmp_path / name / "sparse" / "0", scene).parents[1])  # the dataset root
        order = [1, 2, 0]  # read back sorted by name
        assert back.names == ["a.png", "b.png", "c.png"]
        got = back.cameras
        torch.testing.assert_close(got.K, cams.K[order], rtol=0, atol=1e-5)
        torch.testing.assert_close(got.R, cams.R[order], rtol=0, atol=1e-6)
        torch.testing.assert_close(got.t, cams.t[order], rtol=0, atol=1e-6)
        torch.testing.assert_close(back.points, points, rtol=0, atol=0)
        torch.testing.assert_close(back.colors, torch.round(colors * 255) / 255, rtol=0, atol=1e-7)
        torch.testing.assert_close(got.project(points), cams[order].project(points), rtol=1e-5, atol=1e-3)


def test_quaternion_helpers():
    gen = np.random.default_rng(0)
    q = gen.normal(size=(6, 4))
    q[:, 0] = np.abs(q[:, 0])
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    R = qvec_to_rotmat(q)
    for qi, Ri in zip(q, R):
        v = gen.normal(size=3)
        np.testing.assert_allclose(Ri @ v, _hamilton_rotate(qi, v), atol=1e-12)
    np.testing.assert_allclose(rotmat_to_qvec(R), q, atol=1e-10)
    with pytest.raises(InputError, match="not a rotation"):
        rotmat_to_qvec(np.diag([1.0, 1.0, -1.0]))


def _binary_model(folder: Path, *, camera_model=(1, (500.0, 500.0, 320.0, 240.0)), truncate: str | None = None,
                  extra: bytes = b"") -> Path:
    """A model written with struct, following COLMAP's read_write_model.py layout."""
    folder.mkdir(parents=True, exist_ok=True)
    model_id, params = camera_model
    cams = struct.pack("<Q", 1) + struct.pack("<iiQQ", 1, model_id, 640, 480) + struct.pack(f"<{len(params)}d", *params)
    imgs = struct.pack("<Q", 1) + struct.pack("<idddddddi", 1, *Q2, *T2, 1) + b"img.png\x00"
    imgs += struct.pack("<Q", 2) + struct.pack("<ddq", 1.0, 2.0, -1) + struct.pack("<ddq", 3.0, 4.0, 9)
    pts = struct.pack("<Q", 1) + struct.pack("<QdddBBBd", 9, 1.0, 2.0, 3.0, 10, 20, 30, 0.7)
    pts += struct.pack("<Q", 2) + struct.pack("<iiii", 1, 1, 1, 0)
    files = {"cameras": cams, "images": imgs, "points3D": pts + extra}
    for name, data in files.items():
        (folder / f"{name}.bin").write_bytes(data[:-3] if truncate == name else data)
    return folder


def test_binary_model_written_by_hand(tmp_path):
    scene = read_colmap(_binary_model(tmp_path))
    assert scene.names == ["img.png"] and scene.image_ids.tolist() == [1]
    np.testing.assert_allclose(scene.qvecs[0], Q2)
    np.testing.assert_allclose(scene.tvecs[0], T2)
    np.testing.assert_allclose(scene.points.numpy(), [[1, 2, 3]])
    np.testing.assert_allclose(scene.colors.numpy(), [[10 / 255, 20 / 255, 30 / 255]], rtol=1e-6)
    assert scene.point_ids.tolist() == [9] and scene.point_errors.tolist() == [0.7]
    np.testing.assert_allclose(scene.cameras.R[0].double().numpy(), [[0, 0, 1], [0, 1, 0], [-1, 0, 0]], atol=1e-7)


def test_mixed_image_sizes(tmp_path):
    folder = _text_model(tmp_path, cameras=CAMERAS_TXT.replace("3 OPENCV 640 480 400 410 330 250", "3 OPENCV 320 200 400 410 160 100"))
    scene = read_colmap(folder)
    with pytest.raises(InputError, match=r"images have different sizes \[\(320, 200\), \(640, 480\)\]"):
        scene.cameras
    cam = scene.camera(1)
    assert (cam.width, cam.height, len(cam)) == (320, 200, 1)


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("file, old, new, message", [
    ("cameras", "1 PINHOLE 640 480 500.0 510.0 320.5 239.5", "1 FOV 640 480 500.0 510.0 320.5 239.5 0.1",
     r"cameras\.txt: camera 1 \(of image 'frame_b\.jpg'\) uses the FOV model, which is not supported"),
    ("cameras", "1 PINHOLE", "1 PINHOL", r"cameras\.txt: line 3 '1 PINHOL 640.*': .*unknown camera model"),
    ("cameras", "510.0 320.5 239.5", "510.0 320.5", r"line 3 .*the number of parameters does not match the camera "
                                                      r"model"),
    ("cameras", "640 480 500.0", "640 0 500.0", r"camera 1 \(of image 'frame_b\.jpg'\) has image size 640x0"),
    ("cameras", "500.0 510.0", "-500.0 510.0", r"camera 1 .* has invalid parameters"),
    ("cameras", "1 PINHOLE 640", "x PINHOLE 640", r"cameras\.txt: line 3 'x PINHOLE.*a field is missing or is not a "
                                                  r"number; expected CAMERA_ID MODEL"),
    ("cameras", "2 SIMPLE_RADIAL", "1 SIMPLE_RADIAL", r"line 4 .*its id appears more than once"),
    ("images", " 1 frame_b.jpg", " 9 frame_b.jpg", r"images\.txt: line 4 .*it names camera 9, which the cameras file "
                                                   r"does not define"),
    ("images", " 1 frame_b.jpg", " 1 frame b.jpg", r"images\.txt: line 4: image name 'frame b\.jpg' holds white "
                                                   r"space"),
    ("images", "5 1 0 0 0", "5 0 0 0 0", r"images\.txt: image 5 \('c\.jpg'\) has a zero-length quaternion"),
    ("images", "5 1 0 0 0 0 0 2 3 c.jpg", "5 1 0 0 0 0 nan 2 3 c.jpg", r"line 8 '5 1 0 0 0 0 nan.*not a number"),
    ("images", " 2 a.jpg", " 2", r"images\.txt: line 6 .*the image has no name"),
    ("images", "3 0.7071067811865476", "3 zero", r"line 6 '3 zero.*not a number"),
    ("points3D", "4 -1.5 2.5 10", "4 -1.5 inf 10", r"points3D\.txt: line 3 .*not a number"),
    ("points3D", "4 -1.5 2.5 10 0 255 0 1.25", "4 -1.5 2.5", r"line 3 '4 -1\.5 2\.5'.*expected POINT3D_ID X Y Z"),
    ("points3D", "7 0\n", "7 5\n", r"points3D\.txt: line 2 .*its track names a 2D point its image does not have"),
])
def test_broken_text_models(tmp_path, file, old, new, message):
    texts = {"cameras": CAMERAS_TXT, "images": IMAGES_TXT, "points": POINTS_TXT}
    key = "points" if file == "points3D" else file
    assert old in texts[key]
    texts[key] = texts[key].replace(old, new, 1)
    folder = _text_model(tmp_path, **texts)
    with pytest.raises(InputError, match=message) as info:
        read_colmap(folder)
    assert str(folder / f"{file}.txt") in str(info.value)


def test_missing_and_empty_models(tmp_path):
    with pytest.raises(MissingFileError, match=r"COLMAP model folder not found"):
        read_colmap(tmp_path / "nowhere")
    with pytest.raises(MissingFileError, match=r"no COLMAP model .* sparse/0"):
        read_colmap(tmp_path)
    _text_model(tmp_path / "m", points=None)
    with pytest.raises(MissingFileError, match=r"points3D\.txt: missing from the COLMAP model"):
        read_colmap(tmp_path / "m")
    folder = _text_model(tmp_path / "e", images="# no images\n", points="# no points\n")
    with pytest.raises(InputError, match=r"e: the COLMAP model has no registered images \(0 images in images\.txt"):
        read_colmap(folder)
    (folder / "images.txt").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(InputError, match=r"images\.txt: not a COLMAP text file"):
        read_colmap(folder)


@pytest.mark.parametrize("kwargs, file, message", [
    ({"truncate": "cameras"}, "cameras", r"truncated COLMAP binary file: the parameters of camera 1 at offset 32 "
                                         r"needs 32 bytes, the file has 29 left"),
    ({"truncate": "images"}, "images", r"truncated COLMAP binary file: 2 2D points of image 1"),
    ({"truncate": "points3D"}, "points3D", r"truncated COLMAP binary file: 2 track entries of point 9"),
    ({"extra": b"\x00" * 5}, "points3D", r"5 unexpected bytes after the last record"),
    ({"camera_model": (7, (500.0, 500.0, 320.0, 240.0, 0.1))}, "cameras", r"camera 1 \(of image 'img\.png'\) uses "
                                                                          r"the FOV model, which is not supported"),
    ({"camera_model": (42, (1.0,) * 4)}, "cameras", r"camera 1 has unknown model id 42"),
])
def test_broken_binary_models(tmp_path, kwargs, file, message):
    folder = _binary_model(tmp_path, **kwargs)
    with pytest.raises(InputError, match=message) as info:
        read_colmap(folder)
    assert str(folder / f"{file}.bin") in str(info.value)


def test_binary_count_larger_than_file(tmp_path):
    folder = _binary_model(tmp_path)
    data = bytearray((folder / "points3D.bin").read_bytes())
    data[:8] = struct.pack("<Q", 10**12)
    (folder / "points3D.bin").write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"points3D\.bin: truncated or malformed .* declares 1000000000000 points"):
        read_colmap(folder)


# --------------------------------------------------------------------------- a capture's views
@pytest.mark.parametrize("model, params", [
    ("OPENCV", (0.25, -0.05, 0.002, -0.003)),
    ("OPENCV_FISHEYE", (0.2, -0.02, 0.004, -0.001)),
])
def test_distorted_colmap_photos_read_back_as_the_pinhole_camera_sees_them(tmp_path, model, params):
    from humanrecon.datasets.colmap import ColmapCamera, read_colmap_views
    from tests.datasets.test_nerfstudio import H, K, W, cameras, interior_error
    from tests.oracles import distorted_render
    from humanrecon.io.images import save_image

    cams = cameras(9)
    names = [f"{i:02d}.png" for i in range(9)]
    scene = ColmapScene.from_cameras(cams.to(dtype=torch.float32), names, torch.zeros(0, 3), torch.zeros(0, 3))
    scene.intrinsics = {1: ColmapCamera(model, W, H, (K[0, 0], K[1, 1], K[0, 2], K[1, 2], *params))}
    scene.camera_ids = np.ones(9, dtype=np.int64)
    write_colmap_binary(tmp_path / "sparse" / "0", scene)
    photo = distorted_render(K, list(params), W, H, fisheye=model == "OPENCV_FISHEYE")
    for name in names:
        save_image(tmp_path / "images" / name, photo)
    split = read_colmap_views(tmp_path, "all")
    assert split.format == "colmap" and split.images.shape == (9, H, W, 3)
    assert interior_error(split) < 0.003
    torch.testing.assert_close(split.cameras.R, cams.R.float(), rtol=0, atol=1e-6)
    # the oracle can fail: the same photos read as pinhole are far off
    scene.intrinsics = {1: ColmapCamera("PINHOLE", W, H, (K[0, 0], K[1, 1], K[0, 2], K[1, 2]))}
    write_colmap_binary(tmp_path / "sparse" / "0", scene, overwrite=True)
    assert interior_error(read_colmap_views(tmp_path, "all")) > 0.01
