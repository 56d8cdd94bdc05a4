"""The README's answer and results, and the findings page's counts, follow the files: each
word is bound to a condition on the numbers (hand-made documents where the condition is
known), superseded runs stay out of counts, and the readers' audit's defects stay fixed."""
from experiments.statistics import claims
from experiments.findings import committed_runs, findings_answer, readme_results
from experiments.findings.findings_page import RESULTS, claim_lines, page, tables

CENTRAL = committed_runs.CENTRAL


def item(label, verdict, difference, low, high, paper, beyond=False):
    return {"label": label, "measure": "cross", "verdict": verdict, "difference": difference,
            "low": low, "high": high, "paper": paper, "beyond_paper": beyond}


def document(*comparisons, updates=256, subjects=2):
    return {"modalities": ["FLAIR", "T2"], "folds": 3, "repeats": 8, "rows": [],
            "comparisons": list(comparisons),
            "scale": {"updates": updates, "epochs": None, "training_subjects": subjects,
                      "features": 64, "patches_per_class": 500}}


def answer(documents):
    return "\n".join(findings_answer.answer_lines(findings_answer.facts(documents, {}, "/nonexistent")))


def test_the_central_answer_says_outside_only_when_the_paper_is_outside_every_interval():
    outside = {"open_ms-flair-t2-repeats": document(
        item(CENTRAL, "undecided", 0.7, -1.7, 3.2, 14.1))}
    text = answer(outside)
    assert "central gain does not reproduce in size**" in text
    assert "the paper's value lies outside each of our 1 intervals" in text
    inside = {"open_ms-flair-t2-repeats": document(
        item(CENTRAL, "reproduced", 9.0, 4.0, 15.0, 14.1))}
    text = answer(inside)
    assert "does not reproduce in size" not in text and "outside" not in text


def test_each_run_is_checked_against_its_own_paper_column():
    """The knee phantom's wide interval holds BRATS's +14.1 but not OAI's +33.6, its own."""
    documents = {"open_ms-flair-t2-repeats": document(
                     item(CENTRAL, "undecided", 0.7, -1.7, 3.2, 14.1)),
                 "synthetic-knee-quick-seed0": document(
                     item(CENTRAL, "undecided", 1.3, -24.6, 27.2, 33.6), updates=120)}
    text = answer(documents)
    assert "the paper's value lies outside each of our 2 intervals" in text
    assert "+14.1 (BRATS) and +33.6 (OAI)" in text


def test_dropout_carries_the_effect_only_when_its_share_is_most_of_both():
    def documents(dropout):
        return {"open_ms-flair-t2-repeats": document(
            item("dropout-a0 − plain-a0", "reproduced", dropout, dropout - 2, dropout + 2, 1.5),
            item("dropout+norm-a0 − plain-a0", "reproduced", 16.0, 14.0, 18.0, 15.6))}
    assert "Modality dropout alone carries the effect here**" in answer(documents(15.5))
    assert "dropout alone gives 97–97 %" in answer(documents(15.5))
    text = answer(documents(4.0))
    assert "carries the effect here" not in text and "dropout alone gives 25–25 %" in text
    assert "in the paper 10 % (BRATS) and 23 % (OAI)" in text  # 1.5 / 15.6, 9.9 / 43.5


def test_a_larger_than_the_paper_claim_needs_every_run_above_the_paper():
    above = {"open_ms-flair-t2-repeats": document(
        item("dropout-a0 − plain-a0", "reproduced", 15.5, 13.7, 17.2, 1.5))}
    assert "Modality dropout reproduces, larger than in the paper**" in answer(above)
    below = {"open_ms-flair-t2-repeats": document(
        item("dropout-a0 − plain-a0", "undecided", 1.0, -1.0, 3.0, 1.5))}
    text = answer(below)
    assert "larger" not in text and "undecided in 1 of 1 runs" in text
    mixed = {**above, "synthetic-knee-quick-seed0": document(
        item("dropout-a0 − plain-a0", "undecided", 16.2, -4.5, 36.9, 9.9))}
    assert "Modality dropout reproduces in 1 of 2 runs (undecided in 1)" in answer(mixed)


