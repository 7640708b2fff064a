#!/usr/bin/env python3
"""Build the standalone desktop bundle (build.spec) and prove that it really starts.

    python3 scripts/build_bundle.py                       # build, checks, report
    python3 scripts/build_bundle.py --skip-build          # check an existing dist/uniskel
    python3 scripts/build_bundle.py --extras mediapipe    # also bundle MediaPipe (BlazePose)
    python3 scripts/build_bundle.py --extras gpu          # the GPU build: CUDA PyTorch (not
                                                          # built here: no GPU)

Standard library only (run it with any Python 3.10+). Steps:

1. a build environment of its own, ``build/bundle-venv/<extras>``: uniskel installed from
   the checkout (not editable) with its core dependencies and the ``--extras`` asked for,
   plus PyInstaller, and nothing else. The default bundle is what the window, ``infer``,
   ``bench``, ``soak`` and the Python API need: ONNX Runtime, OpenCV (headless), Qt
   (PySide6), pyqtgraph; no PyTorch, SciPy, TensorBoard or MediaPipe (the
   developer venv, .venv, has all of those and would bring them in);
2. ``pyinstaller build.spec`` -> ``dist/uniskel/uniskel``;
3. checks of the frozen binary, each PASS/FAIL on one line:
   * size: at most ``--max-mib`` (400 by default; 0 = no limit);
   * layout: assets/ (the shipped files of the checkout's assets/), Qt platform plugins
     (offscreen, xcb), QtMultimedia plugins, ONNX Runtime, the BlazePose files when
     bundled, and no CUDA / TensorRT / TensorBoard / JAX;
   * libraries: ``ldd`` of every shared library in the bundle; none may come from the
     build's virtual environment, and system libraries that are missing here are listed;
   * runs: the bundle is moved to another folder first (nothing may point back at
     dist/), and every command starts in a fresh temporary working directory with a
     bare environment (PATH=/usr/bin:/bin, a new HOME, no PYTHON* variables,
     QT_QPA_PLATFORM=offscreen): ``--help``; ``infer`` with MediaPipe (when bundled), with
     the bundled model, and with a random test model (.onnx, and .pt where PyTorch is
     bundled; made in the temporary folder by the developer venv, never bundled); the
     commands the bundle leaves out say so in one line; ``demo --quit-after 3
     --screenshot``; the start-up time to the first painted frame; and, where Xvfb is
     installed, the demo on the xcb platform.
4. prints the bundle size and start-up numbers and writes them, with every check, to a
   JSON report (``build/bundle_report.json``). Exit status 0 only if every check passed.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV_PY = ROOT / ".venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
SAMPLE = ROOT / "assets" / "media" / "sample_astronaut.mp4"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

checks: list[dict] = []


def check(name: str, ok: bool, detail: str = "", warn: bool = False) -> bool:
    """Record one check; ``warn`` ones are reported but never fail the run."""
    checks.append({"name": name, "ok": bool(ok), "warn_only": warn, "detail": detail})
    tag = "PASS" if ok else ("WARN" if warn else "FAIL")
    print(f"[{tag}] {name}{': ' + detail if detail else ''}", flush=True)
    return ok


def log(msg: str) -> None:
    print(f"[bundle] {msg}", flush=True)


# ---------------------------------------------------------------------------- build
def build_venv(extras: str) -> Path:
    """``build/bundle-venv/<extras>``: uniskel from the checkout with the core dependencies,
    ``extras`` and PyInstaller; reinstalled when pyproject.toml or constraints.txt change."""
    folder = ROOT / "build" / "bundle-venv" / (extras.replace(",", "-") or "core")
    py = folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    want = hashlib.sha256(extras.encode() + b"".join(
        (ROOT / n).read_bytes() for n in ("pyproject.toml", "setup.py", "constraints.txt"))
    ).hexdigest()
    stamp = folder / ".uniskel-bundle-env"
    if py.exists() and stamp.is_file() and stamp.read_text().strip() == want:
        log(f"build environment {folder} (up to date)")
        return py
    shutil.rmtree(folder, ignore_errors=True)
    log(f"build environment {folder}: uniskel{f'[{extras}]' if extras else ''} + PyInstaller")
    venv.EnvBuilder(with_pip=True).create(folder)
    target = f"{ROOT}[{extras}]" if extras else str(ROOT)
    r = subprocess.run([str(py), "-m", "pip", "install", "--quiet", "-c",
                        str(ROOT / "constraints.txt"), target, "pyinstaller>=6.10"],
                       cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"could not set up {folder}:\n{r.stderr[-3000:]}")
    stamp.write_text(want)
    return py


def ensure_dev_venv() -> None:
    """The developer venv (.venv) makes the random test models (it has PyTorch)."""
    log("developer environment: python3 dev.py run --help")
    r = subprocess.run([sys.executable, str(ROOT / "dev.py"), "run", "--help"], cwd=ROOT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0 or not DEV_PY.exists():
        sys.exit(f"dev.py could not set up .venv:\n{r.stderr[-3000:]}")


def build(py: Path, dist: Path, work: Path, extras: str) -> float:
    env = dict(os.environ, UNISKEL_BUNDLE_GPU="1" if "gpu" in extras.split(",") else "0")
    work.mkdir(parents=True, exist_ok=True)
    logfile = work / "pyinstaller.log"
    log(f"pyinstaller build.spec -> {dist / 'uniskel'} (log: {logfile}; takes minutes)")
    t0 = time.monotonic()
    with open(logfile, "w") as f:
        r = subprocess.run([str(py), "-m", "PyInstaller", "--noconfirm", "--clean",
                            "--distpath", str(dist), "--workpath", str(work),
                            str(ROOT / "build.spec")], cwd=ROOT, env=env,
                           stdout=f, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - t0
    if r.returncode != 0:
        print(logfile.read_text()[-6000:], file=sys.stderr)
        check("pyinstaller build", False, f"exit {r.returncode}, see {logfile}")
        return seconds
    warnings = [line for line in logfile.read_text().splitlines() if "WARNING:" in line]
    check("pyinstaller build", True, f"{seconds:.0f} s, {len(warnings)} warnings in {logfile.name}")
    return seconds


# ---------------------------------------------------------------------------- layout
def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit != "GiB" else f"{n:.2f} GiB"
        n /= 1024
    return str(n)


def check_layout(bundle: Path, extras: str) -> None:
    exe, internal = bundle / "uniskel", bundle / "_internal"
    lite = not (internal / "torch").exists()
    check("binary", exe.is_file() and os.access(exe, os.X_OK), str(exe))
    src_assets = sorted(p.relative_to(ROOT) for p in (ROOT / "assets").rglob("*")
                        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
                        and not (lite and p.parent.name == "models" and p.suffix == ".pt"))
    missing = [str(p) for p in src_assets if not (internal / p).is_file()]
    check("assets bundled", not missing,
          f"{len(src_assets) - len(missing)}/{len(src_assets)} files of assets/"
          + (f"; missing {missing[:5]}" if missing else ""))
    models = sorted(p.name for p in (internal / "assets" / "models").glob("*")
                    if p.suffix in (".pt", ".onnx"))
    check("model bundled", bool(models), ", ".join(models) or
          "assets/models/ has no .pt/.onnx at build time: only MediaPipe or --model will run",
          warn=True)
    qt = internal / "PySide6" / "Qt" / "plugins"
    for plugin in ("platforms/libqoffscreen.so", "platforms/libqxcb.so"):
        check(f"Qt plugin {plugin}", (qt / plugin).is_file())
    mm = sorted(p.name for p in (qt / "multimedia").glob("*.so")) if (qt / "multimedia").is_dir() else []
    if os.environ.get("UNISKEL_BUNDLE_QT_MULTIMEDIA") == "1":
        check("Qt multimedia plugins", bool(mm), ", ".join(mm))
    else:  # cameras through OpenCV (build.spec)
        check("Qt Multimedia left out", not mm and not (internal / "PySide6" / "QtMultimedia.abi3.so").exists(),
              ", ".join(mm))
    ort = list((internal / "onnxruntime" / "capi").glob("*.so*"))
    check("ONNX Runtime libraries", any("pybind11_state" in p.name for p in ort),
          ", ".join(sorted(p.name for p in ort)))
    mp = internal / "mediapipe" / "modules"
    if (internal / "mediapipe").is_dir():
        need = ["pose_detection/pose_detection.tflite", "pose_landmark/pose_landmark_full.tflite",
                "pose_landmark/pose_landmark_cpu.binarypb"]
        check("MediaPipe pose files", all((mp / n).is_file() for n in need), ", ".join(need))
        extra = sorted(p.parent.name for p in mp.rglob("*.tflite")
                       if not p.parent.name.startswith("pose_"))
        check("MediaPipe non-pose models left out", not extra, ", ".join(sorted(set(extra))))
    torch_lib = internal / "torch" / "lib" / "libtorch_cpu.so"
    wants_torch = bool({"torch", "gpu", "export", "train"} & set(extras.split(",")))
    if not wants_torch:
        check("PyTorch left out (no torch/gpu extra)", lite)
    else:
        check("PyTorch library", torch_lib.is_file())
    unwanted = [n for n in ("nvidia", "tensorrt", "tensorrt_libs", "torch_tensorrt", "tensorboard",
                            "tensorflow", "jax", "jaxlib", "triton", "tkinter", "pytest")
                if (internal / n).exists()]
    cuda_libs = sorted(p.name for p in internal.rglob("lib*.so*")
                       if re.match(r"lib(cudart|cublas|cudnn|nvinfer|nccl|cufft|curand|cusparse)",
                                   p.name))
    check("no CUDA/TensorRT/TensorBoard/JAX", not unwanted and not cuda_libs,
          ", ".join(unwanted + cuda_libs))


def check_libraries(bundle: Path) -> None:
    """ldd every shared library in the bundle. None may resolve into the build's venv.
    A library ldd cannot find is fine when the bundle has it (found at run time next to
    the library that loads it); a missing Qt library means an incomplete bundle (e.g.
    libQt6XcbQpa for the xcb platform plugin: "no Qt platform plugin could be
    initialized"); anything else must come from the target system and is listed."""
    venvs = (str(ROOT / ".venv"), str(ROOT / "build" / "bundle-venv"))
    files = [p for p in bundle.rglob("*") if p.is_file() and not p.is_symlink()
             and (p.name == "uniskel" or ".so" in p.name)]
    names = {p.name for p in bundle.rglob("*")}
    from_venv, not_found = set(), {}
    for p in files:
        r = subprocess.run(["ldd", str(p)], capture_output=True, text=True,
                           env={"PATH": "/usr/bin:/bin"})
        for line in r.stdout.splitlines():
            if any(v in line for v in venvs):
                from_venv.add(f"{p.name}: {line.strip()}")
            if "not found" in line and line.split()[0] not in names:
                not_found.setdefault(line.split()[0], []).append(str(p.relative_to(bundle)))
    check("no library from the build venv", not from_venv, "; ".join(sorted(from_venv)[:5]))
    qt_missing = {k: v for k, v in not_found.items() if k.startswith("libQt6")}
    # Qt libraries only plugins we never load need (Wayland, EGLFS, virtual keyboard, PDF)
    optional = ("libQt6Wayland", "libQt6WlShell", "libQt6Egl", "libQt6VirtualKeyboard",
                "libQt6Pdf", "libQt6Quick", "libQt6Qml")
    fatal = {k: v for k, v in qt_missing.items() if not k.startswith(optional)}
    check("Qt libraries of the bundled plugins", not fatal,
          "; ".join(f"{k} (needed by {v[0]})" for k, v in sorted(fatal.items()))
          or f"complete ({len(qt_missing)} optional plugin libraries absent)")
    system = {k: v for k, v in not_found.items() if k not in qt_missing}
    detail = "; ".join(f"{lib} (for {users[0]})" for lib, users in sorted(system.items()))
    check("system libraries present here", not system, detail or f"all {len(files)} resolve",
          warn=True)


def site_packages_state(py: Path) -> list[str]:
    """Installed distributions of the venv: they must not change during a build."""
    r = subprocess.run([str(py), "-c", "import importlib.metadata as m; print('\\n'.join("
                        "f'{d.name}=={d.version}' for d in m.distributions()))"],
                       capture_output=True, text=True)
    return r.stdout.split()


# ---------------------------------------------------------------------------- runs
class Runner:
    """Runs the frozen binary from a fresh folder with a bare environment."""

    def __init__(self, exe: Path, cwd: Path, home: Path, timeout: float):
        self.exe, self.cwd, self.timeout = exe, cwd, timeout
        self.env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
                    "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(home / "run"),
                    "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
        (home / "run").mkdir(mode=0o700, parents=True, exist_ok=True)

    def __call__(self, *args, env=None, timeout=None, prefix=()):
        timeout = timeout or self.timeout
        t0 = time.monotonic()
        try:
            r = subprocess.run([*prefix, str(self.exe), *map(str, args)], cwd=self.cwd,
                               env={**self.env, **(env or {})}, capture_output=True, text=True,
                               timeout=timeout)
            rc, out, err = r.returncode, r.stdout, r.stderr
        except subprocess.TimeoutExpired as exc:
            rc = f"timeout after {timeout:.0f} s"
            out, err = (x.decode(errors="replace") if isinstance(x, bytes) else (x or "")
                        for x in (exc.stdout, exc.stderr))
        return rc, out, err, time.monotonic() - t0


def tail(text: str, n: int = 4) -> str:
    lines = [line for line in text.splitlines() if line.strip() and not re.match(r"^[WI]0000 ", line)]
    return " | ".join(lines[-n:])


def venv_python(code: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(DEV_PY), "-c", code, *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})


