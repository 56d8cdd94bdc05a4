"""The findings page is generated from the committed files: the committed page must be
what the generator makes of them, and the generator must report what the files say."""
import json

from studies import findings


def test_the_committed_findings_page_is_what_the_files_say():
    for path, text in findings.generated_files(findings.RESULTS).items():
        assert path.read_text() == text, (
            f"{path} is stale: run `python studies/findings.py`")


def test_the_page_reports_a_runs_claims_controls_and_scale(tmp_path):
    comparison = {"label": "dropout+norm-a0 − dropout-a0", "measure": "cross",
                  "difference": 7.46, "low": 2.0, "high": 12.92, "verdict": "reproduced",
                  "paper": 14.1}
    rows = [{"name": name, "cross": cross, "cross_low": cross - 2.5, "cross_high": cross + 2.5}
            for name, cross in (("raw-patch", 67.0), ("dropout-a0", 62.0),
                                ("dropout+norm-a0", 64.0))]
    document = {"modalities": ["FLAIR", "T2"], "rows": rows, "comparisons": [comparison],
                "controls_summary": "0 reproduced, 2 contradicted, 4 undecided",
                "pair_comparisons": [{**comparison, "pair": "FLAIR→T2"},
                                     {**comparison, "pair": "T2→FLAIR", "verdict": "undecided",
                                      "difference": -1.0, "low": -3.0, "high": 1.0}],
                "scale": {"updates": 1200, "epochs": None, "training_subjects": 2,
                          "features": 64, "patches_per_class": 500}, "repeats": 1}
    (tmp_path / "my-run").mkdir()
    (tmp_path / "my-run" / "table1.json").write_text(json.dumps(document))
    text = findings.page(tmp_path)
    assert "| my-run | study | FLAIR, T2 | 1,200 | 2 | 64 | 500 | 1 |" in text
    assert "| my-run | +7.5 [+2.0, +12.9] | ✓ reproduced | +14.1 | outside |" in text
    # An older table's recorded summary of the controls reads in today's words.
    assert "| my-run | 67.0 ± 2.5 | – | – | – | 62.0 ± 2.5 | 64.0 ± 2.5 | – | " \
           "0 higher (decided), 2 lower (decided), 4 undecided |" in text
    assert "- my-run: **FLAIR→T2 +7.5 ±5.5**; T2→FLAIR -1.0 ±2.0" in text
    assert findings.main(["--results", str(tmp_path), "--check"]) == 1
    assert findings.main(["--results", str(tmp_path)]) == 0
    assert findings.main(["--results", str(tmp_path), "--check"]) == 0


def test_training_length_is_a_table_and_two_runs_of_one_question_are_reconciled(tmp_path):
    """Each study's accuracy by updates in one table (a checkpoint a study lacks is '–');
    two studies that measured the central gain at the same longest length get one table
    saying which is current and whether each lies inside the other's interval."""
    header = "configuration,updates,folds,cross\n"
    for name, gap, rows in (
            ("open_ms-flair-t2-training-length-10k", "+0.5 ± 2.2",
             "dropout-a0,100,3,61.4\ndropout-a0,10000,3,73.3\n"),
            ("open_ms-flair-t2-training-length-mechanism", "+1.6 ± 1.8",
             "dropout-a0,100,3,60.5\ndropout-a0,300,3,66.3\ndropout-a0,10000,3,72.7\n")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "accuracy_vs_updates.csv").write_text(header + rows)
        (tmp_path / name / "accuracy_vs_updates.md").write_text(
            f"- dropout+norm-a0 − dropout-a0 (3 folds): 100: +3.0 ± 6.9; 10000: {gap}\n")
    text = findings.page(tmp_path)
    assert "| study | configuration | folds | 100 | 300 | 10,000 |" in text
    assert ("| open_ms-flair-t2-training-length-10k (superseded) | dropout-a0 | 3 | 61.4 | – | "
            "73.3 |") in text
    assert ("| open_ms-flair-t2-training-length-10k | superseded by "
            "open_ms-flair-t2-training-length-mechanism (arithmetic version 1: two "
            "TensorFlow threads per process) | +0.5 ± 2.2 (3 folds) | yes |") in text
    assert ("| open_ms-flair-t2-training-length-mechanism | study (arithmetic version 2, not "
            "repeated since) | +1.6 ± 1.8 (3 folds) | yes |") in text
    assert "The current answer is open_ms-flair-t2-training-length-mechanism." in text


