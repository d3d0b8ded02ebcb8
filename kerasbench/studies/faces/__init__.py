"""Study 1: face verification with a Siamese SqueezeNet (notebooks/faces.ipynb).

The paper (``shared/studies.md`` section 1): two weight-sharing SqueezeNet branches,
Euclidean distance, contrastive loss; grid optimizer {SGD, Adam} x learning rate
{0.01, 0.001} x epochs {50, 75, 100}; per-class precision / recall / F1 of "True" (same
person) and "False" (different people) pairs on an 80/20 split; verification under 5 s
per pair.

The verbs, in the notebook's order: :func:`load_data` (people split by person, images
decoded once, evaluation pairs kept on disk), :func:`configs` (the grid, once per seed),
:func:`run` (one training per optimizer x learning rate x seed, evaluated at each epoch
count, through the engine's Siamese path), :func:`tables`, :func:`figures`,
:func:`compare_with_paper` (macro F1 verdicts with 95 % intervals, and the per-class
detail). Modules: ``data``, ``protocol``, ``tables``, ``figures``, ``attendance`` (enroll
and identify with a saved verifier), ``paper`` (the paper's numbers), ``demo`` (the
synthetic demo people).
"""

from kerasbench.studies.faces.attendance import attendance_check, best_record
from kerasbench.studies.faces.data import (
    SPLIT_MODES,
    FacesData,
    SplitImages,
    dataset_counts,
    images_per_person,
    load_data,
    load_faces,
    pair_examples,
    split_by_image,
    split_by_person,
)
from kerasbench.studies.faces.demo import make_demo_data
from kerasbench.studies.faces.figures import figures, representative_runs
from kerasbench.studies.faces.paper import (
    HEADLINE_METRIC,
    PAPER,
    PAPER_COLLAPSED,
    PAPER_EPOCHS,
    PAPER_RESULTS,
    PAPER_SECONDS_PER_VERIFICATION,
)
from kerasbench.studies.faces.protocol import PROTOCOL_VERSION, STUDY, configs, run
from kerasbench.studies.faces.tables import (
    compare_with_paper,
    headline,
    latency_table,
    paired,
    per_class_detail,
    run_label,
    summary_table,
    tables,
)

__all__ = [
    "HEADLINE_METRIC", "PAPER", "PAPER_COLLAPSED", "PAPER_EPOCHS", "PAPER_RESULTS",
    "PAPER_SECONDS_PER_VERIFICATION", "PROTOCOL_VERSION", "SPLIT_MODES", "STUDY", "FacesData",
    "SplitImages", "attendance_check", "best_record", "compare_with_paper", "configs",
    "dataset_counts", "figures", "headline", "images_per_person", "latency_table",
    "load_data", "load_faces", "make_demo_data", "pair_examples", "paired",
    "per_class_detail", "representative_runs", "run", "run_label", "split_by_image",
    "split_by_person", "summary_table", "tables",
]
