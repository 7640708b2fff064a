"""Backends: the contract, cpu/onnx parity, mediapipe on a real image, and every bad model file."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from uniskel.engine import backends, skeleton
from uniskel.engine import modelfile
from uniskel.engine.errors import UniskelError
from uniskel.engine.models.model import build


def resize(img, size_hw):
    import cv2

    return cv2.resize(img, (size_hw[1], size_hw[0]), interpolation=cv2.INTER_AREA)


def one_line(exc) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and msg, msg
    return msg


def test_available_names_every_backend_with_a_reason_or_none():
    avail = backends.available()
    assert tuple(avail) == backends.NAMES
    for name, reason in avail.items():
        assert reason is None or (reason.startswith(f"{name}:") and "\n" not in reason)
    assert avail["cpu"] is None  # torch is a hard dependency


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(UniskelError) as e:
        backends.create("vulkan")
    assert "unknown backend 'vulkan'" in one_line(e)


def test_cpu_and_onnx_agree_on_the_same_crops(random_checkpoint, random_onnx, lspet_crops):
    cpu = backends.create("cpu", random_checkpoint)
    onx = backends.create("onnx", random_onnx)
    size = cpu.input_size
    assert onx.input_size == size == tuple(cpu.cfg.input_size)
    real = np.stack([resize(c, size) for c in lspet_crops[0]])
    noise = np.random.default_rng(1).integers(0, 256, (3, *size, 3), dtype=np.uint8)
    crops = np.concatenate([real, noise])
    a, b = cpu.infer(crops), onx.infer(crops)
    assert a.shape == b.shape == (6, 21, 3) and a.dtype == np.float32
    assert np.all((a[..., 2] >= 0) & (a[..., 2] <= 1))
    dist = np.linalg.norm(a[..., :2] - b[..., :2], axis=-1)
    # same argmax almost everywhere; refinement differences are far below a pixel
    assert np.quantile(dist, 0.99) < 0.05, dist.max()
    assert np.abs(a[..., 2] - b[..., 2]).max() < 1e-3
    # raw logits agree too
    sx, sy = cpu.forward(crops)
    ox, oy = onx._run(crops.transpose(0, 3, 1, 2).astype(np.float32))
    assert max(np.abs(sx - ox).max(), np.abs(sy - oy).max()) < 1e-3


def test_onnx_metadata_carries_the_config(random_onnx, random_model):
    onx = backends.create("onnx", random_onnx)
    assert onx.cfg["num_keypoints"] == 21
    assert tuple(onx.cfg["input_size"]) == random_model[1].input_size
    assert onx.split_ratio == random_model[1].split_ratio
    assert onx.infer(np.zeros((0, *onx.input_size, 3), np.uint8)).shape == (0, 21, 3)


def test_auto_follows_the_model_file(random_checkpoint, random_onnx):
    assert backends.create("auto", random_onnx).name == "onnx"
    assert backends.create("auto", random_checkpoint).name in ("tensorrt", "cuda", "cpu")


def test_mismatched_file_kind_is_explained(random_checkpoint, random_onnx):
    with pytest.raises(UniskelError) as e:
        backends.create("cpu", random_onnx)
    assert "is ONNX" in one_line(e)
    with pytest.raises(UniskelError) as e:
        backends.create("onnx", random_checkpoint)
    assert "PyTorch checkpoint" in one_line(e)


def test_missing_bundled_model_says_how_to_get_one(monkeypatch, tmp_path):
    from uniskel.engine import assets

    monkeypatch.setattr(assets, "default_model", lambda: tmp_path / "uniskel_student.pt")
    monkeypatch.setattr(assets, "default_onnx", lambda: tmp_path / "uniskel_student.onnx")
    for name in ("cpu", "auto"):
        with pytest.raises(UniskelError) as e:
            backends.create(name)
        msg = one_line(e)
        assert msg.startswith("no model bundled at") and "uniskel train" in msg


def _save(path, cfg, state):
    torch.save({"config": cfg.to_dict(), "state_dict": state, "meta": {}}, path)
    return path


@pytest.mark.parametrize("name", ["cpu", "onnx"])
def test_bad_model_files_raise_one_specific_line(name, tmp_path, random_checkpoint, random_onnx):
    good = random_checkpoint if name == "cpu" else random_onnx
    ext = good.suffix
    cases = {}
    cases["missing"] = (tmp_path / f"nope{ext}", "not found")
    empty = tmp_path / f"empty{ext}"
    empty.write_bytes(b"")
    cases["empty"] = (empty, "empty")
    data = good.read_bytes()
    trunc = tmp_path / f"truncated{ext}"
    trunc.write_bytes(data[: len(data) // 2])
    cases["truncated"] = (trunc, "not a readable" if name == "cpu" else "not a loadable ONNX")
    junk = tmp_path / f"junk{ext}"
    junk.write_text("hello, I am not a model\n")
    cases["junk"] = (junk, "not a readable" if name == "cpu" else "not a loadable ONNX")
    for label, (path, expect) in cases.items():
        with pytest.raises(UniskelError) as e:
            backends.create(name, path)
        msg = one_line(e)
        assert expect in msg and path.name in msg, (label, msg)


def test_wrong_checkpoints_are_named(tmp_path):
    tiny = build("tiny")
    small = build("small")
    # weights of another architecture under this config
    wrong = _save(tmp_path / "wrong_arch.pt", tiny.cfg, small.state_dict())
    with pytest.raises(UniskelError) as e:
        backends.create("cpu", wrong)
    assert "weights do not match its 'tiny' config" in one_line(e)
    # a 17-keypoint model
    m17 = build("tiny", num_keypoints=17, keypoints=skeleton.KEYPOINTS[:17])
    k17 = _save(tmp_path / "k17.pt", m17.cfg, m17.state_dict())
    with pytest.raises(UniskelError) as e:
        backends.create("cpu", k17)
    assert "17 keypoints" in one_line(e)
    # a bare state_dict is not a uniskel checkpoint
    bare = tmp_path / "bare.pt"
    torch.save(tiny.state_dict(), bare)
    with pytest.raises(UniskelError) as e:
        backends.create("cpu", bare)
    assert "not a uniskel checkpoint" in one_line(e)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_wrong_onnx_models_are_named(tmp_path):
    pytest.importorskip("onnx")
    from uniskel.engine.models.export_onnx import export_onnx

    m17 = build("tiny", num_keypoints=17, keypoints=skeleton.KEYPOINTS[:17]).eval()
    path = export_onnx(m17, tmp_path / "k17.onnx", check=False)
    with pytest.raises(UniskelError) as e:
        backends.create("onnx", path)
    assert "17 keypoints" in one_line(e)

    class Other(torch.nn.Module):
        def forward(self, x):
            return x.mean(dim=(2, 3))

    other = tmp_path / "other.onnx"
    torch.onnx.export(Other(), (torch.zeros(1, 3, 8, 8),), str(other), input_names=["input"],
                      output_names=["logits"], opset_version=17, dynamo=False)
    with pytest.raises(UniskelError) as e:
        backends.create("onnx", other)
    assert "not a uniskel pose model" in one_line(e)


def test_export_writes_metadata(random_onnx):
    import onnx

    props = {p.key: p.value for p in onnx.load(str(random_onnx)).metadata_props}
    cfg = json.loads(props["uniskel_config"])
    assert cfg["keypoints"] == list(skeleton.KEYPOINTS)


def test_mediapipe_backend_on_real_crops(lspet_crops):
    reason = backends.available()["mediapipe"]
    if reason:
        pytest.skip(reason)
    crops, gts = lspet_crops
    mp = backends.create("mediapipe")
    out = mp.infer(crops)
    assert out.shape == (3, 21, 3) and out.dtype == np.float32
    assert np.all(out[:, skeleton.INDEX["head_top"], 2] == 0)
    assert np.all(out[:, skeleton.INDEX["upper_neck"], 2] == 0)
    assert not mp.provided[skeleton.INDEX["head_top"]] and mp.provided[skeleton.INDEX["thorax"]]
    found = out[:, :, 2].max(1) > 0
    assert found.sum() >= 2
    # thorax is the shoulder midpoint
    i = int(np.argmax(found))
    ls, rs = out[i, skeleton.INDEX["left_shoulder"], :2], out[i, skeleton.INDEX["right_shoulder"], :2]
    assert np.allclose(out[i, skeleton.INDEX["thorax"], :2], (ls + rs) / 2, atol=1e-3)
    # and BlazePose lands near the real LSP joints (shoulders, hips, wrists, ankles)
    pairs = [(8, "right_shoulder"), (9, "left_shoulder"), (2, "right_hip"), (3, "left_hip"),
             (6, "right_wrist"), (11, "left_wrist"), (0, "right_ankle"), (5, "left_ankle")]
    for n in np.flatnonzero(found):
        err = [np.linalg.norm(gts[n, a, :2] - out[n, skeleton.INDEX[b], :2])
               for a, b in pairs if gts[n, a, 2] > 0]
        assert np.median(err) < 0.15 * crops.shape[1], (n, err)
    # any crop size works (evaluation hands it the student's crops)
    small = resize(crops[0], (128, 96))[None]
    assert mp.infer(small).shape == (1, 21, 3)
    mp.close()


def test_blazepose_heavy_is_refused_with_a_reason_until_installed(tmp_path, monkeypatch):
    """model_complexity 2 never downloads: without pose_landmark_heavy.tflite it says where
    the file comes from; install_landmark_model puts a real TFLite file in place and
    refuses anything else."""
    from uniskel.engine.backends import mediapipe as mpb

    root = tmp_path / "mediapipe"
    (root / mpb.LANDMARK_DIR).mkdir(parents=True)
    (root / mpb.LANDMARK_MODEL).write_bytes(b"\x18\x00\x00\x00TFL3full")
    monkeypatch.setattr(mpb, "_package_root", lambda: root)
    assert mpb.unavailable(1) is None
    reason = mpb.unavailable(2)
    assert "pose_landmark_heavy.tflite" in reason and "@mediapipe/pose" in reason
    with pytest.raises(UniskelError) as e:
        mpb.MediaPipeBackend(model_complexity=2)
    assert one_line(e) == reason

    not_tflite = tmp_path / "model.tflite"
    not_tflite.write_bytes(b"<html>not found</html>")
    with pytest.raises(UniskelError, match="not a TFLite model"):
        mpb.install_landmark_model(not_tflite, 2)
    with pytest.raises(UniskelError, match="not found"):
        mpb.install_landmark_model(tmp_path / "missing.tflite", 2)
    heavy = tmp_path / "pose_landmark_heavy.tflite"
    heavy.write_bytes(b"\x18\x00\x00\x00TFL3" + bytes(100))
    dst = mpb.install_landmark_model(heavy, 2)
    assert dst == root / mpb.LANDMARK_DIR / "pose_landmark_heavy.tflite"
    assert dst.read_bytes() == heavy.read_bytes()
    assert mpb.unavailable(2) is None
    assert "0, 1 or 2" in mpb.unavailable(3)


@pytest.mark.parametrize("name", ["cuda", "tensorrt"])
def test_gpu_backends_run_or_skip_with_reason(name, random_checkpoint, tmp_path, monkeypatch):
    reason = backends.available()[name]
    if reason:
        assert reason.startswith(f"{name}: ")
        with pytest.raises(UniskelError) as e:
            backends.create(name, random_checkpoint)
        assert one_line(e) == reason
        pytest.skip(reason)
    monkeypatch.setenv("UNISKEL_CACHE", str(tmp_path))
    be = backends.create(name, random_checkpoint)
    cpu = backends.create("cpu", random_checkpoint)
    crops = np.random.default_rng(0).integers(0, 256, (2, *cpu.input_size, 3), dtype=np.uint8)
    a, b = be.infer(crops), cpu.infer(crops)
    assert a.shape == (2, 21, 3)
    assert np.median(np.linalg.norm(a[..., :2] - b[..., :2], axis=-1)) < 1.0  # FP16 vs FP32


def test_checkpoint_meta_with_numpy_values_still_loads(tmp_path):
    m = build("tiny")
    path = tmp_path / "meta.pt"
    torch.save({"config": m.cfg.to_dict(), "state_dict": m.state_dict(),
                "meta": {"best_ap": np.float64(0.5)}}, path)
    model, cfg, meta = modelfile.load_checkpoint(path)
    assert cfg.arch == "tiny" and float(meta["best_ap"]) == 0.5


def test_shipped_student_agrees_across_backends_and_finds_real_joints(shared_data):
    from conftest import make_lspet_crops
    from uniskel.engine import assets

    cpu = backends.create("cpu", assets.default_model())
    onx = backends.create("onnx", assets.default_onnx())
    assert cpu.input_size == onx.input_size
    # the calibrated decoding, tracking and quality settings travel in both files
    assert (cpu.output, getattr(cpu, "window", None), cpu.person_score, cpu.quality) == \
        (onx.output, getattr(onx, "window", None), onx.person_score, onx.quality)
    crops, gts = make_lspet_crops(shared_data, cpu.input_size)
    a, b = cpu.infer(crops), onx.infer(crops)
    # the same network; the ONNX file may be its int8 twin (uniskel export --int8)
    import onnx
    graph = onnx.load(str(assets.default_onnx())).graph
    int8 = any(n.op_type == "QuantizeLinear" for n in graph.node)
    moved = np.quantile(np.linalg.norm(a[..., :2] - b[..., :2], axis=-1), 0.95)
    assert moved < (2.0 if int8 else 0.5), (moved, int8)
    lsp = skeleton.LSP.to_unified  # LSP joint -> unified point
    err = [np.linalg.norm(a[n, lsp[j], :2] - gts[n, j, :2])
           for n in range(len(crops)) for j in range(14) if gts[n, j, 2] > 0]
    assert np.median(err) < 0.05 * crops.shape[1], np.round(err)
    # people score above the tracker's bar
    assert (a[:, :, 2].mean(1) > cpu.person_score).all()


def test_adding_a_backend_is_one_file(tmp_path, monkeypatch):
    """A module with NAME, LABEL, MODEL_SUFFIX, AUTO_RANK, unavailable() and load() in the
    backends folder shows up in every list: names, --backend choices, the window's
    labels, auto's order and the model-file rules."""
    import importlib
    import sys

    import uniskel.engine.backends as B

    (tmp_path / "echo.py").write_text(
        'NAME = "echo"\nLABEL = "Echo (tests)"\nMODEL_SUFFIX = ".echo"\nAUTO_RANK = 9\n'
        'def unavailable():\n    return None\n'
        'def load(model_path=None, **options):\n    return ("echo backend", model_path)\n')
    monkeypatch.setattr(B, "__path__", [*B.__path__, str(tmp_path)])
    monkeypatch.delitem(sys.modules, "uniskel.engine.backends.echo", raising=False)
    found = B.discover()
    assert list(found)[:5] == ["tensorrt", "cuda", "onnx", "cpu", "echo"]  # by AUTO_RANK
    monkeypatch.setattr(B, "MODULES", found)
    monkeypatch.setattr(B, "AUTO_ORDER", tuple(n for n, m in found.items()
                                               if m.AUTO_RANK is not None))
    assert B.create("auto", tmp_path / "model.echo") == ("echo backend", tmp_path / "model.echo")
    with pytest.raises(UniskelError) as e:
        B.create("echo", tmp_path / "model.onnx")
    assert "echo runs a .echo checkpoint" in str(e.value) and "--backend onnx" in str(e.value)
    importlib.reload(B)  # back to the real folder
    assert "echo" not in B.NAMES and B.CHOICES[0] == "auto"


