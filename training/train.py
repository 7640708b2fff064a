"""``uniskel train``: train a teacher on one skeleton, or distil the 21-keypoint student.

    uniskel train teacher --dataset lspet --out runs/teacher_lsp
    uniskel train student --datasets lspet,coco_mini --teachers runs/teacher_lsp/last.pt,blazepose
    uniskel train student --config training/configs/student.toml --resume

One loop for both: the teacher is the student's loop with one dataset and no teachers.
Loss = w_gt * SimCC KL on annotated points + for each teacher, its weight * decay(epoch) *
distillation on the points it teaches (training/teachers.py, training/losses.py).
Resuming continues exactly: the sample plan of an epoch is a function of (seed, epoch),
each sample's augmentation a function of (seed, epoch, position), and the checkpoint
holds model, optimiser, scheduler, scaler, RNG states and the position in the epoch.

Under torchrun (``torchrun --nproc_per_node N -m uniskel train ...``) each of the N
processes takes ``batch_size`` samples of every step's global batch of N x batch_size
(training/distributed.py); rank 0 alone writes checkpoints and logs. A checkpoint
records its global batch: resumed with another number of processes, each takes
global batch / N (which must divide), so the run continues on the same samples, equal
within float tolerance (sums over the ranks add in another order).

The parts: training/config.py (settings, TOML), training/data.py (instances, the mixed
sampler), training/teachers.py (the teachers), training/loop.py (the loop and its hooks);
this module puts one run together; commands/train.py is its command line.
"""
from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path

import numpy as np

from uniskel.engine.errors import UniskelError
# the names other modules have used from here (training/pack.py, tests)
from uniskel.training.config import (PRESETS, DatasetSpec, TeacherSpec, TrainConfig,
                                     load_config)
from uniskel.training.data import MixedSamples, load_instances, needs_blazepose, repair_lr_swaps
from uniskel.training.blazepose_cache import blazepose_cache_path
from uniskel.training.blazepose_cache import blazepose_keypoints as _blazepose_for

__all__ = ["train", "device_for", "lr_schedule", "warm_start", "PRESETS", "DatasetSpec",
           "TeacherSpec", "TrainConfig", "load_config", "MixedSamples", "load_instances",
           "needs_blazepose", "repair_lr_swaps", "blazepose_cache_path", "_blazepose_for"]

log = logging.getLogger("uniskel.train")


def device_for(name: str):
    import torch
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UniskelError("train: --device cuda requested but no CUDA device is available")
    return torch.device(name)


def lr_schedule(warmup_steps: int, total_steps: int, hold_until: int = 0,
                floor: float = 0.02):
    """Linear warm-up, then (held at the full rate until step ``hold_until``) a cosine
    down to ``floor`` x the learning rate (a LambdaLR factor)."""
    start = max(warmup_steps, hold_until)

    def factor(step):
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        p = (step - start) / max(1, total_steps - start)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(max(p, 0.0), 1.0)))
    return factor


def check_prefixes(model, prefixes, what: str) -> None:
    """Each parameter-name prefix a config gives (``freeze``, ``lr_scale``) must name some
    parameter of ``model``; one that names none is refused in one line."""
    names = [n for n, _ in model.named_parameters()]
    for pre in prefixes:
        if not any(n.startswith(pre) for n in names):
            tops = ", ".join(sorted({n.split(".")[0] for n in names}))
            raise UniskelError(f"{what}: no parameter of this network starts with {pre!r} "
                               f"(they start with {tops})")


