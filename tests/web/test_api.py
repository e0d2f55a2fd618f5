"""The JSON API mirrors the pages."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.report.seed import TUNED_MARK, Seeded


def test_studies(client: TestClient, seeded: Seeded) -> None:
    [study] = client.get("/api/studies").json()
    assert study["name"] == "demo" and study["best_pgr"] == 0.5 and study["best_test_pgr"] == 0.44
    assert study["budget_used"]["device_seconds"] == 305.0


def test_study(client: TestClient, seeded: Seeded) -> None:
    body = client.get(f"/api/studies/{seeded.study_id}").json()
    assert body["split"] == "dev"
    assert body["summary"]["counts"] == {"ok": 10, "failed": 1}
    assert [n["hypothesis"]["text"] for n in body["tree"]][:1] == ["Naive training on weak labels"]
    assert body["experiments"]["total"] == 11


def test_experiments_sorted_and_paged(client: TestClient, seeded: Seeded) -> None:
    url = f"/api/studies/{seeded.study_id}/experiments"
    rows = client.get(url, params={"sort": "pgr", "order": "desc", "per_page": 3}).json()["rows"]
    assert [r["pgr"] for r in rows] == [0.5, 0.48, 0.47]
    last = client.get(url, params={"sort": "pgr", "order": "desc", "per_page": 3, "page": 4}).json()["rows"]
    assert last[-1]["pgr"] is None  # the failed run sorts last
    by_number = client.get(url, params={"sort": "number", "order": "asc"}).json()["rows"]
    assert [r["number"] for r in by_number] == list(range(1, 12))


def test_experiment(client: TestClient, seeded: Seeded) -> None:
    body = client.get(f"/api/experiments/{seeded.experiments['aux_conf_tuned'][1]}").json()
    assert body["method"] == "aux_conf_tuned" and body["seeds"] == [1]
    assert body["audit"] == ["no-network: passed", "smoke run passed"]
    assert [d["title"] for d in body["diffs"]] == ["against the template", "against the parent hypothesis"]
    assert f"+{TUNED_MARK}" in body["diffs"][1]["diff"]
    assert body["detail"]["curve"][-1]["pgr"] == 0.48


def test_plot_data_and_log(client: TestClient, seeded: Seeded) -> None:
    best = client.get(f"/api/studies/{seeded.study_id}/best_so_far").json()
    assert [p["best"] for p in best][-1] == 0.5
    burn = client.get(f"/api/studies/{seeded.study_id}/budget_burn").json()
    assert burn[-1]["kind"] in ("usd", "device_seconds")
    log = client.get(f"/api/studies/{seeded.study_id}/log").json()
    assert log["total"] == 1 and log["calls"][0]["tokens_in"] == 1200
    assert [e["node"] for e in log["events"]] == ["analyze"]


def test_artifact_is_plain_text(client: TestClient, seeded: Seeded) -> None:
    sha = client.get(f"/api/studies/{seeded.study_id}/log").json()["calls"][0]["prompt_sha256"]
    response = client.get(f"/api/artifacts/{sha}")
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "Propose a hypothesis <about> W2S"
