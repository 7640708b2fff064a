"""Nothing already on disk is lost, and an interrupted run still ends well.

- A run that is refused, or that stops before writing a frame, leaves the files it was
  told to write exactly as they were (outputs are written under a temporary name beside
  the target and renamed once there is something to keep).
- An output that is one of the inputs (the same path, a symlink or a hard link to it)
  is refused in one line and the input is untouched.
- SIGINT (to the whole process group, as a terminal sends it), SIGTERM and SIGHUP to a
  real ``uniskel infer``: exit 130 / 143 / 129, one line, no traceback, a video that
  plays and keypoint records whose every line parses.
- ``train`` over an existing run needs --resume or --overwrite; ``eval --json`` and
  ``quality --out`` into a place they cannot write are refused before any work; a failed
  ``export`` leaves neither a temporary file nor a replaced model.
"""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from uniskel import commands as cli
from conftest import error_line
from reliability_fakes import BreakingSource, camera_unplugged, read_video, tmpfs, write_video

pytestmark = pytest.mark.timeout(300)


def use_source(monkeypatch, source):
    monkeypatch.setattr("uniskel.engine.media.sources.open_source", lambda spec, **kw: source)
    return source


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too), by relative path."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def earlier_run(tmp_path):
    """An earlier run's outputs in tmp_path/out: a playable video and its records."""
    folder = tmp_path / "out"
    folder.mkdir()
    write_video(folder / "clip.mp4", n=6)
    (folder / "clip.jsonl").write_text('{"uniskel": 1, "keypoints": []}\n{"frame": 0}\n')
    return folder


# ------------------------------------------------------------------ refused or empty runs

def _disk_nearly_full(monkeypatch, folder):
    from uniskel.engine.media import outputs

    monkeypatch.setattr(outputs, "free_bytes", lambda path: 0)
    return {}, "free space"


def _video_target_is_a_folder(monkeypatch, folder):
    (folder / "new.mp4").mkdir()
    return {"--out": folder / "new.mp4"}, "new.mp4"


def _source_gives_no_frame(monkeypatch, folder):
    use_source(monkeypatch, camera_unplugged(0))
    return {}, "stopped delivering frames"


def _interrupted_while_opening(monkeypatch, folder):
    from uniskel.engine.media import outputs

    def refuse(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(outputs.VideoOutput, "__init__", refuse)
    return {}, "interrupted"


@pytest.mark.parametrize("case", [_disk_nearly_full, _video_target_is_a_folder,
                                  _source_gives_no_frame, _interrupted_while_opening],
                         ids=lambda f: f.__name__.strip("_"))
def test_a_run_that_writes_nothing_keeps_the_earlier_outputs(case, monkeypatch, earlier_run,
                                                              capsys, blob_engine):
    use_source(monkeypatch, BreakingSource(5))
    flags = {"--out": earlier_run / "clip.mp4", "--keypoints": earlier_run / "clip.jsonl"}
    change, words = case(monkeypatch, earlier_run)
    flags.update(change)
    before = snapshot(earlier_run)
    argv = ["infer", "--source", "camera:0"]
    for flag, path in flags.items():
        argv += [flag, str(path)]
    rc = cli.main(argv)
    err = capsys.readouterr().err
    assert rc in (2, 130), err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert words in err
    assert snapshot(earlier_run) == before  # byte for byte, and no temporary left over
    assert read_video(earlier_run / "clip.mp4")[0] == 6


def test_a_run_that_writes_replaces_the_earlier_outputs(monkeypatch, earlier_run, capsys,
                                                         blob_engine):
    """The other side: a run that wrote frames leaves its own files, and no temporary."""
    use_source(monkeypatch, BreakingSource(4))
    out, kp = earlier_run / "clip.mp4", earlier_run / "clip.jsonl"
    assert cli.main(["infer", "--source", "camera:0", "--out", str(out),
                     "--keypoints", str(kp)]) == 0
    assert read_video(out)[0] == 4
    assert len(kp.read_text().splitlines()) == 5
    assert sorted(p.name for p in earlier_run.iterdir()) == ["clip.jsonl", "clip.mp4"]


# ------------------------------------------------------------------ an output that is an input

def _same_path(source: Path) -> tuple[str, Path]:
    return "--out", source


def _symlink(source: Path) -> tuple[str, Path]:
    link = source.parent / "link.mp4"
    link.symlink_to(source)
    return "--out", link


def _relative_path(source: Path) -> tuple[str, Path]:
    return "--out", source.parent / "sub" / ".." / source.name


def _hard_link(source: Path) -> tuple[str, Path]:
    link = source.parent / "other_name.mp4"
    os.link(source, link)
    return "--out", link


def _records_hard_link(source: Path) -> tuple[str, Path]:
    link = source.parent / "records.csv"
    os.link(source, link)
    return "--keypoints", link


@pytest.mark.parametrize("case", [_same_path, _symlink, _relative_path, _hard_link,
                                  _records_hard_link], ids=lambda f: f.__name__.strip("_"))
def test_an_output_that_is_the_source_is_refused(case, tmp_path, capsys, blob_engine):
    source = write_video(tmp_path / "holiday.mp4", n=8)
    (tmp_path / "sub").mkdir()
    data = source.read_bytes()
    flag, target = case(source)
    rc = cli.main(["infer", "--source", str(source), flag, str(target)])
    line = error_line(capsys, "infer")
    assert rc == 2
    assert "source" in line and target.name in line, line
    assert source.read_bytes() == data
    assert read_video(source)[0] == 8


# ------------------------------------------------------------------ signals to a real run

@pytest.fixture(scope="module")
def long_video(tmp_path_factory, demo_video):
    """1000 frames of the demo clip's people at 320x180: far longer than any test waits."""
    cap = cv2.VideoCapture(str(demo_video))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, (320, 180), interpolation=cv2.INTER_AREA))
    cap.release()
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (320, 180))
    for i in range(1000):
        writer.write(frames[i % len(frames)])
    writer.release()
    return path