def param_groups(model, decay_norms: bool, lr: float | None = None, lr_scale=None):
    """The optimiser's parameters: all alike, or (``decay_norms`` false) norm layers'
    parameters and biases in a group without weight decay; ``lr_scale`` ({name prefix:
    factor}, the config's): those under a prefix in groups of their own at ``lr`` x
    the factor (the first prefix that matches; one that names no parameter is refused
    in one line, as ``freeze``'s)."""
    import torch
    lr_scale = dict(lr_scale or {})
    if decay_norms and not lr_scale:
        return model.parameters()
    check_prefixes(model, lr_scale, "lr_scale")
    norms = (torch.nn.modules.batchnorm._NormBase, torch.nn.LayerNorm, torch.nn.GroupNorm)
    groups: dict = {}
    for mname, m in model.named_modules():
        for name, p in m.named_parameters(recurse=False):
            full = f"{mname}.{name}" if mname else name
            scale = next((float(f) for k, f in lr_scale.items() if full.startswith(k)), 1.0)
            plain = not decay_norms and (isinstance(m, norms) or name == "bias")
            groups.setdefault((scale, plain), []).append(p)
    out = []
    for (scale, plain), params in groups.items():
        g = {"params": params}
        if plain:
            g["weight_decay"] = 0.0
        if scale != 1.0:
            g["lr"] = lr * scale
        out.append(g)
    return out


def warm_start(model, cfg: TrainConfig) -> None:
    """Start from ``cfg.init_from``: BlazePose's published weights (a blaze_* arch),
    Google's published MoveNet (a movenet_* arch: its own name, e.g. "movenet_lightning",
    or a published MoveNet .onnx; training/students.py) or a checkpoint's tensors of
    matching name and shape."""
    from uniskel.training import students
    from uniskel.training.checkpoint import load_checkpoint
    row = students.row(cfg.arch)
    if row.published and (cfg.init_from == cfg.arch or cfg.init_from.endswith(".onnx")):
        path = cfg.init_from if cfg.init_from.endswith(".onnx") else ""
        n = students.published_weights(model, row, path)
        log.info("warm start from %s: %d tensors", path or row.published, n)
    elif cfg.init_from.endswith(".tflite") or cfg.init_from == "blazepose":
        # MediaPipe's published BlazePose weights (training/blazepose_init.py)
        from uniskel.training.blazepose_init import bundled_full_model, load_blazepose
        path = bundled_full_model() if cfg.init_from == "blazepose" else cfg.init_from
        n = load_blazepose(model, path)
        log.info("warm start from %s: %d tensors", path, n)
    elif cfg.init_from:
        src = load_checkpoint(cfg.init_from)["state_dict"]
        own = model.state_dict()
        same = {k: v for k, v in src.items() if k in own and own[k].shape == v.shape}
        model.load_state_dict(same, strict=False)
        log.info("warm start from %s: %d/%d tensors", cfg.init_from, len(same), len(own))


def freeze(model, prefixes) -> int:
    """Keep the parameters whose names start with one of ``prefixes`` as they are (no
    gradient, so the optimiser leaves them); returns how many. A prefix that names no
    parameter is refused in one line."""
    check_prefixes(model, prefixes, "freeze")
    n = 0
    for name, p in model.named_parameters():
        if prefixes and name.startswith(tuple(prefixes)):
            p.requires_grad_(False)
            n += 1
    if n:
        log.info("frozen: %d parameter tensors (%s)", n, ", ".join(prefixes))
    return n


def check_run_folder(out, resume: bool, overwrite: bool) -> None:
    """A run folder that holds a last.pt is another run: continue it (``resume``) or
    replace it (``overwrite``), never silently; refused in one line before anything."""
    last = Path(out) / "last.pt"
    if resume and overwrite:
        raise UniskelError("train: --resume continues the run in the folder, --overwrite "
                           "starts it afresh; give one of them")
    if not resume and not overwrite and last.exists():
        raise UniskelError(f"train: {out} already holds a run ({last}); continue it with "
                           f"--resume, start afresh over it with --overwrite, or choose "
                           f"another --out")


def train(cfg: TrainConfig, resume: bool = False, max_steps: int | None = None,
          hooks: list | None = None, overwrite: bool = False) -> Path:
    """Run (or resume) training; returns the path of the last checkpoint. ``hooks``
    (training/loop.py: Hook) run after the progress bar, TensorBoard and checkpoints.
    A folder holding an earlier run's last.pt needs ``resume`` or ``overwrite``.
    Under torchrun, one process of a distributed run (training/distributed.py)."""
    from uniskel.training import distributed
    from uniskel.training.config import validate
    validate(cfg)  # every value, before anything is loaded or made
    check_run_folder(cfg.out, resume, overwrite)
    group = distributed.setup(cfg.device)
    try:
        return _train(cfg, resume, max_steps, hooks, group)
    finally:
        distributed.teardown(group)


