"""Box geometry, in frame pixels: a box is ``(x0, y0, x1, y1)``, optionally followed by
a score (a detector's ``(x0, y0, x1, y1, score)``); only the first four are read unless
a function says otherwise. The person detector and the tracker both use these."""
from __future__ import annotations

from typing import Sequence

import numpy as np

Box = tuple  # (x0, y0, x1, y1, score)


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two boxes (0 when both are empty)."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def nms(boxes: list[Box], threshold: float = 0.5) -> list[Box]:
    """Greedy non-maximum suppression by score (a box's fifth value)."""
    keep: list[Box] = []
    for b in sorted(boxes, key=lambda b: -b[4]):
        if all(iou(b, k) < threshold for k in keep):
            keep.append(b)
    return keep


def area(box) -> float:
    return max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0)


def size(box) -> tuple[float, float]:
    """(width, height)."""
    return (float(box[2] - box[0]), float(box[3] - box[1]))


def centre(box) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


def within(box, outer) -> float:
    """The share of ``box``'s area inside ``outer``."""
    ix = max(0.0, min(box[2], outer[2]) - max(box[0], outer[0]))
    iy = max(0.0, min(box[3], outer[3]) - max(box[1], outer[1]))
    return ix * iy / max(area(box), 1e-9)


def inside(point, box) -> bool:
    """Whether ``point`` (x, y) lies in ``box`` (edges included)."""
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]
