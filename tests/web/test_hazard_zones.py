"""Zones off the happy path: an unknown spill on a big installation is large (and said so),
a plan zone smaller than ERG is shown beside it and used only if the officer chooses it."""

from __future__ import annotations

from typing import Any


def report(client: Any, headers: dict[str, str], **extra: Any) -> dict[str, Any]:
    r = client.post("/api/v1/incidents", headers=headers, json={
        "kind": "leak", "enterprise_id": 1, "chemical": "UN1017", "severity": 1, **extra})
    assert r.status_code == 201, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def test_unknown_spill_on_a_big_installation_is_taken_as_large(client: Any, login: Any) -> None:
    duty = login("duty")["headers"]
    inc = report(client, duty)
    iso = inc["isolation"]
    erg = iso["erg"]
    # 80 t of liquid chlorine: never a drum-sized "small" spill without anyone saying so
    assert erg["spill"] == "large" and erg["spill_assumed"] is True
    assert any(p["code"] == "isolation.spill_assumed.large" for p in erg["source_parts"])


def test_a_plan_zone_smaller_than_erg_waits_for_the_officer(app: Any, client: Any,
                                                          login: Any) -> None:
    duty = login("duty")["headers"]
    inc = report(client, duty)
    iso = inc["isolation"]
    # the plan says 500 m / 3 km; ERG's large chlorine release is far wider
    assert iso["warning"] == "plan_zone_smaller_than_erg" and iso["chosen"] == "erg"
    assert iso["plan"]["protective_m"] == 3000.0
    assert iso["erg"]["protective_m"] > iso["plan"]["protective_m"]
    assert (iso["radius_m"], iso["protective_m"]) == (iso["erg"]["radius_m"],
                                                      iso["erg"]["protective_m"])
    r = client.patch(f"/api/v1/incidents/{inc['id']}", headers=duty, json={"zone": "plan"})
    assert r.status_code == 200, r.get_json()
    chosen = r.get_json()["isolation"]
    assert chosen["chosen"] == "plan" and chosen["protective_m"] == 3000.0
    events = client.get(f"/api/v1/incidents/{inc['id']}/events", headers=duty).get_json()
    logged = [e for e in events if e["type"] == "incident.zone_chosen"]
    assert len(logged) == 1 and logged[0]["data"]["choice"] == "plan"
    bad = client.patch(f"/api/v1/incidents/{inc['id']}", headers=duty, json={"zone": "mine"})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "zone"


def test_no_choice_when_the_plan_is_at_least_as_protective(client: Any, login: Any) -> None:
    duty = login("duty")["headers"]
    inc = report(client, duty, spill="small")
    iso = inc["isolation"]
    # small chlorine spill: ERG 60 m / 300 m by day, the plan's 500 m / 3 km stands
    assert iso["basis"] == "plan" and "warning" not in iso and iso["erg"]["radius_m"] <= 500
    r = client.patch(f"/api/v1/incidents/{inc['id']}", headers=duty, json={"zone": "plan"})
    assert r.status_code == 409 and r.get_json()["error"]["field"] == "zone"


def test_a_guide_without_a_large_spill_distance_is_flagged(client: Any, login: Any) -> None:
    duty = login("duty")["headers"]
    r = client.post("/api/v1/incidents", headers=duty, json={
        "kind": "leak", "location": {"lat": -23.5450, "lon": -46.6250}, "chemical": "UN1230",
        "spill": "large"})
    assert r.status_code == 201, r.get_json()
    iso = r.get_json()["isolation"]
    # methanol, Guide 131: "increase as necessary"; the floor taken is said, never hidden
    assert iso["basis"] == "guide" and iso["increase_as_necessary"] is True
    assert iso["protective_m"] == 300.0
