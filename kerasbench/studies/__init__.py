"""One subpackage per study (its protocol, demo data and paper constants), called by its
notebook; :data:`STUDIES` lists them (see :mod:`kerasbench.studies.base`)."""

from kerasbench.studies.base import STUDIES, PlannedRun, StudyContext, get_study

__all__ = ["STUDIES", "PlannedRun", "StudyContext", "get_study"]
