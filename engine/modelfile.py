"""Model files, read and written in one place, with one specific line for every way they
go wrong. Model files are data: nothing in one can make uniskel run code.

* ``.pt`` (a checkpoint, written by training and ``uniskel export``)::

      {"config": ModelConfig.to_dict(), "state_dict": ..., "meta": {...}}

  read only with ``torch.load(weights_only=True)`` (``safe_torch_load``), written
  atomically (``write_checkpoint``: temp file, fsync, rename).
* ``.onnx``: read as data with the ``onnx`` package and checked before ONNX Runtime
  sees it (``read_graph``, ``inspect_onnx``); written by ``engine.models.export_onnx``.
* both: ``resolve`` finds the file (the bundled default is checked against
  ``assets/models/SHA256SUMS``).
"""
from __future__ import annotations

import json
import os
import pickle
import re
import zipfile
from pathlib import Path

from uniskel.engine import assets, skeleton
from uniskel.engine.errors import UniskelError, first_line

#: the interface of a uniskel ONNX model: its input, and its outputs by the kind of
#: network (``ModelConfig.output``: SimCC logits, or keypoints decoded in the network)
ONNX_INPUT = "image"
ONNX_OUTPUTS = {"simcc": ("simcc_x", "simcc_y"), "keypoints": ("keypoints",)}


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(assets.root()))
    except ValueError:
        return str(path)


def resolve(model_path, default: Path) -> Path:
    """The model file to open: ``model_path``, or the bundled ``default``; it must exist."""
    if model_path is None:
        path = Path(default)
        if not path.is_file():
            raise UniskelError(
                f"no model bundled at {_relative(path)}; train one with `uniskel train` "
                f"or pass --model")
        problem = assets.bundled_problem(path)
        if problem:
            raise UniskelError(f"bundled model {_relative(path)}: {problem}")
        return path
    path = Path(model_path).expanduser()
    if not path.exists():
        raise UniskelError(f"model file not found: {path}")
    if path.is_dir():
        raise UniskelError(f"model path is a folder, not a file: {path}")
    if path.stat().st_size == 0:
        raise UniskelError(f"model file is empty: {path}")
    return path


def check_keypoints(path: Path, num_keypoints: int, names=None) -> None:
    if num_keypoints != skeleton.NUM_KEYPOINTS:
        raise UniskelError(
            f"{path}: model predicts {num_keypoints} keypoints; uniskel needs the "
            f"{skeleton.NUM_KEYPOINTS}-keypoint unified skeleton")
    if names is not None and tuple(names) != skeleton.KEYPOINTS:
        raise UniskelError(f"{path}: model's keypoint order differs from engine.skeleton.KEYPOINTS")


def _derivable(v):
    """A model config's ``derived``: names of points the skeleton derives."""
    from uniskel.engine.skeleton import DERIVED_RULES

    if isinstance(v, (list, tuple)) and all(isinstance(x, str) and x in DERIVED_RULES
                                            for x in v):
        return None
    return f"must be a list of derived point names ({', '.join(DERIVED_RULES)})"


#: the keypoint confidence powers a model file may hold (``ModelConfig.point_power``)
POINT_POWER = (0.25, 4.0)


def _model_rules() -> dict:
    """The values a model file's config (a checkpoint's ``config``, an ONNX file's
    ``uniskel_config``) may hold, by key; keys a file lacks are not checked."""
    from uniskel.engine import values as V

    return {
        "arch": V.text(),
        "input_size": V.pair(V.whole(16, 4096), "whole numbers from 16 to 4096 "
                                                "(height, width)"),
        "num_keypoints": V.whole(1),
        "split_ratio": V.number(above=0, hi=64),
        "decode_window": V.whole(0),
        "person_score": V.number(0, 1),
        "point_power": V.number(POINT_POWER[0], POINT_POWER[1]),
        "derived": _derivable,
        "peak_band": V.whole(0),
        "hidden": V.whole(0),
        "output": V.one_of(*ONNX_OUTPUTS),
    }


def check_model_config(path, cfg: dict, what: str = "config") -> None:
    """One line naming the key when a model file's config holds a value that cannot be
    right (``person_score = 7: must be a number from 0 to 1``)."""
    from uniskel.engine import values

    values.check(_model_rules(), cfg, f"{path}: model {what} ")


