"""``uniskel train``: train a teacher on one skeleton, or distil the 21-keypoint student.

    uniskel train teacher --dataset lspet --out runs/teacher_lsp
    uniskel train student --datasets lspet,coco_mini --teachers runs/teacher_lsp/last.pt,blazepose
    uniskel train student --config training/configs/student.toml --resume

One loop for both: the teacher is the student's loop with one dataset and no teachers.
Loss = w_gt * SimCC KL on annotated points + for each teacher, w_teacher * decay(epoch) *
distillation on the points its skeleton covers (see training/losses.py).
Resuming continues exactly: the sample plan of an epoch is a function of (seed, epoch),
each sample's augmentation a function of (seed, epoch, position), and the checkpoint
holds model, optimiser, scheduler, scaler, RNG states and the position in the epoch.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from uniskel.engine import skeleton
from uniskel.engine.errors import UniskelError

log = logging.getLogger("uniskel.train")


@dataclass
class DatasetSpec:
    name: str
    format: str                    # coco | mpii | lsp | halpe | aic | crowdpose
    images: str
    annotations: str               # JSON file, or joints.mat for lsp
    range: tuple[int, int] | None = None  # keep instances [a, b) (e.g. LSPET's split)
    weight: float = 1.0            # sampling weight in the mixed loader
    split: str | None = None       # "train" | "val": keep one part of the image-id
                                   # split (training/datasets.py: split_part), e.g. coco_mini


@dataclass
class TeacherSpec:
    kind: str                      # "model" (a PoseNet checkpoint) | "blazepose"
    path: str = ""                 # checkpoint for kind=model
    skeleton: str = "lsp"          # which dataset skeleton a model teacher covers
    role: str = "mpii"             # "coco" or "mpii": which loss weight of the paper applies
    where_gt: bool | tuple[str, ...] | None = None  # also teach points that have ground
                                   # truth: true/false, or only on these datasets (names);
                                   # None: the loss's teacher_where_gt
    complexity: int = 1            # kind=blazepose: 1 "full" (in the mediapipe wheel),
                                   # 2 "heavy" (from npm @mediapipe/pose, see tflite)
    tflite: str = ""               # kind=blazepose: the landmark .tflite to install for
                                   # that complexity (e.g. pose_landmark_heavy.tflite)


@dataclass
class TrainConfig:
    mode: str = "student"          # "teacher" | "student"
    arch: str = "tiny"
    input_size: tuple[int, int] = (128, 96)
    datasets: list[DatasetSpec] = field(default_factory=list)
    teachers: list[TeacherSpec] = field(default_factory=list)
    epochs: int = 30
    samples_per_epoch: int = 0     # 0: the sum of the datasets' sizes
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_steps: int = 300
    seed: int = 0
    device: str = "auto"           # auto | cpu | cuda
    workers: int = 1
    amp: bool = True               # mixed precision on CUDA
    out: str = "runs/student"
    init_from: str = ""            # warm start: a checkpoint's matching weights, or for a
                                   # blaze_* arch "blazepose" (the mediapipe wheel's model)
                                   # or a BlazePose landmark .tflite
    checkpoint_every: int = 0      # also checkpoint every N steps (0: once per epoch)
    on_error: str = "skip"         # bad annotation entries / images: "skip" (logged) | "raise"
    repair_lr_swaps: bool = True   # fix LSPET's left/right swaps using the BlazePose teacher
    cache_dir: str = "runs/cache"
    loss: "LossConfig" = None      # filled in __post_init__
    augment: "AugmentConfig" = None

    def __post_init__(self):
        from uniskel.training.augment import AugmentConfig
        from uniskel.training.losses import LossConfig
        if self.loss is None:
            self.loss = LossConfig()
        if self.augment is None:
            self.augment = AugmentConfig()


def _shared(*parts) -> str:
    from uniskel.engine.assets import shared_data
    return str(shared_data().joinpath(*parts))


# Short names for the datasets in ../shared/data; anything else comes from a config file.
PRESETS = {
    "lspet": lambda: DatasetSpec("lspet", "lsp", _shared("lspet", "images"),
                                 _shared("lspet", "joints.mat"), (0, 7500)),
    "lspet_val": lambda: DatasetSpec("lspet_val", "lsp", _shared("lspet", "images"),
                                     _shared("lspet", "joints.mat"), (7500, 8000)),
    "coco_mini": lambda: DatasetSpec(
        "coco_mini", "coco", _shared("coco_mini", "train2017"),
        _shared("coco_mini", "annotations", "person_keypoints_train2017.json"), None, 1.0,
        "train"),
}


def _from_dict(cls, d):
    """Build a (nested) config dataclass from a TOML table, rejecting unknown keys."""
    from uniskel.training.augment import AugmentConfig
    from uniskel.training.losses import LossConfig
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(d) - set(names)
    if unknown:
        raise UniskelError(f"unknown {cls.__name__} keys in config: {', '.join(sorted(unknown))}")
    kw = {}
    for k, v in d.items():
        if k == "datasets":
            v = [_from_dict(DatasetSpec, x) for x in v]
        elif k == "teachers":
            v = [_from_dict(TeacherSpec, x) for x in v]
        elif k == "loss":
            v = _from_dict(LossConfig, v)
        elif k == "augment":
            v = _from_dict(AugmentConfig, v)
        elif isinstance(v, list):
            v = tuple(v)
        kw[k] = v
    return cls(**kw)


def load_config(path: str | Path) -> TrainConfig:
    import tomllib
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise UniskelError(f"config not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UniskelError(f"config {path} is not valid TOML: {exc}") from None
    return _from_dict(TrainConfig, data)


# ---------------------------------------------------------------- data

def load_instances(spec: DatasetSpec, on_error: str):
    from uniskel.training import datasets
    if spec.format not in datasets.READERS:
        raise UniskelError(f"dataset {spec.name}: unknown format {spec.format!r} "
                           f"(use one of {', '.join(datasets.READERS)})")
    insts = datasets.read(spec.format, spec.annotations, spec.images, split=spec.split,
                          on_error=on_error)
    if spec.range is not None:
        a, b = spec.range
        insts = [x for x in insts if a <= _index(x) < b]
    if not insts:
        raise UniskelError(f"dataset {spec.name}: no usable person instances in {spec.annotations}")
    return insts


def _index(inst) -> int:
    """Position of an instance in its source file (LSP: image index), for splits."""
    return int(getattr(inst, "index", 0))


def repair_lr_swaps(insts, teacher_kpts: np.ndarray, min_conf=0.5, ratio=0.5) -> int:
    """Swap left/right labels of instances whose swapped version fits BlazePose far better.

    LSPET's crowd-sourced labels have left and right exchanged in about one image in
    eleven. For each instance, compare the labelled limb joints with BlazePose's
    confident predictions as labelled and as mirrored; swap when mirrored error <
    ``ratio`` x labelled error. Returns how many were swapped.
    """
    flip = skeleton.flip_index()
    limbs = np.array([i for i in range(5, 17)])
    n = 0
    for inst, t in zip(insts, teacher_kpts):
        ok = inst.mask[limbs] & inst.mask[flip[limbs]] & (t[limbs, 2] > min_conf)
        if ok.sum() < 4 or np.isnan(t).any():
            continue
        gt = inst.keypoints[:, :2]
        e_same = np.linalg.norm(gt[limbs][ok] - t[limbs, :2][ok], axis=1).mean()
        e_swap = np.linalg.norm(gt[flip[limbs]][ok] - t[limbs, :2][ok], axis=1).mean()
        if e_swap < ratio * e_same:
            inst.keypoints = inst.keypoints[flip].copy()
            inst.mask = inst.mask[flip].copy()
            n += 1
    return n


class MixedSamples:
    """Torch-style dataset over several sources; ``plan`` says which (source, index) each
    position of the current epoch draws."""

    def __init__(self, sources, input_size, augment, loss_cfg, seed, on_error):
        self.sources = sources  # list of (spec, instances, blazepose (n,21,3) or None)
        self.input_size = tuple(input_size)
        self.augment, self.seed, self.on_error = augment, seed, on_error
        self.plan = np.zeros((0, 2), np.int64)
        self.epoch = 0
        self.derived = [
            [skeleton.INDEX[n] for n in skeleton.MAPPINGS[spec.format].derived]
            for spec, _, _ in sources]

    def make_plan(self, epoch: int, samples_per_epoch: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, epoch, 7])
        w = np.array([spec.weight for spec, _, _ in self.sources], np.float64)
        counts = np.floor(samples_per_epoch * w / w.sum()).astype(int)
        counts[0] += samples_per_epoch - counts.sum()
        parts = []
        for k, ((_, insts, _), c) in enumerate(zip(self.sources, counts)):
            idx = rng.choice(len(insts), c, replace=c > len(insts))
            parts.append(np.stack([np.full(c, k), idx], 1))
        plan = np.concatenate(parts)
        self.plan = plan[rng.permutation(len(plan))]
        self.epoch = epoch
        return self.plan

    def __len__(self):
        return len(self.plan)

    def __getitem__(self, pos):
        import cv2
        import torch

        from uniskel.training.augment import make_sample
        cv2.setNumThreads(1)
        k, i = self.plan[pos]
        spec, insts, bp = self.sources[k]
        inst = insts[i]
        rng = np.random.default_rng([self.seed, self.epoch, int(pos)])
        img = cv2.imread(str(inst.image))
        h, w = self.input_size
        if img is None:
            if self.on_error == "raise":
                raise UniskelError(f"{spec.name}: image {inst.image} does not decode")
            log.warning("%s: image %s does not decode; sample %d left empty",
                        spec.name, inst.image, pos)
            img = np.zeros((h, w, 3), np.uint8)
            mask = np.zeros(skeleton.NUM_KEYPOINTS, bool)
        else:
            mask = inst.mask
        teacher = bp[i] if bp is not None else np.zeros((skeleton.NUM_KEYPOINTS, 3), np.float32)
        patch, coords, mask, _, (tk,) = make_sample(
            img, inst.box, inst.keypoints, mask, self.input_size, self.augment, rng, [teacher])
        for d in self.derived[k]:  # documented rule: thorax / pelvis = midpoint of parents
            a, b = (skeleton.INDEX[n] for n in skeleton.DERIVED_RULES[skeleton.KEYPOINTS[d]])
            if mask[a] and mask[b]:
                coords[d] = (coords[a] + coords[b]) / 2
                mask[d] = True
        tk = np.nan_to_num(tk)
        t_ok = ((tk[:, 0] >= 0) & (tk[:, 0] < w) & (tk[:, 1] >= 0) & (tk[:, 1] < h))
        return {
            "image": torch.from_numpy(np.ascontiguousarray(patch.transpose(2, 0, 1))).float(),
            "coords": torch.from_numpy(coords),
            "mask": torch.from_numpy(mask),
            "teacher_coords": torch.from_numpy(tk[:, :2].astype(np.float32)),
            "teacher_conf": torch.from_numpy((tk[:, 2] * t_ok).astype(np.float32)),
            "source": int(k),
        }


# ---------------------------------------------------------------- loop

def _device(name: str):
    import torch
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UniskelError("train: --device cuda requested but no CUDA device is available")
    return torch.device(name)


def _blazepose_spec(cfg: TrainConfig) -> TeacherSpec:
    return next((t for t in cfg.teachers if t.kind == "blazepose"), TeacherSpec("blazepose"))


def blazepose_cache_path(spec: DatasetSpec, n: int, cfg: TrainConfig) -> Path:
    """Where the BlazePose teacher's keypoints for ``n`` instances of ``spec`` are cached."""
    rng = "all" if spec.range is None else f"{spec.range[0]}-{spec.range[1]}"
    if spec.split is not None:
        rng += f"_{spec.split}"
    c = _blazepose_spec(cfg).complexity
    model = "" if c == 1 else f"_c{c}"  # "full" keeps its old name
    return Path(cfg.cache_dir) / f"blazepose{model}_{spec.name}_{rng}_{n}.npz"