VIDEO_INFO = """
import sys, cv2
cap = cv2.VideoCapture(sys.argv[1]); n = 0
while cap.read()[0]: n += 1
print(n, int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
"""
IMAGE_INFO = """
import sys, cv2
im = cv2.imread(sys.argv[1]); print(im.shape[1], im.shape[0], float(im.std()))
"""
RANDOM_MODEL = """
import sys, torch
from pathlib import Path
from uniskel.engine.models.model import build
from uniskel.engine.models.export_onnx import export_onnx
torch.manual_seed(0)
m = build("tiny").eval()
out = Path(sys.argv[1])
torch.save({"config": m.cfg.to_dict(), "state_dict": m.state_dict(),
            "meta": {"note": "random init, bundle smoke test only"}}, out / "random_test.pt")
export_onnx(m, out / "random_test.onnx", check=True)
"""


def check_infer(run: Runner, name: str, source: str, args, frames: int,
                expect_people: bool = False):
    out, kp = f"{name}.mp4", f"{name}.jsonl"
    rc, so, se, dt = run("infer", "--source", source, "--out", out, "--keypoints", kp,
                         "--max-frames", frames, *args)
    if not check(f"infer {name} exits 0", rc == 0, f"{dt:.1f} s; {tail(so + se)}"):
        return
    info = venv_python(VIDEO_INFO, run.cwd / out).stdout.split()
    n = int(info[0]) if info else 0
    check(f"infer {name} annotated video", n == frames,
          f"{out}: {n} frames {'x'.join(info[1:3])}")
    lines = (run.cwd / kp).read_text().splitlines() if (run.cwd / kp).is_file() else []
    try:
        header, records = json.loads(lines[0]), [json.loads(x) for x in lines[1:]]
    except (IndexError, ValueError):
        header, records = {}, []
    ok = len(header.get("keypoints", [])) == 21 and len(records) == frames
    people = sum(1 for r in records if any(max(k[2] for k in p["keypoints"]) > 0
                                           for p in r["people"]))
    check(f"infer {name} keypoints", ok and (people > 0 or not expect_people),
          f"{kp}: {len(records)} frames, {people} with a person, backend {header.get('backend')}")


