"""What the committed results say (studies/findings.py): which runs are current
(``committed_runs``), reading and checking the committed files (``results_files``), runs
of the same settings under other arithmetic (``twin_runs``), the answer and its forest
plot (``findings_answer``, ``findings_figure``), the findings page in two parts
(``findings_page``, ``findings_studies_page``, ``central_gap_page``) and the README's
generated blocks (``readme_results``). Reads files only: it trains nothing."""
