"""Training samples: a person instance -> an augmented top-down crop and its keypoints.

Every random choice comes from the ``rng`` passed in, which the loader derives from
(seed, epoch, position), so a resumed run sees exactly the samples it would have seen.
Augmentations respect the skeleton: a horizontal flip swaps the unified flip pairs.

Occlusion (``occlude_prob``, ``second_person_prob``; both 0, off, by default): pixels
from other training images pasted into the crop after the geometry and before the
colour jitter: an occluder (a person cut from another sample along their skeleton, or
an object shape: a random polygon or ellipse of another image's texture) over part of
the person, or a second person beside them, in front or behind. The rule for the
person's points: their ground truth is kept (the mask does not change: they are still
this person's points, and the student should place them from what shows around the
occluder, as COCO labels occluded points), and the points under the pasted pixels
(coverage >= ``OCCLUDED_AT`` at the point) are marked in ``info["occluded"]``, so a
loss can treat them apart (e.g. not trust a teacher run on the occluded crop there).
The pasted person's own points are never labelled: the crop's person is the one whose
points are taught. The donors come from ``donors(rng, person)`` (data.MixedSamples: a
random training instance), drawn from the same ``rng``, so a sample stays a function of
its seed.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from uniskel.engine import skeleton
from uniskel.engine.runtime import crop, turn
from uniskel.training.framing import CUT_SPAN

UPPER_BODY = np.array([skeleton.INDEX[n] for n in skeleton.KEYPOINTS
                       if skeleton.PART[n] in ("face", "left_arm", "right_arm")]
                      + [skeleton.INDEX[n] for n in ("thorax", "upper_neck", "head_top")])
LOWER_BODY = np.array([skeleton.INDEX[n] for n in skeleton.KEYPOINTS
                       if skeleton.PART[n] in ("left_leg", "right_leg")]
                      + [skeleton.INDEX["pelvis"]])
FLIP = skeleton.flip_index()


@dataclass
class AugmentConfig:
    padding: float = 1.25        # crop = box * padding (as the engine does)
    scale: tuple[float, float] = (0.75, 1.3)
    rotate: float = 30.0         # degrees, applied with probability rotate_prob
    rotate_prob: float = 0.6
    upside_down_prob: float = 0.0  # turn the crop a further 180 degrees (LSPET's athletes
                                 # are a quarter upside down; COCO's people hardly ever)
    upright_prob: float = 0.0    # first turn the crop by the quarter turn that stands the
                                 # labelled body up, as the second look does at inference
                                 # (engine/runtime/turn.py), so teachers read it upright
    flip_prob: float = 0.5
    shift: float = 0.12          # loose crops: centre jitter, fraction of the crop size
    half_body_prob: float = 0.2
    color_prob: float = 0.8      # brightness / contrast / saturation jitter
    blur_prob: float = 0.15
    downscale_prob: float = 0.25  # LSPET people are small; webcam people are large and sharp
    gray_prob: float = 0.05
    occlude_prob: float = 0.0    # paste one occluder over part of the person (0: off)
    occlude_person: float = 0.5  # share of occluders that are a person from another
                                 # sample (the rest: an object shape of another image)
    occlude_size: tuple[float, float] = (0.2, 0.5)  # occluder size, fraction of the
                                 # crop height (a pasted person: 2.5 times that tall)
    second_person_prob: float = 0.0  # another person beside the first, their height
                                 # 0.8-1.15 times, overlapping up to about half (0: off)
    cut_prob: float = 0.0        # pictures cut at a random height between shoulders and
                                 # knees, the points below hidden (training/framing.py)
    cut_span: tuple[float, float] = CUT_SPAN  # where: shares of the way from the
                                 # shoulders down to the knees (eval's mid-torso: ~0.25)
    closeup_prob: float = 0.0    # close-ups: head and shoulders down to the waist


OCCLUDED_AT = 0.5  # a point is occluded where the pasted pixels cover at least this much


def upright_turn(kpts: np.ndarray, mask: np.ndarray) -> float:
    """The quarter turn (degrees) that stands a labelled body up (``turn.turn_for`` on
    its shoulders and hips); 0 when one of the four is not labelled."""
    return float(turn.turn_for(kpts)) if mask[turn.TORSO].all() else 0.0


def _half_body(kpts, mask, rng):
    upper = [i for i in UPPER_BODY if mask[i]]
    lower = [i for i in LOWER_BODY if mask[i]]
    pick = upper if (rng.random() < 0.5 and len(upper) > 2) or len(lower) <= 2 else lower
    if len(pick) <= 2:
        return None
    xy = kpts[pick, :2]
    x0, y0 = xy.min(0)
    x1, y1 = xy.max(0)
    return x0, y0, x1, y1


def make_sample(image: np.ndarray, box, keypoints: np.ndarray, mask: np.ndarray,
                input_size: tuple[int, int], cfg: AugmentConfig | None, rng,
                extra: list[np.ndarray] = (), donors=None, info: dict | None = None):
    """Crop one person. ``image`` BGR uint8; ``keypoints`` (21, >=2) image px.

    Returns (crop RGB uint8 (H, W, 3), keypoints (21, 2) crop px, mask (21,) bool,
    affine (2, 3) image->crop, extras in crop px). ``extra`` are other (21, C) arrays in
    image px (teacher predictions) that get the same transform and flip.
    ``donors(rng, person)``: another training image for the occlusion augmentations,
    (image BGR, keypoints (21, >=2) image px, mask (21,)) or None (``person``: one with
    enough labelled points to cut a person out). ``info``, a dict, receives
    "occluded" ((21,) bool, the points under pasted pixels), "cover" ((H, W) float32,
    how much pasted pixels cover each crop pixel) and "pasted" (what was pasted: a dict
    per paste, its "kind" and, for an occluder, its centre "at" and "size" in crop px).
    """
    h_in, w_in = input_size
    kpts = np.asarray(keypoints, np.float64)[:, :2]
    mask = np.asarray(mask, bool).copy()
    rot, flip = 0.0, False
    if cfg is not None and cfg.half_body_prob and rng.random() < cfg.half_body_prob:
        box = _half_body(kpts, mask, rng) or box
    center, size = crop.box_to_center_scale(box, input_size,
                                            cfg.padding if cfg is not None else 1.25)
    if cfg is not None:
        size = size * rng.uniform(*cfg.scale)
        center = center + rng.uniform(-cfg.shift, cfg.shift, 2) * size
        if cfg.upright_prob and rng.random() < cfg.upright_prob:
            rot = upright_turn(kpts, mask)
        if rng.random() < cfg.rotate_prob:
            rot += float(np.clip(rng.normal(0, cfg.rotate / 2), -cfg.rotate, cfg.rotate))
        if cfg.upside_down_prob and rng.random() < cfg.upside_down_prob:
            rot += 180.0
        flip = rng.random() < cfg.flip_prob
    m = crop.warp_matrix(center, size, input_size, rot)
    if flip:  # mirror inside the crop: x -> (W - 1) - x
        m = np.array([[-1.0, 0.0, w_in - 1.0], [0.0, 1.0, 0.0]]) @ np.vstack([m, [0, 0, 1]])
    patch = cv2.cvtColor(crop.crop(image, m, input_size), cv2.COLOR_BGR2RGB)
    out = crop.apply(m, kpts)
    extras = []
    for e in extra:
        e = np.asarray(e, np.float64).copy()
        e[:, :2] = crop.apply(m, e[:, :2])
        extras.append(e[FLIP] if flip else e)
    if flip:
        out, mask = out[FLIP], mask[FLIP]
    inside = (out[:, 0] >= 0) & (out[:, 0] < w_in) & (out[:, 1] >= 0) & (out[:, 1] < h_in)
    mask &= inside
    cover = np.zeros(patch.shape[:2], np.float32)
    pasted: list[dict] = []
    if cfg is not None and (cfg.second_person_prob or cfg.occlude_prob):
        corners = np.array([[box[0], box[1]], [box[2], box[1]], [box[0], box[3]],
                            [box[2], box[3]]], np.float64)
        cb = crop.apply(m, corners)
        tbox = (*cb.min(0), *cb.max(0))
        if cfg.second_person_prob and rng.random() < cfg.second_person_prob:
            donor = donors(rng, True) if donors is not None else None
            if donor is not None:
                patch, cover = _second_person(patch, cover, donor, tbox, out, mask, rng)
                pasted.append({"kind": "second_person"})
        if cfg.occlude_prob and rng.random() < cfg.occlude_prob:
            person = rng.random() < cfg.occlude_person
            donor = donors(rng, person) if donors is not None else None
            size = rng.uniform(*cfg.occlude_size) * h_in
            at = _occluder_centre(tbox, out, mask, size, rng, (w_in, h_in))
            if person and donor is not None:
                patch, cover = _paste_person(patch, cover, donor, at, 2.5 * size, rng)
                pasted.append({"kind": "person", "at": tuple(at), "size": size})
            elif not person:
                patch, cover = _paste_object(patch, cover, donor, at, size, rng)
                pasted.append({"kind": "object", "at": tuple(at), "size": size})
    if info is not None:
        info["occluded"] = occluded_points(out, cover)
        info["cover"] = cover
        info["pasted"] = pasted
    if cfg is not None:
        patch = _photometric(patch, cfg, rng)
    return patch, out.astype(np.float32), mask, m, extras


# --------------------------------------------------------------------------- occlusion

def occluded_points(coords: np.ndarray, cover: np.ndarray) -> np.ndarray:
    """(21,) bool: the points (crop px) whose pixel pasted pixels cover >= OCCLUDED_AT."""
    h, w = cover.shape
    xy = np.round(np.asarray(coords, np.float64)[:, :2]).astype(int)
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    out = np.zeros(len(xy), bool)
    out[inside] = cover[xy[inside, 1], xy[inside, 0]] >= OCCLUDED_AT
    return out


def person_alpha(kpts: np.ndarray, mask: np.ndarray, shape) -> np.ndarray | None:
    """A soft (H, W) float32 silhouette of a person drawn from their labelled points
    (limbs as thick lines, the torso filled, a disc for the head); None with < 3 points."""
    ok = np.asarray(mask, bool)
    if ok.sum() < 3:
        return None
    xy = np.asarray(kpts, np.float64)[:, :2]
    extent = np.ptp(xy[ok], axis=0)
    height = max(float(extent.max()), 8.0)
    t = max(2, int(round(0.09 * height)))
    canvas = np.zeros(shape, np.uint8)
    p = np.round(xy).astype(np.int32)
    for a, b in skeleton.EDGES:
        if ok[a] and ok[b]:
            cv2.line(canvas, tuple(map(int, p[a])), tuple(map(int, p[b])), 255, t, cv2.LINE_AA)
    torso = [skeleton.INDEX[n] for n in ("left_shoulder", "right_shoulder", "right_hip",
                                         "left_hip", "thorax", "pelvis")]
    torso = [i for i in torso if ok[i]]
    if len(torso) >= 3:
        cv2.fillPoly(canvas, [cv2.convexHull(p[torso])], 255, cv2.LINE_AA)
    head = [skeleton.INDEX[n] for n in skeleton.HEAD_POINTS + ("upper_neck",) if ok[skeleton.INDEX[n]]]
    if head:
        c = np.round(xy[head].mean(0)).astype(int)
        cv2.circle(canvas, (int(c[0]), int(c[1])), max(t, int(round(0.08 * height))), 255, -1,
                   cv2.LINE_AA)
    for i in np.flatnonzero(ok):
        cv2.circle(canvas, tuple(map(int, p[i])), max(1, t // 2), 255, -1, cv2.LINE_AA)
    k = max(3, (t // 2) | 1)
    return cv2.GaussianBlur(canvas, (k, k), 0).astype(np.float32) / 255.0


def _blend(patch, cover, src, alpha):
    a = alpha[..., None]
    patch = np.clip(patch * (1.0 - a) + src * a + 0.5, 0, 255).astype(np.uint8)
    return patch, np.maximum(cover, alpha)


def _paste_person(patch, cover, donor, centre, height, rng, under=None):
    """Paste ``donor``'s person (cut along ``person_alpha``), ``height`` crop px tall,
    centred at ``centre``, mirrored half the time; ``under``: the crop person's
    silhouette, kept in front (the pasted person stands behind them)."""
    img, kp, km = donor
    kp = np.asarray(kp, np.float64)[:, :2]
    km = np.asarray(km, bool)
    if km.sum() < 3:
        return patch, cover
    xy = kp[km]
    lo, hi = xy.min(0), xy.max(0)
    s = height / max(float(hi[1] - lo[1]), float(hi[0] - lo[0]), 1.0)
    sx = -s if rng.random() < 0.5 else s
    mid = (lo + hi) / 2
    a = np.array([[sx, 0.0, centre[0] - sx * mid[0]], [0.0, s, centre[1] - s * mid[1]]])
    h, w = patch.shape[:2]
    src = cv2.cvtColor(cv2.warpAffine(img, a, (w, h), flags=cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_REPLICATE), cv2.COLOR_BGR2RGB)
    alpha = person_alpha(crop.apply(a, kp), km, (h, w))
    if alpha is None:
        return patch, cover
    if under is not None:
        alpha = alpha * (1.0 - under)
    return _blend(patch, cover, src.astype(np.float32), alpha)


def _paste_object(patch, cover, donor, centre, size, rng):
    """A random polygon (5-9 corners) or ellipse about ``size`` crop px across at
    ``centre``, filled with a random part of ``donor``'s image (or, with none, a random
    colour with noise)."""
    h, w = patch.shape[:2]
    rx, ry = size / 2 * np.exp(rng.uniform(-0.4, 0.4, 2))
    canvas = np.zeros((h, w), np.uint8)
    cx, cy = float(centre[0]), float(centre[1])
    if rng.random() < 0.5:
        cv2.ellipse(canvas, (int(round(cx)), int(round(cy))),
                    (max(1, int(round(rx))), max(1, int(round(ry)))),
                    float(rng.uniform(0, 180)), 0, 360, 255, -1, cv2.LINE_AA)
    else:
        n = int(rng.integers(5, 10))  # corners about evenly round: never a sliver
        ang = (np.arange(n) + rng.uniform(-0.35, 0.35, n)) * 2 * np.pi / n
        rad = rng.uniform(0.55, 1.0, n)
        pts = np.stack([cx + rx * rad * np.cos(ang), cy + ry * rad * np.sin(ang)], 1)
        cv2.fillPoly(canvas, [np.round(pts).astype(np.int32)], 255, cv2.LINE_AA)
    alpha = cv2.GaussianBlur(canvas, (3, 3), 0).astype(np.float32) / 255.0
    if donor is not None:
        img = donor[0]
        ih, iw = img.shape[:2]
        f = rng.uniform(0.5, 1.5)        # donor px per crop px
        sw, sh = min(iw, 2 * rx * f), min(ih, 2 * ry * f)
        x0, y0 = rng.uniform(0, iw - sw), rng.uniform(0, ih - sh)
        a = np.array([[2 * rx / max(sw, 1.0), 0.0, 0.0], [0.0, 2 * ry / max(sh, 1.0), 0.0]])
        a[:, 2] = [cx - rx - a[0, 0] * x0, cy - ry - a[1, 1] * y0]
        src = cv2.cvtColor(cv2.warpAffine(img, a, (w, h), flags=cv2.INTER_LINEAR,
                                          borderMode=cv2.BORDER_REFLECT), cv2.COLOR_BGR2RGB)
        src = src.astype(np.float32)
    else:
        src = np.clip(rng.uniform(0, 255, 3) + rng.normal(0, 20, (h, w, 3)), 0, 255)
    return _blend(patch, cover, src.astype(np.float32), alpha)


def _occluder_centre(tbox, coords, mask, size, rng, wh):
    """Over one of the person's labelled points in the crop (so it hides something), or
    anywhere in their box; jittered by a quarter of the occluder's size, kept in the
    crop."""
    labelled = np.flatnonzero(mask)
    if len(labelled):
        c = coords[int(rng.choice(labelled))]
    else:
        c = np.array([rng.uniform(tbox[0], tbox[2]), rng.uniform(tbox[1], tbox[3])])
    return np.clip(c + rng.normal(0, size / 4, 2), 0, np.asarray(wh, np.float64) - 1)


def _second_person(patch, cover, donor, tbox, coords, mask, rng):
    """``donor``'s person beside the crop's: 0.8-1.15 times their height, the centre 0.45-
    0.85 of their width to the left or right, behind them (kept out of their silhouette)
    half the time when their points allow a silhouette, in front otherwise."""
    x0, y0, x1, y1 = tbox
    tw, th = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    height = th * rng.uniform(0.8, 1.15)
    side = -1.0 if rng.random() < 0.5 else 1.0
    centre = ((x0 + x1) / 2 + side * tw * rng.uniform(0.45, 0.85),
              (y0 + y1) / 2 + th * rng.uniform(-0.1, 0.1))
    under = None
    if rng.random() < 0.5:
        under = person_alpha(coords, mask, patch.shape[:2])
    return _paste_person(patch, cover, donor, centre, height, rng, under)


def _photometric(img: np.ndarray, cfg: AugmentConfig, rng) -> np.ndarray:
    if rng.random() < cfg.downscale_prob:
        h, w = img.shape[:2]
        f = rng.uniform(0.3, 0.7)
        small = cv2.resize(img, (max(8, int(w * f)), max(8, int(h * f))),
                           interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < cfg.blur_prob:
        k = int(rng.choice([3, 5]))
        img = cv2.GaussianBlur(img, (k, k), 0)
    if rng.random() < cfg.color_prob:
        f = img.astype(np.float32)
        f = f * rng.uniform(0.7, 1.3) + rng.uniform(-30, 30)  # contrast, brightness
        gray = f.mean(axis=2, keepdims=True)
        f = gray + (f - gray) * rng.uniform(0.6, 1.4)          # saturation
        img = np.clip(f, 0, 255).astype(np.uint8)
    if rng.random() < cfg.gray_prob:
        img = np.repeat(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    return img
