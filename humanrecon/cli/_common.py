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
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default: cpu)")


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
    """``name`` if torch can use it here (``cpu``, ``cuda``, ``cuda:N``), else InputError."""
    import torch

    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise InputError(f"--device {name}: not a device name (use cpu or cuda[:N])") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"--device {name}: CUDA is not available on this machine (use --device cpu)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InputError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif device.type != "cpu":
        raise InputError(f"--device {name}: only cpu and cuda are supported")
    return name


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


def write_mesh_picture(png: Path | None, vertices, faces) -> None:
    """Front and side views of a mesh into ``png`` (when given)."""
    if png is None:
        return
    from humanrecon.render import overview_image, save_image

    save_image(png, overview_image(vertices, faces, views=("front", "left")))
    print(f"wrote {png}")


def check_resume(resume: bool, overwrite: bool, checkpoint: Path) -> None:
    """``--resume`` and ``--overwrite`` exclude each other; resuming needs ``checkpoint``."""
    if resume and overwrite:
        raise InputError("--resume continues the run in --out and --overwrite starts it over: give one")
    if resume and not Path(checkpoint).is_file():
        raise InputError(f"--resume: no run to resume, {checkpoint} does not exist")


def evaluation_summary(history, metrics: dict | None, split: str) -> dict:
    """The ``metrics.json`` of a training run: steps, time, final loss and, when evaluated,
    the held-out PSNR (whole image and body pixels) and SSIM."""
    summary = {"steps": history.steps, "train_seconds": round(history.seconds, 1),
               "steps_per_second": round(history.steps / max(history.seconds, 1e-9), 2),
               "final_loss": history.losses[-1] if history.losses else None}
    if metrics is not None:
        summary.update({"split": split, "psnr": round(metrics["psnr"], 3),
                        "psnr_foreground": None if metrics["psnr_foreground"] is None
                        else round(metrics["psnr_foreground"], 3), "ssim": round(metrics["ssim"], 4)})
    return summary
