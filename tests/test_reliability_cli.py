"""The command line under bad inputs and faults: one clear line, a non-zero exit, no
traceback, and whatever was written before a fault is kept, finalised and playable.

Sources: missing, empty, cut in half, not a video, a camera that does not exist, a
source that breaks off after N frames. Outputs: a folder that cannot exist, a read-only
filesystem, a disk that fills up while recording (a real small tmpfs where this machine
allows mounting one, and an injected ENOSPC everywhere).
"""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from uniskel import commands as cli
from uniskel.engine.media import records
from conftest import error_line
from uniskel.engine.errors import UniskelError
from uniskel.engine.media.sources import SourceError
from engine_fakes import BlobBackend
from reliability_fakes import (BreakingSource, bad_videos, camera_unplugged, read_video, tmpfs,
                               write_video)

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    return bad_videos(tmp_path_factory.mktemp("bad_videos"))


@pytest.fixture
def stub_backend(monkeypatch):
    """backends.create -> a fast fake model, and no person detector: these tests are
    about the outputs, not the model."""
    from uniskel.engine.runtime.detector import SearchDetector

    made = []

    def create(name="auto", model_path=None, **kw):
        made.append(BlobBackend())
        return made[-1]

    monkeypatch.setattr("uniskel.engine.backends.create", create)
    monkeypatch.setattr("uniskel.engine.runtime.detector.create", lambda name="auto", people=1: SearchDetector())
    return made


def use_source(monkeypatch, source):
    monkeypatch.setattr("uniskel.engine.media.sources.open_source", lambda spec, **kw: source)
    return source


# ------------------------------------------------------------------ bad sources

@pytest.mark.parametrize("kind", ["missing", "empty", "truncated", "not_a_video"])
@pytest.mark.parametrize("command", ["infer", "bench"])
def test_unusable_video_is_one_line(command, kind, videos, tmp_path, capsys):
    path, words = videos[kind]
    out = tmp_path / "annotated.mp4"
    argv = [command, "--source", str(path)]
    argv += ["--out", str(out)] if command == "infer" else ["--json", str(tmp_path / "b.json")]
    assert cli.main(argv) == 2
    line = error_line(capsys, command)
    assert path.name in line and words in line
    assert not out.exists() and not (tmp_path / "b.json").exists()  # nothing half-made


@pytest.mark.parametrize("command", ["infer", "bench"])
def test_camera_that_does_not_exist(command, tmp_path, capsys):
    argv = [command, "--source", "camera:99"]
    if command == "infer":
        argv += ["--keypoints", str(tmp_path / "k.jsonl")]
    assert cli.main(argv) == 2
    assert "camera 99: not found" in error_line(capsys, command)
    assert not (tmp_path / "k.jsonl").exists()


