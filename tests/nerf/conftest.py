"""A tiny synthetic body dataset (Blender format, 32×32) shared by the NeRF tests."""

from __future__ import annotations

import pytest

from humanrecon.datasets import default_body, make_views

TINY_MODEL = {"log2_table_size": 14, "finest_resolution": 128, "levels": 8, "samples_per_diagonal": 128,
              "grid_resolution": 32}


@pytest.fixture(scope="session")
def tiny_views(tmp_path_factory):
    root = tmp_path_factory.mktemp("body_views")
    make_views(*default_body(), root, views=40, size=32, val=0, test=4, seed=0, progress=False)
    return root
