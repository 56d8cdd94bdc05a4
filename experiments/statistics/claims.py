"""The paper's claims about Table I, as paired comparisons of its rows, and a verdict on
each: defined once, for Table I and every study.

A comparison is a signed sum of rows at one α (``terms``: configuration name →
coefficient), e.g. dropout+norm-a0 − dropout-a0, or the difference of two similarity-
term gains. Its value is computed per fold (and per repeated training) from the units,
its interval by ``intervals.paired_interval``, and the paper's value from the published
table. Verdict: *reproduced* when the interval lies on the paper's side of 0 (the
claimed direction where no published table applies), *contradicted* when it lies on the
other side, *undecided* when it contains 0.
"""
import math
from dataclasses import dataclass

from experiments.statistics import intervals
from experiments.paper.published import ALPHAS, published
from experiments.paper.configurations import CONFIGURATIONS, CONFIGURATIONS_BY_NAME, axial_name

SETTINGS = {"plain": (False, False), "norm": (False, True), "dropout": (True, False),
            "dropout+norm": (True, True)}
BASELINES = ("baseline-all", "baseline-training")
REPRODUCED, CONTRADICTED, UNDECIDED = "reproduced", "contradicted", "undecided"


def row_name(setting, alpha):
    """'dropout+norm', 0.1 → 'dropout+norm-a0.1'; a baseline keeps its name."""
    return setting if setting in BASELINES else axial_name(*SETTINGS[setting], alpha)


@dataclass(frozen=True)
class Comparison:
    terms: tuple  # ((configuration name, coefficient), ...)
    measure: str  # "same" | "cross"
    alpha: float

    @property
    def label(self):
        positive = [n for n, c in self.terms if c > 0]
        negative = [n for n, c in self.terms if c < 0]
        if len(self.terms) == 2:
            return f"{positive[0]} − {negative[0]}"
        # (a − b) − (c − d), written as the two gains it compares
        first, second = self.terms[:2], self.terms[2:]
        return (f"({first[0][0]} − {first[1][0]}) − ({second[0][0]} − {second[1][0]})")

    @property
    def key(self):
        return (self.terms, self.measure)


def difference(first, second, measure, alpha):
    return Comparison(((row_name(first, alpha), 1), (row_name(second, alpha), -1)), measure,
                      alpha)


def gain_difference(setting, alpha, reference="dropout+norm"):
    """(setting at α − setting at 0) − (reference at α − reference at 0)."""
    return Comparison(((row_name(setting, alpha), 1), (row_name(setting, 0.0), -1),
                       (row_name(reference, alpha), -1), (row_name(reference, 0.0), 1)),
                      "cross", alpha)


def against_control(row, control):
    """A learned row minus a control (cross-modality), at the row's α."""
    return Comparison(((row, 1), (control, -1)), "cross", CONFIGURATIONS_BY_NAME[row].alpha)


CONTROLS = tuple(c.name for c in CONFIGURATIONS if c.kind == "control")
LEARNED = tuple(c.name for c in CONFIGURATIONS if c.kind in ("axial", "baseline"))


@dataclass(frozen=True)
class Claim:
    key: str
    statement: str
    comparisons: tuple
    beyond_paper: bool = False  # ours, not the paper's: kept out of the paper's summary


CLAIMS = (
    Claim("best", "dropout + normalization gives the best cross-modality accuracy",
          tuple(difference("dropout+norm", other, "cross", alpha) for alpha in ALPHAS
                for other in ("plain", "norm", "dropout", *BASELINES))),
    Claim("normalization-adds-to-dropout", "per-feature normalization adds to modality dropout",
          tuple(difference("dropout+norm", "dropout", "cross", alpha) for alpha in ALPHAS)),
    Claim("dropout-adds-to-plain", "modality dropout adds to the plain network",
          tuple(difference("dropout", "plain", "cross", alpha) for alpha in ALPHAS)),
    Claim("normalization-adds-to-plain", "per-feature normalization adds to the plain network",
          tuple(difference("norm", "plain", "cross", alpha) for alpha in ALPHAS)),
    Claim("similarity-helps-most-when-missing",
          "the similarity term helps most when dropout or normalization is missing (its gain "
          "over α = 0 minus that of dropout + normalization)",
          tuple(gain_difference(setting, alpha) for alpha in ALPHAS[1:]
                for setting in ("plain", "norm", "dropout"))),
    Claim("keeps-same-modality",
          "dropout + normalization keeps the same-modality accuracy (against the plain network)",
          tuple(difference("dropout+norm", "plain", "same", alpha) for alpha in ALPHAS)),
    Claim("learned-beats-input",
          "learned features transfer better than the input itself (beyond the paper: every "
          "network against each control)",
          tuple(against_control(row, control) for control in CONTROLS for row in LEARNED),
          beyond_paper=True),
)


