"""COVID-19 chest X-ray study: InceptionV3 + ReLU dense + one sigmoid unit, learning-rate
and batch-size sweeps (studies.md section 5), as ``notebooks/covid_xray.ipynb`` runs it:

1. :func:`load_data` (``data.py``): index the folder, keep two classes with
   ``positive_class`` as label 1 (the sigmoid output is P(positive_class)), carve a
   validation split out of ``train`` when the data has none, and subsample at most
   ``max_per_class`` images per class and split (the paper: 500 / 100 / 100), saved under
   ``<output_dir>/splits/`` and reused.
2. :func:`configs` (``protocol.py``): one planned run per panel of the two sweeps
   (experiments ``learning_rate`` and ``batch_size``) and seed (``seeds``); the setting
   both share is one configuration, trained once per seed.
3. :func:`run` (``protocol.py``): every setting through :func:`kerasbench.engine.run_each`
   with :func:`kerasbench.engine.train_classifier`; the test images' P(positive_class) is
   kept in each record's ``extra["test_predictions"]`` (with paths, for the samples) and
   its per-image outcomes in ``extra["predictions"]`` (for intervals and paired tests).
4. :func:`tables` (``tables.py``), :func:`figures` (``figures.py``),
   :func:`compare_with_paper` (``compare.py``): the headline (test accuracy and ROC AUC per
   setting over seeds, with 95 % intervals) and the best learning rate vs the next best
   (``headline.py``), the curves as numbers, sample predictions, the seed spread, the
   verdict per headline number, and the paper's findings and read-off levels beside this
   run's (``paper.py``).

``make_demo_data`` (``demo.py``) draws the synthetic covid / normal pictures.
"""

from kerasbench.studies.covid_xray.compare import compare_with_paper, findings_table, paper_levels
from kerasbench.studies.covid_xray.data import CovidData, load_data, prepare_data
from kerasbench.studies.covid_xray.demo import make_demo_data
from kerasbench.studies.covid_xray.figures import figures
from kerasbench.studies.covid_xray.headline import (
    HEADLINE_METRICS,
    headline,
    learning_rate_ranking,
    paired,
    paired_sentences,
    setting_label,
)
from kerasbench.studies.covid_xray.protocol import (
    BATCH_SIZE_SWEEP,
    LEARNING_RATE_SWEEP,
    PROTOCOL_VERSION,
    STUDY,
    SWEEPS,
    configs,
    model_summary,
    run,
    settings_table,
)
from kerasbench.studies.covid_xray.tables import curve_numbers, sample_predictions, tables

__all__ = [
    "BATCH_SIZE_SWEEP", "HEADLINE_METRICS", "LEARNING_RATE_SWEEP", "PROTOCOL_VERSION", "STUDY",
    "SWEEPS", "CovidData", "compare_with_paper", "configs", "curve_numbers", "figures",
    "findings_table", "headline", "learning_rate_ranking", "load_data", "make_demo_data",
    "model_summary", "paired", "paired_sentences", "paper_levels", "prepare_data", "run",
    "sample_predictions", "setting_label", "settings_table", "tables",
]