def test_native_libraries_add_no_noise_to_the_error(videos, tmp_path):
    """A real process: OpenCV/FFmpeg's own complaints ("moov atom not found", V4L2
    warnings) must not bury the one line the user needs."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for argv, words in (
            (["infer", "--source", str(videos["truncated"][0]), "--out",
              str(tmp_path / "o.mp4")], "cut_in_half.mp4"),
            (["bench", "--source", "camera:99"], "camera 99")):
        proc = subprocess.run([sys.executable, "-m", "uniskel", *argv], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, proc.stderr
        assert lines[0].startswith(f"uniskel {argv[0]}: error:") and words in lines[0]


# ------------------------------------------------------------------ sources that break off

def test_source_that_breaks_off_keeps_a_playable_video_and_matching_records(
        monkeypatch, tmp_path, capsys, random_onnx):
    src = use_source(monkeypatch, camera_unplugged(7))
    out, kp = tmp_path / "partial.mp4", tmp_path / "partial.jsonl"
    rc = cli.main(["infer", "--source", "camera:0", "--out", str(out), "--keypoints", str(kp),
                   "--backend", "onnx", "--model", str(random_onnx)])
    assert rc == 2
    line = error_line(capsys, "infer")
    assert "stopped delivering frames" in line and "7 frames written to" in line
    assert read_video(out) == (7, (120, 160, 3))
    header, frames = records.read_jsonl(kp)
    assert [f["frame"] for f in frames] == list(range(7)) and header["size"] == [120, 160]
    assert src.closed


def test_ctrl_c_mid_run_finalises_the_outputs(monkeypatch, tmp_path, capsys, stub_backend):
    use_source(monkeypatch, BreakingSource(5, KeyboardInterrupt()))
    out, kp = tmp_path / "stopped.mp4", tmp_path / "stopped.csv"
    rc = cli.main(["infer", "--source", "camera:0", "--out", str(out), "--keypoints", str(kp)])
    assert rc in (0, 130)
    assert "Traceback" not in capsys.readouterr().err
    assert read_video(out)[0] == 5
    rows = kp.read_text().strip().splitlines()
    assert rows[0].startswith("frame,time,track_id") and {r.split(",")[0] for r in rows[1:]} \
        <= {str(i) for i in range(5)}


def test_a_backend_crash_mid_run_loses_nothing_already_written(monkeypatch, tmp_path,
                                                              stub_backend):
    """An unexpected error (a driver fault, not a user mistake) may propagate, but the
    frames before it stay in a finalised video and record file."""
    from uniskel.commands import infer

    class Crashes(BlobBackend):
        def infer(self, crops):
            self.calls += 1
            if self.calls > 3:
                raise RuntimeError("CUDA error: device-side assert triggered")
            return super().infer(crops)

    monkeypatch.setattr("uniskel.engine.backends.create", lambda *a, **k: Crashes())
    use_source(monkeypatch, BreakingSource(20))
    out, kp = tmp_path / "crash.mp4", tmp_path / "crash.jsonl"
    parser = cli.build_parser()
    args = parser.parse_args(["infer", "--source", "x", "--out", str(out), "--keypoints", str(kp)])
    with pytest.raises(RuntimeError, match="device-side"):
        infer.run(args)
    n = read_video(out)[0]
    _, frames = records.read_jsonl(kp)
    assert n == len(frames) >= 1


# ------------------------------------------------------------------ outputs that fail

def test_output_folder_that_cannot_exist(demo_video, tmp_path, capsys, stub_backend):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    for flag, name in (("--out", "video.mp4"), ("--keypoints", "kp.jsonl")):
        target = blocker / "sub" / name
        assert cli.main(["infer", "--source", str(demo_video), flag, str(target)]) == 2
        line = error_line(capsys, "infer")
        assert "a_file" in line and "cannot write" in line
    assert cli.main(["bench", "--source", str(demo_video), "--repeat", "1", "--warmup", "0",
                     "--json", str(blocker / "bench.json")]) == 2
    line = error_line(capsys, "bench")
    assert "a_file" in line and "bench.json" in line


def test_read_only_filesystem(demo_video, tmp_path, capsys, stub_backend):
    ro = tmp_path / "ro"
    with tmpfs(ro, "1m", read_only=True) as mounted:
        if not mounted:
            pytest.skip("cannot mount a tmpfs here (needs root)")
        for flag, name in (("--out", "video.mp4"), ("--keypoints", "kp.jsonl")):
            assert cli.main(["infer", "--source", str(demo_video), flag, str(ro / name)]) == 2
            line = error_line(capsys, "infer")
            assert name in line and "cannot write" in line


def test_disk_full_while_writing_records(monkeypatch, tmp_path, capsys, stub_backend):
    """ENOSPC from the record file after 5 frames: one line, both files finalised."""
    real = records.KeypointWriter.write

    def write(self, result):
        if self.frames >= 5:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(self, result)

    monkeypatch.setattr(records.KeypointWriter, "write", write)
    use_source(monkeypatch, BreakingSource(30))
    out, kp = tmp_path / "full.mp4", tmp_path / "full.jsonl"
    assert cli.main(["infer", "--source", "camera:0", "--out", str(out),
                     "--keypoints", str(kp)]) == 2
    line = error_line(capsys, "infer")
    assert "No space left on device" in line and "5 frames written" in line
    assert read_video(out) == (5, (120, 160, 3))
    assert len(records.read_jsonl(kp)[1]) == 5


def test_real_disk_filling_up_stops_with_a_playable_video(monkeypatch, tmp_path, capsys,
                                                         stub_backend):
    """A 3 MB filesystem: noise frames fill it; the run must stop while the MP4 index
    still fits, say why, and leave a video and records that agree."""
    from uniskel.engine.media import outputs

    disk = tmp_path / "small_disk"
    with tmpfs(disk, "3m") as mounted:
        if not mounted:
            pytest.skip("cannot mount a tmpfs here (needs root)")
        monkeypatch.setattr(outputs, "MIN_FREE_BYTES", 1024 * 1024)
        use_source(monkeypatch, BreakingSource(600, size=(240, 320)))
        out, kp = disk / "long.mp4", disk / "long.jsonl"
        rc = cli.main(["infer", "--source", "camera:0", "--out", str(out),
                       "--keypoints", str(kp)])
        err = capsys.readouterr().err
        n, shape = read_video(out)
        _, frames = records.read_jsonl(kp)
        assert rc == 2, err
        assert "space" in err and "Traceback" not in err
        assert 0 < n < 600 and shape == (240, 320, 3)
        assert len(frames) == n


# ------------------------------------------------------------------ bad model files

@pytest.fixture(scope="module")
def bad_models(tmp_path_factory, random_checkpoint):
    """{label: (path, words the error line must contain)}."""
    import torch

    from uniskel.engine import skeleton
    from uniskel.engine.models.export_onnx import export_onnx
    from uniskel.engine.models.model import PoseNet, build, config_for

    d = tmp_path_factory.mktemp("bad_models")
    data = random_checkpoint.read_bytes()
    (d / "truncated.pt").write_bytes(data[: len(data) // 2])
    tiny = build("tiny")
    torch.save({"config": tiny.cfg.to_dict(), "state_dict": build("small").state_dict()},
               d / "other_arch.pt")
    torch.save({"epoch": 3, "weights": [1.0, 2.0]}, d / "random_dict.pt")
    k17 = PoseNet(config_for("tiny", num_keypoints=17)).eval()
    torch.save({"config": k17.cfg.to_dict(), "state_dict": k17.state_dict()}, d / "k17.pt")
    export_onnx(PoseNet(config_for("tiny", num_keypoints=17,
                                   keypoints=skeleton.KEYPOINTS[:17])).eval(),
                d / "k17.onnx", check=False)
    (d / "notes.onnx").write_text("not a network\n")
    return {
        "missing": (d / "missing.pt", "not found"),
        "truncated": (d / "truncated.pt", "not a readable PyTorch checkpoint"),
        "other_arch": (d / "other_arch.pt", "weights do not match its 'tiny' config"),
        "random_dict": (d / "random_dict.pt", "not a uniskel checkpoint"),
        "k17_pt": (d / "k17.pt", "17 keypoints"),
        "k17_onnx": (d / "k17.onnx", "17 keypoints"),
        "junk_onnx": (d / "notes.onnx", "not a loadable ONNX model"),
    }


MODEL_CASES = ["missing", "truncated", "other_arch", "random_dict", "k17_pt", "k17_onnx",
               "junk_onnx"]


@pytest.mark.parametrize("label", MODEL_CASES)
def test_bad_model_file_through_create(label, bad_models):
    from uniskel.engine import backends

    path, words = bad_models[label]
    with pytest.raises(UniskelError) as e:
        backends.create("auto", path)
    msg = str(e.value)
    assert "\n" not in msg and words in msg and path.name in msg


@pytest.mark.parametrize("label", MODEL_CASES)
def test_bad_model_file_through_eval(label, bad_models, capsys, shared_data):
    path, words = bad_models[label]
    rc = cli.main(["eval", "--format", "lsp", "--range", "7500:7502", "--model", str(path)])
    assert rc == 2
    line = error_line(capsys, "eval")
    assert path.name in line and (words in line or "not found" in line)


@pytest.mark.parametrize("label", ["truncated", "k17_onnx"])
def test_bad_model_file_through_infer_writes_nothing(label, bad_models, demo_video, tmp_path,
                                                     capsys):
    path, words = bad_models[label]
    out, kp = tmp_path / "o.mp4", tmp_path / "o.jsonl"
    assert cli.main(["infer", "--source", str(demo_video), "--out", str(out), "--keypoints",
                     str(kp), "--model", str(path)]) == 2
    assert words in error_line(capsys, "infer")
    assert not out.exists() and not kp.exists()


def test_checkpoints_with_a_broken_config_or_weights(tmp_path):
    import torch

    from uniskel.engine import backends
    from uniskel.engine.models.model import build

    ours = build("tiny").state_dict()
    cases = {
        "bad_config.pt": ({"config": {"arch": "tiny", "layers": 99}, "state_dict": {}},
                          "unreadable model config"),
        "config_text.pt": ({"config": "tiny", "state_dict": {}}, "unreadable model config"),
        "weights_list.pt": ({"config": build("tiny").cfg.to_dict(), "state_dict": [1, 2]},
                            "not a dict"),
        "weights_numbers.pt": ({"config": build("tiny").cfg.to_dict(),
                                "state_dict": {k: 0 for k in ours}}, "weights do not match"),
    }
    for name, (obj, words) in cases.items():
        torch.save(obj, tmp_path / name)
        with pytest.raises(UniskelError) as e:
            backends.create("cpu", tmp_path / name)
        msg = str(e.value)
        assert "\n" not in msg and name in msg and words in msg, (name, msg)
