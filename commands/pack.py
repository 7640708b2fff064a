"""``uniskel pack``: a training config's data packed into one small, self-contained folder
(for a remote GPU machine with a limited upload; what goes in: uniskel.training.pack)."""
from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="training config (TOML)")
    p.add_argument("--out", required=True, help="folder to write the pack into")
    p.add_argument("--margin", type=float, default=1.8,
                   help="window side / the labelled joints' extent (LSP images; default 1.8)")
    p.add_argument("--quality", type=int, default=80, help="WebP quality (LSP images; default 80)")


def run(args) -> int:
    from uniskel.training.pack import pack

    out = pack(args.config, args.out, args.margin, args.quality)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"packed {args.config} into {out}: {size / 2**20:.1f} MiB")
    return 0
