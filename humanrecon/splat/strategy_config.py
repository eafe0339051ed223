"""Settings of adaptive density control (torch-free; used by :mod:`humanrecon.splat.strategy`)."""

from __future__ import annotations

from dataclasses import dataclass

from humanrecon.config_checks import check_count, check_number


@dataclass
class DensityConfig:
    """When and how to densify (steps; gradients in NDC units as gsplat: pixels · size/2 ·
    cameras per step, see :meth:`~humanrecon.splat.strategy.DensityControl.after_step`;
    sizes relative to the scene scale, metres).

    Raises:
        InputError: a value out of range, naming the field (``prune_opacity`` in (0, 0.5):
            the opacity reset caps opacities at twice it).
    """

    refine_start: int = 500
    refine_stop: int = 15_000
    refine_every: int = 100
    reset_every: int = 3_000
    grow_grad2d: float = 0.0002
    grow_scale3d: float = 0.01
    prune_opacity: float = 0.005
    prune_scale3d: float = 0.1
    max_gaussians: int = 2_000_000

    def __post_init__(self) -> None:
        for name in ("refine_start", "refine_stop"):
            check_count(self, name, minimum=0)
        for name in ("refine_every", "reset_every", "max_gaussians"):
            check_count(self, name, minimum=1)
        for name in ("grow_grad2d", "grow_scale3d", "prune_scale3d"):
            check_number(self, name)
        check_number(self, "prune_opacity", 0.0, 0.5, high_open=True)
