"""The experiment machinery every script shares, in sub-packages by responsibility, each
building only on those before it:

- ``paper``: the configurations, presets and published numbers;
- ``statistics``: intervals and the claims' verdicts;
- ``runs``: what a run is, its options, its folder and its lock;
- ``measurement``: features, forests, feature statistics, the normalization mechanism;
- ``execution``: units, the grid, worker processes, patch data;
- ``reports``: Table I's files and the figures' shared machinery;
- ``beyond_paper``: the code of single studies (training length, readings, recalibration);
- ``segmentation``: labelling one modality and segmenting another;
- ``findings``: what the committed results say (the findings page, the README's answer).

The scripts live in ``reproduce/`` (the paper) and ``studies/`` (beyond it)."""
