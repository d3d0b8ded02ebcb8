"""FER2013 study: ResNet50 vs VGG19, with and without oversampling (``shared/studies.md`` §3).

The protocol, called by ``notebooks/fer2013.ipynb`` through the study verbs:

- data (:mod:`.data`): FER2013 as image folders (``train/ test/<emotion>/``), or the
  original ``fer2013.csv`` converted once into that form (:func:`prepare_data_folder`,
  :mod:`.csv`); 48x48 grey images reach the ImageNet backbones as 3 identical channels at
  ``image_size``; :func:`load_data` indexes them, optionally subsampling the training split
  (``max_per_class``, ``train_total_limit``);
- augmentation: ImageDataGenerator settings rotation 15, shifts 0.15, shear 0.15 (IDG's
  unit: degrees), zoom 0.15, horizontal flip (:data:`PAPER_AUGMENTATION`), drawn per image
  and per epoch after the cache, so oversampled duplicates are augmented independently;
- balancing: imbalanced-learn ``RandomOverSampler(random_state=seed)`` on the ROWS of the
  training split (in the engine, :mod:`kerasbench.balancing`), or class weights;
- models: backbone (fully trainable) -> GlobalAveragePooling2D -> Dense(7, softmax), Adam,
  categorical cross-entropy;
- scenarios S1 ResNet50 unbalanced, S2 VGG19 unbalanced, S3 ResNet50 balanced, S4 VGG19
  balanced (:data:`SCENARIOS`, :func:`configs`), each once per seed (``seeds=[...]``; the
  seed is in the run's identity), one run record each (:func:`run`, through
  :func:`kerasbench.engine.train_classifier`), with the per-image test outcomes;
- outputs (:func:`tables`): the headline (test accuracy and macro F1 per scenario: mean,
  spread over seeds and a 95 % bootstrap interval), the oversampling effect S3 - S1 and
  S4 - S2 on the same test images (one seed: McNemar for accuracy, a paired bootstrap for
  macro F1; several seeds: the paired bootstrap over seeds and images for both),
  this run's Tabel 4.2, per-class F1 and parameter counts; the spread over seeds, curves,
  confusion matrices and training-time bars (:func:`figures`); the paper's numbers beside
  this run's intervals with a verdict (:func:`compare_with_paper`);
- demo data: :func:`make_demo_data` (:mod:`.demo`), used when no data folder is given.
"""

from kerasbench.studies.fer2013.data import (
    MONITOR_SPLITS,
    augmentation_examples,
    balanced_training_frame,
    class_balance_table,
    default_conversion_folder,
    input_check,
    load_data,
    load_index,
    monitoring_index,
    prepare_data_folder,
)
from kerasbench.studies.fer2013.demo import make_demo_data
from kerasbench.studies.fer2013.figures import figures
from kerasbench.studies.fer2013.paper import (
    CLASS_COUNT,
    PAPER_AUGMENTATION,
    PAPER_BACKBONES,
    PAPER_PARAMETERS,
    PAPER_RESULTS,
    SCENARIOS,
    STUDY,
    TABLE_COLUMNS,
    Scenario,
)
from kerasbench.studies.fer2013.protocol import (
    BALANCED_METHODS,
    PROTOCOL_VERSION,
    configs,
    parameter_table,
    run,
)
from kerasbench.studies.fer2013.tables import (
    HEADLINE_METRICS,
    OVERSAMPLING_PAIRS,
    compare_with_paper,
    headline,
    paired,
    paired_sentences,
    paper_comparison,
    paper_side_by_side,
    per_class_f1_table,
    recorded_parameters,
    scenario_label,
    scenario_table,
    tables,
    verdicts,
)

__all__ = [
    "BALANCED_METHODS", "CLASS_COUNT", "HEADLINE_METRICS", "MONITOR_SPLITS",
    "OVERSAMPLING_PAIRS", "PAPER_AUGMENTATION", "PAPER_BACKBONES", "PAPER_PARAMETERS",
    "PAPER_RESULTS", "PROTOCOL_VERSION", "SCENARIOS", "STUDY", "TABLE_COLUMNS", "Scenario",
    "augmentation_examples", "balanced_training_frame", "class_balance_table",
    "compare_with_paper", "configs", "default_conversion_folder", "figures", "headline",
    "input_check", "load_data", "load_index", "make_demo_data", "monitoring_index", "paired",
    "paired_sentences", "paper_comparison", "paper_side_by_side", "parameter_table",
    "per_class_f1_table", "prepare_data_folder", "recorded_parameters", "run",
    "scenario_label", "scenario_table", "tables", "verdicts",
]
