"""Writing files safely: overwrite checks before any work, and atomic writes (a temporary
file in the same folder, renamed over the target only when complete), so a crash or a
full disk never leaves a half-written output and never destroys the previous one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from humanrecon.errors import InputError, OutputExistsError


def check_outputs(paths: Iterable[str | os.PathLike], overwrite: bool = False, *,
                  flag: str = "--overwrite") -> list[Path]:
    """Check, before any work, that every path in ``paths`` can be written.

    Raises :class:`OutputExistsError` naming the first existing file unless ``overwrite``
    (``flag`` is the option to mention), and :class:`InputError` when a path is an
    existing folder or lies under an existing file. Returns the paths as ``Path``.
    """
    checked = [Path(p) for p in paths]
    for path in checked:
        if path.is_dir():
            raise InputError(f"{path}: is a folder, expected a file path")
        if path.exists() and not overwrite:
            raise OutputExistsError(f"{path} exists; pass {flag} to replace it")
        parent = path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise InputError(f"{path}: cannot be created, '{parent}' is a file, not a folder")
    return checked


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator:
    """Open a temporary file beside ``path`` for writing; on success it replaces ``path``
    in one rename, on any error it is removed and ``path`` is untouched. Parent folders
    are created. ``OSError`` (permissions, full disk) becomes :class:`InputError` naming
    ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise InputError(f"cannot write '{path}': {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        _remove_quietly(tmp)
        raise InputError(f"cannot write '{path}': {exc.strerror or exc}") from exc
    except BaseException:
        _remove_quietly(tmp)
        raise


def scratch_folder(parent: str | os.PathLike, prefix: str) -> Path:
    """A new empty hidden folder ``parent/<prefix>XXXX`` (``parent`` created first) for work
    whose results are moved into place at the end; the caller removes it. Raises
    :class:`InputError` naming ``parent`` when it cannot be written."""
    parent = Path(parent)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    except OSError as exc:
        raise InputError(f"cannot write '{parent}': {exc.strerror or exc}") from exc


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_write(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, data, indent: int | None = 2) -> Path:
    """Write ``data`` as JSON (with a final newline) to ``path`` atomically."""
    return write_text(path, json.dumps(data, indent=indent) + "\n")


def check_suffix(path: str | os.PathLike, allowed: Sequence[str], what: str) -> Path:
    """``path`` as a ``Path`` if its suffix (case-insensitive) is one of ``allowed``, else
    :class:`InputError` naming ``what`` (e.g. ``"--out"``) and the allowed suffixes."""
    path = Path(path)
    if path.suffix.lower() not in allowed:
        raise InputError(f"{what} must end in {', '.join(allowed)}, got '{path.name}'")
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
