"""Tagged checkpoints: one format for every trained model of humanrecon.

A checkpoint is a ``torch.save`` dict ``{"format": "humanrecon-<kind>", "settings":
{...}, "state_dict": {...}, **extra}``: ``settings`` are the plain keyword arguments
that rebuild the module, ``extra`` anything else a trainer keeps (optimiser state, step,
elapsed time). It is written atomically and read with ``torch.load(weights_only=True)``,
so a checkpoint can hold tensors, numbers, strings, lists and dicts but never runs code.
Reading a file of another kind (a NeRF run given to the implicit loader, a random file)
raises :class:`humanrecon.errors.CheckpointError` naming the file and what it is.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from humanrecon.errors import CheckpointError, MissingFileError
from humanrecon.io.files import write_bytes

if TYPE_CHECKING:  # torch is imported inside the functions, when needed
    import torch

_PREFIX = "humanrecon-"


def save_checkpoint(path: str | os.PathLike, kind: str, settings: dict, state_dict: dict, **extra) -> Path:
    """Write a ``kind`` checkpoint (e.g. ``"nerf"``) atomically; returns the path.

    Args:
        settings: plain values (numbers, strings, lists, dicts) that rebuild the module.
        state_dict: the module's ``state_dict()``.
        extra: further entries (optimiser state, step, ...), read back by
            :func:`load_checkpoint`.
    """
    import torch

    buffer = io.BytesIO()
    torch.save({"format": _PREFIX + kind, "settings": settings, "state_dict": state_dict, **extra}, buffer)
    return write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | os.PathLike, kind: str, map_location="cpu") -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` for ``kind``; returns its dict.

    Raises:
        MissingFileError: no such file.
        CheckpointError: not a torch file, or a checkpoint of another kind.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: {kind} checkpoint not found")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch.load of arbitrary bytes raises many types
        raise CheckpointError(f"{path}: not a humanrecon {kind} checkpoint (torch.load failed with "
                              f"{type(exc).__name__}: not a torch file, or one holding more than tensors "
                              "and plain data)") from exc
    found = data.get("format") if isinstance(data, dict) else None
    if found != _PREFIX + kind:
        what = f"a {found} checkpoint" if isinstance(found, str) else "not a humanrecon checkpoint"
        raise CheckpointError(f"{path}: {what}, expected a {_PREFIX + kind} checkpoint")
    if not isinstance(data.get("settings"), dict) or not isinstance(data.get("state_dict"), dict):
        raise CheckpointError(f"{path}: damaged {kind} checkpoint (no settings or weights)")
    return data


def _rebuild(path, kind: str, data: dict, make: Callable[[dict], "torch.nn.Module"]):
    """``make(data)`` with any failure of a damaged file as one :class:`CheckpointError`."""
    try:
        return make(data)
    except (RuntimeError, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{path}: damaged {kind} checkpoint ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''})") from exc


def restore_module(path: str | os.PathLike, kind: str, build: Callable[[dict], "torch.nn.Module"],
                   map_location="cpu"):
    """Load a ``kind`` checkpoint and rebuild its module: ``build(settings)`` makes it,
    then its weights are loaded. Returns ``(module, checkpoint dict)``; a checkpoint whose
    settings or weights do not fit raises :class:`CheckpointError` naming the file."""
    data = load_checkpoint(path, kind, map_location)

    def make(data: dict):
        module = build(data["settings"])
        module.load_state_dict(data["state_dict"])
        return module

    return _rebuild(path, kind, data, make), data

class Checkpointed:
    """Save and load of a trained model, one convention for every kind (a mixin for
    ``torch.nn.Module`` subclasses):

    * ``save(path, **extra) -> path``: settings + weights (+ ``extra`` entries such as a
      trainer's optimiser state), written atomically;
    * ``Model.load(path, map_location="cpu") -> model``: on ``map_location``, in eval mode,
      ready to render or mesh;
    * ``Model.restore(path, map_location="cpu") -> (model, checkpoint dict)``: the same
      model (in train mode) and every entry of the file, for resuming training.

    A subclass sets ``checkpoint_kind`` and has ``self.settings`` (the plain keyword
    arguments that rebuild it) or overrides :meth:`checkpoint_settings` and
    :meth:`from_checkpoint`. Foreign or damaged files raise :class:`CheckpointError`,
    missing ones :class:`MissingFileError`, each naming the file.
    """

    checkpoint_kind: str = ""

    def checkpoint_settings(self) -> dict:
        """The plain keyword arguments that rebuild this model."""
        return dict(self.settings)

    @classmethod
    def from_checkpoint(cls, data: dict):
        """The model of a checkpoint dict (settings, then weights)."""
        model = cls(**data["settings"])
        model.load_state_dict(data["state_dict"])
        return model

    def save(self, path: str | os.PathLike, **extra) -> Path:
        """Write settings + weights + ``extra`` atomically (an interrupted save never
        leaves a broken file); returns the path."""
        return save_checkpoint(path, self.checkpoint_kind, self.checkpoint_settings(), self.state_dict(), **extra)

    @classmethod
    def restore(cls, path: str | os.PathLike, map_location="cpu"):
        """``(model on map_location, checkpoint dict)`` of a file written by :meth:`save`."""
        data = load_checkpoint(path, cls.checkpoint_kind, map_location)
        return _rebuild(path, cls.checkpoint_kind, data, cls.from_checkpoint).to(map_location), data

    @classmethod
    def load(cls, path: str | os.PathLike, map_location="cpu"):
        """The model of a file written by :meth:`save`, on ``map_location``, in eval mode."""
        return cls.restore(path, map_location)[0].eval()
