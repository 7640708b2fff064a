"""One output stack and one source stack for the command line and the window: the same
frame recorded by the app's recorder and written by ``uniskel infer`` is drawn pixel for
pixel the same and gives the same record lines; both stop on the disk-space guard with
the same line and a playable MP4; a video that breaks off says the same line in both."""
from __future__ import annotations

import os

import numpy as np
import pytest

import cv2  # noqa: F401 - sets QT_QPA_PLATFORM_PLUGIN_PATH, which the app must undo

os.environ.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)
pytest.importorskip("pytestqt")

from uniskel import commands as cli  # noqa: E402
from uniskel.engine.media import outputs, records  # noqa: E402
from uniskel.engine.media.playback import play  # noqa: E402
from conftest import error_line  # noqa: E402
from reliability_fakes import BreakingSource, read_video, write_video  # noqa: E402

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def spy(monkeypatch):
    """Every canvas handed to the encoder, and every (frame, result) written, per output."""
    seen = {"canvases": {}, "written": []}
    real_write, real_out = outputs.VideoOutput.write, outputs.Outputs.write

    def video_write(self, rgb):
        seen["canvases"].setdefault(self.path.name, []).append(self.fit(rgb).copy())
        real_write(self, rgb)

    def out_write(self, frame, result, style=None):
        real_out(self, frame, result, style)
        seen["written"].append((frame.copy(), result))

    monkeypatch.setattr(outputs.VideoOutput, "write", video_write)
    monkeypatch.setattr(outputs.Outputs, "write", out_write)
    return seen


def use_source(monkeypatch, source):
    monkeypatch.setattr("uniskel.engine.media.sources.open_source", lambda spec, **kw: source)


def record(qtbot, folder, pairs, options, stem="app"):
    """Feed (frame, result) pairs to the app's recorder as the window does; its summary."""
    from uniskel.app.recorder import Recorder

    rec = Recorder()
    h, w = pairs[0][0].shape[:2]
    rec.start(folder, 15.0, (w, h), "jsonl", stem=stem,
              meta={"source": "camera:0", "backend": "blob"})
    with qtbot.waitSignal(rec.stopped, timeout=30000) as stopped:
        for frame, result in pairs:
            while rec._queue.full():  # the test wants every frame, not the live drop rule
                qtbot.wait(5)
            rec.add(frame, result, options)
        rec.stop("stopped", wait=False)
    return stopped.args[0]


def test_recorder_and_infer_draw_and_record_the_same(qtbot, tmp_path, monkeypatch,
                                                     blob_engine, spy):
    from uniskel.app.overlay import OverlayOptions

    use_source(monkeypatch, BreakingSource(8, size=(121, 161)))  # odd sides: cut the same
    a = tmp_path / "cli"
    assert cli.main(["infer", "--source", "camera:0", "--out", str(a / "clip.mp4"),
                     "--keypoints", str(a / "clip.jsonl"), "--subset", "coco",
                     "--threshold", "0.3"]) == 0
    pairs = list(spy["written"])
    assert len(pairs) == 8 and sum(len(r.people) for _, r in pairs) >= 6  # people drawn
    # the window's view options that mean the same as those command-line options
    options = OverlayOptions(subset="coco", threshold=0.3, line_width=2, show_ids=False,
                             show_names=False, mirror=False, side_colours=True)
    summary = record(qtbot, tmp_path / "app", pairs, options, stem="clip")
    assert not summary.error and summary.frames == 8

    cli_canvases, app_canvases = spy["canvases"]["clip.mp4"][:8], spy["canvases"]["clip.mp4"][8:]
    assert len(app_canvases) == 8
    for (frame, _), x, y in zip(pairs, cli_canvases, app_canvases):
        assert x.shape == (120, 160, 3)
        assert np.array_equal(x, y)  # pixel for pixel
    assert any(not np.array_equal(x, f[:120, :160]) for (f, _), x in zip(pairs, cli_canvases))
    cli_text = (a / "clip.jsonl").read_text().splitlines()
    app_text = (tmp_path / "app" / "clip.jsonl").read_text().splitlines()
    assert len(cli_text) == 9
    assert app_text[1:] == cli_text[1:]  # every record line identical
    assert records.read_jsonl(a / "clip.jsonl")[0] == records.read_jsonl(
        tmp_path / "app" / "clip.jsonl")[0]  # and the header
    assert read_video(a / "clip.mp4") == read_video(tmp_path / "app" / "clip.mp4") \
        == (8, (120, 160, 3))

    # the window's other options change the drawing the same way a Style does
    from uniskel.app.recorder import style_of
    from uniskel.engine.media.draw import render
    frame, result = pairs[3]
    mirrored = OverlayOptions(mirror=True, show_ids=True, side_colours=False, followed=1)
    assert np.array_equal(render(frame, result.people, style_of(mirrored)),
                          render(frame, result.people, style_of(style_of(mirrored))))
    assert not np.array_equal(render(frame, result.people, style_of(mirrored)),
                              render(frame, result.people, style_of(options)))


