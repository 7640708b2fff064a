"""Values are checked where they enter, and nonsense is named (issue 31, families 3 and 4).

Every case here ends in one line that names the value and what is wrong with it (a CLI
exits 2 with no traceback), or, for a file that is odd but usable (a 0.5 fps video, a
frame size that changes), runs with the right numbers and one warning line:

* training config values (types, ranges, known names) before any data loads, and
  ``--resume`` into a run of another architecture;
* model files: metadata values, an ONNX fixed to one crop per batch, a model that
  outputs NaN (at load and at export), random bytes in a ``.pt``;
* command-line ranges (``--threshold``, ``--max-people``, ``--rate``, ``--max-steps``);
* the Python API's input checks, and a call after ``close()``;
* videos: an unusual or implausible frame rate, a frame size that changes mid-video,
  and what the video writer says when it cannot write.
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from uniskel import commands as cli
from conftest import error_line
from uniskel.engine.errors import UniskelError
from uniskel.engine.media.playback import play
from reliability_fakes import write_video

pytestmark = [pytest.mark.timeout(300),
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]  # torch.onnx.export


def run_cli(argv) -> int:
    """``uniskel ARGV`` in-process: its exit code, whether it returns or exits (argparse)."""
    try:
        return cli.main(list(argv))
    except SystemExit as e:
        return int(e.code or 0)


# ------------------------------------------------------------------ training config

def write_config(path: Path, top: str = "", tables: str = "") -> Path:
    """A student config whose only dataset is nowhere: a value refused before any data
    loads is refused by its own name, not as a missing dataset."""
    nowhere = path.parent / "nowhere"
    given = {line.split("=")[0].strip() for line in top.splitlines() if "=" in line}
    defaults = "".join(f"{k} = {v}\n" for k, v in (("epochs", "1"), ("device", '"cpu"'))
                       if k not in given)
    path.write_text(f"""{top}
{defaults}out = "{path.parent / 'run'}"

[[datasets]]
name = "nowhere"
format = "lsp"
images = "{nowhere / 'images'}"
annotations = "{nowhere / 'joints.mat'}"
{tables}
""")
    return path


CONFIG_CASES = [
    # (top-level lines, tables, words the line must hold)
    ("batch_size = 0", "", "batch_size = 0: must be a whole number >= 1"),
    ('lr = "fast"', "", "lr = 'fast': must be a number"),
    ("lr = -0.1", "", "lr = -0.1: must be a number > 0"),
    ("input_size = [0, 0]", "", "input_size = [0, 0]"),
    ("input_size = [128]", "", "input_size = [128]"),
    ('arch = "huge"', "", "arch = 'huge': must be one of tiny, small, medium"),
    ("epochs = 0", "", "epochs = 0: must be a whole number >= 1"),
    ("epochs = -3", "", "epochs = -3"),
    ("epochs = 2.5", "", "epochs = 2.5: must be a whole number"),
    ("workers = -1", "", "workers = -1"),
    ("seed = -1", "", "seed = -1"),
    ('amp = "yes"', "", "amp = 'yes': must be true or false"),
    ('device = "tpu"', "", "device = 'tpu'"),
    ('on_error = "ignore"', "", "on_error = 'ignore': must be one of skip, raise"),
    ("lr_floor = 2", "", "lr_floor = 2"),
    ("ema_momentum = 1.5", "", "ema_momentum = 1.5"),
    ("final_epochs = 5", "", "final_epochs = 5"),
    ("", "[loss]\nsigma = [0, 1]", "loss.sigma = [0, 1]"),
    ("", '[loss]\ndecay = "cubic"', "loss.decay = 'cubic'"),
    ("", "[augment]\nflip_prob = 1.5", "augment.flip_prob = 1.5: must be a number from 0 to 1"),
    ("", "[augment]\nscale = [1.3, 0.75]", "augment.scale = [1.3, 0.75]"),
    ("", '[[datasets]]\nname = "b"\nformat = "yolo"\nimages = "i"\nannotations = "a"',
     "datasets[2].format = 'yolo'"),
    ("", '[[datasets]]\nname = "b"\nformat = "lsp"\nimages = "i"\nannotations = "a"\n'
         "weight = 0", "datasets[2].weight = 0"),
    ("", '[[teachers]]\nkind = "oracle"', "teachers[1].kind = 'oracle'"),
    ("", '[[teachers]]\nkind = "model"\nrole = "boss"', "teachers[1].role = 'boss'"),
]


@pytest.mark.parametrize("top,tables,words", CONFIG_CASES,
                         ids=[c[2].split(":")[0] for c in CONFIG_CASES])
def test_config_values_are_refused_by_key_and_reason(top, tables, words, tmp_path, capsys):
    cfg = write_config(tmp_path / "bad.toml", top, tables)
    assert run_cli(["train", "student", "--config", str(cfg)]) == 2
    line = error_line(capsys, "train")
    assert words in line, line
    assert "bad.toml" in line, line  # which file
    assert not (tmp_path / "run").exists()  # refused before anything was made


@pytest.mark.parametrize("flags,words", [
    (["--epochs", "0"], "epochs = 0: must be a whole number >= 1"),
    (["--epochs", "-2"], "epochs = -2"),
    (["--batch-size", "0"], "batch_size = 0"),
    (["--workers", "-1"], "workers = -1"),
])
def test_command_line_overrides_are_checked_the_same_way(flags, words, tmp_path, capsys):
    cfg = write_config(tmp_path / "good.toml")
    assert run_cli(["train", "student", "--config", str(cfg), *flags]) == 2
    line = error_line(capsys, "train")
    assert words in line and "last.pt" not in line, line
    assert not (tmp_path / "run").exists()


def test_a_config_built_in_python_is_checked_too(tmp_path):
    from uniskel.training.config import TrainConfig
    from uniskel.training.train import train

    with pytest.raises(UniskelError, match=r"batch_size = 0: must be a whole number >= 1"):
        train(TrainConfig(batch_size=0, out=str(tmp_path / "run")))


def test_every_shipped_config_passes_the_checks():
    from uniskel.training.config import load_config, validate

    folder = Path(__import__("uniskel.training").training.__file__).parent / "configs"
    for path in sorted(folder.glob("*.toml")):
        validate(load_config(path))


def test_resume_with_another_arch_names_both(shared_data, tmp_path, capsys):
    """A run trained as 'tiny' resumed as 'small': one line naming both, before any
    weights are loaded into the wrong network."""
    from uniskel.engine.models.model import config_for
    from uniskel.engine.modelfile import write_checkpoint

    run = tmp_path / "run"
    write_checkpoint({"config": config_for("tiny").to_dict(), "state_dict": {}, "epoch": 1},
                     run / "last.pt")
    lsp = shared_data / "lspet"
    cfg = tmp_path / "small.toml"
    cfg.write_text(f"""mode = "teacher"