def test_runs_of_the_same_settings_are_compared_cell_by_cell_and_verdict_by_verdict(tmp_path):
    """Two runs that differ only in where they were computed: moves of the trained rows'
    cross cells (controls left out), intervals, and the verdicts that changed."""
    def rows(values):
        return [{"name": name, "kind": kind, "cross": cross, "cross_low": low,
                 "cross_high": high} for name, kind, cross, low, high in values]

    def comparison(label, verdict, difference):
        return {"label": label, "measure": "cross", "verdict": verdict,
                "difference": difference, "low": difference - 5, "high": difference + 5,
                "paper": 14.1}
    settings = {"dataset": "folder", "preset": "quick", "modalities": ["FLAIR", "T2"],
                "seed": 0, "repeats": 1, "scale": {"updates": 120, "epochs": None,
                                                   "training_subjects": 2, "features": 64,
                                                   "patches_per_class": 75}}
    first = {**settings, "computed_on": ["machine A; 2 TensorFlow threads"],
             "rows": rows([("plain-a0", "axial", 50.0, 45.0, 55.0),
                           ("dropout-a0", "axial", 60.0, 50.0, 70.0),
                           ("dropout+norm-a0", "axial", 62.0, 60.0, 64.0),
                           ("raw-patch", "control", 65.0, 64.0, 66.0)]),
             "comparisons": [comparison("dropout+norm-a0 − dropout-a0", "undecided", 2.0),
                             comparison("dropout-a0 − plain-a0", "reproduced", 10.0)]}
    second = {**settings, "computed_on": ["machine A; 1 TensorFlow thread"],
              "rows": rows([("plain-a0", "axial", 51.0, 50.5, 51.5),
                            ("dropout-a0", "axial", 54.0, 44.0, 64.0),
                            ("dropout+norm-a0", "axial", 70.0, 66.0, 74.0),
                            ("raw-patch", "control", 99.0, 98.0, 100.0)]),
              "comparisons": [comparison("dropout+norm-a0 − dropout-a0", "reproduced", 16.0),
                              comparison("dropout-a0 − plain-a0", "reproduced", 3.0),
                              comparison("norm-a0 − plain-a0", "undecided", 1.0)]}
    first["command"] = "python reproduce/table1.py --momentum 0.99 --out runs/a --verbose 0"
    second["command"] = "/usr/bin/python3 reproduce/table1.py --out=runs/b --momentum=0.99"
    other_seed = {**first, "seed": 1}
    other_momentum = {**first, "command": "python reproduce/table1.py --momentum 0.9"}
    for name, document in (("a-run", first), ("b-run", second), ("c-run", other_seed),
                           ("d-run", other_momentum)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "table1.json").write_text(json.dumps(document))
    text = findings.page(tmp_path)
    assert ("| a-run (machine A; 2 TensorFlow threads) | b-run (machine A; 1 TensorFlow "
            "thread) | 3 | 6.0 | 8.0 (dropout+norm-a0) | 2 / 1 of 3 | 1 of 2 |") in text
    assert ("| a-run / b-run | dropout+norm-a0 − dropout-a0 | undecided +2.0 | reproduced "
            "+16.0 |") in text
    # Another seed or another option (one that is in no field) is another experiment.
    assert "| c-run (" not in text and "| d-run (" not in text
    (tmp_path / "b-run" / "table1.json").unlink()
    assert "No two committed runs share their settings yet." in findings.page(tmp_path)


def committed_copy(tmp_path, *names):
    """A results folder holding copies of committed runs."""
    import shutil
    for name in names:
        shutil.copytree(findings.RESULTS / name, tmp_path / name)
    findings.main(["--results", str(tmp_path)])
    return tmp_path