#: a model's outputs on the load-time probe must be finite; NaN or inf there means
#: broken weights (a diverged training run, a bad conversion), and every frame would
#: silently find nobody
def check_finite(path, outputs, where: str = "a test batch of 2 crops") -> None:
    import numpy as np

    for out in outputs:
        out = np.asarray(out)
        if not np.isfinite(out).all():
            kind = "NaN" if np.isnan(out).any() else "infinite values"
            raise UniskelError(f"{path}: model outputs {kind} on {where} (broken weights? "
                               f"a diverged training run or a bad conversion)")


def probe_batch(input_size) -> "np.ndarray":
    """The load-time probe: 2 crops (float32 NCHW, 0..255), one black, one a smooth
    pattern, so a batch fixed at 1 and a model that outputs NaN both show at load."""
    import numpy as np

    h, w = (int(v) for v in input_size)
    x = np.zeros((2, 3, h, w), np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    for c in range(3):
        x[1, c] = 127.5 + 100 * np.sin((xx * (c + 1) + yy) / 9.0)
    return x


def probe_torch(path, model, cfg) -> None:
    """Run ``model`` (on the CPU, in eval mode) on ``probe_batch``: it must take a batch
    of 2 and give finite outputs."""
    import torch

    with torch.inference_mode():
        try:
            out = model(torch.from_numpy(probe_batch(cfg.input_size)))
        except Exception as exc:  # a config that builds a network that cannot run
            raise UniskelError(f"{path}: model fails on a batch of 2 crops "
                               f"({first_line(exc)})") from None
    out = out if isinstance(out, tuple) else (out,)
    check_finite(path, [t.float().numpy() for t in out])


def _numpy_array_globals() -> list:
    """The only non-plain types a uniskel ``.pt`` may hold besides tensors: numpy arrays and
    scalars of numeric dtypes, which checkpoints from earlier uniskel versions carry (the
    numpy RNG state, metrics in ``meta``). They are allowed by name, for this load only;
    the restricted unpickler still refuses anything inside them that is not plain."""
    import numpy as np

    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray
    found = [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        found += [getattr(dtypes, n) for n in dir(dtypes)
                  if n.endswith("DType") and n != "ObjectDType"]
    return found


def refusal(path, exc: Exception, name: str | None = None) -> str:
    """The one line for a file that holds more than tensors and plain values."""
    found = re.search(r"GLOBAL ([\w.]+)", str(exc)) or re.search(r"global ([\w.]+)", str(exc))
    what = f" ({found.group(1)})" if found else (f" ({name})" if name else "")
    return (f"{path}: refused: it holds Python objects{what}, not only tensors and plain "
            f"values, and loading it could run code; uniskel never does. Re-export the "
            f"model from a trusted copy (uniskel export --checkpoint TRUSTED.pt --weights NEW.pt)")


def safe_torch_load(path: Path):
    """``torch.load`` with ``weights_only=True`` and nothing else: tensors, containers and
    plain values (plus numpy arrays, by name). Raises UniskelError naming the file."""
    from uniskel.engine import extras

    extras.require("torch", f"{path}: a .pt model")
    import torch

    if not _looks_like_torch(path):
        raise UniskelError(f"{path}: not a readable PyTorch checkpoint (not a PyTorch file: "
                           f"neither the zip archive torch.save writes nor a pickle; "
                           f"corrupt, or another kind of file)")
    try:
        with torch.serialization.safe_globals(_numpy_array_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc).lower()
        if "unsupported operand" in text:  # an opcode torch's unpickler does not take:
            names = _pickle_globals(path)  # a pickle that names code, or no pickle at all
            if names:
                raise UniskelError(refusal(path, exc, names[0])) from None
            raise UniskelError(_unreadable(path, exc, "not a PyTorch file, or corrupt?")) \
                from None
        if "weights_only" in text or "weights only" in text or "unsupported global" in text:
            raise UniskelError(refusal(path, exc)) from None
        raise UniskelError(_unreadable(path, exc)) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, AttributeError,
            ImportError, IndexError, KeyError, TypeError) as exc:
        raise UniskelError(_unreadable(path, exc)) from None


def _pickle_globals(path: Path) -> list[str] | None:
    """The globals (code) the file's first pickle names, read as opcodes only (nothing is
    unpickled); None if the bytes are not a pickle at all."""
    import pickletools

    names, strings = [], []
    try:
        with open(path, "rb") as f:
            for op, arg, _ in pickletools.genops(f):
                if op.name in ("GLOBAL", "INST"):
                    names.append(str(arg).replace(" ", "."))
                elif op.name == "STACK_GLOBAL":
                    names.append(".".join(strings[-2:]) or "a global")
                elif isinstance(arg, str):
                    strings.append(arg)
    except Exception:  # noqa: BLE001 - any parse failure: not a pickle
        return None
    return names


def _looks_like_torch(path: Path) -> bool:
    """Whether the file starts as something torch.save writes: a zip archive (PyTorch
    1.6 and later; a truncated one still starts so), or a pickle (the legacy format, and
    a bare pickle, which the restricted unpickler then judges)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return True  # let torch.load say what is wrong with reading it
    return head.startswith(b"PK\x03\x04") or (len(head) >= 2 and head[0] == 0x80
                                              and 2 <= head[1] <= 5)


def _unreadable(path, exc, what: str = "truncated or corrupt?") -> str:
    return (f"{path}: not a readable PyTorch checkpoint ({what} "
            f"{first_line(exc, 120)})")


def read_checkpoint(path: Path) -> dict:
    """A uniskel checkpoint, read safely onto the CPU; UniskelError if it is not one."""
    ckpt = safe_torch_load(path)
    if not isinstance(ckpt, dict) or "config" not in ckpt or "state_dict" not in ckpt:
        kind = type(ckpt).__name__
        keys = ", ".join(map(str, list(ckpt)[:4])) if isinstance(ckpt, dict) else ""
        raise UniskelError(
            f"{path}: not a uniskel checkpoint (expected keys 'config' and 'state_dict', "
            f"found {kind}{' with ' + keys if keys else ''})")
    return ckpt


def load_checkpoint(path: Path):
    """-> (PoseNet in eval mode on the CPU, ModelConfig, meta dict). The config's values
    are checked (``check_model_config``) and the network is run once on two crops: a
    model that fails on a batch or outputs NaN is refused here, in one line."""
    from uniskel.engine.models.model import ModelConfig, from_config

    ckpt = read_checkpoint(path)
    if isinstance(ckpt["config"], dict):
        check_model_config(path, ckpt["config"])
    try:
        cfg = ModelConfig.from_dict(ckpt["config"])
    except (TypeError, ValueError, AttributeError) as exc:
        raise UniskelError(f"{path}: unreadable model config ({exc})") from None
    check_keypoints(path, cfg.num_keypoints, cfg.keypoints)
    if cfg.quality:
        from uniskel.engine.models.quality import check_coefficients
        try:
            check_coefficients(cfg.quality, f"{path}: model config")
        except ValueError as e:
            raise UniskelError(str(e)) from None
    try:
        model = from_config(cfg)
    except Exception as exc:  # a config that builds no model
        raise UniskelError(f"{path}: config does not build a model ({exc})") from None
    state = ckpt["state_dict"]
    if not isinstance(state, dict):
        raise UniskelError(f"{path}: 'state_dict' is a {type(state).__name__}, not a dict")
    import torch

    def shape(v):  # a value that is not a tensor never matches
        return tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__

    ours = model.state_dict()
    missing = [k for k in ours if k not in state]
    unexpected = [k for k in state if k not in ours]
    wrong = [k for k in ours if k in state and shape(state[k]) != tuple(ours[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if wrong:
            parts.append(f"shape mismatch in {len(wrong)} (e.g. {wrong[0]}: "
                         f"{shape(state[wrong[0]])} vs {tuple(ours[wrong[0]].shape)})")
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        raise UniskelError(
            f"{path}: weights do not match its '{cfg.arch}' config: {'; '.join(parts)}")
    model.load_state_dict(state)
    model.eval()
    probe_torch(path, model, cfg)  # a batch of 2, finite outputs
    return model, cfg, ckpt.get("meta", {}) or {}


def write_checkpoint(state: dict, path) -> Path:
    """Write ``state`` (tensors and plain values only) to ``path`` so that a kill at any
    moment leaves the old file intact: a temporary file, fsync, then rename."""
    import torch

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:  # a full disk, a folder in the way, Ctrl+C: no .tmp left
        try:
            tmp.unlink()
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise UniskelError(f"{path}: cannot write ({exc.strerror or exc})") from None
        raise
    return path


def _dims(value_info) -> list:
    """A graph input's or output's shape: ints where fixed, names (or None) where not."""
    dims = value_info.type.tensor_type.shape.dim
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in dims]


def read_graph(path: Path):
    """An ONNX file read as data (protobuf), checked: a valid graph (``onnx.checker``)
    and self-contained (no external data files, which could point anywhere on disk).
    Returns the ModelProto; UniskelError naming the file otherwise."""
    try:
        import onnx
    except ImportError:
        raise UniskelError("onnx: checking a model file needs the onnx package "
                           "(pip install onnx)") from None
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise UniskelError(f"{path}: not a loadable ONNX model ({first_line(exc)})") from None
    external = [t.name for t in proto.graph.initializer
                if t.data_location == onnx.TensorProto.EXTERNAL]
    if external:
        raise UniskelError(f"{path}: refused: its weights live in external files ({external[0]}, "
                           f"...); uniskel loads self-contained models only")
    try:
        onnx.checker.check_model(proto)
    except Exception as exc:
        raise UniskelError(f"{path}: not a valid ONNX graph ({first_line(exc)})") from None
    return proto


def inspect_onnx(path: Path) -> dict:
    """Read an ONNX file as data and check it before any session is built (``read_graph``),
    then its interface: input ``image`` (N, 3, H, W), outputs ``simcc_x`` / ``simcc_y``
    (N, 21, bins) or ``keypoints`` (N, 21, 3), and a readable ``uniskel_config``.
    Returns that config, with ``input_size``, ``output`` and ``split_ratio`` taken from
    the graph where it has none."""
    proto = read_graph(path)
    graph = proto.graph
    init = {t.name for t in graph.initializer}
    ins = [i for i in graph.input if i.name not in init]
    outs = list(graph.output)
    kind = next((k for k, names in ONNX_OUTPUTS.items()
                 if tuple(o.name for o in outs[:len(names)]) == names), None)
    if [i.name for i in ins] != [ONNX_INPUT] or kind is None:
        raise UniskelError(
            f"{path}: not a uniskel pose model (expected input 'image' and outputs "
            f"'simcc_x', 'simcc_y' or 'keypoints'; found inputs {[i.name for i in ins]}, "
            f"outputs {[o.name for o in outs]})")
    outs = outs[:len(ONNX_OUTPUTS[kind])]
    meta = {p.key: p.value for p in proto.metadata_props}
    cfg = {}
    if meta.get("uniskel_config"):
        try:
            cfg = json.loads(meta["uniskel_config"])
        except ValueError:
            raise UniskelError(f"{path}: metadata 'uniskel_config' is not valid JSON") from None
        if not isinstance(cfg, dict):
            raise UniskelError(f"{path}: metadata 'uniskel_config' is not a JSON object")
        check_model_config(path, cfg, "uniskel_config")
    shape = _dims(ins[0])
    if len(shape) != 4 or shape[1] != 3:
        raise UniskelError(f"{path}: input 'image' has shape {shape}; uniskel feeds "
                           f"(N, 3, H, W) RGB crops")
    want = cfg.get("input_size")
    have = shape[2:]
    if want is not None and all(isinstance(d, int) for d in have) and list(have) != list(want):
        raise UniskelError(f"{path}: input 'image' is {have[0]}x{have[1]} but its "
                           f"uniskel_config says {want[0]}x{want[1]}")
    if want is None and not all(isinstance(d, int) for d in have):
        raise UniskelError(f"{path}: input size is not fixed and no uniskel_config says it")
    if cfg.get("output", kind) != kind:  # a config that does not say: the graph's
        raise UniskelError(f"{path}: its uniskel_config says output {cfg['output']!r} but "
                           f"the graph outputs {[o.name for o in outs]}")
    cfg["output"] = kind
    out_dims = [_dims(o) for o in outs]
    for o, d in zip(outs, out_dims):
        if len(d) != 3 or (kind == "keypoints" and isinstance(d[2], int) and d[2] != 3):
            raise UniskelError(f"{path}: output '{o.name}' has shape {d}; expected "
                               + ("(N, keypoints, 3)" if kind == "keypoints"
                                  else "(N, keypoints, bins)"))
        if isinstance(d[1], int):
            check_keypoints(path, d[1])
    cfg.setdefault("input_size", list(have))
    if kind == "keypoints":
        return cfg
    bx = out_dims[0][2]
    if not cfg.get("split_ratio") and isinstance(bx, int):
        cfg["split_ratio"] = bx / cfg["input_size"][1]
    return cfg
