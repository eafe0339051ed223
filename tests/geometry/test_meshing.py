"""Tests for humanrecon.geometry.meshing against analytic SDFs (sphere, box, torus)."""

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from humanrecon.io.meshes import load_mesh
from humanrecon.geometry.meshing import extract_mesh
from tests import oracles

BOUNDS = ((-0.5, -0.5, -0.5), (0.5, 0.5, 0.5))
VOXEL_64 = 1.0 / 64


# --------------------------------------------------------------------------- analytic shapes
def sphere_sdf(centre=(0.06, -0.04, 0.03), radius=0.3):
    """Exact SDF of a sphere (metres, on torch tensors) and its volume."""
    return oracles.on_torch(oracles.sphere_sdf, radius=radius, centre=centre), oracles.sphere_volume(radius)


def box_sdf(centre=(-0.03, 0.02, 0.05), half=(0.25, 0.15, 0.2)):
    """Exact SDF of an axis-aligned box and its volume."""
    return oracles.on_torch(oracles.box_sdf, half_extents=half, centre=centre), oracles.box_volume(half)


def torus_sdf(centre=(0.02, 0.05, -0.04), major=0.28, minor=0.09):
    """Exact SDF of a torus around the y axis and its volume 2 pi^2 R r^2."""
    return (oracles.on_torch(oracles.torus_sdf, major=major, minor=minor, centre=centre, axis=1),
            oracles.torus_volume(major, minor))


SHAPES = {"sphere": sphere_sdf, "box": box_sdf, "torus": torus_sdf}


def sdf_at(fn, vertices):
    """|sdf| (V,) at mesh vertices (float64 numpy in, numpy out)."""
    return fn(torch.as_tensor(vertices, dtype=torch.float32)).abs().numpy()


def num_components(mesh):
    return len(mesh.split(only_watertight=False))


# --------------------------------------------------------------------------- surface accuracy
@pytest.mark.parametrize("hierarchical", [False, True])
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_vertices_on_analytic_surface_closed_and_outward(name, hierarchical):
    fn, volume = SHAPES[name]()
    result = extract_mesh(fn, BOUNDS, 64, hierarchical=hierarchical, initial_resolution=16)
    mesh = result.mesh
    err = sdf_at(fn, mesh.vertices)
    assert err.max() < VOXEL_64
    assert err.mean() < 0.1 * VOXEL_64
    assert mesh.is_watertight
    assert mesh.volume > 0  # outward normals
    assert mesh.volume == pytest.approx(volume, rel=0.03)
    assert num_components(mesh) == 1
    assert result.voxel_size == pytest.approx((VOXEL_64,) * 3)


def test_sphere_face_normals_point_away_from_centre():
    centre = (0.06, -0.04, 0.03)
    fn, _ = sphere_sdf(centre)
    mesh = extract_mesh(fn, BOUNDS, 64, initial_resolution=16).mesh
    outward = np.einsum("ij,ij->i", mesh.face_normals, mesh.triangles_center - np.asarray(centre))
    assert (outward > 0).all()


@pytest.mark.parametrize("hierarchical", [False, True])
def test_occupancy_inside_positive_gives_outward_normals(hierarchical):
    fn, volume = torus_sdf()
    eps = 0.01
    occupancy = lambda p: torch.sigmoid(-fn(p) / eps)  # probability, 0.5 on the surface
    mesh = extract_mesh(occupancy, BOUNDS, 64, 0.5, inside="positive", hierarchical=hierarchical,
                        initial_resolution=16).mesh
    assert mesh.is_watertight
    assert mesh.volume == pytest.approx(volume, rel=0.03)
    assert sdf_at(fn, mesh.vertices).max() < VOXEL_64


@pytest.mark.parametrize("level", [0.0, 0.5])
def test_binary_occupancy_including_values_at_level(level):
    """0/1 occupancy: at level 0 the outside samples equal the level (still a surface)."""
    fn, volume = sphere_sdf()
    occupancy = lambda p: (fn(p) < 0).float()
    mesh = extract_mesh(occupancy, BOUNDS, 64, level, inside="positive", initial_resolution=16).mesh
    assert mesh.is_watertight
    assert mesh.volume == pytest.approx(volume, rel=0.1)


