"""POST /models/{version}/activate: the rollback the dashboard's buttons call (the switch from
a newer version back to an older one is exercised in tests/dashboard/test_dashboard_models.py)."""

from api_helpers import auth


def test_activate_needs_the_token_and_a_kept_version_then_switches(writable) -> None:  # type: ignore[no-untyped-def]
    client, _ = writable
    assert client.post("/models/1/activate").status_code == 401
    wrong = client.post("/models/1/activate", headers=auth("wrong"))
    assert (wrong.status_code, wrong.json()["error"]) == (403, "Invalid token")
    missing = client.post("/models/99/activate", headers=auth())
    assert (missing.status_code, missing.json()["error"]) == (404, "Model version not found")
    assert client.post("/models/0/activate", headers=auth()).status_code == 422
    done = client.post("/models/1/activate", headers=auth())
    assert done.status_code == 200 and done.json()["version"] == 1 and done.json()["active"] is True
    assert client.get("/models/active").json()["version"] == 1
