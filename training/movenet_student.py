"""Student v2: MoveNet Lightning's network (Google, Apache-2.0 weights) with all 21
unified points.

The 17 COCO points keep Lightning's published channels unchanged (Lightning is the
strongest model reachable here at its speed, and its half-body behaviour is already
right: it gives points outside the picture low confidence). The four points COCO lacks
(pelvis, thorax, upper neck, head top) get output channels of their own in the three
keypoint heads (heatmap, sub-cell offset, regression from the person centre), started
from their neighbours' channels (``engine.movenet_net.EXTRA_INIT``) and trained here on
LSPET's labelled people while everything else stays frozen:

* head top and upper neck: LSPET's labels ("head top", "neck");
* thorax and pelvis: the midpoints of the labelled shoulders and hips (as
  ``engine.skeleton.derive`` defines them for COCO-skeleton data);
* crops as the engine cuts them (box x 1.25), with the usual augmentation, and one in
  three cut at a random height (head to knees) with the rest of the crop black, as a
  person framed from the waist up looks at the edge of a webcam picture: points below
  the cut are trained towards confidence 0;
* losses: CenterNet's penalty-reduced focal loss on the heatmaps (Gaussian targets,
  sigma 1.5 cells), L1 on the offsets at the labelled cell and on the regression at the
  person centre the model itself picks.

Checkpoints every ``save_every`` steps and at each epoch's end (``last.pt``); a run
started again with the same ``out`` resumes from there.

    python -m uniskel.training.movenet_student --out runs/movenet21 --epochs 3
"""
from __future__ import annotations

import argparse
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from uniskel.engine import assets, skeleton
from uniskel.engine.movenet_net import MoveNet, from_movenet

EXTRA = ("pelvis", "thorax", "upper_neck", "head_top")  # unified order: points 17..20
NEW = [skeleton.INDEX[n] for n in EXTRA]


@dataclass
class Config:
    out: str = "runs/movenet21"
    epochs: int = 4
    batch: int = 32
    lr: float = 2e-3
    seed: int = 0
    sigma: float = 1.5           # heatmap Gaussian, in cells (4 px)
    cut_prob: float = 1 / 3      # crops cut at a random height
    save_every: int = 50         # steps
    lsp_ranges: tuple = ((0, 7500), (8000, 9000))  # 7500..7999 stays the validation split
    limit: int | None = None     # people (quick runs)


def build() -> MoveNet:
    """Lightning's weights, widened to 21 points, everything frozen but the new points'
    output channels (a gradient hook zeroes the published channels' gradients)."""
    model = from_movenet(assets.asset("models", "movenet_lightning.onnx"), 21, EXTRA)
    for p in model.parameters():
        p.requires_grad_(False)
    for head, per in (("regress", 2), ("offset", 2), ("heatmap", 1)):
        final = model.heads[head][-1]
        keep = torch.ones(final.weight.shape[0], 1, 1, 1)
        keep[: 17 * per] = 0
        for p, k in ((final.weight, keep), (final.bias, keep.view(-1))):
            p.requires_grad_(True)
            p.register_hook(lambda g, k=k: g * k)
    return model


def trainable(model: MoveNet) -> list:
    return [p for p in model.parameters() if p.requires_grad]


def cut(patch, kpts, mask, rng):
    """Black out the crop below a random height between the shoulders and the knees;
    points below the cut are no longer visible."""
    ys = [kpts[skeleton.INDEX[n], 1] for n in ("left_shoulder", "right_shoulder",
                                                "left_knee", "right_knee")]
    top, bottom = min(ys[:2]), max(ys[2:])
    if not (np.isfinite(top) and np.isfinite(bottom)) or bottom - top < 8:
        return patch, mask
    row = int(rng.uniform(top + 0.3 * (bottom - top), bottom))
    if not 0 < row < patch.shape[0]:
        return patch, mask
    patch = patch.copy()
    patch[row:] = 0
    return patch, mask & (kpts[:, 1] < row)


def sample(inst, rng, cfg: Config, size: int):
    from uniskel.training.augment import AugmentConfig, make_sample

    image = cv2.imread(str(inst.image))  # BGR, as make_sample takes it
    kpts = inst.keypoints[:, :2].astype(np.float64).copy()
    mask = inst.mask.copy()
    for name in ("thorax", "pelvis"):  # midpoints of the labelled parents
        a, b = (skeleton.INDEX[n] for n in skeleton.DERIVED_RULES[name])
        i = skeleton.INDEX[name]
        mask[i] = mask[a] and mask[b]
        kpts[i] = (kpts[a] + kpts[b]) / 2
    patch, out, mask, _, _ = make_sample(image, inst.box, kpts, mask, (size, size),
                                         AugmentConfig(half_body_prob=0.0), rng)
    if rng.random() < cfg.cut_prob:
        patch, mask = cut(patch, out, mask, rng)
    return patch, out, mask


