"""Tests for humanrecon.geometry.metrics (ONet evaluation metrics)."""

import math

import numpy as np
import pytest
import torch
import trimesh

from humanrecon.geometry.metrics import (
    chamfer_distance,
    f_score,
    mesh_iou,
    mesh_metrics,
    point_to_surface,
    normal_consistency,
    volumetric_iou,
)
from humanrecon.geometry.sdf import MeshSDF, sample_surface

R, D = 0.5, 0.05


@pytest.fixture(scope="module")
def icosphere():
    return trimesh.creation.icosphere(subdivisions=4, radius=R)


# --------------------------------------------------------------------------- hand-computed
# A = {(0,0,0), (1,0,0)}, B = {(0,0,0), (0,2,0), (3,0,0)}
# A -> B distances: 0, 1            (accuracy     = 1/2,  squared mean 1/2)
# B -> A distances: 0, 2, 2         (completeness = 4/3,  squared mean 8/3)
A = np.array([[0, 0, 0], [1, 0, 0]], float)
B = np.array([[0, 0, 0], [0, 2, 0], [3, 0, 0]], float)


def test_chamfer_hand_computed():
    c = chamfer_distance(A, B)
    assert c["accuracy"] == pytest.approx(0.5) and c["completeness"] == pytest.approx(4 / 3)
    assert c["l1"] == pytest.approx((0.5 + 4 / 3) / 2)
    assert c["l2"] == pytest.approx((0.5 + 8 / 3) / 2)
    assert chamfer_distance(torch.tensor(A), torch.tensor(B))["l1"] == pytest.approx(c["l1"])


def test_normal_consistency_hand_computed():
    na = [[0, 0, 2], [1, 0, 0]]  # not unit: normalised inside
    nb = [[0, 0, -1], [0, 1, 0], [0, 0, 1]]
    # A -> B: |cos| 1 (flip ignored), 0 -> 1/2; B -> A: 1, 0, 0 -> 1/3
    assert normal_consistency(A, na, B, nb) == pytest.approx((0.5 + 1 / 3) / 2)


def test_f_score_hand_computed():
    # precision: A -> B within 1.5: both; recall: B -> A within 1.5: one of three
    assert f_score(A, B, 1.5) == pytest.approx({"f": 0.5, "precision": 1.0, "recall": 1 / 3})
    assert f_score(A, B, 0.5)["f"] == pytest.approx(2 * 0.5 / 3 / (0.5 + 1 / 3))


def test_volumetric_iou():
    a = np.array([True, True, False, False])
    b = np.array([True, False, True, False])
    assert volumetric_iou(a, b) == pytest.approx(1 / 3)
    assert volumetric_iou(torch.tensor(a), torch.tensor(a)) == 1.0
    assert volumetric_iou(np.zeros(3, bool), np.zeros(3, bool)) == 1.0
    with pytest.raises(ValueError, match="shape"):
        volumetric_iou(a, b[:3])


# --------------------------------------------------------------------------- known offsets
def test_f_score_below_and_above_offset():
    g = np.stack(np.meshgrid(np.arange(20), np.arange(20), [0]), -1).reshape(-1, 3) * 0.1
    shifted = g + [0, 0, 0.02]
    assert f_score(g, shifted, 0.01) == {"f": 0.0, "precision": 0.0, "recall": 0.0}
    assert f_score(g, shifted, 0.03)["f"] == 1.0
    assert chamfer_distance(g, shifted)["l1"] == pytest.approx(0.02)


def test_identical_point_sets():
    p, n = sample_surface(*_vf(trimesh.creation.box()), 1000, seed=0)
    assert chamfer_distance(p, p) == {"l1": 0.0, "l2": 0.0, "accuracy": 0.0, "completeness": 0.0}
    assert normal_consistency(p, n, p, n) == pytest.approx(1.0)
    assert f_score(p, p, 1e-6)["f"] == 1.0


def _vf(mesh):
    return mesh.vertices, mesh.faces


def test_identical_meshes(icosphere):
    m = mesh_metrics(*_vf(icosphere), *_vf(icosphere), n_points=20_000)
    assert m["iou"] == 1.0 and m["chamfer_l1"] < 1e-6 and m["chamfer_l2"] < 1e-12
    assert m["normal_consistency"] == pytest.approx(1.0) and m["f_score"] == 1.0
    m = mesh_metrics(*_vf(icosphere), *_vf(icosphere), n_points=20_000, distance="points")
    assert m["iou"] == 1.0 and m["chamfer_l1"] == 0.0 and m["chamfer_l2"] == 0.0
    m = mesh_metrics(*_vf(icosphere), *_vf(icosphere), n_points=20_000, distance="points",
                     paired_sampling=False)
    assert 0.001 < m["chamfer_l1"] < 0.01 and m["iou"] == 1.0  # only the sampling floor
    with pytest.raises(ValueError, match="distance"):
        mesh_metrics(*_vf(icosphere), *_vf(icosphere), distance="hausdorff")


