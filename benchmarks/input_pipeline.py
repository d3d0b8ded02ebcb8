"""Input pipeline benchmark: make_dataset against Keras's own loaders, same files, one process.

    .venv/bin/python benchmarks/input_pipeline.py                 # clothing-small train, 224 px
    .venv/bin/python benchmarks/input_pipeline.py --tiny          # synthetic files, seconds

Loaders, each with and without ImageDataGenerator-style augmentation (rotation 15 degrees,
shifts 0.1, zoom 0.1, horizontal flips):

- ``make_dataset``: kerasbench's pipeline as the engine trains with it: native decoding,
  antialiased bilinear resize, ``cache="memory"`` (decoded, resized images kept after the
  first pass, which the warm-up pass is), augmentation by
  :class:`kerasbench.pipeline.Augmentation` in a parallel map after the cache;
- ``make_dataset_uncached``: the same with ``cache=None``: every pass decodes and resizes
  every file again (what a first epoch, or a feature-extraction pass, costs);
- ``image_dataset_from_directory``: ``keras.utils.image_dataset_from_directory`` (bilinear
  resize without antialiasing); augmentation by Keras's stock layers RandomRotation,
  RandomTranslation, RandomZoom and RandomFlip in a parallel ``Dataset.map``, as the
  Keras guide does;
- ``flow_from_directory``: ``ImageDataGenerator.flow_from_directory`` (PIL, bilinear,
  scipy transforms), iterated in this thread. Keras 3 removed it from
  ``keras.preprocessing.image``; TensorFlow's ``tf.keras.preprocessing.image`` still has
  the legacy copy, used here. Absent, the row is skipped with the reason.

Protocol: one warm-up pass of every loader (tracing, page cache, and ``make_dataset``'s
memory cache: the rounds measure the epochs after the first), then two rounds in
alternating order (A B C, then C B A); each measurement is one full pass over the files,
batch 32, unshuffled. Printed: images/s per round, the best of the two, and
``make_dataset``'s best divided by the faster peer's best. CPU load averages are printed
because other processes share the cores.

Data: ``$KERASBENCH_DATA/clothing-small/train`` (default ``../shared/data``); ``--tiny``
writes 2 classes x 6 JPEGs of 40x30 px to a temporary folder instead (used by the tests).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

IDG_AUGMENTATION = {"rotation_range": 15, "width_shift_range": 0.1, "height_shift_range": 0.1,
                    "zoom_range": 0.1, "horizontal_flip": True, "fill_mode": "nearest"}
OURS = ("make_dataset", "make_dataset_uncached")
LOADERS = (*OURS, "image_dataset_from_directory", "flow_from_directory")
MODES = ("plain", "augmented")


def data_root() -> Path:
    return Path(os.environ.get("KERASBENCH_DATA", REPO.parent / "shared" / "data"))


def tiny_folder(folder: Path, per_class: int = 6) -> Path:
    import numpy as np
    from PIL import Image

    generator = np.random.default_rng(0)
    for label in range(2):
        (folder / f"class{label}").mkdir(parents=True, exist_ok=True)
        for number in range(per_class):
            pixels = generator.integers(0, 256, (30, 40, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"class{label}" / f"{number}.jpg", quality=90)
    return folder


def frame_of(folder: Path, limit: int | None):
    """(frame, class names) in Keras's order: classes sorted, files sorted per class."""
    import pandas as pd

    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    rows = [(str(path), label) for label, name in enumerate(classes)
            for path in sorted((folder / name).iterdir()) if path.is_file()]
    frame = pd.DataFrame(rows, columns=["path", "label"])
    return (frame if limit is None else frame.iloc[:limit]), classes


def keras_augmentation():
    import keras

    return keras.Sequential([
        keras.layers.RandomRotation(15 / 360, fill_mode="nearest"),
        keras.layers.RandomTranslation(0.1, 0.1, fill_mode="nearest"),
        keras.layers.RandomZoom((-0.1, 0.1), (-0.1, 0.1), fill_mode="nearest"),
        keras.layers.RandomFlip("horizontal"),
    ])


def build_loaders(folder: Path, frame, size: int, batch: int, augmented: bool) -> dict:
    """name -> (callable returning one fresh pass over the data, or None, reason)."""
    import keras
    import tensorflow as tf

    from kerasbench.pipeline import Augmentation, make_dataset

    loaders = {}
    augmentation = Augmentation(**IDG_AUGMENTATION, seed=1) if augmented else None
    for name, cache in (("make_dataset", "memory"), ("make_dataset_uncached", None)):
        ours = make_dataset(frame, image_size=size, batch_size=batch,
                            augmentation=augmentation, cache=cache)
        loaders[name] = ((lambda dataset=ours: dataset), "")

    with _quiet():
        theirs = keras.utils.image_dataset_from_directory(
            folder, image_size=(size, size), batch_size=batch, shuffle=False,
            interpolation="bilinear", verbose=False)
    if augmented:
        layers = keras_augmentation()
        theirs = theirs.map(lambda x, y: (layers(x, training=True), y),
                            num_parallel_calls=tf.data.AUTOTUNE)
    theirs = theirs.prefetch(tf.data.AUTOTUNE)
    loaders["image_dataset_from_directory"] = (lambda: theirs, "")

    generator_class = getattr(getattr(getattr(tf.keras, "preprocessing", None), "image", None),
                              "ImageDataGenerator", None)
    if generator_class is None:
        loaders["flow_from_directory"] = (None, "ImageDataGenerator is not in this TensorFlow")
    else:
        generator = generator_class(**(IDG_AUGMENTATION if augmented else {}))

        def flow():
            with _quiet():
                iterator = generator.flow_from_directory(
                    folder, target_size=(size, size), batch_size=batch, shuffle=False,
                    class_mode="sparse", interpolation="bilinear")
            return (iterator[i] for i in range(len(iterator)))
        loaders["flow_from_directory"] = (flow, "")
    return loaders


