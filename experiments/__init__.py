"""The experiment machinery every script shares: what a run is (``run``, ``options``,
``command_line``, ``run_folder``), the configurations and presets (``configurations``),
the grid and its units (``grid``, ``unit``, ``features``, ``forests``), the published
numbers and the claims (``published``, ``claims``), intervals, and the reports of Table I,
the figures and the studies. The scripts live in ``reproduce/`` (the paper) and
``studies/`` (beyond it)."""
