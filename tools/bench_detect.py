"""Recall of the built-in detector (``fit --detect``) on real photos with hand-marked people.

Each photo's people were marked by hand (a box around each, in pixels, ``[x0, y0, x1,
y1]``) in two kinds: **target** — head and torso visible (the issue's rule: every such
person must be fitted) — and **partial** — in the photo but without a visible head (cut by
the frame), reported separately, not required. A detection matches the unmatched marked
person whose box holds the centre of the detection's confident keypoints (greedy, most
keypoints first; of several such boxes, the one whose centre is nearest); a detection
matching nobody is a false positive.

Photos (none is shipped with humanrecon; real photos from registry packages):

* ``bus.jpg``, ``zidane.jpg``: inside the ``ultralytics`` wheel (``ultralytics/assets/``;
  AGPL-3.0 package): ``pip download --no-deps ultralytics==8.4.190 -d DIR && unzip
  DIR/*.whl 'ultralytics/assets/*' -d DIR`` then ``--photos DIR/ultralytics/assets``;
* ``t1.jpg``: inside the ``insightface`` wheel (``insightface/data/images/``; six people at
  a card table, all seen from the chest or waist up, several overlapping): ``pip download
  --no-deps insightface==2.1 -d DIR && unzip DIR/*.whl 'insightface/data/images/*' -d DIR``
  then ``--photos DIR/insightface/data/images``;
* ``basketball1.png``: ``assets/samples/`` (OpenCV's sample, see its README).

    python tools/bench_detect.py --photos DIR [--boxes auto|blazepose|hog|both]

One JSON line per photo, then a summary line: target recall, partial recall, false positives.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from humanrecon.fitting.detect import detect_people

#: hand-marked people per photo: (kind, [x0, y0, x1, y1] pixels, what the person is)
PEOPLE = {
    "bus.jpg": [("target", [45, 395, 250, 905], "bearded man in a fleece coat, left"),
                ("target", [220, 400, 350, 865], "man in a black coat, centre"),
                ("partial", [665, 385, 810, 885], "man walking off the right edge, head cut off"),
                ("partial", [0, 550, 85, 880], "person at the left edge, head out of frame")],
    "zidane.jpg": [("target", [110, 195, 940, 720], "man leaning and shouting, waist up"),
                   ("target", [745, 35, 1160, 720], "grey-haired man pointing, waist up")],
    "t1.jpg": [("target", [0, 230, 310, 886], "woman with cards, left edge"),
               ("target", [255, 100, 470, 660], "dark-haired woman leaning in, back left"),
               ("target", [335, 215, 720, 640], "man in a grey shirt, centre left"),
               ("target", [640, 285, 930, 640], "man in a red shirt, centre"),
               ("target", [870, 0, 1280, 650], "man standing, right"),
               ("target", [980, 230, 1280, 700], "blonde woman with cards, right edge")],
    "basketball1.png": [("target", [30, 75, 165, 480], "man catching a ball, head to feet"),
                        ("target", [430, 20, 640, 480], "man turned away, cut at the thighs")],
}


def match(points: np.ndarray, confidence: np.ndarray, marked: list) -> tuple[list[int | None], int]:
    """For each marked person the index of its detection (or None), and the number of
    detections that match nobody."""
    centres = [p[c >= 0.5].mean(0) if (c >= 0.5).any() else p.mean(0) for p, c in zip(points, confidence)]
    order = np.argsort([-(c >= 0.5).sum() for c in confidence])
    found: list[int | None] = [None] * len(marked)
    unmatched = 0
    for d in order:
        x, y = centres[d]
        hits = [k for k, (_, (x0, y0, x1, y1), _) in enumerate(marked)
                if found[k] is None and x0 <= x <= x1 and y0 <= y <= y1]
        if hits:
            centre_distance = [np.hypot(x - (marked[k][1][0] + marked[k][1][2]) / 2,
                                        y - (marked[k][1][1] + marked[k][1][3]) / 2) for k in hits]
            found[hits[int(np.argmin(centre_distance))]] = int(d)
        else:
            unmatched += 1
    return found, unmatched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", action="append", default=[str(ROOT / "assets" / "samples")],
                        help="a folder holding some of the photos (repeatable)")
    parser.add_argument("--boxes", default="auto", choices=("auto", "blazepose", "hog", "both"))
    args = parser.parse_args()
    import cv2

    totals = {"target": [0, 0], "partial": [0, 0], "false_positives": 0, "photos": 0}
    for name, marked in PEOPLE.items():
        paths = [Path(d) / name for d in args.photos if (Path(d) / name).is_file()]
        if not paths:
            print(json.dumps({"benchmark": "detect_recall", "photo": name, "skipped": "not found in --photos"}))
            continue
        image = cv2.cvtColor(cv2.imread(str(paths[0])), cv2.COLOR_BGR2RGB)
        kp = detect_people(image, name, boxes=args.boxes)
        found, false_pos = match(kp.points, kp.confidence, marked)
        row = {"benchmark": "detect_recall", "photo": name, "boxes": args.boxes, "detections": len(kp.points),
               "false_positives": false_pos}
        for kind in ("target", "partial"):
            hits = [f is not None for (k, _, _), f in zip(marked, found) if k == kind]
            row[f"{kind}_found"] = f"{sum(hits)}/{len(hits)}"
            totals[kind][0] += sum(hits)
            totals[kind][1] += len(hits)
        row["missed"] = [what for (_, _, what), f in zip(marked, found) if f is None]
        totals["false_positives"] += false_pos
        totals["photos"] += 1
        print(json.dumps(row), flush=True)
    summary = {"benchmark": "detect_recall_summary", "boxes": args.boxes, "photos": totals["photos"],
               "target_recall": f"{totals['target'][0]}/{totals['target'][1]}",
               "partial_recall": f"{totals['partial'][0]}/{totals['partial'][1]}",
               "false_positives": totals["false_positives"], "target": "every target person found"}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
