"""A library of named everyday poses for SMPL's 24 joints (tuning and benchmarking).

Each :class:`LibraryPose` names the axis-angle rotations (radians) of the SMPL joints it
moves, each in its parent joint's frame, and the root orientation ``global_orient``; the
joints it does not name keep the rest (T-pose) rotation, zero. Axes are SMPL's: Y up, the
body faces +Z, its left is +X. Every pose lies inside the anatomical joint limits of
:func:`humanrecon.fitting.priors.joint_limits` (tested), so it is a pose a fitter may reach.

The poses are written with a small forward-kinematics builder (limb directions, hand
targets, spine bends, in degrees) and stored as the resulting axis-angles; the builder
places hands on a rest skeleton close to SMPL's (the open body's, to the millimetre), so
contacts such as "phone at the ear" are approximate on other bodies and shapes.

Categories (:data:`CATEGORIES`): standing, walking, running, sitting, ground, kneeling,
squatting, bending, reaching, gesturing, throwing, kicking, jumping, lying, stretching,
dancing, sports.

Fixed split
-----------
:data:`TUNING_POSES` and :data:`REPORTING_POSES` halve the library: within each category,
taken in library order, the 1st, 3rd, 5th, ... pose is for tuning and the 2nd, 4th, ...
for reporting. Both halves cover every category (each has at least two poses), their
sizes differ by at most one per category (every category now has an even count: 72 poses,
36 + 36), and the split of the existing poses never changes when poses are appended at
the end of a category's run; tune (fit hyper-parameters, train) on the tuning
half only and quote benchmark numbers on the reporting half.

Example::

    from humanrecon.body.pose_library import library_poses, library_pose
    names, body_pose, global_orient = library_poses("reporting")   # (N,), (N, 69), (N, 3)
    pose = library_pose("phone_at_right_ear", num_body_joints=21)   # SMPL+H / SMPL-X
    model(body_pose=torch.as_tensor(pose["body_pose"])[None], ...)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping, Sequence

import numpy as np
from scipy.spatial.transform import Rotation

from humanrecon.body.keypoints import SMPL_JOINT_NAMES
from humanrecon.errors import InputError, PoseFileError

CATEGORIES = ("standing", "walking", "running", "sitting", "ground", "kneeling", "squatting", "bending",
              "reaching", "gesturing", "throwing", "kicking", "jumping", "lying", "stretching", "dancing",
              "sports")


@dataclass(frozen=True)
class LibraryPose:
    """One named pose.

    ``joints`` maps SMPL joint names (``SMPL_JOINT_NAMES[1:]``) to axis-angles ``(3,)`` in
    radians, each in its parent joint's frame; joints not named are at rest (0).
    ``global_orient (3,)`` is the root's axis-angle in the world frame (Y up, facing +Z at
    rest), e.g. a quarter turn about X for lying on the back.
    """

    name: str
    category: str
    joints: Mapping[str, tuple[float, float, float]]
    global_orient: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def body_pose(self, num_body_joints: int = 23) -> np.ndarray:
        """Flat ``body_pose (3 * num_body_joints,)`` float32 (joints 1..num_body_joints)."""
        _check_num_body_joints(num_body_joints)
        pose = np.zeros((23, 3), dtype=np.float32)
        for joint, value in self.joints.items():
            pose[_INDEX[joint] - 1] = value
        return pose[:num_body_joints].reshape(-1)


# --------------------------------------------------------------------------- builder
_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
_INDEX = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}
#: rest (T-pose) joint positions of the LEFT side and the spine, metres, relative to the
#: pelvis (the open body's, SMPL-like); the right side is the mirror image (x negated)
_REST_LEFT = {
    "pelvis": (0.0, 0.0, 0.0), "left_hip": (0.112, -0.016, -0.008), "spine1": (0.0, 0.080, -0.039),
    "left_knee": (0.143, -0.392, 0.022), "spine2": (0.0, 0.231, -0.027), "left_ankle": (0.186, -0.825, -0.010),
    "spine3": (0.0, 0.357, -0.037), "left_foot": (0.195, -0.875, 0.130), "neck": (0.0, 0.540, 0.002),
    "left_collar": (0.023, 0.464, 0.016), "head": (0.0, 0.637, 0.035), "left_shoulder": (0.176, 0.444, 0.012),
    "left_elbow": (0.434, 0.444, 0.012), "left_wrist": (0.664, 0.444, 0.012), "left_hand": (0.765, 0.441, 0.004),
}
_UPPER_ARM, _FOREARM = 0.258, 0.230
_X, _Y, _Z = np.eye(3)


def _rest_position(joint: str) -> np.ndarray:
    if joint.startswith("right_"):
        return np.array(_REST_LEFT["left_" + joint[6:]]) * (-1.0, 1.0, 1.0)
    return np.array(_REST_LEFT[joint])


def _unit(v: Sequence[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    return a / np.linalg.norm(a)


def _tilt(base: np.ndarray, first: np.ndarray, deg1: float, second: np.ndarray, deg2: float) -> tuple:
    a, b = math.radians(deg1), math.radians(deg2)
    v = math.cos(a) * base + math.sin(a) * first
    return tuple(_unit(math.cos(b) * v + math.sin(b) * second))


# Directions are (out, up, forward): "out" is away from the body's midline on the limb's
# own side (+X for the left limbs, -X for the right ones), so one direction mirrors.
def _down(fwd: float = 0.0, out: float = 0.0) -> tuple:
    """Straight down, tilted ``fwd`` degrees forward (negative: back), then ``out`` outwards."""
    return _tilt(-_Y, _Z, fwd, _X, out)


def _up(fwd: float = 0.0, out: float = 0.0) -> tuple:
    """Straight up, tilted ``fwd`` degrees forward (negative: back), then ``out`` outwards."""
    return _tilt(_Y, _Z, fwd, _X, out)


def _ahead(up: float = 0.0, out: float = 0.0) -> tuple:
    """Straight forward, tilted ``up`` degrees upwards (negative: down), then ``out`` outwards."""
    return _tilt(_Z, _Y, up, _X, out)


def _side(up: float = 0.0, fwd: float = 0.0) -> tuple:
    """Straight out sideways, tilted ``up`` degrees upwards, then ``fwd`` forwards."""
    return _tilt(_X, _Y, up, _Z, fwd)


def _rot(*steps: tuple[str, float]) -> Rotation:
    """Rotations about world axes, in degrees, applied in the order given: ``("x", 90), ("z", -90)``."""
    r = Rotation.identity()
    for axis, deg in steps:
        r = Rotation.from_euler(axis, deg, degrees=True) * r
    return r


def _swing(a: np.ndarray, b: np.ndarray) -> Rotation:
    """The smallest rotation taking unit vector ``a`` to unit vector ``b``."""
    axis = np.cross(a, b)
    s, c = np.linalg.norm(axis), float(np.dot(a, b))
    if s < 1e-9:
        if c > 0:
            return Rotation.identity()
        perp = np.cross(a, _X if abs(a[0]) < 0.9 else _Y)
        return Rotation.from_rotvec(math.pi * _unit(perp))
    return Rotation.from_rotvec(axis / s * math.atan2(s, c))


_MIRROR = np.diag([-1.0, 1.0, 1.0])


def _mirror(r: Rotation) -> Rotation:
    """The mirror image of a rotation across the body's midplane (x = 0)."""
    return Rotation.from_matrix(_MIRROR @ r.as_matrix() @ _MIRROR)