def records_begun(folder: Path) -> bool:
    """Some .jsonl under ``folder`` (whatever its name while written) holds a record."""
    for p in folder.iterdir():
        if p.suffix == ".jsonl":
            try:
                if p.read_text().count("\n") >= 2:
                    return True
            except OSError:
                pass
    return False


def signals_as_default():
    """In the child before it runs: the signals sent here at their default disposition,
    whatever the test run inherited (``nohup`` ignores SIGHUP, and uniskel rightly leaves
    an ignored signal ignored: the run would finish and exit 0)."""
    for s in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_DFL)


@pytest.mark.parametrize("signum, to_group, code", [
    (signal.SIGINT, True, 130),    # Ctrl+C at a terminal: the whole foreground group
    (signal.SIGTERM, False, 143),  # kill PID
    (signal.SIGTERM, True, 143),   # a service manager stopping the group
    (signal.SIGHUP, True, 129),    # the terminal closed
], ids=["SIGINT-group", "SIGTERM", "SIGTERM-group", "SIGHUP-group"])
def test_a_signal_mid_run_finalises_the_outputs(signum, to_group, code, long_video, tmp_path):
    out, kp = tmp_path / "run" / "annotated.mp4", tmp_path / "run" / "people.jsonl"
    out.parent.mkdir()
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uniskel", "infer", "--source", str(long_video),
         "--out", str(out), "--keypoints", str(kp), "--backend", "onnx"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=signals_as_default)
    try:
        deadline = time.monotonic() + 240
        while not records_begun(out.parent):
            assert proc.poll() is None, f"ended before the signal: {proc.communicate()}"
            assert time.monotonic() < deadline, "no record written in 240 s"
            time.sleep(0.02)
        if to_group:
            os.killpg(proc.pid, signum)
        else:
            proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert proc.returncode == code, (proc.returncode, stderr[-3000:])
    assert "Traceback" not in stderr and len(lines) == 1, stderr[-3000:]
    assert lines[0].startswith("uniskel infer: interrupted"), lines[0]
    assert signal.Signals(signum).name in lines[0]
    n, shape = read_video(out)
    assert n >= 1 and shape == (180, 320, 3)
    text = kp.read_text()
    assert text.endswith("\n")
    rows = [json.loads(line) for line in text.splitlines()]  # every line whole
    assert rows[0]["uniskel"] == 1 and len(rows) - 1 >= 1
    assert [r["frame"] for r in rows[1:]] == list(range(len(rows) - 1))
    assert sorted(p.name for p in out.parent.iterdir()) == ["annotated.mp4", "people.jsonl"]


