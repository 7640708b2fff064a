"""BlazePose as a cached teacher: MediaPipe BlazePose run once per training instance on the
kind of crop the engine uses, its keypoints stored in an ``.npz`` per dataset
(``BlazePoseCache``, resumable; ``blazepose_keypoints``), several BlazePose graphs at once
in worker processes. training/teachers.py turns the keypoints into a ``CachedTeacher``;
the LSP left/right repair (training/data.py) reads them too."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from uniskel.engine import skeleton
from uniskel.engine.errors import UniskelError
from uniskel.training.config import DatasetSpec, TeacherSpec, TrainConfig

log = logging.getLogger(__name__)


def blazepose_spec(cfg: TrainConfig) -> TeacherSpec:
    """The config's (first) BlazePose teacher, or the default one (for LSP repair)."""
    return next((t for t in cfg.teachers if t.kind == "blazepose"), TeacherSpec("blazepose"))


def blazepose_cache_path(spec: DatasetSpec, n: int, cfg: TrainConfig,
                         teacher: TeacherSpec | None = None) -> Path:
    """Where the BlazePose teacher's keypoints for ``n`` instances of ``spec`` are cached."""
    rng = "all" if spec.range is None else f"{spec.range[0]}-{spec.range[1]}"
    if spec.split is not None:
        rng += f"_{spec.split}"
    c = (teacher or blazepose_spec(cfg)).complexity
    model = "" if c == 1 else f"_c{c}"  # "full" keeps its old name
    return Path(cfg.cache_dir) / f"blazepose{model}_{spec.name}_{rng}_{n}.npz"


def blazepose_keypoints(spec: DatasetSpec, insts, cfg: TrainConfig,
                        teacher: TeacherSpec | None = None) -> np.ndarray:
    """BlazePose's (n, 21, 3) keypoints for a dataset's instances (cached in cache_dir)."""
    import os
    bp = teacher or blazepose_spec(cfg)
    cache = BlazePoseCache(blazepose_cache_path(spec, len(insts), cfg, bp), len(insts))
    if cache.done.all():  # a complete cache needs no mediapipe (e.g. on a remote GPU)
        return cache.keypoints
    if bp.tflite:
        from uniskel.engine.backends.mediapipe import install_landmark_model
        install_landmark_model(bp.tflite, bp.complexity)
    processes = max(1, min(os.cpu_count() or 1, 4))
    return cache.fill(insts, model_complexity=bp.complexity, processes=processes).keypoints


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

        from uniskel.engine.runtime import crop

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
