"""The BlazePose-backbone student: MediaPipe's landmark encoder-decoder, a SimCC output.

The backbone is the encoder and stride-4 feature pyramid of BlazePose's landmark network
(MobileNetV2-style inverted residuals, ReLU6, no batch norm), layer for layer, so that
``training/blazepose_init.py`` can copy its published weights (Apache-2.0) in as a
starting point. Its other branches (segmentation, 195-number regression) are left out.

The head turns stride-4 keypoint heatmap logits into SimCC outputs by marginalising:
``x = logsumexp over rows``, ``y = logsumexp over columns``, linearly interpolated to the
SimCC bins. ``softmax(beta * x)`` is then exactly the heatmap's softmax summed over rows,
so decoding, losses and distillation stay the SimCC ones the rest of uniskel uses.

At inference (eval mode) with ``cfg.peak_band`` N > 0, the x marginal sums only the rows
within N cells of the keypoint's 2-D heatmap maximum, and the y marginal only the columns
near it. Two candidate places for a wrist (its own and a neighbour's) can otherwise
yield x from one and y from the other; the band keeps one peak. On the LSPET validation
split this moved PCK@0.2 from 55.7 to 56.2 with N = 2 (the stage-3 student).

Input: float32 RGB in [0, 255], NCHW; output: ``x`` (B, K, W*split), ``y`` (B, K, H*split).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from uniskel.engine.models import simcc

# (stem width, stem output, pyramid width, stages); a stage is
# (expand, dw kernel, out) for its stride-2 block, then its stride-1 blocks.
SPECS = {
    "blaze_lite": (24, 8, 32, [
        [(32, 3, 16), (96, 3, 16)],
        [(96, 5, 24), (144, 5, 24)],
        [(144, 3, 40), (240, 3, 40), (240, 3, 40), (240, 5, 56), (336, 5, 56), (336, 5, 56)],
        [(336, 5, 96), (576, 5, 96), (576, 5, 96), (576, 5, 96)],
    ], 576),
    "blaze_full": (24, 16, 48, [
        [(64, 3, 24), (144, 3, 24)],
        [(144, 5, 32), (192, 5, 32)],
        [(192, 3, 64), (384, 3, 64), (384, 3, 64), (384, 5, 88), (528, 5, 88), (528, 5, 88)],
        [(528, 5, 144), (864, 5, 144), (864, 5, 144), (864, 5, 144)],
    ], 864),
}


def pw(cin, cout, act=True):
    return nn.Sequential(nn.Conv2d(cin, cout, 1), nn.ReLU6(inplace=True)) if act \
        else nn.Conv2d(cin, cout, 1)


def dw(c, k, s=1):
    return nn.Sequential(nn.Conv2d(c, c, k, s, k // 2, groups=c), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    def __init__(self, cin, expand, k, cout, stride):
        super().__init__()
        self.expand, self.dw, self.project = pw(cin, expand), dw(expand, k, stride), \
            pw(expand, cout, act=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.project(self.dw(self.expand(x)))
        return x + y if self.residual else y


class BlazeNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        stem_w, stem_out, side, stages, top = SPECS[cfg.arch]
        self.stem = nn.Sequential(nn.Conv2d(3, stem_w, 3, 2, 1), nn.ReLU6(inplace=True),
                                  dw(stem_w, 3), pw(stem_w, stem_out, act=False))
        self.stages, self.sides, cin = nn.ModuleList(), nn.ModuleList(), stem_out
        for i, blocks in enumerate(stages):
            layers = []
            for j, (e, k, c) in enumerate(blocks):
                layers.append(InvertedResidual(cin, e, k, c, 2 if j == 0 else 1))
                cin = c
            self.stages.append(nn.Sequential(*layers))
            if i < len(stages) - 1:  # pyramid inputs at strides 4, 8, 16
                self.sides.append(nn.Sequential(dw(cin, 3), pw(cin, side)))
        self.top = nn.Sequential(pw(cin, top), dw(top, 3), dw(top, 3), pw(top, side))
        # Ours, not BlazePose's: a residual refinement (zero-initialised, so training
        # starts from the imported features) and the keypoint heatmap logits.
        self.refine = nn.Sequential(dw(side, 5), nn.Conv2d(side, side, 1))
        nn.init.zeros_(self.refine[1].weight)
        nn.init.zeros_(self.refine[1].bias)
        self.heatmap = nn.Conv2d(side, cfg.num_keypoints, 1)

    def features(self, img):
        x = self.stem(img / 255.0)
        skips = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i < len(self.sides):
                skips.append(self.sides[i](x))
        x = self.top(x)
        for skip in reversed(skips):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear",
                              align_corners=False) + skip
        return x

    def forward(self, img):
        f = self.features(img)
        heat = self.heatmap(f + self.refine(f))  # (B, K, H/4, W/4) logits
        beta = simcc.BETA  # the SimCC convention: distributions are softmax(beta * logits)
        bx, by = self.cfg.bins
        heat_x = heat_y = heat
        if self.cfg.peak_band > 0 and not self.training:
            heat_x, heat_y = near_peak(heat, self.cfg.peak_band)
        x = F.interpolate(torch.logsumexp(heat_x, dim=2), size=bx, mode="linear",
                          align_corners=False)
        y = F.interpolate(torch.logsumexp(heat_y, dim=3), size=by, mode="linear",
                          align_corners=False)
        return x / beta, y / beta


def near_peak(heat: torch.Tensor, band: int, off: float = -1e4):
    """(B, K, H, W) logits -> (rows within ``band`` of each map's 2-D maximum, the rest
    set to ``off``; the same for columns). ``off`` fits float16 (TensorRT, CUDA FP16)."""
    _, _, h, w = heat.shape
    peak = heat.flatten(2).argmax(-1)  # (B, K)
    row, col = peak // w, peak % w
    rows = torch.arange(h, device=heat.device).view(1, 1, h, 1)
    cols = torch.arange(w, device=heat.device).view(1, 1, 1, w)
    near_row = (rows - row[..., None, None]).abs() <= band  # (B, K, H, 1)
    near_col = (cols - col[..., None, None]).abs() <= band  # (B, K, 1, W)
    return heat.masked_fill(~near_row, off), heat.masked_fill(~near_col, off)
