"""`humanrecon implicit train/mesh` end to end on small inputs (run folders, the metrics
against the source), resume, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import trimesh

from humanrecon.cli import main
from humanrecon.implicit import ImplicitShape
from tests import oracles

RADIUS = 0.3

FAST = ["--steps", "150", "--hidden", "32", "--layers", "3", "--blocks", "1", "--batch-points", "2048",
        "--pool-points", "20000", "--quiet"]


@pytest.fixture(scope="module")
def sphere_mesh(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "sphere.obj"
    trimesh.creation.icosphere(subdivisions=3, radius=RADIUS).export(path)
    return path


def check_sphere(model, mesh_path, kind, min_iou, radius_atol):
    """The checkpoint holds the trained sphere (inside test against the exact one, at
    uniform points in its box) and the extracted mesh lies on it."""
    shape = ImplicitShape.load(model).eval()
    assert shape.kind == kind and shape.config["steps_trained"] == 150
    lo, hi = shape.bounds
    points = lo + (hi - lo) * torch.rand(50_000, 3, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        values = shape(points).numpy()
    predicted = values > 0 if kind == "occ" else values < 0  # occupancy logits / signed distances
    inside = oracles.sphere_sdf(points.numpy(), RADIUS) < 0
    assert (predicted & inside).sum() / (predicted | inside).sum() >= min_iou
    mesh = trimesh.load(mesh_path, process=False)
    np.testing.assert_allclose(np.linalg.norm(mesh.vertices, axis=1), RADIUS, atol=radius_atol)
    assert mesh.is_watertight and mesh.volume == pytest.approx(oracles.sphere_volume(RADIUS), rel=0.05)


@pytest.mark.parametrize("kind", ["occ", "sdf"])
def test_train_and_extract_from_a_mesh(tmp_path, sphere_mesh, kind):
    run, mesh_out, png = tmp_path / "run", tmp_path / "out.ply", tmp_path / "out.png"
    assert main(["implicit", "train", "--mesh", str(sphere_mesh), "--kind", kind, "--out", str(run),
                 "--eval-resolution", "32", "--eval-points", "5000"] + FAST) == 0
    model = run / "shape.pt"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["method"] == "implicit" and metrics["kind"] == kind and metrics["steps"] == 150
    assert metrics["chamfer_l1_mm"] < 20 and metrics["iou"] > 0.9  # the 32³ mesh against the source sphere
    assert (run / "mesh.ply").is_file() and (run / "mesh.png").stat().st_size > 0
    assert main(["implicit", "mesh", str(run), "--out", str(mesh_out), "--resolution", "64",
                 "--png", str(png), "--quiet"]) == 0
    mesh = trimesh.load(mesh_out, process=False)
    radii = np.linalg.norm(mesh.vertices - mesh.vertices.mean(0), axis=1)
    assert abs(np.median(radii) - RADIUS) < 0.05
    assert png.stat().st_size > 0
    check_sphere(model, mesh_out, kind, min_iou=0.93, radius_atol=0.03)  # measured: IoU 0.97, 1.2-1.7 cm


def test_train_from_points_with_normals(tmp_path):
    import open3d as o3d

    rng = np.random.default_rng(0)
    d = rng.normal(size=(3000, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(RADIUS * d))
    cloud.normals = o3d.utility.Vector3dVector(d)
    path = tmp_path / "cloud.ply"
    o3d.io.write_point_cloud(str(path), cloud)
    run = tmp_path / "igr"
    assert main(["implicit", "train", "--points", str(path), "--use-normals", "--out", str(run),
                 "--eval-resolution", "32", "--eval-points", "5000"] + FAST) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["kind"] == "igr" and metrics["completeness_mm"] < 10  # cloud → 32³ mesh
    model = run / "shape.pt"  # the old spelling of the verb and a checkpoint path still work
    assert main(["implicit", "extract", str(model), "--out", str(tmp_path / "o.ply"), "--resolution", "64", "--quiet"]) == 0
    check_sphere(model, tmp_path / "o.ply", "igr", min_iou=0.97, radius_atol=0.01)  # measured: IoU 0.996, 3 mm


def test_bad_inputs(tmp_path, sphere_mesh, capsys):
    import open3d as o3d

    # point cloud without normals when normals are requested
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.random.default_rng(0).normal(size=(100, 3))))
    path = tmp_path / "nonormals.ply"
    o3d.io.write_point_cloud(str(path), cloud)
    assert main(["implicit", "train", "--points", str(path), "--use-normals", "--out", str(tmp_path / "a")] + FAST) == 2
    assert "nonormals.ply: normals were requested" in capsys.readouterr().err
    # broken point cloud
    broken = tmp_path / "broken.ply"
    broken.write_text("ply\nformat ascii 1.0\nelement vertex 5\nend_header\n1 2\n")
    assert main(["implicit", "train", "--points", str(broken), "--out", str(tmp_path / "b")] + FAST) == 2
    assert "broken.ply" in capsys.readouterr().err
    # non-watertight mesh
    open_mesh = trimesh.creation.icosphere(subdivisions=2, radius=0.3)
    open_mesh.faces = open_mesh.faces[5:]
    holes = tmp_path / "holes.obj"
    open_mesh.export(holes)
    assert main(["implicit", "train", "--mesh", str(holes), "--out", str(tmp_path / "c")] + FAST) == 2
    assert "holes.obj" in capsys.readouterr().err
    # occupancy from points, both inputs, missing checkpoint, overwrite protection
    assert main(["implicit", "train", "--points", str(path), "--kind", "occ", "--out", str(tmp_path / "d")]) == 2
    assert "no inside/outside labels" in capsys.readouterr().err
    assert main(["implicit", "mesh", str(tmp_path / "missing"), "--out", str(tmp_path / "e.ply")]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert main(["implicit", "train", "--mesh", str(path), "--out", str(tmp_path / "f")] + FAST) == 2
    assert "a point cloud, not a triangle mesh" in capsys.readouterr().err
    assert main(["implicit", "train", "--mesh", str(sphere_mesh), "--out", str(tmp_path / "g"), "--resume"]) == 2
    assert "no run to resume" in capsys.readouterr().err
    existing = tmp_path / "exists" / "shape.pt"
    existing.parent.mkdir()
    existing.write_text("keep me")
    assert main(["implicit", "train", "--mesh", str(sphere_mesh), "--out", str(existing.parent)] + FAST) == 2
    assert existing.read_text() == "keep me"
