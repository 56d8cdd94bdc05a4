#!/usr/bin/env python3
"""The findings page: what reproduces, generated from the committed results, never written
by hand. Reads every paper_figures/*/table1.json (and the readings studies'
claims_by_reading.csv, the training-length studies' accuracy_vs_updates.csv, the
evaluation-time normalization's normalization_at_evaluation.json beside a table) and
writes paper_figures/FINDINGS.md:

- the scale of every run beside the paper's (updates, training subjects, features,
  patches);
- the central claims per run and reading: our difference, its 95 % interval, the verdict
  and the paper's value;
- the controls (raw intensities, an untrained network) against the networks;
- where the central effect lives (per ordered modality pair);
- what normalizing the features at evaluation time does;
- how far runs of the same settings move when only their arithmetic differs (another
  processor or thread count).

    python studies/findings.py                 # rewrites paper_figures/FINDINGS.md
    python studies/findings.py --check         # exit 1 when the committed page is stale

A test regenerates the page and fails when the committed one differs.
"""
import argparse
import sys
from pathlib import Path

from experiments import readme_results, results_files
from experiments.findings_page import (CENTRAL, CONTROLS, PAGE, README, RESULTS,
                                       length_cells, page, reading_rows, tables)
from runtime.files import atomic_write_text


def readme_section(results, readme):
    """``readme``'s text with its results section generated from ``results``."""
    documents = tables(results)
    generated = readme_results.section(documents, reading_rows(results), results)
    return readme_results.replaced(readme.read_text(), generated)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="the folder of committed results (default paper_figures/)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when the page differs from the files")
    parser.add_argument("--readme", type=Path, default=README,
                        help="the README whose results section is generated (default the "
                        "repository's; with another --results, none unless given)")
    args = parser.parse_args(argv)
    text, path = page(args.results), args.results / PAGE
    readme = args.readme if (args.readme != README or args.results == RESULTS) else None
    readme_text = readme_section(args.results, readme) if readme else None
    if args.check:
        current = path.read_text() if path.exists() else ""
        stale = 0
        if current == text:
            print(f"{path} is up to date")
        else:
            print(f"{path} is stale: {results_files.stale_runs(current, text)}; regenerate it "
                  "with `python studies/findings.py`")
            stale = 1
        if readme and readme.read_text() != readme_text:
            print(f"{readme}'s results section is stale; regenerate it with "
                  "`python studies/findings.py`")
            stale = 1
        return stale
    atomic_write_text(path, text)
    if readme:
        atomic_write_text(readme, readme_text)
        print(f"wrote the results section of {readme}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
