"""Intervals and verdicts: 95 % intervals over folds and repeated trainings and the one
format of a difference with its interval (``intervals``), the paper's claims as paired
comparisons with a verdict each (``claims``). Used by every report."""
