"""Tests for humanrecon.geometry.sdf against analytic SDFs (sphere, box, torus)."""

import numpy as np
import pytest
import torch
import trimesh

from humanrecon.geometry.sdf import (
    MeshSDF,
    sample_occupancy_points,
    sample_sdf_points,
    sample_surface,
)
from tests import oracles

R_SPHERE = 0.5
BOX_EXTENTS = np.array([0.4, 0.6, 0.8])
TORUS_R, TORUS_r = 0.4, 0.15


# --------------------------------------------------------------------------- oracles
def sphere_sdf(p):
    return oracles.sphere_sdf(p, R_SPHERE)


def box_sdf(p, extents=BOX_EXTENTS):
    return oracles.box_sdf(p, np.asarray(extents) / 2)


def torus_sdf(p):  # trimesh's torus: around the z axis
    return oracles.torus_sdf(p, TORUS_R, TORUS_r, axis=2)


SHAPES = {
    "sphere": (lambda: trimesh.creation.icosphere(subdivisions=4, radius=R_SPHERE), sphere_sdf),
    "box": (lambda: trimesh.creation.box(extents=BOX_EXTENTS), box_sdf),
    "torus": (lambda: trimesh.creation.torus(TORUS_R, TORUS_r, major_sections=96,
                                             minor_sections=48), torus_sdf),
}


def polygon_error(mesh, sdf):
    """Bound on |mesh SDF - analytic SDF|: the largest analytic distance of dense points
    on the polygonal surface (the polygons are inscribed, so that is the Hausdorff gap)."""
    points, _ = sample_surface(mesh.vertices, mesh.faces, 20_000, seed=123)
    return float(np.abs(sdf(points.astype(np.float64))).max()) * 1.2 + 1e-5


def query_points(mesh, n=20_000, seed=0):
    lo, hi = mesh.bounds
    pad = 0.2 * (hi - lo).max()
    return np.random.default_rng(seed).uniform(lo - pad, hi + pad, (n, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def sphere():
    mesh = SHAPES["sphere"][0]()
    return mesh, MeshSDF(mesh.vertices, mesh.faces, source="icosphere")


# --------------------------------------------------------------------------- queries
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_signed_distance_and_occupancy_match_analytic(name):
    make, sdf = SHAPES[name]
    mesh = make()
    msdf = MeshSDF(mesh.vertices, mesh.faces, source=name)
    p = query_points(mesh)
    expected = sdf(p.astype(np.float64))
    tol = polygon_error(mesh, sdf)

    d = msdf.signed_distance(p)
    assert d.dtype == np.float32 and d.shape == (len(p),)
    np.testing.assert_allclose(d, expected, atol=tol)

    occ = msdf.occupancy(p)
    assert occ.dtype == bool and occ.shape == (len(p),)
    clear = np.abs(expected) > tol
    wrong = np.count_nonzero(occ[clear] != (expected[clear] < 0))
    assert wrong <= max(2, 1e-3 * clear.sum())  # ray-parity errors are ~1e-4 of points
    assert np.array_equal(occ, d < 0)  # sign of the distance is the occupancy


def test_box_is_exact_up_to_float32():
    mesh = trimesh.creation.box(extents=BOX_EXTENTS)
    p = query_points(mesh, 5000, seed=1)
    d = MeshSDF(mesh.vertices, mesh.faces).signed_distance(p)
    np.testing.assert_allclose(d, box_sdf(p.astype(np.float64)), atol=2e-6)


def test_closest_points_and_normals(sphere):
    mesh, msdf = sphere
    p = query_points(mesh, 2000)
    p = p[np.linalg.norm(p, axis=1) > 0.05]
    closest, normals = msdf.closest_points(p)
    assert closest.shape == normals.shape == p.shape
    tol = polygon_error(mesh, sphere_sdf)
    np.testing.assert_allclose(np.linalg.norm(closest, axis=1), R_SPHERE, atol=tol)
    radial = p / np.linalg.norm(p, axis=1, keepdims=True)
    assert ((normals * radial).sum(axis=1) > 0.99).all()  # outward
    np.testing.assert_allclose(np.linalg.norm(p - closest, axis=1),
                               np.abs(msdf.signed_distance(p)), atol=1e-6)


def test_torch_in_torch_out_and_batch_shape(sphere):
    _, msdf = sphere
    p = torch.rand(4, 5, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) - 0.5
    d = msdf.signed_distance(p)
    occ = msdf.occupancy(p)
    closest, normals = msdf.closest_points(p)
    assert isinstance(d, torch.Tensor) and d.dtype == torch.float32 and d.shape == (4, 5)
    assert occ.dtype == torch.bool and occ.shape == (4, 5)
    assert closest.shape == normals.shape == (4, 5, 3) and closest.dtype == torch.float32
    np.testing.assert_array_equal(d.numpy(), msdf.signed_distance(p.numpy()))


def test_chunking_gives_identical_results():
    mesh = SHAPES["torus"][0]()
    p = query_points(mesh, 3001)
    whole = MeshSDF(mesh.vertices, mesh.faces)
    chunked = MeshSDF(mesh.vertices, mesh.faces, chunk_size=1000)
    np.testing.assert_array_equal(whole.signed_distance(p), chunked.signed_distance(p))
    np.testing.assert_array_equal(whole.occupancy(p), chunked.occupancy(p))


def test_inside_out_mesh_is_flipped(sphere):
    mesh, msdf = sphere
    flipped = MeshSDF(mesh.vertices, mesh.faces[:, ::-1])
    assert flipped.volume > 0
    p = query_points(mesh, 500)
    np.testing.assert_allclose(flipped.signed_distance(p), msdf.signed_distance(p), atol=1e-6)
    np.testing.assert_allclose(flipped.closest_points(p)[1], msdf.closest_points(p)[1], atol=1e-5)


# --------------------------------------------------------------------------- bad input
def _holed_icosphere(big: bool):
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=R_SPHERE)
    if big:  # remove a cap: a hole that hole-filling cannot close
        keep = mesh.triangles_center[:, 2] < 0.4
    else:  # remove three separate triangles: holes that repair can fill
        keep = np.ones(len(mesh.faces), bool)
        keep[[0, 300, 600]] = False
    return mesh.vertices, mesh.faces[keep]


def _bad_meshes():
    ico = trimesh.creation.icosphere(subdivisions=1)
    nan_v = ico.vertices.copy()
    nan_v[3, 1] = np.nan
    tri = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], float)
    return {
        "empty": (ico.vertices, np.zeros((0, 3), int), "empty mesh"),
        "vertex shape": (ico.vertices[:, :2], ico.faces, "vertices must have shape"),
        "face shape": (ico.vertices, ico.faces[:, :2], "faces must have shape"),
        "float faces": (ico.vertices, ico.faces.astype(float), "integer"),
        "index range": (ico.vertices, ico.faces + 1, "out of range"),
        "nan": (nan_v, ico.faces, "NaN"),
        "collinear": (np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0.0]]),
                      np.array([[0, 1, 2], [0, 2, 1]]), "degenerate"),
        "flat sheet": (tri, np.array([[0, 1, 2], [0, 2, 1]]), "zero enclosed volume"),
        "holes": (*_holed_icosphere(big=False), "not watertight"),
    }


