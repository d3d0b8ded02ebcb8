"""XLA check per registry backbone: does it compile, are the outputs the same, is it faster?

    .venv/bin/python benchmarks/xla_check.py                       # every backbone, min size
    .venv/bin/python benchmarks/xla_check.py --backbones resnet50 --size 224 --batch 64

The rows feed ``kerasbench.performance.XLA_KNOWN_FAILURES``. Writes
results/benchmarks/xla_check.{csv,md} and prints the table.
"""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

from kerasbench.backbones import list_backbones  # noqa: E402
from kerasbench.performance import device_description  # noqa: E402
from kerasbench.reports import save_table  # noqa: E402
from kerasbench.throughput import check_xla  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="+", default=list_backbones())
    parser.add_argument("--size", type=int, default=None, help="default: each minimum size")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--output", default="results/benchmarks/xla_check")
    arguments = parser.parse_args(argv)

    device = device_description()
    rows = []
    for backbone in arguments.backbones:
        rows.append(check_xla(backbone, arguments.size, batch_size=arguments.batch,
                              steps=arguments.steps))
        print(", ".join(f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}"
                        for key, value in rows[-1].items()), flush=True)
    table = pd.DataFrame(rows)
    note = f"device: {device['kind']}: {device['name']}"
    save_table(table, Path(arguments.output), note=note, index=False)
    print(note)
    print(table.to_markdown(index=False, floatfmt=".4g"))
    return 0 if table["compiles"].all() else 1


if __name__ == "__main__":
    sys.exit(main())
