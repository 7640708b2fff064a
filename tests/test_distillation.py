"""The method itself: distillation from one online and one cached teacher.

Real data (LSPET's first 12 images, their labels cut out of joints.mat so that reading
them is quick; coco_mini's train part), the tiny student at 128x96, an
online teacher (a tiny PoseNet checkpoint on the LSP skeleton) and a cached one
(BlazePose's kind, its cache filled here from the labels moved a little, so no MediaPipe
is needed). Each teacher must teach exactly the points it covers, minus those where
ground truth takes over, with its weight and its own decay, and a stopped run must
resume to the same weights.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from uniskel.engine import skeleton
from uniskel.engine.assets import shared_data

DATA = shared_data()
pytestmark = [
    pytest.mark.skipif(not (DATA / "lspet" / "joints.mat").is_file()
                       or not (DATA / "coco_mini" / "annotations").is_dir(),
                       reason="LSPET or coco_mini not present in the shared data"),
    pytest.mark.timeout(300)]

LSP_COVERS = skeleton.MAPPINGS["lsp"].mask            # the online teacher's points
COCO_COVERS = np.arange(skeleton.NUM_KEYPOINTS) < 17  # BlazePose's: the 17 COCO points
W_LSP, W_BP = 0.45, 0.7                               # loss.w_mpii_teacher; the spec's own


def make_config(root: Path, teachers=None, work: Path | None = None):
    """The run's settings: data and teacher checkpoint in ``root``, run folder and
    teacher caches in ``work`` (default ``root``)."""
    from uniskel.training.augment import AugmentConfig
    from uniskel.training.config import DatasetSpec, TeacherSpec, TrainConfig
    from uniskel.training.losses import LossConfig

    lsp, coco, work = DATA / "lspet", DATA / "coco_mini", work or root
    return TrainConfig(
        mode="student", arch="tiny", input_size=(128, 96),
        datasets=[DatasetSpec("lspet", "lsp", str(lsp / "images"), str(root / "lspet_12.mat"),
                              (0, 12)),
                  DatasetSpec("coco_mini", "coco", str(coco / "train2017"),
                              str(coco / "annotations" / "person_keypoints_train2017.json"),
                              split="train")],
        # online: where_gt unset, so the loss's (false) applies; decay: the loss's (linear)
        # cached: teaches labelled points on LSPET only; its own weight; no decay
        teachers=teachers or [
            TeacherSpec("model", str(root / "teacher.pt"), "lsp", "mpii"),
            TeacherSpec("blazepose", role="coco", where_gt=("lspet",), weight=W_BP,
                        decay="none")],
        epochs=2, samples_per_epoch=8, batch_size=4, workers=0,
        warmup_steps=2, lr=2e-3, seed=0, device="cpu", amp=False, repair_lr_swaps=False,
        out=str(work / "run"), cache_dir=str(work / "cache"),
        loss=LossConfig(teacher_where_gt=False, decay="linear"),
        augment=AugmentConfig(rotate_prob=0, flip_prob=0.5, half_body_prob=0))


def fill_cache(cfg, teacher, seed: int, drop_face: bool = False) -> None:
    """A complete cache for ``teacher`` (a blazepose TeacherSpec): the labels moved by a
    few pixels, confidence 0.9 where labelled, 0.3 (below teacher_min_conf) on one
    point in five; with ``drop_face``, no confident face points."""
    from uniskel.training.data import load_instances
    from uniskel.training.blazepose_cache import blazepose_cache_path

    rng = np.random.default_rng(seed)
    for spec in cfg.datasets:
        insts = load_instances(spec, "skip")
        k = np.stack([i.keypoints for i in insts]).astype(np.float32)
        k[..., :2] += rng.normal(0, 3, k[..., :2].shape)
        k[..., 2] = np.where(k[..., 2] > 0, 0.9, 0.0)
        k[:, ::5, 2] = np.minimum(k[:, ::5, 2], 0.3)
        k[:, 17:, 2] = 0.0  # BlazePose fills only the COCO points
        if drop_face:
            k[:, :5, 2] = 0.0
        path = blazepose_cache_path(spec, len(insts), cfg, teacher)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, keypoints=k)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    import scipy.io

    from uniskel.engine.models.model import config_for, from_config
    from uniskel.training.checkpoint import save_checkpoint

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("distil")
    joints = scipy.io.loadmat(str(DATA / "lspet" / "joints.mat"))["joints"]
    scipy.io.savemat(str(root / "lspet_12.mat"), {"joints": joints[:, :, :12]})
    torch.manual_seed(5)
    mcfg = config_for("tiny", input_size=(128, 96))
    save_checkpoint({"config": mcfg.to_dict(), "state_dict": from_config(mcfg).state_dict()},
                    root / "teacher.pt")
    cfg = make_config(root)
    fill_cache(cfg, cfg.teachers[1], seed=0)
    return root


def setup_batch(cfg, n=16):
    """The run's teachers and one batch of ``n`` samples of epoch 0 (both datasets)."""
    from torch.utils.data import default_collate

    from uniskel.engine.models.model import config_for
    from uniskel.training.data import MixedSamples, prepare_sources
    from uniskel.training.loop import to_device
    from uniskel.training.students import LossContext
    from uniskel.training.teachers import build_teachers

    mcfg = config_for(cfg.arch, input_size=cfg.input_size)
    ctx = LossContext(cfg.loss, mcfg.bins, mcfg.split_ratio)
    teachers = build_teachers(cfg, torch.device("cpu"), ctx)
    sources = prepare_sources(cfg, [t for t in teachers if t.kind == "cached"])
    data = MixedSamples(sources, cfg.input_size, cfg.augment, cfg.loss, cfg.seed, cfg.on_error)
    data.make_plan(0, n)
    batch = to_device(default_collate([data[i] for i in range(n)]), torch.device("cpu"))
    return teachers, ctx, batch, mcfg


