"""The training pipeline: SimCC round trip, skeleton-aware flips, and a real end-to-end run."""
import numpy as np
import pytest
import torch

from uniskel.engine import skeleton
from uniskel.engine.runtime import crop
from uniskel.engine.models import simcc
from uniskel.training import losses
from uniskel.training.augment import AugmentConfig, make_sample


def test_simcc_encode_decode_round_trip_within_a_pixel():
    rng = np.random.default_rng(0)
    h, w = 128, 96
    codec = simcc.SimCC()  # the defaults every model and loss use
    coords = rng.uniform([2, 2], [w - 3, h - 3], (21, 2))
    tx, ty = codec.encode(coords, (int(w * codec.split_ratio), int(h * codec.split_ratio)))
    # targets as logits: log of the Gaussian, scaled so softmax(beta * logit) is that Gaussian
    lx, ly = np.log(tx + 1e-9)[None] / codec.beta, np.log(ty + 1e-9)[None] / codec.beta
    out = codec.decode(lx, ly)[0]
    assert np.abs(out[:, :2] - coords).max() < 1.0
    # a target-shaped peak holds ~3/4 of its mass within the +-3-bin window
    assert (out[:, 2] > 0.6).all()


def test_loss_targets_match_the_engine_encoding():
    """Training's targets and the engine's come from the one codec, with one beta."""
    coords = torch.tensor([[[10.3, 40.7]]])
    codec = simcc.SimCC()
    tx, ty = losses.gaussian_targets(coords, (192, 256), codec.split_ratio, codec.sigma)
    ex, ey = codec.encode(coords[0].numpy(), (192, 256))
    assert int(tx.argmax()) == int(np.argmax(ex)) == 21
    assert int(ty.argmax()) == int(np.argmax(ey)) == 81
    assert torch.allclose(tx.sum(-1), torch.ones(1))
    assert torch.allclose(tx[0], torch.from_numpy(ex / ex.sum(-1, keepdims=True)), atol=1e-6)
    assert losses.LossConfig().beta == codec.beta == simcc.BETA
    assert losses.LossConfig().sigma == codec.sigma


def test_flip_keeps_left_and_right_straight():
    """Mirroring a crop mirrors the person: their left wrist now looks like a right wrist
    (as in every pose toolkit), so the labels swap with the unified flip pairs. For a
    person facing the camera, the left wrist stays on the image's right either way."""
    img = np.zeros((200, 200, 3), np.uint8)
    kpts = np.zeros((21, 3))
    kpts[:, :2] = 100
    kpts[skeleton.INDEX["left_wrist"], :2] = (150, 100)   # image right (facing the camera)
    kpts[skeleton.INDEX["right_wrist"], :2] = (50, 100)   # image left
    img[95:106, 145:156] = 255                             # paint the labelled left wrist
    mask = np.zeros(21, bool)
    mask[[skeleton.INDEX["left_wrist"], skeleton.INDEX["right_wrist"]]] = True
    cfg = AugmentConfig(scale=(1, 1), rotate_prob=0, flip_prob=1.0, shift=0, half_body_prob=0,
                        color_prob=0, blur_prob=0, downscale_prob=0, gray_prob=0)
    patch, out, m, _, _ = make_sample(img, (0, 0, 200, 200), kpts, mask, (128, 96), cfg,
                                      np.random.default_rng(0))
    lw, rw = out[skeleton.INDEX["left_wrist"]], out[skeleton.INDEX["right_wrist"]]
    assert m[skeleton.INDEX["left_wrist"]] and m[skeleton.INDEX["right_wrist"]]
    # the painted wrist moved to the crop's left and is now labelled right_wrist
    assert patch[int(round(rw[1])), int(round(rw[0]))].min() > 200
    assert patch[int(round(lw[1])), int(round(lw[0]))].max() == 0
    assert rw[0] < 48 < lw[0]  # left still on the image's right


def test_crop_round_trip_maps_points_back():
    c, s = crop.box_to_center_scale((30, 40, 130, 240), (128, 96))
    m = crop.warp_matrix(c, s, (128, 96), rot=17.0)
    pts = np.array([[50.0, 60.0], [120.0, 200.0]])
    back = crop.apply(crop.invert(m), crop.apply(m, pts))
    assert np.abs(back - pts).max() < 1e-6


