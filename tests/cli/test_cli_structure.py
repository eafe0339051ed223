"""The command line as a package: one error line per failure (traceback with --debug),
flag defaults that are the library's, and no library module importing the CLI."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from humanrecon.cli import build_parser, main
from humanrecon.errors import HumanreconError, InputError, MissingFileError

PACKAGE = Path(__file__).resolve().parents[2] / "humanrecon"


def _subparser(parser, *names):
    for name in names:
        action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
        parser = action.choices[name]
    return parser


def _default(parser, dest):
    return next(a.default for a in parser._actions if a.dest == dest)


def test_errors_are_one_line_and_debug_shows_the_traceback(tmp_path, capsys):
    missing = tmp_path / "nope.pt"
    assert main(["implicit", "mesh", str(missing), "--out", str(tmp_path / "m.ply")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"humanrecon implicit: error: {missing}: implicit-shape checkpoint not found"
    with pytest.raises(MissingFileError):
        main(["--debug", "implicit", "extract", str(missing), "--out", str(tmp_path / "m.ply")])


def test_error_family():
    assert issubclass(InputError, HumanreconError) and issubclass(InputError, ValueError)
    assert issubclass(MissingFileError, FileNotFoundError)


def test_flag_defaults_are_the_library_defaults():
    from humanrecon.body.model import BodyModel
    from humanrecon.fitting.smplify import SMPLify
    from humanrecon.geometry.meshing import extract_mesh
    from humanrecon.implicit.config import NetworkConfig, TrainConfig
    from humanrecon.nerf.config import NerfConfig

    parser = build_parser()
    train = _subparser(parser, "implicit", "train")
    for dest, value in [("steps", TrainConfig.steps), ("batch_points", TrainConfig.batch_points),
                        ("lr", TrainConfig.lr), ("hidden", NetworkConfig.hidden), ("layers", NetworkConfig.layers),
                        ("blocks", NetworkConfig.blocks), ("frequencies", NetworkConfig.frequencies)]:
        assert _default(train, dest) == value, dest
    extract = _subparser(parser, "implicit", "mesh")
    signature = inspect.signature(extract_mesh).parameters
    assert _default(extract, "resolution") == signature["resolution"].default
    assert _default(extract, "initial_resolution") == signature["initial_resolution"].default
    nerf = _subparser(parser, "nerf", "train")
    for dest in ("steps", "max_seconds", "samples_per_batch", "lr", "seed"):
        assert _default(nerf, dest) == getattr(NerfConfig, dest), dest
    dvr = _subparser(parser, "dvr", "train")
    from humanrecon.dvr.config import DVRConfig
    for dest in ("steps", "max_seconds", "rays", "samples", "lr", "hull_fraction", "seed"):
        assert _default(dvr, dest) == getattr(DVRConfig, dest), dest
    fit = _subparser(parser, "fit")
    smplify = inspect.signature(SMPLify.__init__).parameters
    assert _default(fit, "optimizer") == smplify["optimizer"].default
    assert _default(fit, "upright_weight") == smplify["upright_weight"].default
    body = _subparser(parser, "body")
    assert _default(body, "num_betas") == inspect.signature(BodyModel.load).parameters["num_betas"].default


def test_no_library_module_imports_the_cli():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "cli" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n == "humanrecon.cli" or n.startswith("humanrecon.cli.") for n in names):
                offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == []
