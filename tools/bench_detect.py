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

These four are the **tuning** photos: the detector's rules (the face boxes, the weak boxes
and how duplicates are told apart) were chosen while looking at them. **Held out** (nothing
was chosen on them; one person each, and five photos with nobody, for false positives):

* ``astronaut.png``, ``camera.png`` and ``chelsea.png``, ``coffee.png``, ``horse.png``,
  ``rocket.jpg``, ``motorcycle_left.png`` (no person): scikit-image's wheel
  (``skimage/data/``, or ``python -c "import skimage, os; print(os.path.dirname(skimage.data.__file__))"``);
* ``grace_hopper.jpg``: matplotlib's wheel (``matplotlib/mpl-data/sample_data/``);
* two composites of three people: the three held-out people side by side, in two orders.

    python tools/bench_detect.py --photos DIR [--photos DIR2 ...] [--boxes auto|blazepose|hog|both]

One JSON line per photo, then a summary line per set (tuning, held out): target recall,
partial recall, false positives.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from humanrecon.errors import InputError
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
    # held out
    "astronaut.png": [("target", [20, 15, 370, 512], "astronaut, waist up")],
    "camera.png": [("target", [0, 60, 330, 512], "cameraman bent over a tripod, cut at the knees")],
    "grace_hopper.jpg": [("target", [15, 20, 512, 600], "officer, chest up")],
    "chelsea.png": [], "coffee.png": [], "horse.png": [], "rocket.jpg": [], "motorcycle_left.png": [],
}
#: held-out photos of several people: held-out single-person photos side by side, each scaled
#: to 512 px tall (their marked boxes scaled and shifted with them)
COMPOSITES = {"composite:astronaut+camera+grace_hopper": ("astronaut.png", "camera.png", "grace_hopper.jpg"),
              "composite:grace_hopper+camera+astronaut": ("grace_hopper.jpg", "camera.png", "astronaut.png")}
#: the photos the detector's rules were chosen on; the rest are held out
TUNING_PHOTOS = ("bus.jpg", "zidane.jpg", "t1.jpg", "basketball1.png")


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


COMPOSITE_HEIGHT = 512


def _composite_scales(parts, sizes) -> list[tuple[float, float]]:
    """(scale, x offset) of each part of a composite, from its ``(height, width)``."""
    out, x = [], 0.0
    for h, w in sizes:
        scale = COMPOSITE_HEIGHT / h
        out.append((scale, x))
        x += round(w * scale)
    return out


#: (height, width) of the held-out photos that composites are made of
PHOTO_SIZES = {"astronaut.png": (512, 512), "camera.png": (512, 512), "grace_hopper.jpg": (600, 512)}


def composite_people(parts) -> list:
    """The marked people of a composite of ``parts`` (names in :data:`PEOPLE`)."""
    people = []
    for name, (scale, x) in zip(parts, _composite_scales(parts, [PHOTO_SIZES[p] for p in parts])):
        for kind, (x0, y0, x1, y1), what in PEOPLE[name]:
            people.append((kind, [x0 * scale + x, y0 * scale, x1 * scale + x, y1 * scale], f"{what} ({name})"))
    return people


def composite_photo(parts, read):
    """The photos ``parts`` side by side, each scaled to :data:`COMPOSITE_HEIGHT` (None if one is missing)."""
    import cv2

    images = [read(p) for p in parts]
    if any(i is None for i in images):
        return None
    for name, image in zip(parts, images):
        if image.shape[:2] != PHOTO_SIZES[name]:
            raise SystemExit(f"{name}: expected {PHOTO_SIZES[name]} (height, width), got {image.shape[:2]}")
    return np.concatenate([cv2.resize(i, (round(i.shape[1] * COMPOSITE_HEIGHT / i.shape[0]), COMPOSITE_HEIGHT))
                           for i in images], axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", action="append", default=[str(ROOT / "assets" / "samples")],
                        help="a folder holding some of the photos (repeatable)")
    parser.add_argument("--boxes", default="auto", choices=("auto", "blazepose", "hog", "both"))
    args = parser.parse_args()
    import cv2

    totals = {split: {"target": [0, 0], "partial": [0, 0], "false_positives": 0, "photos": 0}
              for split in ("tuning", "held_out")}
    def read(name: str):
        paths = [Path(d) / name for d in args.photos if (Path(d) / name).is_file()]
        return cv2.cvtColor(cv2.imread(str(paths[0]), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) if paths else None

    photos = [(name, marked, read) for name, marked in PEOPLE.items()]
    for name, parts in COMPOSITES.items():
        photos.append((name, composite_people(parts), lambda _, parts=parts: composite_photo(parts, read)))
    for name, marked, reader in photos:
        split = "tuning" if name in TUNING_PHOTOS else "held_out"
        image = reader(name)
        if image is None:
            print(json.dumps({"benchmark": "detect_recall", "photo": name, "skipped": "not found in --photos"}))
            continue
        try:
            kp = detect_people(image, name, boxes=args.boxes)
            points, confidence = kp.points, kp.confidence
        except InputError:  # nobody found
            points, confidence = np.zeros((0, 25, 2)), np.zeros((0, 25))
        found, false_pos = match(points, confidence, marked)
        row = {"benchmark": "detect_recall", "photo": name, "set": split, "boxes": args.boxes,
               "detections": len(points), "false_positives": false_pos}
        t = totals[split]
        for kind in ("target", "partial"):
            hits = [f is not None for (k, _, _), f in zip(marked, found) if k == kind]
            row[f"{kind}_found"] = f"{sum(hits)}/{len(hits)}"
            t[kind][0] += sum(hits)
            t[kind][1] += len(hits)
        row["missed"] = [what for (_, _, what), f in zip(marked, found) if f is None]
        t["false_positives"] += false_pos
        t["photos"] += 1
        print(json.dumps(row), flush=True)
    for split, t in totals.items():
        print(json.dumps({"benchmark": "detect_recall_summary", "set": split, "boxes": args.boxes,
                          "photos": t["photos"], "target_recall": f"{t['target'][0]}/{t['target'][1]}",
                          "partial_recall": f"{t['partial'][0]}/{t['partial'][1]}",
                          "false_positives": t["false_positives"], "target": "every target person found"}))


if __name__ == "__main__":
    main()
