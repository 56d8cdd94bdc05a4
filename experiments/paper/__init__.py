"""The paper's fixed facts: its Table I configurations and the run presets
(``configurations``), and its published numbers and scale (``published``). Everything
else builds on these; they import nothing of the experiments."""
