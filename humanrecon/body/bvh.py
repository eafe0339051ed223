"""BVH motion-capture files: read a skeleton and its motion, pose it, write it back.

:func:`read_bvh` reads a Biovision Hierarchy file into a :class:`BVH`: the joints in file
order (``End Site`` s are not joints: their offsets go to :attr:`BVH.end_sites`), each
joint's parent, ``OFFSET`` and ``CHANNELS``, the frame time and the raw channel values
``motion (F, C)``. :func:`write_bvh` writes one (atomically, refusing to replace a file
unless asked). Nothing is converted on reading: values stay in the file's units (often
centimetres or inches; scale from the skeleton, do not assume metres) and the file's axes
(Y up for most files, Z up for some rigs: look at the skeleton). No frame is dropped (a
T-pose some exporters put in frame 0 stays there).

Conventions (the standard BVH / Blender reading):

* **Rotations.** Rotation channels are Euler angles in degrees, composed as *intrinsic*
  rotations in the order the channels are listed: for ``Zrotation Xrotation Yrotation``
  with values ``(a, b, c)``, ``R_local = Rz(a) @ Rx(b) @ Ry(c)`` (scipy's
  ``Rotation.from_euler("ZXY", [a, b, c], degrees=True)``). Any order and any subset of the
  X/Y/Z rotation channels works; a joint without rotation channels has ``R_local = I``.
  ``Rx, Ry, Rz`` are right-handed rotations of column vectors (``Rz(90) @ x = y``).
* **Translations.** A joint's local translation is its ``OFFSET`` plus its position
  channels (``Xposition``/``Yposition``/``Zposition`` in whatever order listed; zero for a
  missing axis). So a root with ``OFFSET 0 0 0`` and absolute positions, and a root with a
  rest ``OFFSET`` plus small position channels, both come out right.
* **Forward kinematics** (:meth:`BVH.joint_positions`), in the file's world frame:
  ``world_R[0] = R_local[0]``, ``world_p[0] = t_local[0]``; for a joint ``j`` with parent
  ``p``: ``world_R[j] = world_R[p] @ R_local[j]``,
  ``world_p[j] = world_p[p] + world_R[p] @ t_local[j]``. An end site of joint ``j`` is at
  ``world_p[j] + world_R[j] @ end_offset``.

The reader is strict: every problem is one :class:`~humanrecon.errors.PoseFileError`
whose message starts with the file path and, where it applies, gives the line number
(``"clip.bvh: line 12: OFFSET needs 3 numbers, got 2"``): a missing file, a file that is
not a BVH, unbalanced braces or an unexpected token, an unknown channel, a ``CHANNELS``
count that disagrees with the names listed, duplicate joint names, a bad ``Frames:`` or
``Frame Time:``, a frame row with the wrong number of values, a truncated ``MOTION``
block, a value that is not a number or is NaN/infinite, and a file (or a ``Frames:``
claim) larger than ``max_bytes``. Keywords are case-insensitive; whitespace, tabs and
CRLF line ends are fine. ``OFFSET`` numbers and ``CHANNELS`` names sit on their keyword's
line, and each frame is one line of the ``MOTION`` block (blank lines are skipped).

Example::

    from humanrecon.body.bvh import read_bvh, write_bvh
    clip = read_bvh("02_01.bvh")
    clip.names[:3], clip.fps                     # ('hip', 'abdomen', 'chest'), 120.0
    xyz = clip.joint_positions()                 # (F, J, 3), file units, file axes
    head = xyz[:, clip.index("head")]            # (F, 3)
    write_bvh("copy.bvh", clip, overwrite=True)
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from humanrecon._validation import reader
from humanrecon.errors import InputError, InputIndexError, PoseFileError

#: the channel names a BVH file may use (matched case-insensitively, stored like this)
CHANNEL_NAMES = ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")
_CANONICAL = {name.lower(): name for name in CHANNEL_NAMES}
_AXIS = {"X": 0, "Y": 1, "Z": 2}
#: the deepest joint nesting read (a deeper file is refused, not a RecursionError)
MAX_DEPTH = 256
#: frames posed at once by the forward kinematics (bounds the (chunk, J, 3, 3) buffers)
_FK_CHUNK = 8192

__all__ = ["BVH", "CHANNEL_NAMES", "read_bvh", "write_bvh"]


@dataclass
class BVH:
    """A BVH skeleton and its motion, as in the file (file units, file axes, degrees).

    Attributes:
        path: the file it came from (``Path()`` when built in memory).
        names: the ``J`` joint names in file order (the root first); end sites are not
            joints.
        parents: ``(J,)`` int64 parent index of each joint, ``-1`` for the root (index 0);
            a parent always comes before its children.
        offsets: ``(J, 3)`` float64 ``OFFSET`` of each joint from its parent (the root's
            from the world origin), file units, in the parent's frame.
        end_sites: joint index -> ``(3,)`` float64 ``OFFSET`` of that joint's End Site, in
            the joint's frame.
        channels: per joint, its channel names in file order (e.g. ``("Xposition",
            "Yposition", "Zposition", "Zrotation", "Yrotation", "Xrotation")``); may be
            ``()``.
        frame_time: seconds per frame (> 0).
        motion: ``(F, C)`` float64 raw channel values, ``C = sum(len(c) for c in
            channels)``, the joints' channels one after the other in file order;
            positions in file units, rotations in degrees.
    """

    path: Path
    names: tuple[str, ...]
    parents: np.ndarray
    offsets: np.ndarray
    end_sites: dict[int, np.ndarray]
    channels: tuple[tuple[str, ...], ...]
    frame_time: float
    motion: np.ndarray

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.names = tuple(str(n) for n in self.names)
        count = len(self.names)
        where = f"BVH {self.path}" if str(self.path) not in ("", ".") else "BVH"
        if count == 0:
            raise InputError(f"{where}: needs at least one joint")
        if len(set(self.names)) != count:
            dup = next(n for i, n in enumerate(self.names) if n in self.names[:i])
            raise InputError(f"{where}: joint name '{dup}' appears more than once")
        self.parents = np.asarray(self.parents, dtype=np.int64)
        if self.parents.shape != (count,):
            raise InputError(f"{where}: parents must be ({count},) like names, got shape {self.parents.shape}")
        if self.parents[0] != -1 or any(not 0 <= self.parents[j] < j for j in range(1, count)):
            raise InputError(f"{where}: parents must be -1 for joint 0 and an earlier joint's index for the "
                             f"others, got {self.parents.tolist()}")
        self.offsets = np.asarray(self.offsets, dtype=np.float64)
        if self.offsets.shape != (count, 3) or not np.isfinite(self.offsets).all():
            raise InputError(f"{where}: offsets must be finite ({count}, 3), got shape {self.offsets.shape}")
        ends = {}
        for joint, offset in dict(self.end_sites).items():
            offset = np.asarray(offset, dtype=np.float64)
            if not (isinstance(joint, (int, np.integer)) and 0 <= joint < count) or offset.shape != (3,) \
                    or not np.isfinite(offset).all():
                raise InputError(f"{where}: end_sites must map a joint index in [0, {count}) to a finite (3,) "
                                 f"offset, got {joint!r}: shape {offset.shape}")
            ends[int(joint)] = offset
        self.end_sites = ends
        channels = tuple(tuple(c) for c in self.channels) if len(self.channels) else ((),) * count
        if len(channels) != count:
            raise InputError(f"{where}: channels must list {count} joints' channels, got {len(channels)}")
        for name, joint_channels in zip(self.names, channels):
            if len(set(joint_channels)) != len(joint_channels) or any(c not in CHANNEL_NAMES for c in joint_channels):
                raise InputError(f"{where}: joint '{name}' has channels {joint_channels}; each must be one of "
                                 f"{', '.join(CHANNEL_NAMES)}, none twice")
        self.channels = channels
        self.frame_time = float(self.frame_time)
        if not (np.isfinite(self.frame_time) and self.frame_time > 0):
            raise InputError(f"{where}: frame_time must be a positive number of seconds, got {self.frame_time}")
        self.motion = np.asarray(self.motion, dtype=np.float64)
        width = sum(len(c) for c in channels)
        if self.motion.ndim != 2 or self.motion.shape[1] != width or self.motion.shape[0] < 1:
            raise InputError(f"{where}: motion must be (F, {width}) with F > 0 (one column per channel), "
                             f"got shape {self.motion.shape}")
        if not np.isfinite(self.motion).all():
            raise InputError(f"{where}: motion contains NaN or infinite values")

    # -- sizes ---------------------------------------------------------------------------
    @property
    def num_frames(self) -> int:
        """F, the number of frames."""
        return int(self.motion.shape[0])

    @property
    def num_joints(self) -> int:
        """J, the number of joints (end sites not counted)."""
        return len(self.names)

    @property
    def fps(self) -> float:
        """Frames per second, ``1 / frame_time``."""
        return 1.0 / self.frame_time

    def index(self, name: str) -> int:
        """Index of the joint called ``name``; :class:`PoseFileError` naming the file and
        the joint when there is none."""
        try:
            return self.names.index(name)
        except ValueError:
            shown = ", ".join(self.names[:8]) + (", ..." if len(self.names) > 8 else "")
            where = self.path if str(self.path) not in ("", ".") else "BVH (in memory)"
            raise PoseFileError(f"{where}: no joint named '{name}' (joints: {shown})") from None

    # -- posing --------------------------------------------------------------------------
    def local_rotations(self, frames: Any = slice(None)) -> np.ndarray:
        """``(F', J, 3, 3)`` float64 rotation of each joint in its parent's frame, for the
        frames selected by ``frames`` (a slice, an index, an index array or a boolean
        mask over the F frames; an integer keeps the frame axis, F' = 1)."""
        return self._rotations(self.motion[self._frames(frames)])

    def local_translations(self, frames: Any = slice(None)) -> np.ndarray:
        """``(F', J, 3)`` float64 translation of each joint in its parent's frame (its
        ``OFFSET`` plus its position channels), file units; ``frames`` as in
        :meth:`local_rotations`."""
        return self._translations(self.motion[self._frames(frames)])

    def joint_positions(self, frames: Any = slice(None)) -> np.ndarray:
        """``(F', J, 3)`` float64 world position of each joint (forward kinematics, see
        the module docstring), file units and axes; ``frames`` as in
        :meth:`local_rotations`."""
        return self._pose(self._frames(frames), ends=False)[0]

    def end_site_positions(self, frames: Any = slice(None)) -> dict[int, np.ndarray]:
        """Joint index -> ``(F', 3)`` float64 world position of that joint's End Site,
        file units; ``frames`` as in :meth:`local_rotations`."""
        return self._pose(self._frames(frames), ends=True)[1]

    def _frames(self, frames: Any) -> np.ndarray:
        """The frame indices ``frames`` selects, as a 1-D int array."""
        try:
            selected = np.arange(self.num_frames)[frames]
        except IndexError as exc:
            raise InputIndexError(f"{self.path}: frames {frames!r} out of range for {self.num_frames} frames "
                                  f"({exc})") from None
        return np.atleast_1d(selected)

    def _rotations(self, values: np.ndarray) -> np.ndarray:
        """``(n, J, 3, 3)`` local rotations from ``values (n, C)``."""
        out = np.broadcast_to(np.eye(3), (len(values), self.num_joints, 3, 3)).copy()
        groups: dict[str, tuple[list[int], list[list[int]]]] = {}
        start = 0
        for j, joint_channels in enumerate(self.channels):
            axes = "".join(c[0] for c in joint_channels if c.endswith("rotation"))
            if axes:
                cols = [start + k for k, c in enumerate(joint_channels) if c.endswith("rotation")]
                joints, columns = groups.setdefault(axes, ([], []))
                joints.append(j)
                columns.append(cols)
            start += len(joint_channels)
        for axes, (joints, columns) in groups.items():
            angles = np.deg2rad(values[:, np.asarray(columns)])  # (n, Jg, k)
            rot = _axis_rotation(axes[0], angles[..., 0])
            for k in range(1, len(axes)):
                rot = rot @ _axis_rotation(axes[k], angles[..., k])
            out[:, joints] = rot
        return out

    def _translations(self, values: np.ndarray) -> np.ndarray:
        """``(n, J, 3)`` local translations from ``values (n, C)``."""
        out = np.broadcast_to(self.offsets, (len(values), self.num_joints, 3)).copy()
        start = 0
        for j, joint_channels in enumerate(self.channels):
            for k, c in enumerate(joint_channels):
                if c.endswith("position"):
                    out[:, j, _AXIS[c[0]]] += values[:, start + k]
            start += len(joint_channels)
        return out

    def _pose(self, frames: np.ndarray, ends: bool) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        """World joint positions ``(n, J, 3)`` and (if ``ends``) end-site positions of the
        frames ``frames``, posed ``_FK_CHUNK`` frames at a time."""
        positions = np.empty((len(frames), self.num_joints, 3))
        sites = {j: np.empty((len(frames), 3)) for j in self.end_sites} if ends else {}
        for lo in range(0, len(frames), _FK_CHUNK):
            chunk = slice(lo, lo + _FK_CHUNK)
            values = self.motion[frames[chunk]]
            local_r, local_t = self._rotations(values), self._translations(values)
            world_r = np.empty_like(local_r)
            world_p = positions[chunk]
            world_r[:, 0], world_p[:, 0] = local_r[:, 0], local_t[:, 0]
            for j in range(1, self.num_joints):
                p = self.parents[j]
                world_r[:, j] = world_r[:, p] @ local_r[:, j]
                world_p[:, j] = world_p[:, p] + np.einsum("nab,nb->na", world_r[:, p], local_t[:, j])
            for j, offset in self.end_sites.items() if ends else ():
                sites[j][chunk] = world_p[:, j] + world_r[:, j] @ offset
        return positions, sites


def _axis_rotation(axis: str, angle: np.ndarray) -> np.ndarray:
    """``(..., 3, 3)`` right-handed rotation by ``angle`` radians about ``axis`` (X/Y/Z)."""
    c, s = np.cos(angle), np.sin(angle)
    one, zero = np.ones_like(angle), np.zeros_like(angle)
    if axis == "X":
        rows = ((one, zero, zero), (zero, c, -s), (zero, s, c))
    elif axis == "Y":
        rows = ((c, zero, s), (zero, one, zero), (-s, zero, c))
    else:
        rows = ((c, -s, zero), (s, c, zero), (zero, zero, one))
    return np.stack([np.stack(r, -1) for r in rows], -2)


# -- reading ------------------------------------------------------------------------------
def read_bvh(path: str | os.PathLike, *, max_bytes: int = 2**30) -> BVH:
    """Read the BVH file ``path`` (see the module docstring for the conventions).

    Args:
        path: a ``.bvh`` file (any suffix is accepted).
        max_bytes: refuse a file larger than this, and a ``Frames:`` count whose values
            (``Frames x channels`` float64) would take more than this, before the data are
            read. Default 1 GiB.

    Returns:
        The :class:`BVH`, values as in the file (file units, degrees, no frame dropped).

    Raises:
        PoseFileError: the file is missing, unreadable or malformed; the message starts
            with the path and names the line.
    """
    return _read_bvh(Path(path), int(max_bytes))


@reader(PoseFileError, "BVH file")
def _read_bvh(path: Path, max_bytes: int) -> BVH:
    if not path.exists():
        raise PoseFileError(f"{path}: BVH file not found")
    if not path.is_file():
        raise PoseFileError(f"{path}: is not a file (a BVH file was expected)")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise PoseFileError(f"{path}: the file is {size:,} bytes, more than max_bytes={max_bytes:,}")
        raw = path.read_bytes()
    except OSError as exc:
        raise PoseFileError(f"{path}: cannot read the BVH file ({exc.strerror or exc})") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _Parser(path, text, max_bytes).parse()


class _Parser:
    """Recursive-descent parser of one BVH text (line ends already ``\\n``)."""

    def __init__(self, path: Path, text: str, max_bytes: int):
        self.path, self.text, self.max_bytes = path, text, max_bytes
        match = re.search(r"^[ \t]*MOTION\b", text, re.MULTILINE | re.IGNORECASE)
        self.motion_at = match.start() if match else len(text)
        self.tokens: list[tuple[int, str]] = []  # (line number, token) of the header, filled by parse()
        self.motion_line = text.count("\n", 0, self.motion_at) + 1
        self.pos = 0
        self.names: list[str] = []
        self.parents: list[int] = []
        self.offsets: list[tuple[float, float, float]] = []
        self.channels: list[tuple[str, ...]] = []
        self.end_sites: dict[int, np.ndarray] = {}
        self.seen: dict[str, int] = {}

    def fail(self, line: int | None, message: str):
        where = f"{self.path}: line {line}: " if line is not None else f"{self.path}: "
        raise PoseFileError(where + message)

    # -- tokens
    def peek(self) -> tuple[int, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str) -> tuple[int, str]:
        """The next token, which must be ``expected`` (case-insensitive)."""
        token = self.peek()
        if token is None:
            self.fail(self.motion_line, f"'{expected}' expected, found "
                      f"{'MOTION' if self.motion_at < len(self.text) else 'the end of the file'}")
        if token[1].lower() != expected.lower():
            self.fail(token[0], f"'{expected}' expected, found '{token[1]}'")
        self.pos += 1
        return token

    def rest_of_line(self, line: int) -> list[str]:
        """The tokens left on line ``line`` (consumed)."""
        out = []
        while self.pos < len(self.tokens) and self.tokens[self.pos][0] == line:
            out.append(self.tokens[self.pos][1])
            self.pos += 1
        return out

    # -- grammar
    def parse(self) -> BVH:
        stripped = self.text.lstrip()
        if not stripped:
            self.fail(None, "the file is empty (not a BVH file)")
        if stripped.split(None, 1)[0].upper() != "HIERARCHY":  # before tokenizing a file of anything
            line = self.text.count("\n", 0, len(self.text) - len(stripped)) + 1
            self.fail(line, f"not a BVH file: 'HIERARCHY' expected, found '{stripped.split(None, 1)[0][:40]}'")
        self.tokens = [(number, token) for number, line in enumerate(self.text[: self.motion_at].split("\n"), 1)
                       for token in line.split()]
        self.pos = 1
        line, keyword = self.peek() or (self.motion_line, "")
        if keyword.upper() != "ROOT":
            self.take("ROOT")
        self.pos += 1
        self.joint(line, parent=-1, depth=0)
        extra = self.peek()
        if extra is not None:
            what = ("a second ROOT (only one skeleton per file is supported)" if extra[1].upper() == "ROOT"
                    else f"unexpected '{extra[1]}' after the skeleton (unbalanced braces?)")
            self.fail(extra[0], what)
        if self.motion_at >= len(self.text):
            self.fail(self.motion_line - 1, "no MOTION section after the skeleton")
        frames, frame_time, data_line, data = self.motion_header()
        motion = self.motion_data(frames, data_line, data)
        return BVH(path=self.path, names=tuple(self.names), parents=np.asarray(self.parents, np.int64),
                   offsets=np.asarray(self.offsets, np.float64).reshape(-1, 3), end_sites=self.end_sites,
                   channels=tuple(self.channels), frame_time=frame_time, motion=motion)

    def joint(self, line: int, parent: int, depth: int) -> None:
        """A ROOT/JOINT whose keyword (on ``line``) was just taken: name, then ``{ ... }``."""
        if depth > MAX_DEPTH:
            self.fail(line, f"joints nested more than {MAX_DEPTH} deep")
        words = self.rest_of_line(line)
        brace_here = bool(words) and words[-1] == "{"
        if brace_here:
            words = words[:-1]
        name = " ".join(words)
        if not name or "{" in name or "}" in name:
            self.fail(line, f"a joint name expected after the keyword, found '{name}'" if name
                      else "a joint name expected after the keyword")
        if name in self.seen:
            self.fail(line, f"duplicate joint name '{name}' (first at line {self.seen[name]})")
        self.seen[name] = line
        index = len(self.names)
        self.names.append(name)
        self.parents.append(parent)
        self.offsets.append(None)  # type: ignore[arg-type]
        self.channels.append(())
        if brace_here:
            self.tokens.insert(self.pos, (line, "{"))
        open_line = self.take("{")[0]
        channels_line = None
        while True:
            token = self.peek()
            if token is None:
                self.fail(self.motion_line, f"the '{{' of joint '{name}' (line {open_line}) is never closed "
                          "(unbalanced braces)")
            tline, word = token
            upper = word.upper()
            self.pos += 1
            if word == "}":
                break
            if upper == "OFFSET":
                if self.offsets[index] is not None:
                    self.fail(tline, f"a second OFFSET for joint '{name}'")
                self.offsets[index] = self.offset(tline)
            elif upper == "CHANNELS":
                if channels_line is not None:
                    self.fail(tline, f"a second CHANNELS for joint '{name}' (first at line {channels_line})")
                channels_line = tline
                self.channels[index] = self.channel_list(tline)
            elif upper == "JOINT":
                self.joint(tline, parent=index, depth=depth + 1)
            elif upper == "END":
                site = self.peek()
                if site is None or site[1].upper() != "SITE":
                    self.fail(tline, "'End' must be followed by 'Site'")
                self.pos += 1
                if index in self.end_sites:
                    self.fail(tline, f"a second End Site for joint '{name}'")
                self.end_sites[index] = self.end_site(tline)
            elif upper == "ROOT":
                self.fail(tline, f"ROOT inside joint '{name}' (line {open_line}); children are JOINTs")
            else:
                self.fail(tline, f"unexpected '{word}' in joint '{name}' (expected OFFSET, CHANNELS, JOINT, "
                          "End Site or '}')")
        if self.offsets[index] is None:
            self.fail(open_line, f"joint '{name}' has no OFFSET")

    def offset(self, line: int) -> tuple[float, float, float]:
        words = self.rest_of_line(line)
        if len(words) != 3:
            self.fail(line, f"OFFSET needs 3 numbers, got {len(words)}" + (f": {' '.join(words)}" if words else ""))
        try:
            values = tuple(float(w) for w in words)
        except ValueError:
            self.fail(line, f"OFFSET needs 3 numbers, got '{' '.join(words)}'")
        if not all(np.isfinite(values)):
            self.fail(line, f"OFFSET has NaN or infinite values: {' '.join(words)}")
        return values  # type: ignore[return-value]

    def channel_list(self, line: int) -> tuple[str, ...]:
        words = self.rest_of_line(line)
        if not words or not re.fullmatch(r"\d+", words[0]):
            self.fail(line, f"CHANNELS needs a count, got '{words[0] if words else ''}'")
        count, listed = int(words[0]), words[1:]
        if count != len(listed):
            self.fail(line, f"CHANNELS says {count} channels but lists {len(listed)}"
                      + (f" ({' '.join(listed)})" if listed else ""))
        out = []
        for word in listed:
            canonical = _CANONICAL.get(word.lower())
            if canonical is None:
                low = word.lower()
                if low.endswith(("rotation", "position")) and len(low) == 9:
                    self.fail(line, f"unknown axis '{word[0]}' in channel '{word}' (axes are X, Y, Z)")
                self.fail(line, f"unknown channel '{word}' (known: {', '.join(CHANNEL_NAMES)})")
            if canonical in out:
                self.fail(line, f"channel '{word}' listed twice")
            out.append(canonical)
        return tuple(out)

    def end_site(self, line: int) -> np.ndarray:
        open_line = self.take("{")[0]
        offset = None
        while True:
            token = self.peek()
            if token is None:
                self.fail(self.motion_line, f"the '{{' of the End Site at line {open_line} is never closed "
                          "(unbalanced braces)")
            self.pos += 1
            if token[1] == "}":
                break
            if token[1].upper() != "OFFSET" or offset is not None:
                self.fail(token[0], f"unexpected '{token[1]}' in an End Site (expected one OFFSET and '}}')")
            offset = self.offset(token[0])
        if offset is None:
            self.fail(line, "End Site has no OFFSET")
        return np.asarray(offset, dtype=np.float64)

    # -- motion
    def motion_header(self) -> tuple[int, float, int, str]:
        """``(frames, frame_time, first data line number, data text)``: the two lines
        after MOTION (blank lines between are skipped) are ``Frames:`` and ``Frame Time:``."""
        text, at, number = self.text, self.motion_at, self.motion_line
        end = text.find("\n", at)
        end = len(text) if end < 0 else end
        words = text[at:end].split()
        if words[1:]:
            self.fail(number, f"unexpected '{words[1][:40]}' after MOTION")
        header = []
        while len(header) < 2 and end < len(text):
            at, number = end + 1, number + 1
            end = text.find("\n", at)
            end = len(text) if end < 0 else end
            if text[at:end].strip():
                header.append((number, text[at:end]))
        if len(header) < 2:
            self.fail(number, "'Frames:' and 'Frame Time:' lines expected after MOTION, the file ends first")
        (frames_line, frames_text), (time_line, time_text) = header
        match = re.fullmatch(r"\s*frames\s*:\s*(\S*)\s*", frames_text, re.IGNORECASE)
        if not match:
            self.fail(frames_line, f"'Frames: <count>' expected, found '{frames_text.strip()[:40]}'")
        if not re.fullmatch(r"[+-]?\d+", match[1]):
            self.fail(frames_line, f"Frames: must be a whole number, got '{match[1]}'")
        frames = int(match[1])
        if frames <= 0:
            self.fail(frames_line, f"Frames: must be at least 1, got {frames}")
        match = re.fullmatch(r"\s*frame\s*time\s*:\s*(\S*)\s*", time_text, re.IGNORECASE)
        if not match:
            self.fail(time_line, f"'Frame Time: <seconds>' expected, found '{time_text.strip()[:40]}'")
        try:
            frame_time = float(match[1])
        except ValueError:
            self.fail(time_line, f"Frame Time: must be a number of seconds, got '{match[1]}'")
        if not (np.isfinite(frame_time) and frame_time > 0):
            self.fail(time_line, f"Frame Time: must be a positive number of seconds, got {match[1]}")
        width = sum(len(c) for c in self.channels)
        need = frames * width * 8
        if need > self.max_bytes:
            self.fail(frames_line, f"Frames: {frames:,} x {width} channels would be {need / 2**30:.3g} GiB of "
                      f"values, more than max_bytes={self.max_bytes:,}")
        return frames, frame_time, time_line + 1, text[end + 1:]

    def motion_data(self, frames: int, first_line: int, data: str) -> np.ndarray:
        width = sum(len(c) for c in self.channels)
        rows = [(first_line + k, words) for k, words in enumerate(line.split() for line in data.split("\n"))
                if words]
        last_line = rows[-1][0] if rows else first_line - 1
        if width == 0:
            if rows:
                self.fail(rows[0][0], "values in the MOTION block, but the hierarchy has no channels")
            return np.zeros((frames, 0))
        for k, (number, words) in enumerate(rows[:frames]):
            if len(words) == width:
                continue
            if k == len(rows) - 1 and len(words) < width:
                self.fail(number, f"the MOTION data end in the middle of frame {k + 1} ({len(words)} of {width} "
                          f"values): {k} complete frames of the {frames} that Frames: says (truncated file?)")
            self.fail(number, f"frame {k + 1} has {len(words)} values, the hierarchy has {width} channels")
        if len(rows) < frames:
            self.fail(last_line, f"the MOTION data end here after {len(rows)} complete frames of the {frames} that "
                      "Frames: says (truncated file?)")
        if len(rows) > frames:
            self.fail(rows[frames][0], f"more MOTION rows than the {frames} frames that Frames: says")
        try:
            values = np.array(list(itertools.chain.from_iterable(words for _, words in rows)), dtype=np.float64)
        except ValueError:
            for number, words in rows:
                for column, word in enumerate(words):
                    try:
                        float(word)
                    except ValueError:
                        self.fail(number, f"'{word[:40]}' is not a number ({self._channel(column)})")
            raise
        values = values.reshape(frames, width)
        finite = np.isfinite(values)
        if not finite.all():
            k, column = np.argwhere(~finite)[0]
            self.fail(rows[k][0], f"frame {k + 1} has a NaN or infinite value ({self._channel(column)}: "
                      f"{rows[k][1][column]})")
        return values

    def _channel(self, column: int) -> str:
        """``"joint 'hip' Xrotation"`` for a column of the motion block."""
        for name, joint_channels in zip(self.names, self.channels):
            if column < len(joint_channels):
                return f"joint '{name}' {joint_channels[column]}"
            column -= len(joint_channels)
        return f"column {column}"


# -- writing ------------------------------------------------------------------------------
def write_bvh(path: str | os.PathLike, bvh: BVH, *, overwrite: bool = False, precision: int = 6) -> Path:
    """Write ``bvh`` to ``path`` as a BVH file (atomically: a crash never leaves half a
    file); returns the path.

    ``OFFSET`` s and the frame time are written exactly (shortest round-trip text); the
    motion values with ``precision`` digits after the decimal point (positions in file
    units, rotations in degrees), so :func:`read_bvh` gives them back to within
    ``0.5 * 10**-precision``. Channel names, parents and End Sites are kept, and the joint
    order when it is depth-first (each joint's subtree right after it: the order of every
    BVH file). Joints in another order (e.g. SMPL's, where the three children of the
    pelvis come first) are written depth-first, so the file, and what :func:`read_bvh`
    gives back, has them in that order: look joints up by name (:meth:`BVH.index`).

    Raises:
        OutputExistsError: ``path`` exists and ``overwrite`` is False (checked first).
        InputError: ``bvh`` is not a :class:`BVH`, a joint name cannot be written (empty,
            surrounding whitespace, a line break or a brace), ``precision`` is not an
            integer in [0, 17], or the folder cannot be written.
    """
    from humanrecon.io.files import check_outputs, write_text

    (path,) = check_outputs([path], overwrite)
    if not isinstance(bvh, BVH):
        raise InputError(f"write_bvh: expected a BVH, got {type(bvh).__name__}")
    bvh = replace(bvh)  # checks the fields again (they may have been changed since)
    if not isinstance(precision, (int, np.integer)) or isinstance(precision, bool) or not 0 <= precision <= 17:
        raise InputError(f"write_bvh: precision must be an integer in [0, 17], got {precision!r}")
    for name in bvh.names:
        if not name or name != name.strip() or any(c in name for c in "{}\n\r"):
            raise InputError(f"write_bvh: joint name {name!r} cannot be written to a BVH file")
    bvh = _depth_first(bvh)
    children: list[list[int]] = [[] for _ in bvh.names]
    for j in range(1, bvh.num_joints):
        children[int(bvh.parents[j])].append(j)
    out = ["HIERARCHY"]

    def number(v: float) -> str:
        text = repr(float(v))
        return "0" if text in ("0.0", "-0.0") else text.removesuffix(".0")

    def emit(j: int, depth: int) -> None:
        pad = "\t" * depth
        out.append(f"{pad}{'ROOT' if j == 0 else 'JOINT'} {bvh.names[j]}")
        out.append(pad + "{")
        out.append(f"{pad}\tOFFSET {' '.join(number(v) for v in bvh.offsets[j])}")
        out.append(f"{pad}\tCHANNELS {len(bvh.channels[j])}{''.join(' ' + c for c in bvh.channels[j])}")
        for child in children[j]:
            emit(child, depth + 1)
        if j in bvh.end_sites:
            out.extend([f"{pad}\tEnd Site", f"{pad}\t{{",
                        f"{pad}\t\tOFFSET {' '.join(number(v) for v in bvh.end_sites[j])}", f"{pad}\t}}"])
        out.append(pad + "}")

    emit(0, 0)
    out += ["MOTION", f"Frames: {bvh.num_frames}", f"Frame Time: {number(bvh.frame_time)}"]
    if bvh.motion.shape[1]:
        row = " ".join([f"%.{int(precision)}f"] * bvh.motion.shape[1])
        rounded = np.round(bvh.motion, int(precision)) + 0.0  # + 0.0 turns -0.0 into 0.0
        out += [row % tuple(r) for r in rounded.tolist()]
    return write_text(path, "\n".join(out) + "\n")


def _depth_first(bvh: BVH) -> BVH:
    """``bvh`` with its joints in depth-first order (each joint's subtree right after it,
    siblings in their order), the only order a BVH file can hold; ``bvh`` itself when it
    is in that order already (every file :func:`read_bvh` reads is)."""
    children: list[list[int]] = [[] for _ in bvh.names]
    for j in range(1, bvh.num_joints):
        children[int(bvh.parents[j])].append(j)
    order, stack = [], [0]
    while stack:
        j = stack.pop()
        order.append(j)
        stack.extend(reversed(children[j]))
    if order == list(range(bvh.num_joints)):
        return bvh
    new = {old: k for k, old in enumerate(order)}
    starts = np.cumsum([0] + [len(c) for c in bvh.channels])
    columns = [c for j in order for c in range(starts[j], starts[j + 1])]
    return BVH(path=bvh.path, names=tuple(bvh.names[j] for j in order),
               parents=np.array([-1] + [new[int(bvh.parents[j])] for j in order[1:]], np.int64),
               offsets=bvh.offsets[order], end_sites={new[j]: off for j, off in bvh.end_sites.items()},
               channels=tuple(bvh.channels[j] for j in order), frame_time=bvh.frame_time,
               motion=bvh.motion[:, columns])