def focal(pred, target, pos):
    """CenterNet's penalty-reduced focal loss, summed and divided by the positives."""
    pred = pred.clamp(1e-4, 1 - 1e-4)
    pos_loss = (1 - pred) ** 2 * torch.log(pred) * pos
    neg_loss = (1 - target) ** 4 * pred ** 2 * torch.log(1 - pred) * (1 - pos)
    return -(pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp(min=1)


def loss_fn(model: MoveNet, maps: dict, kpts, mask, sigma: float):
    """Losses of the four new points. kpts (N, 21, 2) crop px, mask (N, 21) bool."""
    n, cells = kpts.shape[0], maps["heatmap"].shape[-1]
    stride = model.input_size / cells
    k = torch.as_tensor(kpts[:, NEW] / stride, dtype=torch.float32)  # (N, 4, 2) cells
    vis = torch.as_tensor(mask[:, NEW], dtype=torch.float32)           # (N, 4)
    gy, gx = model.grid_y.view(1, 1, cells, 1), model.grid_x.view(1, 1, 1, cells)
    d2 = (gx - k[..., 0, None, None]) ** 2 + (gy - k[..., 1, None, None]) ** 2
    target = torch.exp(-d2 / (2 * sigma ** 2)) * vis[..., None, None]
    cell = k.round().clamp(0, cells - 1).long()                        # (N, 4, 2) x, y
    flat = cell[..., 1] * cells + cell[..., 0]
    pos = torch.zeros_like(target).flatten(2)
    pos.scatter_(2, flat.unsqueeze(2), vis.unsqueeze(2))
    heat = maps["heatmap"][:, 17:]
    l_heat = focal(heat, target, pos.view_as(target))
    # offsets at the labelled cell, regression at the centre the model picks
    off = maps["offset"][:, 34:].flatten(2).view(n, 4, 2, cells * cells)
    off = off.gather(3, flat.view(n, 4, 1, 1).expand(n, 4, 2, 1)).squeeze(3)  # (y, x)
    want = torch.stack([k[..., 1] - cell[..., 1], k[..., 0] - cell[..., 0]], 2)
    l_off = ((off - want).abs().sum(2) * vis).sum() / vis.sum().clamp(min=1)
    with torch.no_grad():
        centre = (maps["center"] * model.center_prior).flatten(1).argmax(1)
    cy, cx = (centre // cells).float(), (centre % cells).float()
    reg = maps["regress"][:, 34:].flatten(2).gather(
        2, centre.view(n, 1, 1).expand(n, 8, 1)).view(n, 4, 2)
    want = torch.stack([k[..., 1] - cy[:, None], k[..., 0] - cx[:, None]], 2)
    l_reg = ((reg - want).abs().sum(2) * vis).sum() / vis.sum().clamp(min=1)
    return l_heat + l_off + 0.1 * l_reg, {"heat": l_heat.item(), "offset": l_off.item(),
                                            "regress": l_reg.item()}


def people(cfg: Config):
    from uniskel.training.datasets import read

    data = assets.shared_data() / "lspet"
    out = []
    for a, b in cfg.lsp_ranges:
        out += read("lsp", data / "joints.mat", data / "images", index_range=(a, b),
                    on_error="skip")
    return out[: cfg.limit] if cfg.limit else out


def train(cfg: Config) -> Path:
    from uniskel.engine.modelfile import read_checkpoint, write_checkpoint

    out = Path(cfg.out)
    torch.manual_seed(cfg.seed)
    model = build()
    opt = torch.optim.Adam(trainable(model), cfg.lr)
    insts = people(cfg)
    steps_per_epoch = len(insts) // cfg.batch
    total = steps_per_epoch * cfg.epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=total, pct_start=0.05)
    step = 0
    last = out / "last.pt"
    if last.is_file():
        ck = read_checkpoint(last)
        model.load_state_dict(ck["state_dict"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        step = int(ck["step"])
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
        kpts = np.stack([b[1] for b in batch])
        mask = np.stack([b[2] for b in batch])
        loss, parts = loss_fn(model, model.maps(crops), kpts, mask, cfg.sigma)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        if step % 10 == 0 or step == total:
            rate = step / max(time.time() - t0, 1e-9)
            print(f"step {step}/{total} epoch {epoch} loss {float(loss):.3f} "
                  + " ".join(f"{k} {v:.3f}" for k, v in parts.items())
                  + f" ({rate:.2f} steps/s)", flush=True)
        if step % cfg.save_every == 0 or step == total or (step % steps_per_epoch == 0):
            write_checkpoint({"state_dict": model.state_dict(), "optimizer": opt.state_dict(),
                              "scheduler": sched.state_dict(), "step": step,
                              "config": dataclasses.asdict(cfg)}, last)
    return last


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for f in dataclasses.fields(Config):
        if f.name == "lsp_ranges":
            continue
        kind = {"int": int, "float": float, "str": str}.get(str(f.type).split(" ")[0], None)
        p.add_argument("--" + f.name.replace("_", "-"), type=kind or int, default=f.default)
    args = p.parse_args(argv)
    cfg = Config(**{k: v for k, v in vars(args).items()})
    print(train(cfg))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
