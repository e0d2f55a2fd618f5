"""End of a study: integrity flags onto the finalists' rows, the report, the study's final status."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from aar.store import StudyStatus, merge_experiment_config, set_study_status

if TYPE_CHECKING:
    from aar.graph.runtime import Runtime
    from aar.graph.state import StudyState

log = logging.getLogger(__name__)


def store_integrity(rt: Runtime, finalists: list[dict[str, object]]) -> None:
    """Keep each finalist's integrity flags in its final experiment's config (`integrity_flags`)."""
    for f in finalists:
        exp_id = f.get("experiment_id")
        if not isinstance(exp_id, int):
            continue
        extra = {
            "integrity_flags": f.get("flags", []),
            "integrity": {k: v for k, v in f.items() if k != "flags"},
        }
        with rt.store.session() as session:
            merge_experiment_config(session=session, experiment_id=exp_id, extra=extra)


def finish_study(rt: Runtime, state: StudyState) -> Path:
    """Mark the study finished, with its stop reason (a budget end too), then write its report (HTML).

    The status comes first so the report says "finished" and when.
    """
    from aar.report import write_report

    store_integrity(rt, state.finalists)
    with rt.store.session() as session:
        set_study_status(session=session, study_id=rt.study_id, status=StudyStatus.FINISHED,
                         stop_reason=state.stop_reason or "finished")  # fmt: skip
    out = rt.settings.results_dir / "reports" / f"study-{rt.study_id}.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    path = write_report(rt.store, rt.study_id, fmt="html", out=out)
    sha = rt.store.put_artifact(path.read_bytes(), kind="report", media_type="text/html")
    with rt.store.session() as session:
        set_study_status(
            session=session, study_id=rt.study_id, status=StudyStatus.FINISHED, report_sha256=sha
        )
    return path
