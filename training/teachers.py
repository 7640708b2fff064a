"""Teachers: models of the family trained on one skeleton, and coordinate-only external teachers.

- ``ModelTeacher``: a PoseNet checkpoint (e.g. the LSP teacher trained by
  ``uniskel train teacher --dataset lsp``). It gives SimCC logits for the student's own crop;
  the loss is a KL on those distributions, on the points its skeleton covers.
- ``BlazePoseCache``: MediaPipe BlazePose run once per training instance on the same
  kind of crop the engine uses, mapped to the unified skeleton, stored in an ``.npz``
  next to the run (resumable: it is written in chunks and picks up where it stopped).
  It gives coordinates and confidences; the loss builds soft SimCC targets from them.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from uniskel.engine import skeleton
from uniskel.engine.errors import UniskelError

log = logging.getLogger(__name__)


class ModelTeacher:
    """A frozen PoseNet teacher. ``covers`` is the boolean (21,) mask of points it supervises."""

    def __init__(self, path: str | Path, covers: np.ndarray, device="cpu"):
        import torch

        from uniskel.engine.model import ModelConfig, from_config
        from uniskel.training.checkpoint import load_checkpoint

        ckpt = load_checkpoint(path)
        cfg = ModelConfig.from_dict(ckpt["config"])
        self.model = from_config(cfg)
        self.model.load_state_dict(ckpt["state_dict"])
        self.model.eval().to(device)
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.cfg = cfg
        self.covers = torch.as_tensor(np.asarray(covers, bool))
        self.path = Path(path)

    def __call__(self, images):
        import torch
        with torch.no_grad():
            return self.model(images)


def teacher_covers(dataset: str) -> np.ndarray:
    """Points a teacher trained on ``dataset`` supervises: the points that dataset annotates."""
    return skeleton.MAPPINGS[dataset].mask.copy()


BLAZEPOSE_COVERS = skeleton.BLAZEPOSE.mask.copy()  # the 17 COCO points


class BlazePoseCache:
    """BlazePose predictions for a list of instances, cached in ``path`` (.npz).

    ``keypoints[i]`` is (21, 3) in image pixels [x, y, confidence]; only the 17 COCO
    points are filled (confidence 0 elsewhere). Rows not yet computed have NaN.
    """

    def __init__(self, path: str | Path, n: int):
        self.path = Path(path)
        self.keypoints = np.full((n, skeleton.NUM_KEYPOINTS, 3), np.nan, np.float32)
        if self.path.exists():
            try:
                data = np.load(self.path, allow_pickle=False)  # data only, never objects
                k = data["keypoints"]
            except Exception as exc:  # corrupt cache: say so, then start over
                log.warning("BlazePose cache %s unreadable (%s); recomputing", self.path, exc)
            else:
                if k.shape == self.keypoints.shape:
                    self.keypoints = k
                else:
                    log.warning("BlazePose cache %s has %d rows, expected %d; recomputing",
                                self.path, len(k), n)

    @property
    def done(self) -> np.ndarray:
        return ~np.isnan(self.keypoints[:, 0, 0])

    def save(self):
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, keypoints=self.keypoints)
        tmp.replace(self.path)

    def fill(self, instances, input_size=(320, 256), chunk=250, progress=True,
             model_complexity: int = 1, processes: int = 1):
        """Run BlazePose on every instance not yet cached, saving every ``chunk`` rows.

        ``model_complexity``: 1 the wheel's "full" model, 2 "heavy" (must be installed,
        see ``engine.backends.mediapipe``). ``processes`` > 1 splits the rows over that
        many worker processes (one BlazePose graph each; it uses about one core)."""
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        from tqdm import tqdm

        from uniskel.engine.backends.mediapipe import unavailable

        todo = np.flatnonzero(~self.done)
        if len(todo) == 0:
            return self
        reason = unavailable(model_complexity)
        if reason:
            raise UniskelError(f"BlazePose teacher: {reason}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        parts = [todo[i:i + chunk] for i in range(0, len(todo), chunk)]
        jobs = [([instances[i] for i in part], part) for part in parts]
        bar = tqdm(total=len(todo), desc="BlazePose teacher", disable=not progress)
        if processes <= 1:
            runner = _Runner(input_size, model_complexity)
            try:
                for insts, part in jobs:
                    self.keypoints[part] = runner.run(insts, bar.update)
                    self.save()
            finally:
                runner.close()
        else:
            ctx = multiprocessing.get_context("spawn")  # a fresh interpreter per graph
            with ProcessPoolExecutor(processes, mp_context=ctx, initializer=_init_worker,
                                     initargs=(tuple(input_size), model_complexity)) as pool:
                futures = {pool.submit(_run_in_worker, insts): part for insts, part in jobs}
                for fut in as_completed(futures):
                    part = futures[fut]
                    self.keypoints[part] = fut.result()
                    bar.update(len(part))
                    self.save()
        bar.close()
        return self


class _Runner:
    """BlazePose on one instance's crop at a time, keypoints back in image pixels."""

    def __init__(self, input_size, model_complexity):
        from uniskel.engine.backends.mediapipe import MediaPipeBackend
        self.input_size = tuple(input_size)
        self.backend = MediaPipeBackend(model_complexity=model_complexity)

    def run(self, instances, tick=None) -> np.ndarray:
        import cv2

        from uniskel.engine import crop

        out = np.zeros((len(instances), skeleton.NUM_KEYPOINTS, 3), np.float32)
        for j, inst in enumerate(instances):
            img = cv2.imread(str(inst.image))
            if img is not None:
                c, s = crop.box_to_center_scale(inst.box, self.input_size)
                m = crop.warp_matrix(c, s, self.input_size)
                patch = cv2.cvtColor(crop.crop(img, m, self.input_size), cv2.COLOR_BGR2RGB)
                k = self.backend.infer_one(patch)
                k[:, :2] = crop.apply(crop.invert(m), k[:, :2])
                out[j] = np.where(k[:, 2:] > 0, k, 0)
            if tick is not None:
                tick(1)
        return out

    def close(self):
        self.backend.close()


_worker: _Runner | None = None


def _init_worker(input_size, model_complexity):
    global _worker
    _worker = _Runner(input_size, model_complexity)


def _run_in_worker(instances):
    return _worker.run(instances)
