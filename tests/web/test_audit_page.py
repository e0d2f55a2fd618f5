"""The dashboard's study page shows audit rejections and the hypotheses given up after them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from aar.store import ExperimentCreate, Store, create_experiment
from tests.report.audit_seed import PROBLEM, reject
from tests.report.seed import Seeded


def test_study_page_flags_audit_rejections(client: TestClient, store: Store, seeded: Seeded) -> None:
    before = client.get(f"/studies/{seeded.study_id}")
    assert "The audit rejected no code." in before.text
    hid = reject(store, seeded.study_id)
    page = client.get(f"/studies/{seeded.study_id}")
    assert page.status_code == 200
    assert (
        '<span class="status rejected">rejected by audit</span>' in page.text
        and f"<b>H{hid}</b>" in page.text
    )
    assert 'id="audit-findings"' in page.text
    assert "torch.os is not allowed" in page.text and "smoke run failed (RuntimeError)" in page.text
    assert PROBLEM.split(":")[0] in page.text


def test_experiment_page_shows_its_hypothesis_rejections(
    client: TestClient, store: Store, seeded: Seeded
) -> None:
    hid = reject(store, seeded.study_id)
    with store.session() as session:  # the hypothesis's next attempt passed the audit and ran
        row = create_experiment(
            session=session,
            study_id=seeded.study_id,
            experiment_in=ExperimentCreate(template="probe", hypothesis_id=hid),
        )
    page = client.get(f"/experiments/{row.id}")
    assert page.status_code == 200
    assert "static audit rejected attempt 2: line 7: torch.os is not allowed" in page.text