def _sided(side: str, v: Sequence[float]) -> np.ndarray:
    """(out, up, forward) of limb ``side`` -> SMPL (x, y, z)."""
    return np.asarray(v, dtype=np.float64) * ((1.0 if side == "left" else -1.0), 1.0, 1.0)


class _Builder:
    """Forward kinematics on the rest skeleton, to write poses in words and degrees.

    Set the root (``orient``), the spine, head and collars first, then the limbs: a limb's
    directions are in the world frame by default (after the root and spine rotations set
    so far), or in its parent's frame with ``world=False``."""

    def __init__(self) -> None:
        self.orient = Rotation.identity()
        self.local: dict[str, Rotation] = {}

    # -- kinematics
    def frame(self, joint: str, world: bool = True) -> Rotation:
        """Rotation of ``joint``'s frame (its own local rotation included)."""
        chain, j = [], _INDEX[joint]
        while j > 0:
            chain.append(j)
            j = _PARENTS[j]
        r = self.orient if world else Rotation.identity()
        for j in reversed(chain):
            r = r * self.local.get(SMPL_JOINT_NAMES[j], Rotation.identity())
        return r

    def position(self, joint: str) -> np.ndarray:
        """World position of ``joint`` (metres, pelvis at the origin)."""
        j = _INDEX[joint]
        if j == 0:
            return np.zeros(3)
        parent = SMPL_JOINT_NAMES[_PARENTS[j]]
        return self.position(parent) + self.frame(parent).apply(_rest_position(joint) - _rest_position(parent))

    def set(self, joint: str, x: float = 0.0, y: float = 0.0, z: float = 0.0) -> None:
        """Axis-angle of ``joint`` in degrees (components)."""
        self.local[joint] = Rotation.from_rotvec(np.radians([x, y, z]))

    # -- trunk and head
    def spine(self, bend: float = 0.0, lean_left: float = 0.0, turn_left: float = 0.0) -> None:
        """Bend the spine forward (negative: arch back), lean it sideways, turn the chest (degrees)."""
        for joint, wb, ws, wt in (("spine1", 0.42, 0.4, 0.4), ("spine2", 0.29, 0.3, 0.3), ("spine3", 0.29, 0.3, 0.3)):
            self.set(joint, bend * wb, turn_left * wt, -lean_left * ws)

    def look(self, down: float = 0.0, turn_left: float = 0.0, tilt_left: float = 0.0) -> None:
        """Nod the head down (negative: up), turn it, tilt it sideways (degrees; the neck takes
        a bit more than the head, in proportion to their ranges)."""
        for joint, w in (("neck", 0.57), ("head", 0.43)):
            self.set(joint, w * down, w * turn_left, -w * tilt_left)

    def collar(self, side: str, up: float = 0.0, fwd: float = 0.0) -> None:
        """Raise (shrug) and bring forward the shoulder girdle of ``side`` (degrees)."""
        s = 1.0 if side == "left" else -1.0
        self.set(f"{side}_collar", 0.0, -s * fwd, s * up)

    # -- limbs
    def _solve(self, side: str, parent: str, rest: np.ndarray, flex_axis: np.ndarray, first: Sequence[float],
               second: Sequence[float] | None, twist: float, world: bool) -> tuple[Rotation, float]:
        """Local rotation of a limb's root joint (mirrored to the left side) and the flexion
        angle of its middle joint (radians) so the limb points along ``first`` and its lower
        segment along ``second``; ``flex_axis`` is the middle joint's flexion axis at rest."""
        p = self.frame(parent, world)
        if side == "right":
            p = _mirror(p)
        d = p.inv().apply(_unit(first))
        swing = _swing(rest, d)
        flex, tw = 0.0, math.radians(twist)
        if second is not None:
            f = p.inv().apply(_unit(second))
            flex = math.acos(float(np.clip(np.dot(d, f), -1.0, 1.0)))
            if flex > 1e-3:
                v = swing.inv().apply(f)  # lower segment in the upper segment's rest-aligned frame
                bent = Rotation.from_rotvec(flex * flex_axis).apply(rest)
                # twist about ``rest`` taking ``bent`` to ``v``'s direction around that axis
                a = bent - np.dot(bent, rest) * rest
                b = v - np.dot(v, rest) * rest
                tw = math.atan2(float(np.dot(np.cross(a, b), rest)), float(np.dot(a, b)))
        return swing * Rotation.from_rotvec(tw * rest), flex

    def _store(self, side: str, joint: str, r: Rotation) -> None:
        self.local[f"{side}_{joint}"] = _mirror(r) if side == "right" else r

    def arm(self, side: str, upper: Sequence[float], fore: Sequence[float] | None = None, *, twist: float = 0.0,
            world: bool = True, wrist: Sequence[float] = (0.0, 0.0, 0.0), pronate: float = 0.0) -> None:
        """Point the upper arm along ``upper`` and the forearm along ``fore`` ((out, up, forward)
        directions); ``twist`` (degrees) turns a straight arm about itself, ``wrist`` is the
        wrist's axis-angle (degrees, left-side signs) and ``pronate`` the forearm's roll."""
        r, flex = self._solve(side, f"{side}_collar", _X, -_Y, _sided("left", upper),
                              None if fore is None else _sided("left", fore), twist, world)
        self._store(side, "shoulder", r)
        self._store(side, "elbow", Rotation.from_rotvec([math.radians(pronate), -flex, 0.0]))
        self._store(side, "wrist", Rotation.from_rotvec(np.radians(wrist)))

    def hand_to(self, side: str, target: Sequence[float], elbow: Sequence[float], **kwargs) -> None:
        """Put the wrist of ``side`` at ``target`` ((out, up, forward) metres from the pelvis, in
        the world frame) with the elbow bending towards direction ``elbow``."""
        s = _sided(side, (1.0, 1.0, 1.0))
        shoulder = self.position(f"{side}_shoulder") * s  # (out, up, forward)
        t = np.asarray(target, dtype=np.float64)
        d = np.linalg.norm(t - shoulder)
        u = (t - shoulder) / d
        d = float(np.clip(d, abs(_UPPER_ARM - _FOREARM) + 1e-3, _UPPER_ARM + _FOREARM - 1e-4))
        a = (_UPPER_ARM ** 2 - _FOREARM ** 2 + d * d) / (2 * d)
        h = math.sqrt(max(_UPPER_ARM ** 2 - a * a, 0.0))
        pole = np.asarray(elbow, dtype=np.float64)
        pole = _unit(pole - np.dot(pole, u) * u)
        elbow_at = shoulder + a * u + h * pole
        self.arm(side, elbow_at - shoulder, shoulder + d * u - elbow_at, **kwargs)

    def leg(self, side: str, thigh: Sequence[float], shin: Sequence[float] | None = None, *, twist: float = 0.0,
            world: bool = True, foot: float | str = 0.0) -> None:
        """Point the thigh along ``thigh`` and the shin along ``shin`` ((out, up, forward));
        ``twist`` (degrees) turns a straight leg about itself (toes out +); ``foot`` is the
        ankle's extension in degrees (toes down +) or ``"flat"`` (sole level in the world)."""
        r, flex = self._solve(side, "pelvis", -_Y, _X, _sided("left", thigh),
                              None if shin is None else _sided("left", shin), -twist, world)
        self._store(side, "hip", r)
        self._store(side, "knee", Rotation.from_rotvec([flex, 0.0, 0.0]))
        if foot == "flat":
            g = self.frame(f"{side}_knee")
            rest = _unit(_rest_position(f"{side}_foot") - _rest_position(f"{side}_ankle"))
            heading = g.apply(rest) * (1.0, 0.0, 1.0)
            target = math.sqrt(1.0 - rest[1] ** 2) * _unit(heading) + (0.0, rest[1], 0.0)
            self.local[f"{side}_ankle"] = _swing(rest, g.inv().apply(target))
        else:
            self.set(f"{side}_ankle", float(foot))

    # -- common combinations
    def relaxed_arms(self, left_elbow: float = 12.0, right_elbow: float = 10.0) -> None:
        self.arm("left", _down(2, 7), _down(2 + left_elbow, 5))
        self.arm("right", _down(0, 6), _down(right_elbow, 5))

    def stand(self, out: float = -3.0, foot: float | str = "flat") -> None:
        self.leg("left", _down(0, out), foot=foot)
        self.leg("right", _down(0, out + 1), foot=foot)


