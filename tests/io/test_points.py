"""Point-cloud files: every point read or one error naming the file (and line)."""

from __future__ import annotations

import numpy as np
import pytest

from humanrecon.errors import InputError, MissingFileError
from humanrecon.io.points import read_point_cloud


def test_text_files_with_and_without_normals(tmp_path):
    (tmp_path / "a.xyz").write_text("# comment\n0 0 0\n1 2 3\n\n4.5, 5, 6\n")
    points, normals = read_point_cloud(tmp_path / "a.xyz")
    np.testing.assert_array_equal(points, [[0, 0, 0], [1, 2, 3], [4.5, 5, 6]])
    assert normals is None
    (tmp_path / "b.xyzn").write_text("0 0 0 0 0 2\n1 1 1 3 0 0\n")
    points, normals = read_point_cloud(tmp_path / "b.xyzn", need_normals=True)
    np.testing.assert_array_equal(normals, [[0, 0, 1], [1, 0, 0]])  # normalised
    with pytest.raises(InputError, match="--use-normals"):
        read_point_cloud(tmp_path / "a.xyz", need_normals=True)


@pytest.mark.parametrize("text, message", [
    ("0 0 0\nfoo bar baz\n1 1 1\n", "line 2 is not numbers"),
    ("0 0 0\n1 1\n", "line 2 has 2 numbers"),
    ("0 0 0\n1 1 1 0 0 1\n", "line 2 has 6 numbers, expected 3"),
    ("0 0 nan\n", "NaN or infinite"),
    ("# nothing\n", "no points"),
])
def test_malformed_text_is_refused_with_the_line(tmp_path, text, message):
    (tmp_path / "c.xyz").write_text(text)
    with pytest.raises(InputError, match=message):
        read_point_cloud(tmp_path / "c.xyz")


def test_ply_round_trip_and_truncated_ply(tmp_path):
    import trimesh

    rng = np.random.default_rng(0)
    cloud = rng.normal(size=(50, 3)).astype(np.float32)
    trimesh.PointCloud(cloud).export(tmp_path / "p.ply")
    points, _ = read_point_cloud(tmp_path / "p.ply")
    np.testing.assert_allclose(points, cloud, atol=1e-6)
    data = (tmp_path / "p.ply").read_bytes()
    (tmp_path / "cut.ply").write_bytes(data[: len(data) - 100])
    with pytest.raises(InputError, match=r"cut\.ply: broken PLY file"):
        read_point_cloud(tmp_path / "cut.ply")


def test_missing_and_unknown_formats(tmp_path):
    with pytest.raises(MissingFileError, match="nope.xyz"):
        read_point_cloud(tmp_path / "nope.xyz")
    (tmp_path / "d.obj").write_text("v 0 0 0\n")
    with pytest.raises(InputError, match="unsupported point-cloud format"):
        read_point_cloud(tmp_path / "d.obj")
