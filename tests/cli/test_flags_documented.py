"""Every flag of every command has a help text, and the scene methods share one verb set."""

from __future__ import annotations

import argparse

from humanrecon.cli import build_parser


def _subparsers(parser: argparse.ArgumentParser, path=()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subparsers(sub, path + (name,))


def test_every_flag_has_help():
    missing = [f"{' '.join(path)} {action.option_strings or action.dest}"
               for path, parser in _subparsers(build_parser()) for action in parser._actions
               if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))
               and not (action.help and action.help.strip())]
    assert not missing, missing


def test_scene_methods_share_verbs_and_flags():
    commands = dict(_subparsers(build_parser()))
    for method in ("nerf", "splat", "dvr"):
        for verb in ("train", "render", "eval"):
            assert (method, verb) in commands, (method, verb)
    for method in ("nerf", "dvr", "implicit"):
        assert (method, "mesh") in commands
    assert ("implicit", "train") in commands

    def flags(parser):
        return {s for a in parser._actions for s in a.option_strings}
    render = [flags(commands[(m, "render")]) for m in ("nerf", "splat", "dvr")]
    assert render[0] == render[1] == render[2] and {"--orbit", "--out", "--device"} <= render[0]
    train = [flags(commands[(m, "train")]) for m in ("nerf", "splat", "dvr")]
    common = {"--out", "--steps", "--max-seconds", "--seed", "--resume", "--overwrite", "--device", "--quiet",
              "--eval-split", "--no-eval"}
    assert all(common <= t for t in train), [common - t for t in train]
    implicit = flags(commands[("implicit", "train")])
    assert common - {"--eval-split", "--no-eval"} <= implicit, common - implicit
    meshes = [flags(commands[(m, "mesh")]) for m in ("nerf", "dvr", "implicit")]
    assert meshes[0] - {"--level"} == meshes[1] == meshes[2] - {"--dense"}