def test_the_log_filter_ignores_ctrl_c(tmp_path):
    """The forked filter between native libraries and the terminal gets the terminal's
    SIGINT too; it must keep passing lines on until the command has said its last."""
    script = (
        "import sys, time\n"
        "from uniskel import commands\n"
        "commands._filter = commands.NativeLogFilter()\n"
        "print('ready', file=sys.stderr, flush=True)\n"
        "try:\n"
        "    time.sleep(120)\n"
        "except KeyboardInterrupt:\n"
        "    time.sleep(0.2)\n"
        "    print('last words', file=sys.stderr)\n"
        "commands.stop_filtering()\n")
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, text=True,
                            stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=signals_as_default)
    try:
        assert proc.stderr.readline() == "ready\n"  # passed on: the filter is reading
        os.killpg(proc.pid, signal.SIGINT)
        rest = proc.stderr.read()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert rest.strip() == "last words", rest
    assert proc.returncode == 0


# ------------------------------------------------------------------ training over a run

LSPET = Path(os.environ.get("UNISKEL_DATA", "/work/shared/data")) / "lspet"

TRAIN_CONFIG = """
mode = "teacher"
arch = "tiny"
input_size = [96, 64]
epochs = 1
samples_per_epoch = 8
batch_size = 4
warmup_steps = 1
seed = 0
device = "cpu"
amp = false
workers = 0
repair_lr_swaps = false

[[datasets]]
name = "lspet"
format = "lsp"
images = "{lspet}/images"
annotations = "{lspet}/joints.mat"
range = [0, 12]
"""


def test_train_over_an_existing_run_needs_resume_or_overwrite(tmp_path, capsys, shared_data):
    import torch

    from uniskel.training.checkpoint import load_checkpoint, save_checkpoint

    lspet = shared_data / "lspet"
    if not (lspet / "joints.mat").is_file():
        pytest.skip("LSPET not present in the shared data")
    config = tmp_path / "teacher.toml"
    config.write_text(TRAIN_CONFIG.format(lspet=lspet.as_posix()))
    run = tmp_path / "run"
    last = save_checkpoint({"config": {}, "state_dict": {"w": torch.ones(2)},
                            "global_step": 1234}, run / "last.pt")
    before = last.read_bytes()
    base = ["train", "teacher", "--config", str(config), "--out", str(run), "--max-steps", "1"]
    torch.set_num_threads(1)

    assert cli.main(base) == 2
    line = error_line(capsys, "train")
    assert "last.pt" in line and "--resume" in line and "--overwrite" in line
    assert last.read_bytes() == before
    assert sorted(p.name for p in run.iterdir()) == ["last.pt"]  # nothing started

    assert cli.main(base + ["--resume", "--overwrite"]) == 2
    assert "--overwrite" in error_line(capsys, "train")
    assert last.read_bytes() == before

    assert cli.main(base + ["--overwrite"]) == 0
    assert load_checkpoint(last)["global_step"] == 1


# ------------------------------------------------------------------ reports written at the end

