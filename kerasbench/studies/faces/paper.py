"""The paper's numbers: per-class precision / recall / F1 of its Tables 2-5.

*Siamese Neural Network with SqueezeNet for face recognition* (face verification for
attendance; ``shared/seeds/000_1cd8d9e121139b54.txt``, ``shared/studies.md`` section 1):
grid optimizer {SGD, Adam} x learning rate {0.01, 0.001} x epochs {50, 75, 100}, scored on
its validation pairs. "same" is the paper's "True" pair label, "different" its "False".
"""

from __future__ import annotations

PAPER = ("Siamese Neural Network with SqueezeNet for face recognition (face verification "
         "for attendance); shared/seeds/000_1cd8d9e121139b54.txt")
PAPER_EPOCHS = (50, 75, 100)
PAPER_OPTIMIZERS = ("sgd", "adam")
PAPER_LEARNING_RATES = (0.01, 0.001)
QUANTITIES = ("precision", "recall", "f1")
PAIR_CLASSES = ("same", "different")

# {(optimizer, learning rate, epochs): ((same P, R, F1), (different P, R, F1))}
_PAPER_ROWS = {
    ("sgd", 0.01, 50): ((1.00, 0.95, 0.98), (0.95, 1.00, 0.98)),
    ("sgd", 0.01, 75): ((1.00, 0.94, 0.97), (0.94, 1.00, 0.97)),
    ("sgd", 0.01, 100): ((1.00, 0.96, 0.98), (0.97, 1.00, 0.98)),
}
for _epochs in PAPER_EPOCHS:
    _PAPER_ROWS[("adam", 0.01, _epochs)] = ((0.00, 0.00, 0.00), (0.50, 1.00, 0.67))
    _PAPER_ROWS[("sgd", 0.001, _epochs)] = ((1.00, 1.00, 1.00), (1.00, 1.00, 1.00))
    _PAPER_ROWS[("adam", 0.001, _epochs)] = ((1.00, 1.00, 1.00), (1.00, 1.00, 1.00))

# {(optimizer, learning rate, epochs): {"same": {"precision": ..}, "different": {..}}}
PAPER_RESULTS = {
    key: {"same": dict(zip(QUANTITIES, same)), "different": dict(zip(QUANTITIES, different))}
    for key, (same, different) in _PAPER_ROWS.items()
}
# Adam at 0.01 collapsed: every pair called "False" (different).
PAPER_COLLAPSED = {key: key[:2] == ("adam", 0.01) for key in PAPER_RESULTS}
PAPER_SECONDS_PER_VERIFICATION = 5.0  # an upper bound: "under five seconds"
# The headline: macro F1 (mean of the two pair classes' F1), which the paper's tables give.
HEADLINE_METRIC = "macro_f1"


def paper_key(optimizer: str, learning_rate: float, paper_epochs) -> tuple | None:
    """The paper's row for this setting, or None when the paper has none."""
    if paper_epochs is None:
        return None
    key = (str(optimizer).lower(), float(learning_rate), int(paper_epochs))
    return key if key in PAPER_RESULTS else None


def paper_macro_f1(key: tuple | None) -> float | None:
    """The paper's macro F1 of one row (None when it reports none)."""
    if key is None:
        return None
    row = PAPER_RESULTS[key]
    return (row["same"]["f1"] + row["different"]["f1"]) / 2
