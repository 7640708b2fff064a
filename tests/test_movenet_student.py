"""The student v2: MoveNet's network in PyTorch (engine/movenet_net.py), networks that
decode themselves in every student backend, and its training (training/movenet_student.py)."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from uniskel.engine import assets, skeleton  # noqa: E402

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

    from uniskel.engine.movenet_net import from_movenet

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
    from uniskel.engine.movenet_net import from_movenet

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
    from uniskel.engine.movenet_net import from_movenet

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
    from uniskel.engine.export_onnx import export_checkpoint
    from uniskel.engine.model import config_for, from_config

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


def test_training_moves_only_what_it_may(shared_data):
    """One real step: the published regression and offset rows, the backbone and the
    centre head stay exactly as published; the new points' rows and the heatmap head
    move; a point below a cut gets an empty target map."""
    from uniskel.training import movenet_student as M

    cfg = M.Config(limit=8, batch=8)
    people = M.people(cfg)[:8]
    model, teacher = M.build()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.Adam(M.trainable(model), 1e-2)
    rng = np.random.default_rng(0)
    batch = [M.sample(p, rng, cfg, model.input_size) for p in people]
    crops = torch.from_numpy(np.stack([b[0] for b in batch])).permute(0, 3, 1, 2).float()
    kpts, mask, labelled, rows = (np.stack([b[j] for b in batch]) for j in (1, 2, 3, 4))
    maps, t_heat, t_kpts = M.forward(model, teacher, crops)
    loss, parts = M.loss_fn(model, maps, kpts, mask, cfg.sigma, t_heat, t_kpts, labelled, rows)
    assert np.isfinite(loss.item()) and parts["heat"] > 0
    opt.zero_grad()
    loss.backward()
    opt.step()
    after = model.state_dict()
    for head in ("regress", "offset"):
        w = f"heads.{head}.1.weight"
        assert torch.equal(after[w][:34], before[w][:34])
        assert not torch.equal(after[w][34:], before[w][34:])
    assert not torch.equal(after["heads.heatmap.1.weight"], before["heads.heatmap.1.weight"])
    frozen = [k for k in before if k.startswith(("backbone", "fpn", "top", "heads.center"))]
    assert frozen and all(torch.equal(after[k], before[k]) for k in frozen)


def test_training_the_whole_network_keeps_the_teachers_points_at_the_start(shared_data):
    """--backbone-lr: student and teacher both start as the shipped student, so the
    distillation term is exactly 0 before a step; one step moves the backbone, the FPN
    and the published rows, while the teacher stays as it was."""
    from uniskel.engine import assets
    from uniskel.training import movenet_student as M

    cfg = M.Config(limit=8, batch=8)
    model, teacher = M.build_whole(str(assets.asset("models", "uniskel_student.pt")))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    rng = np.random.default_rng(0)
    batch = [M.sample(p, rng, cfg, model.input_size) for p in M.people(cfg)[:8]]
    crops = torch.from_numpy(np.stack([b[0] for b in batch])).permute(0, 3, 1, 2).float()
    kpts, mask, labelled, rows = (np.stack([b[j] for b in batch]) for j in (1, 2, 3, 4))
    maps, t_maps, t_kpts = M.forward_whole(model, teacher, crops)
    distil = M.distil_loss(model, maps, t_maps, t_kpts[:, :17])
    assert distil.item() == 0.0
    loss, _ = M.loss_fn(model, maps, kpts, mask, cfg.sigma, t_maps["heatmap"][:, :17],
                        t_kpts[:, :17], labelled, rows)
    opt.zero_grad()
    (loss + distil).backward()
    opt.step()
    after = model.state_dict()
    for k in ("backbone.5.body.0.weight", "fpn.0.lateral.weight",
              "heads.regress.1.weight"):
        assert not torch.equal(after[k], before[k]), k
    assert all(torch.equal(v, before[k]) for k, v in teacher.state_dict().items())
    maps, t_maps, t_kpts = M.forward_whole(model, teacher, crops)
    assert M.distil_loss(model, maps, t_maps, t_kpts[:, :17]).item() > 0


def test_a_cut_hides_the_points_below_it(shared_data):
    """Cut pictures: nothing below the cut line counts as visible, the lower knee is
    below it, and a crop cut straight across is black below its row."""
    from uniskel.training import movenet_student as M

    cfg = M.Config(limit=40, cut_prob=1.0)
    rng = np.random.default_rng(1)
    kinds = set()
    knees = [skeleton.INDEX["left_knee"], skeleton.INDEX["right_knee"]]
    for person in M.people(cfg)[:40]:
        patch, kpts, visible, labelled, line, _ = M.sample(person, rng, cfg, 192)
        if (line == M.NO_CUT).all():
            continue
        assert not (visible & M.below(line, kpts)).any()
        lower = knees[int(np.argmax(kpts[knees, 1]))] if line[0] == 0 else None
        if lower is not None and labelled[lower]:
            assert not visible[lower]
        if line[0] == 0 and line[1] == 1:  # cut straight across the crop
            kinds.add("crop")
            row = int(-line[2])
            assert patch[row:].max() == 0 and patch[:row].max() > 0
        else:
            kinds.add("picture")
    assert kinds == {"crop", "picture"}


def test_a_close_up_frames_the_head_and_shoulders(shared_data):
    """closeup_prob=1: upright people are framed from above the head down to between just
    under the shoulders and the waist, the picture blank below that line: the shoulders
    are in it, nothing below it counts as visible, and hardly ever an ankle."""
    from uniskel.training import movenet_student as M

    cfg = M.Config(limit=60, closeup_prob=1.0)
    rng = np.random.default_rng(2)
    ankles = [skeleton.INDEX["left_ankle"], skeleton.INDEX["right_ankle"]]
    ys, xs = np.mgrid[0:192, 0:192]
    pixels = np.stack([xs, ys], -1).astype(np.float64)
    near_ones = blank = feet = 0
    for person in M.people(cfg)[:60]:
        patch, kpts, visible, labelled, line, near = M.sample(person, rng, cfg, 192)
        if not near:
            continue
        near_ones += 1
        assert visible[M.SHOULDER_PAIR].all()
        feet += bool(visible[ankles].any())  # a crouching person's can be
        assert not (visible & M.below(line, kpts)).any()
        well_below = pixels[..., 0] * line[0] + pixels[..., 1] * line[1] + line[2] \
            > 8 * np.hypot(line[0], line[1])
        # one flat colour there (black, then the brightness jitter every crop gets)
        if well_below.any():  # (the crop's jitter may leave the line at its very edge)
            blank += 1
            assert np.ptp(patch[well_below]) <= 2
    assert near_ones >= 20 and blank >= near_ones // 2 and feet <= near_ones // 5


def test_the_command_trains_resumes_and_exports(shared_data, tmp_path, capsys):
    """uniskel train movenet writes a checkpoint uniskel export turns into a model every
    student backend runs; started again with more epochs it resumes."""
    from uniskel import commands
    from uniskel.engine import backends, modelfile

    out = tmp_path / "run"
    argv = ["train", "movenet", "--out", str(out), "--limit", "8", "--batch-size", "4"]
    assert commands.main(argv + ["--epochs", "1"]) == 0
    step = modelfile.read_checkpoint(out / "last.pt")["step"]
    assert step == 2
    assert commands.main(argv + ["--epochs", "2"]) == 0
    assert "resumed at step 2 of 4" in capsys.readouterr().out
    assert modelfile.read_checkpoint(out / "last.pt")["step"] == 4
    onnx_path = tmp_path / "v2.onnx"
    assert commands.main(["export", "--checkpoint", str(out / "last.pt"), "--weights",
                          str(tmp_path / "v2.pt"), "--onnx", str(onnx_path)]) == 0
    be = backends.create("onnx", onnx_path)
    try:
        assert be.infer(np.zeros((1, 192, 192, 3), np.uint8)).shape == (1, 21, 3)
    finally:
        be.close()
