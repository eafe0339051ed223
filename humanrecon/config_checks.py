"""Field checks of every config dataclass (torch-free): one :class:`InputError`
naming the field."""

from __future__ import annotations

import math
import operator

from humanrecon.errors import InputError


def check_count(config, name: str, minimum: int) -> None:
    """``config.<name>`` must be an int (not a bool) >= ``minimum``."""
    value = getattr(config, name)
    try:
        ok = not isinstance(value, bool) and operator.index(value) >= minimum
    except TypeError:
        ok = False
    if not ok:
        raise InputError(f"{name} must be an int >= {minimum}, got {value!r}")


def check_number(config, name: str, low: float = 0.0, high: float = math.inf, *, low_open: bool = True,
                 high_open: bool = False) -> None:
    """``config.<name>`` must be a finite real number in the interval from ``low`` to
    ``high`` (open or closed at each end; default: > 0)."""
    value = getattr(config, name)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        if high == math.inf:
            where = f"{'>' if low_open else '>='} {low:g}"
        else:
            where = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise InputError(f"{name} must be a finite number {where}, got {value!r}")