def test_anisotropic_bounds_world_coordinates_exact():
    fn, volume = sphere_sdf(centre=(0.1, 0.2, -0.1), radius=0.25)
    bounds = np.array([[-0.2, -0.1, -0.4], [0.4, 0.5, 0.2]])  # 0.6 m cube, shifted
    res = extract_mesh(fn, bounds, 48, hierarchical=False)
    assert res.voxel_size == pytest.approx((0.6 / 48,) * 3)
    assert sdf_at(fn, res.mesh.vertices).mean() < 0.05 * 0.6 / 48
    assert res.mesh.volume == pytest.approx(volume, rel=0.03)
    box = ((-0.2, -0.1, -0.4), (0.45, 0.5, 0.2))  # non-cubic box: anisotropic voxels
    res = extract_mesh(fn, box, 64, initial_resolution=16)
    assert res.voxel_size == pytest.approx((0.65 / 64, 0.6 / 64, 0.6 / 64))
    assert sdf_at(fn, res.mesh.vertices).max() < 0.6 / 64
    assert res.mesh.volume == pytest.approx(volume, rel=0.03)


def test_samples_cover_bounds_exactly_in_chunks():
    fn, _ = sphere_sdf()
    seen, sizes = [], []

    def recording(p):
        assert not torch.is_grad_enabled()
        assert p.dtype == torch.float32 and p.shape[1] == 3
        seen.append(p.clone())
        sizes.append(len(p))
        return fn(p)[:, None]  # (N, 1) is accepted

    res = extract_mesh(recording, BOUNDS, 20, hierarchical=False, batch_points=1000)
    pts = torch.cat(seen)
    assert res.num_evaluations == res.dense_equivalent == 21 ** 3 == len(pts)
    assert max(sizes) <= 1000 and res.ratio == 1.0
    assert pts.min().item() == -0.5 and pts.max().item() == 0.5
    ticks = torch.unique(pts[:, 0])
    assert torch.allclose(ticks, torch.linspace(-0.5, 0.5, 21), atol=1e-7)


