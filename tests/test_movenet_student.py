"""The student v2: MoveNet's network in PyTorch (engine/models/movenet_net.py), and networks that
decode themselves in every student backend. Its training is the one pipeline's
(training/students.py, row movenet_lightning): tests/test_students.py."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from uniskel.engine import assets  # noqa: E402

LIGHTNING = assets.asset("models", "movenet_lightning.onnx")


@pytest.fixture(scope="module")
def coco_crops(shared_data):
    """Eight real COCO images, resized to Lightning's 192 x 192 input (RGB)."""
    import cv2

    files = sorted((shared_data / "coco128" / "images").glob("*.jpg"))[:8]
    return np.stack([cv2.resize(cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB), (192, 192))
                     for f in files])


def test_the_port_matches_the_published_graph_on_real_images(coco_crops):
    """The hand-written network with the published weights gives the published model's
    keypoints (the ONNX converted from TF.js) to a small fraction of a pixel."""
    import onnxruntime as ort

    from uniskel.engine.models.movenet_net import from_movenet

    net = from_movenet(LIGHTNING)
    sess = ort.InferenceSession(str(LIGHTNING), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    with torch.no_grad():
        ours = net(torch.from_numpy(coco_crops).permute(0, 3, 1, 2).float()).numpy()
    for crop, mine in zip(coco_crops, ours):
        ref = sess.run(None, {name: crop[None].astype(np.int32)})[0][0, 0]  # y, x, score in 0..1
        assert np.abs(mine[:, 0] / 192 - ref[:, 1]).max() < 1e-3
        assert np.abs(mine[:, 1] / 192 - ref[:, 0]).max() < 1e-3
        assert np.abs(mine[:, 2] - ref[:, 2]).max() < 1e-3
    assert ours[..., 2].max() > 0.5  # real people were found, not a blank agreement


def test_a_widened_network_keeps_the_published_points(coco_crops):
    """Widened to 21 points, the 17 published ones are unchanged: the new channels sit
    after them in every head."""
    from uniskel.engine.models.movenet_net import from_movenet

    x = torch.from_numpy(coco_crops[:2]).permute(0, 3, 1, 2).float()
    with torch.no_grad():
        a = from_movenet(LIGHTNING)(x)
        b = from_movenet(LIGHTNING, 21, ("pelvis", "thorax", "upper_neck", "head_top"))(x)
    assert b.shape == (2, 21, 3)
    assert torch.allclose(a, b[:, :17], atol=1e-5)


def test_decoding_reads_the_heads_only_where_it_needs_them(coco_crops):
    """The network's forward runs the regression and offset heads only at the cells the
    decoding reads; its keypoints are those of decoding the full maps, on real crops and
    on a crop whose only content touches the corner (zero padding at the edge)."""
    from uniskel.engine.models.movenet_net import from_movenet

    net = from_movenet(LIGHTNING, 21, ("pelvis", "thorax", "upper_neck", "head_top"))
    torch.manual_seed(0)
    with torch.no_grad():  # the added points' rows unlike their sources'
        for head in ("regress", "offset"):
            net.heads[head][1].weight[34:].normal_(0, 0.05)
    x = torch.from_numpy(coco_crops).permute(0, 3, 1, 2).float()
    corner = torch.zeros(1, 3, 192, 192)
    corner[..., :24, :24] = 255
    with torch.no_grad():
        for batch in (x, corner):
            full = net.decode(net.maps(batch))
            assert torch.allclose(net(batch), full, atol=1e-3)


def test_a_self_decoding_model_runs_in_every_student_backend(tmp_path):
    """A 'keypoints' network exports to ONNX with a 'keypoints' output and its config,
    and the cpu and onnx backends give the same (N, 21, 3)."""
    from uniskel.engine import backends, modelfile
    from uniskel.engine.models.export_onnx import export_checkpoint
    from uniskel.engine.models.model import config_for, from_config

    cfg = config_for("movenet_lightning")
    model = from_config(cfg)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.1)
    pt = modelfile.write_checkpoint({"config": cfg.to_dict(), "state_dict": model.state_dict(),
                                     "meta": {}}, tmp_path / "kp.pt")
    onnx_path = export_checkpoint(pt, tmp_path / "kp.onnx")
    assert modelfile.inspect_onnx(onnx_path)["output"] == "keypoints"
    crops = np.random.default_rng(0).integers(0, 255, (3, 192, 192, 3), dtype=np.uint8)
    cpu, onnx = backends.create("cpu", pt), backends.create("onnx", onnx_path)
    try:
        assert cpu.input_size == onnx.input_size == (192, 192)
        a, b = cpu.infer(crops), onnx.infer(crops)
    finally:
        cpu.close()
        onnx.close()
    assert a.shape == b.shape == (3, 21, 3)
    assert np.abs(a - b).max() < 1e-2
    assert ((a[..., 2] >= 0) & (a[..., 2] <= 1)).all()