def needs_blazepose(spec: DatasetSpec, cfg: TrainConfig) -> bool:
    """A BlazePose teacher, or LSP left/right repair (which compares against BlazePose)."""
    return (any(t.kind == "blazepose" for t in cfg.teachers)
            or (cfg.repair_lr_swaps and spec.format == "lsp"))


def _blazepose_for(spec, insts, cfg: TrainConfig):
    """The BlazePose teacher's keypoints for a dataset's instances (cached in cache_dir)."""
    import os

    from uniskel.training.teachers import BlazePoseCache
    bp = _blazepose_spec(cfg)
    cache = BlazePoseCache(blazepose_cache_path(spec, len(insts), cfg), len(insts))
    if cache.done.all():  # a complete cache needs no mediapipe (e.g. on a remote GPU)
        return cache.keypoints
    if bp.tflite:
        from uniskel.engine.backends.mediapipe import install_landmark_model
        install_landmark_model(bp.tflite, bp.complexity)
    processes = max(1, min(os.cpu_count() or 1, 4))
    return cache.fill(insts, model_complexity=bp.complexity, processes=processes).keypoints


def _where_gt(teacher: TeacherSpec, lc, dataset: str) -> bool:
    """Does this teacher also teach the points that samples of ``dataset`` label?"""
    w = teacher.where_gt
    if w is None:
        return lc.teacher_where_gt
    if isinstance(w, (list, tuple)):
        return dataset in w
    return bool(w)