def test_point_to_surface_of_a_box():
    box = trimesh.creation.box(extents=(2.0, 2.0, 2.0))  # faces at +-1
    points = np.array([[0.0, 0.0, 3.0], [0.2, 0.1, 0.5], [2.0, 2.0, 0.0]])
    d, n = point_to_surface(points, box.vertices, box.faces)
    np.testing.assert_allclose(d, [2.0, 0.5, np.sqrt(2.0)], atol=1e-6)
    np.testing.assert_allclose(n[0], [0, 0, 1], atol=1e-6)
    np.testing.assert_allclose(n[1], [0, 0, 1], atol=1e-6)
    with pytest.raises(ValueError, match="faces"):
        point_to_surface(points, box.vertices, box.faces + 100)


def _with_needle(mesh, start, end):
    """``mesh`` plus a zero-area triangle (start, end, end): a segment, no normal."""
    n = len(mesh.vertices)
    vertices = np.concatenate([mesh.vertices, [start, end]])
    return vertices, np.concatenate([mesh.faces, [[n, n + 1, n + 1]]])


def test_point_to_surface_degenerate_closest_triangle():
    box = trimesh.creation.box(extents=(2.0, 2.0, 2.0))  # faces at +-1
    vertices, faces = _with_needle(box, [0.0, 0.0, 1.0], [0.0, 0.0, 2.0])  # sticks out of the top
    # closest to the needle (0.1 away, vs 0.5 to the top face): the distance is to the
    # needle, the normal is the closest triangle with an area (the top face's)
    d, n = point_to_surface([[0.1, 0.0, 1.5], [0.0, 0.0, 3.0]], vertices, faces)
    np.testing.assert_allclose(d, [0.1, 1.0], atol=1e-6)
    np.testing.assert_allclose(n, [[0, 0, 1], [0, 0, 1]], atol=1e-9)
    with pytest.raises(ValueError, match="non-zero area"):
        point_to_surface([[0.0, 0.0, 0.0]], [[0, 0, 0], [1, 0, 0]], [[0, 1, 1]])


def test_degenerate_prediction_gives_finite_normal_consistency(icosphere):
    # a smaller sphere plus zero-area "needles" out to every true vertex: many true
    # samples are closest to a needle, whose open3d normal is NaN (the metric was NaN)
    inner = trimesh.creation.icosphere(subdivisions=4, radius=R - D)
    n = len(inner.vertices)
    vertices = np.concatenate([inner.vertices, icosphere.vertices])
    needles = np.stack([np.arange(n), np.arange(n) + n, np.arange(n) + n], 1)
    m = mesh_metrics(vertices, np.concatenate([inner.faces, needles]), *_vf(icosphere), n_points=5000)
    assert all(math.isfinite(m[k]) for k in m if k != "iou")
    # every normal is still a sphere normal (inner sphere's, or the true sphere's)
    assert m["normal_consistency"] > 0.99


def test_concentric_spheres(icosphere):
    outer = icosphere.vertices * (R + D) / R  # the same polygon scaled: exact volume ratio
    m = mesh_metrics(*_vf(icosphere), outer, icosphere.faces, n_points=20_000, threshold=0.01)
    assert m["chamfer_l1"] == pytest.approx(D, rel=0.03)
    assert m["chamfer_l2"] == pytest.approx(D**2, rel=0.06)
    assert m["iou"] == pytest.approx((R / (R + D)) ** 3, abs=0.01)
    assert m["normal_consistency"] > 0.99
    assert m["f_score"] == 0.0  # every point is ~D = 5 cm > 1 cm from the other surface
    assert mesh_metrics(*_vf(icosphere), outer, icosphere.faces, n_points=20_000,
                        threshold=0.08)["f_score"] == 1.0
    by_points = mesh_metrics(*_vf(icosphere), outer, icosphere.faces, n_points=20_000, distance="points")
    assert by_points["chamfer_l1"] == pytest.approx(D, rel=0.03)


def test_mesh_iou_inputs_and_seed(icosphere):
    box = trimesh.creation.box(extents=(1.0, 1.0, 1.0))  # contains the sphere
    expected = icosphere.volume / box.volume
    iou = mesh_iou(icosphere, (box.vertices, box.faces), n_points=50_000, seed=1)
    assert iou == pytest.approx(expected, abs=0.01)
    assert iou == mesh_iou(MeshSDF(*_vf(icosphere)), box, n_points=50_000, seed=1)


def test_open_prediction_gives_nan_iou(icosphere):
    keep = icosphere.triangles_center[:, 2] < 0.4  # sphere with a cap cut off
    m = mesh_metrics(icosphere.vertices, icosphere.faces[keep], *_vf(icosphere), n_points=5000,
                     threshold=0.05)  # > the ~2.5 cm spacing of 5000 samples
    assert math.isnan(m["iou"])
    assert 0 < m["chamfer_l1"] < 0.05 and m["precision"] == 1.0 and m["recall"] < 1.0


def test_bad_points_raise():
    with pytest.raises(ValueError, match="points_a"):
        chamfer_distance(np.zeros((0, 3)), B)
    with pytest.raises(ValueError, match="points_b.*NaN"):
        f_score(A, np.array([[np.nan, 0, 0]]), 0.1)
    with pytest.raises(ValueError, match="normals_b"):
        normal_consistency(A, A, B, A)
