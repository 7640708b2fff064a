#!/usr/bin/env python3
"""Set up uniskel's environment (idempotently) and run a job in it.

    python3 dev.py demo [ARGS...]   # set up, then `uniskel demo ARGS...`
    python3 dev.py test [ARGS...]   # set up, then the test suite (pytest ARGS...)
    python3 dev.py run CMD [ARGS]   # set up, then `uniskel CMD ARGS...`

Only the standard library is used here, so it runs on a bare Python 3.11. The virtual
environment lives in ``.venv``; it is (re)installed only when pyproject.toml or
constraints.txt changed since the last successful install.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".uniskel-installed"
EXTRAS = "mediapipe,train,dev"  # everything but the GPU paths: PyTorch (CPU), eval, training


def _python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _fingerprint() -> str:
    h = hashlib.sha256(EXTRAS.encode())
    for name in ("pyproject.toml", "constraints.txt"):
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()


def ensure_env() -> Path:
    py = _python()
    want = _fingerprint()
    if py.exists() and STAMP.exists() and STAMP.read_text().strip() == want:
        return py
    if not py.exists():
        print(f"[dev] creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("[dev] installing uniskel and its dependencies (first run: several minutes)",
          flush=True)
    subprocess.run([str(py), "-m", "pip", "install", "--upgrade", "--quiet", "pip"], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", "-c", "constraints.txt",
                    "-e", f".[{EXTRAS}]"], check=True, cwd=ROOT)
    STAMP.write_text(want)
    return py


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test", "run"):
        print(__doc__)
        return 2
    job, rest = argv[0], argv[1:]
    py = ensure_env()
    env = dict(os.environ)
    if job == "test":
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        cmd = [str(py), "-m", "pytest", *rest]
    elif job == "demo":
        cmd = [str(py), "-m", "uniskel", "demo", *rest]
    else:
        cmd = [str(py), "-m", "uniskel", *rest]
    return subprocess.call(cmd, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