def test_the_disk_space_guard_stops_both_with_the_same_line(qtbot, tmp_path, monkeypatch,
                                                            blob_engine, spy, capsys):
    """The guard trips after 5 frames: the same one line (bar the folder), a finalised
    MP4 and records of the same 5 frames, from the command line and from the app."""
    from uniskel.app.overlay import OverlayOptions

    def free(folder):
        encoded = sum(len(v) for v in spy["canvases"].values())
        return outputs.MIN_FREE_BYTES + 1 if encoded < 5 else outputs.MIN_FREE_BYTES - 1

    use_source(monkeypatch, BreakingSource(30))
    pairs_source = BreakingSource(30)
    pairs = []
    from uniskel.engine.runtime.pipeline import FrameResult, Person
    for frame, _, i in play(pairs_source):
        k = np.zeros((21, 3), np.float32)
        k[:, :2], k[:, 2] = (40 + i, 50), 1.0
        pairs.append((frame, FrameResult(i, i / 15.0, [Person(k, (10, 10, 90, 110), 1, 1.0)],
                                         {}, "blob", frame.shape[:2])))
    monkeypatch.setattr(outputs, "free_bytes", free)
    cli_dir, app_dir = tmp_path / "cli", tmp_path / "app"
    assert cli.main(["infer", "--source", "camera:0", "--out", str(cli_dir / "clip.mp4"),
                     "--keypoints", str(cli_dir / "clip.jsonl")]) == 2
    line = error_line(capsys, "infer").removeprefix("uniskel infer: error: ")
    spy["canvases"].clear()
    summary = record(qtbot, app_dir, pairs, OverlayOptions(), stem="clip")
    assert summary.error and summary.frames == 5
    assert "disk almost full" in line and "5 frames written to" in line
    assert summary.line.replace(str(app_dir), str(cli_dir)) == line
    assert summary.reason.replace(str(app_dir), str(cli_dir)) == line.split(" (5 frames")[0]
    for folder in (cli_dir, app_dir):
        assert read_video(folder / "clip.mp4") == (5, (120, 160, 3))
        assert len(records.read_jsonl(folder / "clip.jsonl")[1]) == 5


def test_refused_before_anything_is_written_in_both(qtbot, tmp_path, monkeypatch, capsys,
                                                    blob_engine):
    from uniskel.app.recorder import Recorder
    from uniskel.engine.errors import UniskelError

    monkeypatch.setattr(outputs, "free_bytes", lambda folder: 1024)
    use_source(monkeypatch, BreakingSource(3))
    assert cli.main(["infer", "--source", "camera:0", "--out", str(tmp_path / "cli" / "a.mp4"),
                     "--keypoints", str(tmp_path / "cli" / "a.jsonl")]) == 2
    line = error_line(capsys, "infer")
    with pytest.raises(UniskelError) as refused:
        Recorder().start(tmp_path / "app", 15.0, (160, 120), "jsonl", stem="a")
    assert "not enough free space" in line and "not enough free space" in str(refused.value)
    assert not list((tmp_path / "cli").iterdir()) and not list((tmp_path / "app").iterdir())


def test_the_window_reads_the_same_frames_and_breaks_off_with_the_same_line(
        qtbot, tmp_path, capsys, blob_engine):
    """app.capture plays a file through the engine's player: the frames are those the
    command line reads, and a cut file fails with the line infer prints."""
    from uniskel.app import capture
    from uniskel.engine.media.sources import SourceError, open_source

    whole = write_video(tmp_path / "whole.avi", n=40, size=(64, 48), fps=50, fourcc="MJPG")
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.6)])
    expected = []
    with open_source(cut) as src, pytest.raises(SourceError):
        for frame, _, _ in play(src):
            expected.append(frame)
    assert 0 < len(expected) < 40

    source = capture.open_source(str(cut))
    packets, failed = [], []
    source.frame.connect(packets.append)
    source.failed.connect(failed.append)
    source.set_loop(False)
    with qtbot.waitSignal(source.failed, timeout=20000):
        source.start()
    source.stop()
    assert len(packets) == len(expected)
    assert all(np.array_equal(p.frame, f) for p, f in zip(packets, expected))
    assert [p.index for p in packets] == list(range(len(expected)))

    assert cli.main(["infer", "--source", str(cut), "--keypoints",
                     str(tmp_path / "k.jsonl")]) == 2
    line = error_line(capsys, "infer")
    assert len(failed) == 1 and "\n" not in failed[0]
    assert line.startswith(f"uniskel infer: error: {failed[0]} (")


def test_one_draw_threshold_for_the_window_the_command_line_and_the_checks():
    """The window's default, ``uniskel infer``'s, the drawing code's, the evaluation's
    drawn-point checks and the points the tracker follows are the one number in
    engine/skeleton.py."""
    import argparse
    import inspect

    from uniskel.app.overlay import OverlayOptions
    from uniskel.app.settings import Settings
    from uniskel.commands import infer
    from uniskel.engine import skeleton
    from uniskel.engine.media import draw
    from uniskel.engine.runtime.pipeline import Pipeline
    from uniskel.engine.runtime.tracker import Tracker
    from uniskel.training import evaluate

    parser = argparse.ArgumentParser()
    infer.add_arguments(parser)
    defaults = {Settings().threshold, OverlayOptions().threshold, draw.Style().threshold,
                parser.get_default("threshold"),
                inspect.signature(evaluate.score_cut).parameters["threshold"].default,
                Tracker().keypoint_threshold,
                inspect.signature(Pipeline).parameters["keypoint_threshold"].default}
    assert defaults == {skeleton.DRAW_THRESHOLD}
