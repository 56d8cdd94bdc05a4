#!/usr/bin/env python3
"""The findings page: what reproduces, generated from the committed results, never written
by hand. Reads every paper_figures/*/table1.json (and the readings studies'
claims_by_reading.csv, the training-length studies' accuracy_vs_updates.csv, the
evaluation-time normalization's normalization_at_evaluation.json beside a table) and
writes paper_figures/FINDINGS.md, the answer's numbers (findings_answer.json), the forest
plot of the paper's comparisons (findings_forest.png and .csv) and the README's answer
and results:

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
    python studies/findings.py --check         # exit 1 when a generated file is stale

A test regenerates the page and fails when the committed one differs.
"""
import argparse
import json
from pathlib import Path

from experiments.findings import (findings_answer, findings_figure, readme_results,
                                  results_files)
from experiments.findings.findings_page import (PAGE, README, RESULTS, page, reading_rows,
                                                tables)
from runtime.files import atomic_write_text
from runtime.console import run_script, script_main

ANSWER_FILE = "findings_answer.json"


def readme_section(results, readme):
    """``readme``'s text with its answer and results blocks generated from ``results``."""
    documents, readings = tables(results), reading_rows(results)
    text = readme_results.replaced(
        readme.read_text(), readme_results.answer_block(documents, readings, results),
        readme_results.ANSWER)
    return readme_results.replaced(
        text, readme_results.section(documents, readings, results), readme_results.RESULTS)


def generated_files(results):
    """{path: text} of every text file this program owns besides the README (the figure's
    PNG is drawn beside them and not compared: its pixels depend on matplotlib's version)."""
    documents, readings = tables(results), reading_rows(results)
    facts = findings_answer.facts(documents, readings, results)
    rows = findings_answer.headline_rows(documents)
    return {Path(results) / PAGE: page(results),
            Path(results) / f"{findings_figure.NAME}.csv": findings_figure.csv_text(rows),
            Path(results) / ANSWER_FILE: json.dumps(facts, indent=1, sort_keys=True) + "\n"}


@script_main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="the folder of committed results (default paper_figures/)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when a generated file differs from what "
                        "the results give")
    parser.add_argument("--readme", type=Path, default=README,
                        help="the README whose answer and results are generated (default the "
                        "repository's; with another --results, none unless given)")
    args = parser.parse_args(argv)
    files = generated_files(args.results)
    readme = args.readme if (args.readme != README or args.results == RESULTS) else None
    readme_text = readme_section(args.results, readme) if readme else None
    if args.check:
        stale = 0
        for path, text in files.items():
            current = path.read_text() if path.exists() else ""
            if current == text:
                print(f"{path} is up to date")
                continue
            why = (results_files.stale_runs(current, text) if path.name == PAGE else
                   "it differs from what the results give")
            print(f"{path} is stale: {why}; regenerate it with `python studies/findings.py`")
            stale = 1
        if readme and readme.read_text() != readme_text:
            print(f"{readme}'s generated answer or results are stale; regenerate them with "
                  "`python studies/findings.py`")
            stale = 1
        return stale
    for path, text in files.items():
        atomic_write_text(path, text)
        print(f"wrote {path}")
    documents = tables(args.results)
    findings_figure.draw(findings_answer.headline_rows(documents),
                         Path(args.results) / f"{findings_figure.NAME}.png")
    print(f"wrote {Path(args.results) / findings_figure.NAME}.png")
    if readme:
        atomic_write_text(readme, readme_text)
        print(f"wrote the answer and results of {readme}")
    return 0


if __name__ == "__main__":
    run_script(main)
