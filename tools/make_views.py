"""Synthetic multi-view dataset of a mesh: a thin wrapper of ``humanrecon views`` (kept for
the commands in older notes and benchmarks).

    python tools/make_views.py [MESH] --out DIR [--views 100] [--size 128] [--val 20]
        [--test 20] [--seed 0] [--supersample 1] [--overwrite]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from humanrecon.cli import main

if __name__ == "__main__":
    sys.exit(main(["views", *sys.argv[1:]]))