@pytest.mark.timeout(300)
def test_end_to_end_training_on_real_images_learns_resumes_and_evaluates(tmp_path, shared_data):
    """A few iterations on real LSPET images on the CPU: the loss goes down, the
    checkpoint resumes to the same state, and evaluation runs on it."""
    from uniskel.training.evaluate import evaluate, model_predict_fn
    from uniskel.training import datasets
    from uniskel.training.checkpoint import load_checkpoint
    from uniskel.training.config import DatasetSpec, TrainConfig
    from uniskel.training.train import train
    from uniskel.engine.modelfile import load_checkpoint as load_model

    torch.set_num_threads(1)
    lsp = shared_data / "lspet"
    spec = DatasetSpec("lspet", "lsp", str(lsp / "images"), str(lsp / "joints.mat"), (0, 8))
    cfg = TrainConfig(mode="teacher", datasets=[spec], epochs=1, samples_per_epoch=8 * 30,
                      batch_size=8, lr=3e-3, warmup_steps=1, workers=0, out=str(tmp_path / "run"),
                      repair_lr_swaps=False, augment=AugmentConfig(
                          rotate_prob=0, flip_prob=0, half_body_prob=0, color_prob=0,
                          blur_prob=0, downscale_prob=0, scale=(1, 1), shift=0))
    last = train(cfg, max_steps=15)
    first = load_checkpoint(last)
    assert first["global_step"] == 15 and first["step_in_epoch"] == 15
    last = train(cfg, resume=True)  # the remaining 15 steps of the epoch
    ck = load_checkpoint(last)
    assert ck["epoch"] == 1 and ck["global_step"] == 30

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(tmp_path / "run" / "tb"))
    acc.Reload()
    loss = [e.value for e in acc.Scalars("loss/gt")]
    assert len(loss) >= 30
    assert np.mean(loss[-5:]) < np.mean(loss[:5]) - 1.0  # it learns the 8 images

    model, mcfg, _ = load_model(last)
    insts = datasets.read_lsp(lsp / "joints.mat", lsp / "images", index_range=(0, 8))
    res = evaluate(model_predict_fn(model), insts, "lsp", mcfg.input_size)
    assert res["instances"] > 0 and 0.0 <= res["PCK@0.2"] <= 1.0


def test_every_shipped_training_config_loads_and_where_gt_is_per_teacher():
    """The configs in training/configs parse (no unknown keys, datasets named), and a
    teacher's own ``where_gt`` overrides the loss-wide ``teacher_where_gt``."""
    from pathlib import Path

    from uniskel.training.config import load_config
    from uniskel.training.teachers import where_gt

    configs = sorted((Path(__file__).parents[1] / "training" / "configs").glob("*.toml"))
    assert {p.name for p in configs} >= {"student.toml", "teacher_lsp.toml"}
    for path in configs:
        cfg = load_config(path)
        assert cfg.datasets, path.name
        assert cfg.mode in ("teacher", "student"), path.name
    cfg = load_config(configs[0].with_name("student.toml"))
    assert cfg.loss.teacher_where_gt is False
    by_kind = {t.kind: t for t in cfg.teachers}
    assert where_gt(by_kind["blazepose"], cfg.loss, "lspet") is True
    assert where_gt(by_kind["blazepose"], cfg.loss, "coco_mini") is False
    assert where_gt(by_kind["model"], cfg.loss, "lspet") is False
    # the shipped student never trains on the held-out COCO images
    coco = next(d for d in cfg.datasets if d.format == "coco")
    assert coco.split == "train"


def test_a_teacher_limited_to_some_datasets_is_silent_on_the_others_labelled_points():
    """where_gt = ["lspet"]: on a COCO sample the teacher keeps the points without ground
    truth and drops the labelled ones; on an LSPET sample it keeps both."""
    from uniskel.training.losses import LossConfig
    from uniskel.training.config import TeacherSpec
    from uniskel.training.teachers import taught_points, where_gt

    teacher = TeacherSpec("blazepose", where_gt=("lspet",))
    lc = LossConfig(teacher_where_gt=False)
    on_gt = torch.tensor([where_gt(teacher, lc, n) for n in ("lspet", "coco_mini")])
    assert on_gt.tolist() == [True, False]
    assert not where_gt(TeacherSpec("model"), lc, "lspet")  # None: the loss's setting
    w = torch.ones(2, 4, dtype=torch.bool)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 0, 0]], dtype=torch.bool)
    source = torch.tensor([0, 1])  # an LSPET sample, then a COCO one
    got = taught_points(w, mask, on_gt, source)
    assert got.tolist() == [[True] * 4, [False, False, True, True]]
