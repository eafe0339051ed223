"""Occupancy grid: cells of an analytic density, EMA decay, and the empty-grid recovery."""

from __future__ import annotations

import math

import pytest
import torch

from humanrecon.nerf.occupancy_grid import OccupancyGrid

BOUNDS = [[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]]


def ball(radius: float, sigma: float = 100.0):
    return lambda p: torch.where(p.norm(dim=-1) < radius, sigma, 0.0)


def test_grid_marks_exactly_the_cells_a_ball_touches():
    grid = OccupancyGrid(BOUNDS, resolution=16, step=0.01)
    for _ in range(4):  # jittered samples: a few passes catch cells the ball only grazes
        grid.update(ball(0.5), generator=torch.Generator().manual_seed(_))
    centres = grid.cell_centres(torch.arange(16**3))
    half_diagonal = math.sqrt(3) * 1 / 16
    surely_in = centres.norm(dim=-1) < 0.5 - half_diagonal
    surely_out = centres.norm(dim=-1) > 0.5 + half_diagonal
    assert grid.occupied[surely_in].all() and not grid.occupied[surely_out].any()
    pts = torch.tensor([[0.0, 0.0, 0.0], [0.9, 0.9, 0.9], [0.0, 0.0, 1.5]])
    assert grid.is_occupied(pts).tolist() == [True, False, False]


def test_threshold_and_decay():
    grid = OccupancyGrid(BOUNDS, resolution=4, step=0.01, alpha_threshold=0.01, decay=0.5)
    assert grid.density_threshold == pytest.approx(-math.log(0.99) / 0.01)
    grid.update(lambda p: torch.full((len(p),), 8.0))
    grid.update(lambda p: torch.zeros(len(p)))
    assert torch.allclose(grid.density, torch.full((64,), 4.0))  # max(0.5 · 8, 0)


def test_partial_update_visits_occupied_cells():
    grid = OccupancyGrid(BOUNDS, resolution=8, step=0.01)
    grid.update(ball(0.5))
    before = grid.occupied.clone()
    grid.update(ball(0.5), all_cells=False, fraction=0.0)  # only the occupied cells
    assert torch.equal(grid.occupied, before)


def test_empty_field_resets_to_fully_occupied_with_a_warning():
    grid = OccupancyGrid(BOUNDS, resolution=8)
    with pytest.warns(RuntimeWarning, match="every cell is empty"):
        grid.update(lambda p: torch.zeros(len(p)))
    assert grid.occupied.all()
    with pytest.warns(RuntimeWarning):  # NaN densities count as empty, too
        grid.update(lambda p: torch.full((len(p),), float("nan")))
    assert grid.occupied.all()


def test_coarse_spans_never_lose_an_occupied_sample():
    from humanrecon.nerf.volume import march_rays

    grid = OccupancyGrid(BOUNDS, resolution=32, step=0.01)
    gen = torch.Generator().manual_seed(0)
    grid.occupied.copy_(torch.rand(32**3, generator=gen) < 0.002)  # scattered single cells
    grid.updates += 1
    origins = torch.randn(3000, 3, generator=gen) * 2
    directions = torch.nn.functional.normalize(torch.randn(3000, 3, generator=gen), dim=-1)
    plain = march_rays(origins, directions, grid.bounds, 0.01, occupied=grid.is_occupied)
    spans = march_rays(origins, directions, grid.bounds, 0.01, occupied=grid.is_occupied, spans=grid.ray_spans)
    assert len(plain) > 100
    assert torch.equal(plain.ray_indices, spans.ray_indices)
    assert torch.allclose(plain.t_starts, spans.t_starts, atol=1e-5)
