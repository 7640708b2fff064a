"""Fit a model's quality estimate: its expected OKS from its own keypoint confidences
(``uniskel quality``, whose command line is commands/quality.py).

    uniskel export --checkpoint runs/student/last.pt --decode-window 6 --weights slim.pt
    uniskel quality --model slim.pt --backend cpu --out runs/quality.json
    uniskel export --checkpoint slim.pt --quality runs/quality.json \\
        --weights assets/models/uniskel_student.pt --onnx assets/models/uniskel_student.onnx

Fit the model as it will ship: the confidences depend on its decoding window, so the
JSON records the window it was fitted at and ``export --quality`` refuses another.

The model predicts on training people whose truth is known (LSPET 0..7499 and coco_mini's
train part by default: never the held-out splits), cropped from jittered boxes (scale
0.8-1.3 per axis, shift up to 12% of the box, one crop in three rotated up to 30 degrees),
so that it is sometimes wrong. Each crop's target is the OKS of its prediction over the
COCO points it has truth for (LSPET: the 12 limb points); the fit is a logistic
regression of that OKS on the 21 confidences (least squares on the sigmoid, AdamW,
standardised inputs folded back into the weights). The JSON holds ``quality``
(21 weights, then the bias: ``engine.models.quality.estimate``) and the fit's statistics.

Why: AP ranks a model's people by its detection score, and mmpose's rule (the mean
confidence above 0.2) orders good and bad poses only loosely; the model card has the
measurements.

The same run fits the model's *point power* (``point_power_for``): the power its keypoint
confidences are raised to at inference, so that the app's draw threshold means for it
what it means for the student v2. Networks differ in how sure they say they are: on
training people cut at mid-torso (``training/cuts.py``, the labelled points below the
cut hidden), the student v2 draws about 5% of the hidden points at the draw threshold,
a student distilled from Thunder's maps about 18%. The power is chosen so that the
model draws ``drawn_below_cut`` of them (default 5%); the quality estimate is then
fitted on the powered confidences, as the model will give them. The JSON holds
``point_power`` (the model's whole power: the one it had times the fitted one).
"""
from __future__ import annotations

import numpy as np

from uniskel.engine import skeleton

JITTER_SCALE = (0.8, 1.3)
JITTER_SHIFT = 0.12
ROTATE_SHARE, ROTATE_MAX = 1 / 3, 30.0


def jittered_warp(box, input_size, rng, padding: float = 1.25):
    """A crop warp for ``box`` moved, resized and sometimes rotated at random."""
    from uniskel.engine.runtime import crop as C

    box = np.asarray(box, np.float64)
    c, s = (box[:2] + box[2:]) / 2, box[2:] - box[:2]
    s = s * rng.uniform(*JITTER_SCALE, 2)
    c = c + rng.uniform(-JITTER_SHIFT, JITTER_SHIFT, 2) * s
    rot = rng.uniform(-ROTATE_MAX, ROTATE_MAX) if rng.random() < ROTATE_SHARE else 0.0
    centre, scale = C.box_to_center_scale((*(c - s / 2), *(c + s / 2)), input_size, padding)
    return C.warp_matrix(centre, scale, input_size, rot)


def collect(infer, instances, input_size, rng, repeats: int = 1, batch: int = 32):
    """Predict on jittered crops of ``instances`` -> (confidences (N, 21), OKS (N,)).

    OKS is over the COCO points each person has truth for, in crop pixels (the area is
    warped too); people with none are dropped."""
    from uniskel.engine.runtime import crop as C
    from uniskel.training.datasets import load_image
    from uniskel.training.metrics import AREA_FROM_BOX, oks

    input_size = tuple(int(v) for v in input_size)
    coco = np.arange(17)
    conf, target = [], []
    todo = [inst for _ in range(repeats) for inst in instances]
    for i in range(0, len(todo), batch):
        crops, truth, masks, areas = [], [], [], []
        for inst in todo[i:i + batch]:
            m = jittered_warp(inst.box, input_size, rng)
            crops.append(C.crop(load_image(inst), m, input_size))
            g = inst.keypoints[coco].astype(np.float64)
            truth.append(C.apply(m, g[:, :2]))
            masks.append(inst.mask[coco] & (g[:, 2] > 0))
            x0, y0, x1, y1 = inst.box
            area = inst.area or AREA_FROM_BOX * (x1 - x0) * (y1 - y0)
            areas.append(area * abs(np.linalg.det(m[:, :2])))
        k = np.asarray(infer(np.stack(crops)), np.float64)
        conf.append(k[..., 2])
        target.append(oks(k[:, coco], np.stack(truth), np.stack(masks), np.array(areas),
                          skeleton.SIGMAS[coco]))
    conf, target = np.concatenate(conf), np.concatenate(target)
    keep = np.isfinite(target)
    return conf[keep], target[keep]


