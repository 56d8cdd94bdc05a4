"""Running a grid: one unit trained, measured and saved (``unit``), the grid of units
with progress, sharding and resuming (``grid``), worker processes on every core
(``workers``), the prepared data and patch tables (``patch_data``) and the cost line of a
long run (``cost``). Used by table1.py, the figure scripts and the studies."""