@pytest.mark.parametrize("case", sorted(_bad_meshes()))
def test_bad_meshes_raise(case):
    vertices, faces, message = _bad_meshes()[case]
    with pytest.raises(ValueError, match=message) as info:
        MeshSDF(vertices, faces, source="subject_07.obj")
    assert "subject_07.obj" in str(info.value)


def test_repair_fills_small_holes():
    vertices, faces = _holed_icosphere(big=False)
    msdf = MeshSDF(vertices, faces, repair=True)
    assert msdf.mesh.is_watertight
    p = np.random.default_rng(0).uniform(-0.6, 0.6, (5000, 3)).astype(np.float32)
    r = np.linalg.norm(p, axis=1)
    clear = np.abs(r - R_SPHERE) > 0.02
    assert np.array_equal(msdf.occupancy(p)[clear], (r < R_SPHERE)[clear])


def test_repair_gives_up_on_large_holes():
    vertices, faces = _holed_icosphere(big=True)
    with pytest.raises(ValueError, match="not watertight.*could not close"):
        MeshSDF(vertices, faces, repair=True, source="scan")


def test_bad_queries_raise(sphere):
    _, msdf = sphere
    with pytest.raises(ValueError, match="icosphere.*shape"):
        msdf.occupancy(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="icosphere.*NaN"):
        msdf.signed_distance(np.array([[0.0, np.nan, 0.0]]))
    with pytest.raises(ValueError, match="odd"):
        MeshSDF(trimesh.creation.box().vertices, trimesh.creation.box().faces, nsamples=2)


# --------------------------------------------------------------------------- sampling
def test_sample_surface_on_surface_area_weighted_seeded():
    mesh = trimesh.creation.box(extents=(1.0, 0.1, 0.1))  # long sides: 0.1 m^2, ends 0.01
    points, normals = sample_surface(mesh.vertices, mesh.faces, 20_000, seed=3)
    assert points.shape == normals.shape == (20_000, 3) and points.dtype == np.float32
    np.testing.assert_allclose(box_sdf(points.astype(np.float64), (1.0, 0.1, 0.1)), 0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1, atol=1e-6)
    on_ends = np.count_nonzero(np.abs(normals[:, 0]) > 0.5) / len(points)
    assert on_ends == pytest.approx(0.02 / 0.42, abs=0.006)
    again, _ = sample_surface(mesh.vertices, mesh.faces, 20_000, seed=3)
    other, _ = sample_surface(mesh.vertices, mesh.faces, 20_000, seed=4)
    assert np.array_equal(points, again) and not np.array_equal(points, other)


