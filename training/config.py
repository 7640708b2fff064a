"""Training configuration: plain dataclasses, the dataset presets, and the TOML reader.

A config file is a ``TrainConfig`` written as TOML (see training/configs/); unknown keys
are refused by name. Nothing here imports torch.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from uniskel.engine.errors import UniskelError

if TYPE_CHECKING:
    from uniskel.training.augment import AugmentConfig
    from uniskel.training.losses import LossConfig


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
    """One teacher of the student (training/teachers.py: ``KINDS`` turns it into one)."""
    kind: str                      # "model" (a PoseNet checkpoint, run online each step) |
                                   # "blazepose" (keypoints cached once per image)
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
    weight: float | None = None    # this teacher's loss weight; None: the role's
                                   # (loss.w_coco_teacher or loss.w_mpii_teacher)
    decay: str | None = None       # "linear" | "none": this teacher's decay over the
                                   # epochs; None: the loss's decay


@dataclass
class TrainConfig:
    mode: str = "student"          # "teacher" | "student"
    arch: str = "tiny"
    input_size: tuple[int, int] = (128, 96)
    datasets: list[DatasetSpec] = field(default_factory=list)
    teachers: list[TeacherSpec] = field(default_factory=list)
    epochs: int = 30
    samples_per_epoch: int = 0     # 0: the sum of the datasets' sizes
    batch_size: int = 32           # per process: under torchrun each of N processes takes
                                   # this many, a step's global batch is N x batch_size
    lr: float = 2e-3
    weight_decay: float = 0.05
    decay_norms: bool = True       # weight decay on norm layers and biases too (false:
                                   # on convolution and linear weights only, as RTMPose)
    warmup_steps: int = 300
    cosine_from_epoch: int = 0     # after warm-up the learning rate holds until this epoch,
                                   # then a cosine takes it down to lr x lr_floor
    lr_floor: float = 0.02
    clip_norm: float = 5.0         # gradients clipped to this global norm
    ema_momentum: float = 0.0      # > 0: keep an EMA of the weights (RTMPose: 2e-4, with
                                   # its warm-up, training/loop.py EMA); checkpoints then
                                   # carry it as their weights ("state_dict"), the trained
                                   # ones as "train_state_dict"
    sync_bn: bool = True           # several processes: BatchNorm statistics over the
                                   # global batch (as one process computes them)
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
    final_epochs: int = 0          # the last N epochs draw their samples with final_augment
    final_augment: "AugmentConfig | None" = None  # ([final_augment] table; None: augment)

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
        elif k in ("augment", "final_augment"):
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
