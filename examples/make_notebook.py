#!/usr/bin/env python3
"""Makes a Jupyter notebook from a walkthrough in the keras-io examples format.

    python examples/make_notebook.py                       # the cross-modality walkthrough
    python examples/make_notebook.py SCRIPT.py [NOTEBOOK.ipynb]

The script stays the source: its header docstring (Title, Author, ...) becomes the
first markdown cell, every top-level ``\"\"\"...\"\"\"`` block a markdown cell, and the code
between them code cells, with empty outputs. Plain JSON (nbformat 4): no notebook
tooling is needed to make it, only to open it.
"""
import argparse
import json
from pathlib import Path
from runtime.console import run_script, script_main

HERE = Path(__file__).resolve().parent
DEFAULT = HERE / "cross_modality_walkthrough.py"


def cells(text):
    """[(kind, source)] of a keras-io example: "markdown" or "code"."""
    lines = text.splitlines()
    result, code, index = [], [], 0
    while index < len(lines):
        line = lines[index]
        if line.startswith('"""'):  # a top-level string: prose
            _flush(code, result)
            block = [line[3:]]
            while not block[-1].rstrip().endswith('"""') or (len(block) == 1 and line.strip() == '"""'):
                index += 1
                block.append(lines[index])
            block[-1] = block[-1].rstrip()[:-3]
            result.append(("markdown", "\n".join(block).strip("\n")))
        else:
            code.append(line)
        index += 1
    _flush(code, result)
    if result and result[0][0] == "markdown" and result[0][1].startswith("Title:"):
        result[0] = ("markdown", _header(result[0][1]))
    return result


def _flush(code, result):
    source = "\n".join(code).strip("\n")
    if source.strip():
        result.append(("code", source))
    code.clear()


def _header(text):
    fields = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    lines = [f"# {fields.pop('Title', 'Walkthrough')}", ""]
    lines += [f"**{key}:** {value}<br>" for key, value in fields.items()]
    return "\n".join(lines)


def notebook(text):
    def cell(kind, source):
        lines = source.splitlines(keepends=True)
        entry = {"cell_type": kind, "metadata": {}, "source": lines}
        if kind == "code":
            entry.update(execution_count=None, outputs=[])
        return entry

    return {"cells": [cell(kind, source) for kind, source in cells(text)],
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                        "name": "python3"},
                         "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


@script_main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     allow_abbrev=False)
    parser.add_argument("script", nargs="?", type=Path, default=DEFAULT,
                        help="the walkthrough (keras-io format; default "
                        "examples/cross_modality_walkthrough.py)")
    parser.add_argument("notebook", nargs="?", type=Path,
                        help="the notebook to write (default the script's name with .ipynb)")
    args = parser.parse_args(argv)
    script = args.script
    target = args.notebook or script.with_suffix(".ipynb")
    if not script.is_file():
        parser.error(f"{script} is not a file: give the walkthrough script first")
    if target.suffix != ".ipynb":
        parser.error(f"{target} does not end in .ipynb: the notebook comes second (the order "
                     "is SCRIPT NOTEBOOK), and the script is never overwritten")
    if target.resolve() == script.resolve():
        parser.error(f"{target} is the script itself")
    if target.exists() and not _is_notebook(target):
        parser.error(f"{target} exists and is not a notebook: not overwritten")
    target.write_text(json.dumps(notebook(script.read_text()), indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {target}")
    return 0


def _is_notebook(path):
    try:
        return "nbformat" in json.loads(path.read_text())
    except (OSError, ValueError):
        return False


if __name__ == "__main__":
    run_script(main)