_DEFINITIONS: list[tuple[str, str, Callable[[_Builder], None]]] = []


def _pose(category: str) -> Callable:
    """Register a pose written with a :class:`_Builder` under the function's name."""
    def register(fn: Callable[[_Builder], None]) -> Callable[[_Builder], None]:
        _DEFINITIONS.append((fn.__name__, category, fn))
        return fn
    return register


# --------------------------------------------------------------------------- standing
@_pose("standing")
def stand_relaxed(b: _Builder) -> None:
    b.look(down=3)
    b.relaxed_arms()
    b.stand()


@_pose("standing")
def stand_weight_on_right_leg(b: _Builder) -> None:
    b.orient = _rot(("z", -8))
    b.spine(lean_left=-11, turn_left=-4)
    b.look(tilt_left=5, turn_left=8)
    b.arm("left", _down(2, 9), _down(14, 6))
    b.arm("right", _down(-4, 10), _down(6, 8))
    b.leg("right", _down(0, -3), foot="flat")
    b.leg("left", _down(14, 8), _down(-12, 2), foot="flat", twist=10)


@_pose("standing")
def stand_hands_in_pockets(b: _Builder) -> None:
    b.look(down=5)
    b.collar("left", up=6)
    b.collar("right", up=6)
    b.hand_to("left", (0.12, 0.0, 0.12), elbow=(0.7, 0.0, -1.0))
    b.hand_to("right", (0.12, -0.02, 0.12), elbow=(0.7, 0.0, -1.0))
    b.stand(out=-1)


@_pose("standing")
def stand_arms_crossed(b: _Builder) -> None:
    b.look(down=-3, turn_left=-5)
    b.hand_to("left", (0.0, 0.26, 0.19), elbow=(1.0, -0.6, 0.0))
    b.hand_to("right", (0.02, 0.22, 0.21), elbow=(1.0, -0.6, 0.0))
    b.leg("left", _down(0, 2), foot="flat", twist=8)
    b.leg("right", _down(0, 1), foot="flat", twist=6)


@_pose("standing")
def stand_hands_on_hips(b: _Builder) -> None:
    b.orient = _rot(("z", -4))
    b.spine(lean_left=-4)
    b.look(turn_left=-12)
    b.hand_to("left", (0.19, 0.03, 0.0), elbow=(1.0, 0.0, -0.15))
    b.hand_to("right", (0.19, 0.03, 0.01), elbow=(1.0, 0.0, -0.1))
    b.leg("left", _down(8, 7), _down(-4, 5), foot="flat", twist=12)
    b.leg("right", _down(0, 2), foot="flat", twist=8)


@_pose("standing")
def stand_texting(b: _Builder) -> None:
    b.orient = _rot(("z", 4))
    b.look(down=40, tilt_left=-5)
    b.spine(bend=6, lean_left=-3)
    b.hand_to("left", (-0.02, 0.22, 0.28), elbow=(0.3, -1.0, 0.0))
    b.hand_to("right", (0.0, 0.20, 0.28), elbow=(0.3, -1.0, 0.0))
    b.leg("left", _down(0, 0), foot="flat")
    b.leg("right", _down(10, 4), _down(-8, 1), foot="flat", twist=10)


# --------------------------------------------------------------------------- walking
def _walk(b: _Builder, lead: str, thigh_fwd: float, lead_knee: float, trail_thigh: float, trail_knee: float,
          lead_foot: float | str, trail_foot: float | str, arm_swing: float) -> None:
    trail = "right" if lead == "left" else "left"
    s = 1.0 if lead == "left" else -1.0
    b.orient = _rot(("y", -4 * s), ("x", 2))
    b.spine(turn_left=7 * s)
    b.look(turn_left=-3 * s)
    b.leg(lead, _down(thigh_fwd, 2), _down(thigh_fwd - lead_knee, 2), foot=lead_foot)
    b.leg(trail, _down(trail_thigh, 2), _down(trail_thigh - trail_knee, 2), foot=trail_foot)
    b.arm(trail, _down(arm_swing, 7), _down(arm_swing + 25, 5))
    b.arm(lead, _down(-0.8 * arm_swing, 7), _down(-0.8 * arm_swing + 8, 5))


@_pose("walking")
def walk_left_heel_strike(b: _Builder) -> None:
    _walk(b, "left", 27, 3, -12, 30, -8, 15, 22)


@_pose("walking")
def walk_left_midstance(b: _Builder) -> None:
    # left foot planted under the body, right leg swinging through with the knee bent
    b.orient = _rot(("x", 2))
    b.spine(turn_left=-2)
    b.leg("left", _down(-2, 1), _down(-8, 1), foot="flat")
    b.leg("right", _down(18, 3), _down(-38, 3), foot=-5)
    b.arm("left", _down(6, 7), _down(24, 5))
    b.arm("right", _down(-5, 7), _down(4, 5))


@_pose("walking")
def walk_right_heel_strike(b: _Builder) -> None:
    _walk(b, "right", 25, 4, -14, 35, -6, 18, 18)
    b.look(down=8)


@_pose("walking")
def walk_carrying_bag(b: _Builder) -> None:
    # right leg forward, a heavy bag in the right hand: arm straight, trunk leaning left
    b.spine(lean_left=8)
    b.look(tilt_left=-3)
    b.collar("right", up=-5)
    b.arm("right", _down(0, 12), _down(0, 12), twist=0)
    b.arm("left", _down(-12, 14), _down(5, 16))
    b.leg("right", _down(20, 3), _down(16, 3), foot=-8)
    b.leg("left", _down(-10, 2), _down(-30, 2), foot=12)


# --------------------------------------------------------------------------- running
def _run_arms(b: _Builder, fwd: str, swing: float) -> None:
    back = "right" if fwd == "left" else "left"
    b.arm(fwd, _down(swing, 12), _down(swing + 95, 0))
    b.arm(back, _down(-swing, 12), _down(-swing + 80, 6))


