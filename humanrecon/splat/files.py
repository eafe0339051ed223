"""Gaussian-splat scene files: the 3DGS point-cloud ``.ply`` and antimatter15's ``.splat``.

In memory a scene is :class:`Gaussians`, *activated* as in ``conventions.md``: ``means (N,3)``
world frame (metres, or whatever unit the scene was reconstructed in: COLMAP scenes are not
metric), ``quats (N,4)`` unit quaternions (w, x, y, z), ``scales (N,3)`` standard deviations
(> 0), ``opacities (N,)`` in ``[0, 1]``, ``sh (N,K,3)`` spherical-harmonic coefficients,
``K = (degree+1)²`` (``sh[:, 0]`` is the DC term: ``rgb = 0.5 + C0 · sh[:, 0]``).

``.ply`` (the format the original 3DGS implementation writes, and most tools read)
    A ``vertex`` element with float properties ``x y z nx ny nz f_dc_0..2
    f_rest_0..(3(K-1)-1) opacity scale_0..2 rot_0..3``: log-scales, logit opacity,
    un-normalised quaternion ``rot = (w, x, y, z)``, and ``f_rest`` channel-major
    (``f_rest[c·(K-1) + k] = sh[:, 1+k, c]``). Binary little/big endian and ascii are read
    (header parsed here, no plyfile); binary little endian is written. Conversions on read:
    ``scale = exp(scale_i)``, ``opacity = sigmoid(opacity)``, ``quat = rot / |rot|`` (in
    float64, rounded to float32); on write the reverse, with the opacity clamped to
    ``[1e-10, 1 - 1e-10]`` so its logit is finite. Because float32 activations cannot always
    hold the exact stored values (un-normalised quaternions, large logits), a
    :class:`Gaussians` read from a ``.ply`` remembers the stored values, and :func:`write_ply`
    writes them again, bit for bit, while the activated tensors still equal what was read.

``.splat`` (antimatter15's web-viewer format)
    No header, 32 bytes per Gaussian, little endian: position 3×float32, scale 3×float32
    (linear standard deviations), colour RGBA 4×uint8 (``RGB = round(255·clamp(0.5 +
    C0·f_dc, 0, 1))``, ``A = round(255·opacity)``), rotation 4×uint8 (``round(128·q + 128)``
    of the unit quaternion (w, x, y, z), clamped to 0..255). Only the SH DC term is stored:
    a read gives ``sh_degree`` 0, a write drops higher degrees. Quantisation: colours and
    opacity to 1/255, quaternion components to 1/128. Rotation bytes are rarely an exactly
    unit quaternion, so a :class:`Gaussians` read from a ``.splat`` remembers them and
    :func:`write_splat` writes them again while the quaternions still equal what was read
    (a read-write round trip of a ``.splat`` is then byte-identical).

Every reader raises :class:`~humanrecon.errors.SplatFileError` naming the file for a
malformed header, missing properties (named), a truncated body, NaN/inf values,
non-positive scales or zero-length quaternions; a missing file is
:class:`~humanrecon.errors.MissingFileError`. Writers are atomic and refuse to replace an
existing file unless ``overwrite=True`` (:class:`~humanrecon.errors.OutputExistsError`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from humanrecon._validation import reader, to_numpy
from humanrecon.errors import InputError, MissingFileError, SplatFileError
from humanrecon.io.files import atomic_write, check_outputs

from humanrecon.splat._torch_impl import SH_C0  # rgb = 0.5 + SH_C0 · sh[:, 0]

#: Suffixes :func:`load_gaussians` / :func:`save_gaussians` understand.
SPLAT_SUFFIXES = (".ply", ".splat")
#: Opacities are clamped to ``[OPACITY_EPS, 1 - OPACITY_EPS]`` before the logit on write.
OPACITY_EPS = 1e-10

_SPLAT_DTYPE = np.dtype([("position", "<f4", (3,)), ("scale", "<f4", (3,)), ("rgba", "u1", (4,)),
                         ("rotation", "u1", (4,))])
_PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
    "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}
_PLY_FORMATS = {"binary_little_endian": "<", "binary_big_endian": ">", "ascii": "ascii"}
_BASE_PROPS = ("x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2",
               "rot_0", "rot_1", "rot_2", "rot_3")


# --------------------------------------------------------------------------- in memory
@dataclass(eq=False)
class Gaussians:
    """``N`` activated 3D Gaussians (world frame).

    Attributes:
        means: ``(N, 3)`` centres, world frame, scene units (metres for humanrecon scenes).
        quats: ``(N, 4)`` rotations as quaternions (w, x, y, z); unit length when read from a file.
        scales: ``(N, 3)`` standard deviations along the rotated axes (> 0), scene units.
        opacities: ``(N,)`` in ``[0, 1]``.
        sh: ``(N, K, 3)`` SH coefficients per RGB channel, ``K = (sh_degree + 1)²``.

    Arrays (numpy, lists) become float32 tensors; floating torch tensors keep their dtype
    and device (all on one device). Shapes are checked here; values (finite, scales > 0,
    opacities in [0, 1], non-zero quaternions) by the readers and writers.
    """

    means: torch.Tensor
    quats: torch.Tensor
    scales: torch.Tensor
    opacities: torch.Tensor
    sh: torch.Tensor
    # the float32 values of a .ply this was read from (standard property order), private
    _stored: np.ndarray | None = field(default=None, init=False, repr=False)
    # the rotation bytes of a .splat this was read from, private
    _splat_rotation: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("means", "quats", "scales", "opacities", "sh"):
            value = getattr(self, name)
            if isinstance(value, torch.Tensor):
                tensor = value if value.is_floating_point() else value.to(torch.float32)
            else:
                try:
                    tensor = torch.as_tensor(np.asarray(value, dtype=np.float32))
                except (TypeError, ValueError) as exc:
                    raise InputError(f"Gaussians.{name} must be an array of numbers, got {type(value).__name__}") from exc
            setattr(self, name, tensor)
        n = int(self.means.shape[0]) if self.means.dim() == 2 else -1
        want = {"means": (n, 3), "quats": (n, 4), "scales": (n, 3), "opacities": (n,)}
        if self.means.dim() != 2 or self.means.shape[1] != 3:
            raise InputError(f"Gaussians.means must have shape (N, 3), got {tuple(self.means.shape)}")
        for name, shape in want.items():
            if tuple(getattr(self, name).shape) != shape:
                raise InputError(f"Gaussians.{name} must have shape {_shape_text(shape)} for N={n} Gaussians, "
                                 f"got {tuple(getattr(self, name).shape)}")
        k = int(self.sh.shape[1]) if self.sh.dim() == 3 else 0
        if self.sh.dim() != 3 or self.sh.shape[0] != n or self.sh.shape[2] != 3 or k < 1 or _degree(k) is None:
            raise InputError(f"Gaussians.sh must have shape (N, K, 3) with N={n} and K = (degree+1)² "
                             f"(1, 4, 9, 16, ...), got {tuple(self.sh.shape)}")
        devices = {t.device for t in (self.means, self.quats, self.scales, self.opacities, self.sh)}
        if len(devices) != 1:
            raise InputError(f"Gaussians tensors must share one device, got {sorted(map(str, devices))}")

    @property
    def num_gaussians(self) -> int:
        """``N``."""
        return int(self.means.shape[0])

    def __len__(self) -> int:
        return self.num_gaussians

    @property
    def sh_degree(self) -> int:
        """The SH degree ``K`` holds: ``sqrt(K) - 1`` (0 = DC only)."""
        return _degree(int(self.sh.shape[1]))

    @property
    def device(self) -> torch.device:
        return self.means.device

    @property
    def dtype(self) -> torch.dtype:
        return self.means.dtype

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> "Gaussians":
        """A copy on another device and/or floating dtype (the stored ``.ply`` values travel along)."""
        kw = {"device": device, "dtype": dtype}
        out = Gaussians(self.means.to(**kw), self.quats.to(**kw), self.scales.to(**kw), self.opacities.to(**kw),
                        self.sh.to(**kw))
        out._stored, out._splat_rotation = self._stored, self._splat_rotation
        return out

    def __repr__(self) -> str:
        return (f"Gaussians(num_gaussians={self.num_gaussians}, sh_degree={self.sh_degree}, dtype={self.dtype}, "
                f"device={self.device})")


def _degree(k: int) -> int | None:
    d = int(round(np.sqrt(k))) - 1
    return d if (d + 1) ** 2 == k else None


def _shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join("N" if i == 0 else str(s) for i, s in enumerate(shape)) + (",)" if len(shape) == 1 else ")")


def _numpy(g: Gaussians) -> dict[str, np.ndarray]:
    """The five arrays as float32 numpy on the CPU."""
    return {k: to_numpy(getattr(g, k), np.float32) for k in ("means", "quats", "scales", "opacities", "sh")}


def _check_values(arrays: dict[str, np.ndarray], where: str, error: type = InputError) -> None:
    """Finite everything, scales > 0, opacities in [0, 1], non-zero quaternions."""
    for name, value in arrays.items():
        bad = ~np.isfinite(value)
        if bad.any():
            first = int(np.argwhere(bad.reshape(len(value), -1).any(axis=1))[0, 0])
            raise error(f"{where}: {name} contain NaN or infinite values ({int(bad.sum())} entries, first at "
                        f"Gaussian {first})")
    for name, bad, what in (
        ("scales", arrays["scales"] <= 0, "must be > 0 (standard deviations)"),
        ("opacities", (arrays["opacities"] < 0) | (arrays["opacities"] > 1), "must lie in [0, 1]"),
        ("quats", ~(np.abs(arrays["quats"]).max(axis=1) > 0), "must not be zero-length"),
    ):
        rows = bad.reshape(len(bad), -1).any(axis=1)
        if rows.any():
            first = int(np.argmax(rows))
            raise error(f"{where}: {name} {what}: {int(rows.sum())} Gaussians violate it, first at Gaussian {first} "
                        f"({arrays[name][first].tolist()})")


# --------------------------------------------------------------------------- .ply
def _ply_names(k: int) -> list[str]:
    """Standard 3DGS vertex property order for ``K`` SH coefficients."""
    return (["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
            + [f"f_rest_{i}" for i in range(3 * (k - 1))]
            + ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"])


@dataclass
class _PlyElement:
    name: str
    count: int
    props: list[tuple[str, str]]  # (name, numpy code) for scalars
    has_list: bool = False


def _parse_ply_header(path: Path, data: bytes) -> tuple[str, list[_PlyElement], int]:
    """``(format, elements, body offset)`` of a PLY file's bytes."""
    if not data.startswith(b"ply"):
        raise SplatFileError(f"{path}: not a PLY file (it does not start with 'ply')")
    match = re.search(rb"end_header[ \t]*\r?\n", data[:1 << 20])
    if match is None:
        raise SplatFileError(f"{path}: malformed PLY header: no 'end_header' line")
    try:
        text = data[:match.start()].decode("ascii")
    except UnicodeDecodeError as exc:
        raise SplatFileError(f"{path}: malformed PLY header: non-ASCII bytes at offset {exc.start}") from exc
    fmt, elements = None, []
    for number, line in enumerate(text.splitlines()[1:], start=2):
        words = line.split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "format":
            if len(words) != 3 or words[1] not in _PLY_FORMATS:
                raise SplatFileError(f"{path}: PLY header line {number}: unsupported format '{line.strip()}' "
                                     f"(readable: {', '.join(_PLY_FORMATS)})")
            fmt = words[1]
        elif words[0] == "element":
            if len(words) != 3 or not words[2].isdigit():
                raise SplatFileError(f"{path}: malformed PLY header line {number}: '{line.strip()}' "
                                     "(expected 'element NAME COUNT')")
            elements.append(_PlyElement(words[1], int(words[2]), []))
        elif words[0] == "property":
            if not elements:
                raise SplatFileError(f"{path}: malformed PLY header line {number}: a property before any element")
            if len(words) == 5 and words[1] == "list":
                elements[-1].has_list = True
                elements[-1].props.append((words[4], "list"))
                continue
            if len(words) != 3 or words[1] not in _PLY_TYPES:
                raise SplatFileError(f"{path}: malformed PLY header line {number}: '{line.strip()}' "
                                     f"(expected 'property TYPE NAME' with TYPE one of {', '.join(sorted(_PLY_TYPES))})")
            if any(words[2] == name for name, _ in elements[-1].props):
                raise SplatFileError(f"{path}: malformed PLY header line {number}: property '{words[2]}' "
                                     f"appears twice in element '{elements[-1].name}'")
            elements[-1].props.append((words[2], _PLY_TYPES[words[1]]))
        else:
            raise SplatFileError(f"{path}: malformed PLY header line {number}: unknown keyword '{words[0]}'")
    if fmt is None:
        raise SplatFileError(f"{path}: malformed PLY header: no 'format' line")
    return fmt, elements, match.end()