def _taught(w, mask, on_gt, source):
    """Narrow a teacher's (B, K) point weights ``w`` to the points it teaches: those
    without ground truth, and labelled ones where ``on_gt[source]`` (per dataset) allows."""
    return w & (~mask | on_gt[source][:, None])


def train(cfg: TrainConfig, resume: bool = False, max_steps: int | None = None) -> Path:
    """Run (or resume) training; returns the path of the last checkpoint."""
    import random

    import torch
    from torch.utils.data import DataLoader, Subset
    from tqdm import tqdm

    from uniskel.engine.model import config_for, from_config
    from uniskel.training import losses
    from uniskel.training.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
    from uniskel.training.teachers import ModelTeacher, teacher_covers, BLAZEPOSE_COVERS

    if not cfg.datasets:
        raise UniskelError("train: no datasets given (--datasets or [[datasets]] in the config)")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    last = out / "last.pt"
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    random.seed(cfg.seed)
    device = _device(cfg.device)

    use_bp = any(t.kind == "blazepose" for t in cfg.teachers)
    sources = []
    for spec in cfg.datasets:
        insts = load_instances(spec, cfg.on_error)
        repair = cfg.repair_lr_swaps and spec.format == "lsp"
        bp = _blazepose_for(spec, insts, cfg) if needs_blazepose(spec, cfg) else None
        if repair:
            n = repair_lr_swaps(insts, bp)
            log.info("%s: repaired %d left/right swapped labels of %d", spec.name, n, len(insts))
        sources.append((spec, insts, bp if use_bp else None))
        log.info("%s: %d instances", spec.name, len(insts))
    data = MixedSamples(sources, cfg.input_size, cfg.augment, cfg.loss, cfg.seed, cfg.on_error)
    per_epoch = cfg.samples_per_epoch or sum(len(s[1]) for s in sources)
    steps_per_epoch = per_epoch // cfg.batch_size
    total_steps = steps_per_epoch * cfg.epochs

    # decoding weighs the bins within about one label sigma of the peak, so a confident
    # keypoint scores about 0.75 whatever the input size
    mcfg = config_for(cfg.arch, input_size=tuple(cfg.input_size),
                      decode_window=max(3, round(max(cfg.loss.sigma))))
    model = from_config(mcfg).to(device)
    if device.type == "cuda":  # one fixed input shape: let cuDNN pick its fastest kernels
        torch.backends.cudnn.benchmark = True
    if device.type == "cpu":  # oneDNN's fast convolution layout (about 1.5x on CPU)
        model = model.to(memory_format=torch.channels_last)
    if cfg.init_from.endswith(".tflite") or cfg.init_from == "blazepose":
        if not resume:  # MediaPipe's published BlazePose weights (training/blazepose_init.py)
            from uniskel.training.blazepose_init import bundled_full_model, load_blazepose
            path = bundled_full_model() if cfg.init_from == "blazepose" else cfg.init_from
            n = load_blazepose(model, path)
            log.info("warm start from %s: %d tensors", path, n)
    elif cfg.init_from and not resume:
        src = load_checkpoint(cfg.init_from)["state_dict"]
        own = model.state_dict()
        same = {k: v for k, v in src.items() if k in own and own[k].shape == v.shape}
        model.load_state_dict(same, strict=False)
        log.info("warm start from %s: %d/%d tensors", cfg.init_from, len(same), len(own))
    names = [spec.name for spec, _, _ in sources]

    def on_gt(teacher):  # per dataset (source index): does it teach labelled points too?
        return torch.tensor([_where_gt(teacher, cfg.loss, n) for n in names], device=device)

    model_teachers = []
    for t in cfg.teachers:
        if t.kind == "model":
            mt = ModelTeacher(t.path, teacher_covers(t.skeleton), device)
            if mt.cfg.bins != mcfg.bins:
                raise UniskelError(f"teacher {t.path}: input {mt.cfg.input_size} differs from "
                                   f"the student's {mcfg.input_size}")
            model_teachers.append((t, mt, on_gt(t)))
        elif t.kind != "blazepose":
            raise UniskelError(f"unknown teacher kind {t.kind!r} (use 'model' or 'blazepose')")

    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    def lr_at(step):
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        p = (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps)
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(p, 1.0)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    epoch, step_in_epoch, global_step = 0, 0, 0
    if resume:
        if not last.exists():
            raise UniskelError(f"--resume: no checkpoint at {last}")
        ck = load_checkpoint(last)
        model.load_state_dict(ck["state_dict"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        if ck["scaler"]:  # empty when saved on CPU (scaler off): a CUDA run starts its own
            scaler.load_state_dict(ck["scaler"])
        epoch, step_in_epoch, global_step = ck["epoch"], ck["step_in_epoch"], ck["global_step"]
        set_rng_state(ck["rng"])
        log.info("resumed %s at epoch %d step %d", last, epoch, step_in_epoch)

    writer = None
    try:
        from torch.utils.tensorboard import SummaryWriter
        writer = SummaryWriter(str(out / "tb"))
    except Exception as exc:  # tensorboard missing: training still works, say so
        log.warning("TensorBoard logging off: %s", exc)

    def checkpoint(ep, sie):
        state = {
            "config": mcfg.to_dict(), "state_dict": model.state_dict(),
            "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
            "scaler": scaler.state_dict(), "epoch": ep, "step_in_epoch": sie,
            "global_step": global_step, "train_config": dataclasses.asdict(cfg),
            "rng": rng_state(),
            "meta": {"mode": cfg.mode, "datasets": [d.name for d in cfg.datasets],
                     "teachers": [t.kind + (":" + t.path if t.path else "") for t in cfg.teachers]},
        }
        save_checkpoint(state, last)

    lc = cfg.loss
    bp_covers = torch.as_tensor(BLAZEPOSE_COVERS, device=device)
    bp_on_gt = on_gt(_blazepose_spec(cfg)) if use_bp else None
    while epoch < cfg.epochs:
        data.make_plan(epoch, steps_per_epoch * cfg.batch_size)
        positions = range(step_in_epoch * cfg.batch_size, steps_per_epoch * cfg.batch_size)
        loader = DataLoader(Subset(data, positions), batch_size=cfg.batch_size, shuffle=False,
                            num_workers=cfg.workers, drop_last=True,
                            persistent_workers=False, pin_memory=device.type == "cuda")
        decay = losses.decay_factor(lc, epoch, cfg.epochs)
        model.train()
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", initial=step_in_epoch,
                   total=steps_per_epoch, dynamic_ncols=True)
        t0, seen = time.perf_counter(), 0
        for batch in bar:
            img = batch["image"].to(device, non_blocking=True)
            if device.type == "cpu":
                img = img.contiguous(memory_format=torch.channels_last)
            coords = batch["coords"].to(device)
            mask = batch["mask"].to(device)
            source = batch["source"].to(device)
            with torch.autocast(device.type, enabled=amp, dtype=torch.float16):
                pred = model(img)
                terms = {}
                l_gt = losses.simcc_loss(pred, coords, mask, mcfg.bins, mcfg.split_ratio, lc)
                if cfg.mode == "teacher":
                    total = l_gt
                else:
                    total = lc.w_gt * l_gt
                    for t, mt, t_on_gt in model_teachers:
                        w = _taught(mt.covers.to(device)[None].expand_as(mask), mask, t_on_gt,
                                    source)
                        rows = w.any(-1)  # run the teacher only where it teaches
                        if not rows.any():
                            continue
                        l_t = losses.model_distill_loss([p[rows] for p in pred],
                                                        mt(img[rows]), w[rows], lc)
                        wt = lc.w_coco_teacher if t.role == "coco" else lc.w_mpii_teacher
                        total = total + wt * decay * l_t
                        terms[f"teacher_{t.skeleton}"] = l_t
                    if use_bp:
                        conf = batch["teacher_conf"].to(device)
                        w = _taught(bp_covers[None] & (conf > lc.teacher_min_conf), mask,
                                    bp_on_gt, source)
                        l_bp = losses.simcc_loss(pred, batch["teacher_coords"].to(device),
                                                 w.float() * conf, mcfg.bins, mcfg.split_ratio, lc)
                        total = total + lc.w_coco_teacher * decay * l_bp
                        terms["teacher_blazepose"] = l_bp
            if not torch.isfinite(total):
                raise UniskelError(f"train: loss became {total.item()} at step {global_step}; "
                                   "lower the learning rate or check the data")
            opt.zero_grad(set_to_none=True)
            scaler.scale(total).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            scaler.step(opt)
            scaler.update()
            sched.step()
            global_step += 1
            step_in_epoch += 1
            seen += img.shape[0]
            speed = seen / (time.perf_counter() - t0)
            bar.set_postfix(loss=f"{total.item():.4f}", gt=f"{l_gt.item():.3f}",
                            img_s=f"{speed:.1f}")
            if writer is not None:
                writer.add_scalar("loss/total", total.item(), global_step)
                writer.add_scalar("loss/gt", l_gt.item(), global_step)
                for k, v in terms.items():
                    writer.add_scalar(f"loss/{k}", v.item(), global_step)
                writer.add_scalar("lr", sched.get_last_lr()[0], global_step)
            if cfg.checkpoint_every and step_in_epoch % cfg.checkpoint_every == 0 \
                    and step_in_epoch < steps_per_epoch:
                checkpoint(epoch, step_in_epoch)
            if max_steps is not None and global_step >= max_steps:
                checkpoint(epoch, step_in_epoch)
                bar.close()
                return last
        bar.close()
        epoch, step_in_epoch = epoch + 1, 0
        checkpoint(epoch, 0)
        log.info("epoch %d done: %s", epoch, last)
    if writer is not None:
        writer.close()
    return last


# ---------------------------------------------------------------- CLI

def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="what", metavar="WHAT", required=True)
    for what, text in (("teacher", "train a model on one dataset's skeleton"),
                       ("student", "distil the 21-keypoint student from teachers and data")):
        q = sub.add_parser(what, help=text, description=text)
        q.add_argument("--config", help="TOML config (copy one from training/configs/)")
        if what == "teacher":
            q.add_argument("--dataset", help=f"dataset preset ({', '.join(PRESETS)})")
        else:
            q.add_argument("--datasets", help="comma-separated dataset presets")
            q.add_argument("--teachers",
                           help="comma-separated: checkpoint paths (LSP/MPII-skeleton model "
                                "teachers) and/or 'blazepose'")
        q.add_argument("--out", help="run folder (checkpoints, TensorBoard logs)")
        q.add_argument("--epochs", type=int)
        q.add_argument("--arch", choices=["tiny", "small", "medium"])
        q.add_argument("--batch-size", type=int)
        q.add_argument("--device", choices=["auto", "cpu", "cuda"])
        q.add_argument("--seed", type=int)
        q.add_argument("--workers", type=int, help="data loader processes")
        q.add_argument("--init-from", help="warm start: a checkpoint's matching weights, or "
                       "(blaze_* archs) 'blazepose' or a BlazePose landmark .tflite")
        q.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
        q.add_argument("--max-steps", type=int, help="stop after N steps (quick checks)")
    q = sub.add_parser("experiment", help="the paper's table: single-dataset vs joint students",
                       description="Train LSPET-only, COCO-only and jointly distilled students "
                                   "and evaluate each on both skeletons (training/experiment.py).")
    q.add_argument("--out", type=Path, default=Path("runs/experiment"))
    q.add_argument("--epochs", type=int, default=2, help="epochs per trained variant (2)")
    q.add_argument("--train", default="lsp_only,coco_only,joint",
                   help="variants to train (comma-separated; default all three)")
    q.add_argument("--use", action="append", default=[], metavar="NAME=CHECKPOINT",
                   help="evaluate an existing checkpoint as variant NAME instead of training it")
    q.add_argument("--no-baseline", action="store_true", help="leave BlazePose out of the table")
    q.add_argument("--config", type=Path, default=Path(__file__).parent / "configs/student.toml",
                   help="the settings every variant shares (model, optimiser, loss, "
                        "augmentation); default: the shipped student's config")


