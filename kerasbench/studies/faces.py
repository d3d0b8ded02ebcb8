"""Study 1: face verification with a Siamese SqueezeNet (protocol called by notebooks/faces.ipynb).

The paper (``shared/studies.md`` section 1): two weight-sharing SqueezeNet branches, Euclidean
distance, contrastive loss; grid optimizer {SGD, Adam} x learning rate {0.01, 0.001} x epochs
{50, 75, 100}; per-class precision / recall / F1 of "True" (same person) and "False"
(different people) pairs on an 80/20 validation split; verification under 5 s per pair.

Decisions taken here where the paper is silent or ambiguous:

- **Split by person** (default ``split="person"``): test people are never seen in
  training, which is what verification of new faces needs. ``split="image"`` gives the
  paper's image-level split (every person in every split).
- **Threshold**: chosen on held-out *validation* people (``validation_fraction``) to maximise
  balanced accuracy, then applied unchanged to the test pairs; with no validation split it
  is chosen on a fixed set of training pairs.
- **Pairs**: balanced, seeded; training pairs are redrawn every epoch, evaluation pairs are
  sampled once and kept in CSV files so every run scores the same pairs.
- **Epochs**: runs that differ only in their epoch count share ONE training run evaluated
  at each requested epoch (``kerasbench.siamese.train_siamese``); a test shows this equals
  separate runs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kerasbench import siamese
from kerasbench.results import ResultsStore, config_hash

__all__ = [
    "DEFAULT_CONFIG",
    "PAPER",
    "PAPER_EPOCHS",
    "PAPER_RESULTS",
    "FacesData",
    "SplitImages",
    "attendance_check",
    "dataset_counts",
    "load_faces",
    "pair_examples",
    "paper_comparison",
    "resolve_config",
    "run_figures",
    "run_grid",
    "split_by_image",
    "split_by_person",
    "summary_table",
    "train_and_evaluate",
]

STUDY = "faces"
DEMO_DATASET = "faces"
PAPER = ("Siamese Neural Network with SqueezeNet for face recognition (face verification "
         "for attendance); shared/seeds/000_1cd8d9e121139b54.txt")
PAPER_EPOCHS = (50, 75, 100)
# The paper's Tables 2-5: {(optimizer, learning rate, epochs): {class: (P, R, F1)}};
# "same" is the paper's "True" pair label, "different" its "False".
_PAPER_ROWS = {
    ("sgd", 0.01, 50): ((1.00, 0.95, 0.98), (0.95, 1.00, 0.98)),
    ("sgd", 0.01, 75): ((1.00, 0.94, 0.97), (0.94, 1.00, 0.97)),
    ("sgd", 0.01, 100): ((1.00, 0.96, 0.98), (0.97, 1.00, 0.98)),
}
for _epochs in PAPER_EPOCHS:
    _PAPER_ROWS[("adam", 0.01, _epochs)] = ((0.00, 0.00, 0.00), (0.50, 1.00, 0.67))
    _PAPER_ROWS[("sgd", 0.001, _epochs)] = ((1.00, 1.00, 1.00), (1.00, 1.00, 1.00))
    _PAPER_ROWS[("adam", 0.001, _epochs)] = ((1.00, 1.00, 1.00), (1.00, 1.00, 1.00))
PAPER_RESULTS = {
    key: {"same": dict(zip(("precision", "recall", "f1"), same)),
          "different": dict(zip(("precision", "recall", "f1"), different))}
    for key, (same, different) in _PAPER_ROWS.items()
}
PAPER_COLLAPSED = {key: key[:2] == ("adam", 0.01) for key in PAPER_RESULTS}
PAPER_SECONDS_PER_VERIFICATION = 5.0  # an upper bound: "under five seconds"

DEFAULT_CONFIG = {
    "squeezenet_version": "1.0",
    "weights": None,
    "image_size": 224,
    "embedding_dim": 128,
    "l2_normalize": True,
    "margin": 1.0,
    "batch_size": 32,
    "pairs_per_person": 20,
    "evaluation_pairs_per_person": 20,
    "split": "person",
    "test_fraction": 0.2,
    "validation_fraction": 0.1,
    "augmentation": None,
    "threshold_criterion": "balanced_accuracy",
    "seed": 42,
    "dataset": "",
    # Switches for kerasbench.performance.choose_policy ({"mixed_precision": False, ...});
    # None picks the device's best. The resolved policy is recorded in every row.
    "performance": None,
}
SPLIT_MODES = ("person", "image")


def resolve_config(config: dict) -> dict:
    """Defaults filled in; unknown keys are an error (a typo would be a silent new run)."""
    unknown = set(config) - set(DEFAULT_CONFIG)
    if unknown:
        raise ValueError(f"unknown faces settings {sorted(unknown)}; known: {sorted(DEFAULT_CONFIG)}")
    resolved = {**DEFAULT_CONFIG, **config}
    if resolved["split"] not in SPLIT_MODES:
        raise ValueError(f"split must be one of {SPLIT_MODES}, got {resolved['split']!r}")
    if resolved["augmentation"] is not None and not isinstance(resolved["augmentation"], dict):
        raise ValueError("augmentation must be a dict of ImageDataGenerator-style settings or None")
    if resolved["threshold_criterion"] not in siamese.THRESHOLD_CRITERIA:
        raise ValueError(f"threshold_criterion must be one of {siamese.THRESHOLD_CRITERIA}")
    resolved["squeezenet_version"] = siamese.squeezenet_backbone_name(
        resolved["squeezenet_version"]).replace("squeezenet", "").replace("_", ".")
    if resolved["weights"] is not None:
        resolved["weights"] = str(resolved["weights"])
    return resolved


# --------------------------------------------------------------------------- data


def _held_out_count(fraction: float, total: int, what: str, minimum: int) -> int:
    if not 0 <= fraction < 1:
        raise ValueError(f"{what} must be in [0, 1), got {fraction!r}")
    if fraction == 0:
        return 0
    # A held-out split needs `minimum` members (two people for different-person pairs, two
    # images of a person for same-person pairs) or it cannot be scored at all.
    return max(minimum, int(round(fraction * total)))


def split_by_person(frame: pd.DataFrame, *, test_fraction: float, validation_fraction: float,
                    seed: int) -> pd.DataFrame:
    """Assign whole people to ``train``/``validation``/``test`` (seeded): no identity is in
    two splits. Each held-out split gets at least two people (different-person pairs need
    two). ``frame`` needs a ``class_name`` column (the person)."""
    people = list(dict.fromkeys(frame["class_name"]))
    count_test = _held_out_count(test_fraction, len(people), "test_fraction", 2)
    count_validation = _held_out_count(validation_fraction, len(people), "validation_fraction", 2)
    if len(people) - count_test - count_validation < 2:
        raise ValueError(
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
            raise ValueError(
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
    splits: dict  # split name -> SplitImages
    pairs: dict  # split name -> pairs frame (path_a, path_b, label, index_a, index_b)
    pair_files: dict = field(default_factory=dict)
    split_mode: str = "person"
    image_size: tuple = (224, 224)

    @property
    def threshold_split(self) -> str:
        """Where the decision threshold is chosen: validation people, else training pairs."""
        return "validation" if "validation" in self.splits else "train"

    @property
    def people(self) -> dict:
        return {name: sorted(set(part.frame["class_name"]), key=_natural)
                for name, part in self.splits.items()}


def _natural(text):
    from kerasbench.data.index import natural_key

    return natural_key(text)


def load_images(paths: Sequence[str], image_size) -> np.ndarray:
    """Decode and resize every file once: float32 ``(n, h, w, 3)`` in 0..255."""
    from kerasbench.pipeline import load_image

    if not len(paths):
        raise ValueError("no image paths given")
    return np.stack([load_image(path, image_size, channels=3) for path in paths]).astype(np.float32)


def load_faces(root, *, image_size, split: str = "person", test_fraction: float = 0.2,
               validation_fraction: float = 0.1, seed: int = 42,
               evaluation_pairs_per_person: int = 20, pairs_dir=None) -> FacesData:
    """Index ``root`` (one folder per person), split it, decode every image once, and load
    (or sample and save) the evaluation pairs of each held-out split.

    Pair files go to ``pairs_dir`` (the run's output folder, say) as
    ``<split>_pairs_<key>.csv``; the key hashes the settings that decide which pairs exist
    (data folder, split, fractions, seed, pairs per person), so changing any of them makes
    new pairs rather than reusing pairs that no longer fit. ``pairs_dir=None`` keeps the
    (seeded) pairs in memory only. With no validation split, ``train`` pairs are kept too
    (the threshold is then chosen on them).
    """
    from kerasbench.data.index import index_folder

    if split not in SPLIT_MODES:
        raise ValueError(f"split must be one of {SPLIT_MODES}, got {split!r}")
    index = index_folder(root, validation_fraction=0.0, test_fraction=0.0, seed=seed)
    frame = index.frame.drop(columns=["split"])
    splitter = split_by_person if split == "person" else split_by_image
    frame = splitter(frame, test_fraction=test_fraction, validation_fraction=validation_fraction,
                     seed=seed)
    size = siamese.as_image_shape(image_size)
    parts = {}
    for name in ("train", "validation", "test"):
        rows = frame[frame["split"] == name].reset_index(drop=True)
        if len(rows):
            parts[name] = SplitImages(rows, load_images(rows["path"].tolist(), size))
    if "test" not in parts:
        raise ValueError("no test split: set test_fraction > 0 (the study reports test pairs)")
    data = FacesData(root=index.root, splits=parts, pairs={}, split_mode=split, image_size=size)
    key = config_hash({"root": str(index.root), "split": split, "test_fraction": test_fraction,
                       "validation_fraction": validation_fraction, "seed": seed,
                       "pairs_per_person": evaluation_pairs_per_person,
                       "images": len(frame)}, length=10)
    pairs_dir = Path(pairs_dir) if pairs_dir is not None else None
    for offset, name in enumerate(("validation", "test", "train")):
        if name not in parts or (name == "train" and data.threshold_split != "train"):
            continue
        part = parts[name]
        seed_for_split = [seed, 7, offset]
        if pairs_dir is None:
            pairs = siamese.sample_pairs(part.person_labels, evaluation_pairs_per_person,
                                         seed_for_split)
            pairs.insert(0, "path_b", [part.paths[i] for i in pairs["index_b"]])
            pairs.insert(0, "path_a", [part.paths[i] for i in pairs["index_a"]])
        else:
            path = pairs_dir / f"{name}_pairs_{key}.csv"
            pairs, _ = siamese.load_or_sample_pairs(
                path, part.paths, part.person_labels, pairs_per_person=evaluation_pairs_per_person,
                seed=seed_for_split, root=index.root)
            data.pair_files[name] = path
        data.pairs[name] = pairs
    return data


def dataset_counts(data: FacesData) -> pd.DataFrame:
    """People, images and evaluation pairs (same / different) per split."""
    rows = []
    for name, part in data.splits.items():
        pairs = data.pairs.get(name)
        rows.append({
            "split": name,
            "people": part.frame["class_name"].nunique(),
            "images": len(part.frame),
            "evaluation pairs": 0 if pairs is None else len(pairs),
            "same-person pairs": 0 if pairs is None else int((pairs["label"] == siamese.SAME_PERSON).sum()),
            "different-person pairs": 0 if pairs is None else int((pairs["label"] == siamese.DIFFERENT_PERSON).sum()),
        })
    return pd.DataFrame(rows).set_index("split")


def images_per_person(data: FacesData) -> pd.DataFrame:
    """Rows people (natural order), columns splits: image counts (for the distribution plot)."""
    frame = pd.concat([part.frame for part in data.splits.values()])
    table = pd.crosstab(frame["class_name"], frame["split"])
    people = sorted(table.index, key=_natural)
    return table.reindex(index=people, columns=[s for s in ("train", "validation", "test") if s in table.columns])


# --------------------------------------------------------------------------- runs


def _finite_distances(distances: np.ndarray) -> tuple[np.ndarray, bool]:
    """A diverged model gives NaN/inf distances; score them as "very far" and say so."""
    distances = np.asarray(distances, dtype=float)
    finite = np.isfinite(distances)
    if finite.all():
        return distances, False
    ceiling = float(distances[finite].max() * 2 + 1) if finite.any() else 1e6
    return np.where(finite, distances, ceiling), True


def _score_split(embedding_model, part: SplitImages, pairs: pd.DataFrame) -> np.ndarray:
    # Each image is embedded once; a pair's distance is then two rows of the embedding table.
    embeddings = siamese.embed_images(embedding_model, part.images)
    return siamese.pair_distances(embeddings, pairs["index_a"], pairs["index_b"])


def evaluate_checkpoint(embedding_model, data: FacesData, criterion: str) -> dict:
    """Threshold from the threshold split's pairs, then every evaluation split scored at it."""
    chooser = data.threshold_split
    distances, diverged = _finite_distances(_score_split(embedding_model, data.splits[chooser],
                                                         data.pairs[chooser]))
    labels = data.pairs[chooser]["label"].to_numpy()
    threshold = siamese.choose_threshold(distances, labels, criterion)
    result = {"threshold": threshold, "threshold_split": chooser, "metrics": {}, "distances": {},
              "diverged": diverged}
    for name, pairs in data.pairs.items():
        if name == chooser:
            split_distances = distances
        else:
            split_distances, split_diverged = _finite_distances(
                _score_split(embedding_model, data.splits[name], pairs))
            result["diverged"] = result["diverged"] or split_diverged
        result["metrics"][name] = siamese.evaluate_pairs(split_distances, pairs["label"], threshold)
        result["distances"][name] = {"distance": split_distances.tolist(),
                                     "label": pairs["label"].astype(int).tolist()}
    return result


def _run_config(config: dict, optimizer: str, learning_rate: float, epochs: int) -> dict:
    return {**config, "optimizer": str(optimizer).lower(), "learning_rate": float(learning_rate),
            "epochs": int(epochs)}


def train_and_evaluate(config: dict, data: FacesData, store: ResultsStore, *, optimizer: str,
                       learning_rate: float, epochs: Sequence[int], models_dir=None,
                       save_verifiers: str = "final", latency_repeats: int = 10,
                       overwrite: bool = False, verbose: int = 0) -> list[dict]:
    """ONE training run for (optimizer, learning rate), evaluated at each of ``epochs``;
    one ResultsStore record per epoch count (its config says ``epochs: e``, exactly as a
    separate ``e``-epoch run would). Epoch counts already in ``store`` are not redone.

    ``save_verifiers``: ``"all"`` (a :class:`kerasbench.siamese.FaceVerifier` folder per
    record), ``"final"`` (only the longest run of this training) or ``"none"``; folders go
    under ``models_dir/<config_hash>/``.
    """
    from kerasbench.augment import Augmentation
    from kerasbench.heads import parameter_counts
    from kerasbench.performance import choose_policy
    from kerasbench.seeding import set_seed

    config = resolve_config(config)
    if save_verifiers not in ("all", "final", "none"):
        raise ValueError(f"save_verifiers must be 'all', 'final' or 'none', got {save_verifiers!r}")
    requested = sorted({int(e) for e in epochs})
    configs = {e: _run_config(config, optimizer, learning_rate, e) for e in requested}
    needed = [e for e in requested if overwrite or not store.has(configs[e])]
    if not needed:
        return [store.get(configs[e]) for e in requested]

    seed = set_seed(config["seed"])
    policy = choose_policy(siamese.squeezenet_backbone_name(config["squeezenet_version"]),
                           **(config["performance"] or {}))
    embedding = siamese.build_embedding_network(
        config["squeezenet_version"], image_size=data.image_size, weights=config["weights"],
        embedding_dim=config["embedding_dim"], l2_normalize=config["l2_normalize"],
        policy=policy)
    augmentation = None
    if config["augmentation"]:
        settings = {"seed": seed, **config["augmentation"]}
        augmentation = Augmentation.from_image_data_generator(**settings)
    # Augmentation runs in one place: inside the model (on the device) or in the batches.
    in_model, in_batches = ((augmentation, None) if policy.augment_on_device
                            else (None, augmentation))
    model = siamese.build_siamese_model(embedding, augmentation=in_model,
                                        xla_compatible=policy.jit_compile)
    siamese.compile_siamese(model, optimizer=optimizer, learning_rate=learning_rate,
                            margin=config["margin"], jit_compile=policy.jit_compile)
    train = data.splits["train"]
    train_batches = siamese.PairBatches(
        train.images, person_labels=train.person_labels,
        pairs_per_person=config["pairs_per_person"], batch_size=config["batch_size"],
        shuffle=True, seed=seed, augmentation=in_batches)
    validation_batches = None
    if "validation" in data.pairs:
        validation_batches = siamese.PairBatches(
            data.splits["validation"].images, data.pairs["validation"],
            batch_size=max(config["batch_size"], 64))

    last = max(needed)

    def evaluate(epoch: int) -> dict:
        start = time.perf_counter()
        result = evaluate_checkpoint(embedding, data, config["threshold_criterion"])
        result["evaluation_seconds"] = time.perf_counter() - start
        if models_dir is not None and (save_verifiers == "all" or
                                       (save_verifiers == "final" and epoch == last)):
            folder = Path(models_dir) / config_hash(configs[epoch])
            siamese.FaceVerifier(embedding, result["threshold"], metadata={
                "config": configs[epoch], "threshold_split": result["threshold_split"],
                "threshold_criterion": config["threshold_criterion"]}).save(folder)
            result["verifier_dir"] = str(folder)
        return result

    outcome = siamese.train_siamese(model, train_batches, epochs=needed,
                                    validation_batches=validation_batches, evaluate=evaluate,
                                    verbose=verbose)
    test = data.splits["test"]
    verifier = siamese.FaceVerifier(embedding, outcome["checkpoints"][last]["threshold"])
    latency = siamese.measure_latency(verifier, test.paths[0], test.paths[1],
                                      batch_images=test.images, repeats=latency_repeats)
    counts = parameter_counts(embedding)
    records = []
    for epoch in needed:
        checkpoint = outcome["checkpoints"][epoch]
        history = {key: values[:epoch] for key, values in outcome["history"].items()}
        records.append(store.write(
            configs[epoch],
            metrics={**checkpoint["metrics"], "diverged": checkpoint["diverged"]},
            durations={"training_seconds": outcome["training_seconds"][epoch],
                       "evaluation_seconds": checkpoint["evaluation_seconds"],
                       "single_pair_seconds": latency["single_pair_seconds"],
                       "pairs_per_second": latency.get("pairs_per_second")},
            seed=seed,
            history=history,
            threshold=checkpoint["threshold"],
            threshold_split=checkpoint["threshold_split"],
            pair_distances=checkpoint["distances"],
            pair_files={name: str(path) for name, path in data.pair_files.items()},
            latency=latency,
            parameters=counts,
            trained_in_run_of_epochs=last,
            verifier_dir=checkpoint.get("verifier_dir"),
            split_people=data.people if data.split_mode == "person" else None,
            performance=policy.to_dict(),
        ))
    done = {record["config"]["epochs"]: record for record in records}
    return [done.get(e) or store.get(configs[e]) for e in requested]


def run_grid(config: dict, data: FacesData, store: ResultsStore, *, optimizers: Sequence[str],
             learning_rates: Sequence[float], epochs: Sequence[int], models_dir=None,
             save_verifiers: str = "final", latency_repeats: int = 10, overwrite: bool = False,
             verbose: int = 0, progress=print) -> list[dict]:
    """The paper's grid: one training run per (optimizer, learning rate), each evaluated at
    every epoch count. Returns the records in grid order."""
    records = []
    for optimizer in optimizers:
        for learning_rate in learning_rates:
            start = time.perf_counter()
            group = train_and_evaluate(
                config, data, store, optimizer=optimizer, learning_rate=learning_rate,
                epochs=epochs, models_dir=models_dir, save_verifiers=save_verifiers,
                latency_repeats=latency_repeats, overwrite=overwrite, verbose=verbose)
            records.extend(group)
            if progress is not None:
                scores = ", ".join(
                    f"{r['config']['epochs']} ep: AUC {_format(r['metrics']['test']['roc_auc'])}"
                    f" acc {r['metrics']['test']['accuracy']:.3f}" for r in group)
                progress(f"{optimizer} lr={learning_rate:g}: {scores} "
                         f"({time.perf_counter() - start:.0f} s)")
    return records


def _format(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


# --------------------------------------------------------------------------- tables, figures


def summary_table(records: Sequence[dict], split: str = "test") -> pd.DataFrame:
    """One row per run: threshold, accuracy, per-class P/R/F1, AUC, EER, collapse, times."""
    rows = []
    for record in records:
        config, metrics = record["config"], record["metrics"][split]
        row = {"optimizer": config["optimizer"], "learning_rate": config["learning_rate"],
               "epochs": config["epochs"], "threshold": record["threshold"],
               "accuracy": metrics["accuracy"]}
        for name in ("same", "different"):
            for quantity in ("precision", "recall", "f1"):
                row[f"{name} {quantity}"] = metrics["per_class"][name][quantity]
        row.update({"roc_auc": metrics["roc_auc"], "eer": metrics["eer"],
                    "collapsed": metrics["collapsed"],
                    "diverged": record["metrics"].get("diverged", False),
                    "training_seconds": record["durations"]["training_seconds"],
                    "seconds_per_pair": record["durations"]["single_pair_seconds"]})
        rows.append(row)
    return pd.DataFrame(rows).set_index(["optimizer", "learning_rate", "epochs"])


def paper_comparison(records: Sequence[dict], epochs: Sequence[int],
                     paper_epochs: Sequence[int] = PAPER_EPOCHS, note: str = "") -> pd.DataFrame:
    """The paper's per-class P/R/F1 beside this run's, for each (optimizer, lr, epochs).

    ``epochs[i]`` of this run stands for ``paper_epochs[i]`` of the paper (a demo trains
    for a few epochs where the paper trained 50/75/100). Built with
    :func:`kerasbench.reports.compare_with_paper`, one block per run; "collapsed" is 1 when
    every pair got one answer (the paper's Adam, lr 0.01).
    """
    from kerasbench.reports import compare_with_paper

    if len(epochs) != len(paper_epochs):
        raise ValueError(f"epochs {list(epochs)} and paper_epochs {list(paper_epochs)} must "
                         "have the same length (each run epoch stands for one paper epoch)")
    stands_for = dict(zip((int(e) for e in epochs), (int(e) for e in paper_epochs)))
    blocks, keys = [], []
    for record in records:
        config = record["config"]
        paper_epoch = stands_for.get(int(config["epochs"]))
        key = (config["optimizer"], float(config["learning_rate"]), paper_epoch)
        reported = PAPER_RESULTS.get(key)
        metrics = record["metrics"]["test"]
        paper, this_run = {}, {}
        for name in ("same", "different"):
            for quantity in ("precision", "recall", "f1"):
                label = f"{name} {quantity}"
                paper[label] = None if reported is None else reported[name][quantity]
                this_run[label] = metrics["per_class"][name][quantity]
        paper["collapsed"] = None if reported is None else float(PAPER_COLLAPSED[key])
        this_run["collapsed"] = float(metrics["collapsed"])
        blocks.append(compare_with_paper(paper, this_run, note=note))
        keys.append((config["optimizer"], config["learning_rate"], paper_epoch, config["epochs"]))
    if not blocks:
        raise ValueError("no records to compare")
    table = pd.concat(blocks, keys=keys,
                      names=["optimizer", "learning_rate", "paper epochs", "epochs", "quantity"])
    if note:
        table.attrs["note"] = note
    return table


def latency_table(records: Sequence[dict]) -> pd.DataFrame:
    """Verification time per pair (warm, from files) and batch throughput, per training run."""
    rows = []
    seen = set()
    for record in records:
        config = record["config"]
        key = (config["optimizer"], config["learning_rate"])
        if key in seen:
            continue
        seen.add(key)
        latency = record.get("latency") or {}
        rows.append({"optimizer": key[0], "learning_rate": key[1],
                     "seconds per verification (paper: < 5)": latency.get("single_pair_seconds"),
                     "worst of repeats (s)": latency.get("single_pair_seconds_max"),
                     "pairs per second (batch)": latency.get("pairs_per_second"),
                     "under 5 s": (latency.get("single_pair_seconds") or np.inf)
                     < PAPER_SECONDS_PER_VERIFICATION})
    return pd.DataFrame(rows).set_index(["optimizer", "learning_rate"])


def run_label(record: dict) -> str:
    config = record["config"]
    return f"{config['optimizer']} lr={config['learning_rate']:g} {config['epochs']} ep"


def run_figures(records: Sequence[dict], context, *, split: str = "test",
                show: Sequence[dict] = ()) -> dict:
    """Per run: confusion matrix, ROC curve and distance histograms, saved as PNG under
    ``context.figures_dir``; figures of runs in ``show`` stay open (a notebook displays
    them), the rest are closed. Returns {config_hash: {kind: path}}."""
    import matplotlib.pyplot as plt

    from kerasbench import plots

    keep = {record["config_hash"] for record in show}
    saved = {}
    for record in records:
        metrics = record["metrics"][split]
        label = run_label(record)
        config = record["config"]
        stem = f"{split}_{config['optimizer']}_lr{config['learning_rate']:g}_{config['epochs']}ep"
        distances = record["pair_distances"][split]
        distance, truth = np.asarray(distances["distance"]), np.asarray(distances["label"])
        paths = {"confusion": context.figure(f"confusion_{stem}"),
                 "roc": context.figure(f"roc_{stem}"),
                 "histogram": context.figure(f"distances_{stem}")}
        collapsed = " (COLLAPSED: one answer for every pair)" if metrics["collapsed"] else ""
        figures = [
            plots.confusion_matrix(metrics["confusion_matrix"], list(siamese.PAIR_CLASS_NAMES),
                                   paths["confusion"], title=f"{label}{collapsed}",
                                   note=context.note),
            plots.roc_curve(metrics["roc_curve"]["fpr"], metrics["roc_curve"]["tpr"],
                            metrics["roc_auc"], paths["roc"],
                            title=f"ROC {label}, EER {_format(metrics['eer'])}",
                            note=context.note),
            plots.distance_histograms(distance[truth == siamese.SAME_PERSON],
                                      distance[truth == siamese.DIFFERENT_PERSON],
                                      record["threshold"], paths["histogram"],
                                      title=f"{split} pair distances, {label}", note=context.note),
        ]
        if record["config_hash"] not in keep:
            for figure in figures:
                plt.close(figure)
        saved[record["config_hash"]] = paths
    return saved


def pair_examples(data: FacesData, split: str = "test", per_label: int = 4, seed: int = 0
                  ) -> tuple[list, list]:
    """Images and captions of ``per_label`` random same-person and different-person pairs
    of ``split`` (a and b side by side), for :func:`kerasbench.plots.image_grid`."""
    pairs, part = data.pairs[split], data.splits[split]
    images, captions = [], []
    for label in (siamese.SAME_PERSON, siamese.DIFFERENT_PERSON):
        chosen = pairs[pairs["label"] == label]
        chosen = chosen.sample(min(per_label, len(chosen)), random_state=seed)
        for _, pair in chosen.iterrows():
            names = part.frame["class_name"]
            images += [part.images[pair["index_a"]], part.images[pair["index_b"]]]
            captions += [f"{siamese.PAIR_CLASS_NAMES[label]}: {names[pair['index_a']]}",
                         f"{siamese.PAIR_CLASS_NAMES[label]}: {names[pair['index_b']]}"]
    return images, captions


def training_histories(records: Sequence[dict]) -> dict:
    """{"sgd lr=0.01": history} for the longest run of each (optimizer, lr)."""
    longest = {}
    for record in records:
        config = record["config"]
        key = f"{config['optimizer']} lr={config['learning_rate']:g}"
        if key not in longest or config["epochs"] > longest[key]["config"]["epochs"]:
            longest[key] = record
    return {key: record["history"] for key, record in longest.items()}


def best_record(records: Sequence[dict], split: str = "test") -> dict:
    """The run with the highest test ROC-AUC (ties: fewer epochs first, then grid order)."""
    if not records:
        raise ValueError("no records")
    return max(records, key=lambda r: ((r["metrics"][split]["roc_auc"] or 0.0), -r["config"]["epochs"]))


# --------------------------------------------------------------------------- attendance


def attendance_check(verifier: siamese.FaceVerifier, data: FacesData, *, split: str = "test",
                     enrolled_fraction: float = 0.5, gallery_images: int = 3,
                     method: str = "mean", calibration_splits: Sequence[str] | None = None,
                     identification_target: str | float = "balanced_accuracy",
                     calibration_rounds: int = 10, seed: int = 0) -> tuple[dict, pd.DataFrame]:
    """Face-based attendance on held-out people: the first ``enrolled_fraction`` of the
    split's people (natural order) are enrolled with their first ``gallery_images`` images;
    their other images are probes that should be named, and every image of the remaining
    people is a stranger probe that should come out "unknown".

    Two thresholds are compared on the same probes: the verifier's one-to-one verification
    ``threshold`` and an open-set identification threshold chosen on OTHER people
    (``calibration_splits``, default every split but ``split``: training and validation
    people) with :func:`kerasbench.siamese.identification_threshold_from_people` (seeded,
    ``calibration_rounds`` random enrolled/stranger draws, ``identification_target``). When
    no calibration split can be used, the verifier's stored ``identification_threshold`` is
    reported instead (if any).

    Returns a flat summary: the :func:`kerasbench.siamese.identification_summary` at the
    identification threshold (``threshold``; the verification threshold when none could be
    chosen) plus, per threshold ``T`` in (verification, identification), ``T threshold``,
    ``T known accepted``, ``T known named correctly`` and ``T strangers rejected``; and one
    row per probe (``answer`` at the identification threshold, ``answer_verification``).
    """
    part = data.splits[split]
    people = sorted(set(part.frame["class_name"]), key=_natural)
    count = max(1, int(round(enrolled_fraction * len(people))))
    enrolled = people[:count]
    gallery_rows, probe_rows = [], []
    for person in people:
        rows = part.frame.index[part.frame["class_name"] == person].tolist()
        if person in enrolled:
            if len(rows) <= gallery_images:
                raise ValueError(f"person {person!r} has {len(rows)} images in {split}; "
                                 f"gallery_images={gallery_images} leaves none to probe with")
            gallery_rows.extend(rows[:gallery_images])
            probe_rows.extend(rows[gallery_images:])
        else:
            probe_rows.extend(rows)

    calibration = [name for name in data.splits if name != split] if calibration_splits is None \
        else [name for name in calibration_splits if name in data.splits and name != split]
    identification_threshold, calibration_people = verifier.identification_threshold, 0
    if calibration:
        frames = [data.splits[name].frame for name in calibration]
        calibration_images = np.concatenate([data.splits[name].images for name in calibration])
        names = pd.concat(frames)["class_name"].to_numpy()
        groups = {str(person): calibration_images[names == person] for person in dict.fromkeys(names)}
        calibration_people = len(groups)
        try:
            identification_threshold = siamese.identification_threshold_from_people(
                verifier, groups, target=identification_target, enrolled_fraction=enrolled_fraction,
                gallery_images=gallery_images, method=method, rounds=calibration_rounds, seed=seed)
        except ValueError:
            calibration_people = 0  # too few people or images there: keep the stored one
    open_set = siamese.FaceVerifier(verifier.embedding_model, verifier.threshold,
                                    metadata=verifier.metadata,
                                    identification_threshold=identification_threshold)
    gallery = open_set.enroll(
        {person: [part.images[i] for i in gallery_rows if part.frame.at[i, "class_name"] == person]
         for person in enrolled}, method=method)
    results = open_set.identify_many([part.images[i] for i in probe_rows], gallery)
    truth = [part.frame.at[i, "class_name"] for i in probe_rows]
    at_verification = [r._replace(name=r.nearest if r.distance <= verifier.threshold else siamese.UNKNOWN,
                                  threshold=verifier.threshold) for r in results]
    table = pd.DataFrame({"path": [part.frame.at[i, "path"] for i in probe_rows],
                          "person": truth, "enrolled": [t in enrolled for t in truth],
                          "answer": [r.name for r in results],
                          "answer_verification": [r.name for r in at_verification],
                          "nearest": [r.nearest for r in results],
                          "distance": [r.distance for r in results]})
    summary = siamese.identification_summary(truth, results, enrolled)
    summary.update({"enrolled_people": len(enrolled), "stranger_people": len(people) - len(enrolled),
                    "gallery_images_per_person": gallery_images, "method": method,
                    "threshold": open_set.open_set_threshold,
                    "calibration_splits": ",".join(calibration) if calibration_people else "",
                    "calibration_people": calibration_people})
    for label, answers, value in (("verification", at_verification, verifier.threshold),
                                  ("identification", results, identification_threshold)):
        scores = siamese.identification_summary(truth, answers, enrolled)
        summary[f"{label} threshold"] = value
        summary[f"{label} known accepted"] = (1.0 - scores["false_rejections"]
                                              if "false_rejections" in scores else None)
        summary[f"{label} known named correctly"] = scores.get("identification_rate")
        summary[f"{label} strangers rejected"] = scores.get("rejection_rate")
    if identification_threshold is None:
        for key in [k for k in summary if k.startswith("identification ")]:
            summary[key] = None
    return summary, table