def _ply_vertices(path: Path, data: bytes) -> dict[str, np.ndarray]:
    """The vertex element's properties, each a ``(N,)`` array, from a PLY file's bytes."""
    fmt, elements, offset = _parse_ply_header(path, data)
    names = [e.name for e in elements]
    if "vertex" not in names:
        raise SplatFileError(f"{path}: the PLY file has no 'vertex' element (elements: {names or 'none'})")
    index = names.index("vertex")
    vertex = elements[index]
    if vertex.has_list:
        raise SplatFileError(f"{path}: the PLY vertex element has list properties: not a 3DGS Gaussian file")
    before = elements[:index]
    if any(e.has_list for e in before):
        raise SplatFileError(f"{path}: PLY elements with list properties ({', '.join(e.name for e in before if e.has_list)}) "
                             "come before 'vertex': not a 3DGS Gaussian file")
    if fmt == "ascii":
        lines = data[offset:].decode("ascii", errors="replace").splitlines()
        skip = sum(e.count for e in before)
        rows = [line.split() for line in lines[skip:skip + vertex.count]]
        if len(rows) < vertex.count:
            raise SplatFileError(f"{path}: truncated PLY file: the header declares {vertex.count} vertices but only "
                                 f"{len(rows)} lines follow")
        for i, row in enumerate(rows):
            if len(row) != len(vertex.props):
                raise SplatFileError(f"{path}: ascii PLY vertex {i} has {len(row)} values, the header declares "
                                     f"{len(vertex.props)} properties")
        try:
            table = np.asarray(rows, dtype=np.float64).reshape(vertex.count, len(vertex.props))
        except ValueError as exc:
            raise SplatFileError(f"{path}: ascii PLY vertex values are not all numbers ({exc})") from exc
        return {name: table[:, j] for j, (name, _) in enumerate(vertex.props)}
    endian = _PLY_FORMATS[fmt]
    offset += sum(e.count * np.dtype([(n, endian + c) for n, c in e.props]).itemsize for e in before)
    dtype = np.dtype([(n, endian + c) for n, c in vertex.props])
    need = vertex.count * dtype.itemsize
    have = len(data) - offset
    if have < need:
        raise SplatFileError(f"{path}: truncated PLY file: the header declares {vertex.count} vertices "
                             f"({need} bytes) but only {max(have, 0)} bytes follow the header")
    table = np.frombuffer(data, dtype=dtype, count=vertex.count, offset=offset)
    return {name: table[name] for name in dtype.names}


