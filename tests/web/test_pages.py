"""The dashboard's HTML pages on a seeded store."""

from __future__ import annotations

from fastapi.testclient import TestClient

from aar.store import (
    AgentEventBase,
    ExperimentCreate,
    Store,
    StudyCreate,
    create_experiment,
    create_study,
    record_event,
)
from tests.report.seed import TUNED_MARK, Seeded, finish_ok, queue


def test_studies_list(client: TestClient, seeded: Seeded) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert f'href="/studies/{seeded.study_id}"' in page.text
    assert "0.500" in page.text  # best dev PGR
    assert "usd 0.01" in page.text  # budget used


def test_study_page(client: TestClient, seeded: Seeded) -> None:
    page = client.get(f"/studies/{seeded.study_id}")
    assert page.status_code == 200
    text = page.text
    assert "Beat naive PGR on rotten_tomatoes" in text
    assert 'id="progress"' in text and 'data-version="' in text
    for plot in ("best_so_far", "pgr_by_method", "pgr_curves", "budget_burn"):
        assert f"/studies/{seeded.study_id}/plots/{plot}.svg" in text
    assert "Stronger confidence weight helps more" in text and "alpha 0.9 lifts PGR" in text


def test_plots_are_svg(client: TestClient, seeded: Seeded) -> None:
    for plot in ("best_so_far", "pgr_by_method", "pgr_curves", "budget_burn"):
        response = client.get(f"/studies/{seeded.study_id}/plots/{plot}.svg")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("image/svg+xml")
        assert "<svg" in response.text


def test_experiments_table_sorts_by_pgr(client: TestClient, seeded: Seeded) -> None:
    desc = client.get(f"/studies/{seeded.study_id}/experiments-table?sort=pgr&order=desc").text
    asc = client.get(f"/studies/{seeded.study_id}/experiments-table?sort=pgr&order=asc").text
    assert desc.index("0.500") < desc.index("0.080")
    assert asc.index("0.080") < asc.index("0.500")


def test_experiment_page_shows_code_diffs(client: TestClient, seeded: Seeded) -> None:
    experiment_id = seeded.experiments["aux_conf_tuned"][0]
    text = client.get(f"/experiments/{experiment_id}").text
    assert "against the template" in text and "against the parent hypothesis" in text
    assert f'<span class="add">+{TUNED_MARK}</span>' in text
    assert "no-network: passed" in text
    final = client.get(f"/experiments/{seeded.experiments['final'][0]}").text
    assert "integrity: weak-label shuffle ablation kept 80% of PGR" in final
    assert f"/experiments/{experiment_id}/curve.svg" in text


def test_failed_experiment_shows_error_and_log(client: TestClient, seeded: Seeded) -> None:
    text = client.get(f"/experiments/{seeded.experiments['failed'][0]}").text
    assert "loss became NaN" in text
    assert "nan loss at step 2" in text


def test_experiment_number_redirects(client: TestClient, seeded: Seeded) -> None:
    response = client.get(f"/studies/{seeded.study_id}/experiments/1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/experiments/{seeded.experiments['naive'][0]}"


def test_agent_log_expands_prompts(client: TestClient, seeded: Seeded) -> None:
    text = client.get(f"/studies/{seeded.study_id}/log").text
    assert "propose" in text and "1200" in text and "0.0123" in text
    assert "aux_conf beats naive" in text  # an agent step
    assert "Propose a hypothesis &lt;about&gt; W2S" in text  # escaped, inside <details>


def test_report_page(client: TestClient, seeded: Seeded) -> None:
    response = client.get(f"/studies/{seeded.study_id}/report")
    assert response.status_code == 200 and response.text.count("<svg") >= 4


def test_progress_version_changes(client: TestClient, store: Store, seeded: Seeded) -> None:
    before = client.get(f"/api/studies/{seeded.study_id}/progress").json()
    experiment_id = queue(store, seeded.study_id, None, None, {"method": "naive"}, 7)
    finish_ok(store, experiment_id, 0.9)
    after = client.get(f"/api/studies/{seeded.study_id}/progress").json()
    assert after["version"] != before["version"]
    assert after["fields"]["count.ok"] == str(int(before["fields"]["count.ok"]) + 1)
    assert after["fields"]["best"].startswith("0.900")


def test_agent_log_links_experiments_by_their_study_number(
    client: TestClient, store: Store, seeded: Seeded
) -> None:
    """One numbering: a step about "experiment 2" shows 2 (its number in the study), linking to its page by id
    (the log used to show the global id: "experiment 2" linked as 3)."""
    with store.session() as session:
        other = create_study(session=session, study_in=StudyCreate(name="second", goal="g"))
        sid = int(other.id or 0)
        exps = [create_experiment(session=session, study_id=sid, experiment_in=ExperimentCreate(template="probe"))
                for _ in range(2)]  # fmt: skip
        second = exps[1]
        record_event(session=session, study_id=sid, event_in=AgentEventBase(
            node="evaluate", message="experiment 2: ok", experiment_id=second.id))  # fmt: skip
    assert second.number == 2 and second.id != 2
    text = client.get(f"/studies/{sid}/log").text
    assert f'<a href="/experiments/{second.id}">2</a>' in text
