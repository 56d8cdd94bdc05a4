"""The code of single studies beyond the paper, each beside the script it serves:
training length (``training_length_units``, ``kept_scores``, ``length_mechanism``: used by
studies/accuracy_vs_updates.py), the readings of what the paper leaves open
(``reading_mechanism``, ``reading_report``: studies/claims_by_reading.py), the
representation's width (``width_numbers``, ``width_report``:
studies/central_gap_by_width.py), what those two share (``variant_study``: one run folder
per variant, units interleaved) and recalibrated statistics (``recalibrated_units``:
studies/recalibration_effect.py)."""
