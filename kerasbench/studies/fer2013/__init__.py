"""FER2013 study: ResNet50 vs VGG19, with and without oversampling (``shared/studies.md`` §3).

The protocol, called by ``notebooks/fer2013.ipynb`` through the study verbs:

- data (:mod:`.data`): FER2013 as image folders (``train/ test/<emotion>/``), or the
  original ``fer2013.csv`` converted once into that form (:func:`prepare_data_folder`,
  :mod:`.csv`); 48x48 grey images reach the ImageNet backbones as 3 identical channels at
  ``image_size``; :func:`load_data` indexes them, optionally subsampling the training split;
- augmentation: ImageDataGenerator settings rotation 15, shifts 0.15, shear 0.15 (IDG's
  unit: degrees), zoom 0.15, horizontal flip (:data:`PAPER_AUGMENTATION`), drawn per image
  and per epoch after the cache, so oversampled duplicates are augmented independently;
- balancing: imbalanced-learn ``RandomOverSampler(random_state=seed)`` on the ROWS of the
  training split (in the engine, :mod:`kerasbench.balancing`), or class weights;
- models: backbone (fully trainable) -> GlobalAveragePooling2D -> Dense(7, softmax), Adam,
  categorical cross-entropy;
- scenarios S1 ResNet50 unbalanced, S2 VGG19 unbalanced, S3 ResNet50 balanced, S4 VGG19
  balanced (:data:`SCENARIOS`, :func:`configs`), one run record each (:func:`run`, through
  :func:`kerasbench.engine.train_classifier`);
- outputs: this run's Tabel 4.2, per-class F1 and parameter counts (:func:`tables`),
  curves, confusion matrices and training-time bars (:func:`figures`), and the paper's
  table beside this run's (:func:`compare_with_paper`);
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
    compare_with_paper,
    paper_comparison,
    paper_side_by_side,
    per_class_f1_table,
    recorded_parameters,
    scenario_table,
    tables,
)

__all__ = [
    "BALANCED_METHODS", "CLASS_COUNT", "MONITOR_SPLITS", "PAPER_AUGMENTATION",
    "PAPER_BACKBONES", "PAPER_PARAMETERS", "PAPER_RESULTS", "PROTOCOL_VERSION", "SCENARIOS",
    "STUDY", "TABLE_COLUMNS", "Scenario", "augmentation_examples", "balanced_training_frame",
    "class_balance_table", "compare_with_paper", "configs", "default_conversion_folder",
    "figures", "input_check", "load_data", "load_index", "make_demo_data", "monitoring_index",
    "paper_comparison", "paper_side_by_side", "parameter_table", "per_class_f1_table",
    "prepare_data_folder", "recorded_parameters", "run", "scenario_table", "tables",
]