@_pose("running")
def run_left_stance(b: _Builder) -> None:
    b.orient = _rot(("x", 8))
    b.look(down=-6)
    b.leg("left", _down(6, 1), _down(-28, 1), foot="flat")
    b.leg("right", _down(25, 3), _down(-85, 3), foot=10)
    _run_arms(b, "left", 28)


@_pose("running")
def run_left_push_off(b: _Builder) -> None:
    b.orient = _rot(("x", 10), ("y", -5))
    b.spine(turn_left=-6)
    b.look(down=-8)
    b.leg("left", _down(-22, 1), _down(-30, 1), foot=30)
    b.leg("right", _down(50, 3), _down(-10, 3), foot=-5)
    _run_arms(b, "left", 35)


@_pose("running")
def run_flight(b: _Builder) -> None:
    b.orient = _rot(("x", 9), ("y", 4))
    b.spine(turn_left=5)
    b.look(down=-8)
    b.leg("left", _down(40, 2), _down(5, 2), foot=-5)
    b.leg("right", _down(-25, 2), _down(-95, 2), foot=25)
    _run_arms(b, "right", 38)


@_pose("running")
def run_right_push_off(b: _Builder) -> None:
    b.orient = _rot(("x", 12), ("y", 5))
    b.spine(turn_left=7)
    b.look(down=-10)
    b.leg("right", _down(-25, 1), _down(-35, 1), foot=35)
    b.leg("left", _down(60, 3), _down(-5, 3), foot=-5)
    _run_arms(b, "right", 45)


# --------------------------------------------------------------------------- sitting
@_pose("sitting")
def sit_on_chair(b: _Builder) -> None:
    b.orient = _rot(("x", -4))
    b.look(down=4)
    b.hand_to("left", (0.13, -0.02, 0.30), elbow=(0.3, 0.0, -1.0))
    b.hand_to("right", (0.12, -0.03, 0.33), elbow=(0.3, 0.0, -1.0))
    b.leg("left", _ahead(-4, 8), _down(16, 3), foot="flat")
    b.leg("right", _ahead(-3, 6), _down(-10, 1), foot="flat")


@_pose("sitting")
def sit_legs_crossed(b: _Builder) -> None:
    # right thigh resting on the left knee
    b.orient = _rot(("x", -8))
    b.spine(turn_left=4)
    b.hand_to("left", (0.10, 0.02, 0.28), elbow=(0.5, 0.0, -1.0))
    b.hand_to("right", (-0.02, 0.05, 0.34), elbow=(0.5, 0.0, -1.0))
    b.leg("left", _ahead(-5, 6), _down(5, 1), foot="flat")
    b.leg("right", (-0.22, 0.16, 0.96), (-0.16, -0.98, -0.08), foot=15)


@_pose("sitting")
def sit_leaning_back_hands_behind_head(b: _Builder) -> None:
    b.orient = _rot(("x", -18))
    b.look(down=10)
    b.hand_to("left", (0.07, 0.66, -0.09), elbow=(1.0, 0.2, 0.2))
    b.hand_to("right", (0.07, 0.66, -0.09), elbow=(1.0, 0.2, 0.2))
    b.leg("left", _ahead(-8, 10), _down(35, 4), foot="flat")
    b.leg("right", _ahead(-6, 12), _down(30, 4), foot="flat")


@_pose("sitting")
def sit_typing(b: _Builder) -> None:
    b.orient = _rot(("x", 6))
    b.look(down=10, turn_left=-8)
    b.hand_to("left", (0.08, 0.20, 0.40), elbow=(0.3, -1.0, 0.0))
    b.hand_to("right", (0.09, 0.20, 0.40), elbow=(0.3, -1.0, 0.0))
    b.leg("left", _ahead(-4, 10), _down(-14, 2), foot=10)
    b.leg("right", _ahead(-3, 9), _down(8, 1), foot="flat")


# --------------------------------------------------------------------------- on the ground
@_pose("ground")
def sit_cross_legged(b: _Builder) -> None:
    b.spine(lean_left=4)
    b.look(down=5, tilt_left=8)
    b.hand_to("left", (0.22, -0.14, 0.26), elbow=(1.0, 0.0, -0.5))
    b.hand_to("right", (0.28, -0.10, 0.32), elbow=(1.0, 0.0, -0.5))
    # thighs out and forward, shins crossed under the opposite thighs
    b.leg("left", (0.775, -0.369, 0.512), (-0.761, -0.163, -0.628), foot=-10)
    b.leg("right", (0.764, -0.338, 0.55), (-0.746, -0.2, -0.635), foot=-10)


@_pose("ground")
def sit_hugging_knees(b: _Builder) -> None:
    b.orient = _rot(("x", -10))
    b.spine(bend=20)
    b.look(down=10, tilt_left=10, turn_left=15)
    b.collar("left", fwd=20)
    b.collar("right", fwd=20)
    # sitting on the floor: knees up in front of the chest, feet flat at buttock level
    b.leg("left", _ahead(42, 6), _down(30, 2), foot="flat")
    b.leg("right", _ahead(40, 6), _down(32, 2), foot="flat")
    b.hand_to("left", (0.0, 0.10, 0.46), elbow=(1.0, 0.0, 0.0))
    b.hand_to("right", (0.0, 0.13, 0.46), elbow=(1.0, 0.0, 0.0))


@_pose("ground")
def sit_legs_out_leaning_back(b: _Builder) -> None:
    b.orient = _rot(("x", -28))
    b.look(down=20)
    b.collar("left", fwd=-18)
    b.collar("right", fwd=-18)
    b.arm("left", _down(-12, 12), _down(-12, 12))
    b.arm("right", _down(-10, 12), _down(-10, 12))
    b.leg("left", _ahead(0, 6), foot=20)
    b.leg("right", _ahead(0, 8), _ahead(-6, 8), foot=25)


@_pose("ground")
def sit_one_knee_up(b: _Builder) -> None:
    b.orient = _rot(("x", -12))
    b.spine(bend=10, turn_left=5)
    b.look(turn_left=15)
    b.leg("left", _ahead(0, 10), foot=15)
    b.leg("right", _ahead(45, 5), _down(-12, 0), foot="flat")
    b.hand_to("right", (0.05, 0.02, 0.40), elbow=(1.0, 0.0, 0.0))
    b.arm("left", _down(-25, 15), _down(-25, 15))


# --------------------------------------------------------------------------- kneeling
@_pose("kneeling")
def kneel_upright(b: _Builder) -> None:
    b.look(down=5)
    b.relaxed_arms(20, 15)
    b.leg("left", _down(0, 4), _tilt(-_Z, -_Y, 8, _X, 2), foot=40)
    b.leg("right", _down(0, 4), _tilt(-_Z, -_Y, 6, _X, 2), foot=40)


@_pose("kneeling")
def kneel_on_right_knee(b: _Builder) -> None:
    b.look(down=10)
    b.leg("left", _ahead(-5, 6), _down(2, 3), foot="flat")
    b.leg("right", _down(-10, 3), _tilt(-_Z, -_Y, 12, _X, 2), foot=-20)
    b.hand_to("left", (0.13, -0.03, 0.38), elbow=(1.0, 0.0, -0.5))
    b.arm("right", _down(0, 8), _down(10, 6))