def published_value(table, comparison):
    """The paper's value of a comparison, or None without a published table."""
    total = 0.0
    for name, coefficient in comparison.terms:
        same, cross = published(table, CONFIGURATIONS_BY_NAME[name])
        value = same if comparison.measure == "same" else cross
        if value is None:
            return None
        total += coefficient * value
    return round(total, 2)


def values_by_unit(comparison, results, pair=None):
    """{(fold, repeat): the comparison's value} over the units that every term has
    finished ({} when a term has none). ``pair``: (a, b), the accuracy of the forest
    trained on modality a and tested on b instead of the mean over pairs."""
    if not all(results.get(name) for name, _ in comparison.terms):
        return {}
    by_unit = [{(r["fold"], r.get("repeat", 0)): r[comparison.measure] if pair is None
                else r["accuracy"][pair[0]][pair[1]] for r in results[name]}
               for name, _ in comparison.terms]
    common = set.intersection(*(set(units) for units in by_unit))
    return {key: sum(c * units[key] for (_, c), units in zip(comparison.terms, by_unit))
            for key in common}


def values_by_fold(comparison, results, pair=None):
    """[[value per repeat] per fold] from {name: [unit results]}, paired by fold and
    repeat; None when a row has no finished unit (``values_by_unit``)."""
    return intervals.grouped_by_fold(values_by_unit(comparison, results, pair)) or None


def verdict(low, high, paper):
    direction = -1 if paper is not None and paper < 0 else 1
    if math.isnan(low) or low <= 0 <= high:
        return UNDECIDED
    return REPRODUCED if (low > 0) == (direction > 0) else CONTRADICTED


def evaluate(table, results, pair=None):
    """Every claim's comparisons that the results allow, each once: [{label, terms,
    measure, alpha, difference, low, high, folds, trainings, method, paper, paper_inside,
    verdict, claims, beyond_paper}] (percentage points). ``pair``: (a, b), the same for
    one ordered modality pair (the paper's value is that of the mean over pairs)."""
    evaluated = {}
    for claim in CLAIMS:
        for comparison in claim.comparisons:
            if comparison.key in evaluated:
                evaluated[comparison.key]["claims"].append(claim.key)
                continue
            if pair is not None and (pair[0] == pair[1]) != (comparison.measure == "same"):
                continue
            grouped = values_by_fold(comparison, results, pair)
            if not grouped:
                continue
            mean, half, method = intervals.interval(grouped)
            paper = published_value(table, comparison)
            low, high = mean - half, mean + half
            item = {"label": comparison.label, "terms": dict(comparison.terms),
                    "beyond_paper": claim.beyond_paper,
                    "measure": comparison.measure, "alpha": comparison.alpha,
                    "difference": round(mean, 2), "low": round(low, 2), "high": round(high, 2),
                    "folds": len(grouped), "trainings": sum(len(g) for g in grouped),
                    "method": method, "paper": paper,
                    "paper_inside": intervals.contains(mean, half, paper),
                    "verdict": verdict(low, high, paper), "claims": [claim.key]}
            if len(comparison.terms) == 2:
                item["first"], item["second"] = comparison.terms[0][0], comparison.terms[1][0]
            evaluated[comparison.key] = item
    return list(evaluated.values())


