"""The student family: an RTMPose-style top-down model (CSPNeXt-like backbone, SimCC head),
and (``blaze_lite``/``blaze_full``, in ``engine/models/blazenet.py``) BlazePose's landmark
backbone with a SimCC output.

Built by plain functions (``tiny``/``small``/``medium``/``blaze_*``); configuration is a dataclass
that travels inside every checkpoint and ONNX file, so a model file says what it is.
Input: float32 RGB in [0, 255], NCHW, of ``cfg.input_size`` = (height, width); the
normalisation is inside the model. Output: SimCC logits ``x`` (B, K, W*split) and
``y`` (B, K, H*split).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from uniskel.engine import skeleton
from uniskel.engine.models import simcc


@dataclass(frozen=True)
class ModelConfig:
    arch: str = "tiny"
    widths: tuple[int, ...] = (48, 96, 192, 384)
    depths: tuple[int, ...] = (1, 1, 1, 1)
    input_size: tuple[int, int] = (128, 96)  # (height, width)
    num_keypoints: int = skeleton.NUM_KEYPOINTS
    split_ratio: float = simcc.SPLIT_RATIO
    decode_window: int = simcc.WINDOW  # bins each side of the peak that decoding weighs
    person_score: float = 0.3  # mean keypoint confidence below which a crop holds nobody
    # blaze_*: at inference, marginalise only the heatmap rows/columns within this many
    # cells of each keypoint's 2-D maximum (0: all of them; engine/models/blazenet.py)
    peak_band: int = 0
    # expected OKS = sigmoid(confidences . w + b): 21 weights then b (engine/models/quality.py;
    # fitted by training/quality.py); empty: the model has no quality estimate
    quality: tuple[float, ...] = ()
    # keypoint confidences are raised to this power at inference (engine/backends/base.py):
    # a model's own confidences brought to the app's draw threshold (fitted by
    # training/quality.py on training people; 1: as the network gives them)
    point_power: float = 1.0
    # points the runtime derives from their parents (``skeleton.derive``: thorax and pelvis
    # as the midpoints of the shoulders and hips, the less sure parent's confidence)
    # instead of reading the network's own; empty: the network's own
    derived: tuple[str, ...] = ()
    hidden: int = 256
    keypoints: tuple[str, ...] = field(default=skeleton.KEYPOINTS)
    # what the network outputs: "simcc" (x and y logits, decoded by engine.models.simcc) or
    # "keypoints" (decoded in the network: (N, K, 3) x, y in input pixels, confidence)
    output: str = "simcc"

    @property
    def bins(self) -> tuple[int, int]:
        """(x bins, y bins)."""
        h, w = self.input_size
        return int(w * self.split_ratio), int(h * self.split_ratio)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        d = dict(d)
        for k in ("widths", "depths", "input_size", "keypoints", "quality", "derived"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)


SIZES = {
    "tiny": dict(widths=(48, 96, 192, 384), depths=(1, 1, 1, 1), hidden=256),
    "small": dict(widths=(64, 128, 256, 512), depths=(1, 2, 2, 1), hidden=256),
    "medium": dict(widths=(96, 192, 384, 768), depths=(2, 4, 4, 2), hidden=256),
    # BlazePose's landmark backbone with a marginal-SimCC head (engine/models/blazenet.py)
    "blaze_lite": dict(widths=(), depths=(), hidden=0, input_size=(256, 192)),
    "blaze_full": dict(widths=(), depths=(), hidden=0, input_size=(256, 192)),
    # MoveNet Lightning's network with all 21 points (engine/models/movenet_net.py): the student
    # v2, started from Google's published weights (training/students.py: the student table)
    "movenet_lightning": dict(widths=(), depths=(), hidden=0, input_size=(192, 192),
                              output="keypoints"),
    # MoveNet Thunder's network (its backbone 1.75 times as wide) with all 21 points
    "movenet_thunder": dict(widths=(), depths=(), hidden=0, input_size=(256, 256),
                            output="keypoints"),
}


def config_for(arch: str, **overrides) -> ModelConfig:
    if arch not in SIZES:
        raise ValueError(f"unknown model size {arch!r}; choose one of {', '.join(SIZES)}")
    return ModelConfig(arch=arch, **{**SIZES[arch], **overrides})


def conv_bn(cin, cout, k=3, s=1, groups=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.SiLU(inplace=True))


class CSPNeXtBlock(nn.Module):
    """3x3 conv then a depthwise-separable 5x5 conv, with a residual."""

    def __init__(self, c):
        super().__init__()
        self.conv1 = conv_bn(c, c, 3)
        self.dw = conv_bn(c, c, 5, groups=c)
        self.pw = conv_bn(c, c, 1)

    def forward(self, x):
        return x + self.pw(self.dw(self.conv1(x)))


class CSPLayer(nn.Module):
    """Cross-stage partial layer with channel attention, as in CSPNeXt."""

    def __init__(self, cin, cout, n):
        super().__init__()
        mid = cout // 2
        self.main = conv_bn(cin, mid, 1)
        self.short = conv_bn(cin, mid, 1)
        self.blocks = nn.Sequential(*[CSPNeXtBlock(mid) for _ in range(n)])
        self.attn = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(2 * mid, 2 * mid, 1),
                                  nn.Hardsigmoid())
        self.final = conv_bn(2 * mid, cout, 1)

    def forward(self, x):
        y = torch.cat([self.blocks(self.main(x)), self.short(x)], dim=1)
        return self.final(y * self.attn(y))


class GAU(nn.Module):
    """Gated attention unit over the keypoint tokens (RTMCC block, without rotary)."""

    def __init__(self, dim, expand=2, s=128):
        super().__init__()
        self.e, self.s = dim * expand, s
        self.norm = nn.LayerNorm(dim)
        self.uv = nn.Linear(dim, 2 * self.e + s)
        self.gamma = nn.Parameter(torch.randn(2, s) * 0.02)
        self.beta = nn.Parameter(torch.zeros(2, s))
        self.out = nn.Linear(self.e, dim)

    def forward(self, x):  # x: (B, K, dim)
        u, v, base = torch.split(nn.functional.silu(self.uv(self.norm(x))),
                                 [self.e, self.e, self.s], dim=-1)
        q = base * self.gamma[0] + self.beta[0]
        k = base * self.gamma[1] + self.beta[1]
        attn = torch.relu(q @ k.transpose(1, 2) / self.s ** 0.5) ** 2 / x.shape[1]
        return x + self.out(u * (attn @ v))


class PoseNet(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.widths
        self.register_buffer("mean", torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1))
        self.stem = nn.Sequential(conv_bn(3, w[0] // 2, 3, 2), conv_bn(w[0] // 2, w[0] // 2),
                                  conv_bn(w[0] // 2, w[0]))
        stages, cin = [], w[0]
        for cout, n in zip(w, cfg.depths):
            stages.append(nn.Sequential(conv_bn(cin, cout, 3, 2), CSPLayer(cout, cout, n)))
            cin = cout
        self.stages = nn.Sequential(*stages)
        # The head reads stride-16 features (stage 4 upsampled onto stage 3, FPN-style):
        # at a 128x96 input, stride 32 would leave each keypoint 4x3 = 12 numbers to
        # place it among 192 bins; stride 16 gives it 8x6 = 48, as RTMPose has at 256x192.
        self.lateral = conv_bn(w[-2], w[-1], 1)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        h, wd = cfg.input_size
        tokens = (h // 16) * (wd // 16)
        self.final = nn.Conv2d(w[-1], cfg.num_keypoints, 7, padding=3)
        self.embed = nn.Sequential(nn.Linear(tokens, cfg.hidden), nn.LayerNorm(cfg.hidden))
        self.gau = GAU(cfg.hidden)
        bx, by = cfg.bins
        self.head_x = nn.Linear(cfg.hidden, bx)
        self.head_y = nn.Linear(cfg.hidden, by)

    def forward(self, img):
        x = self.stem((img - self.mean) / self.std)
        x = self.stages[:-1](x)
        x = self.lateral(x) + self.up(self.stages[-1](x))
        t = self.gau(self.embed(self.final(x).flatten(2)))
        return self.head_x(t), self.head_y(t)


def from_config(cfg: ModelConfig) -> nn.Module:
    """The model a config describes: a ``PoseNet``, for ``blaze_*`` a ``BlazeNet``, for
    ``movenet_*`` a ``MoveNet``."""
    if cfg.arch.startswith("movenet"):
        from uniskel.engine.models.movenet_net import WIDTHS, MoveNet
        model = MoveNet(cfg.num_keypoints, cfg.input_size[0], WIDTHS.get(cfg.arch, 1.0))
        model.cfg = cfg
        return model
    if cfg.arch.startswith("blaze"):
        from uniskel.engine.models.blazenet import BlazeNet
        return BlazeNet(cfg)
    return PoseNet(cfg)


def build(arch: str = "tiny", **overrides) -> nn.Module:
    return from_config(config_for(arch, **overrides))


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
