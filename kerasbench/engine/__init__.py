"""The one engine that trains and evaluates every model in the project.

Flow: a study describes each run as a :class:`RunSpec`; the engine trains it with one of
its paths and writes one :class:`~kerasbench.records.RunRecord` per run:

- :mod:`.classifier`: classifiers on images (``train_classifier`` / ``run_classification``);
- :mod:`.probe`: heads on a frozen backbone, on cached features (:mod:`.feature_cache`,
  :mod:`.device_loop`) or on images (``train_probe``);
- :mod:`.siamese`: the Siamese pair model, evaluated at several epoch counts of one training;
- :mod:`.grid`: grids of runs through KerasTuner's public ``Oracle`` API (resumable).

Every path fits through :mod:`.fitting` (the same callbacks and history), evaluates in one
ordered pass (:mod:`.evaluation`), runs under the device's performance policy and reports
progress through :mod:`.progress`; :mod:`.execute` owns identity, skipping finished runs,
timing and writing finished or failed records.
"""

from kerasbench.engine.classifier import (
    DEFAULT_CONFIG,
    classification_spec,
    resolve_config,
    run_classification,
    train_classifier,
)
from kerasbench.engine.evaluation import (
    SplitPredictions,
    cross_entropy,
    evaluate_splits,
    outputs_to_probabilities,
    predict_frame,
    probabilities_to_labels,
    split_metrics,
)
from kerasbench.engine.execute import (
    RunOutcome,
    RunSpec,
    TrainResult,
    execute,
    execute_group,
    run_each,
    run_groups,
)
from kerasbench.engine.fitting import (
    EpochTimer,
    early_stopping_callback,
    epoch_order,
    fit_epochs,
    fit_model,
    standard_callbacks,
)
from kerasbench.engine.grid import GridTrialError, run_grid
from kerasbench.engine.progress import Progress

__all__ = [
    "DEFAULT_CONFIG", "EpochTimer", "Progress", "RunOutcome", "RunSpec", "SplitPredictions",
    "TrainResult", "classification_spec", "cross_entropy", "early_stopping_callback",
    "epoch_order", "evaluate_splits", "execute", "execute_group", "fit_epochs", "fit_model",
    "outputs_to_probabilities", "predict_frame", "probabilities_to_labels", "resolve_config",
    "run_classification", "run_each", "split_metrics", "standard_callbacks",
    "train_classifier", "GridTrialError", "run_grid", "run_groups",
]
