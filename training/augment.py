"""Training samples: a person instance -> an augmented top-down crop and its keypoints.

Every random choice comes from the ``rng`` passed in, which the loader derives from
(seed, epoch, position), so a resumed run sees exactly the samples it would have seen.
Augmentations respect the skeleton: a horizontal flip swaps the unified flip pairs.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from uniskel.engine import crop, skeleton

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
    flip_prob: float = 0.5
    shift: float = 0.12          # loose crops: centre jitter, fraction of the crop size
    half_body_prob: float = 0.2
    color_prob: float = 0.8      # brightness / contrast / saturation jitter
    blur_prob: float = 0.15
    downscale_prob: float = 0.25  # LSPET people are small; webcam people are large and sharp
    gray_prob: float = 0.05


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
                extra: list[np.ndarray] = ()):
    """Crop one person. ``image`` BGR uint8; ``keypoints`` (21, >=2) image px.

    Returns (crop RGB uint8 (H, W, 3), keypoints (21, 2) crop px, mask (21,) bool,
    affine (2, 3) image->crop, extras in crop px). ``extra`` are other (21, C) arrays in
    image px (teacher predictions) that get the same transform and flip.
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
        if rng.random() < cfg.rotate_prob:
            rot = float(np.clip(rng.normal(0, cfg.rotate / 2), -cfg.rotate, cfg.rotate))
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
    if cfg is not None:
        patch = _photometric(patch, cfg, rng)
    return patch, out.astype(np.float32), mask, m, extras


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
