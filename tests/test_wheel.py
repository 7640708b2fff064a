"""`pip install` gives a working product: the wheel built from the checkout, installed in a
fresh virtual environment with its core dependencies only (no PyTorch, SciPy,
pycocotools, TensorBoard or MediaPipe), run from a folder outside the checkout.

It checks what a new user does first: ``uniskel demo --quit-after``, ``uniskel infer`` on
an image, and the README's Python API example; the bundled models, media and configs come
from the installed package, and the commands that need an extra say which in one line.
The wheel's contents are derived from the folders (setup.py), so a new subpackage or
asset type that the wheel misses fails here. Needs PyPI (or pip's cache) for the core
dependencies; takes a minute or two.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from test_api import readme_example

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.bundle, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                        "-w", str(out), str(ROOT)], capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    (path,) = out.glob("uniskel-*.whl")
    return path


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """(python, uniskel command, a working folder outside the checkout, its environment)."""
    home = tmp_path_factory.mktemp("fresh")
    env_dir = home / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py, exe = env_dir / "bin" / "python", env_dir / "bin" / "uniskel"
    r = subprocess.run([str(py), "-m", "pip", "install", "--quiet", str(wheel)],
                       capture_output=True, text=True, timeout=1500)
    assert r.returncode == 0, r.stderr[-3000:]
    work = home / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(QT_QPA_PLATFORM="offscreen", HOME=str(home), XDG_CONFIG_HOME=str(home / "cfg"),
               OMP_NUM_THREADS="2")
    return py, exe, work, env


def run(installed, *args, timeout=600):
    py, exe, work, env = installed
    return subprocess.run([*map(str, args)], cwd=work, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_the_wheel_holds_every_package_and_the_shipped_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {str(p.parent.relative_to(ROOT)) for layer in ("app", "commands", "engine",
                                                              "training")
                for p in (ROOT / layer).rglob("__init__.py")}
    for package in packages:
        assert f"uniskel/{package}/__init__.py" in names, package
    for model in (ROOT / "assets" / "models").glob("*.onnx"):
        assert f"uniskel/assets/models/{model.name}" in names
    for shipped in ("models/SHA256SUMS", "models/uniskel_student.pt",
                    "models/uniskel_student_v2.pt",  # the teacher the training configs name
                    "media/sample_astronaut.mp4", "icons/uniskel.png"):
        assert f"uniskel/assets/{shipped}" in names
    for config in (ROOT / "training" / "configs").glob("*.toml"):
        assert f"uniskel/training/configs/{config.name}" in names
    assert not [n for n in names if n.startswith(("tests/", "scripts/", "app/", "engine/"))]


def test_installed_uniskel_reads_its_files_from_the_install_not_the_checkout(installed):
    py = installed[0]
    r = run(installed, py, "-c", "import importlib.util as u, uniskel; "
            "from uniskel.engine import assets; "
            "print(uniskel.__file__); print(assets.default_onnx()); "
            "print([n for n in ('torch', 'scipy', 'pycocotools', 'tensorboard', 'mediapipe') "
            "if u.find_spec(n)])")
    assert r.returncode == 0, r.stderr
    module, model, heavy = r.stdout.strip().splitlines()
    venv_dir = str(py.parent.parent)
    assert module.startswith(venv_dir) and model.startswith(venv_dir), r.stdout
    assert Path(model).is_file()
    assert heavy == "[]", f"core install pulled in {heavy}"


def test_demo_starts_and_quits(installed):
    py, exe, work, env = installed
    sample = run(installed, py, "-c", "from uniskel.engine import assets; "
                 "print(assets.asset('media', 'sample_astronaut.mp4'))").stdout.strip()
    r = run(installed, exe, "demo", "--source", sample, "--quit-after", 3, "--screenshot",
            "shot.png")
    assert r.returncode == 0, r.stderr[-2000:]
    assert (work / "shot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_infer_on_an_image_finds_the_person(installed, tmp_path):
    py, exe, work, env = installed
    image = work / "astronaut.png"
    shutil.copy(ROOT / "assets" / "media" / "astronaut.png", image)
    r = run(installed, exe, "infer", "--source", image.name, "--keypoints", "kp.jsonl")
    assert r.returncode == 0, r.stderr[-2000:]
    header, *records = (json.loads(line) for line in (work / "kp.jsonl").read_text().splitlines())
    assert len(header["keypoints"]) == 21
    assert records and records[0]["people"], records


def test_the_readme_api_example_runs(installed, shared_data):
    py, exe, work, env = installed
    shutil.copy(shared_data / "coco128" / "images" / "000000000036.jpg", work / "photo.jpg")
    r = run(installed, py, "-c", readme_example())
    assert r.returncode == 0, r.stderr[-2000:]
    assert "(21, 2) (21,)" in r.stdout


@pytest.mark.parametrize("command, extra", [
    (["train", "teacher", "--config", "x.toml"], "train"),
    (["eval", "--format", "lsp"], "eval"),
    (["export", "--checkpoint", "x.pt"], "export"),
    (["quality"], "train"),
])
def test_a_command_that_needs_an_extra_says_which(installed, command, extra):
    exe = installed[1]
    r = run(installed, exe, *command)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert f"[{extra}] extra" in lines[0] and f"pip install 'uniskel[{extra}]'" in lines[0]