def evaluate_pairs(table, results, modality_names):
    """``evaluate`` for every ordered modality pair (same-modality comparisons on the
    diagonal), each item with "pair": "A→B"."""
    items = []
    for a, first in enumerate(modality_names):
        for b, second in enumerate(modality_names):
            items += [{**item, "pair": f"{first}→{second}"}
                      for item in evaluate(table, results, (a, b))]
    return items


def paper_comparisons(evaluated):
    """The comparisons of the paper's claims (the controls' left out)."""
    return [item for item in evaluated if not item.get("beyond_paper")]


# A comparison beyond the paper (a network against a control) has no paper side to
# reproduce: its verdicts read as the network being higher or lower, decided.
AGAINST_CONTROL = {REPRODUCED: "higher", CONTRADICTED: "lower", UNDECIDED: "undecided"}
BEYOND_WORDS = {REPRODUCED: "higher (decided)", CONTRADICTED: "lower (decided)",
                UNDECIDED: "undecided"}


def summary(evaluated, beyond_paper=False):
    """'N reproduced, N contradicted, N undecided' over distinct comparisons ('N higher
    (decided), N lower (decided), N undecided' for comparisons beyond the paper)."""
    counts = {v: sum(item["verdict"] == v for item in evaluated)
              for v in (REPRODUCED, CONTRADICTED, UNDECIDED)}
    return ", ".join(f"{count} {BEYOND_WORDS[name] if beyond_paper else name}"
                     for name, count in counts.items())


def claim_lines(evaluated):
    """The Claims section of table1.md."""
    paper = paper_comparisons(evaluated)
    if not paper:
        return []
    lines = ["", "## Claims", "",
             f"Summary over {len(paper)} distinct comparisons: {summary(paper)}. Each line "
             "is our difference for one of the paper's comparisons (e.g. dropout-a0 − "
             "plain-a0: our dropout network's accuracy minus our plain network's) with its "
             "95 % interval (percentage points), then the paper's value (✓ inside our "
             "interval, ✗ outside) and the sign verdict.", ""]
    for claim in (c for c in CLAIMS if not c.beyond_paper):
        mine = [item for item in evaluated if claim.key in item["claims"]]
        if not mine:
            continue
        counts = summary(mine)
        lines += [f"**{claim.statement}** ({counts})", ""]
        for item in mine:
            paper = "" if item["paper"] is None else (
                f"; paper {item['paper']:+.1f} "
                f"{'✓' if item['paper_inside'] else '✗' if item['paper_inside'] is False else '?'}")
            measure = "" if item["measure"] == "cross" else f" ({item['measure']}-modality)"
            lines.append(f"- {item['label']}{measure}: "
                         f"{intervals.bracketed(item['difference'], item['low'], item['high'])}"
                         f"{paper} — {item['verdict']}")
        lines.append("")
    return lines[:-1]


def control_lines(evaluated):
    """The controls section of table1.md: every learned row against each control, as
    difference [interval] and a mark (+ learned better, − worse, ? undecided)."""
    items = {(item["first"], item["second"]): item for item in evaluated
             if item.get("beyond_paper") and "first" in item}
    if not items:
        return []
    controls = [c for c in CONTROLS if any(second == c for _, second in items)]
    rows = [r for r in LEARNED if any(first == r for first, _ in items)]
    chosen = [item for item in evaluated if item.get("beyond_paper")]
    mark = {REPRODUCED: "+", CONTRADICTED: "−", UNDECIDED: "?"}
    lines = ["", "## Controls: does a network add anything over its input? (beyond the paper)",
             "", f"Cross-modality accuracy of each network minus each control (percentage "
             f"points, 95 % interval; + the network is better, − worse, ? undecided). "
             f"{summary(chosen, beyond_paper=True)} over {len(chosen)} comparisons.", "",
             "| network | " + " | ".join(f"− {c}" for c in controls) + " |",
             "|---|" + "---|" * len(controls)]
    for row in rows:
        cells = []
        for control in controls:
            item = items.get((row, control))
            cells.append("–" if item is None else
                         f"{intervals.bracketed(item['difference'], item['low'], item['high'])} "
                         f"{mark[item['verdict']]}")
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return lines