@_pose("kneeling")
def kneel_sitting_on_heels(b: _Builder) -> None:
    # knee flexion stops at 2.6 rad (149 deg) in the joint limits: hips sit just above the heels
    b.look(down=5, tilt_left=6)
    b.leg("left", _down(58, 4), _tilt(-_Z, -_Y, 2, _X, 2), foot=45)
    b.leg("right", _down(58, 4), _tilt(-_Z, -_Y, 2, _X, 2), foot=45)
    b.hand_to("left", (0.12, -0.12, 0.30), elbow=(0.3, 0.0, -1.0))
    b.hand_to("right", (0.10, -0.10, 0.36), elbow=(0.3, 0.0, -1.0))


@_pose("kneeling")
def kneel_on_all_fours(b: _Builder) -> None:
    b.orient = _rot(("x", 88))
    b.look(down=-35)
    b.leg("left", _down(0, 3), _tilt(-_Z, -_Y, 5, _X, 2), foot=40)
    b.leg("right", _down(0, 3), _tilt(-_Z, -_Y, 5, _X, 2), foot=40)
    b.arm("left", _down(6, 3), _down(6, 3))
    b.arm("right", _down(0, 4), _down(0, 4))


# --------------------------------------------------------------------------- squatting
@_pose("squatting")
def squat_deep(b: _Builder) -> None:
    b.orient = _rot(("x", 30))
    b.spine(bend=10)
    b.look(down=-20, turn_left=20)
    b.collar("left", fwd=15)
    b.collar("right", fwd=15)
    b.leg("left", _ahead(12, 16), _down(-42, 2), foot="flat")
    b.leg("right", _ahead(10, 16), _down(-42, 2), foot="flat")
    b.hand_to("left", (0.02, -0.20, 0.48), elbow=(1.0, -0.5, 0.0))
    b.hand_to("right", (0.05, -0.15, 0.46), elbow=(1.0, -0.5, 0.0))


@_pose("squatting")
def squat_parallel_arms_forward(b: _Builder) -> None:
    b.orient = _rot(("x", 38))
    b.look(down=-30)
    b.leg("left", _ahead(-4, 12), _down(-35, 4), foot="flat")
    b.leg("right", _ahead(-4, 12), _down(-35, 4), foot="flat")
    b.arm("left", _ahead(4, 8), _ahead(4, 6))
    b.arm("right", _ahead(-3, 6), _ahead(-3, 4))


@_pose("squatting")
def crouch_arms_forward(b: _Builder) -> None:
    # low on the toes, heels up, arms reaching forward and down
    b.orient = _rot(("x", 14))
    b.spine(bend=40)
    b.look(down=-35)
    b.leg("left", _ahead(25, 14), _down(-30, 6), foot=20)
    b.leg("right", _ahead(22, 10), _down(-25, 4), foot=25)
    b.arm("left", _ahead(-35, 8), _ahead(-25, 4))
    b.arm("right", _ahead(-30, 8), _ahead(-20, 4))


@_pose("squatting")
def crouch_one_hand_on_ground(b: _Builder) -> None:
    b.orient = _rot(("x", 15), ("y", 10))
    b.spine(bend=40, turn_left=-5)
    b.look(down=-20, turn_left=-20)
    b.leg("left", _ahead(20, 18), _down(-28, 8), foot="flat")
    b.leg("right", _ahead(-10, 25), _down(-35, 10), foot=25)
    b.arm("right", _down(5, 5), _down(10, 4))
    b.hand_to("left", (0.20, -0.25, 0.50), elbow=(1.0, 0.0, 0.0))


# --------------------------------------------------------------------------- bending
@_pose("bending")
def bend_pick_up_object(b: _Builder) -> None:
    b.orient = _rot(("x", 62), ("y", 8))
    b.spine(bend=25, turn_left=-6)
    b.look(down=10)
    b.leg("left", _down(18, 5), _down(-18, 5), foot="flat")
    b.leg("right", _down(8, 6), _down(-16, 5), foot="flat")
    b.arm("right", _down(2, 5), _down(2, 5))
    b.hand_to("left", (0.15, -0.34, 0.20), elbow=(1.0, 0.5, 0.0))


@_pose("bending")
def bend_lift_box(b: _Builder) -> None:
    b.orient = _rot(("x", 45))
    b.look(down=-25)
    b.leg("left", _ahead(-28, 16), _down(-35, 6), foot="flat")
    b.leg("right", _ahead(-24, 18), _down(-32, 6), foot="flat")
    b.arm("left", _down(8, 5), _down(8, 5))
    b.arm("right", _down(4, 6), _down(4, 6))


@_pose("bending")
def bend_hands_on_knees(b: _Builder) -> None:
    b.orient = _rot(("x", 45))
    b.spine(bend=10)
    b.look(down=-30, turn_left=10)
    b.leg("left", _down(22, 8), _down(-8, 7), foot="flat")
    b.leg("right", _down(28, 8), _down(-14, 7), foot="flat")
    b.hand_to("left", (0.16, -0.33, 0.18), elbow=(1.0, 0.0, 0.0))
    b.hand_to("right", (0.16, -0.33, 0.18), elbow=(1.0, 0.0, 0.0))


@_pose("bending")
def bend_tie_shoe_on_step(b: _Builder) -> None:
    # left foot up on a step, both hands at its laces
    b.orient = _rot(("x", 52), ("y", -8))
    b.spine(bend=70, turn_left=20)
    b.look(down=15)
    b.collar("left", fwd=10)
    b.collar("right", fwd=20)
    b.leg("left", _down(70, 6), _down(-5, 4), foot="flat")
    b.leg("right", _down(4, 2), _down(-6, 2), foot="flat")
    laces = b.position("left_foot") + (0.0, 0.08, -0.02)  # world (x, y, z); x is "out" for the left hand
    b.hand_to("left", (laces[0] + 0.05, laces[1], laces[2]), elbow=(1.0, 0.3, 0.0))
    b.hand_to("right", (-laces[0] + 0.05, laces[1] + 0.02, laces[2] + 0.03), elbow=(1.0, 0.3, 0.0))


# --------------------------------------------------------------------------- reaching
@_pose("reaching")
def reach_up(b: _Builder) -> None:
    b.spine(lean_left=6)
    b.look(down=-25)
    b.collar("right", up=20)
    b.arm("right", _up(5, 5), _up(5, 3))
    b.arm("left", _down(3, 8), _down(15, 6))
    b.stand(foot=20)


@_pose("reaching")
def reach_up_both_hands(b: _Builder) -> None:
    b.spine(bend=-8)
    b.look(down=-30)
    b.collar("left", up=18)
    b.collar("right", up=18)
    b.arm("left", _up(25, 14), _up(35, 8))
    b.arm("right", _up(22, 12), _up(30, 8))
    b.stand(foot=30)


@_pose("reaching")
def reach_forward(b: _Builder) -> None:
    b.orient = _rot(("x", 15), ("y", 10))
    b.spine(bend=10, turn_left=15)
    b.collar("right", fwd=20)
    b.arm("right", _ahead(5, -8), _ahead(5, -8))
    b.arm("left", _down(-15, 10), _down(0, 8))
    b.leg("right", _down(25, 3), _down(5, 3), foot="flat")
    b.leg("left", _down(-15, 3), _down(-15, 3), foot=20)


