"""MoveNet SinglePose in PyTorch: the network of Google's MoveNet Lightning/Thunder
(Apache-2.0 weights), with room for more keypoints than its 17.

MobileNetV2 (ReLU6, TensorFlow "same" padding) -> a three-level FPN to stride 4 ->
four heads on the stride-4 features, each a separable 3x3 conv, ReLU and a 1x1 conv:

``regress``  (2K) keypoint positions relative to the person centre, in cells (y, x)
``offset``   (2K) sub-cell offsets of each keypoint (y, x)
``heatmap``  (K)  keypoint heatmaps (sigmoid)
``center``   (1)  person centre heatmap (sigmoid)

Decoding (in the graph, so an exported model outputs keypoints): the centre is the
peak of the centre heatmap weighted towards the crop centre; each keypoint is the peak
of its heatmap weighted by 1 / (distance to its regressed position + 1.8), plus its
offset; its confidence is the heatmap there. Output: (N, K, 3) = x, y in input pixels,
confidence.

``from_movenet(path, num_keypoints)`` reads the published weights from the ONNX that
``scripts/convert_tfjs_models.py`` made; extra keypoints (K > 17) get their own output
channels, initialised from ``EXTRA_INIT``'s source channels.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

#: MobileNetV2: (expansion, channels, repeats, stride)
MOBILENET_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
#: the MobileNetV2 blocks whose outputs feed the FPN (strides 4, 8, 16)
TAPS = (3, 6, 10)  # backbone[0] is the stem, backbone[i] is TF block_{i-1}
HEADS = ("regress", "offset", "heatmap", "center")  # in the published graph's order


class SameConv(nn.Conv2d):
    """A conv with TensorFlow's "same" padding: stride 2 pads only right and bottom."""

    def forward(self, x):
        if self.stride[0] == 2:
            return F.conv2d(F.pad(x, (0, 1, 0, 1)), self.weight, self.bias, 2, 0, 1, self.groups)
        return super().forward(x)


