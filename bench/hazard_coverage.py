"""Which UN numbers the product can see get a hazard zone, and from what: ERG 2016 Table 1 or 3,
or the material's guide page. Prints one line per number and the totals.

    python bench/hazard_coverage.py
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import yaml

from dispatch.hazard import isolation_for

ROOT = Path(__file__).resolve().parents[1]


def visible_un_numbers() -> list[str]:
    """Every UN number of the GB 18218 table and of the demo plans and registry."""
    data = ROOT / "plans" / "data"
    table = yaml.safe_load((data / "gb18218.yaml").read_text(encoding="utf-8"))
    found = {c["un"] for c in table["chemicals"] if c.get("un")}
    for p in (data / "demo").glob("*.yaml"):
        found |= set(re.findall(r"\bUN\d{4}\b", p.read_text(encoding="utf-8")))
    return sorted(found)


def main() -> None:
    basis: Counter[str] = Counter()
    for un in visible_un_numbers():
        small, large = isolation_for(un, "small"), isolation_for(un, "large")
        fire = isolation_for(un, "large", fire=True)
        if small is None or large is None or fire is None:
            print(f"{un}  NO ZONE")
            basis["none"] += 1
            continue
        basis[large.basis] += 1
        flags = " ".join(f for f, on in (("11km+", large.over_11km), ("ATM", large.atm),
                                         ("increase", large.increase_as_necessary)) if on)
        print(f"{un}  guide {large.guide_code:5} {large.basis:6}  small {small.radius_m:5.0f}/"
              f"{small.protective_m:6.0f} m  large {large.radius_m:5.0f}/"
              f"{large.protective_m:6.0f} m  fire {fire.radius_m:5.0f} m  {large.material[:38]}"
              f"  {flags}")
    print(f"{sum(basis.values())} numbers: " + ", ".join(f"{k} {v}" for k, v in
                                                          sorted(basis.items())))


if __name__ == "__main__":
    main()
