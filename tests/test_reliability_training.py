"""Training survives a hard kill: it resumes from its last checkpoint to the very same
weights as an uninterrupted run, and a kill while saving never leaves a corrupt last.pt.

A handful of LSPET images on the CPU (8 steps of the tiny model), so it stays quick.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from uniskel.engine.assets import shared_data
from uniskel.engine.errors import UniskelError

ROOT = Path(__file__).resolve().parent.parent
LSPET = shared_data() / "lspet"

pytestmark = [pytest.mark.skipif(not (LSPET / "joints.mat").is_file(),
                                 reason="LSPET not present in the shared data"),
              pytest.mark.timeout(600)]


def small_config(out: Path):
    from uniskel.training.config import DatasetSpec, TrainConfig

    return TrainConfig(
        mode="teacher", arch="tiny", input_size=(128, 96),
        datasets=[DatasetSpec("lspet", "lsp", str(LSPET / "images"), str(LSPET / "joints.mat"),
                              (0, 24))],
        epochs=2, samples_per_epoch=16, batch_size=4, checkpoint_every=2, workers=0,
        warmup_steps=2, lr=2e-3, seed=0, device="cpu", amp=False, repair_lr_swaps=False,
        out=str(out), cache_dir=str(out / "cache"))


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """Run A: 2 epochs x 4 steps, never stopped."""
    from uniskel.training.checkpoint import load_checkpoint
    from uniskel.training.train import train

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("run_a")
    last = train(small_config(out))
    ck = load_checkpoint(last)
    assert (ck["epoch"], ck["step_in_epoch"], ck["global_step"]) == (2, 0, 8)
    return ck


def test_stop_and_resume_reaches_the_same_weights(uninterrupted, tmp_path):
    from uniskel.training.checkpoint import load_checkpoint
    from uniskel.training.train import train

    cfg = small_config(tmp_path)
    last = train(cfg, max_steps=3)  # stops mid-epoch 0
    ck = load_checkpoint(last)
    assert (ck["epoch"], ck["step_in_epoch"], ck["global_step"]) == (0, 3, 3)
    last = train(cfg, resume=True)
    ck = load_checkpoint(last)
    assert ck["global_step"] == 8
    assert_same_weights(ck["state_dict"], uninterrupted["state_dict"])
    # the optimiser continued too (Adam moments), not just the weights
    for sa, sb in zip(ck["optimizer"]["state"].values(),
                      uninterrupted["optimizer"]["state"].values()):
        assert torch.equal(sa["exp_avg"], sb["exp_avg"])


KILLED_RUN = textwrap.dedent("""
    import os, signal, sys
    import torch
    sys.path.insert(0, {tests!r})
    from test_reliability_training import small_config
    from uniskel.training import losses, train as T

    torch.set_num_threads(1)
    real, calls = losses.simcc_loss, [0]

    def loss_then_die(*a, **k):
        calls[0] += 1
        if calls[0] == {kill_at}:  # in the middle of a step, two steps past a checkpoint
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*a, **k)

    losses.simcc_loss = loss_then_die
    T.train(small_config(__import__("pathlib").Path({out!r})))
    print("not killed")
""")


def test_sigkill_mid_epoch_then_resume_reaches_the_same_weights(uninterrupted, tmp_path):
    from uniskel.training.checkpoint import load_checkpoint
    from uniskel.training.train import train

    # checkpoints come after steps 2, 4 (end of epoch 0) and 6; dying inside step 4
    # leaves the one after step 2 on disk, and step 3's work is lost and redone
    script = KILLED_RUN.format(tests=str(ROOT / "tests"), kill_at=4, out=str(tmp_path))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert "not killed" not in proc.stdout
    ck = load_checkpoint(tmp_path / "last.pt")
    assert (ck["epoch"], ck["step_in_epoch"], ck["global_step"]) == (0, 2, 2)
    assert not (tmp_path / "last.pt.tmp").exists()

    torch.set_num_threads(1)
    last = train(small_config(tmp_path), resume=True)
    assert_same_weights(load_checkpoint(last)["state_dict"], uninterrupted["state_dict"])


KILLED_SAVE = textwrap.dedent("""
    import os, signal
    import torch
    from uniskel.training import checkpoint

    checkpoint.save_checkpoint({{"config": {{}}, "state_dict": {{"w": torch.ones(3)}},
                                "generation": 1}}, {path!r})
    real = torch.save

    def half_then_die(obj, f, *a, **k):
        f.write(b"PK\\x03\\x04 half of a zip")  # some bytes reach the temp file
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    torch.save = half_then_die
    checkpoint.save_checkpoint({{"config": {{}}, "state_dict": {{"w": torch.zeros(3)}},
                                "generation": 2}}, {path!r})
""")


def test_kill_during_save_leaves_the_previous_checkpoint(tmp_path):
    from uniskel.training.checkpoint import load_checkpoint

    path = tmp_path / "last.pt"
    proc = subprocess.run([sys.executable, "-c", KILLED_SAVE.format(path=str(path))], cwd=ROOT,
                          env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    ck = load_checkpoint(path)  # the old file, whole
    assert ck["generation"] == 1 and torch.equal(ck["state_dict"]["w"], torch.ones(3))
    assert (tmp_path / "last.pt.tmp").exists()  # the half-written one never replaced it


def test_failed_save_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    from uniskel.training.checkpoint import load_checkpoint, save_checkpoint

    path = tmp_path / "last.pt"
    save_checkpoint({"config": {}, "state_dict": {"w": torch.ones(2)}, "generation": 1}, path)

    def disk_full(obj, f, *a, **k):
        f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(UniskelError, match="last.pt: cannot write .No space left on device"):
        save_checkpoint({"config": {}, "state_dict": {"w": torch.zeros(2)}, "generation": 2},
                        path)
    monkeypatch.undo()
    assert load_checkpoint(path)["generation"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # no .tmp left


def test_resume_from_a_corrupt_checkpoint_is_one_line(tmp_path):
    from uniskel.training.train import train

    (tmp_path / "last.pt").write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(UniskelError) as e:
        train(small_config(tmp_path), resume=True)
    msg = str(e.value)
    assert "last.pt" in msg and "not a readable" in msg and "\n" not in msg
    with pytest.raises(UniskelError, match="no checkpoint at"):
        train(small_config(tmp_path / "fresh"), resume=True)
