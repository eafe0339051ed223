"""Learning-rate schedules shared by the trainers (implicit shapes, NeRF, splatting).

Training can be bounded by steps or by wall time; the schedule follows whichever runs
out first, so a time-budgeted run still ends with an annealed learning rate.
"""

from __future__ import annotations

import math


def progress_fraction(step: int, steps: int, elapsed: float = 0.0, max_seconds: float | None = None) -> float:
    """How far training is, in ``[0, 1]``: ``step / steps``, or ``elapsed / max_seconds``
    (seconds) when a time budget is set and that fraction is larger."""
    done = step / max(steps, 1)
    if max_seconds:
        done = max(done, elapsed / max_seconds)
    return min(done, 1.0)


def cosine_decay(base: float, progress: float, final_fraction: float) -> float:
    """Cosine from ``base`` at progress 0 to ``final_fraction · base`` at progress 1."""
    return base * (final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * progress)))


def exponential_decay(base: float, progress: float, final_fraction: float) -> float:
    """Geometric from ``base`` at progress 0 to ``final_fraction · base`` at progress 1
    (Instant-NGP / nerfacc style)."""
    return base * final_fraction ** progress