def test_listing_backends_never_imports_torch():
    """An ONNX-only session (the demo on a laptop) must not load torch just to look."""
    import subprocess
    import sys

    code = ("import sys\nfrom uniskel.engine import backends\nbackends.available()\n"
            "import uniskel.app.main, uniskel.training.evaluate, uniskel.engine.media.outputs\n"
            "print('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=str(Path(__file__).resolve().parents[1]), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("variant", ["lightning", "thunder"])
def test_movenet_finds_real_joints_on_the_students_crops(variant, lspet_crops):
    """The bundled MoveNet on real LSPET crops of the student's shape: its 17 COCO points
    (and derived thorax and pelvis) land near the annotated joints."""
    mv = backends.create("movenet", variant)
    assert variant in mv.description and mv.provided.sum() == 19
    crops, gts = lspet_crops
    out = mv.infer(crops)
    assert out.shape == (3, 21, 3) and not out[:, [skeleton.INDEX["head_top"],
                                                     skeleton.INDEX["upper_neck"]], 2].any()
    lsp = skeleton.LSP.to_unified
    err = [np.linalg.norm(out[n, lsp[j], :2] - gts[n, j, :2]) for n in range(3)
           for j in range(12) if gts[n, j, 2] > 0]
    assert len(err) >= 20 and np.median(err) < 0.05 * crops.shape[1], np.round(err)
