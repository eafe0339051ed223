"""``humanrecon info``: versions, device and the body models humanrecon can find."""

from __future__ import annotations

import argparse
from pathlib import Path


def run(args: argparse.Namespace) -> None:
    import importlib.metadata as md
    import platform

    import torch

    import humanrecon
    from humanrecon.body.io import BUILTIN_MODELS, resolve_model_path

    print(f"humanrecon {humanrecon.__version__}  (python {platform.python_version()}, {platform.machine()})")
    for dist in ("torch", "numpy", "smplx", "trimesh", "open3d-cpu", "open3d", "scikit-image",
                 "opencv-python-headless", "mediapipe"):
        try:
            print(f"  {dist:24s} {md.version(dist)}")
        except md.PackageNotFoundError:
            pass
    cuda = torch.cuda.is_available()
    device = f"cuda ({torch.cuda.get_device_name(0)})" if cuda else "cpu only (no CUDA device)"
    print(f"device: {device}; torch threads: {torch.get_num_threads()}")
    print("body models:")
    for name in BUILTIN_MODELS:
        try:
            path, _ = resolve_model_path(name)
            print(f"  {name:10s} {path} ({path.stat().st_size / 1e6:.1f} MB)")
        except Exception as exc:  # noqa: BLE001 - report, don't fail: info must always answer
            print(f"  {name:10s} unavailable: {exc}")
    for folder in args.model_dirs:
        _list_model_folder(Path(folder))


def _list_model_folder(folder: Path) -> None:
    from humanrecon.body.io import load_model_arrays
    from humanrecon.body.model import detect_model_type
    from humanrecon.errors import ModelFileError

    if not folder.is_dir():
        print(f"  {folder}: not a folder")
        return
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".pkl", ".npz"))
    if not files:
        print(f"  {folder}: no .pkl/.npz model files")
    for path in files:
        try:
            kind = detect_model_type(load_model_arrays(path), str(path)).upper()
        except ModelFileError as exc:
            kind = f"not a body model ({exc})"
        print(f"  {path}: {kind}")


def add_parser(sub) -> None:
    """Register ``info`` on the top-level sub-parser collection."""
    info = sub.add_parser("info", help="versions, device and the body models found")
    info.add_argument("model_dirs", nargs="*", help="folders to scan for SMPL-family model files")
    info.set_defaults(func=run)
