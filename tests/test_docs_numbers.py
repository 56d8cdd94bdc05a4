"""Every number the docs state about a result, a timing, a count or a speed is backed by
a committed file that its sentence or section names, or is a derived value listed with
its formula (``tests/docs_numbers.py`` says what counts). A regeneration that leaves a
README behind fails here."""
import pytest

from tests import docs_numbers


@pytest.mark.parametrize("document", docs_numbers.documents(),
                         ids=lambda p: str(p.relative_to(docs_numbers.REPOSITORY)))
def test_every_stated_number_is_backed_by_a_named_file(document):
    problems = docs_numbers.unbacked(document)
    assert not problems, "numbers without a named file that holds them:\n" + "\n".join(
        f"  line {line}: {number} in «{block}»" for line, number, block in problems)


def test_every_derived_value_is_what_its_formula_gives():
    for text, formula in [item for derived in docs_numbers.DERIVED.values()
                          for item in derived.items()]:
        bare = text.replace(",", "")
        decimals = len(bare.split(".")[1]) if "." in bare else 0
        assert round(eval(formula, {}), decimals) == pytest.approx(float(bare)), (text, formula)


def test_the_finder_finds_an_unbacked_number(tmp_path, monkeypatch):
    """A stale number beside a named file that does not hold it is found; the same
    number once the file holds it, or in a code span, is not."""
    monkeypatch.setattr(docs_numbers, "REPOSITORY", tmp_path)
    (tmp_path / "record.txt").write_text("speed=311.5 samples/s\n")
    document = tmp_path / "README.md"
    document.write_text("# Speed\n\nTraining runs at 311.5 samples/s (`record.txt`); the "
                        "peer at 202.5. Run `speed.py --steps 40.5`.\n")
    assert [number for _, number, _ in docs_numbers.unbacked(document)] == ["202.5"]
    (tmp_path / "record.txt").write_text("speed=311.5 samples/s\npeer=202.49\n")
    docs_numbers.file_numbers.cache_clear()
    assert docs_numbers.unbacked(document) == []
