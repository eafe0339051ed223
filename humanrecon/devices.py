"""Which torch device to run on: the one home of ``"auto"`` (CUDA when this machine has
it, else the CPU) and of the checks on a device name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from humanrecon.errors import InputError

if TYPE_CHECKING:  # torch is imported inside the functions, so importing this stays cheap
    import torch

#: the default of every ``device`` setting and ``--device`` flag
AUTO = "auto"


def resolve_device(name) -> "torch.device":
    """``"auto"``: ``cuda`` when available, else ``cpu``; ``"cpu"``, ``"cuda"``,
    ``"cuda:N"`` or a ``torch.device`` when this machine has it; anything else is an
    :class:`~humanrecon.errors.InputError` naming the device."""
    import torch

    if str(name) == AUTO:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as exc:
        raise InputError(f"device {name!r}: not a device name (use auto, cpu or cuda[:N])") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device {name!r}: CUDA is not available on this machine (use cpu or auto)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InputError(f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif device.type != "cpu":
        raise InputError(f"device {name!r}: only cpu and cuda are supported")
    return device
