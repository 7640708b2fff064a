"""uniskel.training.pack: the packed copy of a config's data trains on the same samples."""
import numpy as np
import pytest


@pytest.mark.timeout(300)
def test_a_packed_config_yields_the_same_training_samples_without_mediapipe(tmp_path,
                                                                          shared_data):
    """Pack 12 LSPET images and coco_mini's train part with a BlazePose cache and a model
    teacher: the packed data is smaller, needs no .tflite (the cache is complete), and
    every augmented sample has the same labels and teacher points as the original's, and
    nearly the same pixels."""
    import torch

    from uniskel.engine.models.model import config_for, from_config
    from uniskel.training.checkpoint import save_checkpoint
    from uniskel.training.pack import pack
    from uniskel.training.train import (DatasetSpec, MixedSamples, TeacherSpec, TrainConfig,
                                _blazepose_for, load_config, load_instances)

    teacher = tmp_path / "teacher.pt"
    mcfg = config_for("tiny", input_size=(128, 96))
    save_checkpoint({"config": mcfg.to_dict(), "state_dict": from_config(mcfg).state_dict(),
                     "optimizer": {}, "epoch": 3}, teacher)
    lsp, coco = shared_data / "lspet", shared_data / "coco_mini"
    specs = [DatasetSpec("lspet", "lsp", str(lsp / "images"), str(lsp / "joints.mat"), (0, 12)),
             DatasetSpec("coco_mini", "coco", str(coco / "train2017"),
                         str(coco / "annotations" / "person_keypoints_train2017.json"),
                         split="train")]
    cfg = TrainConfig(datasets=specs, input_size=(128, 96), cache_dir=str(tmp_path / "cache"),
                      teachers=[TeacherSpec("model", str(teacher)),
                                TeacherSpec("blazepose", role="coco", complexity=2,
                                            tflite=str(tmp_path / "absent.tflite"))],
                      init_from=str(teacher), out=str(tmp_path / "run"))
    (tmp_path / "cache").mkdir()
    rng = np.random.default_rng(0)
    for spec in specs:  # a complete teacher cache: ground truth moved a little
        insts = load_instances(spec, "skip")
        k = np.stack([i.keypoints for i in insts]).astype(np.float32)
        k[..., :2] += rng.normal(0, 2, k[..., :2].shape)
        k[..., 2] = np.where(k[..., 2] > 0, 0.9, 0.0)
        rng_name = "0-12" if spec.range else "all_train"
        np.savez(tmp_path / "cache" / f"blazepose_c2_{spec.name}_{rng_name}_{len(insts)}.npz",
                 keypoints=k)
    config = tmp_path / "config.toml"
    from uniskel.training.pack import to_toml
    config.write_text(to_toml(cfg))

    out = pack(str(config), str(tmp_path / "pack"))
    packed = load_config(out / "config.toml")
    assert all(str(out) in d.images for d in packed.datasets)
    assert packed.teachers[1].tflite == "" and str(out) in packed.teachers[0].path
    assert torch.load(packed.init_from, weights_only=True).get("optimizer") is None
    lsp_bytes = sum(f.stat().st_size for f in (out / "lspet" / "images").iterdir())
    orig_bytes = sum((lsp / "images" / f"im{k + 1:05d}.jpg").stat().st_size for k in range(12))
    assert len(list((out / "lspet" / "images").iterdir())) == 12
    assert lsp_bytes < 0.8 * orig_bytes

    def samples(c):
        sources = []
        for spec in c.datasets:
            insts = load_instances(spec, "skip")
            sources.append((spec, insts, _blazepose_for(spec, insts, c)))
        data = MixedSamples(sources, c.input_size, c.augment, c.loss, c.seed, c.on_error)
        data.make_plan(1, 40)
        return [data[i] for i in range(40)]

    for a, b in zip(samples(cfg), samples(packed)):
        assert torch.equal(a["mask"], b["mask"])
        m = a["mask"]
        assert (a["coords"] - b["coords"])[m].abs().max() < 1e-3
        t = (a["teacher_conf"] > 0) & (b["teacher_conf"] > 0)
        assert (a["teacher_coords"] - b["teacher_coords"])[t].abs().max() < 1e-3
        assert (a["image"] - b["image"]).abs().mean() < 12  # WebP and the cut's border


def test_to_toml_writes_tables_of_numbers_that_load_config_reads_back(tmp_path):
    """The config a pack writes keeps ``[loss] label_weights`` (an inline table, empty
    or not) and ``[lr_scale]`` keys with dots in them (quoted, not dotted keys)."""
    import dataclasses

    from uniskel.training.config import TrainConfig, load_config
    from uniskel.training.losses import LossConfig
    from uniskel.training.pack import to_toml
    for weights in ({}, {"head_top": 12.0, "upper_neck": 4.0}):
        cfg = TrainConfig(loss=dataclasses.replace(LossConfig(), label_weights=weights),
                          lr_scale={"backbone.0": 2.0, "heads": 5.0})
        path = tmp_path / "c.toml"
        path.write_text(to_toml(cfg))
        back = load_config(path)
        assert back.loss.label_weights == weights
        assert back.lr_scale == {"backbone.0": 2.0, "heads": 5.0}
