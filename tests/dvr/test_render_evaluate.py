"""DVR pictures, held-out evaluation, meshes and the ``humanrecon dvr render | mesh`` CLI.

Two models: an exact sphere (a :class:`DVRModel` whose shape is the analytic SDF of the
sphere its geometric initialisation aims at, radius ``init_radius x half-diagonal``) for
tight comparisons with ray-sphere geometry; and an untrained tiny :class:`DVRModel`,
which is only roughly that sphere (a 32-wide network's geometric initialisation misses the
radius by up to ±50 % in some directions, and may leave holes), so it is checked against a
brute-force oracle of its own field instead.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import trimesh

from humanrecon.cli import main
from humanrecon.datasets.split import BlenderSplit
from humanrecon.dvr.evaluate import extract_dvr_mesh, mesh_report
from humanrecon.render.novel_views import evaluate_split
from humanrecon.dvr.model import DVRModel
from humanrecon.dvr.render import (OCCUPIED_GRID, OCCUPIED_GROW_CELLS, depth_image, normal_image, occupied_box,
                                   render_rays, render_views)
from humanrecon.geometry import Camera
from humanrecon.geometry.camera import intrinsics_from_fov
from humanrecon.geometry.scene import ray_aabb

BOX = [[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]]
TINY = {"hidden": 32, "layers": 2, "texture_hidden": 16, "texture_layers": 1, "frequencies": 2}
SIZE, DISTANCE, FOV = 16, 3.0, math.radians(60.0)


class ExactSphere(DVRModel):
    """A DVRModel whose shape is exactly the sphere of radius ``init_radius x half-diagonal``
    about the box centre (texture and normals as the real model's)."""

    def sdf(self, points: torch.Tensor) -> torch.Tensor:
        return (points - self.centre).norm(dim=-1) - self.sphere_radius

    @property
    def sphere_radius(self) -> float:
        return self.settings["init_radius"] * float(self.radius)


def _model(cls=DVRModel, seed=0):
    torch.manual_seed(seed)
    return cls(BOX, **TINY)


def _camera(distance=DISTANCE, size=SIZE) -> Camera:
    """Looks along +z at the box centre from ``(0, 0, -distance)``."""
    return Camera(intrinsics_from_fov(FOV, size, size), torch.eye(3), torch.tensor([0.0, 0.0, distance]), size, size)


def _sphere_hits(camera: Camera, radius: float):
    """Analytic first ray-sphere distance ``(H, W)`` and hit mask of a sphere about 0."""
    origins, directions = (x[0] for x in camera.rays())
    b = (origins * directions).sum(-1)
    disc = b * b - (origins.square().sum(-1) - radius**2)
    return -b - disc.clamp(min=0).sqrt(), disc > 0


def _brute_force(model, origins, directions, samples=4096):
    """Oracle: first outside -> inside crossing of ``model.sdf`` on a dense uniform
    sampling of each ray's span in the box: ``(depth (R,), hit (R,))``."""
    near, far, in_box = ray_aabb(origins, directions, model.bounds)
    t = near[:, None] + (far - near)[:, None] * torch.linspace(0, 1, samples)
    with torch.no_grad():
        values = model.sdf((origins[:, None] + t[..., None] * directions[:, None]).reshape(-1, 3)).reshape(t.shape)
    crossing = (values[:, :-1] > 0) & (values[:, 1:] <= 0)
    hit = in_box & crossing.any(1) & (values[:, 0] > 0)
    first = crossing.float().argmax(1)
    rows = torch.arange(len(t))
    v0, v1 = values[rows, first], values[rows, first + 1]
    depth = t[rows, first] + (t[rows, first + 1] - t[rows, first]) * v0 / (v0 - v1)
    return torch.where(hit, depth, torch.zeros_like(depth)), hit


# --------------------------------------------------------------------------- render
def test_sphere_silhouette_depth_and_normals_are_analytic():
    model, camera = _model(ExactSphere), _camera()
    r = model.sphere_radius
    out = render_views(model, camera, progress=False)
    assert out["rgb"].shape == (1, SIZE, SIZE, 3) and out["mask"].dtype == torch.bool
    mask, depth, normals = out["mask"][0], out["depth"][0], out["normals"][0]
    # projected disc: angular radius asin(r / D), image radius f tan(.) pixels
    area = math.pi * (float(camera.fx[0]) * math.tan(math.asin(r / DISTANCE))) ** 2
    assert abs(int(mask.sum()) - area) < 0.15 * area
    true_depth, true_mask = _sphere_hits(camera, r)
    assert int((mask != true_mask).sum()) <= 2  # grazing edge pixels at most
    both = mask & true_mask
    assert torch.allclose(depth[both], true_depth[both], rtol=2e-3)
    # the four pixels about the centre (2.9° off axis, 0.45 % deeper than D - r) to 0.1 %
    assert torch.allclose(depth[7:9, 7:9], true_depth[7:9, 7:9], rtol=1e-3)
    origins, directions = (x[0] for x in camera.rays())
    points = origins + depth[..., None] * directions
    assert torch.allclose(normals[mask], points[mask] / r, atol=2e-3)
    assert (depth[~mask] == 0).all() and (normals[~mask] == 0).all() and (out["rgb"][0][~mask] == 1).all()
    with torch.no_grad():
        assert torch.allclose(out["rgb"][0][mask], model.color(points[mask]), atol=1e-6)


def test_untrained_model_matches_a_brute_force_search_of_its_own_field():
    model, camera = _model(), _camera()
    origins, directions = (x[0].reshape(-1, 3) for x in camera.rays())
    out = render_rays(model, origins, directions, samples=256, chunk=100)
    true_depth, true_hit = _brute_force(model, origins, directions)
    assert 20 < int(true_hit.sum()) < SIZE * SIZE  # a blob that fills part of the view
    assert int((out["hit"] != true_hit).sum()) <= 2
    both = out["hit"] & true_hit
    assert torch.allclose(out["depth"][both], true_depth[both], atol=2e-3)
    with torch.no_grad():
        on_surface = model.sdf(origins[out["hit"]] + out["depth"][out["hit"], None] * directions[out["hit"]])
    assert on_surface.abs().max() < 1e-4
    # the geometric initialisation is only roughly the sphere: its silhouette's area is
    # within a factor 2 of the analytic one (0.73 for this seed), not within 15 %
    area = math.pi * (float(camera.fx[0]) * math.tan(math.asin(0.5 * math.sqrt(3) / DISTANCE))) ** 2
    assert 0.5 < int(out["hit"].sum()) / area < 2.0


def test_rays_that_miss_the_box_and_cameras_inside_it():
    model = _model(ExactSphere)
    origins = torch.tensor([[0.0, 5.0, -3.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.9]])
    directions = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    out = render_rays(model, origins, directions, background=0.25)
    # above the box: miss; at the centre: starts inside the shape, a miss; inside the box
    # and outside the sphere, looking out: nothing in front, a miss
    assert not out["hit"].any() and (out["rgb"] == 0.25).all() and (out["depth"] == 0).all()
    out = render_rays(model, torch.tensor([[0.0, 0.0, -0.95]]), torch.tensor([[0.0, 0.0, 1.0]]))
    assert out["hit"].item() and out["depth"].item() == pytest.approx(0.95 - model.sphere_radius, abs=1e-4)


def test_occupied_box_holds_the_sphere_and_little_else():
    model = _model(ExactSphere)
    box = occupied_box(model)
    r, centre = model.sphere_radius, model.centre
    cell = (model.bounds[1] - model.bounds[0]) / OCCUPIED_GRID
    # the sphere's bounding box is inside it, with at most the grid's margin around it
    assert (box[0] <= centre - r).all() and (box[1] >= centre + r).all()
    assert (box[0] >= centre - r - (OCCUPIED_GROW_CELLS + 1) * cell).all()
    assert (box[1] <= centre + r + (OCCUPIED_GROW_CELLS + 1) * cell).all()
    # nothing in the box: the whole bounds (rays then miss as before)
    empty = _model()
    empty.sdf = lambda p: p.norm(dim=-1) + 10.0
    assert torch.equal(occupied_box(empty), empty.bounds)


def test_depth_and_normal_pictures():
    depth = torch.tensor([[1.0, 2.0], [3.0, 0.0]])
    mask = torch.tensor([[True, True], [True, False]])
    picture = depth_image(depth, mask)
    assert picture.shape == (2, 2, 3) and picture.dtype == np.float32
    assert picture[0, 0, 0] == pytest.approx(0.15) and picture[1, 0, 0] == pytest.approx(0.85)
    assert picture[0, 1, 0] == pytest.approx(0.5) and (picture[1, 1] == 1).all()
    normals = torch.tensor([[[1.0, 0, 0], [0, -1.0, 0]], [[0, 0, 1.0], [0, 0, 0]]])
    picture = normal_image(normals, mask)
    assert np.allclose(picture[0, 0], [1, 0.5, 0.5]) and np.allclose(picture[0, 1], [0.5, 0, 0.5])
    assert (picture[1, 1] == 1).all() and (depth_image(depth, torch.zeros(2, 2, dtype=torch.bool)) == 1).all()


# --------------------------------------------------------------------------- evaluate
def _split(images, alpha, cameras, tmp_path):
    names = [str(tmp_path / f"r_{i:03d}.png") for i in range(len(cameras))]
    return BlenderSplit(images, alpha, cameras, names, tmp_path, "test")


def test_shared_evaluation_iou_psnr_and_pictures(tmp_path):
    model = _model(ExactSphere)
    cameras = Camera.cat([_camera(), _camera(2.5)])
    alpha = torch.stack([_sphere_hits(cameras[i], model.sphere_radius)[1] for i in range(2)]).float()
    rendered = render_views(model, cameras, progress=False)
    metrics = evaluate_split(model, _split(rendered["rgb"], alpha, cameras, tmp_path), tmp_path / "out",
                             progress=False)
    assert metrics["views"] == 2 and metrics["mask_iou"] > 0.9
    from humanrecon.render import load_image

    picture = load_image(tmp_path / "out" / "r_001.png")
    assert picture.shape == (SIZE, 3 * SIZE + 4, 3)  # render | truth | normals, 2 px apart
    # a true image that is the rendering: infinite PSNR; brighter on the body: the pooled
    # PSNR over the body's pixels, and a higher whole-image PSNR (the background is exact)
    alpha = rendered["mask"].float()
    same = evaluate_split(model, _split(rendered["rgb"], alpha, cameras, tmp_path), progress=False)
    assert same["mask_iou"] == 1.0 and same["psnr_masked"] == math.inf and same["psnr"] == math.inf
    exact = rendered["rgb"] + 0.1 * alpha[..., None] * (rendered["rgb"] < 0.9)  # stays in [0, 1]
    offset = evaluate_split(model, _split(exact, alpha, cameras, tmp_path), progress=False)
    pooled = ((exact - rendered["rgb"]) ** 2).sum(-1)[rendered["mask"]].sum() / (3 * rendered["mask"].sum())
    assert offset["psnr_masked"] == pytest.approx(-10 * math.log10(float(pooled)), abs=1e-3)
    assert math.isfinite(offset["psnr"]) and offset["psnr"] > offset["psnr_masked"]
    # nothing true in the images: IoU 0, no masked PSNR
    empty = evaluate_split(model, _split(rendered["rgb"], torch.zeros_like(alpha), cameras, tmp_path), progress=False)
    assert empty["mask_iou"] == 0.0 and empty["psnr_masked"] is None


# --------------------------------------------------------------------------- meshes
def test_sphere_mesh_is_closed_at_the_radius_and_scores_against_the_truth():
    model = _model(ExactSphere)
    vertices, faces = extract_dvr_mesh(model, 32)
    assert vertices.dtype == np.float32 and faces.shape[1] == 3
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    assert mesh.is_watertight and mesh.volume > 0  # closed, normals outwards
    radii = np.linalg.norm(vertices, axis=1)
    assert radii.mean() == pytest.approx(model.sphere_radius, rel=0.05)
    truth = trimesh.creation.icosphere(subdivisions=4, radius=model.sphere_radius)
    report = mesh_report(vertices, faces, truth.vertices, truth.faces, n_points=5000)
    assert report["chamfer_l1"] < 0.01 and report["iou"] > 0.95 and report["normal_consistency"] > 0.98
    assert report["chamfer_l1_mm"] == pytest.approx(1000 * report["chamfer_l1"])


def test_untrained_mesh_is_closed_and_on_the_zero_level():
    model = _model()
    vertices, faces = extract_dvr_mesh(model, 64)
    assert trimesh.Trimesh(vertices, faces, process=False).is_watertight
    # this shape pokes out of the box, where the mesh is capped within a voxel of the box's
    # faces; elsewhere every vertex lies on the zero level to a small fraction of a voxel
    voxel = 2.0 / 64
    away = (np.abs(vertices) < 1.0 - voxel - 1e-4).all(1)
    assert away.mean() > 0.5
    with torch.no_grad():
        values = model.sdf(torch.from_numpy(vertices[away])).abs()
    assert values.mean() < 0.01 * voxel and values.max() < 0.1 * voxel


class _Gradient(torch.nn.Module):
    """A texture whose colour is known everywhere: ``sigmoid(logit)`` = ``(x + 1) / 2`` of
    the normalised point (red along x, green along y, blue along z)."""

    def forward(self, normalised: torch.Tensor) -> torch.Tensor:
        return torch.logit(((normalised + 1) / 2).clamp(1e-4, 1 - 1e-4))


def test_exported_mesh_carries_the_texture_field_as_vertex_colours(tmp_path):
    from humanrecon.io.meshes import load_mesh

    model = _model(ExactSphere)
    model.texture = _Gradient()
    result = model.extract_mesh(32, initial_resolution=8)
    vertices = np.asarray(result.mesh.vertices)
    # oracle: the gradient at each vertex, from the box alone (centre 0, half-diagonal √3)
    expected = np.clip((vertices / math.sqrt(3.0) + 1) / 2, 0, 1)
    np.testing.assert_allclose(result.vertex_colors, expected, atol=1e-4)
    path = result.save(tmp_path / "sphere.ply")
    loaded = load_mesh(path)
    assert len(loaded.vertices) == len(vertices)
    stored = np.asarray(loaded.visual.vertex_colors)[:, :3] / 255.0
    np.testing.assert_allclose(stored, expected, atol=0.5 / 255 + 1e-6)  # 8-bit rounding
    assert model.extract_mesh(32, initial_resolution=8, colors=False).vertex_colors is None


# --------------------------------------------------------------------------- CLI
@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from humanrecon.datasets import default_body, make_views

    root = tmp_path_factory.mktemp("dvr_cli")
    vertices, faces, colors = default_body()
    make_views(vertices, faces, colors, root / "data", views=4, size=SIZE, val=0, test=2, seed=0, progress=False)
    lo, hi = vertices.min(0) - 0.1, vertices.max(0) + 0.1
    torch.manual_seed(0)
    DVRModel(np.stack([lo, hi]), **TINY).save(root / "run" / "dvr.pt", dataset=str(root / "data"))
    return root


def test_cli_render_and_mesh_write_their_files(run, capsys):
    from humanrecon.render import load_image

    out = run / "views"
    assert main(["dvr", "render", str(run / "run"), "--view", "1", "--out", str(out), "--quiet"]) == 0
    png, = out.glob("*.png")
    assert load_image(png).shape == (SIZE, 3 * SIZE + 4, 3)  # rendering | truth | normals
    assert main(["dvr", "render", str(run / "run"), "--view", "1", "--out", str(out), "--quiet"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["dvr", "render", str(run / "run"), "--view", "0", "--split", "train", "--dataset",
                 str(run / "data"), "--out", str(out), "--overwrite", "--quiet"]) == 0
    assert main(["dvr", "render", str(run / "run"), "--orbit", "2", "--size", "16", "--out", str(run / "orbit"),
                 "--quiet"]) == 0
    assert (run / "orbit" / "orbit.gif").is_file()
    mesh, picture = run / "mesh.ply", run / "mesh.png"
    assert main(["dvr", "mesh", str(run / "run"), "--out", str(mesh), "--resolution", "32", "--png", str(picture),
                 "--quiet"]) == 0
    loaded = trimesh.load(mesh, process=False)
    assert len(loaded.faces) > 100 and picture.is_file()
    # the texture field's colours travel with the mesh
    model = DVRModel.load(run / "run" / "dvr.pt")
    expected = model.vertex_colors(loaded.vertices)
    np.testing.assert_allclose(np.asarray(loaded.visual.vertex_colors)[:, :3] / 255.0, expected, atol=0.5 / 255 + 1e-6)
    assert main(["dvr", "mesh", str(run / "run"), "--out", str(mesh), "--resolution", "32", "--quiet"]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_cli_errors_name_the_problem(run, tmp_path, capsys):
    empty = tmp_path / "empty_run"
    empty.mkdir()
    for action, out in ((["mesh"], "x.ply"), (["render", "--view", "0"], "x")):
        assert main(["dvr", *action[:1], str(empty), *action[1:], "--out", str(tmp_path / out), "--quiet"]) == 2
        assert str(empty / "dvr.pt") in capsys.readouterr().err
    assert main(["dvr", "render", str(run / "run"), "--view", "2", "--out", str(tmp_path / "v"), "--quiet"]) == 2
    assert "--view 2: the test split has 2 views" in capsys.readouterr().err
    torch.manual_seed(0)
    DVRModel(BOX, **TINY).save(tmp_path / "nodata" / "dvr.pt")
    assert main(["dvr", "render", str(tmp_path / "nodata"), "--view", "0", "--out", str(tmp_path / "v")]) == 2
    assert "pass --dataset" in capsys.readouterr().err and not (tmp_path / "v").exists()


def test_cli_defaults_are_the_library_defaults():
    import inspect

    from humanrecon.cli import _scene as cli
    from humanrecon.dvr import config, render
    from humanrecon.pipeline import METHODS

    assert METHODS["dvr"].checkpoint == config.CHECKPOINT == "dvr.pt"
    assert DVRModel(BOX, **TINY).render_samples == render.RENDER_SAMPLES
    signature = inspect.signature(DVRModel.extract_mesh).parameters
    assert cli.MESH_RESOLUTION == signature["resolution"].default
    assert cli.INITIAL_RESOLUTION == signature["initial_resolution"].default
