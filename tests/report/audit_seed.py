"""A hypothesis the audit rejected, seeded through the store's API (report and dashboard tests)."""

from __future__ import annotations

from aar.store import (
    AuditFindingCreate,
    AuditStage,
    HypothesisCreate,
    HypothesisStatus,
    Store,
    create_hypothesis,
    record_audit_finding,
    update_hypothesis,
)

PROBLEM = "line 7: torch.os is not allowed: it reaches the module 'os'"


def reject(store: Store, study_id: int) -> int:
    """A hypothesis the audit rejected twice (static, then smoke) and the agent then gave up."""
    sha = store.put_artifact(b"import torch\n", kind="code", media_type="text/x-python")
    with store.session() as session:
        h = create_hypothesis(
            session=session, study_id=study_id, hypothesis_in=HypothesisCreate(text="read the labels")
        )
        hid = int(h.id or 0)
        for attempt, stage, problems in ((1, AuditStage.SMOKE, ["smoke run failed (RuntimeError)"]),
                                         (2, AuditStage.STATIC, [PROBLEM, "line 9: builtin 'chr' is not allowed"])):  # fmt: skip
            record_audit_finding(session=session, study_id=study_id, finding_in=AuditFindingCreate(
                hypothesis_id=hid, attempt=attempt, stage=stage, problems=problems, code_sha256=sha))  # fmt: skip
        update_hypothesis(session=session, hypothesis_id=hid, status=HypothesisStatus.ABANDONED, finding="x")
    return hid