def taught_by_gradient(teacher, batch, ctx, bins):
    """(B, 21) bool: the points whose student logits this teacher's term pulls on."""
    from uniskel.training.teachers import add_teacher_terms

    b = batch["mask"].shape[0]
    g = torch.Generator().manual_seed(0)
    pred = [torch.randn(b, skeleton.NUM_KEYPOINTS, n, generator=g, requires_grad=True)
            for n in bins]
    total, terms = add_teacher_terms(torch.zeros(()), pred, batch, [teacher], ctx, 0, 2)
    assert list(terms) == [teacher.name]
    total.backward()
    return (pred[0].grad.abs().sum(-1) + pred[1].grad.abs().sum(-1)) > 0


def test_each_teacher_teaches_its_points_except_where_ground_truth_takes_over(root):
    teachers, ctx, batch, mcfg = setup_batch(make_config(root))
    online, cached = teachers
    assert (online.kind, online.name, cached.kind, cached.name) == (
        "online", "teacher_lsp", "cached", "teacher_blazepose")
    mask, source = batch["mask"], batch["source"]
    lspet = (source == 0)[:, None]
    assert lspet.any() and (~lspet).any()  # both datasets in the batch

    # online, where_gt false: its 16 points wherever the sample has no label for them
    want = torch.as_tensor(LSP_COVERS)[None] & ~mask
    got = taught_by_gradient(online, batch, ctx, mcfg.bins)
    assert torch.equal(got, want)
    head_top, nose = skeleton.INDEX["head_top"], skeleton.INDEX["nose"]
    assert got[~lspet[:, 0], head_top].all()  # COCO lacks head top: the teacher gives it
    assert not got[:, nose].any()             # the LSP skeleton has no nose
    assert not (got & mask).any()             # labelled points: ground truth alone

    # cached, where_gt ["lspet"]: its confident COCO points, labelled ones on LSPET only
    conf = batch["teacher_conf"][:, cached.slot]
    want = torch.as_tensor(COCO_COVERS)[None] & (conf > 0.5) & (~mask | lspet)
    got = taught_by_gradient(cached, batch, ctx, mcfg.bins)
    assert torch.equal(got, want)
    assert (got & mask & lspet).any()          # LSPET's labelled limbs: taught too
    assert not (got & mask & ~lspet).any()     # COCO's labelled points: ground truth alone
    assert not got[:, 17:].any()               # nothing beyond the 17 COCO points
    assert (mask & lspet & (conf > 0) & (conf <= 0.5)).any()  # unsure: left out


def test_teacher_terms_are_weighted_and_decayed_as_configured(root):
    """The loop's step loss: w_gt x gt + 0.45 x (1 - epoch/2) x online + 0.7 x cached."""
    from uniskel.engine.models.model import from_config
    from uniskel.training.loop import batch_loss

    cfg = make_config(root)
    teachers, ctx, batch, mcfg = setup_batch(cfg, n=8)
    torch.manual_seed(0)
    model = from_config(mcfg).eval()
    with torch.no_grad():
        at = {e: batch_loss(model, batch, teachers, ctx, "student", e, cfg.epochs)
              for e in (0, 1)}
        alone = batch_loss(model, batch, teachers, ctx, "teacher", 1, cfg.epochs)
    for e, step in at.items():
        assert set(step.terms) == {"teacher_lsp", "teacher_blazepose"}
        lsp, bp = step.terms["teacher_lsp"].item(), step.terms["teacher_blazepose"].item()
        assert lsp > 0 and bp > 0
        want = 0.3 * step.gt.item() + W_LSP * (1 - e / 2) * lsp + W_BP * bp
        assert step.total.item() == pytest.approx(want, rel=1e-6)
    # the terms themselves do not change with the epoch; only the online one decays
    assert at[1].terms["teacher_lsp"].item() == pytest.approx(
        at[0].terms["teacher_lsp"].item(), rel=1e-6)
    assert at[0].total.item() - at[1].total.item() == pytest.approx(
        0.5 * W_LSP * at[0].terms["teacher_lsp"].item(), rel=1e-5)
    assert alone.total.item() == alone.gt.item()  # teacher mode: ground truth only
    assert alone.gt.item() == pytest.approx(at[0].gt.item(), rel=1e-6)


