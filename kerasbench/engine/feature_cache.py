"""On-disk feature cache: pooled features of a split computed once, in an ordered
unshuffled pass, stored as ``.npz`` arrays + ``.json`` meta (both written atomically)
under a key that hashes every input they depend on, and handed to later trials, runs
and processes.

A cache entry that cannot be used (a truncated or corrupt ``.npz``, a ``.json`` meta that
is not valid JSON or does not match its key, shape or labels: a disk filled up, a copy cut
short, a file edited by hand) is never an error: a line names the file and why, and the
features are computed again and written over it."""

from __future__ import annotations

import collections
import datetime as _datetime
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kerasbench.engine.feature_keys import (
    _compute_settings,
    _hash,
    content_hash_default,
    feature_key,
    feature_key_inputs,
    feature_policy,
    weights_descriptor,
)
from kerasbench.engine.feature_models import build_extractor, ordered_outputs_shared
from kerasbench.io import canonical_json, write_json_atomic, write_npz_atomic


@dataclass
class SplitFeatures:
    """Pooled features of one split, row ``i`` being row ``i`` of the split's frame."""

    split: str
    features: np.ndarray
    labels: np.ndarray
    key: str
    hit: bool
    seconds: float
    compute_seconds: float
    path: Path | None = None
    meta: dict = field(default_factory=dict)

    @property
    def feature_dim(self) -> int:
        return int(self.features.shape[1])


