"""Files -> index: dataset folders, splits, demo data and dataset sources."""
