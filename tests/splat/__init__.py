"""Tests of humanrecon.splat."""

from pathlib import Path

#: the real captured scene shared with this project (absent on machines without ../shared)
PLANT = Path(__file__).resolve().parents[3] / "shared" / "data" / "splats" / "plant.splat"