def _stored_from_props(path: Path, props: dict[str, np.ndarray]) -> np.ndarray:
    """The 3DGS properties as float32 ``(N, P)`` in standard order; missing ones named."""
    missing = [p for p in _BASE_PROPS if p not in props]
    if missing:
        raise SplatFileError(f"{path}: not a 3DGS Gaussian PLY: missing vertex properties {', '.join(missing)}")
    rest = sorted((int(m.group(1)) for m in (re.fullmatch(r"f_rest_(\d+)", p) for p in props) if m))
    if rest != list(range(len(rest))) or len(rest) % 3:
        raise SplatFileError(f"{path}: the f_rest_* properties must be f_rest_0..f_rest_(3(K-1)-1), a multiple of 3 "
                             f"numbered from 0, got {len(rest)} (indices {rest[:5]}{'...' if len(rest) > 5 else ''})")
    k = len(rest) // 3 + 1
    if _degree(k) is None:
        raise SplatFileError(f"{path}: {len(rest)} f_rest_* properties give K = {k} SH coefficients per channel, "
                             "which is not (degree+1)² (expected 0, 9, 24 or 45 f_rest_* properties)")
    n = len(props["x"])
    if n == 0:
        raise SplatFileError(f"{path}: the PLY file holds no Gaussians (vertex count 0)")
    names = _ply_names(k)
    stored = np.empty((n, len(names)), dtype=np.float32)
    for j, name in enumerate(names):
        stored[:, j] = props[name] if name in props else 0.0
    return stored


