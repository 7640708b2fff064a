"""The TensorRT backend's engine cache, with a stand-in torch_tensorrt (no GPU needed).

The stand-in 'compiles' by returning the FP16 model and saves/loads it with torch, so
the cache logic -- build once, reuse, rebuild when the key (GPU, versions, shape,
checkpoint) changes or the file is corrupt -- is tested here; the real compiler runs
only where torch_tensorrt and a GPU are present (test_engine_backends).
"""
from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch

from uniskel.engine.backends import tensorrt as trt_backend


@pytest.fixture
def fake_trt(monkeypatch):
    calls = {"compile": 0, "save": 0, "load": 0}
    mod = types.ModuleType("torch_tensorrt")

    def compile(model, ir, inputs, min_block_size=1, **kw):
        assert ir == "dynamo" and inputs[0].dtype == torch.float16
        calls["compile"] += 1
        return model

    def save(module, path, arg_inputs=None, **kw):
        calls["save"] += 1
        torch.save(module, path)

    def load(path):
        calls["load"] += 1
        return torch.load(path, weights_only=False)

    mod.compile, mod.save, mod.load = compile, save, load
    dynamo = types.ModuleType("torch_tensorrt.dynamo")
    defaults = types.ModuleType("torch_tensorrt.dynamo._defaults")
    defaults.USE_EXPLICIT_TYPING = True
    mod.dynamo, dynamo._defaults = dynamo, defaults
    monkeypatch.setitem(sys.modules, "torch_tensorrt", mod)
    monkeypatch.setitem(sys.modules, "torch_tensorrt.dynamo", dynamo)
    monkeypatch.setitem(sys.modules, "torch_tensorrt.dynamo._defaults", defaults)
    gpu = {"name": "NVIDIA Test GPU"}

    def key(model_path, shape, device):
        return {"gpu": gpu["name"], "torch": torch.__version__, "torch_tensorrt": "fake 0",
                "tensorrt": "fake 0", "input_shape": list(shape), "precision": "fp16",
                "model_sha256": trt_backend.file_hash(model_path)}

    monkeypatch.setattr(trt_backend, "engine_key", key)
    return calls, gpu


def test_engine_is_built_once_cached_and_rebuilt_on_mismatch(fake_trt, tmp_path, random_checkpoint):
    calls, gpu = fake_trt
    make = lambda: trt_backend.TensorRTBackend(random_checkpoint, device="cpu", cache=tmp_path)
    first = make()
    assert calls["compile"] == 1 and first.engine_path.is_file() and first.key_path.is_file()
    crops = np.random.default_rng(0).integers(0, 256, (3, *first.input_size, 3), dtype=np.uint8)
    out = first.infer(crops)
    assert out.shape == (3, 21, 3) and out.dtype == np.float32

    again = make()  # same GPU, versions, shape, checkpoint: loaded, not compiled
    assert calls["compile"] == 1 and calls["load"] >= 1
    assert np.allclose(again.infer(crops), out, atol=1e-3)

    gpu["name"] = "NVIDIA Other GPU"  # another machine: a different key, a fresh build
    other = make()
    assert calls["compile"] == 2 and other.engine_path != first.engine_path

    other.key_path.write_text('{"gpu": "tampered"}')  # key on disk disagrees: rebuild
    make()
    assert calls["compile"] == 3

    other.engine_path.write_bytes(b"garbage")  # corrupt cache entry: rebuild, not crash
    make()
    assert calls["compile"] == 4
    assert "tensorrt" in first.description and "FP16" in first.description


def test_a_cached_engine_is_loaded_only_if_uniskel_wrote_it(fake_trt, tmp_path, random_checkpoint):
    """The engine file's SHA-256 is recorded beside it when written: an engine swapped in
    afterwards (even a loadable one) or one others could write is rebuilt, never loaded."""
    import json

    calls, _ = fake_trt
    make = lambda: trt_backend.TensorRTBackend(random_checkpoint, device="cpu", cache=tmp_path)
    first = make()
    assert "engine_sha256" in json.loads(first.key_path.read_text())
    make()
    assert (calls["compile"], calls["load"]) == (1, 1)

    import torch
    torch.save(torch.nn.Identity(), first.engine_path)  # a different, loadable file
    make()
    assert (calls["compile"], calls["load"]) == (2, 1)  # rebuilt, the swap never loaded

    first.engine_path.chmod(0o666)  # anyone could have written it since
    make()
    assert (calls["compile"], calls["load"]) == (3, 1)


def test_real_engine_key_names_gpu_versions_shape_and_model(monkeypatch, random_checkpoint):
    """The real key function (no GPU needed): what it reads from the device and the
    installed libraries, and that each of them changes the key."""
    import types

    props = types.SimpleNamespace(major=8, minor=9)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda d: props)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d: "NVIDIA GeForce RTX 4090")
    versions = {"torch-tensorrt": "2.9.0", "tensorrt-cu12": "10.13.3"}

    def version(dist):
        if dist in versions:
            return versions[dist]
        raise trt_backend.importlib.metadata.PackageNotFoundError(dist)

    monkeypatch.setattr(trt_backend.importlib.metadata, "version", version)
    key = trt_backend.engine_key(random_checkpoint, (1, 3, 256, 192), "cuda:0")
    assert key["gpu"] == "NVIDIA GeForce RTX 4090" and key["compute_capability"] == "8.9"
    assert key["torch_tensorrt"] == "torch-tensorrt 2.9.0"
    assert key["tensorrt"] == "tensorrt-cu12 10.13.3"
    assert key["input_shape"] == [1, 3, 256, 192] and key["precision"] == "fp16"
    assert key["torch"] == torch.__version__
    assert key["model_sha256"] == trt_backend.file_hash(random_checkpoint)
    digest = trt_backend.key_digest(key)
    props.minor = 6  # another card generation
    assert trt_backend.key_digest(trt_backend.engine_key(
        random_checkpoint, (1, 3, 256, 192), "cuda:0")) != digest
    props.minor = 9
    versions["tensorrt-cu12"] = "10.14.0"  # another TensorRT
    assert trt_backend.key_digest(trt_backend.engine_key(
        random_checkpoint, (1, 3, 256, 192), "cuda:0")) != digest
    versions["tensorrt-cu12"] = "10.13.3"
    assert trt_backend.key_digest(trt_backend.engine_key(
        random_checkpoint, (1, 3, 128, 96), "cuda:0")) != digest
    assert trt_backend.key_digest(trt_backend.engine_key(
        random_checkpoint, (1, 3, 256, 192), "cuda:0")) == digest
