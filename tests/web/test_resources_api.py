"""The resources API: bad queries name their field, a request answers 201 with its task."""

from __future__ import annotations

from typing import Any


def test_resources_api(client: Any, login: Any) -> None:
    duty = login("duty")["headers"]
    for query, field in (("lat=91&lon=0", "lat"), ("lat=1", "lon"), ("type=cars", "type"),
                         ("limit=0", "limit"), ("limit=x", "limit")):
        r = client.get(f"/api/v1/resources?{query}", headers=duty)
        assert r.status_code == 422 and r.get_json()["error"]["field"] == field, query
    teams = client.get("/api/v1/resources?type=team&lat=-23.5482&lon=-46.6617",
                       headers=duty).get_json()
    assert teams[0]["name"] == "滨海氯碱企业专职救援队" and teams[0]["distance_m"] < 100
    inc = client.post("/api/v1/incidents", headers=duty, json={
        "kind": "leak", "enterprise_id": 1, "chemical": "UN1017", "severity": 1}).get_json()
    near = client.get(f"/api/v1/incidents/{inc['id']}/resources", headers=duty).get_json()
    team = near["teams"][0]
    bad = client.post(f"/api/v1/incidents/{inc['id']}/resource-requests", headers=duty,
                      json={"type": "team", "id": team["id"], "quantity": 3})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "quantity"
    r = client.post(f"/api/v1/incidents/{inc['id']}/resource-requests", headers=duty,
                    json={"type": "team", "id": team["id"], "note": "到东门集结"})
    assert r.status_code == 201 and r.get_json()["task"]["title"] == team["name"]
    # the unit tablets never see the county's resource list
    unit = login("E11")["headers"]
    assert client.get("/api/v1/resources", headers=unit).status_code == 403