def findings_error(tmp_path, capsys=None):
    import pytest
    with pytest.raises(SystemExit) as stopped:
        findings.main(["--results", str(tmp_path)])
    return str(stopped.value.code)


def test_malformed_results_are_named_by_file_and_key(tmp_path):
    results = committed_copy(tmp_path, "open_ms-quick", "open_ms-flair-t2-training-length")
    table = results / "open_ms-quick" / "table1.json"
    good = table.read_text()
    table.write_text(good[:500])
    assert findings_error(results).startswith(f"error: {table} cannot be read as JSON")
    document = json.loads(good)
    del document["rows"]
    table.write_text(json.dumps(document))
    assert findings_error(results) == f"error: {table}: the document has no 'rows'"
    document = json.loads(good)
    document["comparisons"][0]["verdict"] = "Undecided"
    table.write_text(json.dumps(document))
    assert "comparisons[0] verdict is 'Undecided'; a verdict is one of" in findings_error(results)
    table.write_text(good)
    lengths = results / "open_ms-flair-t2-training-length" / "accuracy_vs_updates.csv"
    text = lengths.read_text()
    header, first, *rest = text.splitlines()
    cells = first.split(",")
    cells[header.split(",").index("cross")] = "n/a"
    lengths.write_text("\n".join([header, ",".join(cells), *rest]) + "\n")
    assert findings_error(results) == (f"error: {lengths}: row 1 ({cells[0]}) cross is 'n/a', "
                                       "not a number")
    lengths.write_text(text)
    missing = tmp_path / "nonexistent"
    assert findings_error(missing) == f"error: --results {missing} is not a folder of results"
    assert findings.main(["--results", str(results), "--check"]) == 0


def test_a_hand_edited_or_vanished_table_is_refused_not_published(tmp_path, capsys):
    results = committed_copy(tmp_path, "open_ms-quick", "synthetic-knee-quick-seed0")
    table = results / "open_ms-quick" / "table1.json"
    document = json.loads(table.read_text())
    original = json.loads(table.read_text())
    item = next(c for c in document["comparisons"]
                if c["label"] == "dropout+norm-a0 − dropout-a0" and c["measure"] == "cross")
    item.update(difference=25.0, low=20.0, high=30.0, verdict="reproduced")
    table.write_text(json.dumps(document))
    assert "and " in findings_error(results) and "disagree on dropout+norm-a0 − dropout-a0" \
        in findings_error(results)
    document["rows"][0]["cross"] += 1.0  # a cell of the table
    table.write_text(json.dumps(document))
    assert f"disagree on row {document['rows'][0]['name']} cross" in findings_error(results)
    table.write_text(json.dumps(original))
    report = results / "open_ms-quick" / "table1.md"
    text = report.read_text()
    row = original["rows"][0]
    cell = f"{row['cross']:.1f} ± {row['cross_high'] - row['cross']:.1f}"
    report.write_text(text.replace(cell, f"{row['cross'] + 5:.1f} ± "
                                         f"{row['cross_high'] - row['cross']:.1f}", 1))
    assert findings_error(results) == (
        f"error: {report} does not show row {row['name']} cross {cell} of {table}: "
        "regenerate both from the run folder")
    report.write_text(text)
    table.unlink()  # the run's tables stay, its data file is gone
    assert findings_error(results) == (f"error: {results / 'open_ms-quick'} has table1.csv but "
                                       "no table1.json: restore it (git checkout), or remove the "
                                       "folder's table1.csv too")
    import shutil
    shutil.rmtree(results / "open_ms-quick")  # the whole run removed: --check says which
    capsys.readouterr()
    assert findings.main(["--results", str(results), "--check"]) == 1
    assert "vanished from the files: open_ms-quick" in capsys.readouterr().out


def test_the_readmes_answer_and_results_are_what_the_files_say():
    readme = findings.README
    assert readme.read_text() == findings.readme_section(findings.RESULTS, readme), (
        "README.md's generated answer or results are stale: run `python studies/findings.py`")
