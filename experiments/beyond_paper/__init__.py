"""The code of single studies beyond the paper, each beside the script it serves:
training length (``training_length_units``, ``kept_scores``, ``length_mechanism``: used by
studies/accuracy_vs_updates.py), the readings of what the paper leaves open
(``reading_mechanism``, ``reading_report``: studies/claims_by_reading.py) and
recalibrated statistics (``recalibrated_units``: studies/recalibration_effect.py)."""
