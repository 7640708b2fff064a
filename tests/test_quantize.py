"""uniskel export --int8 (training/quantize.py): a MoveNet-family model quantized for the
CPU keeps its keypoints, loads in the engine, and a model it was not measured on is
refused in one line with nothing written."""
from __future__ import annotations

import numpy as np
import torch



def published(tmp_path, size=96):
    """Google's Lightning weights widened to 21 points, at a small input, as a .pt."""
    import dataclasses

    from uniskel.engine.models.model import config_for, from_config
    from uniskel.training import students
    from uniskel.training.checkpoint import save_checkpoint

    cfg = config_for("movenet_lightning", input_size=(size, size))
    net = from_config(cfg)
    students.published_weights(net, students.row("movenet_lightning"))
    path = tmp_path / "lightning.pt"
    save_checkpoint({"config": dataclasses.asdict(cfg), "state_dict": net.state_dict(),
                     "meta": {}}, path)
    return path


def test_int8_keeps_the_keypoints_and_the_stem_and_pyramid_in_float(shared_data, tmp_path):
    import onnx

    from uniskel.engine import backends
    from uniskel.engine.models.export_onnx import export_checkpoint
    from uniskel.training import quantize

    torch.set_num_threads(1)
    fp32 = export_checkpoint(published(tmp_path), tmp_path / "float.onnx")
    people = quantize.calibration_sets(shared_data)
    crops = quantize.calibration_crops(people, (96, 96), n=24)
    assert crops.shape == (24, 3, 96, 96) and crops.dtype == np.float32
    out = tmp_path / "int8.onnx"
    moved = quantize.int8_twin(fp32, out, crops)
    assert moved < 2.0, f"int8 keypoints lie a median {moved:.2f} px from the float model's"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".int8-")]

    g = onnx.load(str(out)).graph
    dq_outputs = {n.output[0] for n in g.node if n.op_type == "DequantizeLinear"}
    quantized = {n.name for n in g.node if n.op_type == "Conv" and n.input[1] in dq_outputs}
    kept = set(quantize.float_convs(onnx.load(str(fp32))))
    convs = {n.name for n in g.node if n.op_type == "Conv"}
    assert kept and not kept & quantized and quantized == convs - kept
    # a quantized convolution's ReLU6 is folded into its output range (no float clip
    # between dequantize and quantize, a fifth of the time); the float stem keeps its own
    made = {o: n for n in g.node for o in n.output}
    clips = [n for n in g.node if n.op_type == "Clip"]
    assert clips and not [n.name for n in clips
                          if made[n.input[0]].op_type == "DequantizeLinear"]

    # the engine loads it as any uniskel model, and on other people it agrees with float
    others = quantize.calibration_crops(people, (96, 96), n=8, seed=1)
    got = []
    for path in (fp32, out):
        be = backends.create("onnx", path)
        try:
            got.append(be.infer(others.transpose(0, 2, 3, 1).astype(np.uint8)))
        finally:
            be.close()
    dist = np.linalg.norm(got[0][..., :2] - got[1][..., :2], axis=-1)
    assert np.median(dist) < 2.0 and np.isfinite(got[1]).all()


def test_int8_is_refused_in_one_line_where_it_was_not_measured(tmp_path, random_checkpoint,
                                                                capsys):
    from uniskel import commands

    base = ["export", "--checkpoint", str(random_checkpoint)]
    for argv, says in ((["--onnx", str(tmp_path / "m.onnx"), "--int8"],
                        "not a MoveNet-family model"),
                       (["--weights", str(tmp_path / "w.pt"), "--int8"], "--int8 needs --onnx")):
        assert commands.main(base + argv) == 2
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert len(err) == 1 and says in err[0], err
    assert not list(tmp_path.iterdir())
