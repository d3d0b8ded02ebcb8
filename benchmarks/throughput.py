"""Training throughput benchmark: images/s per backbone, image size and batch size, each
performance policy on and off, with the arithmetic fraction of the device's peak.

    .venv/bin/python benchmarks/throughput.py                      # CPU-sized defaults
    .venv/bin/python benchmarks/throughput.py --backbones resnet50 --sizes 224 \
        --batches 128 256 --steps 30                                # the GPU target shape

Writes the table to results/benchmarks/throughput.{csv,md} and prints it.
"""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kerasbench.reports import save_table  # noqa: E402
from kerasbench.throughput import MODES, VARIANTS, run_benchmark  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="+", default=["resnet50"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[64])
    parser.add_argument("--batches", nargs="+", type=int, default=[8, 16])
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup-steps", type=int, default=2)
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=["best", "off"],
                        help="policies to measure; 'best' alone for the device's choice only")
    parser.add_argument("--output", default="results/benchmarks/throughput")
    arguments = parser.parse_args(argv)

    table = run_benchmark(arguments.backbones, arguments.sizes, arguments.batches, arguments.modes,
                          steps=arguments.steps, warmup_steps=arguments.warmup_steps,
                          variants=arguments.variants)
    device = table["device"].iloc[0]
    save_table(table, Path(arguments.output), note=f"device: {device}", index=False)
    shown = table.drop(columns=["device"]).round(4)
    print(f"device: {device}")
    print(shown.to_markdown(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
