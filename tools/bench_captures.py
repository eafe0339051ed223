"""Real-capture benchmark: NeRF, Gaussian splats and DVR trained on real photographs.

Scenes (``../shared/data/captures``, made by others; see their README and licences):

* ``dtu``: DTU MVS scan 24 (49 photos 1600×1200 with object masks, IDR/NeuS cameras).
* ``fox``: instant-ngp's fox (67 handheld photos 1080×1920, radial-tangential distortion,
  undistorted on reading).

For each method × scene × step count (``--steps``, fixed counts, so runs compare at equal
work; ``--max-minutes`` caps each run's wall time and the line says when the cap stopped
it), one child process trains with :func:`humanrecon.pipeline.run` on the train split at
``--downscale`` (default 4: DTU 400×300, fox 270×480) and scores the held-out views. Neither
scene names a split: every 8th photo by name is the test split (mip-NeRF 360 rule; DTU: 7
test views, fox: 9), never trained on. Prints one JSON line per run:

* ``psnr``, ``ssim``: the whole photo, background included (how NeRF papers score real
  scenes); ``psnr_masked``, ``ssim_masked`` (DTU): over the object's mask pixels only;
  ``mask_iou`` (DVR, trained on the object): rendered silhouette vs the true masks, pooled.
* ``steps``, ``seconds`` (training wall time), ``steps_per_s``, ``peak_rss_mb`` (the child
  process's peak resident memory), ``threads``, ``capped`` (true when ``--max-minutes``
  ended the run before its steps).

Which methods train on what: NeRF and splats on the whole photos (``masks="photo"``), DVR on
the object (``masks="object"``: its surface comes from the masks, as in its paper; DTU only).

    python tools/bench_captures.py [--methods nerf,splat,dvr] [--scenes dtu,fox]
        [--steps 2000,8000] [--downscale 4] [--max-minutes 30] [--threads 2] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "captures"
SCENES = {"dtu": SHARED / "dtu_scan24", "fox": SHARED / "fox"}
MASKS = {"nerf": "photo", "splat": "photo", "dvr": "object"}


def run_one(method: str, scene: str, steps: int, downscale: int, max_minutes: float, threads: int, out: Path) -> dict:
    """Train and evaluate one run in this process; returns its JSON record."""
    import torch

    sys.path.insert(0, str(ROOT))
    from humanrecon import pipeline

    torch.set_num_threads(threads)
    config = {"steps": steps, "max_seconds": max_minutes * 60.0, "checkpoint_every": 0}
    start = time.perf_counter()
    run = pipeline.run(method, SCENES[scene], out, config, overwrite=True, downscale=downscale,
                       masks=MASKS[method], progress=False)
    total = time.perf_counter() - start
    m = run.metrics
    train_seconds = float(m.get("train_seconds") or total)
    keys = ("psnr", "ssim", "psnr_masked", "ssim_masked", "mask_iou", "views", "train_views", "split_rule", "images")
    return {"bench": "captures", "scene": scene, "method": method, "downscale": downscale,
            "steps": m.get("steps"), "steps_requested": steps, "seconds": round(train_seconds, 1),
            "steps_per_s": round(m["steps"] / train_seconds, 3) if m.get("steps") else None,
            "capped": bool(m.get("steps", steps) < steps), "total_seconds": round(total, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "threads": threads, **{k: m.get(k) for k in keys}, "out": str(out)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="nerf,splat,dvr")
    parser.add_argument("--scenes", default="dtu,fox")
    parser.add_argument("--steps", default="2000,8000", help="comma-separated step counts")
    parser.add_argument("--downscale", type=int, default=4)
    parser.add_argument("--max-minutes", type=float, default=30.0, help="wall-time cap per run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=None, help="run folders (default: a temporary folder)")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # method:scene:steps, in a child
    args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="bench_captures_"))
    if args.one:
        method, scene, steps = args.one.split(":")
        record = run_one(method, scene, int(steps), args.downscale, args.max_minutes, args.threads,
                         out / f"{method}_{scene}_{steps}")
        print(json.dumps(record), flush=True)
        return
    for scene in args.scenes.split(","):
        if not SCENES[scene].is_dir():
            print(json.dumps({"bench": "captures", "scene": scene, "skipped": f"{SCENES[scene]} not found"}))
            continue
        for method in args.methods.split(","):
            if method == "dvr" and scene != "dtu":
                continue  # DVR needs object masks: DTU only
            for steps in args.steps.split(","):
                command = [sys.executable, __file__, "--one", f"{method}:{scene}:{steps}", "--downscale",
                           str(args.downscale), "--max-minutes", str(args.max_minutes), "--threads",
                           str(args.threads), "--out", str(out)]
                result = subprocess.run(command, capture_output=True, text=True, env={**os.environ})
                lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
                if result.returncode or not lines:
                    print(json.dumps({"bench": "captures", "scene": scene, "method": method, "steps": int(steps),
                                      "error": result.stderr.strip().splitlines()[-1:]}), flush=True)
                else:
                    print(lines[-1], flush=True)


if __name__ == "__main__":
    main()
