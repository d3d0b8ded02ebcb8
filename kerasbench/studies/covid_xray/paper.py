"""What the paper (seed 004, studies.md section 5) did and reported.

It prints no table of numbers: its results are curves (one panel per setting), so
:data:`PAPER_NUMBERS` are levels read off those curves, and :data:`PAPER_FINDINGS` the
paper's own reading of them.
"""

from __future__ import annotations

PAPER = ("Covid X-ray classification with InceptionV3: comparing Adam learning rates and "
         "batch sizes (seed 004)")

PAPER_LEARNING_RATES = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7)
PAPER_LR_SWEEP_BATCH_SIZE = 5
PAPER_BATCH_SIZES = (5, 10, 15)
PAPER_BATCH_SWEEP_LEARNING_RATE = 1e-4
PAPER_EPOCHS = 20
# Images per class and split of the paper's subsample (read as per class, see the notebook).
PAPER_MAX_PER_CLASS = {"train": 500, "validation": 100, "test": 100}
# ImageDataGenerator names AND meanings (shear in degrees), as the paper describes them.
PAPER_AUGMENTATION = {
    "rotation_range": 20,
    "zoom_range": 0.2,
    "shear_range": 0.2,
    "width_shift_range": 0.2,
    "height_shift_range": 0.2,
}
PAPER_BACKBONE = "inceptionv3"
PAPER_IMAGE_SIZE = 299
# The paper's sample predictions come from lr 1e-4, batch 5.
PAPER_SAMPLE_SETTING = (1e-4, 5)

# What the paper reports, read off its curves.
PAPER_FINDINGS = {
    "best_learning_rates": (
        "lr 1e-4 and 1e-5 are best: train and validation loss mostly under 0.2, accuracy near 1"
    ),
    "high_learning_rates_unstable": (
        "lr 1e-2 and 1e-3: accuracy near 1 but the loss swings, reaching about 0.8 (1e-2) "
        "and almost 1 (1e-3)"
    ),
    "low_learning_rates_worse": (
        "lr 1e-6 and 1e-7: loss mostly around 0.2-0.3, worse than 1e-4 / 1e-5"
    ),
    "best_batch_size": "batch 5 is best (loss near 0, under 0.2)",
    "larger_batches_spike": "batch 10 and 15: the loss has very high points (spikes)",
    "sample_predictions": (
        "two test images (lr 1e-4, batch 5): a normal one scored 0.996 and a covid one 0.0000157, "
        "so the paper's sigmoid output was P(normal): its class 1 was 'normal' (alphabetical "
        "folder order)"
    ),
}
PAPER_NUMBERS = {
    "max validation loss, lr 1e-2 (read off the curve)": 0.8,
    "max validation loss, lr 1e-3 (read off the curve)": 1.0,
    "typical loss, lr 1e-4 and 1e-5 (upper level, read off)": 0.2,
    "typical loss, lr 1e-6 and 1e-7 (read off)": 0.25,
    "P(normal), sample normal image": 0.996,
    "P(normal), sample covid image": 0.0000157,
}
# The headline numbers the paper prints, {(setting label, metric): value}: none. It shows
# curves only and reports no test accuracy or ROC AUC for any setting, so every headline
# verdict on real data is "not comparable: not reported".
PAPER_HEADLINE: dict[tuple[str, str], float] = {}
