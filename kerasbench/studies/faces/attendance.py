"""Face-based attendance with a trained verifier: enroll some held-out people, identify
every other image, and compare the verification threshold with an open-set one."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from kerasbench import siamese
from kerasbench.records import RunRecord
from kerasbench.studies.faces.data import FacesData, _natural


def best_record(records: Sequence[RunRecord], split: str = "test") -> RunRecord:
    """The run with the highest test ROC-AUC (ties: fewer epochs first, then order)."""
    records = list(records)
    if not records:
        raise ValueError("no records")
    return max(records, key=lambda r: ((r.metrics[split].get("roc_auc") or 0.0),
                                       -r.config["epochs"]))


def _gallery_and_probes(part, people, enrolled, gallery_images: int, split: str):
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
    return gallery_rows, probe_rows


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
    (``calibration_splits``, default every split but ``split``) with
    :func:`kerasbench.siamese.identification_threshold_from_people` (seeded,
    ``calibration_rounds`` random enrolled/stranger draws, ``identification_target``).
    When no calibration split can be used, the verifier's stored
    ``identification_threshold`` is reported instead (if any).

    Returns a flat summary (:func:`kerasbench.siamese.identification_summary` at the
    identification threshold plus, per threshold ``T`` in (verification, identification),
    ``T threshold``, ``T known accepted``, ``T known named correctly`` and ``T strangers
    rejected``) and one row per probe.
    """
    part = data.splits[split]
    people = sorted(set(part.frame["class_name"]), key=_natural)
    count = max(1, int(round(enrolled_fraction * len(people))))
    enrolled = people[:count]
    gallery_rows, probe_rows = _gallery_and_probes(part, people, enrolled, gallery_images, split)

    calibration = ([name for name in data.splits if name != split] if calibration_splits is None
                   else [name for name in calibration_splits
                         if name in data.splits and name != split])
    identification_threshold, calibration_people = verifier.identification_threshold, 0
    if calibration:
        frames = [data.splits[name].frame for name in calibration]
        calibration_images = np.concatenate([data.splits[name].images for name in calibration])
        names = pd.concat(frames)["class_name"].to_numpy()
        groups = {str(person): calibration_images[names == person]
                  for person in dict.fromkeys(names)}
        calibration_people = len(groups)
        try:
            identification_threshold = siamese.identification_threshold_from_people(
                verifier, groups, target=identification_target,
                enrolled_fraction=enrolled_fraction, gallery_images=gallery_images,
                method=method, rounds=calibration_rounds, seed=seed)
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
    at_verification = [r._replace(name=r.nearest if r.distance <= verifier.threshold
                                  else siamese.UNKNOWN, threshold=verifier.threshold)
                       for r in results]
    table = pd.DataFrame({"path": [part.frame.at[i, "path"] for i in probe_rows],
                          "person": truth, "enrolled": [t in enrolled for t in truth],
                          "answer": [r.name for r in results],
                          "answer_verification": [r.name for r in at_verification],
                          "nearest": [r.nearest for r in results],
                          "distance": [r.distance for r in results]})
    summary = siamese.identification_summary(truth, results, enrolled)
    summary.update({"enrolled_people": len(enrolled),
                    "stranger_people": len(people) - len(enrolled),
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