def test_module_device_and_save_roundtrip(tmp_path):
    class Sphere(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.radius = torch.nn.Parameter(torch.tensor(0.3))

        def forward(self, p):
            return torch.linalg.norm(p, dim=-1) - self.radius

    res = extract_mesh(Sphere(), BOUNDS, 32, initial_resolution=8)
    assert res.mesh.is_watertight  # no grad graph: numpy conversion would fail otherwise
    path = res.save(tmp_path / "sphere.ply")
    back = load_mesh(path)
    assert np.allclose(back.vertices, res.mesh.vertices, atol=1e-6)
    assert (back.faces == res.mesh.faces).all()


def test_cuda_module_points_follow_its_device():
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")

    class Torus(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("dummy", torch.zeros(1))
            self.fn = torus_sdf()[0]

        def forward(self, p):
            assert p.device.type == "cuda"
            return self.fn(p.cpu()).to(p.device)

    gpu = extract_mesh(Torus().cuda(), BOUNDS, 32, initial_resolution=8)
    cpu = extract_mesh(torus_sdf()[0], BOUNDS, 32, initial_resolution=8)
    assert np.allclose(gpu.mesh.vertices, cpu.mesh.vertices, atol=1e-6)


# --------------------------------------------------------------------------- hierarchical vs dense
def torus_and_ball():
    """Two components: the torus and a small ball beside it (ball radius 3 coarse cells)."""
    torus, _ = torus_sdf()
    ball, _ = sphere_sdf(centre=(0.3, 0.3, 0.3), radius=0.09)
    return lambda p: torch.minimum(torus(p), ball(p))


def test_hierarchical_matches_dense_with_far_fewer_evaluations():
    fn = torus_and_ball()
    dense = extract_mesh(fn, BOUNDS, 128, hierarchical=False)
    hier = extract_mesh(fn, BOUNDS, 128, hierarchical=True, initial_resolution=16)
    voxel = 1.0 / 128
    assert num_components(dense.mesh) == num_components(hier.mesh) == 2
    for a, b in ((dense.mesh, hier.mesh), (hier.mesh, dense.mesh)):
        dist, _ = cKDTree(a.vertices).query(b.vertices)
        assert dist.max() < voxel
    assert hier.mesh.is_watertight
    assert hier.mesh.volume == pytest.approx(dense.mesh.volume, rel=1e-3)
    assert dense.ratio == 1.0
    assert hier.ratio < 0.3
    assert hier.num_evaluations < 0.3 * dense.num_evaluations


@pytest.mark.parametrize("direction,radius,gap", [((-0.608, -0.712, 0.3513), 0.0123, 0.0292),
                                                  ((0.9203, 0.2329, -0.3143), 0.0118, 0.0393)])
def test_hierarchical_keeps_small_bump_next_to_surface(direction, radius, gap):
    """A ball of ~1.5 fine voxels floating just outside a sphere sits in coarse cells whose
    corners do not straddle the level: only the one-cell dilation finds it."""
    d = torch.tensor(direction) / torch.linalg.norm(torch.tensor(direction))
    big, _ = sphere_sdf(centre=(0.0, 0.0, 0.0), radius=0.3)
    small, _ = sphere_sdf(centre=((0.3 + gap) * d).tolist(), radius=radius)
    fn = lambda p: torch.minimum(big(p), small(p))
    dense = extract_mesh(fn, BOUNDS, 128, hierarchical=False).mesh
    hier = extract_mesh(fn, BOUNDS, 128, initial_resolution=16).mesh
    dist, _ = cKDTree(hier.vertices).query(dense.vertices)
    assert dist.max() < 1.0 / 128
    assert num_components(hier) == num_components(dense)


def test_resolution_equal_to_initial_is_dense():
    fn, _ = sphere_sdf()
    res = extract_mesh(fn, BOUNDS, 32, initial_resolution=32)
    assert res.num_evaluations == 33 ** 3 and res.mesh.is_watertight


def test_progress_bar_counts_levels_and_evaluations(capsys):
    fn, _ = sphere_sdf()
    result = extract_mesh(fn, BOUNDS, 32, initial_resolution=8, progress=True)
    err = capsys.readouterr().err
    assert "extract mesh" in err and "3/3" in err  # levels 8, 16, 32
    assert f"evaluations={result.num_evaluations}" in err  # the last update shows the total
    extract_mesh(fn, BOUNDS, 32, initial_resolution=8, progress=False)
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("offset,side", [(1.0, "above"), (-1.0, "below")])
def test_no_surface(offset, side):
    fn = lambda p: torch.full((len(p),), offset)
    with pytest.raises(ValueError, match=f"no surface: all values are {side} level"):
        extract_mesh(fn, BOUNDS, 32, initial_resolution=8)


def test_no_surface_when_everything_equals_level():
    fn = lambda p: torch.zeros(len(p))
    with pytest.raises(ValueError, match="all values are below or equal to level 0.0 .* everything is outside"):
        extract_mesh(fn, BOUNDS, 32, inside="positive", initial_resolution=8)


@pytest.mark.parametrize("bounds", [((0, 0, 0), (1, 0, 1)), ((0, 0, 0), (-1, 1, 1)), ((0, 0), (1, 1)),
                                    ((0, 0, 0), (1, 1, float("nan")))])
def test_bad_bounds(bounds):
    fn, _ = sphere_sdf()
    with pytest.raises(ValueError, match="bounds"):
        extract_mesh(fn, bounds, 16)


def test_fn_returning_nan_is_named():
    fn, _ = sphere_sdf()
    bad = lambda p: torch.where(p[:, 0] > 0.2, torch.nan, fn(p))
    with pytest.raises(ValueError, match=r"fn returned non-finite values \(NaN\)"):
        extract_mesh(bad, BOUNDS, 16, initial_resolution=8)


@pytest.mark.parametrize("out", [lambda p: p, lambda p: p[:-1, 0], lambda p: p[:, 0].reshape(1, -1)])
def test_fn_wrong_shape(out):
    with pytest.raises(ValueError, match=r"fn must map points \(N, 3\) to values \(N,\)"):
        extract_mesh(out, BOUNDS, 16, hierarchical=False)


@pytest.mark.parametrize("kwargs,match", [
    (dict(resolution=96, initial_resolution=32), "initial_resolution \\* 2\\*\\*k"),
    (dict(resolution=16, initial_resolution=32), "initial_resolution \\* 2\\*\\*k"),
    (dict(resolution=0), "resolution must be a positive integer"),
    (dict(resolution=64.0), "resolution must be a positive integer"),
    (dict(resolution=64, initial_resolution=-8), "initial_resolution must be a positive integer"),
    (dict(resolution=64, inside="outside"), "inside must be one of"),
    (dict(resolution=64, batch_points=0), "batch_points must be a positive integer"),
])
def test_bad_arguments(kwargs, match):
    fn, _ = sphere_sdf()
    with pytest.raises(ValueError, match=match):
        extract_mesh(fn, BOUNDS, **kwargs)


def test_dense_accepts_any_resolution():
    fn, volume = sphere_sdf()
    res = extract_mesh(fn, BOUNDS, 45, hierarchical=False)
    assert res.mesh.is_watertight and res.mesh.volume == pytest.approx(volume, rel=0.03)


def test_surface_leaving_the_bounds_is_capped_closed():
    """A sphere larger than the box: with close_boundary (default) the mesh is closed at
    the box faces; without it the cut surface stays open."""
    big_sphere, _ = sphere_sdf(centre=(0.0, 0.0, 0.0), radius=0.6)
    bounds = ((-0.5, -0.5, -0.5), (0.5, 0.5, 0.5))
    closed = extract_mesh(big_sphere, bounds, 32, hierarchical=False).mesh
    opened = extract_mesh(big_sphere, bounds, 32, hierarchical=False, close_boundary=False).mesh
    assert closed.is_watertight and closed.volume > 0
    assert not opened.is_watertight