def _activate(stored: np.ndarray) -> dict[str, np.ndarray]:
    """Activated float32 arrays from standard-order stored values (no checks)."""
    n, cols = stored.shape
    k = (cols - 17) // 3 + 1
    s = stored.astype(np.float64)
    rot = s[:, -4:]
    norm = np.linalg.norm(rot, axis=1, keepdims=True)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        quats = rot / norm
        scales = np.exp(s[:, -7:-4])
        e = np.exp(-np.abs(s[:, -8]))  # sigmoid without overflow or cancellation
        opacities = np.where(s[:, -8] >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    sh = np.empty((n, k, 3), dtype=np.float64)
    sh[:, 0] = s[:, 6:9]
    sh[:, 1:] = s[:, 9:9 + 3 * (k - 1)].reshape(n, 3, k - 1).transpose(0, 2, 1)
    with np.errstate(over="ignore"):  # scales beyond float32 become inf: the reader names them
        return {"means": stored[:, :3].copy(), "quats": quats.astype(np.float32), "scales": scales.astype(np.float32),
                "opacities": opacities.astype(np.float32), "sh": sh.astype(np.float32)}


def _to_gaussians(arrays: dict[str, np.ndarray]) -> Gaussians:
    return Gaussians(**{k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()})


@reader(SplatFileError, "Gaussian-splat PLY file")
def read_ply(path: str | os.PathLike) -> Gaussians:
    """Read a 3DGS Gaussian ``.ply`` (see the module docstring) into activated :class:`Gaussians`.

    Raises :class:`~humanrecon.errors.SplatFileError` naming the file for a malformed header,
    missing properties, a truncated body, NaN/inf values, zero-length quaternions or scales
    that overflow/underflow float32; :class:`~humanrecon.errors.MissingFileError` if absent.
    """
    path = Path(path)
    data = _read_bytes(path)
    stored = _stored_from_props(path, _ply_vertices(path, data))
    raw = {"positions (x, y, z)": stored[:, :3], "f_dc/f_rest": stored[:, 6:-8], "opacity": stored[:, -8],
           "scale_*": stored[:, -7:-4], "rot_*": stored[:, -4:]}
    for name, value in raw.items():
        bad = ~np.isfinite(value)
        if bad.any():
            first = int(np.argwhere(bad.reshape(len(value), -1).any(axis=1))[0, 0])
            raise SplatFileError(f"{path}: {name} contain NaN or infinite values ({int(bad.sum())} entries, "
                                 f"first at Gaussian {first})")
    zero = ~(np.abs(stored[:, -4:]).max(axis=1) > 0)
    if zero.any():
        raise SplatFileError(f"{path}: {int(zero.sum())} Gaussians have a zero-length quaternion (rot_0..3 all 0), "
                             f"first at Gaussian {int(np.argmax(zero))}")
    arrays = _activate(stored)
    bad = ~np.isfinite(arrays["scales"]) | (arrays["scales"] <= 0)
    if bad.any():
        first = int(np.argwhere(bad.any(axis=1))[0, 0])
        raise SplatFileError(f"{path}: log-scales out of float32 range: exp(scale_*) is 0 or inf for "
                             f"{int(bad.any(axis=1).sum())} Gaussians, first at Gaussian {first} "
                             f"(scale_* = {stored[first, -7:-4].tolist()})")
    gaussians = _to_gaussians(arrays)
    gaussians._stored = stored
    return gaussians


def _stored_for_write(g: Gaussians, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Standard-order float32 values to write: the remembered ones if ``g`` is unchanged."""
    stored = g._stored
    if stored is not None and stored.shape == (g.num_gaussians, len(_ply_names(g.sh.shape[1]))):
        again = _activate(stored)
        if all(np.array_equal(again[k], arrays[k]) for k in arrays):
            return stored
    n, k = g.num_gaussians, int(g.sh.shape[1])
    a = {key: v.astype(np.float64) for key, v in arrays.items()}
    opacity = np.clip(a["opacities"], OPACITY_EPS, 1.0 - OPACITY_EPS)
    out = np.zeros((n, len(_ply_names(k))), dtype=np.float64)
    out[:, :3] = a["means"]
    out[:, 6:9] = a["sh"][:, 0]
    out[:, 9:9 + 3 * (k - 1)] = a["sh"][:, 1:].transpose(0, 2, 1).reshape(n, -1)
    out[:, -8] = np.log(opacity) - np.log1p(-opacity)
    out[:, -7:-4] = np.log(a["scales"])
    out[:, -4:] = a["quats"] / np.linalg.norm(a["quats"], axis=1, keepdims=True)
    return out.astype(np.float32)


def write_ply(path: str | os.PathLike, g: Gaussians, overwrite: bool = False) -> Path:
    """Write ``g`` as a binary little-endian 3DGS ``.ply`` (normals 0); atomic. Returns the path.

    A ``.ply`` read by :func:`read_ply` and not changed since is written back bit for bit.
    Raises :class:`~humanrecon.errors.OutputExistsError` if ``path`` exists and not
    ``overwrite``, :class:`~humanrecon.errors.InputError` for invalid values (NaN/inf,
    scales <= 0, opacities outside [0, 1], zero-length quaternions).
    """
    path, arrays = _prepare_write(path, g, overwrite)
    stored = _stored_for_write(g, arrays)
    names = _ply_names(int(g.sh.shape[1]))
    header = "\n".join(["ply", "format binary_little_endian 1.0", f"element vertex {g.num_gaussians}"]
                       + [f"property float {name}" for name in names] + ["end_header"]) + "\n"
    with atomic_write(path) as handle:
        handle.write(header.encode("ascii"))
        handle.write(np.ascontiguousarray(stored, dtype="<f4").tobytes())
    return path


# --------------------------------------------------------------------------- .splat
@reader(SplatFileError, "antimatter15 .splat file")
def read_splat(path: str | os.PathLike) -> Gaussians:
    """Read an antimatter15 ``.splat`` (see the module docstring): SH degree 0, unit quaternions.

    Raises :class:`~humanrecon.errors.SplatFileError` naming the file when its size is not a
    positive multiple of 32 bytes, for NaN/inf positions or scales, scales <= 0 and
    zero-length quaternions (all four bytes 128).
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) == 0 or len(data) % _SPLAT_DTYPE.itemsize:
        raise SplatFileError(f"{path}: not a .splat file: its size ({len(data)} bytes) is not a positive multiple of "
                             f"{_SPLAT_DTYPE.itemsize} (bytes per Gaussian); truncated or another format")
    table = np.frombuffer(data, dtype=_SPLAT_DTYPE)
    zero = (table["rotation"] == 128).all(axis=1)
    if zero.any():
        raise SplatFileError(f"{path}: {int(zero.sum())} Gaussians have a zero-length quaternion (rotation bytes "
                             f"128 128 128 128), first at Gaussian {int(np.argmax(zero))}")
    rgba = table["rgba"].astype(np.float64) / 255.0
    arrays = {"means": table["position"].copy(), "quats": _decode_rotation(table["rotation"]),
              "scales": table["scale"].copy(), "opacities": rgba[:, 3].astype(np.float32),
              "sh": ((rgba[:, None, :3] - 0.5) / SH_C0).astype(np.float32)}
    _check_values(arrays, str(path), SplatFileError)
    gaussians = _to_gaussians(arrays)
    gaussians._splat_rotation = table["rotation"].copy()
    return gaussians


def _decode_rotation(rotation: np.ndarray) -> np.ndarray:
    """Unit quaternions ``(N, 4)`` float32 from ``.splat`` rotation bytes ``(N, 4)`` (none all 128)."""
    rot = (rotation.astype(np.float64) - 128.0) / 128.0
    return (rot / np.linalg.norm(rot, axis=1, keepdims=True)).astype(np.float32)


def write_splat(path: str | os.PathLike, g: Gaussians, overwrite: bool = False) -> Path:
    """Write ``g`` as an antimatter15 ``.splat`` (SH DC only, quantised); atomic. Returns the path.

    The Gaussians keep their order (web viewers sort by depth themselves). Raises
    :class:`~humanrecon.errors.OutputExistsError` if ``path`` exists and not ``overwrite``,
    :class:`~humanrecon.errors.InputError` for invalid values.
    """
    path, arrays = _prepare_write(path, g, overwrite)
    table = np.empty(g.num_gaussians, dtype=_SPLAT_DTYPE)
    table["position"] = arrays["means"]
    table["scale"] = arrays["scales"]
    rgb = 0.5 + SH_C0 * arrays["sh"][:, 0].astype(np.float64)
    rgba = np.concatenate([rgb, arrays["opacities"][:, None].astype(np.float64)], axis=1)
    table["rgba"] = np.clip(np.round(rgba * 255.0), 0, 255).astype(np.uint8)
    raw = g._splat_rotation
    if raw is not None and raw.shape == (g.num_gaussians, 4) and np.array_equal(_decode_rotation(raw), arrays["quats"]):
        table["rotation"] = raw  # unchanged since read: the file's bytes (its quaternions are not exactly unit)
    else:
        q = arrays["quats"].astype(np.float64)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
        table["rotation"] = np.clip(np.round(q * 128.0 + 128.0), 0, 255).astype(np.uint8)
    with atomic_write(path) as handle:
        handle.write(table.tobytes())
    return path


# --------------------------------------------------------------------------- by suffix
def load_gaussians(path: str | os.PathLike) -> Gaussians:
    """:func:`read_ply` or :func:`read_splat` by the suffix of ``path`` (case-insensitive)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SPLAT_SUFFIXES:
        raise InputError(f"{path}: unknown Gaussian-splat file type '{path.suffix}' (use .ply or .splat)")
    return read_ply(path) if suffix == ".ply" else read_splat(path)


def save_gaussians(path: str | os.PathLike, g: Gaussians, overwrite: bool = False) -> Path:
    """:func:`write_ply` or :func:`write_splat` by the suffix of ``path``; returns the path."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SPLAT_SUFFIXES:
        raise InputError(f"{path}: unknown Gaussian-splat file type '{path.suffix}' (use .ply or .splat)")
    return write_ply(path, g, overwrite) if suffix == ".ply" else write_splat(path, g, overwrite)


# --------------------------------------------------------------------------- helpers
def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise MissingFileError(f"{path}: Gaussian-splat file not found")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SplatFileError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def _prepare_write(path, g: Gaussians, overwrite: bool) -> tuple[Path, dict[str, np.ndarray]]:
    if not isinstance(g, Gaussians):
        raise InputError(f"expected humanrecon Gaussians to write to {path}, got {type(g).__name__}")
    (path,) = check_outputs([path], overwrite)
    if g.num_gaussians == 0:
        raise InputError(f"{path}: no Gaussians to write")
    arrays = _numpy(g)
    _check_values(arrays, f"cannot write {path}")
    return path, arrays