def _check_resumable(ck: dict, cfg: TrainConfig, last: Path) -> None:
    """A run resumes only as the network it was: the same arch and input size."""
    saved = ck["config"] if isinstance(ck.get("config"), dict) else {}
    was_arch, was_size = saved.get("arch"), list(saved.get("input_size") or ())
    if was_arch != cfg.arch:
        raise UniskelError(f"--resume: {last} was trained as arch {was_arch!r}, the config "
                           f"now says {cfg.arch!r}; set arch back to {was_arch!r}, or start a "
                           f"new run in another --out")
    if was_size != list(cfg.input_size):
        raise UniskelError(f"--resume: {last} was trained at input size {was_size}, the "
                           f"config now says {list(cfg.input_size)}; set input_size back, or "
                           f"start a new run in another --out")


def _train(cfg: TrainConfig, resume: bool, max_steps: int | None, hooks: list | None,
           group) -> Path:
    import random

    import torch

    from uniskel.engine.models.model import config_for, from_config
    from uniskel.training import data as D
    from uniskel.training import distributed
    from uniskel.training import loop
    from uniskel.training import students
    from uniskel.training.checkpoint import load_checkpoint, rng_state, set_rng_state
    from uniskel.training.students import LossContext
    from uniskel.training.teachers import build_teachers

    if not cfg.datasets:
        raise UniskelError("train: no datasets given (--datasets or [[datasets]] in the config)")
    for spec in cfg.datasets:  # before anything slow: a preset not pointed at the data
        D.check_paths(spec)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    last = out / "last.pt"
    main = group is None or group.main
    rank, world = (0, 1) if group is None else (group.rank, group.world)
    ck = None
    if resume:
        if not last.exists():
            raise UniskelError(f"--resume: no checkpoint at {last}")
        ck = load_checkpoint(last)
        _check_resumable(ck, cfg, last)
    # the global batch: a resumed run keeps its checkpoint's, whatever the process count
    per_rank = cfg.batch_size
    if ck is not None:
        global_batch = int(ck.get("global_batch", cfg.batch_size))
        if global_batch % world:
            raise UniskelError(f"--resume: the checkpoint's global batch {global_batch} does "
                               f"not split over {world} processes; use a process count "
                               f"that divides it")
        per_rank = global_batch // world
        if per_rank != cfg.batch_size and main:
            log.info("resuming a global batch of %d: %d per process on %d", global_batch,
                     per_rank, world)
    global_batch = per_rank * world
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    random.seed(cfg.seed)
    device = device_for(cfg.device) if group is None else group.device

    # decoding weighs the bins within about one label sigma of the peak, so a confident
    # keypoint scores about 0.75 whatever the input size
    row = students.row(cfg.arch)  # the student table: its family's view and losses
    mcfg = config_for(cfg.arch, **{"input_size": tuple(cfg.input_size),
                                   "decode_window": max(3, round(max(cfg.loss.sigma))),
                                   **row.model})
    model = from_config(mcfg).to(device)
    if device.type == "cuda":  # one fixed input shape: let cuDNN pick its fastest kernels
        torch.backends.cudnn.benchmark = True
    if device.type == "cpu":  # oneDNN's fast convolution layout (about 1.5x on CPU)
        model = model.to(memory_format=torch.channels_last)
    if not resume:
        warm_start(model, cfg)
    freeze(model, cfg.freeze)
    if group is not None and cfg.sync_bn:
        model = distributed.sync_batchnorm(model, device)
    # after the student: a model teacher's construction draws from torch's RNG
    ctx = LossContext(cfg.loss, mcfg.bins, mcfg.split_ratio, row.family,
                      tuple(cfg.input_size))
    teachers = build_teachers(cfg, device, ctx)

    if group is not None and not main:
        group.barrier()  # rank 0 fills any cache first (e.g. BlazePose's), the rest read it
    sources = D.prepare_sources(cfg, [t for t in teachers if t.kind == "cached"])
    if group is not None and main:
        group.barrier()
    final_from = cfg.epochs - cfg.final_epochs if cfg.final_epochs > 0 else None
    rendered = (cfg.teacher_size,) * 2 if cfg.teacher_size else tuple(cfg.input_size)
    data = D.MixedSamples(sources, rendered, cfg.augment, cfg.loss, cfg.seed,
                          cfg.on_error, cfg.final_augment or cfg.augment, final_from)
    per_epoch = cfg.samples_per_epoch or sum(len(s[1]) for s in sources)
    steps_per_epoch = per_epoch // global_batch
    if steps_per_epoch == 0:
        raise UniskelError(f"train: {per_epoch} samples per epoch make no step of a global "
                           f"batch of {global_batch}")

    opt = torch.optim.AdamW(param_groups(model, cfg.decay_norms, cfg.lr, cfg.lr_scale), lr=cfg.lr,
                            weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lr_schedule(cfg.warmup_steps, steps_per_epoch * cfg.epochs,
                         cfg.cosine_from_epoch * steps_per_epoch, cfg.lr_floor))
    amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    progress = loop.Progress()
    ema_average = None
    if ck is not None:
        model.load_state_dict(ck.get("train_state_dict", ck["state_dict"]))
        ema_average = ck["state_dict"]
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        if ck["scaler"]:  # empty when saved on CPU (scaler off): a CUDA run starts its own
            scaler.load_state_dict(ck["scaler"])
        progress = loop.Progress(ck["epoch"], ck["step_in_epoch"], ck["global_step"])
        set_rng_state(ck["rng"])
        if main:
            log.info("resumed %s at epoch %d step %d", last, progress.epoch,
                     progress.step_in_epoch)
    ema = (loop.EMA(model, cfg.ema_momentum, average=ema_average)
           if cfg.ema_momentum > 0 and main else None)
    trained = model  # the module itself; the loop calls its family's view of it (for a
    model = row.family.view(model)  # MoveNet its maps), which DDP wraps for the steps
    if group is not None:
        model = distributed.wrap(model, group)

    def state(p: loop.Progress) -> dict:
        weights = trained.state_dict()
        return {
            "config": mcfg.to_dict(), "state_dict": ema.average if ema else weights,
            **({"train_state_dict": weights} if ema else {}),
            "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
            "scaler": scaler.state_dict(), "epoch": p.epoch, "step_in_epoch": p.step_in_epoch,
            "global_step": p.global_step, "global_batch": global_batch, "processes": world,
            "train_config": dataclasses.asdict(cfg), "rng": rng_state(),
            "meta": {"mode": cfg.mode, "datasets": [d.name for d in cfg.datasets],
                     "teachers": [t.kind + (":" + t.path if t.path else "")
                                  for t in cfg.teachers]},
        }

    def batches(epoch, first_step):
        return D.epoch_batches(data, epoch, first_step, steps_per_epoch, per_rank,
                               cfg.workers, device.type == "cuda", rank, world)

    run_hooks = []
    if main:  # rank 0 alone shows progress and writes logs and checkpoints
        tb = loop.TensorBoardLog.open(out / "tb")
        run_hooks = [loop.ProgressBar()] + ([tb] if tb else []) + ([ema] if ema else []) + [
            loop.Checkpoints(last, state, cfg.checkpoint_every)] + list(hooks or [])
    plan = loop.Plan(cfg.epochs, steps_per_epoch, device, cfg.mode, amp, cfg.clip_norm,
                     max_steps=max_steps,
                     student_size=tuple(cfg.input_size) if cfg.teacher_size else None)
    loop.run(model, opt, sched, scaler, batches, teachers, ctx, plan, progress, run_hooks,
             group)
    return last