def conv(cin, cout, k=1, s=1, groups=1, bias=True):
    return SameConv(cin, cout, k, s, padding=0 if s == 2 else k // 2, groups=groups, bias=bias)


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, expand, stride):
        super().__init__()
        mid = cin * expand
        layers = [conv(cin, mid), nn.ReLU6()] if expand != 1 else []
        layers += [conv(mid, mid, 3, stride, groups=mid), nn.ReLU6(), conv(mid, cout)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


def separable(cin, cout):
    """Depthwise 3x3 (no bias) then pointwise 1x1, then ReLU."""
    return nn.Sequential(conv(cin, cin, 3, groups=cin, bias=False), conv(cin, cout), nn.ReLU())


def divisible(v: float, by: int = 8) -> int:
    """MobileNet's channel rounding: the nearest multiple of ``by``, never 10% below."""
    out = max(by, int(v + by / 2) // by * by)
    return out + by if out < 0.9 * v else out


#: the published networks' backbone widths (MobileNetV2's multiplier), by arch name
WIDTHS = {"movenet_lightning": 1.0, "movenet_thunder": 1.75}


class MoveNet(nn.Module):
    def __init__(self, num_keypoints: int = 17, input_size: int = 192, width: float = 1.0):
        super().__init__()
        self.num_keypoints, self.input_size, self.width = num_keypoints, input_size, width
        stem = divisible(32 * width)
        blocks, cin = [nn.Sequential(conv(3, stem, 3, 2), nn.ReLU6())], stem
        for t, c, n, s in MOBILENET_V2:
            c = divisible(c * width)
            for i in range(n):
                blocks.append(InvertedResidual(cin, c, t, s if i == 0 else 1))
                cin = c
        blocks.append(nn.Sequential(conv(cin, 1280), nn.ReLU6()))
        self.backbone = nn.ModuleList(blocks)
        self.top = conv(1280, 64)
        taps = [divisible(c * width) for c in (64, 32, 24)]  # the tapped blocks' channels
        self.fpn = nn.ModuleList([  # stride 16, 8, 4: (lateral conv on the tap, smoothing)
            nn.ModuleDict({"lateral": conv(tap, c), "smooth": separable(c, out)})
            for tap, (c, out) in zip(taps, ((64, 32), (32, 24), (24, 24)))])
        k = num_keypoints
        out = {"regress": 2 * k, "offset": 2 * k, "heatmap": k, "center": 1}
        self.heads = nn.ModuleDict({h: nn.Sequential(separable(24, 96), conv(96, out[h]))
                                    for h in HEADS})
        cells = input_size // 4
        grid = torch.arange(cells, dtype=torch.float32)
        self.register_buffer("grid_y", grid.view(1, 1, cells, 1), persistent=False)
        self.register_buffer("grid_x", grid.view(1, 1, 1, cells), persistent=False)
        # the published graph's centre prior: 1 / (distance to the crop centre + 1.8)
        c = cells / 2
        d = ((self.grid_y - c) ** 2 + (self.grid_x - c) ** 2).sqrt()
        self.register_buffer("center_prior", 1.0 / (d + 1.8), persistent=False)

    def features(self, img):
        """(N, 3, S, S) RGB 0..255 -> stride-4 features (N, 24, S/4, S/4)."""
        x = img / 127.5 - 1.0
        taps = []
        for i, block in enumerate(self.backbone):
            x = block(x)
            if i in TAPS:
                taps.append(x)
        x = self.top(x)
        for level, tap in zip(self.fpn, reversed(taps)):
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = level["smooth"](x + level["lateral"](tap))
        return x

    def maps(self, img) -> dict:
        """The four heads' outputs (heatmaps after their sigmoid)."""
        f = self.features(img)
        m = {h: self.heads[h](f) for h in HEADS}
        m["heatmap"], m["center"] = m["heatmap"].sigmoid(), m["center"].sigmoid()
        return m

    def decode(self, m: dict, head_at=None):
        """Maps -> keypoints (N, K, 3). ``head_at(name, ys, xs) -> (N, P, channels)``
        gives the regression or offset head's output at cells (ys, xs) (N, P); by default
        it reads the full maps in ``m``."""
        heat = m["heatmap"].flatten(2)                                  # (N, K, cells²)
        n, k, cells = heat.shape[0], heat.shape[1], m["heatmap"].shape[-1]
        if head_at is None:
            def head_at(name, ys, xs):
                flat = m[name].flatten(2)
                at = (ys * cells + xs).view(n, 1, -1).expand(n, flat.shape[1], -1)
                return flat.gather(2, at).transpose(1, 2)
        centre = (m["center"] * self.center_prior).flatten(1).argmax(1)  # (N,)
        cy, cx = centre // cells, centre % cells
        reg = head_at("regress", cy.view(n, 1), cx.view(n, 1)).view(n, k, 2)  # (y, x) cells
        ry = cy.view(n, 1).float() + reg[..., 0]
        rx = cx.view(n, 1).float() + reg[..., 1]
        dist = ((self.grid_y - ry.view(n, k, 1, 1)) ** 2
                + (self.grid_x - rx.view(n, k, 1, 1)) ** 2).sqrt()
        peak = (heat / (dist.flatten(2) + 1.8)).argmax(2)              # (N, K)
        score = heat.gather(2, peak.unsqueeze(2))[..., 0]
        py, px = peak // cells, peak % cells
        off = head_at("offset", py, px)                                 # (N, K, 2K)
        own = torch.arange(k, device=off.device).view(1, k, 1, 1).expand(n, k, 1, 2)
        off = off.view(n, k, k, 2).gather(2, own)[:, :, 0]              # each point's rows
        scale = self.input_size / cells
        y = (py.float() + off[..., 0]) * scale
        x = (px.float() + off[..., 1]) * scale
        return torch.stack([x, y, score], dim=2)

    def forward(self, img):
        """Keypoints (N, K, 3), as ``decode(maps(img))`` gives them, but with the
        regression head run at the person centre only and the offset head at each
        keypoint's peak only: the cells decoding reads (a tenth of the network's time
        otherwise, on full maps nobody looks at)."""
        f = self.features(img)
        padded = F.pad(f, (1, 1, 1, 1)).flatten(2)                      # zero "same" padding
        m = {h: self.heads[h](f).sigmoid() for h in ("heatmap", "center")}
        return self.decode(m, lambda name, ys, xs: self._head_at(name, padded, f.shape[-1],
                                                                 ys, xs))

    def _head_at(self, name: str, padded, cells: int, ys, xs):
        """Head ``name``'s output at cells (ys, xs) (N, P) -> (N, P, channels), from the
        zero-padded features flattened (N, C, (cells + 2)²): its 3x3 depthwise conv on the
        gathered 3x3 patches, then its 1x1 convs as matrix products."""
        (dw, pw, _), final = self.heads[name]
        n, c = padded.shape[:2]
        p = ys.shape[1]
        d = torch.arange(3, device=padded.device)
        rows = (ys.view(n, p, 1, 1) + d.view(1, 1, 3, 1)) * (cells + 2)
        idx = (rows + xs.view(n, p, 1, 1) + d.view(1, 1, 1, 3)).view(n, 1, p * 9)
        patch = padded.gather(2, idx.expand(n, c, p * 9)).view(n, c, p, 9)
        h = (patch * dw.weight.view(1, c, 1, 9)).sum(3)                # (N, C, P)
        h = torch.relu(torch.matmul(pw.weight[:, :, 0, 0], h) + pw.bias.view(-1, 1))
        out = torch.matmul(final.weight[:, :, 0, 0], h) + final.bias.view(-1, 1)
        return out.transpose(1, 2)


#: extra keypoints' output channels start as a copy of these (unified names -> COCO
#: index); training then makes them their own
EXTRA_INIT = {"pelvis": (11, 12), "thorax": (5, 6), "upper_neck": (5, 6), "head_top": (0,)}


def published_convs(path) -> list:
    """The published ONNX graph's convolutions in order: (weight, bias or None) arrays."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    g = onnx.load(str(path)).graph
    init = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    casts = {n.output[0]: n.input[0] for n in g.node if n.op_type == "Cast"}

    def value(name):
        name = casts.get(name, name)
        return init[name].astype(np.float32) if name in init else None

    return [(value(n.input[1]), value(n.input[2]) if len(n.input) > 2 else None)
            for n in g.node if n.op_type == "Conv"]


def from_movenet(path, num_keypoints: int = 17, names: tuple = ()) -> MoveNet:
    """A MoveNet with the published weights of ``path`` (movenet_lightning.onnx: 192 px,
    movenet_thunder.onnx: 256 px, its backbone 1.75 times as wide, read from the first
    convolution's channels); ``names`` are the unified names of keypoints 17.. ."""
    import onnx

    weights = published_convs(path)
    dims = [d.dim_value for d in onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim]
    size = dims[1] if len(dims) == 4 and dims[1] > 0 else (256 if "thunder" in str(path) else 192)
    model = MoveNet(num_keypoints, size, width=weights[0][0].shape[0] / 32)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if len(convs) != len(weights):
        raise ValueError(f"{path}: {len(weights)} convolutions, MoveNet has {len(convs)}")
    extra = [EXTRA_INIT[n] for n in names]
    with torch.no_grad():
        for m, (w, b) in zip(convs, weights):
            w = torch.from_numpy(w)
            b = None if b is None else torch.from_numpy(b)
            if w.shape[0] != m.weight.shape[0]:  # a head's output conv, widened
                w, b = _widen(w, b, m.weight.shape[0], extra)
            m.weight.copy_(w)
            if b is not None:
                m.bias.copy_(b)
    return model.eval()


def _widen(w, b, channels, extra):
    """17-keypoint output channels (K, 2K: y, x pairs) -> ``channels``, the new
    keypoints starting as the mean of their source channels."""
    k0 = 17
    pairs = w.shape[0] == 2 * k0
    per = 2 if pairs else 1
    ws, bs = [w], [b]
    for src in extra:
        for j in range(per):
            rows = [s * per + j for s in src]
            ws.append(w[rows].mean(0, keepdim=True))
            bs.append(b[rows].mean(0, keepdim=True))
    w, b = torch.cat(ws), torch.cat(bs)  # the new keypoints' channels follow the 17
    assert w.shape[0] == channels, (w.shape, channels)
    return w, b
