"""R = α·Σ(β·q/Q) and the grade, worked by hand for each α bracket and grade boundary."""

from __future__ import annotations

import pytest

from plans.hazards import UnknownChemical, alpha_for, assess, grade_for, load_tables

CHLORINE = {"name": "液氯", "un": "UN1017", "cas": "7782-50-5"}  # Q 5 t, β 4
AMMONIA = {"name": "液氨", "un": "UN1005"}  # Q 10 t, β 2
H2S = {"name": "硫化氢", "un": "UN1053"}  # Q 5 t, β 5
LPG = {"name": "液化石油气", "un": "UN1075"}  # Q 50 t, β 1.5 (other flammable gas)
METHANOL = {"name": "甲醇", "un": "UN1230"}  # Q 500 t, β 1 (others)


def _q(chem: dict[str, str], t: float) -> dict[str, object]:
    return {**chem, "quantity_t": t}


def test_factor_table_values() -> None:
    t = load_tables()
    assert (t.by_un["UN1017"].q_t, t.by_un["UN1017"].beta) == (5, 4)
    assert (t.by_un["UN1005"].q_t, t.by_un["UN1005"].beta) == (10, 2)
    assert (t.by_un["UN1053"].q_t, t.by_un["UN1053"].beta) == (5, 5)
    assert t.by_un["UN1075"].beta == 1.5 and t.by_un["UN1230"].beta == 1
    assert "GB 18218-2018" in t.by_un["UN1017"].source


@pytest.mark.parametrize(("people", "alpha"), [
    (0, 0.5), (1, 1.0), (29, 1.0), (30, 1.2), (49, 1.2), (50, 1.5), (99, 1.5), (100, 2.0),
    (5000, 2.0),
])
def test_alpha_brackets(people: int, alpha: float) -> None:
    assert alpha_for(people) == alpha


@pytest.mark.parametrize(("r", "grade"), [
    (1000, 1), (100, 1), (99.99, 2), (50, 2), (49.99, 3), (10, 3), (9.99, 4), (0, 4),
])
def test_grade_boundaries(r: float, grade: int) -> None:
    assert grade_for(r) == grade


@pytest.mark.parametrize(("chemicals", "people", "r", "grade"), [
    # 2.0 × 4 × 80/5 = 128 → grade 1 (≥ 100 people)
    ([_q(CHLORINE, 80)], 120, 128.0, 1),
    # 1.5 × 4 × 80/5 = 96 → grade 2 (50-99 people)
    ([_q(CHLORINE, 80)], 60, 96.0, 2),
    # 1.2 × (2 × 100/10 + 5 × 2/5) = 1.2 × 22 = 26.4 → grade 3 (30-49 people)
    ([_q(AMMONIA, 100), _q(H2S, 2)], 40, 26.4, 3),
    # 1.0 × 1.5 × 300/50 = 9 → grade 4 (1-29 people)
    ([_q(LPG, 300)], 10, 9.0, 4),
    # 0.5 × (1 × 5000/500 + 1.5 × 200/50) = 0.5 × 16 = 8 → grade 4 (nobody within 500 m)
    ([_q(METHANOL, 5000), _q(LPG, 200)], 0, 8.0, 4),
    # exactly on boundaries: 1.0 × 4 × 125/5 = 100 → 1; 1.0 × 2 × 250/10 = 50 → 2;
    # 1.0 × 1 × 5000/500 = 10 → 3
    ([_q(CHLORINE, 125)], 5, 100.0, 1),
    ([_q(AMMONIA, 250)], 5, 50.0, 2),
    ([_q(METHANOL, 5000)], 5, 10.0, 3),
])
def test_worked_examples(chemicals: list[dict[str, object]], people: int, r: float,
                         grade: int) -> None:
    result = assess(chemicals, people)
    assert result.r == pytest.approx(r)
    assert result.grade == grade


def test_s_and_terms() -> None:
    result = assess([_q(CHLORINE, 2.5), _q(AMMONIA, 2)], 0)
    assert result.s == pytest.approx(0.5 + 0.2)
    assert not result.is_major_hazard
    assert [(t.ratio, t.weighted) for t in result.terms] == [
        pytest.approx((0.5, 2.0)), pytest.approx((0.2, 0.4))]
    assert result.r == pytest.approx(0.5 * 2.4)


def test_hazard_class_for_a_chemical_not_in_table_1() -> None:
    # W5.3-like class lookups go through Table 2 / Table 4
    t = load_tables()
    klass = next(iter(t.classes))
    rule = t.rule_for({"name": "x", "hazard_class": klass})
    assert rule.q_t == t.classes[klass].q_t
    with pytest.raises(UnknownChemical, match="hazard_class"):
        assess([{"name": "神秘物质", "un": "UN3999", "quantity_t": 1}], 10)
