"""The findings page is generated from the committed files: the committed page must be
what the generator makes of them, and the generator must report what the files say."""
import json

from studies import findings


def test_the_committed_findings_page_is_what_the_files_say():
    committed = (findings.RESULTS / findings.PAGE).read_text()
    assert committed == findings.page(), (
        "paper_figures/FINDINGS.md is stale: run `python studies/findings.py`")


def test_the_page_reports_a_runs_claims_controls_and_scale(tmp_path):
    comparison = {"label": "dropout+norm-a0 − dropout-a0", "measure": "cross",
                  "difference": 7.46, "low": 2.0, "high": 12.92, "verdict": "reproduced",
                  "paper": 14.1}
    rows = [{"name": name, "cross": cross, "cross_high": cross + 2.5}
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
    assert "| my-run | FLAIR, T2 | 1,200 | 2 | 64 | 500 | 1 |" in text
    assert "| my-run | default | +7.5 [+2.0, +12.9] | ✓ reproduced | +14.1 |" in text
    assert "| my-run | 67.0 ± 2.5 | – | – | – | 62.0 ± 2.5 | 64.0 ± 2.5 | – | " \
           "0 reproduced, 2 contradicted, 4 undecided |" in text
    assert "- my-run: **FLAIR→T2 +7.5 ±5.5**; T2→FLAIR -1.0 ±2.0" in text
    assert findings.main(["--results", str(tmp_path), "--check"]) == 1
    assert findings.main(["--results", str(tmp_path)]) == 0
    assert findings.main(["--results", str(tmp_path), "--check"]) == 0


def test_training_length_cells_name_their_folds_and_collapse_a_flat_control():
    rows = [{"configuration": "dropout-a0", "updates": u, "folds": "2", "cross": c}
            for u, c in (("100", "67.54"), ("10000", "83.8"))]
    assert findings.length_cells("dropout-a0", rows) == "dropout-a0 (2 folds) 100: 67.5, 10,000: 83.8"
    control = [{"configuration": "raw-patch", "updates": u, "folds": "1", "cross": "70.2"}
               for u in ("100", "10000")]
    assert findings.length_cells("raw-patch", control) == "raw-patch (1 fold) control, no training: 70.2"


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
    assert ("- **a-run** (computed on: machine A; 2 TensorFlow threads) and **b-run** "
            "(computed on: machine A; 1 TensorFlow thread): the cross-modality cells of 3 "
            "trained rows move by a median 6.0 and at most 8.0 points (dropout+norm-a0); 2 of "
            "3 lie inside the first run's 95 % interval, 1 inside the second's. 1 of 2 "
            "verdicts agree; changed: dropout+norm-a0 − dropout-a0 undecided +2.0 → "
            "reproduced +16.0.") in text
    # Another seed or another option (one that is in no field) is another experiment.
    assert "c-run** (computed" not in text and "d-run** (computed" not in text
    (tmp_path / "b-run" / "table1.json").unlink()
    assert "No two committed runs share their settings yet." in findings.page(tmp_path)
