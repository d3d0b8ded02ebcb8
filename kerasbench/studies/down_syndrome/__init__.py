"""Down syndrome faces: ResNet transfer learning in three batch-size / learning-rate runs.

Paper: M. D. A. Pranatha, G. H. Setiawan, M. A. Maricar (2024), "Utilization of ResNet
Architecture and Transfer Learning Method in the Classification of Faces of Individuals with
Down Syndrome". Protocol (``shared/studies.md`` section 4):

- data: Kaggle ``mervecayli/detection-of-down-syndrome-in-children``, 3,000 photos of
  children, two classes; the paper's split is train 1046 / 1053, validation 307 / 297, test
  147 / 150 (down syndrome / healthy), i.e. about 70 / 20 / 10 %;
- augmentation: resize to 224x224, random resized crop, random horizontal flip (training
  only);
- model: ResNet34 pretrained on ImageNet, early layers frozen, last layers retrained, a dense
  softmax head; AdamW (decoupled weight decay); up to 100 epochs with early stopping on
  validation (the runs stopped at epochs 30, 56, 58);
- experiments: E1 batch 32, lr 1e-4; E2 batch 128, lr 1e-3; E3 batch 256, lr 1e-3.

Keras Applications has no ResNet34, so the study runs ResNet50 (ImageNet) by default and the
registry's ResNet34 (:mod:`kerasbench.backbones`) is there for users who bring weights.

The verbs, in the notebook's order: :func:`load_data`, :func:`configs` (each experiment
once per seed), :func:`run`, :func:`tables` (the headline: test accuracy per experiment
over seeds with a 95 % interval; E1 vs E2 vs E3 on the same test images), :func:`figures`,
:func:`compare_with_paper` (the paper's accuracy against the interval: a verdict).
Modules: ``data`` (the index, positive class = label 1), ``protocol`` (experiments ->
engine configs, running them),
``model`` (parameter counts per number of retrained stages), ``tables``, ``figures``,
``paper`` (the paper's numbers) and ``demo`` (the synthetic demo faces).
"""

from kerasbench.studies.down_syndrome.data import (
    augmentation_examples,
    counts_beside_paper,
    load_data,
    load_index,
)
from kerasbench.studies.down_syndrome.demo import make_demo_data
from kerasbench.studies.down_syndrome.figures import figures
from kerasbench.studies.down_syndrome.model import parameter_count_table
from kerasbench.studies.down_syndrome.paper import (
    DATASET_NAME,
    KAGGLE_SLUG,
    PAPER_CONFUSION,
    PAPER_EXPERIMENTS,
    PAPER_RESULTS,
    paper_confusion_frame,
    paper_consistency_table,
    paper_results_table,
)
from kerasbench.studies.down_syndrome.protocol import (
    DEFAULT_AUGMENTATION,
    PROTOCOL_VERSION,
    STUDY,
    configs,
    describe_augmentation,
    run,
)
from kerasbench.studies.down_syndrome.tables import (
    HEADLINE_METRIC,
    compare_with_paper,
    confusion_frame,
    headline,
    paired,
    paired_sentences,
    paper_detail,
    representative_runs,
    tables,
)

__all__ = [
    "DATASET_NAME", "DEFAULT_AUGMENTATION", "HEADLINE_METRIC", "KAGGLE_SLUG", "PAPER_CONFUSION",
    "PAPER_EXPERIMENTS", "PAPER_RESULTS", "PROTOCOL_VERSION", "STUDY",
    "augmentation_examples", "compare_with_paper", "configs", "confusion_frame",
    "counts_beside_paper", "describe_augmentation", "figures", "headline", "load_data",
    "load_index", "make_demo_data", "paired", "paired_sentences", "paper_confusion_frame",
    "paper_consistency_table", "paper_detail", "paper_results_table",
    "parameter_count_table", "representative_runs", "run", "tables",
]
