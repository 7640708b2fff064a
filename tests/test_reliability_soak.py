"""uniskel.engine.soak: the long-run check (memory, fps decay, an engine that gives up).

The fast tests run it for a few seconds and check the report; the ``slow`` one is the
real 10-minute soak (``pytest -m slow tests/test_reliability_soak.py``).
"""
from __future__ import annotations

import json

import pytest

from uniskel import commands
from uniskel.engine import assets, soak
from engine_fakes import BlobBackend

SAMPLE = assets.asset("media", "sample_astronaut.mp4")

pytestmark = pytest.mark.skipif(not SAMPLE.is_file(), reason=f"{SAMPLE} missing")


def report(**over):
    r = {"rss_mb": {"growth": 3.0}, "fps": {"first": 20.0, "last": 19.0},
         "worker": {"state": "stopped", "reason": None}}
    for k, v in over.items():
        r[k] = {**r[k], **v}
    return r


def test_verdict_limits():
    assert soak.verdict(report(), 50, 0.25) == []
    grew = soak.verdict(report(rss_mb={"growth": 80.0}), 50, 0.25)
    assert len(grew) == 1 and "memory grew 80.0 MB" in grew[0]
    slower = soak.verdict(report(fps={"last": 14.0}), 50, 0.25)
    assert len(slower) == 1 and "fell from 20.0 to 14.0 (30%" in slower[0]
    assert soak.verdict(report(fps={"last": 15.0}), 50, 0.25) == []  # exactly 25%: allowed
    failed = soak.verdict(report(worker={"state": "failed", "reason": "onnx: 5 frames"}), 50, .25)
    assert failed == ["the engine gave up: onnx: 5 frames"]
    assert soak.verdict(report(fps={"first": 0.0}), 50, 0.25)


def test_memory_reader():
    rss = soak.rss_mb()
    if rss is None:
        pytest.skip("no /proc/self/status here")
    assert 10 < rss < 100_000 and soak.rss_mb("VmHWM") >= rss


def test_windows_for_long_and_short_runs():
    assert soak.windows(600, 15) == (15, 60)
    warm, win = soak.windows(6, 15)
    assert warm == pytest.approx(0.6) and win == pytest.approx(1.8)


def test_short_soak_writes_a_full_report(tmp_path, random_onnx, capsys):
    out = tmp_path / "soak.json"
    rc = commands.main(["soak", "--source", str(SAMPLE), "--minutes", str(5 / 60), "--backend", "onnx",
                    "--model", str(random_onnx), "--json", str(out),
                    "--max-growth-mb", "1000", "--max-fps-drop", "1"])
    assert rc == 0, capsys.readouterr().err
    r = json.loads(out.read_text())
    assert r["backend"] == "onnx" and 4.5 <= r["seconds"] <= 8
    assert r["rate"] == pytest.approx(15.0)  # the sample's own frame rate
    assert r["frames_processed"] > 0 and r["errors"] == 0
    # every frame offered is accounted for: processed, dropped or failed
    assert r["frames_submitted"] == r["frames_processed"] + r["frames_dropped"] + r["errors"]
    assert r["frames_submitted"] <= r["seconds"] * 15 + 2
    assert set(r["rss_mb"]) == {"launch", "start", "end", "peak", "growth", "after_stop"}
    assert r["rss_mb"]["peak"] >= r["rss_mb"]["end"] > 0
    assert r["rss_mb"]["growth"] == pytest.approx(r["rss_mb"]["end"] - r["rss_mb"]["start"],
                                                  abs=0.11)
    assert set(r["fps"]) == {"first", "last", "overall", "window_s", "warmup_s"}
    assert r["fps"]["overall"] > 0 and r["latency_ms"]["p95"] >= r["latency_ms"]["p50"] > 0
    assert r["worker"]["state"] == "stopped" and r["passed"] and r["problems"] == []
    assert r["threads"]["end"] >= 1 and len(r["rss_samples"]) >= 2
    assert "passed" in capsys.readouterr().out


class Dies(BlobBackend):
    def infer(self, crops):
        self.calls += 1
        if self.calls > 1:  # warm-up passes, then every frame fails
            raise RuntimeError("device lost")
        return super().infer(crops)


def test_soak_fails_when_the_engine_gives_up(tmp_path, monkeypatch, capsys):
    from uniskel.engine.runtime.detector import SearchDetector

    monkeypatch.setattr("uniskel.engine.backends.create", lambda *a, **k: Dies())
    monkeypatch.setattr("uniskel.engine.runtime.detector.create", lambda name="auto", people=1: SearchDetector())
    out = tmp_path / "soak.json"
    rc = commands.main(["soak", "--source", str(SAMPLE), "--minutes", "0.5", "--json", str(out)])
    assert rc == 1
    r = json.loads(out.read_text())
    assert r["worker"]["state"] == "failed" and r["errors"] == 5
    assert r["seconds"] < 20  # stopped at once, not after the full half minute
    assert any("gave up" in p and "device lost" in p for p in r["problems"])
    assert "FAIL: the engine gave up" in capsys.readouterr().err


def test_soak_bad_source_is_one_line(tmp_path, capsys):
    # --json in tmp: the default (runs/soak.json) is checked in the working directory,
    # which may be anywhere (read-only, or holding an earlier report)
    rc = commands.main(["soak", "--source", str(tmp_path / "none.mp4"), "--minutes", "1",
                        "--json", str(tmp_path / "soak.json")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "source not found" in err[0]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_ten_minute_soak(tmp_path, random_onnx):
    """The real soak: 10 minutes on the looping sample (MediaPipe where installed, else
    the ONNX student; random weights cost the same as trained ones)."""
    from uniskel.engine import backends

    name, model = ("mediapipe", None) if backends.available()["mediapipe"] is None \
        else ("onnx", random_onnx)
    out = tmp_path / "soak.json"
    argv = ["--source", str(SAMPLE), "--minutes", "10", "--backend", name, "--json", str(out)]
    if model is not None:
        argv += ["--model", str(model)]
    rc = commands.main(["soak", *argv])
    r = json.loads(out.read_text())
    assert rc == 0, r["problems"]
    assert r["seconds"] >= 595 and r["errors"] == 0 and r["rss_mb"]["growth"] <= 50
    assert r["fps"]["last"] >= 0.75 * r["fps"]["first"]
