"""Major hazard installation grading per GB 18218-2018: R = α·Σ(βᵢ·qᵢ/Qᵢ) and grade 1-4."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

DATA_FILE = Path(__file__).parent / "data" / "gb18218.yaml"


class UnknownChemical(ValueError):
    """A chemical that neither Table 1 nor a Table 2 hazard class covers."""


@dataclass(frozen=True)
class ChemicalRule:
    """Critical quantity Q (t) and correction factor β of one chemical or hazard class."""

    name: str
    q_t: float
    beta: float
    source: str
    name_en: str = ""
    un: str | None = None
    cas: str | None = None


@dataclass(frozen=True)
class HazardTables:
    """The tables of GB 18218-2018 as loaded from the data file."""

    chemicals: tuple[ChemicalRule, ...]
    classes: Mapping[str, ChemicalRule]
    alpha: tuple[tuple[int, float], ...]
    grades: tuple[tuple[float, int], ...]
    by_un: Mapping[str, ChemicalRule] = field(default_factory=dict)
    by_cas: Mapping[str, ChemicalRule] = field(default_factory=dict)

    def rule_for(self, chemical: Mapping[str, Any]) -> ChemicalRule:
        """The rule for {un?, cas?, hazard_class?}: Table 1 first, then the Table 2 class."""
        un = normalize_un(chemical.get("un"))
        cas = str(chemical.get("cas") or "").strip()
        if un and un in self.by_un:
            return self.by_un[un]
        if cas and cas in self.by_cas:
            return self.by_cas[cas]
        klass = str(chemical.get("hazard_class") or "").strip()
        if klass in self.classes:
            return self.classes[klass]
        label = chemical.get("name") or un or cas or "?"
        raise UnknownChemical(
            f"{label} (UN {un or '-'}, CAS {cas or '-'}) is not in GB 18218-2018 Table 1; "
            f"give its hazard_class from Table 2 (e.g. W5.3)")


def normalize_un(un: Any) -> str | None:
    """'1017', 1017, 'un 1017', 'UN1017' and 'NA1993' are UN/NA numbers ('UN1017', 'NA1993');
    anything else (a name, a CAS number, None) is None."""
    if un is None:
        return None
    text = str(un).strip().upper().replace(" ", "")
    if text.isdigit() and len(text) == 4:
        return "UN" + text
    if len(text) == 6 and text[:2] in ("UN", "NA") and text[2:].isdigit():
        return text
    return None


@lru_cache(maxsize=4)
def load_tables(path: Path = DATA_FILE) -> HazardTables:
    """Read the GB 18218-2018 data file."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    chemicals = tuple(
        ChemicalRule(name=c["name"], name_en=c.get("name_en", ""), un=c.get("un"),
                     cas=c.get("cas"), q_t=float(c["q_t"]), beta=float(c["beta"]),
                     source=f"GB 18218-2018 Table 1; β {c.get('beta_source', '')}".strip())
        for c in raw["chemicals"])
    classes = {
        code: ChemicalRule(name=v["name"], q_t=float(v["q_t"]), beta=float(v["beta"]),
                           source=f"GB 18218-2018 Table 2 / Table 4 class {code}")
        for code, v in raw["classes"].items()}
    alpha = tuple(sorted(((int(a["min_people"]), float(a["alpha"])) for a in raw["alpha"]),
                         reverse=True))
    grades = tuple(sorted(((float(g["min_r"]), int(g["grade"])) for g in raw["grades"]),
                          reverse=True))
    return HazardTables(
        chemicals=chemicals, classes=classes, alpha=alpha, grades=grades,
        by_un={c.un: c for c in chemicals if c.un},
        by_cas={c.cas: c for c in chemicals if c.cas},
    )


def alpha_for(people: int, tables: HazardTables | None = None) -> float:
    """α from the number of people within 500 m (Table 5)."""
    t = tables or load_tables()
    for min_people, alpha in t.alpha:
        if people >= min_people:
            return alpha
    return t.alpha[-1][1]


def grade_for(r: float, tables: HazardTables | None = None) -> int:
    """Grade 1 (R ≥ 100) to 4 (R < 10) per Table 6."""
    t = tables or load_tables()
    for min_r, grade in t.grades:
        if r >= min_r:
            return grade
    return t.grades[-1][1]


@dataclass(frozen=True)
class Term:
    """One chemical's share: q/Q and β·q/Q."""

    name: str
    quantity_t: float
    q_t: float
    beta: float
    source: str

    @property
    def ratio(self) -> float:
        """q/Q."""
        return self.quantity_t / self.q_t

    @property
    def weighted(self) -> float:
        """β·q/Q."""
        return self.beta * self.ratio


@dataclass(frozen=True)
class Assessment:
    """S, α, R and grade of one installation."""

    s: float
    alpha: float
    r: float
    grade: int
    terms: tuple[Term, ...]

    @property
    def is_major_hazard(self) -> bool:
        """S ≥ 1 (formula 1)."""
        return self.s >= 1.0


def assess(chemicals: Iterable[Mapping[str, Any]], people_within_500m: int,
           tables: HazardTables | None = None) -> Assessment:
    """R = α·Σ(β·q/Q) and its grade; UnknownChemical if a chemical has no rule."""
    t = tables or load_tables()
    terms = []
    for c in chemicals:
        rule = t.rule_for(c)
        quantity = float(c.get("quantity_t") or 0.0)
        if quantity < 0:
            raise ValueError(f"{c.get('name')}: quantity_t must be >= 0")
        terms.append(Term(name=str(c.get("name") or rule.name), quantity_t=quantity,
                          q_t=rule.q_t, beta=rule.beta, source=rule.source))
    alpha = alpha_for(people_within_500m, t)
    # rounded so that a sum landing a hair under a grade boundary does not change the grade
    r = round(alpha * sum(term.weighted for term in terms), 6)
    return Assessment(s=sum(term.ratio for term in terms), alpha=alpha, r=r,
                      grade=grade_for(r, t), terms=tuple(terms))
