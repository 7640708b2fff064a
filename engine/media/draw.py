"""Drawing skeletons onto RGB frames with OpenCV: every annotated frame uniskel writes.

``render(frame, people, style)`` is the one routine behind what goes to disk: the video
of ``uniskel infer``, the window's recordings and its snapshots (engine.media.outputs,
app/recorder.py), so the same frame and the same ``Style`` give the same pixels
whichever wrote them. The window's live view paints the same rules with QPainter at
screen scale (app/overlay.py, from ``edges_for``, ``visible_points`` and the colours
here).

Colours come from ``engine.skeleton`` (left warm, right cool, centre green), or one per
person (``side_colours=False``); each dot is outlined in its person's colour, so ids
stay apparent. The COCO-style torso edges (shoulder-shoulder, hip-hip, shoulder-hip) are
drawn only when the subset has no thorax and pelvis; otherwise the MPII-style spine
replaces them.
"""
from __future__ import annotations

from dataclasses import dataclass

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
SINGLE_COLOUR = (80, 230, 120)   # a person without a track id
OUTLINE = (20, 20, 20)           # dot outline of a person without a track id
BOX_COLOUR = (200, 200, 200)
FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True)
class Style:
    """How people are drawn (plain data; the window maps its view options onto it)."""
    subset: str = "all"              # a key of skeleton.SUBSETS
    threshold: float = skeleton.DRAW_THRESHOLD  # points less confident are not drawn
    line_width: int = 2
    names: bool = False              # keypoint names beside the points
    ids: bool = False                # "#id" above each person's head, in their colour
    boxes: bool = False              # each person's box, "#id" at its corner
    mirror: bool = False             # the frame and the people flipped left-right
    side_colours: bool = True        # left warm / right cool; off: one colour per person
    followed: int | None = None      # this person's dots get a bolder outline


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


def visible_points(kpts: np.ndarray, subset: str, threshold: float) -> list[int]:
    """Indices of a (21, 3) person's keypoints that are in the subset and confident enough."""
    keep = skeleton.SUBSETS[subset]
    return [i for i in keep if kpts[i, 2] >= threshold and np.isfinite(kpts[i, :2]).all()]


def _keypoints(person) -> np.ndarray:
    return np.asarray(getattr(person, "keypoints", person), dtype=np.float32)


def _text(img, text: str, at, scale: float, colour) -> None:
    """Text with a dark outline, readable on any background."""
    cv2.putText(img, text, at, FONT, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, at, FONT, scale, colour, 1, cv2.LINE_AA)


def render(frame_rgb: np.ndarray, people, style: Style = Style()) -> np.ndarray:
    """A new RGB image: the frame (flipped when ``style.mirror``) with the people drawn
    on it. The frame itself is left as it is."""
    canvas = np.ascontiguousarray(frame_rgb[:, ::-1] if style.mirror else frame_rgb).copy()
    return draw(canvas, people, style)


def draw(img_rgb: np.ndarray, people, style: Style = Style()) -> np.ndarray:
    """Draw in place on ``img_rgb`` (RGB uint8) and return it. ``people``: Person objects
    (``.keypoints`` (21, 3), optionally ``.track_id`` and ``.box``) or (21, 3) arrays.
    With ``style.mirror`` the coordinates are flipped (the image is the caller's)."""
    edges = edges_for(style.subset)
    h, w = img_rgb.shape[:2]
    lw = max(1, int(style.line_width))
    radius = max(2, lw + 1)
    font_scale = max(0.35, 0.0008 * max(h, w))
    for person in people:
        k = _keypoints(person).copy()
        if style.mirror:
            k[:, 0] = (w - 1) - k[:, 0]
        tid = getattr(person, "track_id", None)
        own = person_colour(tid) if tid is not None else SINGLE_COLOUR
        points = visible_points(k, style.subset, style.threshold)
        shown = set(points)
        xy = {i: (int(round(float(k[i, 0]))), int(round(float(k[i, 1])))) for i in points}
        if style.boxes and getattr(person, "box", None) is not None:
            x0, y0, x1, y1 = (int(round(float(v))) for v in person.box)
            if style.mirror:
                x0, x1 = (w - 1) - x1, (w - 1) - x0
            cv2.rectangle(img_rgb, (x0, y0), (x1, y1), BOX_COLOUR, 1, cv2.LINE_AA)
            if tid is not None:
                _text(img_rgb, f"#{tid}", (x0, max(y0 - 4, 10)), font_scale, own)
        for a, b, colour in edges:
            if a in shown and b in shown:
                cv2.line(img_rgb, xy[a], xy[b], colour if style.side_colours else own, lw,
                         cv2.LINE_AA)
        if style.ids and tid is not None and points:
            top = min(points, key=lambda i: xy[i][1])
            x, y = xy[top]
            _text(img_rgb, f"#{tid}", (x - radius, max(y - 2 * radius - 2, 10)), font_scale,
                  own)
        if style.names:
            for i in points:
                x, y = xy[i]
                _text(img_rgb, skeleton.KEYPOINTS[i], (x + radius + 2, y - radius), font_scale,
                      (255, 255, 255))
        # the dots last: every point drawn shows its own colour, whatever text is near
        outline = own if tid is not None else OUTLINE
        bold = 2 if tid is not None and tid == style.followed else 1
        for i in points:
            fill = skeleton.KEYPOINT_COLORS[i] if style.side_colours else own
            cv2.circle(img_rgb, xy[i], radius, fill, -1, cv2.LINE_AA)
            cv2.circle(img_rgb, xy[i], radius, outline, bold, cv2.LINE_AA)
    return img_rgb


def draw_skeleton(img_rgb: np.ndarray, people, subset: str = "all",
                  threshold: float = skeleton.DRAW_THRESHOLD,
                  thickness: int = 2, names: bool = False, boxes: bool = False) -> np.ndarray:
    """``draw`` with the command line's options, in place on ``img_rgb``."""
    return draw(img_rgb, people, Style(subset=subset, threshold=threshold, line_width=thickness,
                                       names=names, boxes=boxes))