def fit(conf: np.ndarray, target: np.ndarray, *, weight_decay: float = 1e-2,
        epochs: int = 300, lr: float = 3e-3, seed: int = 0) -> np.ndarray:
    """Least-squares logistic fit of target (N,) in [0, 1] on conf (N, K) -> (K + 1,)
    coefficients (weights, bias) on the raw confidences."""
    import torch

    x = np.asarray(conf, np.float64)
    mu, sd = x.mean(0), x.std(0) + 1e-6
    g = torch.Generator().manual_seed(seed)
    xt = torch.tensor((x - mu) / sd, dtype=torch.float32)
    yt = torch.tensor(target, dtype=torch.float32)
    lin = torch.nn.Linear(x.shape[1], 1)
    with torch.no_grad():
        lin.weight.normal_(0, 0.01, generator=g)
        lin.bias.zero_()
    opt = torch.optim.AdamW(lin.parameters(), lr, weight_decay=weight_decay)
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=g)
        for i in range(0, len(xt), 256):
            b = perm[i:i + 256]
            loss = ((torch.sigmoid(lin(xt[b])[:, 0]) - yt[b]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    w = lin.weight.detach().double().numpy()[0] / sd
    b = float(lin.bias.detach()) - float((w * mu).sum())
    return np.concatenate([w, [b]])


#: the share of the labelled points below a mid-torso cut of training people that a
#: model should draw (the student v2 draws 5.1% of LSPET 0-499's at 0.15)
DRAWN_BELOW_CUT = 0.05
#: the fitted power's range (a relative power; the model file's range is wider)
POWER_RANGE = (0.5, 3.0)


def hidden_confidences(infer, instances, input_size) -> np.ndarray:
    """The confidences ``infer`` gives the labelled points hidden below a mid-torso cut
    of ``instances`` (``training/cuts.py``; ground-truth-box crops as ``uniskel eval
    --cut mid-torso`` makes them) -> (M,)."""
    from uniskel.training import evaluate as E
    from uniskel.training.cuts import cut_mid_torso, split_at_cut

    cut = cut_mid_torso(instances)
    if not cut:
        return np.zeros(0)
    preds, kept = E.predict(infer, cut, input_size, padding=E.PADDING, on_error="skip",
                            problems=[])
    if not kept:
        return np.zeros(0)
    hidden = split_at_cut(kept)[2]
    return np.asarray(preds, np.float64)[..., 2][hidden]


def point_power_for(hidden_conf: np.ndarray, share: float = DRAWN_BELOW_CUT,
                    threshold: float = skeleton.DRAW_THRESHOLD) -> float:
    """The power ``p`` for which ``share`` of ``hidden_conf`` (confidences of points that
    are not in the picture) reach ``threshold`` once raised to it: ``conf ** p >=
    threshold`` for that share; within ``POWER_RANGE``, 1 with fewer than 50 points."""
    conf = np.asarray(hidden_conf, np.float64)
    conf = conf[np.isfinite(conf)]
    if len(conf) < 50 or not 0 < share < 1:
        return 1.0
    t = float(np.quantile(conf, 1 - share))  # the confidence this share reaches
    if not 0 < t < 1:
        return 1.0
    return float(np.clip(np.log(threshold) / np.log(t), *POWER_RANGE))


def fit_quality(backend, lsp: list, coco: list, rng, coco_repeats: int = 10,
                seed: int = 0, drawn_below_cut: float | None = DRAWN_BELOW_CUT) -> dict:
    """Fit ``backend``'s point power (``drawn_below_cut``: the share of hidden points it
    should draw; None: keep the model's) on ``lsp`` and ``coco``'s people cut at
    mid-torso, then its quality estimate on the same people (jittered crops,
    ``coco_repeats`` per COCO person) with those confidences: the JSON ``export
    --quality`` reads."""
    from scipy.stats import spearmanr

    from uniskel.engine.models import quality

    had = float(getattr(backend, "point_power", 1.0) or 1.0)
    power, drawn = 1.0, {}
    if drawn_below_cut is not None:
        hid = hidden_confidences(backend.infer, lsp + coco, backend.input_size)
        power = point_power_for(hid, drawn_below_cut)
        thr = skeleton.DRAW_THRESHOLD
        drawn = {"hidden_points": int(len(hid)),
                 "drawn_before": float((hid >= thr).mean()) if len(hid) else None,
                 "drawn_after": float((hid ** power >= thr).mean()) if len(hid) else None}
    parts = [collect(backend.infer, lsp, backend.input_size, rng),
             collect(backend.infer, coco, backend.input_size, rng, coco_repeats)]
    conf = np.concatenate([c for c, _ in parts]) ** power
    target = np.concatenate([t for _, t in parts])
    coef = fit(conf, target, seed=seed)
    est = quality.estimate(conf, coef)
    rule = quality.mean_confidence(conf[:, :17])
    stats = {"people": {"lsp": len(parts[0][1]), "coco": len(parts[1][1])}, **drawn,
             "crops": int(len(target)), "mean_oks": float(target.mean()),
             "spearman_estimate": float(spearmanr(est, target)[0]),
             "spearman_mean_confidence": float(spearmanr(rule, target)[0])}
    return {"quality": [round(float(v), 6) for v in coef],
            "point_power": round(had * power, 6),
            "model": str(getattr(backend, "path", None) or ""),
            "decode_window": getattr(backend, "window", None), "seed": seed, "fit": stats}
