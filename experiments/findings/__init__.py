"""What the committed results say (studies/findings.py): which runs are current
(``committed_runs``), reading and checking the committed files (``results_files``), the
answer and its forest plot (``findings_answer``, ``findings_figure``), the findings page
in two parts (``findings_page``, ``findings_studies_page``, with ``central_gap_page`` and
``width_page`` for what decides the central gain) and the README's generated blocks
(``readme_results``). Reads files only: it trains nothing."""
