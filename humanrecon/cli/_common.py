"""What every command shares: flags (``--overwrite``, ``--quiet``, ``--device``,
``--png``), parsing of number lists, device selection, output checks before any work,
and the picture of a mesh. No library module imports this package."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Iterable

from humanrecon.errors import InputError


def add_overwrite(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")


def add_quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto",
                        help="auto (CUDA when this machine has it, else the CPU), cpu or cuda[:N] (default: auto)")


def add_common(parser: argparse.ArgumentParser) -> None:
    """``--device``, ``--overwrite`` and ``--quiet``: the flags of every model command."""
    add_device(parser)
    add_overwrite(parser)
    add_quiet(parser)


def add_png(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--png", default="", help="also write a PNG picture of the mesh here (front and side)")


def parse_floats(text: str, what: str) -> list[float]:
    """``"0.5,-1"`` -> ``[0.5, -1.0]``; an empty item, a non-number, NaN or inf is refused."""
    items = text.replace(" ", "").split(",")
    if text.strip() == "":
        return []
    try:
        values = [float(v) for v in items]
    except ValueError as exc:
        raise InputError(f"{what} must be comma-separated numbers, got '{text}'") from exc
    if any(not math.isfinite(v) for v in values):
        raise InputError(f"{what} contains NaN or infinite values: '{text}'")
    return values


def positive(value, what: str, *, allow_none: bool = False):
    """``value`` if it is a number > 0 (or None when ``allow_none``), else InputError naming ``what``."""
    if value is None and allow_none:
        return value
    if value is None or not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise InputError(f"{what} must be > 0, got {value}")
    return value


def select_device(name: str) -> str:
    """The device ``--device name`` means here (``auto``: CUDA when present, else CPU), as
    a string; InputError naming the flag when this machine cannot use it."""
    from humanrecon.devices import resolve_device

    try:
        return str(resolve_device(name))
    except InputError as exc:
        raise InputError(f"--{exc}") from exc


def config_from_flags(config_class, **fields):
    """``config_class(**fields)``, its ``InputError`` naming the flag (``--max-seconds``)
    instead of the field (``max_seconds``) when the message starts with one."""
    try:
        return config_class(**fields)
    except InputError as exc:
        message = str(exc)
        for name in sorted(fields, key=len, reverse=True):
            if message.startswith(f"{name} "):
                raise InputError(f"--{name.replace('_', '-')}{message[len(name):]}") from exc
        raise


def check_outputs(paths: Iterable[str | os.PathLike | None], overwrite: bool) -> list[Path]:
    """Every output a command will write (None entries skipped), checked before any work."""
    from humanrecon.io.files import check_outputs as check

    return check([p for p in paths if p], overwrite)


def mesh_output(path: str, what: str = "--out") -> Path:
    """A mesh output path whose format can be written (checked before the work)."""
    from humanrecon.io.meshes import check_mesh_path

    return check_mesh_path(path, what)


def png_output(path: str) -> Path | None:
    """The ``--png`` path (None when not given), checked to be an image format."""
    if not path:
        return None
    from humanrecon.io.images import check_image_path

    return check_image_path(path, "--png")


def write_mesh_picture(png: Path | None, vertices, faces, vertex_colors=None) -> None:
    """Front and side views of a mesh into ``png`` (when given), with its ``vertex_colors
    (V, 3)`` in [0, 1] when given."""
    if png is None:
        return
    from humanrecon.render import overview_image, save_image

    save_image(png, overview_image(vertices, faces, views=("front", "left"), vertex_colors=vertex_colors))
    print(f"wrote {png}")
