"""The study's data: one folder per person, split by person (or image), decoded once,
with the evaluation pairs of each held-out split kept on disk.

Decisions where the paper is silent:

- **Split by person** (``split="person"``, the default): test people are never seen in
  training, which is what verification of new faces needs. ``split="image"`` gives the
  paper's image-level split (every person in every split).
- **Pairs**: balanced, seeded; evaluation pairs are sampled once and kept in CSV files so
  every run (every optimizer, learning rate and seed) scores the same pairs, which the
  intervals and paired tests over seeds need.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kerasbench import siamese
from kerasbench.errors import ConfigError, DatasetError
from kerasbench.validate import choice, fraction, positive_int

SPLIT_MODES = ("person", "image")
SPLIT_ORDER = ("train", "validation", "test")


def _natural(text):
    from kerasbench.data.index import natural_key

    return natural_key(text)


def _held_out_count(share: float, total: int, what: str, minimum: int) -> int:
    share = fraction(share, what)
    if share == 0:
        return 0
    # A held-out split needs `minimum` members (two people for different-person pairs, two
    # images of a person for same-person pairs) or it cannot be scored at all.
    return max(minimum, int(round(share * total)))


def split_by_person(frame: pd.DataFrame, *, test_fraction: float, validation_fraction: float,
                    seed: int) -> pd.DataFrame:
    """Assign whole people to ``train``/``validation``/``test`` (seeded): no identity is in
    two splits. Each held-out split gets at least two people (different-person pairs need
    two). ``frame`` needs a ``class_name`` column (the person)."""
    people = list(dict.fromkeys(frame["class_name"]))
    count_test = _held_out_count(test_fraction, len(people), "test_fraction", 2)
    count_validation = _held_out_count(validation_fraction, len(people), "validation_fraction", 2)
    if len(people) - count_test - count_validation < 2:
        raise ConfigError(
            f"{len(people)} people cannot give {count_test} test and {count_validation} "
            "validation people and still leave two to train on; lower the fractions or use "
            "more people"
        )
    order = np.random.default_rng(seed).permutation(len(people))
    assignment = {}
    for rank, position in enumerate(order):
        split = ("test" if rank < count_test else
                 "validation" if rank < count_test + count_validation else "train")
        assignment[people[position]] = split
    result = frame.copy()
    result["split"] = [assignment[person] for person in frame["class_name"]]
    return result


def split_by_image(frame: pd.DataFrame, *, test_fraction: float, validation_fraction: float,
                   seed: int) -> pd.DataFrame:
    """The paper's image-level split: every person in every split, ``test_fraction`` and
    ``validation_fraction`` of each person's images held out (at least two each, so each
    held-out split has same-person pairs). Seeded per person."""
    result = frame.copy()
    splits = np.array(["train"] * len(frame), dtype=object)
    for number, (person, rows) in enumerate(frame.groupby("class_name", sort=False).indices.items()):
        count_test = _held_out_count(test_fraction, len(rows), "test_fraction", 2)
        count_validation = _held_out_count(validation_fraction, len(rows), "validation_fraction", 2)
        if len(rows) - count_test - count_validation < 2:
            raise ConfigError(
                f"person {person!r} has {len(rows)} images: too few for {count_test} test and "
                f"{count_validation} validation images plus two to train on; lower the "
                "fractions, or split by person"
            )
        shuffled = np.random.default_rng([seed, number]).permutation(rows)
        splits[shuffled[:count_test]] = "test"
        splits[shuffled[count_test:count_test + count_validation]] = "validation"
    result["split"] = splits
    return result


@dataclass
class SplitImages:
    """The decoded images of one split (each file decoded once) and their people."""

    frame: pd.DataFrame  # path, label, class_name, split; row i is images[i]
    images: np.ndarray

    @property
    def person_labels(self) -> np.ndarray:
        return self.frame["label"].to_numpy()

    @property
    def paths(self) -> list:
        return self.frame["path"].tolist()


@dataclass
class FacesData:
    """A folder-per-person set, split, decoded, with the evaluation pairs of each split."""

    root: Path
    frame: pd.DataFrame  # every image: path, label (person), class_name, split
    splits: dict  # split name -> SplitImages
    pairs: dict  # split name -> pairs frame (path_a, path_b, label, index_a, index_b)
    settings: dict  # how it was split and paired: enters every run's config
    pair_files: dict = field(default_factory=dict)

    @property
    def split_mode(self) -> str:
        return self.settings["split"]

    @property
    def image_size(self) -> tuple:
        return siamese.as_image_shape(self.settings["image_size"])

    @property
    def threshold_split(self) -> str:
        """Where the decision threshold is chosen: validation people, else training pairs."""
        return "validation" if "validation" in self.splits else "train"

    @property
    def people(self) -> dict:
        return {name: sorted(set(part.frame["class_name"]), key=_natural)
                for name, part in self.splits.items()}

    @property
    def split_people(self) -> dict | None:
        """Who is in which split (recorded with runs when the split is by person)."""
        return self.people if self.split_mode == "person" else None

    def fingerprint(self) -> str:
        """The data's identity: every file's relative path, size and modification time,
        its person and its split (:func:`kerasbench.data.fingerprint.frame_fingerprint`)."""
        from kerasbench.data.fingerprint import frame_fingerprint

        return frame_fingerprint(self.frame, root=self.root)


def load_images(paths: Sequence[str], image_size) -> np.ndarray:
    """Decode and resize every file once: float32 ``(n, h, w, 3)`` in 0..255."""
    from kerasbench.pipeline import load_image

    if not len(paths):
        raise DatasetError("no image paths given")
    return np.stack([load_image(path, image_size, channels=3) for path in paths]).astype(np.float32)


def check_image_size(image_size) -> tuple[int, int]:
    """``64`` or ``[height, width]`` of positive ints -> ``(height, width)``; anything else
    (``"64"``, ``[64]``, ``64.0``) is an error naming the setting."""
    if isinstance(image_size, (list, tuple)) and len(image_size) == 2:
        return (positive_int(image_size[0], "image_size[0]"),
                positive_int(image_size[1], "image_size[1]"))
    if isinstance(image_size, (list, tuple, str)):
        raise ConfigError(f"image_size must be an integer (e.g. 64) or [height, width], got "
                          f"{image_size!r} ({type(image_size).__name__})")
    size = positive_int(image_size, "image_size")
    return size, size


def load_faces(root, *, image_size, split: str = "person", test_fraction: float = 0.2,
               validation_fraction: float = 0.1, seed: int = 42,
               evaluation_pairs_per_person: int = 20, pairs_dir=None) -> FacesData:
    """Index ``root`` (one folder per person), split it, decode every image once, and load
    (or sample and save) the evaluation pairs of each held-out split.

    Pair files go to ``pairs_dir`` as ``<split>_pairs_<key>.csv``; the key hashes the
    settings that decide which pairs exist (data folder, split, fractions, seed, pairs per
    person), so changing any of them makes new pairs rather than reusing pairs that no
    longer fit. ``pairs_dir=None`` keeps the (seeded) pairs in memory only. With no
    validation split, ``train`` pairs are kept too (the threshold is then chosen on them).
    """
    from kerasbench.data.index import index_folder
    from kerasbench.records import config_hash

    choice(split, "split", SPLIT_MODES)
    seed = positive_int(seed, "seed", minimum=0)
    pairs_per_person = positive_int(evaluation_pairs_per_person, "evaluation_pairs_per_person")
    fraction(test_fraction, "test_fraction")
    fraction(validation_fraction, "validation_fraction")
    size = check_image_size(image_size)
    index = index_folder(root, validation_fraction=0.0, test_fraction=0.0, seed=seed)
    frame = index.frame.drop(columns=["split"])
    splitter = split_by_person if split == "person" else split_by_image
    frame = splitter(frame, test_fraction=test_fraction, validation_fraction=validation_fraction,
                     seed=seed)
    parts = {}
    for name in SPLIT_ORDER:
        rows = frame[frame["split"] == name].reset_index(drop=True)
        if len(rows):
            parts[name] = SplitImages(rows, load_images(rows["path"].tolist(), size))
    if "test" not in parts:
        raise ConfigError("no test split: set test_fraction > 0 (the study reports test pairs)")
    settings = {"image_size": size[0] if size[0] == size[1] else list(size), "split": split,
                "test_fraction": float(test_fraction),
                "validation_fraction": float(validation_fraction),
                "evaluation_pairs_per_person": pairs_per_person, "split_seed": seed}
    columns = [c for c in ("path", "label", "class_name", "split") if c in frame.columns]
    data = FacesData(root=index.root, frame=frame[columns].reset_index(drop=True), splits=parts,
                     pairs={}, settings=settings)
    key = config_hash({"root": str(index.root), "split": split, "test_fraction": test_fraction,
                       "validation_fraction": validation_fraction, "seed": seed,
                       "pairs_per_person": pairs_per_person, "images": len(frame)}, length=10)
    pairs_dir = Path(pairs_dir) if pairs_dir is not None else None
    for offset, name in enumerate(("validation", "test", "train")):
        if name not in parts or (name == "train" and data.threshold_split != "train"):
            continue
        part = parts[name]
        seed_for_split = [seed, 7, offset]
        if pairs_dir is None:
            pairs = siamese.sample_pairs(part.person_labels, pairs_per_person, seed_for_split)
            pairs.insert(0, "path_b", [part.paths[i] for i in pairs["index_b"]])
            pairs.insert(0, "path_a", [part.paths[i] for i in pairs["index_a"]])
        else:
            path = pairs_dir / f"{name}_pairs_{key}.csv"
            pairs, _ = siamese.load_or_sample_pairs(
                path, part.paths, part.person_labels, pairs_per_person=pairs_per_person,
                seed=seed_for_split, root=index.root)
            data.pair_files[name] = path
        data.pairs[name] = pairs
    return data


def load_data(context, *, image_size=224, split: str = "person", test_fraction: float = 0.2,
              validation_fraction: float = 0.1, evaluation_pairs_per_person: int = 20,
              seed: int | None = None) -> FacesData:
    """:func:`load_faces` on the context's data folder; the split and the evaluation pairs
    are seeded by ``seed`` (default: the context's seed) and the pairs kept in
    ``<output_dir>/pairs/``. Every seed of every run then scores the same test pairs.
    Every argument is checked before the folder is read."""
    check_image_size(image_size)
    choice(split, "split", SPLIT_MODES)
    fraction(test_fraction, "test_fraction")
    fraction(validation_fraction, "validation_fraction")
    positive_int(evaluation_pairs_per_person, "evaluation_pairs_per_person")
    if seed is not None:
        positive_int(seed, "seed", minimum=0)
    return load_faces(context.data_dir, image_size=image_size, split=split,
                      test_fraction=test_fraction, validation_fraction=validation_fraction,
                      seed=context.seed if seed is None else seed,
                      evaluation_pairs_per_person=evaluation_pairs_per_person,
                      pairs_dir=context.output_dir / "pairs")


def dataset_counts(data: FacesData) -> pd.DataFrame:
    """People, images and evaluation pairs (same / different) per split."""
    rows = []
    for name, part in data.splits.items():
        pairs = data.pairs.get(name)
        labels = None if pairs is None else pairs["label"]
        rows.append({
            "split": name,
            "people": part.frame["class_name"].nunique(),
            "images": len(part.frame),
            "evaluation pairs": 0 if pairs is None else len(pairs),
            "same-person pairs": 0 if labels is None else int((labels == siamese.SAME_PERSON).sum()),
            "different-person pairs": (0 if labels is None
                                       else int((labels == siamese.DIFFERENT_PERSON).sum())),
        })
    return pd.DataFrame(rows).set_index("split")


def images_per_person(data: FacesData) -> pd.DataFrame:
    """Rows people (natural order), columns splits: image counts (for the distribution plot)."""
    table = pd.crosstab(data.frame["class_name"], data.frame["split"])
    people = sorted(table.index, key=_natural)
    return table.reindex(index=people, columns=[s for s in SPLIT_ORDER if s in table.columns])


def pair_examples(data: FacesData, split: str = "test", per_label: int = 4, seed: int = 0
                  ) -> tuple[list, list]:
    """Images and captions of ``per_label`` random same-person and different-person pairs
    of ``split`` (a and b side by side), for :func:`kerasbench.plots.image_grid`."""
    pairs, part = data.pairs[split], data.splits[split]
    names = part.frame["class_name"]
    images, captions = [], []
    for label in (siamese.SAME_PERSON, siamese.DIFFERENT_PERSON):
        chosen = pairs[pairs["label"] == label]
        chosen = chosen.sample(min(per_label, len(chosen)), random_state=seed)
        for _, pair in chosen.iterrows():
            images += [part.images[pair["index_a"]], part.images[pair["index_b"]]]
            captions += [f"{siamese.PAIR_CLASS_NAMES[label]}: {names[pair['index_a']]}",
                         f"{siamese.PAIR_CLASS_NAMES[label]}: {names[pair['index_b']]}"]
    return images, captions
