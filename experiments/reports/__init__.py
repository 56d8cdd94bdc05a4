"""Table I and the figures as files: the markdown report (``table_report``), the
table's files (``table_files``), the per-pair comparisons (``pair_report``), runs of the
same settings under other arithmetic compared cell by cell (``twin_runs``) and the
figure scripts' shared options and units (``figures``)."""