class FeatureCache:
    """Pooled backbone features on disk, keyed by everything they depend on.

    Args:
        folder: where ``<backbone>-<h>x<w>-<split>-<key>.npz`` and ``.json`` files go.
            Any folder works; share one between runs to reuse features across them.
        batch_size: images per forward pass when computing features; ``"auto"`` takes
            ``GPU_BATCH_SIZE`` on a GPU (large batches keep it busy; a frozen forward pass
            keeps no activations for a backward pass) and ``CPU_BATCH_SIZE`` on a CPU.
        keep_extractors: built extractor models kept in memory (building and tracing a
            large backbone costs seconds; the final model and out-of-distribution
            predictions reuse them).
        keep_in_memory: feature arrays kept in memory after loading or computing.
        verbose: print one line per computed split.
        content_hash: also key entries on the sha256 of every image file (read once per
            key) besides the file list, sizes and modification times; ``None`` takes
            ``KERASBENCH_CONTENT_HASH`` (off unless set). See
            :mod:`~kerasbench.engine.feature_keys` for when it matters.

    ``hits`` and ``misses`` count splits read from disk or memory versus computed;
    ``recovered`` lists the unusable files that were computed again.

    Every method that computes features takes the ``policy`` they are computed under (a
    :class:`~kerasbench.performance.PerformancePolicy`, see :func:`feature_policy`; the
    device's default when ``None``); its compute dtype is part of the key.
    """

    CPU_BATCH_SIZE = 64
    GPU_BATCH_SIZE = 256

    def __init__(self, folder: str | os.PathLike, *, batch_size: int | str = "auto",
                 keep_extractors: int = 2, keep_in_memory: int = 12, verbose: bool = True,
                 content_hash: bool | None = None):
        if batch_size == "auto":
            from kerasbench.performance import device_description

            on_gpu = device_description()["kind"] == "GPU"
            batch_size = self.GPU_BATCH_SIZE if on_gpu else self.CPU_BATCH_SIZE
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(
                f"FeatureCache batch_size must be a positive int or 'auto', got {batch_size!r}")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.batch_size = int(batch_size)
        self.keep_extractors = int(keep_extractors)
        self.keep_in_memory = int(keep_in_memory)
        self.verbose = verbose
        self.content_hash = content_hash_default() if content_hash is None else bool(content_hash)
        self.hits = 0
        self.misses = 0
        self.recovered: list[Path] = []
        self._extractors: collections.OrderedDict = collections.OrderedDict()
        self._memory: collections.OrderedDict = collections.OrderedDict()

    # ----- naming
    def key(self, backbone: str, *, weights, image_size, frame, seed, interpolation="bilinear",
            policy=None):
        return feature_key(backbone, weights=weights, image_size=image_size, frame=frame,
                           seed=seed, interpolation=interpolation, policy=policy,
                           content_hash=self.content_hash)

    def _paths(self, inputs: dict, split: str, key: str) -> tuple[Path, Path]:
        height, width = inputs["image_size"]
        stem = f"{inputs['backbone']}-{height}x{width}-{split}-{key}"
        return self.folder / f"{stem}.npz", self.folder / f"{stem}.json"

    def contains(self, backbone: str, *, weights, image_size, frame, split: str, seed,
                 interpolation="bilinear", policy=None) -> bool:
        inputs = feature_key_inputs(backbone, weights=weights, image_size=image_size,
                                    frame=frame, seed=seed, interpolation=interpolation,
                                    policy=policy, content_hash=self.content_hash)
        key = _hash(inputs)
        return key in self._memory or self._read(*self._paths(inputs, split, key), key,
                                                 frame) is not None

    # ----- extractors
    def extractor(self, backbone: str, *, weights, image_size, seed: int, policy=None):
        """The (memoised) frozen extractor for these settings."""
        from kerasbench.backbones import get_backbone, resolve_image_size

        spec = get_backbone(backbone)
        size = resolve_image_size(spec, image_size)
        policy = policy or feature_policy(spec.name)
        memo_key = canonical_json({"backbone": spec.name, "size": list(size),
                                   "weights": weights_descriptor(weights, seed),
                                   "compute": _compute_settings(policy)})
        if memo_key in self._extractors:
            self._extractors.move_to_end(memo_key)
            return self._extractors[memo_key]
        model = build_extractor(spec.name, size, weights=weights, seed=seed, policy=policy)
        if self.keep_extractors > 0:
            self._extractors[memo_key] = model
            while len(self._extractors) > self.keep_extractors:
                self._extractors.popitem(last=False)
        return model

    def forget_extractors(self) -> None:
        self._extractors.clear()

    # ----- features
    def features(self, backbone: str, *, weights, image_size, frames: Mapping[str, pd.DataFrame],
                 seed: int, interpolation: str = "bilinear",
                 policy=None) -> dict[str, SplitFeatures]:
        """Features of every split in ``frames`` (name -> index frame): from memory, from
        disk, or computed now (one extractor for all missing splits) and stored."""
        return self.features_shared(
            [backbone], weights=weights, image_size=image_size, frames=frames, seed=seed,
            interpolation=interpolation, policies={backbone: policy})[backbone]

    def features_shared(self, backbones, *, weights, image_size,
                        frames: Mapping[str, pd.DataFrame], seed: int,
                        interpolation: str = "bilinear",
                        policies: Mapping | None = None) -> dict[str, dict[str, SplitFeatures]]:
        """:meth:`features` of several backbones at one image size: backbone -> split ->
        features. The backbones that miss the same splits are computed together, over
        one decoding of those images (each batch is decoded and resized once and fed to
        every extractor), so a grid's image size pays the input pipeline once, not once
        per backbone. ``policies``: backbone -> policy (each backbone's
        :func:`feature_policy` when absent or None)."""
        policies = {backbone: (policies or {}).get(backbone) or feature_policy(backbone)
                    for backbone in backbones}
        found: dict[str, dict] = {}
        waiting: dict[tuple, list] = {}  # missing splits -> [(backbone, missing entries)]
        for backbone in backbones:
            found[backbone], missing = self._lookup(backbone, weights, image_size, frames,
                                                    seed, interpolation, policies[backbone])
            if missing:
                waiting.setdefault(tuple(missing), []).append((backbone, missing))
        for splits, group in waiting.items():
            extractors = [self.extractor(backbone, weights=weights, image_size=image_size,
                                         seed=seed, policy=policies[backbone])
                          for backbone, _ in group]
            first = group[0][1]
            size = tuple(first[splits[0]][1]["image_size"])
            # One ordered pass over all missing splits: one short (padded) last batch
            # instead of one per split.
            columns = ["path", "label"] if all(
                "label" in first[split][0].columns for split in splits) else ["path"]
            joined = pd.concat([first[split][0][columns] for split in splits],
                               ignore_index=True)
            outputs, labels, seconds = ordered_outputs_shared(
                extractors, joined, image_size=size, batch_size=self.batch_size,
                interpolation=interpolation)
            for (backbone, missing), features, own_seconds in zip(group, outputs, seconds):
                # Each backbone is charged its own forward passes and a share of decoding.
                self._store(backbone, missing, features, labels, own_seconds, size,
                            found[backbone])
        return {backbone: {split: found[backbone][split] for split in frames}
                for backbone in backbones}

    def _lookup(self, backbone, weights, image_size, frames, seed, interpolation, policy):
        """(split -> features found in memory or on disk, split -> what to compute)."""
        out, missing = {}, {}
        for split, frame in frames.items():
            start = time.perf_counter()
            inputs = feature_key_inputs(backbone, weights=weights, image_size=image_size,
                                        frame=frame, seed=seed, interpolation=interpolation,
                                        policy=policy, content_hash=self.content_hash)
            key = _hash(inputs)
            if key in self._memory:
                self._memory.move_to_end(key)
                cached = self._memory[key]
                out[split] = _replace(cached, split=split, hit=True,
                                      seconds=time.perf_counter() - start)
                self.hits += 1
                continue
            array_path, meta_path = self._paths(inputs, split, key)
            loaded = self._read(array_path, meta_path, key, frame)
            if loaded is not None:
                features, labels, meta = loaded
                result = SplitFeatures(split, features, labels, key, True,
                                       time.perf_counter() - start,
                                       float(meta.get("compute_seconds", 0.0)), array_path, meta)
                self._remember(result)
                out[split] = result
                self.hits += 1
                continue
            missing[split] = (frame, inputs, key, array_path, meta_path)
        return out, missing

    def _store(self, backbone, missing, features, labels, total_seconds, size, out) -> None:
        """Write each missing split's rows of one computed pass and add them to ``out``."""
        from kerasbench.backbones import get_backbone

        offset = 0
        for split, (frame, inputs, key, array_path, meta_path) in missing.items():
            rows = len(frame)
            split_features = features[offset:offset + rows]
            split_labels = labels[offset:offset + rows]
            offset += rows
            # The pass is shared; each split is charged its share of rows.
            compute_seconds = total_seconds * rows / max(len(features), 1)
            meta = {
                "key": key,
                "split": split,
                "inputs": inputs,
                "shape": list(split_features.shape),
                "dtype": str(split_features.dtype),
                "compute_seconds": compute_seconds,
                "batch_size": self.batch_size,
                "created": _datetime.datetime.now(_datetime.timezone.utc).isoformat(),
            }
            write_npz_atomic(array_path, features=split_features, labels=split_labels)
            # The meta file is written last: its presence marks a complete entry.
            write_json_atomic(meta_path, meta)
            result = SplitFeatures(split, split_features, split_labels, key, False,
                                   compute_seconds, compute_seconds, array_path, meta)
            self._remember(result)
            out[split] = result
            self.misses += 1
        if self.verbose:
            height, width = size
            shapes = ", ".join(f"{split} {out[split].features.shape[0]}" for split in missing)
            print(f"features: {get_backbone(backbone).name} {height}x{width}: {shapes} "
                  f"images x {features.shape[1]} in {total_seconds:.1f}s")

    def _remember(self, result: SplitFeatures) -> None:
        if self.keep_in_memory <= 0:
            return
        self._memory[result.key] = result
        self._memory.move_to_end(result.key)
        while len(self._memory) > self.keep_in_memory:
            self._memory.popitem(last=False)

    def forget_memory(self) -> None:
        """Drop in-memory arrays (the files stay); the next request reads the disk."""
        self._memory.clear()

    def _read(self, array_path: Path, meta_path: Path, key: str, frame: pd.DataFrame):
        """``(features, labels, meta)`` of a complete, intact entry, else None; an entry
        that exists but cannot be used is named in a printed line (and in ``recovered``)
        so that it is computed again and replaced."""
        if not meta_path.exists():
            # The meta is written last: without it the entry is incomplete (or absent).
            return None
        problem = _entry_problem(array_path, meta_path, key, frame)
        if isinstance(problem, tuple):
            return problem
        print(f"features: ignoring unreadable cache entry {problem[0]} ({problem[1]}); "
              "computing it again")
        self.recovered.append(Path(problem[0]))
        return None