@_pose("reaching")
def reach_sideways_left(b: _Builder) -> None:
    b.orient = _rot(("z", 8))
    b.spine(lean_left=22)
    b.look(turn_left=30)
    b.collar("left", up=10)
    b.arm("left", _side(10, 10))
    b.arm("right", _down(0, 20), _down(10, 15))
    b.leg("left", _down(0, 14), _down(-10, 14), foot="flat")
    b.leg("right", _down(0, 28), _down(0, 28), foot=20)


# --------------------------------------------------------------------------- gesturing
@_pose("gesturing")
def phone_at_right_ear(b: _Builder) -> None:
    b.look(tilt_left=-10, turn_left=10)
    b.hand_to("right", (0.08, 0.60, 0.10), elbow=(0.3, -1.0, 0.5), wrist=(0, 0, 30))
    b.arm("left", _down(0, 8), _down(12, 6))
    b.stand()


@_pose("gesturing")
def wave_right_hand(b: _Builder) -> None:
    b.look(turn_left=-5)
    b.arm("right", _side(-20, 20), _up(5, 15))
    b.arm("left", _down(0, 8), _down(10, 6))
    b.stand()


@_pose("gesturing")
def point_forward(b: _Builder) -> None:
    b.spine(turn_left=12)
    b.look(turn_left=-10)
    b.collar("right", fwd=12)
    b.arm("right", _ahead(10, -5), _ahead(12, -5))
    b.arm("left", _down(0, 8), _down(15, 6))
    b.leg("right", _down(10, 3), foot="flat")
    b.leg("left", _down(-5, 4), foot="flat")


@_pose("gesturing")
def shrug(b: _Builder) -> None:
    b.look(tilt_left=12)
    b.collar("left", up=20)
    b.collar("right", up=20)
    b.arm("left", _down(5, 25), _ahead(-10, 45))
    b.arm("right", _down(10, 30), _ahead(0, 50))
    b.stand()


@_pose("gesturing")
def clap(b: _Builder) -> None:
    b.spine(turn_left=8)
    b.look(turn_left=-6, down=-5)
    b.hand_to("left", (0.04, 0.32, 0.30), elbow=(1.0, -1.0, 0.0))
    b.hand_to("right", (-0.04, 0.32, 0.30), elbow=(1.0, -1.0, 0.0))
    b.stand()


@_pose("gesturing")
def thinking_hand_on_chin(b: _Builder) -> None:
    b.look(down=8, tilt_left=5)
    b.hand_to("right", (0.02, 0.45, 0.17), elbow=(0.0, -1.0, 0.2))
    b.hand_to("left", (-0.05, 0.17, 0.19), elbow=(1.0, -1.0, 0.0))
    b.leg("left", _down(0, 3), foot="flat")
    b.leg("right", _down(5, 4), _down(-3, 4), foot="flat")


# --------------------------------------------------------------------------- throwing
@_pose("throwing")
def throw_overhand_wind_up(b: _Builder) -> None:
    b.orient = _rot(("y", -35), ("x", -4))
    b.spine(turn_left=-20, lean_left=-10)
    b.look(turn_left=50)
    b.arm("right", (0.96, 0.11, -0.255), (-0.033, 0.994, 0.108), world=False)
    b.arm("left", _ahead(5, 20), _ahead(10, 15))
    b.leg("left", _down(25, 10), _down(10, 10), foot="flat")
    b.leg("right", _down(-5, 14), _down(-15, 14), foot="flat")


@_pose("throwing")
def throw_overhand_release(b: _Builder) -> None:
    b.orient = _rot(("x", 15), ("y", 20))
    b.spine(bend=10, turn_left=20)
    b.look(down=-10, turn_left=-25)
    b.arm("right", _ahead(40, -5), _ahead(30, -5))
    b.arm("left", _down(10, 25), _down(80, 10))
    b.leg("left", _down(25, 5), _down(0, 5), foot="flat")
    b.leg("right", _down(-25, 5), _down(-55, 5), foot=35)


@_pose("throwing")
def throw_underhand(b: _Builder) -> None:
    b.orient = _rot(("x", 25))
    b.spine(bend=10, turn_left=10)
    b.look(down=-20)
    b.arm("right", _down(40, 0), _down(45, 0))
    b.arm("left", _side(-20, -20), _side(-20, 10))
    b.leg("left", _down(45, 5), _down(-5, 5), foot="flat")
    b.leg("right", _down(-25, 5), _down(-70, 5), foot=30)


@_pose("throwing")
def throw_two_handed_overhead(b: _Builder) -> None:
    # a football throw-in: ball held behind the head, back arched, left foot forward
    b.orient = _rot(("x", -6))
    b.spine(bend=-18)
    b.look(down=-10)
    b.collar("left", up=15)
    b.collar("right", up=15)
    b.hand_to("left", (0.11, 0.84, -0.10), elbow=(1.0, 0.6, 0.4))
    b.hand_to("right", (0.11, 0.84, -0.10), elbow=(1.0, 0.6, 0.4))
    b.leg("left", _down(20, 4), _down(8, 4), foot="flat")
    b.leg("right", _down(-18, 4), _down(-40, 4), foot=40)


# --------------------------------------------------------------------------- kicking
@_pose("kicking")
def kick_front(b: _Builder) -> None:
    b.orient = _rot(("x", -15))
    b.look(down=15)
    b.leg("right", _ahead(-15, 0), _ahead(-18, 0), foot=40)
    b.leg("left", _down(5, 2), _down(-8, 2), foot="flat")
    b.arm("left", _side(-10, 45), _side(-5, 60))
    b.arm("right", _side(-25, -40), _side(-20, -25))


@_pose("kicking")
def kick_soccer_backswing(b: _Builder) -> None:
    b.orient = _rot(("x", 5), ("y", 10))
    b.spine(turn_left=15, lean_left=8)
    b.look(down=30)
    b.leg("left", _down(8, 6), _down(-8, 6), foot="flat")
    b.leg("right", _down(-30, 8), _down(-110, 8), foot=40)
    b.arm("left", _side(-20, 30), _side(-15, 40))
    b.arm("right", _side(-35, -10), _side(-30, 10))


# --------------------------------------------------------------------------- jumping
@_pose("jumping")
def jump_tuck(b: _Builder) -> None:
    b.orient = _rot(("x", 5), ("z", 5))
    b.spine(bend=25)
    b.look(down=-15, tilt_left=8)
    b.leg("left", _ahead(28, 8), _down(-20, 4), foot=25)
    b.leg("right", _ahead(26, 8), _down(-20, 4), foot=25)
    b.collar("left", fwd=15)
    b.collar("right", fwd=15)
    b.hand_to("left", (0.10, -0.02, 0.45), elbow=(1.0, 0.0, 0.0))
    b.hand_to("right", (0.10, -0.02, 0.45), elbow=(1.0, 0.0, 0.0))


@_pose("jumping")
def jump_star(b: _Builder) -> None:
    b.look(down=-10, tilt_left=5)
    b.arm("left", _up(0, 42), _up(0, 42))
    b.arm("right", _up(3, 50), _up(3, 50))
    b.leg("left", _down(0, 30), foot=35)
    b.leg("right", _down(5, 27), _down(-5, 27), foot=30)


