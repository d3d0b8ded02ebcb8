"""Training throughput benchmark: images/s per backbone, image size and batch size, each
performance policy on and off, with the train/forward time ratio and the arithmetic fraction
of the device's peak.

    .venv/bin/python benchmarks/throughput.py                      # CPU-sized defaults
    .venv/bin/python benchmarks/throughput.py --backbones resnet50 --sizes 224 \
        --batches 128 256 --steps 30                                # the GPU target shape
    .venv/bin/python benchmarks/throughput.py --layers --probe      # where CPU time goes

Variants (``--variants``): ``best`` (the policy ``choose_policy`` picks; on a CPU XLA only
where the cached probe measured it faster), ``off`` (everything off) and ``xla`` (XLA
forced on), so both XLA variants are always measured; variants that resolve to the same
policy are measured once and named together (``best=off``).

``--layers``: the per-layer figures of docs/performance.md: one 3x3 convolution on small
maps, batch 32, forward vs forward+backward, plain vs ``tf.function(jit_compile=True)``.
``--probe``: the CPU XLA probe (``kerasbench.performance.cpu_xla_probe``) for each size,
measured afresh.

``--input FOLDER``: also measure the input pipeline (``make_dataset``, every file decoded
and resized, no cache) on a class-folder tree of image files, at each size and batch, and
print it beside the training rate with which of the two bounds the step ("input" or
"compute"). Default: ``$KERASBENCH_DATA/clothing-small/train`` when present (first
``--input-limit`` files); ``--input none`` skips it.

Writes the table to results/benchmarks/throughput.{csv,md} and prints it.
"""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# (map size, channels): the shapes of the per-layer figures in docs/performance.md.
LAYER_SHAPES = ((1, 512), (2, 256), (4, 256), (8, 128), (16, 64))


def layer_table(batch: int = 32, repeats: int = 5):
    import pandas as pd

    from kerasbench.performance import conv_step_timings

    rows = []
    for size, channels in LAYER_SHAPES:
        times = conv_step_timings(size, channels, batch=batch, repeats=repeats)
        rows.append({"map": f"{size}x{size}", "channels": f"{channels}->{channels}",
                     "batch": batch, **times,
                     "train/forward plain": times["train_plain_ms"] / times["forward_plain_ms"],
                     "train/forward xla": times["train_xla_ms"] / times["forward_xla_ms"],
                     "xla train speed-up": times["train_plain_ms"] / times["train_xla_ms"]})
    return pd.DataFrame(rows)


def input_files(folder, limit: int):
    """The index frame of the input-rate files, or None (skipped, or no data)."""
    if folder == "none":
        return None
    if folder is None:
        root = Path(os.environ.get("KERASBENCH_DATA",
                                   Path(__file__).resolve().parents[2] / "shared" / "data"))
        folder = root / "clothing-small" / "train"
        if not folder.is_dir():
            print(f"input rate skipped: no {folder} (pass --input FOLDER)")
            return None
    import pandas as pd

    from kerasbench.data.index import IMAGE_EXTENSIONS

    folder = Path(folder)
    classes = sorted(path.name for path in folder.iterdir() if path.is_dir())
    rows = [(str(path), label) for label, name in enumerate(classes)
            for path in sorted((folder / name).iterdir())
            if path.suffix.lower() in IMAGE_EXTENSIONS]
    if not rows:
        raise SystemExit(f"--input {folder} holds no class folders of images")
    return pd.DataFrame(rows, columns=["path", "label"]).head(int(limit))


def main(argv=None) -> int:
    from kerasbench.reports import save_table
    from kerasbench.throughput import MODES, VARIANTS, run_benchmark

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="+", default=["resnet50"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[64])
    parser.add_argument("--batches", nargs="+", type=int, default=[8, 16])
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup-steps", type=int, default=3)
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS),
                        default=["best", "off", "xla"],
                        help="policies to measure; 'best' alone for the device's choice only")
    parser.add_argument("--layers", action="store_true",
                        help="also time single convolutions on small maps (docs/performance.md)")
    parser.add_argument("--probe", action="store_true",
                        help="also run the CPU XLA probe afresh for each size and print it")
    parser.add_argument("--input", default=None,
                        help="class-folder tree for the input rate ('none' to skip; default "
                             "clothing-small/train under $KERASBENCH_DATA when present)")
    parser.add_argument("--input-limit", type=int, default=512,
                        help="files of --input to read (the first N in sorted order)")
    parser.add_argument("--output", default="results/benchmarks/throughput")
    arguments = parser.parse_args(argv)

    if arguments.layers:
        layers = layer_table()
        print("per-layer convolution timings, milliseconds per call (best of 5):")
        print(layers.round(2).to_markdown(index=False))
    if arguments.probe:
        from kerasbench.performance import cpu_xla_probe

        for size in arguments.sizes:
            print(cpu_xla_probe(size, refresh=True)["reason"])

    table = run_benchmark(arguments.backbones, arguments.sizes, arguments.batches, arguments.modes,
                          steps=arguments.steps, warmup_steps=arguments.warmup_steps,
                          variants=arguments.variants)
    input_frame = input_files(arguments.input, arguments.input_limit)
    if input_frame is not None and "train" in arguments.modes:
        from kerasbench.throughput import with_input_rates

        table = with_input_rates(table, input_frame)
        print(f"input rate: make_dataset over {len(input_frame)} files of {arguments.input or 'clothing-small/train'}, "
              "decoded and resized every pass (no cache), best of 2 passes")
    device = table["device"].iloc[0]
    save_table(table, Path(arguments.output), note=f"device: {device}", index=False)
    shown = table.drop(columns=["device", "xla_reason"]).round(4)
    print(f"device: {device}")
    print(shown.to_markdown(index=False))
    for reason in sorted(set(table["xla_reason"])):
        print(f"XLA choice: {reason}")
    ratios = table.dropna(subset=["train_forward_ratio"])
    for _, row in ratios.iterrows():
        print(f"train/forward time ratio {row['backbone']}@{row['image_size']} batch "
              f"{row['batch_size']} [{row['variant']}]: {row['train_forward_ratio']:.2f}")
    if "bound" in table.columns:
        for _, row in table.dropna(subset=["input_images_per_second"]).iterrows():
            print(f"{row['backbone']}@{row['image_size']} batch {row['batch_size']} "
                  f"[{row['variant']}]: trains {row['images_per_second']:.1f} images/s, input "
                  f"delivers {row['input_images_per_second']:.1f}: {row['bound']}-bound")
    return 0


if __name__ == "__main__":
    sys.exit(main())