def test_sample_surface_torch_generator():
    mesh = trimesh.creation.icosphere(subdivisions=2)
    v, f = torch.tensor(mesh.vertices), torch.tensor(mesh.faces)
    a, na = sample_surface(v, f, 100, seed=torch.Generator().manual_seed(5))
    b, _ = sample_surface(v, f, 100, seed=torch.Generator().manual_seed(5))
    assert isinstance(a, torch.Tensor) and a.dtype == na.dtype == torch.float32
    assert torch.equal(a, b)


def test_sample_occupancy_points(sphere):
    mesh, msdf = sphere
    points, occ = sample_occupancy_points(msdf, 4000, 6000, seed=0)
    assert points.shape == (10_000, 3) and occ.shape == (10_000,) and occ.dtype == bool
    r = np.linalg.norm(points, axis=1)
    clear = np.abs(r - R_SPHERE) > 0.01
    assert np.array_equal(occ[clear], (r < R_SPHERE)[clear])
    assert (np.abs(points) <= R_SPHERE * 1.1 + 1e-6).sum() >= 4000  # padded box: 5 % a side
    again, occ_again = sample_occupancy_points(msdf, 4000, 6000, seed=0)
    assert np.array_equal(points, again) and np.array_equal(occ, occ_again)
    assert not np.array_equal(points, sample_occupancy_points(msdf, 4000, 6000, seed=1)[0])


@pytest.mark.parametrize("relative", [True, False])
def test_near_surface_spread(sphere, relative):
    _, msdf = sphere
    extent = 2 * R_SPHERE  # bbox largest side
    for sigma in (0.004, 0.02):
        points, _ = sample_occupancy_points(msdf, 0, 4000, sigmas=(sigma,), relative=relative,
                                            seed=2)
        offset = np.linalg.norm(points, axis=1) - R_SPHERE  # normal component of the noise
        expected = sigma * extent if relative else sigma
        assert offset.std() == pytest.approx(expected, rel=0.1)
        assert abs(offset.mean()) < 0.1 * expected


def test_sample_sdf_points(sphere):
    mesh, msdf = sphere
    points, sdf = sample_sdf_points(msdf, 5000, uniform_fraction=0.0, sigmas=(0.01,), seed=0)
    assert points.shape == (5000, 3) and sdf.shape == (5000,) and sdf.dtype == np.float32
    tol = polygon_error(mesh, sphere_sdf)
    np.testing.assert_allclose(sdf, sphere_sdf(points.astype(np.float64)), atol=tol)
    radius = 0.5 * np.sqrt(3) * 2 * R_SPHERE  # bounding-sphere radius of the bbox
    assert sdf.std() == pytest.approx(0.01 * radius, rel=0.1)
    # defaults: 5 % uniform in the padded box, the rest near the surface
    points, sdf = sample_sdf_points(msdf, 10_000, seed=0)
    far = np.count_nonzero(np.abs(sdf) > 0.2)
    assert 0 < far < 0.05 * 10_000
    again, sdf_again = sample_sdf_points(msdf, 10_000, seed=0)
    assert np.array_equal(points, again) and np.array_equal(sdf, sdf_again)


def test_samplers_follow_torch_vertices():
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=R_SPHERE)
    msdf = MeshSDF(torch.tensor(mesh.vertices), torch.tensor(mesh.faces))
    g = torch.Generator().manual_seed(0)
    points, occ = sample_occupancy_points(msdf, 100, 100, seed=g)
    assert points.dtype == torch.float32 and occ.dtype == torch.bool and points.shape == (200, 3)
    points, sdf = sample_sdf_points(msdf, 100, seed=g)
    assert points.dtype == sdf.dtype == torch.float32 and sdf.shape == (100,)


def test_watertight_mesh_with_coincident_vertices_is_used_as_given():
    """Two closed tetrahedra touching along an edge (as marching cubes can emit): merging
    the coincident vertices would put four faces on that edge, so it must not happen."""
    a = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float)
    b = np.array([[0, 0, 0], [1, 0, 0], [0, -1, 0], [0, 0, -1]], float)  # shares edge (0,0,0)-(1,0,0)
    faces = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    fb = faces + 4  # b is a rotated 180° about x: same winding
    sdf = MeshSDF(np.vstack([a, b]), np.vstack([faces, fb]))
    assert sdf.volume == pytest.approx(2 / 6)
    assert sdf.occupancy(np.array([[0.1, 0.1, 0.1], [0.1, -0.1, -0.1], [0.5, 0.5, 0.5]])).tolist() == [True, True, False]