class _quiet:
    """Silence the loaders' "Found N files" prints."""

    def __enter__(self):
        self._stdout, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115

    def __exit__(self, *exc):
        sys.stdout.close()
        sys.stdout = self._stdout


def one_pass(make) -> tuple[int, float]:
    start = time.perf_counter()
    count = 0
    for images, _ in make():
        count += int(images.shape[0])
    return count, time.perf_counter() - start


def run(folder: Path, size: int, batch: int, limit: int | None, rounds: int = 2) -> list[dict]:
    frame, _ = frame_of(folder, limit)
    if limit is not None:  # the Keras loaders read whole folders: give them the same files
        folder = _linked_subset(frame, folder)
    rows = []
    for mode in MODES:
        loaders = build_loaders(folder, frame, size, batch, mode == "augmented")
        available = [name for name in LOADERS if loaders[name][0] is not None]
        for name in available:  # warm-up
            one_pass(loaders[name][0])
        rates = {name: [] for name in available}
        for round_number in range(rounds):
            order = available if round_number % 2 == 0 else available[::-1]
            for name in order:
                count, seconds = one_pass(loaders[name][0])
                rates[name].append(count / seconds)
        for name in LOADERS:
            make, reason = loaders[name]
            row = {"mode": mode, "loader": name, "images": len(frame)}
            if make is None:
                row["note"] = reason
            else:
                row.update({f"round{i + 1}": rate for i, rate in enumerate(rates[name])})
                row["best"] = max(rates[name])
            rows.append(row)
        peers = [r["best"] for r in rows if r["mode"] == mode and "best" in r
                 and r["loader"] not in OURS]
        for r in rows:
            if r["mode"] == mode and "best" in r and peers:
                r["ratio_to_faster_peer"] = r["best"] / max(peers)
            if r["mode"] == mode and r["loader"] in OURS:
                r["target_met"] = bool(peers) and r["best"] >= 1.5 * max(peers)
    return rows


def _linked_subset(frame, folder: Path) -> Path:
    target = Path(tempfile.mkdtemp(dir=os.environ.get("KERASBENCH_INPUT_SCRATCH")))
    for path in frame["path"]:
        source = Path(path)
        (target / source.parent.name).mkdir(exist_ok=True)
        os.symlink(source, target / source.parent.name / source.name)
    return target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", help="class-folder tree (default: clothing-small/train)")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--limit", type=int, help="use only the first N files")
    parser.add_argument("--tiny", action="store_true", help="synthetic JPEGs, 32 px, batch 4")
    parser.add_argument("--output", help="write the table to OUTPUT.csv and OUTPUT.md")
    arguments = parser.parse_args(argv)

    scratch = tempfile.TemporaryDirectory(prefix="kerasbench-input-")
    os.environ["KERASBENCH_INPUT_SCRATCH"] = scratch.name
    if arguments.tiny:
        folder = tiny_folder(Path(scratch.name) / "tiny")
        size, batch = 32, 4
    else:
        folder = Path(arguments.folder or data_root() / "clothing-small" / "train")
        size, batch = arguments.size, arguments.batch
        if not folder.is_dir():
            print(f"no data at {folder} (set KERASBENCH_DATA or pass --folder); nothing to do")
            return 0
    import pandas as pd

    load_before = os.getloadavg()
    table = pd.DataFrame(run(folder, size, batch, arguments.limit))
    load_after = os.getloadavg()
    print(f"data: {folder} ({int(table['images'].iloc[0])} images), {size} px, batch {batch}; "
          f"{os.cpu_count()} CPUs, load average {load_before[0]:.1f} before, "
          f"{load_after[0]:.1f} after")
    shown = table.round(2)
    print(shown.to_markdown(index=False))
    for mode in MODES:
        for name in OURS:
            ours = table[(table["mode"] == mode) & (table["loader"] == name)].iloc[0]
            if "ratio_to_faster_peer" in ours and pd.notna(ours["ratio_to_faster_peer"]):
                print(f"{mode}: {name} / faster peer = {ours['ratio_to_faster_peer']:.2f}x "
                      f"(target 1.5x: {'met' if ours['target_met'] else 'NOT met'})")
    if arguments.output:
        output = Path(arguments.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(output.with_suffix(".csv"), index=False)
        output.with_suffix(".md").write_text(shown.to_markdown(index=False) + "\n")
    scratch.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
