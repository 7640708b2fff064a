"""``tensorrt``: the student checkpoint compiled by Torch-TensorRT to an FP16 engine.

Works with either ``torch-tensorrt`` (TensorRT) or ``torch-tensorrt-rtx`` (TensorRT for
RTX); both import as ``torch_tensorrt``. Compiling takes tens of seconds, so the result
is cached on disk (``$UNISKEL_CACHE`` or ``~/.cache/uniskel/tensorrt``) under a key made
of everything that makes an engine invalid elsewhere: the GPU name and compute
capability, the torch / torch_tensorrt / TensorRT versions, the input shape and the
checkpoint's content hash. Beside each engine, its key and the engine file's SHA-256 as
written; an entry whose key or checksum differs, that another user owns or could have
written, or that fails to load, is rebuilt, never loaded.

The engine has a fixed (1, 3, H, W) input (static shapes build fastest and run fastest
for the common one-person case); a batch of several crops runs crop by crop.

Written against the documented Torch-TensorRT dynamo API
(``torch_tensorrt.compile(..., ir="dynamo")``, ``torch_tensorrt.save`` /
``torch_tensorrt.load``); newer releases are strongly typed by default (the FP16 model
makes an FP16 engine), older ones are told ``enabled_precisions={torch.half}``.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
from pathlib import Path

import numpy as np

from uniskel.engine import assets
from uniskel.engine import modelfile
from uniskel.engine.backends.base import StudentBackend
from uniskel.engine.errors import UniskelError

NAME = "tensorrt"
LABEL = "TensorRT (GPU)"  # in the window's backend menu
MODEL_SUFFIX = ".pt"  # the model file it runs (None: its own, bundled)
AUTO_RANK = 0  # place in --backend auto's order (None: never chosen by auto)
log = logging.getLogger(__name__)


def unavailable() -> str | None:
    from uniskel.engine.backends.cuda import cuda_problem

    if importlib.util.find_spec("torch") is None:
        return "tensorrt: PyTorch not installed (pip install 'uniskel[tensorrt]')"
    if importlib.util.find_spec("torch_tensorrt") is None:
        return "tensorrt: torch_tensorrt not installed (pip install 'uniskel[tensorrt]')"
    return cuda_problem(NAME)


def cache_dir() -> Path:
    env = os.environ.get("UNISKEL_CACHE")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "uniskel"
    return base / "tensorrt"


def _version(*dists: str) -> str:
    for d in dists:
        try:
            return f"{d} {importlib.metadata.version(d)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return "none"


def file_hash(path: Path) -> str:
    return assets.sha256(path)[:16]


def _untrusted(path: Path) -> str | None:
    """Why a cache file must not be loaded (POSIX: owned by someone else, or writable by
    group or others), else None."""
    if os.name != "posix":
        return None
    st = path.stat()
    if st.st_uid != os.getuid():
        return f"{path.name} belongs to another user"
    if st.st_mode & 0o022:
        return f"{path.name} is writable by other users"
    return None


def engine_key(model_path: Path, input_shape: tuple[int, ...], device) -> dict:
    """Everything that makes a built engine invalid when it changes."""
    import torch

    props = torch.cuda.get_device_properties(device)
    return {
        "gpu": torch.cuda.get_device_name(device),
        "compute_capability": f"{props.major}.{props.minor}",
        "torch": torch.__version__,
        "torch_tensorrt": _version("torch-tensorrt", "torch_tensorrt", "torch-tensorrt-rtx"),
        "tensorrt": _version("tensorrt", "tensorrt-cu12", "tensorrt-cu13", "tensorrt-rtx",
                             "tensorrt_rtx"),
        "input_shape": list(input_shape),
        "precision": "fp16",
        "model_sha256": file_hash(model_path),
    }


def key_digest(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]


class TensorRTBackend(StudentBackend):
    name = NAME

    def __init__(self, model_path=None, device: str = "cuda", cache: Path | None = None,
                 rebuild: bool = False):
        import torch

        try:
            import torch_tensorrt
        except Exception as exc:  # installed but broken (CUDA/TensorRT library mismatch)
            raise UniskelError(f"tensorrt: torch_tensorrt fails to import ({exc})") from None
        self._trt = torch_tensorrt
        self.path = modelfile.resolve(model_path, assets.default_model())
        model, cfg, self.meta = modelfile.load_checkpoint(self.path)  # validates the file
        self.cfg = cfg
        self.configure(cfg)
        self.device = torch.device(device)
        self.shape = (1, 3, *self.input_size)
        key = engine_key(self.path, self.shape, self.device)
        folder = Path(cache) if cache else cache_dir()
        stem = f"{self.path.stem}-{key_digest(key)}"
        self.engine_path = folder / f"{stem}.ep"
        self.key_path = folder / f"{stem}.json"
        self.module = None if rebuild else self._load_cached(key)
        if self.module is None:
            self.module = self._build(model, key)
        self.description = (f"tensorrt ({key['torch_tensorrt']}, FP16, {key['gpu']}, "
                            f"{self.path.name})")

    # ---- cache ----
    def _load_cached(self, key: dict):
        """The cached engine, if this process can trust it: the key beside it matches, the
        engine file's SHA-256 is the one recorded when uniskel wrote it, and neither file
        is writable by other users. Anything else is rebuilt, never loaded."""
        if not (self.engine_path.is_file() and self.key_path.is_file()):
            return None
        try:
            problem = _untrusted(self.engine_path) or _untrusted(self.key_path)
            if problem:
                log.warning("tensorrt: not loading cached engine %s (%s); rebuilding",
                            self.engine_path, problem)
                return None
            stored = json.loads(self.key_path.read_text())
            recorded = stored.pop("engine_sha256", None) if isinstance(stored, dict) else None
            if stored != key:
                log.info("tensorrt: cached engine %s was built elsewhere; rebuilding",
                         self.engine_path)
                return None
            if recorded is None or assets.sha256(self.engine_path) != recorded:
                log.warning("tensorrt: cached engine %s does not match the checksum uniskel "
                            "recorded; rebuilding", self.engine_path)
                return None
            loader = getattr(self._trt, "load", None)
            if loader is not None:
                loaded = loader(str(self.engine_path))
            else:
                import torch

                loaded = torch.export.load(str(self.engine_path))
            module = loaded.module() if hasattr(loaded, "module") else loaded
            self._run_module(module, self._example())  # prove it runs here
            log.info("tensorrt: loaded cached engine %s", self.engine_path)
            return module
        except Exception as exc:  # stale or corrupt cache entry: rebuild
            log.warning("tensorrt: cached engine %s unusable (%s); rebuilding",
                        self.engine_path, str(exc).splitlines()[0] if str(exc) else exc)
            return None

    def _example(self):
        import torch

        return torch.zeros(self.shape, dtype=torch.float16, device=self.device)

    def _build(self, model, key: dict):
        import torch

        try:
            from torch_tensorrt.dynamo import _defaults
        except ImportError:  # layout of older releases
            _defaults = None

        log.info("tensorrt: compiling %s for %s (takes a while, once)", self.path.name, key["gpu"])
        model = model.to(self.device).half().eval()
        example = self._example()
        options = dict(ir="dynamo", inputs=[example], min_block_size=1)
        if not getattr(_defaults, "USE_EXPLICIT_TYPING", False):
            options["enabled_precisions"] = {torch.half}  # weakly typed releases
        try:
            with torch.no_grad():
                module = self._trt.compile(model, **options)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UniskelError(f"tensorrt: compiling {self.path.name} failed ({first[:160]})") from None
        self._save(module, example, key)
        return module

    def _save(self, module, example, key: dict) -> None:
        folder = self.engine_path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = self.engine_path.with_suffix(".ep.tmp")
            try:
                self._trt.save(module, str(tmp), arg_inputs=[example])
            except TypeError:  # releases before arg_inputs
                self._trt.save(module, str(tmp), inputs=[example])
            os.replace(tmp, self.engine_path)
            record = {**key, "engine_sha256": assets.sha256(self.engine_path)}
            self.key_path.write_text(json.dumps(record, indent=1, sort_keys=True))
            log.info("tensorrt: engine cached at %s", self.engine_path)
        except Exception as exc:  # caching is an optimisation; running still works
            log.warning("tensorrt: could not cache the engine in %s (%s)", folder, exc)

    # ---- inference ----
    @staticmethod
    def _run_module(module, x):
        """(n, 3, H, W) half on the GPU -> the network's outputs as float32 numpy, crop
        by crop (the engine is built for batch 1), with one copy back to the host."""
        import torch

        with torch.no_grad():
            outs = [module(x[i:i + 1]) for i in range(x.shape[0])]
            outs = [o if isinstance(o, (tuple, list)) else (o,) for o in outs]
            return tuple(torch.cat([o[j] for o in outs]).float().cpu().numpy()
                         for j in range(len(outs[0])))

    def forward(self, crops: np.ndarray):
        import torch

        batch = torch.from_numpy(crops).to(self.device).permute(0, 3, 1, 2).half().contiguous()
        return self._run_module(self.module, batch)

    def close(self):
        self.module = None


def load(model_path=None, **options) -> TensorRTBackend:
    return TensorRTBackend(model_path, **{k: v for k, v in options.items()
                                          if k in ("device", "cache", "rebuild")})
