"""Model files are data: opening a crafted model or checkpoint never runs code.

Each crafted ``.pt`` would create a marker file if it were unpickled with the full
unpickler. Every command that reads a model, and the app's "Open model" dialog, must
refuse it in one line that names the file, exit non-zero, and leave no marker. An ONNX
file with the wrong input shape is refused before ONNX Runtime builds a session.
"""
from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest

from uniskel import commands as cli
from conftest import error_line
from uniskel.engine.errors import UniskelError

pytestmark = pytest.mark.timeout(300)


class Plant:
    """Unpickled by the full unpickler, this calls ``open(marker, "w")``: code runs."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def crafted(tmp_path_factory, random_model):
    import onnx
    import torch

    from uniskel.engine.models.export_onnx import export_onnx

    d = tmp_path_factory.mktemp("crafted")
    marker = d / "MARKER"
    model, cfg = random_model
    files = {}
    files["whole"] = d / "whole.pt"  # the file is nothing but the payload
    torch.save(Plant(marker), files["whole"])
    files["in_meta"] = d / "in_meta.pt"  # a valid-looking checkpoint, payload in its meta
    torch.save({"config": cfg.to_dict(), "state_dict": model.state_dict(),
                "meta": {"note": "fine-tuned", "extra": Plant(marker)}}, files["in_meta"])
    files["legacy"] = d / "legacy.pt"  # the pre-zip pickle format
    with open(files["legacy"], "wb") as f:
        pickle.dump({"config": cfg.to_dict(), "state_dict": {}, "meta": Plant(marker)}, f)
    onnx_path = export_onnx(model, d / "good.onnx", check=False)
    proto = onnx.load(str(onnx_path))
    proto.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 1  # one channel, not 3
    files["onnx_wrong_input"] = d / "wrong_input.onnx"
    onnx.save(proto, str(files["onnx_wrong_input"]))
    assert not marker.exists()
    return files, marker


PT = ["whole", "in_meta", "legacy"]


def test_the_payload_would_run_if_unpickled_fully(crafted, tmp_path):
    """The check below means something: the full unpickler does run these files."""
    import torch

    files, _ = crafted
    probe = tmp_path / "probe"
    torch.save({"meta": Plant(probe)}, tmp_path / "probe.pt")
    torch.load(tmp_path / "probe.pt", weights_only=False)
    assert probe.exists()


@pytest.mark.parametrize("label", PT)
def test_the_loader_refuses_each_crafted_file(label, crafted):
    from uniskel.engine import backends
    from uniskel.training.checkpoint import load_checkpoint

    files, marker = crafted
    for load in (lambda p: backends.create("cpu", p), lambda p: backends.create("auto", p),
                 load_checkpoint):
        with pytest.raises(UniskelError) as e:
            load(files[label])
        msg = str(e.value)
        assert "\n" not in msg and files[label].name in msg and "refused" in msg, msg
        assert "uniskel export" in msg  # says how to get a safe file
    assert not marker.exists()


@pytest.mark.parametrize("label", PT)
def test_every_command_refuses_a_crafted_checkpoint(label, crafted, demo_video, tmp_path,
                                                    capsys, shared_data):
    files, marker = crafted
    path = str(files[label])
    out = tmp_path / "out"
    runs = {
        "infer": ["infer", "--source", str(demo_video), "--backend", "cpu", "--model", path,
                  "--out", str(tmp_path / "o.mp4"), "--keypoints", str(tmp_path / "o.jsonl")],
        "bench": ["bench", "--source", str(demo_video), "--backend", "cpu", "--model", path,
                  "--repeat", "1"],
        "eval": ["eval", "--format", "lsp", "--range", "7500:7502", "--backend", "cpu",
                 "--model", path],
        "soak": ["soak", "--source", str(demo_video), "--backend", "cpu", "--model", path,
                 "--minutes", "0.01", "--json", str(tmp_path / "soak.json")],
        "export": ["export", "--checkpoint", path, "--weights", str(tmp_path / "slim.pt")],
        "train": ["train", "student", "--datasets", "coco_mini", "--arch", "tiny",
                  "--out", str(out), "--init-from", path, "--max-steps", "1"],
    }
    for command, argv in runs.items():
        assert cli.main(argv) == 2, command
        line = error_line(capsys, command)
        assert files[label].name in line and "refused" in line, (command, line)
        assert not marker.exists(), command
    assert not (tmp_path / "o.mp4").exists() and not (tmp_path / "slim.pt").exists()


def test_training_refuses_a_crafted_teacher_and_resume_checkpoint(crafted, tmp_path, capsys,
                                                                  shared_data):
    files, marker = crafted
    out = tmp_path / "run"
    out.mkdir()
    shutil.copy(files["in_meta"], out / "last.pt")  # a planted "checkpoint" to resume from
    base = ["train", "student", "--datasets", "coco_mini", "--arch", "tiny", "--out", str(out),
            "--max-steps", "1"]
    assert cli.main(base + ["--resume"]) == 2
    assert "refused" in error_line(capsys, "train")
    assert cli.main(base + ["--teachers", str(files["whole"]), "--overwrite"]) == 2
    assert "refused" in error_line(capsys, "train")
    assert not marker.exists()


def test_quality_fit_refuses_a_crafted_checkpoint(crafted, tmp_path, capsys, shared_data):
    files, marker = crafted
    rc = cli.main(["quality", "--model", str(files["in_meta"]), "--backend", "cpu",
                       "--out", str(tmp_path / "q.json"), "--lsp-people", "2",
                       "--coco-repeats", "1"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "refused" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not marker.exists() and not (tmp_path / "q.json").exists()


def test_an_onnx_file_with_a_wrong_input_shape_is_refused_before_a_session(crafted, monkeypatch,
                                                                          demo_video, capsys,
                                                                          tmp_path):
    import onnxruntime as ort

    files, _ = crafted
    path = files["onnx_wrong_input"]
    built = []
    real = ort.InferenceSession
    monkeypatch.setattr(ort, "InferenceSession", lambda *a, **k: built.append(a) or real(*a, **k))
    from uniskel.engine import backends

    with pytest.raises(UniskelError) as e:
        backends.create("onnx", path)
    assert "(N, 3, H, W)" in str(e.value) and path.name in str(e.value)
    assert built == []  # refused from the file's own description, before onnxruntime
    assert cli.main(["infer", "--source", str(demo_video), "--backend", "onnx",
                     "--model", str(path), "--keypoints", str(tmp_path / "k.jsonl")]) == 2
    assert "input 'image' has shape" in error_line(capsys, "infer")


def test_an_onnx_file_with_external_data_is_refused(random_model, tmp_path):
    """External data can name any file on disk: uniskel loads self-contained models only."""
    import onnx

    from uniskel.engine import backends
    from uniskel.engine.models.export_onnx import export_onnx

    model, _ = random_model
    path = export_onnx(model, tmp_path / "m.onnx", check=False)
    proto = onnx.load(str(path))
    onnx.save_model(proto, str(tmp_path / "ext.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    with pytest.raises(UniskelError) as e:
        backends.create("onnx", tmp_path / "ext.onnx")
    assert "external files" in str(e.value)


def test_the_app_open_model_dialog_refuses_a_crafted_file(qtbot, window, crafted, random_onnx,
                                                          monkeypatch):
    """File > Open model... (and dropping a .pt) goes through the same loader: one line in
    the window, no marker, and the model that was running keeps running."""
    from PySide6.QtWidgets import QFileDialog

    files, marker = crafted
    window.model_path = str(random_onnx)
    window.load_backend("onnx")
    qtbot.waitUntil(lambda: window.engine.running, timeout=60000)
    running = window.engine.description
    for label in PT:
        monkeypatch.setattr(QFileDialog, "getOpenFileName",
                            lambda *a, p=str(files[label]), **k: (p, ""))
        window.last_error = ""
        window.open_model_dialog()
        # the running model's own "ready" arriving late, after the dialog (a race seen in
        # CI): it must not make the refusal look like a failure with nothing running
        window.engines._on_ready(running)
        # the line is shown, and the running model's path is back (two signals: wait for both)
        qtbot.waitUntil(lambda: "refused" in (window.last_error or "")
                        and window.model_path == str(random_onnx), timeout=60000)
        assert files[label].name in window.last_error and "\n" not in window.last_error
        assert window.engine.running and window.engine.description == running
    assert not marker.exists()


def test_the_bundled_model_is_checked_against_its_sha256(tmp_path, monkeypatch):
    from uniskel.engine import assets, backends

    src = assets.default_model()
    assert assets.bundled_problem(src) is None  # the shipped file matches the model card
    assert assets.listed_checksums(src.parent)[src.name] == assets.sha256(src)
    card = (src.parent / "README.md").read_text()
    assert assets.sha256(src) in card and assets.sha256(assets.default_onnx()) in card
    assert assets.sha256(assets.default_detector()) in card
    assert assets.bundled_problem(assets.default_detector()) is None
    shutil.copy(src.parent / "SHA256SUMS", tmp_path / "SHA256SUMS")
    copy = tmp_path / src.name
    data = bytearray(src.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the middle
    copy.write_bytes(bytes(data))
    monkeypatch.setattr(assets, "default_model", lambda: copy)
    with pytest.raises(UniskelError) as e:
        backends.create("cpu")
    msg = str(e.value)
    assert "\n" not in msg and "SHA-256" in msg and src.name in msg


def test_export_into_the_bundle_records_the_checksum(tmp_path, monkeypatch, random_checkpoint):
    from uniskel.engine import assets
    from uniskel.training import export

    monkeypatch.setattr(assets, "asset", lambda *parts: tmp_path.joinpath(*parts))
    (tmp_path / "models").mkdir()
    target = tmp_path / "models" / "student.pt"
    assert cli.main(["export", "--checkpoint", str(random_checkpoint),
                     "--weights", str(target)]) == 0
    assert assets.listed_checksums(target.parent) == {"student.pt": assets.sha256(target)}
    assert assets.bundled_problem(target) is None
    assert export is not None


def test_cached_teacher_outputs_never_unpickle(tmp_path):
    import numpy as np

    from uniskel.training.blazepose_cache import BlazePoseCache

    marker = tmp_path / "MARKER"
    path = tmp_path / "cache.npz"
    np.savez(path, keypoints=np.array([Plant(marker)], dtype=object))
    cache = BlazePoseCache(path, 1)  # unreadable as data: recomputed, never unpickled
    assert np.isnan(cache.keypoints).all() and not marker.exists()


def test_training_checkpoints_are_plain_and_older_ones_still_resume(tmp_path):
    """What training writes loads with plain weights_only (no allowlist); a checkpoint of
    the earlier layout (numpy's RNG state as a numpy tuple) still loads safely and restores
    the same random stream."""
    import random

    import numpy as np
    import torch

    from uniskel.training.checkpoint import (load_checkpoint, rng_state, save_checkpoint,
                                     set_rng_state)

    np.random.seed(3)
    random.seed(3)
    torch.manual_seed(3)
    new = save_checkpoint({"config": {}, "state_dict": {}, "rng": rng_state()}, tmp_path / "a.pt")
    old = save_checkpoint({"config": {}, "state_dict": {}, "meta": {"best": np.float64(0.5)},
                           "rng": {"torch": torch.get_rng_state(),
                                   "numpy": np.random.get_state(),
                                   "python": random.getstate()}}, tmp_path / "b.pt")
    expected = (np.random.random(), random.random(), torch.rand(1).item())
    torch.load(new, weights_only=True)  # plain: no numpy globals needed
    for path in (new, old):
        np.random.seed(0)
        random.seed(0)
        torch.manual_seed(0)
        set_rng_state(load_checkpoint(path)["rng"])
        assert (np.random.random(), random.random(), torch.rand(1).item()) == expected