@_pose("jumping")
def jump_take_off(b: _Builder) -> None:
    b.orient = _rot(("x", 10))
    b.spine(bend=-10)
    b.look(down=-25)
    b.collar("left", up=10)
    b.collar("right", up=10)
    b.arm("left", _up(25, 10), _up(30, 8))
    b.arm("right", _up(25, 10), _up(30, 8))
    b.leg("left", _down(-10, 3), foot=40)
    b.leg("right", _down(-12, 3), foot=40)


@_pose("jumping")
def jump_landing(b: _Builder) -> None:
    b.orient = _rot(("x", 30))
    b.look(down=-25)
    b.arm("left", _ahead(-20, 20), _ahead(-10, 15))
    b.arm("right", _ahead(-25, 20), _ahead(-15, 15))
    b.leg("left", _down(50, 10), _down(-30, 8), foot="flat")
    b.leg("right", _down(48, 10), _down(-30, 8), foot="flat")


# --------------------------------------------------------------------------- lying
_ON_BACK = (("x", -90),)


@_pose("lying")
def lying_on_back(b: _Builder) -> None:
    b.arm("left", _down(3, 12), _down(3, 12), world=False)
    b.arm("right", _down(3, 10), _down(8, 10), world=False)
    b.leg("left", _down(0, 0), world=False, foot=25)
    b.leg("right", _down(15, 4), _down(-10, 4), world=False, foot=20)
    b.look(turn_left=10)
    b.orient = _rot(*_ON_BACK)


@_pose("lying")
def lying_on_side(b: _Builder) -> None:
    # on the left side, knees drawn up, the lower arm under the head
    b.spine(bend=10)
    b.look(down=10, tilt_left=-10)
    b.arm("left", _ahead(40, 5), _ahead(40, -40), world=False)
    b.arm("right", _down(30, 5), _down(60, -10), world=False)
    b.leg("left", _down(50, 2), _down(-20, 2), world=False, foot=10)
    b.leg("right", _down(60, -5), _down(-15, -5), world=False, foot=10)
    b.orient = _rot(*_ON_BACK, ("z", -90))


@_pose("lying")
def lying_on_front(b: _Builder) -> None:
    b.look(turn_left=65, down=-15)
    b.collar("left", fwd=15)
    b.collar("right", fwd=15)
    b.hand_to("left", (-0.05, 0.70, 0.20), elbow=(1.0, 0.0, 0.3))
    b.hand_to("right", (-0.05, 0.72, 0.22), elbow=(1.0, 0.0, 0.3))
    b.leg("left", _down(5, 22), _down(-40, 18), world=False, foot=30)
    b.leg("right", _down(0, 6), world=False, foot=40)
    b.orient = _rot(("x", 90))


@_pose("lying")
def lying_on_back_knees_up(b: _Builder) -> None:
    b.hand_to("left", (-0.02, 0.10, 0.19), elbow=(1.0, 0.0, -0.3))
    b.hand_to("right", (-0.02, 0.12, 0.19), elbow=(1.0, 0.0, -0.3))
    b.leg("left", _down(55, 5), _down(-35, 4), world=False, foot=-10)
    b.leg("right", _down(55, 8), _down(-35, 6), world=False, foot=-10)
    b.orient = _rot(*_ON_BACK)


# --------------------------------------------------------------------------- stretching
@_pose("stretching")
def stretch_side_bend(b: _Builder) -> None:
    b.orient = _rot(("z", 6))
    b.spine(lean_left=30)
    b.look(tilt_left=10)
    b.collar("right", up=20)
    b.arm("right", _up(0, -45), _up(0, -55), world=True)
    b.hand_to("left", (0.19, 0.0, 0.0), elbow=(1.0, 0.0, -0.1))
    b.leg("left", _down(0, 6), foot="flat")
    b.leg("right", _down(0, 9), foot="flat")


@_pose("stretching")
def stretch_quad_right(b: _Builder) -> None:
    b.look(down=5)
    b.leg("left", _down(0, 1), foot="flat")
    b.leg("right", _down(-8, 0), _tilt(_Y, -_Z, 30, _X, 0), foot=40)
    b.arm("left", _side(-10, 20), _side(-5, 25))
    b.hand_to("right", (0.10, -0.25, -0.27), elbow=(0.2, 0.0, -1.0))


@_pose("stretching")
def stretch_lunge(b: _Builder) -> None:
    b.orient = _rot(("x", 14))
    b.look(down=-5)
    b.leg("left", _ahead(-8, 5), _down(-5, 2), foot="flat")
    b.leg("right", _down(-46, 3), _down(-92, 3), foot=35)
    b.hand_to("left", (0.10, -0.30, 0.43), elbow=(1.0, 0.0, 0.0))
    b.hand_to("right", (0.08, -0.28, 0.44), elbow=(1.0, 0.0, 0.0))


@_pose("stretching")
def stretch_touch_toes(b: _Builder) -> None:
    b.orient = _rot(("x", 80))
    b.spine(bend=50)
    b.look(down=20, turn_left=10)
    b.stand(foot="flat")
    b.arm("left", _down(5, 2), _down(5, 2))
    b.arm("right", _down(14, 4), _down(14, 4))


# --------------------------------------------------------------------------- dancing
@_pose("dancing")
def dance_disco_point(b: _Builder) -> None:
    b.orient = _rot(("z", 5))
    b.spine(lean_left=-5, turn_left=-8)
    b.look(down=-15, turn_left=-20)
    b.collar("right", up=15)
    b.arm("right", _up(10, 35), _up(10, 35))
    b.arm("left", _down(10, 20), _down(15, -10))
    b.leg("right", _down(0, 3), foot="flat")
    b.leg("left", _down(15, 2), _down(-20, -8), foot=25, twist=-15)


@_pose("dancing")
def dance_arabesque(b: _Builder) -> None:
    b.orient = _rot(("x", 65))
    b.spine(bend=-30)
    b.look(down=-30)
    b.leg("left", _down(0, 1), foot="flat")
    b.leg("right", _tilt(-_Z, _Y, 8, _X, 0), foot=45)
    b.arm("left", _ahead(20, 5), _ahead(20, 5))
    b.arm("right", _side(0, -10), _side(0, 0))


@_pose("dancing")
def dance_twist(b: _Builder) -> None:
    b.orient = _rot(("y", 20), ("x", 10))
    b.spine(turn_left=-30)
    b.look(turn_left=-5)
    b.leg("left", _down(25, 8), _down(-20, 6), foot=10)
    b.leg("right", _down(15, 8), _down(-25, 6), foot=30)
    b.arm("left", _side(-35, 15), _ahead(10, -20))
    b.arm("right", (0.636, -0.236, -0.735), (0.551, 0.784, -0.285))


@_pose("dancing")
def dance_side_step_arms_out(b: _Builder) -> None:
    b.spine(lean_left=-6)
    b.look(tilt_left=-8, turn_left=-15)
    b.arm("left", _side(15, 10), _side(35, 20))
    b.arm("right", _side(-10, 5), _side(5, 15))
    b.leg("right", _down(0, 10), foot="flat")
    b.leg("left", _down(30, 18), _down(-35, 10), foot=30)