def config_from_args(args) -> TrainConfig:
    cfg = load_config(args.config) if args.config else TrainConfig()
    cfg.mode = args.what
    names = []
    if args.what == "teacher" and args.dataset:
        names = [args.dataset]
    elif args.what == "student" and args.datasets:
        names = [n for n in args.datasets.split(",") if n]
    if names:
        unknown = [n for n in names if n not in PRESETS]
        if unknown:
            raise UniskelError(f"unknown dataset preset(s) {', '.join(unknown)}; presets: "
                               f"{', '.join(PRESETS)}; other data goes in a config file")
        cfg.datasets = [PRESETS[n]() for n in names]
    if args.what == "student" and args.teachers:
        cfg.teachers = [TeacherSpec("blazepose", role="coco") if t == "blazepose"
                        else TeacherSpec("model", t, "lsp", "mpii")
                        for t in args.teachers.split(",") if t]
    if args.what == "teacher":
        cfg.teachers = []
    for k in ("out", "epochs", "arch", "batch_size", "device", "seed", "workers", "init_from"):
        v = getattr(args, k, None)
        if v is not None:
            setattr(cfg, k, v)
    return cfg


def run(args) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.what == "experiment":
        from uniskel.training.experiment import run_experiment
        use = {}
        for item in args.use:
            name, sep, path = item.partition("=")
            if not sep:
                raise UniskelError(f"--use expects NAME=CHECKPOINT, got {item!r}")
            use[name] = path
        to_train = [t for t in args.train.split(",") if t and t not in use]
        base = load_config(args.config) if to_train else None
        md, _ = run_experiment(args.out, args.epochs, use, to_train, not args.no_baseline, base)
        print(md)
        print(f"table: {args.out / 'table.md'}, results: {args.out / 'results.json'}")
        return 0
    cfg = config_from_args(args)
    path = train(cfg, resume=args.resume, max_steps=args.max_steps)
    print(f"checkpoint: {path}")
    return 0