def _under_a_file(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    return blocker / "sub" / "results.json", "a_file"


def _an_existing_folder(tmp_path):
    (tmp_path / "results.json").mkdir()
    return tmp_path / "results.json", "results.json"


def _read_only_filesystem(tmp_path):
    return tmp_path / "ro" / "results.json", "results.json"


def _read_only_folder(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    return folder / "results.json", "results.json"


def no_work(*a, **k):
    raise AssertionError("the work started before the output was checked")


@pytest.mark.parametrize("command", ["eval", "quality"])
@pytest.mark.parametrize("place", [_under_a_file, _an_existing_folder, _read_only_filesystem,
                                   _read_only_folder], ids=lambda f: f.__name__.strip("_"))
def test_a_report_that_cannot_be_written_is_refused_before_the_run(command, place, tmp_path,
                                                                    monkeypatch, capsys):
    from uniskel.training import datasets

    monkeypatch.setattr("uniskel.engine.backends.create", no_work)
    monkeypatch.setattr(datasets, "read", no_work)
    target, words = place(tmp_path)
    argv = {"eval": ["eval", "--format", "lsp", "--range", "7500:7502", "--json", str(target)],
            "quality": ["quality", "--out", str(target)]}[command]
    with tmpfs(tmp_path / "ro", "1m", read_only=True) as mounted:
        if place is _read_only_filesystem and not mounted:
            pytest.skip("cannot mount a tmpfs here (needs root)")
        t0 = time.monotonic()
        assert cli.main(argv) == 2
        line = error_line(capsys, command)
    assert words in line and "cannot write" in line, line
    assert time.monotonic() - t0 < 30


def test_eval_json_that_is_the_annotation_file_is_refused(tmp_path, monkeypatch, capsys):
    from uniskel.training import datasets

    monkeypatch.setattr("uniskel.engine.backends.create", no_work)
    monkeypatch.setattr(datasets, "read", no_work)
    ann = tmp_path / "people.json"
    ann.write_text('{"images": [], "annotations": [], "categories": []}')
    data = ann.read_bytes()
    assert cli.main(["eval", "--format", "coco", "--annotations", str(ann), "--images",
                     str(tmp_path), "--json", str(ann)]) == 2
    line = error_line(capsys, "eval")
    assert "people.json" in line and "annotations" in line
    assert ann.read_bytes() == data


# ------------------------------------------------------------------ export

def _disk_full_while_saving(monkeypatch, folder):
    import torch

    def save(state, f, *a, **k):
        f.write(b"\0" * 4096)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", save)
    return "--weights", folder / "slim.pt", "No space left"


def _weights_target_is_a_folder(monkeypatch, folder):
    (folder / "model.pt").mkdir()
    return "--weights", folder / "model.pt", "model.pt"


def _onnx_check_fails(monkeypatch, folder):
    from uniskel.engine.models import export_onnx
    from uniskel.engine.errors import UniskelError

    def differs(model, path, **kw):
        raise UniskelError(f"{path}: ONNX output differs from PyTorch by 1e+00")

    monkeypatch.setattr(export_onnx, "check_export", differs)
    return "--onnx", folder / "model.onnx", "differs from PyTorch"


@pytest.mark.parametrize("case", [_disk_full_while_saving, _weights_target_is_a_folder,
                                  _onnx_check_fails], ids=lambda f: f.__name__.strip("_"))
def test_a_failed_export_leaves_nothing_behind(case, tmp_path, monkeypatch, capsys,
                                               random_checkpoint):
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "slim.pt").write_bytes(b"the earlier weights")
    (folder / "model.onnx").write_bytes(b"the earlier onnx")
    flag, target, words = case(monkeypatch, folder)
    before = snapshot(folder)
    assert cli.main(["export", "--checkpoint", str(random_checkpoint), flag, str(target)]) == 2
    line = error_line(capsys, "export")
    assert words in line, line
    assert snapshot(folder) == before  # no .tmp, nothing replaced


def test_partial_files_of_a_killed_run_are_swept_by_the_next(tmp_path):
    """A run killed with SIGKILL cannot remove its partial file; the next run writing the
    same target removes it, and leaves those of processes still running."""
    import subprocess
    import sys

    from uniskel.engine.media import safefiles

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    target = tmp_path / "clip.mp4"
    stale = tmp_path / f".clip.partial-{gone.pid}.mp4"
    alive = tmp_path / f".clip.partial-{os.getppid()}.mp4"
    other = tmp_path / f".other.partial-{gone.pid}.mp4"
    for f in (stale, alive, other):
        f.write_bytes(b"half a video")
    mine = safefiles.partial_path(target)
    assert mine.name == f".clip.partial-{os.getpid()}.mp4"
    assert not stale.exists() and alive.exists() and other.exists()


def test_an_output_through_a_symlink_replaces_its_file_and_keeps_its_mode(tmp_path):
    """Writing to a link writes the file it points at (the link stays a link), and a
    replaced file keeps its permissions."""
    from uniskel.engine.media import safefiles

    real = tmp_path / "store" / "report.json"
    real.parent.mkdir()
    real.write_text("old")
    real.chmod(0o640)
    link = tmp_path / "report.json"
    link.symlink_to(real)
    safefiles.write_text(link, "new")
    assert link.is_symlink() and real.read_text() == "new"
    assert (real.stat().st_mode & 0o777) == 0o640
    assert [p.name for p in real.parent.iterdir()] == ["report.json"]
