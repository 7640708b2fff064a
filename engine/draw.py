"""Drawing skeletons onto RGB frames with OpenCV (``uniskel infer`` and the app's recorder).

Colours come from ``engine.skeleton`` (left warm, right cool, centre green). The
COCO-style torso edges (shoulder-shoulder, hip-hip, shoulder-hip) are drawn only when the
subset has no thorax and pelvis; otherwise the MPII-style spine replaces them.
"""
from __future__ import annotations

import cv2
import numpy as np

from uniskel.engine import skeleton

_I = skeleton.INDEX
COCO_TORSO = {
    (_I["left_shoulder"], _I["right_shoulder"]), (_I["left_hip"], _I["right_hip"]),
    (_I["left_shoulder"], _I["left_hip"]), (_I["right_shoulder"], _I["right_hip"]),
}


#: one colour per tracked person (RGB), by ``track_id % len(PERSON_COLOURS)``
PERSON_COLOURS = ((66, 135, 245), (245, 130, 48), (60, 180, 75), (230, 25, 75),
                  (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60),
                  (250, 190, 212), (255, 225, 25))


def person_colour(track_id) -> tuple[int, int, int]:
    return PERSON_COLOURS[int(track_id or 0) % len(PERSON_COLOURS)]


def edges_for(subset: str = "all") -> list[tuple[int, int, tuple[int, int, int]]]:
    """(a, b, rgb colour) for the edges drawn in a subset."""
    if subset not in skeleton.SUBSETS:
        raise ValueError(f"unknown subset {subset!r}; choose {', '.join(skeleton.SUBSETS)}")
    keep = set(skeleton.SUBSETS[subset])
    has_spine = _I["thorax"] in keep and _I["pelvis"] in keep
    out = []
    for (a, b), colour in zip(skeleton.EDGES, skeleton.EDGE_COLORS):
        if a in keep and b in keep and not (has_spine and (a, b) in COCO_TORSO):
            out.append((a, b, colour))
    return out


def _keypoints(person) -> np.ndarray:
    return np.asarray(getattr(person, "keypoints", person), dtype=np.float32)


def draw_skeleton(img_rgb: np.ndarray, people, subset: str = "all", threshold: float = 0.2,
                  thickness: int = 2, names: bool = False, boxes: bool = False) -> np.ndarray:
    """Draw in place on ``img_rgb`` (RGB uint8) and return it.

    ``people``: Person objects (``.keypoints`` (21, 3)) or (21, 3) arrays; points whose
    confidence is below ``threshold`` are skipped, with their edges."""
    edges = edges_for(subset)
    points = skeleton.SUBSETS[subset]
    h, w = img_rgb.shape[:2]
    radius = max(2, thickness + 1)
    font_scale = max(0.35, 0.0008 * max(h, w))
    for person in people:
        k = _keypoints(person)
        ok = k[:, 2] >= threshold
        xy = np.round(k[:, :2]).astype(np.int32)
        if boxes and hasattr(person, "box"):
            x0, y0, x1, y1 = (int(round(v)) for v in person.box)
            cv2.rectangle(img_rgb, (x0, y0), (x1, y1), (200, 200, 200), 1, cv2.LINE_AA)
            tid = getattr(person, "track_id", None)
            if tid is not None:
                cv2.putText(img_rgb, f"#{tid}", (x0, max(y0 - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX,
                            font_scale, person_colour(tid), 1, cv2.LINE_AA)
        for a, b, colour in edges:
            if ok[a] and ok[b]:
                cv2.line(img_rgb, tuple(map(int, xy[a])), tuple(map(int, xy[b])), colour,
                         thickness, cv2.LINE_AA)
        for i in points:
            if ok[i]:
                p = tuple(map(int, xy[i]))
                cv2.circle(img_rgb, p, radius, skeleton.KEYPOINT_COLORS[i], -1, cv2.LINE_AA)
                cv2.circle(img_rgb, p, radius, (20, 20, 20), 1, cv2.LINE_AA)
                if names:
                    cv2.putText(img_rgb, skeleton.KEYPOINTS[i], (p[0] + radius + 2, p[1] - 2),
                                cv2.FONT_HERSHEY_SIMPLEX, font_scale, (255, 255, 255), 1,
                                cv2.LINE_AA)
    return img_rgb