def test_a_run_with_teachers_logs_decayed_terms_and_resumes_exactly(root, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from uniskel.training.checkpoint import load_checkpoint
    from uniskel.training.train import train

    torch.set_num_threads(1)
    whole = make_config(root)
    whole.out = str(tmp_path / "whole")
    a = load_checkpoint(train(whole))
    assert (a["epoch"], a["step_in_epoch"], a["global_step"]) == (2, 0, 4)

    acc = EventAccumulator(str(tmp_path / "whole" / "tb"))
    acc.Reload()
    series = {tag: {e.step: e.value for e in acc.Scalars(tag)}
              for tag in ("loss/total", "loss/gt", "loss/teacher_lsp", "loss/teacher_blazepose")}
    assert len(series["loss/total"]) == 4
    assert len(series["loss/teacher_blazepose"]) == 4 and len(series["loss/teacher_lsp"]) >= 3
    for step, total in series["loss/total"].items():
        decay = 1.0 if step <= 2 else 0.5  # steps 1-2: epoch 0; 3-4: epoch 1 of 2
        want = (0.3 * series["loss/gt"][step]
                + W_LSP * decay * series["loss/teacher_lsp"].get(step, 0.0)
                + W_BP * series["loss/teacher_blazepose"][step])
        assert total == pytest.approx(want, rel=1e-5), step

    cfg = make_config(root)
    cfg.out = str(tmp_path / "stopped")
    ck = load_checkpoint(train(cfg, max_steps=3))  # stops in the middle of epoch 1
    assert (ck["epoch"], ck["step_in_epoch"], ck["global_step"]) == (1, 1, 3)
    b = load_checkpoint(train(cfg, resume=True))
    assert b["global_step"] == 4
    assert a["state_dict"].keys() == b["state_dict"].keys()
    differ = [k for k in a["state_dict"] if not torch.equal(a["state_dict"][k],
                                                            b["state_dict"][k])]
    assert not differ, f"{len(differ)} tensors differ, e.g. {differ[:3]}"
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert torch.equal(sa["exp_avg"], sb["exp_avg"])
    assert b["meta"]["teachers"] == [f"model:{root / 'teacher.pt'}", "blazepose"]


def test_any_number_of_teachers_of_either_kind(root, tmp_path):
    """Two online and two cached teachers: unique names, one data slot per cached teacher,
    each reading its own cache."""
    from uniskel.training.config import TeacherSpec

    specs = [TeacherSpec("blazepose", role="coco", complexity=1, where_gt=True),
             TeacherSpec("model", str(root / "teacher.pt"), "lsp", "mpii"),
             TeacherSpec("blazepose", role="coco", complexity=2, where_gt=True),
             TeacherSpec("model", str(root / "teacher.pt"), "lsp", "coco", weight=0.1)]
    cfg = make_config(root, specs, work=tmp_path)
    fill_cache(cfg, specs[0], seed=1)
    fill_cache(cfg, specs[2], seed=2, drop_face=True)
    teachers, ctx, batch, mcfg = setup_batch(cfg, n=8)
    assert [(t.kind, t.name) for t in teachers] == [
        ("online", "teacher_lsp"), ("online", "teacher_lsp_2"),
        ("cached", "teacher_blazepose"), ("cached", "teacher_blazepose_2")]
    assert [t.weight for t in teachers] == [0.45, 0.1, 0.25, 0.25]
    assert [t.slot for t in teachers[2:]] == [0, 1]
    assert batch["teacher_coords"].shape == (8, 2, skeleton.NUM_KEYPOINTS, 2)
    full, heavy = (t.points(batch) for t in teachers[2:])
    assert full[:, :5].any() and not heavy[:, :5].any()  # the second cache has no face
    assert not torch.equal(batch["teacher_coords"][:, 0], batch["teacher_coords"][:, 1])
    for t in teachers:
        assert taught_by_gradient(t, batch, ctx, mcfg.bins).any(), t.name


def test_the_teacher_kinds_a_config_may_name_are_those_built():
    """``config.TEACHER_KINDS`` (checked where a config enters) is ``teachers.KINDS``'s keys."""
    from uniskel.training.config import TEACHER_KINDS
    from uniskel.training.teachers import KINDS

    assert tuple(KINDS) == TEACHER_KINDS