def parse_startup(stderr: str) -> dict:
    out = {}
    for what, secs in re.findall(r"first (\w+) painted ([\d.]+) s after launch", stderr):
        out[what] = float(secs)
    return out


def check_png(path: Path, name: str) -> None:
    data = path.read_bytes() if path.is_file() else b""
    ok = data.startswith(PNG_MAGIC) and len(data) > 10_000
    detail = f"{path.name}: {len(data)} bytes"
    if ok:
        info = venv_python(IMAGE_INFO, path).stdout.split()
        if info:
            ok = float(info[2]) > 5.0  # not a blank window
            detail += f", {info[0]}x{info[1]}, pixel std {float(info[2]):.0f}"
    check(name, ok, detail)


def run_checks(bundle: Path, source: Path, startup_wait: float, keep: bool,
               timeout: float, startup_backend: str | None = None) -> dict:
    results: dict = {}
    tmp = Path(tempfile.mkdtemp(prefix="uniskel-bundle-check-"))
    cwd, home = tmp / "elsewhere", tmp / "home"
    cwd.mkdir()
    home.mkdir()
    # Relocate: nothing in the bundle may refer back to where it was built.
    moved = bundle.parent / ".relocated" / "uniskel-moved"
    moved.parent.mkdir(exist_ok=True)
    bundle.rename(moved)
    try:
        run = Runner(moved / "uniskel", cwd, home, timeout)
        lite = not (moved / "_internal" / "torch").exists()
        shutil.copy(source, cwd / ("sample" + source.suffix))
        sample = "sample" + source.suffix  # relative to the working directory

        rc, so, se, dt = run("--help")
        ok = rc == 0 and all(c in so for c in ("demo", "infer", "bench", "export"))
        check("--help", ok, f"{dt:.2f} s; {tail(se) if not ok else 'lists all subcommands'}")
        results["help_seconds"] = round(dt, 2)

        has_mp = (moved / "_internal" / "mediapipe").is_dir()
        if has_mp:
            check_infer(run, "mediapipe", sample, ["--backend", "mediapipe"], 10,
                        expect_people=True)
        internal_models = moved / "_internal" / "assets" / "models"
        if any(internal_models.glob("uniskel_student.*")):
            check_infer(run, "bundled", sample, ["--backend", "auto"], 10)
        else:
            rc, so, se, _ = run("infer", "--source", sample, "--out", "x.mp4")
            want = "no model bundled at assets/models/uniskel_student.pt"
            check("infer without a bundled model says so", rc == 2 and want in se, tail(se, 2))

        made = venv_python(RANDOM_MODEL, tmp)
        if made.returncode != 0:
            check("random test model (venv)", False, tail(made.stderr))
        else:
            check_infer(run, "onnx-random", sample,
                        ["--backend", "onnx", "--model", tmp / "random_test.onnx"], 5)
            if lite:
                rc, so, se, _ = run("infer", "--source", sample, "--out", "x.mp4",
                                    "--backend", "cpu", "--model", tmp / "random_test.pt")
                check("no PyTorch: cpu backend says PyTorch is missing",
                      rc == 2 and "PyTorch not installed" in se, tail(se, 2))
                rc, so, se, _ = run("export", "--checkpoint", tmp / "random_test.pt",
                                    "--weights", "x.pt")
                check("no PyTorch: export says which extra it needs",
                      rc == 2 and "[export] extra" in se, tail(se, 2))
            else:
                check_infer(run, "cpu-random", sample,
                            ["--backend", "cpu", "--model", tmp / "random_test.pt"], 5)

        rc, so, se, dt = run("demo", "--source", sample, "--quit-after", 3,
                             "--screenshot", "demo.png")
        check("demo --quit-after 3 (offscreen) exits 0", rc == 0, f"{dt:.1f} s; {tail(se, 2)}")
        check_png(cwd / "demo.png", "demo screenshot")

        # Start-up: launch time -> first painted frame / skeleton, with the default
        # source (the bundled sample video: also proves assets resolve via _MEIPASS).
        launched = time.time()
        extra = ("--backend", startup_backend) if startup_backend else ()
        rc, so, se, dt = run("demo", *extra, "--quit-after", startup_wait,
                             "--screenshot", "startup.png",
                             env={"UNISKEL_STARTUP_REPORT": f"{launched:.6f}"},
                             timeout=startup_wait + timeout)
        startup = parse_startup(se)
        results["startup"] = startup
        check("demo default source (bundled sample)", rc == 0 and "frame" in startup,
              f"first frame painted {startup.get('frame', '-')} s, first skeleton "
              f"{startup.get('skeleton', '-')} s after launch; exit {rc} after {dt:.1f} s")
        check_png(cwd / "startup.png", "start-up screenshot")

        if shutil.which("xvfb-run"):
            rc, so, se, dt = run("demo", "--source", sample, "--quit-after", 3,
                                 "--screenshot", "xcb.png", env={"QT_QPA_PLATFORM": "xcb"},
                                 prefix=("xvfb-run", "-a", "-s", "-screen 0 1600x1000x24"))
            check("demo on xcb (Xvfb) exits 0", rc == 0, f"{dt:.1f} s; {tail(se, 3)}")
            check_png(cwd / "xcb.png", "xcb screenshot")
        else:
            check("demo on xcb", True, "skipped: xvfb-run not installed", warn=True)
    finally:
        moved.rename(bundle)
        moved.parent.rmdir()
        if keep:
            log(f"kept the check folder {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-build", action="store_true", help="check the existing bundle only")
    ap.add_argument("--extras", default="", metavar="LIST",
                    help="uniskel extras to bundle beside the core, comma-separated "
                         "(mediapipe, gpu, ...; default none: the ONNX Runtime desktop build)")
    ap.add_argument("--max-mib", type=float,
                    help="the most the bundle may weigh, in MiB (default 400 for the "
                         "default build, no limit with --extras; 0: no limit)")
    ap.add_argument("--dist", type=Path, default=ROOT / "dist", help="PyInstaller --distpath")
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "pyinstaller",
                    help="PyInstaller --workpath")
    ap.add_argument("--report", type=Path, default=ROOT / "build" / "bundle_report.json")
    ap.add_argument("--source", type=Path, default=SAMPLE, help="video for the runs")
    ap.add_argument("--startup-wait", type=float, default=20.0,
                    help="seconds the start-up demo runs (first skeleton must come before)")
    ap.add_argument("--startup-backend", metavar="NAME",
                    help="backend for the start-up demo (default: the app's own choice)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary check folder")
    ap.add_argument("--timeout", type=float, default=600.0,
                    help="seconds each run of the binary may take (default 600; generous "
                         "because a busy 2-core machine can be very slow)")
    args = ap.parse_args(argv)
    args.dist, args.work, args.report = (p.resolve() for p in (args.dist, args.work, args.report))

    ensure_dev_venv()
    extras = ",".join(sorted(e.strip() for e in args.extras.split(",") if e.strip()))
    bundle = args.dist / "uniskel"
    report: dict = {"extras": extras, "bundle": str(bundle)}
    if not args.skip_build:
        py = build_venv(extras)
        before = site_packages_state(py)
        shutil.rmtree(bundle, ignore_errors=True)  # a failed build leaves nothing to check
        report["build_seconds"] = round(build(py, args.dist, args.work, extras), 1)
        after = site_packages_state(py)
        changed = sorted(set(before) ^ set(after))
        check("venv unchanged during the build", not changed,
              f"installed/removed while PyInstaller ran (rebuild): {', '.join(changed)}"
              if changed else "")
    if (bundle / "uniskel").is_file():
        size = du(bundle)
        report.update(size_bytes=size, size=human(size))
        log(f"bundle size: {human(size)} ({bundle})")
        biggest = sorted(((du(p) if p.is_dir() else p.stat().st_size, p.name)
                          for p in (bundle / "_internal").iterdir()), reverse=True)[:8]
        report["largest"] = {name: human(n) for n, name in biggest}
        log("largest: " + ", ".join(f"{name} {human(n)}" for n, name in biggest))
        if args.max_mib is None:
            args.max_mib = 0.0 if extras else 400.0
        if args.max_mib:
            check(f"size at most {args.max_mib:g} MiB", size <= args.max_mib * 2**20, human(size))
        check_layout(bundle, extras)
        check_libraries(bundle)
        report.update(run_checks(bundle, args.source.resolve(), args.startup_wait,
                                 args.keep, args.timeout, args.startup_backend))
    else:
        check("bundle exists", False, f"{bundle / 'uniskel'} missing")
    failed = [c["name"] for c in checks if not c["ok"] and not c["warn_only"]]
    report.update(checks=checks, failed=failed, ok=not failed)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=1))
    startup = report.get("startup", {})
    print(f"\nbundle: {report.get('size', '-')}  start-up to first painted frame: "
          f"{startup.get('frame', '-')} s (first skeleton {startup.get('skeleton', '-')} s)  "
          f"checks: {len(checks) - len(failed)}/{len(checks)} ok"
          + (f"  FAILED: {', '.join(failed)}" if failed else "") + f"\nreport: {args.report}")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