# --------------------------------------------------------------------------- sports
@_pose("sports")
def boxing_guard(b: _Builder) -> None:
    b.orient = _rot(("y", -25), ("x", 8))
    b.spine(turn_left=-5, bend=5)
    b.look(turn_left=25, down=10)
    b.collar("left", fwd=15)
    b.collar("right", fwd=18)
    b.hand_to("left", (0.02, 0.48, 0.34), elbow=(0.3, -1.0, 0.2))
    b.hand_to("right", (0.07, 0.50, 0.22), elbow=(0.3, -1.0, 0.2))
    b.leg("left", _down(18, 5), _down(0, 5), foot="flat")
    b.leg("right", _down(-12, 10), _down(-25, 10), foot=25)


@_pose("sports")
def tennis_ready(b: _Builder) -> None:
    b.orient = _rot(("x", 25))
    b.spine(bend=5)
    b.look(down=-25)
    b.collar("left", fwd=15)
    b.collar("right", fwd=15)
    b.hand_to("left", (0.0, 0.08, 0.45), elbow=(1.0, -0.5, 0.0))
    b.hand_to("right", (0.04, 0.04, 0.43), elbow=(1.0, -0.5, 0.0))
    b.leg("left", _down(28, 20), _down(-15, 12), foot="flat")
    b.leg("right", _down(28, 20), _down(-15, 12), foot="flat")


@_pose("sports")
def golf_address(b: _Builder) -> None:
    b.orient = _rot(("x", 38))
    b.spine(lean_left=-6)
    b.look(down=20)
    b.collar("left", fwd=10)
    b.collar("right", fwd=10)
    b.arm("left", _down(3, -11), _down(3, -11))
    b.arm("right", _down(3, -12), _down(6, -12))
    b.leg("left", _down(15, 8), _down(-8, 8), foot="flat", twist=8)
    b.leg("right", _down(13, 8), _down(-10, 8), foot="flat", twist=4)


@_pose("sports")
def baseball_batting_stance(b: _Builder) -> None:
    # right-handed batter side-on (facing +Z), looking left to the pitcher
    b.orient = _rot(("x", 10))
    b.spine(turn_left=-15)
    b.look(turn_left=70)
    b.collar("left", fwd=20)
    b.hand_to("right", (0.22, 0.42, 0.18), elbow=(1.0, -1.0, 0.0))
    b.hand_to("left", (-0.18, 0.40, 0.17), elbow=(0.0, -1.0, 0.3))
    b.leg("left", _down(20, 14), _down(-10, 10), foot="flat")
    b.leg("right", _down(18, 16), _down(-12, 10), foot="flat")


@_pose("sports")
def goalkeeper_ready(b: _Builder) -> None:
    b.orient = _rot(("x", 30))
    b.look(down=-30)
    b.arm("left", (0.758, -0.254, 0.6), (0.271, 0.661, 0.7))
    b.arm("right", (0.758, -0.254, 0.6), (0.271, 0.661, 0.7))
    b.leg("left", _down(44, 18), _down(-16, 10), foot="flat")
    b.leg("right", _down(36, 18), _down(-22, 10), foot="flat")


@_pose("sports")
def ski_tuck(b: _Builder) -> None:
    b.orient = _rot(("x", 35))
    b.spine(bend=40)
    b.look(down=-45)
    b.leg("left", _ahead(-5, 6), _down(-42, 3), foot="flat")
    b.leg("right", _ahead(-5, 6), _down(-42, 3), foot="flat")
    b.hand_to("left", (0.05, 0.0, 0.60), elbow=(1.0, -1.0, 0.0))
    b.hand_to("right", (0.06, 0.02, 0.58), elbow=(1.0, -1.0, 0.0))


# --------------------------------------------------------------------------- library
def _build(name: str, category: str, fn: Callable[[_Builder], None]) -> LibraryPose:
    b = _Builder()
    fn(b)
    joints = {}
    for joint in SMPL_JOINT_NAMES[1:]:
        if joint in b.local:
            v = b.local[joint].as_rotvec()
            if np.abs(v).max() > 1e-9:
                joints[joint] = tuple(float(x) for x in v)
    return LibraryPose(name, category, MappingProxyType(joints), tuple(float(x) for x in b.orient.as_rotvec()))


#: every pose, grouped by category in :data:`CATEGORIES` order
POSE_LIBRARY: tuple[LibraryPose, ...] = tuple(
    sorted((_build(*d) for d in _DEFINITIONS), key=lambda p: CATEGORIES.index(p.category)))
_BY_NAME = {p.name: p for p in POSE_LIBRARY}


def _split(half: int) -> tuple[str, ...]:
    seen: dict[str, int] = {}
    names = []
    for p in POSE_LIBRARY:
        k = seen.get(p.category, 0)
        seen[p.category] = k + 1
        if k % 2 == half:
            names.append(p.name)
    return tuple(names)


#: the tuning half (1st, 3rd, ... pose of each category): tune and train on these only
TUNING_POSES: tuple[str, ...] = _split(0)
#: the reporting half (2nd, 4th, ... pose of each category): benchmark numbers only
REPORTING_POSES: tuple[str, ...] = _split(1)
#: every pose's name, in library order
POSE_NAMES: tuple[str, ...] = tuple(p.name for p in POSE_LIBRARY)
_SPLITS = {"all": POSE_NAMES, "tuning": TUNING_POSES, "reporting": REPORTING_POSES}


def _check_num_body_joints(num_body_joints: int) -> None:
    if num_body_joints not in (21, 23):
        raise InputError(f"num_body_joints must be 23 (SMPL) or 21 (SMPL+H, SMPL-X), got {num_body_joints}")


def library_poses(split: str = "all", num_body_joints: int = 23) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """The poses of ``split`` (``"all"``, ``"tuning"`` or ``"reporting"``) in library order.

    Returns ``(names, body_pose, global_orient)``: names ``(N,)``, ``body_pose (N, 3 *
    num_body_joints)`` float32 axis-angles (radians) of joints 1..num_body_joints, each
    in its parent's frame, and ``global_orient (N, 3)`` float32. ``num_body_joints`` is 23
    (SMPL) or 21 (SMPL+H, SMPL-X: SMPL's joints 22, 23 ``left_hand``/``right_hand`` are
    dropped; the fingers stay at the model's rest). Raises ``InputError`` for another
    split or joint count.
    """
    if split not in _SPLITS:
        raise InputError(f"split must be one of {', '.join(_SPLITS)}, got {split!r}")
    _check_num_body_joints(num_body_joints)
    names = _SPLITS[split]
    body = np.stack([_BY_NAME[n].body_pose(num_body_joints) for n in names])
    orient = np.array([_BY_NAME[n].global_orient for n in names], dtype=np.float32)
    return names, body, orient


def library_pose(name: str, num_body_joints: int = 23) -> dict[str, np.ndarray]:
    """``{"body_pose": (3 * num_body_joints,), "global_orient": (3,)}`` float32 of the pose
    ``name``, as :func:`humanrecon.body.poses.load_pose` returns; ``PoseFileError`` for an
    unknown name."""
    if name not in _BY_NAME:
        close = [n for n in _BY_NAME if n.split("_")[0] == str(name).split("_")[0]] or list(_BY_NAME)
        raise PoseFileError(f"unknown library pose {name!r} ({len(_BY_NAME)} poses, e.g. "
                            f"{', '.join(close[:6])}; all: humanrecon.body.pose_library.POSE_LIBRARY)")
    pose = _BY_NAME[name]
    return {"body_pose": pose.body_pose(num_body_joints),
            "global_orient": np.asarray(pose.global_orient, dtype=np.float32)}
