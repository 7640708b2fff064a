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

from engine import skeleton

log = logging.getLogger(__name__)


class ModelTeacher:
    """A frozen PoseNet teacher. ``covers`` is the boolean (21,) mask of points it supervises."""

    def __init__(self, path: str | Path, covers: np.ndarray, device="cpu"):
        import torch

        from engine.model import ModelConfig, from_config
        from training.checkpoint import load_checkpoint

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
                data = np.load(self.path)
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

    def fill(self, instances, input_size=(320, 256), chunk=250, progress=True):
        """Run BlazePose on every instance not yet cached, saving every ``chunk`` rows."""
        import cv2
        from tqdm import tqdm

        from engine import crop

        todo = np.flatnonzero(~self.done)
        if len(todo) == 0:
            return self
        from engine.backends.mediapipe import MediaPipeBackend
        runner = MediaPipeBackend()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for n, i in enumerate(tqdm(todo, desc="BlazePose teacher", disable=not progress)):
            inst = instances[i]
            img = cv2.imread(str(inst.image))
            out = np.zeros((skeleton.NUM_KEYPOINTS, 3), np.float32)
            if img is not None:
                c, s = crop.box_to_center_scale(inst.box, input_size)
                m = crop.warp_matrix(c, s, input_size)
                patch = cv2.cvtColor(crop.crop(img, m, input_size), cv2.COLOR_BGR2RGB)
                k = runner.infer_one(patch)
                k[:, :2] = crop.apply(crop.invert(m), k[:, :2])
                out = np.where(k[:, 2:] > 0, k, 0).astype(np.float32)
            self.keypoints[i] = out
            if (n + 1) % chunk == 0:
                self.save()
        self.save()
        runner.close()
        return self
