"""Training configuration: plain dataclasses, the dataset presets, and the TOML reader.

A config file is a ``TrainConfig`` written as TOML (see training/configs/); unknown keys
are refused by name, and every value is checked against its rule (``_rules``: types,
ranges, known names) by ``validate`` before any data loads. Importing this module does
not import torch (checking ``arch`` does: engine.models.model holds the names).
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
    format: str                    # coco | mpii | lsp | halpe | aic | crowdpose |
                                   # unlabelled (people found by the person detector, no
                                   # labels: taught by the teachers alone; datasets.py)
    images: str
    annotations: str = ""          # JSON file, or joints.mat for lsp; for unlabelled, ""
                                   # or the labelled file of the same images, whose
                                   # labelled people are then left out (only the others)
    range: tuple[int, int] | None = None  # keep instances [a, b) (e.g. LSPET's split)
    weight: float = 1.0            # sampling weight in the mixed loader
    split: str | None = None       # "train" | "val": keep one part of the image-id
                                   # split (training/instances.py: split_part), e.g. coco_mini
    ignore_points: tuple[str, ...] = ()  # labels not used (e.g. LSP's hips, labelled
                                   # wider than COCO's): teachers give these points here


@dataclass
class TeacherSpec:
    """One teacher of the student (training/teachers.py: ``KINDS`` turns it into one)."""
    kind: str                      # "model" (a PoseNet checkpoint, run online each step) |
                                   # "blazepose" (keypoints cached once per image) |
                                   # "movenet" (a network's decoded points, online) |
                                   # "movenet_maps" (a MoveNet's four maps, online)
    path: str = ""                 # checkpoint for kind=model; for kind=movenet
                                   # "movenet_thunder", "movenet_lightning", a published
                                   # MoveNet .onnx or a uniskel .pt
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
    points: tuple[str, ...] = ()   # kind=movenet: the unified points it teaches (names);
                                   # empty: all it gives
    min_conf: float | None = None  # kind=movenet: its points below this confidence are
                                   # left out; None: the loss's teacher_min_conf
    upright: bool = False          # kind=movenet: crops whose body lies turned are read
                                   # stood up, the points turned back (people upside down)


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
    freeze: tuple[str, ...] = ()   # parameters kept as they start, by name prefix (e.g.
                                   # ["backbone", "fpn", "top"]: a MoveNet's heads alone train)
    lr_scale: dict = dataclasses.field(default_factory=dict)  # [lr_scale] heads = 5.0: the
                                   # parameters under a name prefix learn at lr x this
    on_error: str = "skip"         # bad annotation entries / images: "skip" (logged) | "raise"
    repair_lr_swaps: bool = True   # fix LSPET's left/right swaps using the BlazePose teacher
    cache_dir: str = "runs/cache"
    teacher_size: int = 0          # > 0: crops are rendered at this size (square), the
                                   # teachers that run on the crop see that, the student
                                   # the same crop downscaled to input_size (loop.py
                                   # student_view); 0: both see input_size
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
    # unlabelled people (format "unlabelled": the person detector's boxes, the teachers
    # alone teach them): ccp_photos' 2,098 photos, and the people nobody labelled in
    # the training images of the labelled sets (their labelled people left out)
    "ccp_photos": lambda: DatasetSpec("ccp_photos", "unlabelled",
                                      _shared("ccp_photos", "images")),
    "lspet_others": lambda: DatasetSpec("lspet_others", "unlabelled",
                                        _shared("lspet", "images"),
                                        _shared("lspet", "joints.mat"), (0, 7500)),
    "coco_mini_others": lambda: DatasetSpec(
        "coco_mini_others", "unlabelled", _shared("coco_mini", "train2017"),
        _shared("coco_mini", "annotations", "person_keypoints_train2017.json"), None, 1.0,
        "train"),
    "coco_extra_others": lambda: DatasetSpec(
        "coco_extra_others", "unlabelled", _shared("coco_extra", "images"),
        _shared("coco_extra", "person_keypoints_train2017.json")),
}


def _from_dict(cls, d):
    """Build a (nested) config dataclass from a TOML table, rejecting unknown keys."""
    from uniskel.training.augment import AugmentConfig
    from uniskel.training.losses import LossConfig
    if not isinstance(d, dict):
        raise UniskelError(f"{cls.__name__} in config must be a table, not {d!r}")
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(d) - set(names)
    if unknown:
        raise UniskelError(f"unknown {cls.__name__} keys in config: {', '.join(sorted(unknown))}")
    missing = [f.name for f in names.values() if f.name not in d
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise UniskelError(f"{cls.__name__} in config lacks {', '.join(missing)}")
    kw = {}
    for k, v in d.items():
        if k in ("datasets", "teachers") and not isinstance(v, list):
            raise UniskelError(f"{k} in config must be [[{k}]] tables, not {v!r}")
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


# ---------------------------------------------------------------- checking the values
# One rule per key (engine/values.py); ``validate`` applies them, and the few rules that
# relate two keys, before anything is loaded: a wrong value is one line naming the key.

def _archs() -> tuple:
    from uniskel.training.students import STUDENTS
    return tuple(STUDENTS)


def _texts(v):
    if isinstance(v, (list, tuple)) and all(isinstance(x, str) and x for x in v):
        return None
    return "must be a list of parameter name prefixes (e.g. ['backbone', 'fpn'])"


def _lr_scales(v):
    if isinstance(v, dict) and all(isinstance(k, str) and k and isinstance(x, (int, float))
                                   and not isinstance(x, bool) and 0 < x <= 100
                                   for k, x in v.items()):
        return None
    return "must be a table of parameter name prefixes and numbers above 0, at most 100 " \
           "(e.g. heads = 5.0)"


def _point_names(v):
    from uniskel.engine.skeleton import INDEX
    if isinstance(v, (list, tuple)) and all(isinstance(x, str) and x in INDEX for x in v):
        return None
    return "must be a list of unified point names (e.g. ['head_top', 'upper_neck'])"


def _label_weights(v):
    from uniskel.engine.skeleton import INDEX
    if isinstance(v, dict) and all(k in INDEX and isinstance(x, (int, float))
                                   and not isinstance(x, bool) and 0 <= x <= 100
                                   for k, x in v.items()):
        return None
    return "must be a table of unified point names and numbers from 0 to 100 " \
           "(e.g. head_top = 8.0)"


def _formats() -> tuple:
    from uniskel.training.datasets import READERS
    return tuple(READERS)


#: the kinds of teacher a config may name; training/teachers.py's ``KINDS`` builds each
#: (tests/test_distillation.py keeps the two equal)
TEACHER_KINDS = ("model", "blazepose", "movenet", "movenet_maps")


def _teacher_kinds() -> tuple:
    return TEACHER_KINDS


def _skeletons() -> tuple:
    from uniskel.engine.skeleton import MAPPINGS
    return tuple(MAPPINGS)


def _device(v):
    if isinstance(v, str) and (v in ("auto", "cpu", "cuda")
                               or (v.startswith("cuda:") and v[5:].isdigit())):
        return None
    return "must be auto, cpu, cuda or cuda:N"


def _names(v):
    return None if isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v) \
        else "must be true, false or a list of dataset names"


def _rules() -> dict:
    """{TrainConfig, DatasetSpec, TeacherSpec, "loss", "augment": {key: rule}}."""
    from uniskel.engine import values as V
    prob = V.number(0, 1)
    return {
        TrainConfig: {
            "mode": V.one_of("teacher", "student"),
            "arch": V.one_of(lookup=_archs),
            "input_size": V.pair(V.whole(32, 2048), "whole numbers from 32 to 2048 "
                                                    "(height, width)"),
            "epochs": V.whole(1),
            "samples_per_epoch": V.whole(0),
            "batch_size": V.whole(1),
            "lr": V.number(above=0),
            "weight_decay": V.number(0),
            "decay_norms": V.flag(),
            "warmup_steps": V.whole(0),
            "cosine_from_epoch": V.whole(0),
            "lr_floor": prob,
            "clip_norm": V.number(above=0),
            "ema_momentum": V.number(0, below=1),
            "sync_bn": V.flag(),
            "seed": V.whole(0, 2 ** 32 - 1),
            "device": _device,
            "workers": V.whole(0),
            "amp": V.flag(),
            "out": V.text(),
            "init_from": V.text(empty=True),
            "checkpoint_every": V.whole(0),
            "freeze": _texts,
            "lr_scale": _lr_scales,
            "on_error": V.one_of("skip", "raise"),
            "repair_lr_swaps": V.flag(),
            "cache_dir": V.text(),
            "teacher_size": V.whole(0),
            "final_epochs": V.whole(0),
        },
        DatasetSpec: {
            "name": V.text(),
            "format": V.one_of(lookup=_formats),
            "images": V.text(),
            "annotations": V.text(empty=True),
            "range": V.optional(V.pair(V.whole(0), "whole numbers >= 0 (first, last + 1)",
                                       ordered=True)),
            "weight": V.number(above=0),
            "split": V.optional(V.one_of("train", "val")),
            "ignore_points": _point_names,
        },
        TeacherSpec: {
            "kind": V.one_of(lookup=_teacher_kinds),
            "path": V.text(empty=True),
            "skeleton": V.one_of(lookup=_skeletons),
            "role": V.one_of("coco", "mpii"),
            "where_gt": V.optional(V.either(V.flag(), _names, reason="must be true, false "
                                            "or a list of dataset names")),
            "complexity": V.whole(1, 2),
            "tflite": V.text(empty=True),
            "weight": V.optional(V.number(0)),
            "decay": V.optional(V.one_of("linear", "none")),
            "points": _point_names,
            "min_conf": V.optional(prob),
            "upright": V.flag(),
        },
        "loss": {
            "beta": V.number(above=0),
            "sigma": V.pair(V.number(above=0), "numbers > 0 (x, y bins)"),
            "w_gt": V.number(0),
            "w_coco_teacher": V.number(0),
            "w_mpii_teacher": V.number(0),
            "temperature": V.number(above=0),
            "decay": V.one_of("linear", "none"),
            "teacher_where_gt": V.flag(),
            "teacher_min_conf": prob,
            "heat_sigma": V.number(above=0),
            "reg_weight": V.number(0),
            "center_weight": V.number(0),
            "hidden_weight": V.number(0),
            "label_weights": _label_weights,
        },
        "augment": {
            "padding": V.number(above=0),
            "scale": V.pair(V.number(above=0), "numbers > 0", ordered=True),
            "rotate": V.number(0, 180),
            "rotate_prob": prob,
            "upside_down_prob": prob,
            "upright_prob": prob,
            "flip_prob": prob,
            "shift": V.number(0, 1),
            "half_body_prob": prob,
            "color_prob": prob,
            "blur_prob": prob,
            "downscale_prob": prob,
            "gray_prob": prob,
            "occlude_prob": prob,
            "occlude_person": prob,
            "occlude_size": V.pair(V.number(above=0, hi=1), "numbers > 0 and <= 1 "
                                   "(fractions of the crop height)", ordered=True),
            "second_person_prob": prob,
            "cut_prob": prob,
            "cut_span": V.pair(V.number(0, 1), "shares of the way from the shoulders "
                               "down to the knees, from 0 to 1", ordered=True),
            "closeup_prob": prob,
        },
    }


# The validation sets never enter training in any form, labelled or as unlabelled images
# for the teachers: a dataset whose images or annotations lie in one of these folders
# (by name anywhere in the path, or resolved into ../shared/data) is refused, or, for the
# two sets that share a folder with training data, limited to the training part.
HELD_OUT = {
    "coco128": "coco128 is a validation set",
    "coco_val2017_dev": "coco_val2017_dev is a validation set",
    "val2017": "COCO val2017 is validation data",
}
LSPET_VAL = (7500, 8000)   # LSPET images 7500-7999 (0-based index, im07501-im08000)


def _path_names(path: str) -> set[str]:
    p = Path(path)
    names = set(p.parts)
    try:
        names |= set(p.resolve().parts)
    except OSError:
        pass
    return names


def held_out_problem(spec: DatasetSpec, where: str = "dataset") -> str | None:
    """One line when ``spec`` would train on a validation set (``HELD_OUT``, LSPET
    7500-7999, coco_mini's "val" part), else None."""
    names = _path_names(spec.images) | (_path_names(spec.annotations)
                                        if spec.annotations.strip() else set())
    head = f"{where} ({spec.name}): "
    for folder, why in HELD_OUT.items():
        if folder in names or any(n.endswith(f"_{folder}.json") for n in names):
            return head + f"{why}; it is never trained on, labelled or not"
    if "lspet" in names:
        a, b = spec.range if spec.range is not None else (0, None)
        if b is None or (a < LSPET_VAL[1] and b > LSPET_VAL[0]):
            return head + (f"range = {list(spec.range) if spec.range else 'all'} reaches "
                           f"LSPET 7500-7999, the validation split; use range = [0, 7500]")
    if "coco_mini" in names and spec.split != "train":
        return head + (f"split = {spec.split or 'none'} takes coco_mini's validation part "
                       f"(image id % 4 == 1); use split = \"train\"")
    return None


def config_problem(cfg: TrainConfig) -> str | None:
    """The first value of ``cfg`` that cannot be right, as one line naming its key
    (``datasets[2].format = 'yolo': must be one of ...``; lists counted from 1), or None."""
    from uniskel.engine import values as V
    rules = _rules()
    found = V.problem(rules[TrainConfig], cfg)
    for name in ("loss", "augment", "final_augment"):
        part = getattr(cfg, name)
        if found or part is None:
            continue
        found = V.problem(rules[name if name != "final_augment" else "augment"], part,
                          f"{name}.")
    for key, spec_type in (("datasets", DatasetSpec), ("teachers", TeacherSpec)):
        for i, spec in enumerate(getattr(cfg, key), 1):
            found = found or V.problem(rules[spec_type], spec, f"{key}[{i}].")
            if not found and spec_type is TeacherSpec and spec.kind != "blazepose" \
                    and not spec.path:
                found = f"{key}[{i}].path = '': a {spec.kind} teacher needs its network"
            if not found and spec_type is TeacherSpec and spec.upright \
                    and spec.kind != "movenet":
                found = (f"{key}[{i}].upright = true: only a movenet teacher reads crops "
                         f"stood up (this one is {spec.kind})")
            if not found and spec_type is DatasetSpec and spec.format != "unlabelled" \
                    and not spec.annotations.strip():
                found = (f"{key}[{i}].annotations = '': a {spec.format} dataset needs its "
                         f"annotation file")
            if not found and spec_type is DatasetSpec:
                found = held_out_problem(spec, f"{key}[{i}]")
    if not found:
        from uniskel.training.students import problem
        found = problem(cfg.arch, cfg.input_size)
    if not found and cfg.teacher_size and (cfg.input_size[0] != cfg.input_size[1]
                                           or cfg.teacher_size < cfg.input_size[0]):
        found = (f"teacher_size = {cfg.teacher_size}: crops rendered for the teachers must be "
                 f"square and at least the student's input ({list(cfg.input_size)})")
    if not found and cfg.final_epochs > cfg.epochs:
        found = (f"final_epochs = {cfg.final_epochs}: must be at most epochs "
                 f"({cfg.epochs})")
    return found


def validate(cfg: TrainConfig, where: str = "") -> TrainConfig:
    """Raise UniskelError naming the first wrong value (``where``: what to say first, e.g.
    the config file); returns ``cfg``."""
    found = config_problem(cfg)
    if found:
        raise UniskelError(f"{where}{found}")
    return cfg


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
    return validate(_from_dict(TrainConfig, data), f"config {path}: ")
