"""The BlazePose-backbone student's head: marginal SimCC, and the peak band at inference."""
from __future__ import annotations

import torch

from uniskel.engine.models.blazenet import near_peak
from uniskel.engine.models.model import build


def _decode(heat_x, heat_y):
    x = torch.logsumexp(heat_x, dim=2)[0, 0]
    y = torch.logsumexp(heat_y, dim=3)[0, 0]
    return int(torch.softmax(10 * x, -1).argmax()), int(torch.softmax(10 * y, -1).argmax())


def test_peak_band_keeps_one_peak_where_marginals_make_a_ghost():
    heat = torch.zeros(1, 1, 64, 48)
    heat[0, 0, 10, 5] = 5.0            # the strongest single place: row 10, column 5
    heat[0, 0, 48:53, 40] = 4.9        # a weaker vertical streak in column 40
    # plain marginals take x from the streak and y from the peak: a place with no evidence
    assert _decode(heat, heat) == (40, 10)
    hx, hy = near_peak(heat, 2)
    assert _decode(hx, hy) == (5, 10)
    assert hx.dtype == heat.dtype and torch.isfinite(hx).all()


def test_peak_band_acts_at_inference_only():
    torch.manual_seed(0)
    plain = build("blaze_lite").eval()
    banded = build("blaze_lite", peak_band=2)
    banded.load_state_dict(plain.state_dict())
    img = torch.rand(2, 3, 256, 192) * 255
    with torch.no_grad():
        banded.train()
        for a, b in zip(plain(img), banded(img)):  # training sees the whole map
            assert torch.equal(a, b)
        banded.eval()
        x, y = banded(img)
        heat = {}
        banded.heatmap.register_forward_hook(lambda m, i, o: heat.setdefault("h", o))
        banded(img)
    hx, hy = near_peak(heat["h"], 2)
    bx, by = banded.cfg.bins
    want_x = torch.nn.functional.interpolate(torch.logsumexp(hx, 2), size=bx, mode="linear") / 10
    want_y = torch.nn.functional.interpolate(torch.logsumexp(hy, 3), size=by, mode="linear") / 10
    assert torch.allclose(x, want_x) and torch.allclose(y, want_y)
    px, py = plain(img)
    assert not torch.allclose(px, x)  # the band changed the marginals