arch = "small"
epochs = 2
batch_size = 4
device = "cpu"
repair_lr_swaps = false
out = "{run}"
[[datasets]]
name = "lspet"
format = "lsp"
images = "{lsp / 'images'}"
annotations = "{lsp / 'joints.mat'}"
range = [0, 8]
""")
    assert run_cli(["train", "teacher", "--config", str(cfg), "--resume"]) == 2
    line = error_line(capsys, "train")
    assert "'tiny'" in line and "'small'" in line and "last.pt" in line, line


# ------------------------------------------------------------------ model files

def nan_state(model, how: str) -> dict:
    state = {k: v.clone() for k, v in model.state_dict().items()}
    if how == "nan_weight":
        state["head_x.bias"][:] = float("nan")
    else:  # a negative BatchNorm variance: every weight finite, every output NaN
        key = next(k for k in state if k.endswith("running_var"))
        state[key][:] = -1.0
    return state


@pytest.fixture(scope="module")
def odd_models(tmp_path_factory, random_model):
    """{label: path} of model files that load today and are wrong in one way."""
    import onnx
    import torch

    from uniskel.engine.models.export_onnx import export_onnx
    from uniskel.engine.models.model import build

    d = tmp_path_factory.mktemp("odd_models")
    model, cfg = random_model
    files = {}

    def pt(label, config, state=None):
        files[label] = d / f"{label}.pt"
        torch.save({"config": config, "state_dict": state or model.state_dict()}, files[label])

    good = cfg.to_dict()
    pt("pt_person_score", {**good, "person_score": 7})
    pt("pt_split_ratio", {**good, "split_ratio": -2.0})
    pt("pt_decode_window", {**good, "decode_window": -1})
    zero = build("tiny", input_size=(32, 32))
    pt("pt_input_size", {**zero.cfg.to_dict(), "input_size": [0, 0]}, zero.state_dict())
    for how in ("nan_weight", "nan_bn"):
        pt(f"pt_{how}", good, nan_state(model, how))
        broken = build("tiny").eval()
        broken.load_state_dict(nan_state(model, how))
        files[f"onnx_{how}"] = export_onnx(broken, d / f"{how}.onnx", check=False)

    base = export_onnx(model, d / "good.onnx", check=False)

    def onnx_meta(label, **change):
        proto = onnx.load(str(base))
        entry = next(p for p in proto.metadata_props if p.key == "uniskel_config")
        entry.value = json.dumps({**json.loads(entry.value), **change})
        files[label] = d / f"{label}.onnx"
        onnx.save(proto, str(files[label]))

    onnx_meta("onnx_person_score", person_score=7)
    onnx_meta("onnx_num_keypoints", num_keypoints="many")
    onnx_meta("onnx_split_ratio", split_ratio=0)
    # re-exported with the batch fixed at 1 (no dynamic axis): every load check passed
    fixed = d / "batch1.onnx"
    h, w = cfg.input_size
    torch.onnx.export(model, (torch.zeros(1, 3, h, w),), str(fixed), input_names=["image"],
                      output_names=["simcc_x", "simcc_y"], opset_version=17, dynamo=False)
    proto = onnx.load(str(fixed))
    entry = proto.metadata_props.add()
    entry.key, entry.value = "uniskel_config", json.dumps(good)
    onnx.save(proto, str(fixed))
    files["onnx_batch1"] = fixed
    return files


MODEL_CASES = [
    ("pt_person_score", "person_score = 7: must be a number from 0 to 1"),
    ("pt_split_ratio", "split_ratio = -2.0"),
    ("pt_decode_window", "decode_window = -1"),
    ("pt_input_size", "input_size = [0, 0]"),
    ("onnx_person_score", "person_score = 7"),
    ("onnx_num_keypoints", "num_keypoints = 'many'"),
    ("onnx_split_ratio", "split_ratio = 0"),
    ("onnx_batch1", "fails on a batch of 2 crops"),
    ("pt_nan_weight", "outputs NaN"),
    ("pt_nan_bn", "outputs NaN"),
    ("onnx_nan_weight", "outputs NaN"),
    ("onnx_nan_bn", "outputs NaN"),
]


@pytest.mark.parametrize("label,words", MODEL_CASES, ids=[c[0] for c in MODEL_CASES])
def test_odd_model_files_are_refused_at_load(label, words, odd_models):
    from uniskel.engine import backends

    path = odd_models[label]
    with pytest.raises(UniskelError) as e:
        backends.create("auto", path, threads=1)
    msg = str(e.value)
    assert "\n" not in msg and path.name in msg and words in msg, msg


@pytest.mark.parametrize("how", ["nan_weight", "nan_bn"])
def test_export_refuses_a_nan_model(how, odd_models, tmp_path, capsys):
    out = tmp_path / "nan.onnx"
    rc = run_cli(["export", "--checkpoint", str(odd_models[f"pt_{how}"]), "--onnx", str(out)])
    captured = capsys.readouterr()
    assert rc == 2, captured
    assert "matches PyTorch" not in captured.out
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "outputs NaN" in lines[0] and "Traceback" not in captured.err
    assert not out.exists()


def test_onnx_with_a_keypoints_output_and_no_metadata(tmp_path):
    """A network that decodes itself (outputs ``keypoints``), exported without uniskel's
    metadata: what the graph says is enough; no KeyError."""
    import torch

    from uniskel.engine import backends

    class Decodes(torch.nn.Module):
        def forward(self, image):
            m = image.mean((2, 3))                       # (N, 3)
            return m.repeat(1, 21).reshape(-1, 21, 3) / 255.0

    path = tmp_path / "plain_keypoints.onnx"
    torch.onnx.export(Decodes(), (torch.zeros(1, 3, 192, 192),), str(path),
                      input_names=["image"], output_names=["keypoints"],
                      dynamic_axes={"image": {0: "n"}, "keypoints": {0: "n"}},
                      opset_version=17, dynamo=False)
    backend = backends.create("onnx", path, threads=1)
    assert backend.input_size == (192, 192)
    out = backend.infer(np.zeros((2, 192, 192, 3), np.uint8))
    assert out.shape == (2, 21, 3)


@pytest.mark.parametrize("head,seed,words", [
    (b"", 0, "not a PyTorch file"), (b"", 1, "not a PyTorch file"),
    (b"", 2, "not a PyTorch file"), (b"\x80\x04", 3, "not a PyTorch file, or corrupt"),
    (b"PK\x03\x04", 4, "truncated or corrupt")])
def test_random_bytes_in_a_pt_are_not_a_pytorch_file(head, seed, words, tmp_path):
    """4 KB of noise (also behind a pickle's or a zip's first bytes) is a corrupt file,
    not one that "could run code"."""
    from uniskel.engine import backends

    path = tmp_path / "noise.pt"
    path.write_bytes(head + np.random.default_rng(seed).bytes(4096 - len(head)))
    with pytest.raises(UniskelError) as e:
        backends.create("cpu", path)
    msg = str(e.value)
    assert words in msg and "could run code" not in msg, msg


# ------------------------------------------------------------------ command-line ranges

CLI_CASES = [
    ("infer", ["--threshold", "2"], "argument --threshold: must be a number from 0 to 1, got 2"),
    ("infer", ["--threshold", "-0.1"], "--threshold: must be a number from 0 to 1"),
    ("infer", ["--threshold", "nan"], "--threshold: must be a number from 0 to 1"),
    ("infer", ["--max-people", "0"], "argument --max-people: must be a whole number >= 1, got 0"),
    ("infer", ["--max-people", "-1"], "--max-people: must be a whole number >= 1"),
    ("bench", ["--max-people", "0"], "--max-people: must be a whole number >= 1"),
    ("soak", ["--max-people", "0"], "--max-people: must be a whole number >= 1"),
    ("soak", ["--rate", "-3"], "argument --rate: must be a number >= 0, got -3"),
    ("soak", ["--rate", "inf"], "--rate: must be a number >= 0"),
]


@pytest.mark.parametrize("command,flags,words", CLI_CASES,
                         ids=[f"{c[0]}{''.join(c[1])}" for c in CLI_CASES])
def test_command_line_ranges(command, flags, words, tmp_path, capsys):
    missing = tmp_path / "not_there.mp4"  # a bad value is said before the source is opened
    out = ["--keypoints", str(tmp_path / "k.jsonl")] if command == "infer" else []
    assert run_cli([command, "--source", str(missing), *out, *flags]) == 2
    line = error_line(capsys, command)
    assert words in line, line


def test_train_max_steps_range(capsys):
    assert run_cli(["train", "teacher", "--max-steps", "0"]) == 2
    assert "--max-steps: must be a whole number >= 1" in error_line(capsys, "train teacher")


# ------------------------------------------------------------------ the Python API

@pytest.fixture
def body(monkeypatch):
    """uniskel.Body on a fake model and no person detector: these tests are about the
    checks at its door."""
    import uniskel
    from engine_fakes import BlobBackend
    from uniskel.engine.runtime.detector import SearchDetector

    monkeypatch.setattr("uniskel.engine.backends.create", lambda *a, **k: BlobBackend())
    monkeypatch.setattr("uniskel.engine.runtime.detector.create",
                        lambda name="auto", people=1: SearchDetector())
    b = uniskel.Body()
    yield b
    b.close()


API_CASES = [
    ("empty", np.zeros((0, 0, 3), np.uint8), "empty image"),
    ("no_rows", np.zeros((0, 64, 3), np.uint8), "empty image"),
    ("float", np.zeros((64, 64, 3), np.float32), "dtype float32"),
    ("ints", [[1, 2], [3, 4]], "dtype int64"),
    ("two_channels", np.zeros((64, 64, 2), np.uint8), "2 channels"),
    ("batch", np.zeros((1, 64, 64, 3), np.uint8), "4 dimensions"),
    ("flat", np.zeros(64, np.uint8), "1 dimension"),
    ("none", None, "expected a BGR uint8 image"),
]


@pytest.mark.parametrize("label,image,words", API_CASES, ids=[c[0] for c in API_CASES])
@pytest.mark.parametrize("call", ["__call__", "track"])
def test_api_input_problems_are_value_errors(body, call, label, image, words):
    with pytest.raises(ValueError) as e:
        getattr(body, call)(image)
    assert words in str(e.value), str(e.value)


def test_api_call_after_close(body):
    body.close()
    with pytest.raises(RuntimeError, match="closed"):
        body(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(RuntimeError, match="closed"):
        body.track(np.zeros((64, 64, 3), np.uint8))
    body.close()  # closing twice is fine


@pytest.mark.parametrize("n", [0, -1, 2.5, "3"])
def test_api_max_people(n, monkeypatch):
    import uniskel
    from engine_fakes import BlobBackend

    monkeypatch.setattr("uniskel.engine.backends.create", lambda *a, **k: BlobBackend())
    with pytest.raises(ValueError, match="max_people"):
        uniskel.Body(max_people=n)


# ------------------------------------------------------------------ videos

def test_a_half_fps_video_gets_true_timestamps(tmp_path):
    """0.5 fps (a time-lapse, a slide show): frame n is at 2n seconds, not n / 30."""
    from uniskel.engine.media.sources import open_source

    path = write_video(tmp_path / "slow.mp4", n=4, fps=0.5)
    with open_source(path) as src:
        assert src.fps == pytest.approx(0.5)
        assert [round(ts, 3) for _, ts, _ in play(src)] == [0.0, 2.0, 4.0, 6.0]
        assert src.warnings == []


def implausible_fps_avi(path: Path) -> Path:
    """An AVI whose header claims 100,000,000 frames per second."""
    write_video(path, n=5, size=(64, 48), fps=10, fourcc="MJPG")
    data = bytearray(path.read_bytes())
    strh = data.find(b"strh")
    data[strh + 28:strh + 36] = struct.pack("<II", 1, 100_000_000)  # dwScale, dwRate
    path.write_bytes(bytes(data))
    return path


def test_an_implausible_frame_rate_is_said_once(tmp_path, capsys, monkeypatch):
    from uniskel.engine.media.sources import open_source

    path = implausible_fps_avi(tmp_path / "odd_rate.avi")
    with open_source(path) as src:
        assert src.fps == 30.0
        assert len(src.warnings) == 1 and "frame rate" in src.warnings[0]
        assert [round(ts, 3) for _, ts, _ in play(src)][:2] == [0.0, round(1 / 30, 3)]
    _infer_warns_once(tmp_path, capsys, monkeypatch, path, "frame rate", frames=5)


def size_changing_video(path: Path) -> Path:
    """Ten frames at 160x120, then ten at 320x240, in one MPEG transport stream (two
    streams joined, as a camera that switches resolution writes them)."""
    a, b = write_video(path.with_name("a.ts"), n=10, size=(160, 120), noise=False), \
        write_video(path.with_name("b.ts"), n=10, size=(320, 240), noise=False)
    path.write_bytes(a.read_bytes() + b.read_bytes())
    return path


def test_a_frame_size_change_is_said_and_not_posed_on_stale_frames(tmp_path, capsys,
                                                                   monkeypatch):
    """OpenCV cannot decode past a size change: it repeats the last frame it could. Those
    copies are not frames of the video; they are not posed, and it is said once."""
    from uniskel.engine.media.sources import open_source

    path = size_changing_video(tmp_path / "switch.ts")
    with open_source(path) as src:
        frames = [f for f, _, _ in play(src)]
        assert len(frames) == 10
        assert len(src.warnings) == 1 and "frame size" in src.warnings[0], src.warnings
    _infer_warns_once(tmp_path, capsys, monkeypatch, path, "frame size", frames=10)


def test_a_still_stretch_in_the_middle_is_kept(tmp_path):
    """Identical frames that the video goes on from (a frozen picture) are frames."""
    from uniskel.engine.media.sources import open_source

    path = tmp_path / "still.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for v in [10, 20, 20, 20, 20, 20, 20, 20, 30, 40]:
        w.write(np.full((48, 64, 3), v, np.uint8))
    w.release()
    with open_source(path) as src:
        assert len([f for f, _, _ in play(src)]) == 10 and src.warnings == []
    still = tmp_path / "one_picture.avi"
    w = cv2.VideoWriter(str(still), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for _ in range(8):  # a video that is one picture throughout: all its frames
        w.write(np.full((48, 64, 3), 90, np.uint8))
    w.release()
    with open_source(still) as src:
        assert len([f for f, _, _ in play(src)]) == 8 and src.warnings == []


def test_the_player_passes_a_warning_on_once(tmp_path):
    """What the window shows: an Event("warning") from the player, once."""
    from uniskel.engine.media.playback import Event, Player
    from uniskel.engine.media.sources import open_source

    src = open_source(implausible_fps_avi(tmp_path / "odd_rate.avi"))
    events = list(Player(src, pace=False).events())
    src.close()
    warned = [e for e in events if isinstance(e, Event) and e.kind == "warning"]
    assert len(warned) == 1 and "frame rate" in warned[0].message


def test_a_source_whose_frames_change_size_says_so_once():
    from uniskel.engine.media.sources import VideoSource

    class Cap:  # what a decoder that does deliver the new size gives
        def __init__(self):
            self.shapes = [(48, 64)] * 3 + [(96, 128)] * 3

        def read(self):
            if not self.shapes:
                return False, None
            return True, np.zeros((*self.shapes.pop(0), 3), np.uint8)

        def get(self, prop):
            return {cv2.CAP_PROP_FPS: 10.0, cv2.CAP_PROP_FRAME_COUNT: 6}.get(prop, 0)

        def isOpened(self):
            return True

        def release(self):
            pass

    src = VideoSource.__new__(VideoSource)
    src._open = lambda: Cap()
    VideoSource.__init__(src, Path("fake.mp4"))
    shapes = [f.shape[:2] for f, _, _ in play(src)]
    assert shapes == [(48, 64)] * 3 + [(96, 128)] * 3
    assert len(src.warnings) == 1 and "64x48 to 128x96 at frame 3" in src.warnings[0]


def _infer_warns_once(tmp_path, capsys, monkeypatch, path, words, frames):
    from uniskel.engine.media import records
    from uniskel.engine.runtime.detector import SearchDetector
    from engine_fakes import BlobBackend

    monkeypatch.setattr("uniskel.engine.backends.create", lambda *a, **k: BlobBackend())
    monkeypatch.setattr("uniskel.engine.runtime.detector.create",
                        lambda name="auto", people=1: SearchDetector())
    capsys.readouterr()
    kp = tmp_path / f"{path.stem}.jsonl"
    assert run_cli(["infer", "--source", str(path), "--keypoints", str(kp)]) == 0
    err = capsys.readouterr().err
    warned = [line for line in err.splitlines() if "warning" in line]
    assert len(warned) == 1 and words in warned[0], err
    assert warned[0].startswith("uniskel infer: warning: ")
    assert len(records.read_jsonl(kp)[1]) == frames


WRITER_CASES = [
    # (name, size (h, w), fps, words)
    ("wide.mp4", (64, 8192), 30.0, "8192x64 is larger than the mp4v encoder takes (8191"),
    ("tall.mkv", (8200, 64), 30.0, "64x8200 is larger than the mp4v encoder takes"),
    ("fast.mp4", (64, 64), 100000.0, "frame rate 100000"),
]


@pytest.mark.parametrize("name,size,fps,words", WRITER_CASES, ids=[c[0] for c in WRITER_CASES])
def test_the_video_writer_says_what_failed(name, size, fps, words, tmp_path):
    from uniskel.engine.media.outputs import VideoOutput

    with pytest.raises(UniskelError) as e:
        VideoOutput(tmp_path / name, fps, size)
    msg = str(e.value)
    assert words in msg and "read-only" not in msg, msg
    assert not (tmp_path / name).exists()


def test_the_video_writer_on_a_folder_says_so(tmp_path):
    from uniskel.engine.media.outputs import VideoOutput

    (tmp_path / "taken.mp4").mkdir()
    with pytest.raises(UniskelError) as e:
        VideoOutput(tmp_path / "taken.mp4", 30.0, (64, 64))
    assert "is a folder" in str(e.value), str(e.value)


def test_a_wide_avi_is_still_written(tmp_path):
    """MJPG (.avi) takes what mp4v does not: the limit is the codec's, not ours."""
    from uniskel.engine.media.outputs import VideoOutput

    out = VideoOutput(tmp_path / "wide.avi", 30.0, (16, 8192))
    out.write(np.zeros((16, 8192, 3), np.uint8))
    out.close()
    assert (tmp_path / "wide.avi").stat().st_size > 0


@pytest.mark.parametrize("command", ["bench", "soak"])
def test_bench_and_soak_say_a_sources_warning_too(command, tmp_path, capsys, blob_engine):
    """The same one warning line as infer's, for a video whose frame rate is implausible."""
    path = implausible_fps_avi(tmp_path / "odd_rate.avi")
    capsys.readouterr()
    argv = {"bench": ["bench", "--source", str(path), "--repeat", "1",
                      "--json", str(tmp_path / "b.json")],
            "soak": ["soak", "--source", str(path), "--minutes", "0.02",
                     "--json", str(tmp_path / "s.json")]}[command]
    run_cli(argv)
    warned = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warned) == 1 and warned[0].startswith(f"uniskel {command}: warning: ")
    assert "timestamps assume" in warned[0]