def test_the_results_table_names_the_paper_column_and_both_verdicts():
    documents = tables(RESULTS)
    rows = readme_results.results_table(documents)[2:]
    assert rows and all(("BRATS" in row or "OAI" in row) for row in rows)
    assert all(row.rstrip(" |").endswith(("inside", "outside")) for row in rows)
    central = [row for row in rows if f"`{CENTRAL}`" in row]
    # every run puts the paper's value outside; under arithmetic version 4 the repeats'
    # interval just excludes 0 (+2.6 [+0.3, +4.8]), the two single-training runs hold it
    assert len(central) == 3 and all(row.endswith("| outside |") for row in central)
    assert [row.endswith("| reproduced | outside |") for row in central].count(True) == 1


def test_superseded_runs_are_marked_and_left_out_of_the_counts():
    """The audit: 'reproduced in 1 … of 22 rows' counted a superseded twin's ✓ and the
    default units twice. Counts are over the current runs; a superseded row is marked."""
    documents = tables(RESULTS)
    text = "\n".join(claim_lines(documents))
    assert f"**{CENTRAL}** (cross-modality; current runs: 1 reproduced, 0 contradicted, " \
           "2 undecided)" in text
    assert "| open_ms-flair-t2-repeats-two-threads (superseded) | +2.8 [+0.6, +4.9] | " \
           "✓ reproduced |" in text
    for name in committed_runs.SUPERSEDED:
        assert name not in committed_runs.current_names()


def test_the_round_off_line_names_the_central_verdict_that_flips():
    """The audit: '1 of 13 verdicts change' hid that the one that changes is the central
    gain (+0.7 undecided ↔ +2.8 reproduced)."""
    (line,) = readme_results.round_off_line(tables(RESULTS))
    # Under arithmetic version 4 against version 3 it is the central gain again: the
    # repeats' +2.6 reproduced against version 3's +2.4 undecided.
    assert ("`dropout+norm-a0 − dropout-a0` on open_ms-flair-t2-repeats (reproduced +2.6 → "
            "undecided +2.4)" in line)
    assert "arithmetic version 3" in line  # names the arithmetic it compares with


def test_the_sign_convention_reads_as_our_difference_everywhere():
    """'ours − the paper's comparison' read as our value minus the paper's."""
    readme = (RESULTS.parent / "README.md").read_text()
    for text in (readme, page(), "\n".join(claims.claim_lines([
            {**item("dropout-a0 − plain-a0", "reproduced", 9.0, 5.0, 13.0, 1.5),
             "claims": ["dropout-adds-to-plain"], "paper_inside": False}]))):
        assert "ours − the paper's comparison" not in text and "ours − with" not in text
        assert "our difference for" in text.lower()


def test_a_network_against_a_control_is_higher_or_lower_everywhere():
    """The audit: control comparisons read 'reproduced' in some generators."""
    text = page()
    for line in text.splitlines():
        if line.startswith("| ") and ("raw-patch" in line or "untrained" in line
                                      or "raw-centre" in line) and " − " in line:
            assert "reproduced" not in line and "contradicted" not in line, line
    from experiments.beyond_paper.reading_report import verdict_letter
    assert verdict_letter({"verdict": "reproduced", "paper": None}) == "H"
    assert verdict_letter({"verdict": "contradicted", "paper": ""}) == "L"
    assert verdict_letter({"verdict": "reproduced", "paper": 14.1}) == "R"


def test_every_committed_folder_is_classified():
    """Each folder of paper_figures/ is a current Table I run, a superseded run or a study,
    and a superseded run's successor is committed."""
    folders = {path.name for path in RESULTS.iterdir() if path.is_dir()}
    assert set(committed_runs.current_names()) <= folders
    for name, (successor, _) in committed_runs.SUPERSEDED.items():
        assert name in folders and successor in folders
    assert committed_runs.LENGTH_STUDY in folders


def test_a_run_is_matched_with_the_current_committed_run_of_its_settings():
    """The default run's table (or its superseded twin's: the same settings) points to the
    current committed table; a run of other settings to none."""
    import json
    for name in ("synthetic-knee-quick-seed0", "synthetic-knee-quick-seed0-two-threads"):
        document = json.loads((RESULTS / name / "table1.json").read_text())
        assert findings_answer.matching_committed_run(document) == "synthetic-knee-quick-seed0"
    document["seed"] = 1
    assert findings_answer.matching_committed_run(document) is None
    lines = findings_answer.closing_lines(document, "oai", "runs/x/table1.md")
    assert lines[-1].startswith("No committed run has these settings")
