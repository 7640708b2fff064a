"""The standalone desktop bundle builds, stays small and really starts.

Runs scripts/build_bundle.py (its own build venv with the core dependencies only,
build.spec -> dist/uniskel, then the frozen binary from another folder, moved away from
dist/, in a bare environment) and checks its JSON report: at most 400 MiB, no PyTorch,
the window and ``infer`` run. Part of the default suite, so CI sees a broken bundle; a
few minutes on 2 cores (most of it the build venv's first install).
``UNISKEL_BUNDLE_SKIP_BUILD=1`` checks an existing dist/uniskel instead of rebuilding.

    .venv/bin/python -m pytest tests/test_frozen_build.py -q
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.bundle,
    pytest.mark.timeout(3600),
    pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("ldd") is None,
                       reason="the bundle checks are written for Linux"),
]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    path = tmp_path_factory.mktemp("bundle") / "report.json"
    cmd = [sys.executable, str(ROOT / "scripts" / "build_bundle.py"), "--report", str(path)]
    if os.environ.get("UNISKEL_BUNDLE_SKIP_BUILD") == "1":
        cmd.append("--skip-build")
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=3500)
    print(proc.stdout[-8000:])
    print(proc.stderr[-4000:], file=sys.stderr)
    assert path.is_file(), f"build_bundle.py wrote no report (exit {proc.returncode})"
    data = json.loads(path.read_text())
    data["returncode"] = proc.returncode
    return data


def _check(report, name):
    found = [c for c in report["checks"] if c["name"] == name]
    assert found, f"check {name!r} did not run; ran: {[c['name'] for c in report['checks']]}"
    return found[0]


def test_every_check_passes(report):
    assert report["failed"] == [], report["failed"]
    assert report["returncode"] == 0


@pytest.mark.parametrize("name", [
    "binary", "assets bundled", "Qt plugin platforms/libqoffscreen.so", "size at most 400 MiB",
    "Qt plugin platforms/libqxcb.so", "ONNX Runtime libraries", "PyTorch left out (no torch/gpu extra)",
    "no CUDA/TensorRT/TensorBoard/JAX", "no library from the build venv",
])
def test_bundle_layout(report, name):
    check = _check(report, name)
    assert check["ok"], check["detail"]


def test_frozen_binary_runs_from_another_folder(report):
    for name in ("--help", "demo --quit-after 3 (offscreen) exits 0", "demo screenshot",
                 "infer onnx-random exits 0", "infer onnx-random keypoints",
                 "infer onnx-random annotated video"):
        check = _check(report, name)
        assert check["ok"], f"{name}: {check['detail']}"


def test_mediapipe_runs_frozen_when_bundled(report):
    names = {c["name"] for c in report["checks"]}
    if "MediaPipe pose files" not in names:
        pytest.skip("MediaPipe is bundled only with scripts/build_bundle.py --extras mediapipe")
    for name in ("MediaPipe pose files", "infer mediapipe exits 0", "infer mediapipe keypoints"):
        check = _check(report, name)
        assert check["ok"], f"{name}: {check['detail']}"


def test_size_and_startup_are_reported(report):
    assert report["size_bytes"] > 50 * 2**20  # a real bundle, not an empty folder
    assert report["startup"].get("frame", 0) > 0, report["startup"]
