"""Make a deliberately worse copy of a Hugging Face checkpoint, for the gate demo.

    python examples/degrade_checkpoint.py SRC DST [--noise 0.05] [--seed 0]

Adds Gaussian noise, scaled to each weight matrix's own standard deviation, to every parameter:
the model still loads and runs, and answers a little worse — what a bad training step looks like.
"""
import argparse
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    parser.add_argument("--noise", type=float, default=0.05, help="noise std as a fraction of each tensor's std")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    shutil.copytree(args.src, args.dst, dirs_exist_ok=True)
    generator = torch.Generator().manual_seed(args.seed)
    for file in sorted(args.dst.glob("*.safetensors")):
        tensors = load_file(file)
        for name, t in tensors.items():
            if t.is_floating_point() and t.numel() > 1:
                noise = torch.randn(t.shape, generator=generator, dtype=torch.float32) * t.float().std()
                tensors[name] = (t.float() + args.noise * noise).to(t.dtype)
        save_file(tensors, file, metadata={"format": "pt"})
    print(f"wrote {args.dst} (noise {args.noise} x std, seed {args.seed})")


if __name__ == "__main__":
    main()