def _entry_problem(array_path: Path, meta_path: Path, key: str, frame: pd.DataFrame):
    """The entry's arrays and meta, or ``[path, what is wrong]``."""
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except Exception as error:  # noqa: BLE001 - truncated, not JSON, not UTF-8, unreadable
        return [meta_path, f"meta file is not valid JSON: {type(error).__name__}: {error}"]
    if not isinstance(meta, dict) or meta.get("key") != key:
        return [meta_path, "meta file does not belong to this key"]
    if not array_path.exists():
        return [array_path, f"array file is missing, its meta {meta_path.name} is not"]
    try:
        with np.load(array_path, allow_pickle=False) as arrays:
            features = np.asarray(arrays["features"], dtype=np.float32)
            labels = np.asarray(arrays["labels"], dtype=np.int64)
    except Exception as error:  # noqa: BLE001 - BadZipFile, EOFError, zlib.error, KeyError...
        return [array_path, f"{type(error).__name__}: {error}"]
    if list(features.shape) != meta.get("shape") or len(labels) != len(frame):
        return [array_path, f"arrays of shape {list(features.shape)} and {len(labels)} labels "
                            f"do not match the meta's {meta.get('shape')} and {len(frame)} rows"]
    if "label" in frame.columns and not np.array_equal(
            labels, frame["label"].to_numpy().astype(np.int64)):
        return [array_path, "it holds other labels than the frame"]
    return features, labels, meta


def _replace(result: SplitFeatures, **changes) -> SplitFeatures:
    values = dict(result.__dict__)
    values.update(changes)
    return SplitFeatures(**values)

