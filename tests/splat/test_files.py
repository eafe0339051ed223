"""Gaussian-splat scene files: the 3DGS ``.ply`` (bit-exact round trip, conversions,
channel-major f_rest) and antimatter15 ``.splat`` (quantised round trip, a real scene), and
one clear error for each kind of broken file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from humanrecon.errors import InputError, MissingFileError, OutputExistsError, SplatFileError
from humanrecon.splat.files import (
    SH_C0,
    Gaussians,
    load_gaussians,
    read_ply,
    read_splat,
    save_gaussians,
    write_ply,
    write_splat,
)

from tests.splat import PLANT


def _names(k: int) -> list[str]:
    return (["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"] + [f"f_rest_{i}" for i in range(3 * (k - 1))]
            + ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"])


def _raw(n: int = 50, k: int = 4, seed: int = 0) -> np.ndarray:
    """Stored 3DGS values ``(n, P)`` float32 as the original trainer leaves them: log-scales,
    logits up to ±30, un-normalised quaternions."""
    rng = np.random.default_rng(seed)
    raw = rng.normal(size=(n, len(_names(k)))).astype(np.float32)
    raw[:, 3:6] = 0.0
    raw[:, -8] = rng.uniform(-30, 30, n)
    raw[:, -7:-4] = rng.uniform(-9, 1, (n, 3))
    raw[:, -4:] *= rng.uniform(0.1, 5.0, (n, 1))
    return raw


def _ply_bytes(table: np.ndarray, names: list[str], fmt: str = "binary_little_endian", types: str = "float",
               comments: tuple[str, ...] = ()) -> bytes:
    header = (["ply", f"format {fmt} 1.0"] + [f"comment {c}" for c in comments] + [f"element vertex {len(table)}"]
              + [f"property {types} {n}" for n in names] + ["end_header"])
    head = ("\n".join(header) + "\n").encode()
    if fmt == "ascii":
        return head + "".join(" ".join(repr(float(v)) for v in row) + "\n" for row in table).encode()
    code = {"float": "f4", "double": "f8"}[types]
    endian = "<" if fmt == "binary_little_endian" else ">"
    return head + np.ascontiguousarray(table, dtype=endian + code).tobytes()


def _write_raw(path: Path, table, names=None, **kw) -> Path:
    path.write_bytes(_ply_bytes(np.asarray(table), names or _names(_k(table)), **kw))
    return path


def _k(table) -> int:
    return (np.asarray(table).shape[1] - 17) // 3 + 1


def _random_gaussians(n: int = 40, degree: int = 2, seed: int = 1) -> Gaussians:
    gen = torch.Generator().manual_seed(seed)
    quats = torch.nn.functional.normalize(torch.randn(n, 4, generator=gen), dim=-1)
    return Gaussians(means=torch.randn(n, 3, generator=gen), quats=quats,
                     scales=torch.rand(n, 3, generator=gen) * 0.1 + 1e-3,
                     opacities=torch.rand(n, generator=gen),
                     sh=torch.randn(n, (degree + 1) ** 2, 3, generator=gen))


# --------------------------------------------------------------------------- .ply
@pytest.mark.parametrize("k", [1, 4, 16])
def test_ply_read_write_is_bit_exact(tmp_path, k):
    source = _write_raw(tmp_path / "in.ply", _raw(k=k))
    g = read_ply(source)
    assert g.sh_degree == int(math.sqrt(k)) - 1 and g.num_gaussians == 50
    write_ply(tmp_path / "out.ply", g)
    assert (tmp_path / "out.ply").read_bytes() == source.read_bytes()
    write_ply(tmp_path / "out2.ply", g.to(dtype=torch.float64))  # a dtype round trip changes nothing
    assert (tmp_path / "out2.ply").read_bytes() == source.read_bytes()


def test_ply_conversions_and_channel_major_rest(tmp_path):
    raw = _raw(n=8, k=9)
    g = read_ply(_write_raw(tmp_path / "s.ply", raw))
    r = raw.astype(np.float64)
    np.testing.assert_array_equal(g.means.numpy(), raw[:, :3])
    np.testing.assert_allclose(g.scales.numpy(), np.exp(r[:, -7:-4]), rtol=1e-6)
    np.testing.assert_allclose(g.opacities.numpy(), 1 / (1 + np.exp(-r[:, -8])), rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(g.quats.numpy(), r[:, -4:] / np.linalg.norm(r[:, -4:], axis=1, keepdims=True),
                               atol=1e-7)
    np.testing.assert_allclose(g.quats.norm(dim=-1).numpy(), 1.0, atol=1e-6)
    sh = g.sh.numpy()
    assert sh.shape == (8, 9, 3)
    np.testing.assert_array_equal(sh[:, 0], raw[:, 6:9])
    rest = raw[:, 9:9 + 24]
    for c in range(3):
        for j in range(8):
            np.testing.assert_array_equal(sh[:, 1 + j, c], rest[:, c * 8 + j])  # R's 8, then G's, then B's


def test_gaussians_ply_gaussians_round_trip(tmp_path):
    g = _random_gaussians()
    g.opacities[:3] = torch.tensor([0.0, 1.0, 0.5])  # the clamped logit keeps 0 and 1 close
    write_ply(tmp_path / "g.ply", g)
    h = read_ply(tmp_path / "g.ply")
    for name in ("means", "quats", "sh"):
        torch.testing.assert_close(getattr(h, name), getattr(g, name), rtol=0, atol=1e-6)
    torch.testing.assert_close(h.scales, g.scales, rtol=1e-6, atol=0)
    torch.testing.assert_close(h.opacities, g.opacities, rtol=0, atol=1e-7)


def test_changed_gaussians_are_written_from_their_values(tmp_path):
    g = read_ply(_write_raw(tmp_path / "in.ply", _raw()))
    g.means[0, 0] += 1.0  # in place: the remembered file values no longer apply
    write_ply(tmp_path / "out.ply", g)
    h = read_ply(tmp_path / "out.ply")
    torch.testing.assert_close(h.means, g.means, rtol=0, atol=0)
    torch.testing.assert_close(h.quats, g.quats, rtol=0, atol=1e-7)
    torch.testing.assert_close(h.opacities, g.opacities, rtol=0, atol=1e-7)


def test_ply_ascii_big_endian_double_and_extra_properties_read_the_same(tmp_path):
    raw = _raw(n=6, k=4)
    names = _names(4)
    reference = read_ply(_write_raw(tmp_path / "le.ply", raw))
    order = [i for i in reversed(range(len(names))) if names[i] not in ("nx", "ny", "nz")]
    variants = {
        "ascii": _write_raw(tmp_path / "a.ply", raw, fmt="ascii", comments=("made by hand",)),
        "be": _write_raw(tmp_path / "be.ply", raw, fmt="binary_big_endian"),
        "double": _write_raw(tmp_path / "d.ply", raw, types="double"),
        # reordered, an extra property, no normals
        "shuffled": _write_raw(tmp_path / "s.ply", np.concatenate([raw[:, order], np.ones((6, 1))], 1),
                               names=[names[i] for i in order] + ["red"]),
    }
    for name, path in variants.items():
        g = read_ply(path)
        for key in ("means", "quats", "scales", "opacities", "sh"):
            torch.testing.assert_close(getattr(g, key), getattr(reference, key), rtol=0, atol=0, msg=name)


# --------------------------------------------------------------------------- .splat
def test_splat_round_trip_within_quantisation(tmp_path):
    g = _random_gaussians(n=200, degree=1)
    g.sh[:, 0] = (torch.rand(200, 3) - 0.5) / SH_C0  # displayable colours in [0, 1]
    write_splat(tmp_path / "g.splat", g)
    assert (tmp_path / "g.splat").stat().st_size == 200 * 32
    h = read_splat(tmp_path / "g.splat")
    assert h.sh_degree == 0
    torch.testing.assert_close(h.means, g.means, rtol=0, atol=0)
    torch.testing.assert_close(h.scales, g.scales, rtol=0, atol=0)
    torch.testing.assert_close(h.opacities, g.opacities, rtol=0, atol=0.5 / 255 + 1e-7)
    rgb = lambda x: 0.5 + SH_C0 * x.sh[:, 0]
    torch.testing.assert_close(rgb(h), rgb(g), rtol=0, atol=0.5 / 255 + 1e-6)
    dot = (h.quats * g.quats).sum(-1).abs()  # same rotation up to sign
    assert float(dot.min()) > 1 - 2e-3
    assert torch.allclose(h.quats.norm(dim=-1), torch.ones(200), atol=1e-6)


def test_plant_splat_reads_as_a_sensible_scene(tmp_path):
    if not PLANT.is_file():
        pytest.skip(f"{PLANT} not available")
    meta = json.loads((PLANT.parent / "plant_meta.json").read_text())
    g = load_gaussians(PLANT)
    assert g.num_gaussians == meta["splats"] == 113_648 and g.sh_degree == 0
    assert all(bool(torch.isfinite(getattr(g, k)).all()) for k in ("means", "quats", "scales", "opacities", "sh"))
    assert bool((g.scales > 0).all()) and float(g.scales.max()) < 1.0
    assert bool(((g.opacities >= 0) & (g.opacities <= 1)).all())
    torch.testing.assert_close(g.quats.norm(dim=-1), torch.ones(g.num_gaussians), rtol=0, atol=1e-6)
    extent = g.means.max(0).values - g.means.min(0).values
    np.testing.assert_allclose((extent / extent.max()).numpy(), meta["geometry"]["extent"], atol=1e-3)
    colours = 0.5 + SH_C0 * g.sh[:, 0]
    assert float(colours.min()) >= -1e-6 and float(colours.max()) <= 1 + 1e-6
    # read -> write gives the same bytes (rotation bytes are kept while unchanged)
    save_gaussians(tmp_path / "plant.splat", g)
    assert (tmp_path / "plant.splat").read_bytes() == PLANT.read_bytes()


def test_save_and_load_by_suffix(tmp_path):
    g = _random_gaussians(n=5, degree=0)
    for name in ("a.ply", "b.PLY", "c.splat"):
        save_gaussians(tmp_path / name, g)
        assert load_gaussians(tmp_path / name).num_gaussians == 5
    with pytest.raises(InputError, match=r"x\.npz.*\.ply or \.splat"):
        save_gaussians(tmp_path / "x.npz", g)
    with pytest.raises(InputError, match=r"x\.npz.*\.ply or \.splat"):
        load_gaussians(tmp_path / "x.npz")


# --------------------------------------------------------------------------- the container
def test_gaussians_container():
    g = _random_gaussians(n=7, degree=3)
    assert (g.num_gaussians, len(g), g.sh_degree, g.dtype) == (7, 7, 3, torch.float32)
    d = g.to(dtype=torch.float64)
    assert d.dtype == torch.float64 and d.sh.dtype == torch.float64 and g.dtype == torch.float32
    n = Gaussians(np.zeros((2, 3)), [[1, 0, 0, 0]] * 2, np.ones((2, 3)), [0.5, 0.5], np.zeros((2, 1, 3)))
    assert n.means.dtype == torch.float32 and n.sh_degree == 0
    with pytest.raises(InputError, match=r"quats must have shape \(N, 4\) for N=2"):
        Gaussians(np.zeros((2, 3)), np.zeros((2, 3)), np.ones((2, 3)), [0.5, 0.5], np.zeros((2, 1, 3)))
    with pytest.raises(InputError, match=r"opacities must have shape \(N,\)"):
        Gaussians(np.zeros((2, 3)), np.ones((2, 4)), np.ones((2, 3)), [[0.5, 0.5]], np.zeros((2, 1, 3)))
    with pytest.raises(InputError, match=r"sh must have shape \(N, K, 3\).*got \(2, 2, 3\)"):
        Gaussians(np.zeros((2, 3)), np.ones((2, 4)), np.ones((2, 3)), [0.5, 0.5], np.zeros((2, 2, 3)))


# --------------------------------------------------------------------------- errors
def _broken(tmp_path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _good_ply() -> bytes:
    return _ply_bytes(_raw(n=4, k=1), _names(1))


@pytest.mark.parametrize("data, message", [
    (b"PK\x03\x04 not a ply", r"not a PLY file"),
    (_good_ply().replace(b"end_header", b"end_heade_"), r"malformed PLY header: no 'end_header'"),
    (_good_ply().replace(b"property float opacity", b"property flaot opacity"), r"header line \d+: 'property flaot"),
    (_good_ply().replace(b"element vertex 4", b"element vertex four"), r"expected 'element NAME COUNT'"),
    (_good_ply().replace(b"binary_little_endian", b"binary_middle_endian"), r"unsupported format 'format binary_mid"),
    (_good_ply().replace(b"element vertex", b"element point"), r"no 'vertex' element"),
    (_good_ply().replace(b"property float rot_2\n", b"").replace(b"property float opacity\n", b""),
     r"missing vertex properties opacity, rot_2"),
    (_good_ply()[:-5], r"truncated PLY file: the header declares 4 vertices \(\d+ bytes\) but only"),
    (_good_ply().replace(b"element vertex 4", b"element vertex 0"), r"no Gaussians"),
    (_ply_bytes(np.zeros((2, 19)), _names(1)[:9] + ["f_rest_0", "f_rest_1"] + _names(1)[9:]),
     r"f_rest_\* properties must be .* got 2"),
])
def test_broken_ply_files(tmp_path, data, message):
    path = _broken(tmp_path, "broken.ply", data)
    with pytest.raises(SplatFileError, match=message) as info:
        read_ply(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("column, value, message", [
    (0, np.nan, r"positions \(x, y, z\) contain NaN or infinite values \(1 entries, first at Gaussian 2\)"),
    (-8, np.inf, r"opacity contain NaN or infinite"),
    (-6, 200.0, r"log-scales out of float32 range.*Gaussian 2"),
])
def test_ply_with_bad_values(tmp_path, column, value, message):
    raw = _raw(n=4, k=1)
    raw[2, column] = value
    path = _write_raw(tmp_path / "bad.ply", raw)
    with pytest.raises(SplatFileError, match=message) as info:
        read_ply(path)
    assert str(path) in str(info.value)


def test_ply_with_zero_quaternion(tmp_path):
    raw = _raw(n=4, k=1)
    raw[1, -4:] = 0.0
    with pytest.raises(SplatFileError, match=r"bad\.ply: 1 Gaussians have a zero-length quaternion.*Gaussian 1"):
        read_ply(_write_raw(tmp_path / "bad.ply", raw))


def _splat_bytes(n: int = 3) -> np.ndarray:
    table = np.zeros(n, dtype=[("p", "<f4", 3), ("s", "<f4", 3), ("c", "u1", 4), ("r", "u1", 4)])
    table["s"] = 0.01
    table["c"] = 200
    table["r"] = (255, 128, 128, 128)
    return table


def test_broken_splat_files(tmp_path):
    good = _splat_bytes()
    with pytest.raises(SplatFileError, match=r"t\.splat: not a \.splat file: its size \(95 bytes\) is not a positive "
                                             r"multiple of 32"):
        read_splat(_broken(tmp_path, "t.splat", good.tobytes()[:-1]))
    with pytest.raises(SplatFileError, match=r"e\.splat: .*size \(0 bytes\)"):
        read_splat(_broken(tmp_path, "e.splat", b""))
    nan = good.copy()
    nan["p"][1, 2] = np.nan
    with pytest.raises(SplatFileError, match=r"n\.splat: means contain NaN or infinite values.*Gaussian 1"):
        read_splat(_broken(tmp_path, "n.splat", nan.tobytes()))
    zero = good.copy()
    zero["r"][2] = 128
    with pytest.raises(SplatFileError, match=r"z\.splat: 1 Gaussians have a zero-length quaternion.*Gaussian 2"):
        read_splat(_broken(tmp_path, "z.splat", zero.tobytes()))
    flat = good.copy()
    flat["s"][0, 1] = 0.0
    with pytest.raises(SplatFileError, match=r"f\.splat: scales must be > 0"):
        read_splat(_broken(tmp_path, "f.splat", flat.tobytes()))
    with pytest.raises(MissingFileError, match=r"absent\.splat: Gaussian-splat file not found"):
        read_splat(tmp_path / "absent.splat")
    with pytest.raises(MissingFileError, match=r"absent\.ply"):
        read_ply(tmp_path / "absent.ply")


def test_writers_refuse_existing_outputs_and_bad_values(tmp_path):
    g = _random_gaussians(n=3, degree=0)
    for name, write in (("a.ply", write_ply), ("a.splat", write_splat)):
        path = tmp_path / name
        path.write_bytes(b"keep")
        with pytest.raises(OutputExistsError, match=name):
            write(path, g)
        assert path.read_bytes() == b"keep"
        write(path, g, overwrite=True)
        assert path.stat().st_size > 4
    g.quats[1] = 0.0
    with pytest.raises(InputError, match=r"cannot write .*b\.ply: quats must not be zero-length.*Gaussian 1"):
        write_ply(tmp_path / "b.ply", g)
    g = _random_gaussians(n=3, degree=0)
    g.opacities[0] = 1.5
    with pytest.raises(InputError, match=r"b\.splat: opacities must lie in \[0, 1\]"):
        write_splat(tmp_path / "b.splat", g)
    assert not (tmp_path / "b.ply").exists() and not (tmp_path / "b.splat").exists()
