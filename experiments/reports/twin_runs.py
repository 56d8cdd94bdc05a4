"""Runs of the same settings whose arithmetic differs: how far their cells move and which
verdicts change.

Two runs with the same data, preset, seed, reading and scale whose units were computed
on another processor or with another thread count differ only in float32 round-off.
A few hundred updates of training amplify a few ulps into other networks, so such a
pair measures how much of a scaled table is arithmetic noise, and which of its verdicts
lie close enough to their interval's edge to change with it (docs/design.md).
"""
import json
import re
import shlex

import numpy as np

# What must be equal for two table1.json documents to be the same experiment: these
# fields, and every option of the command but those that only say where files go or how
# much is printed (an option such as --momentum is in no field).
SETTINGS = ("dataset", "preset", "modalities", "folds", "updates", "epochs", "seed", "reading",
            "scale", "repeats")
PLACE_OPTIONS = ("--out", "--publish", "--figures-dir", "--verbose", "--shard", "--data-dir",
                 "--wait")


def command_options(command):
    """The (option, value) pairs of a recorded command, sorted, without PLACE_OPTIONS;
    a flag without a value pairs with None."""
    try:
        words = shlex.split(command or "")
    except ValueError:  # unbalanced quotes in a hand-edited record: compare it word by word
        words = (command or "").split()
    words = words[next((i for i, word in enumerate(words) if word.startswith("--")),
                       len(words)):]  # from the first option on: not the interpreter, script
    pairs, index = [], 0
    while index < len(words):
        option, _, value = words[index].partition("=")
        if not value and index + 1 < len(words) and not words[index + 1].startswith("--"):
            value, index = words[index + 1], index + 1
        pairs.append((option, value or None))
        index += 1
    return sorted(pair for pair in pairs if pair[0] not in PLACE_OPTIONS)


def settings_key(document):
    return json.dumps({"options": command_options(document.get("command")),
                       **{key: document.get(key) for key in SETTINGS}}, sort_keys=True)


def twin_groups(documents):
    """Lists of run names (each sorted, two or more) whose documents share their settings."""
    groups = {}
    for name in sorted(documents):
        groups.setdefault(settings_key(documents[name]), []).append(name)
    return [names for names in groups.values() if len(names) > 1]


def compare(first, second):
    """Cross-modality cells of the trained rows (controls train nothing) both runs have,
    and the verdicts of every comparison both have (over the mean of pairs)."""
    rows = {row["name"]: row for row in first["rows"] if row.get("kind") != "control"}
    pairs = [(rows[row["name"]], row) for row in second["rows"] if row["name"] in rows]
    moves = np.asarray([abs(b["cross"] - a["cross"]) for a, b in pairs])
    largest = int(np.argmax(moves)) if len(moves) else None
    verdicts = {(c["label"], c["measure"]): c for c in first.get("comparisons", [])}
    shared = [(verdicts[(c["label"], c["measure"])], c) for c in second.get("comparisons", [])
              if (c["label"], c["measure"]) in verdicts]
    return {"cells": len(pairs),
            "median_move": float(np.median(moves)) if len(moves) else None,
            "largest_move": float(moves[largest]) if len(moves) else None,
            "largest_row": pairs[largest][0]["name"] if len(moves) else None,
            "inside_first": sum(a["cross_low"] <= b["cross"] <= a["cross_high"] for a, b in pairs),
            "inside_second": sum(b["cross_low"] <= a["cross"] <= b["cross_high"] for a, b in pairs),
            "comparisons": len(shared),
            "same_verdict": sum(a["verdict"] == b["verdict"] for a, b in shared),
            "changed": [{"label": a["label"], "measure": a["measure"],
                         "beyond_paper": bool(a.get("beyond_paper")),
                         "first": (a["verdict"], a["difference"]),
                         "second": (b["verdict"], b["difference"])}
                        for a, b in shared if a["verdict"] != b["verdict"]]}


def machine_text(document):
    """Where and how a run's units were computed, without the kernel's build string ('2
    cores, AMD EPYC; 1 TensorFlow thread; arithmetic version 3'); 'not recorded' for runs
    older than the record (the arithmetic version is recorded since version 3)."""
    machines = document.get("computed_on") or ["not recorded"]
    text = "; ".join(re.sub(r", Linux-[^;]*", "", machine) for machine in machines)
    version = document.get("arithmetic_version")  # recorded since version 3
    return text if version is None else f"{text}; arithmetic version {version}"
