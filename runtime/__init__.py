"""Helpers that every job shares and that know nothing of networks or data: a quiet
TensorFlow start-up, the console (progress lines, durations, byte counts), files
written atomically and their checksums, and the versions a run records.

``models`` and ``data`` may use them (they never import each other); so may the job
scripts in ``reproduce/``, ``benchmarks/`` and ``examples/``.
"""
