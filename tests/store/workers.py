"""Subprocess writers for the crash and concurrency tests: `python workers.py MODE URL RESULTS_DIR`.

crash: record finished experiments forever (each with a score and 2000 curve points), printing each
    finished number after its commit, and leave one experiment running between commits.
drain STUDY_ID: claim and finish queued experiments until none is left, printing the claimed ids.
"""

from __future__ import annotations

import sys
from pathlib import Path

from aar.store import (
    CurvePointBase,
    ExperimentCreate,
    ExperimentStatus,
    ScoreBase,
    Store,
    StudyCreate,
    charge_budget,
    claim_next_experiment,
    create_experiment,
    create_study,
    finish_experiment,
    open_store,
    start_experiment,
)

POINTS = 2000


def crash_loop(store: Store) -> None:
    with store.session() as session:
        study = create_study(session=session, study_in=StudyCreate(name="crash", goal="survive SIGKILL"))
    assert study.id is not None
    while True:
        with store.session() as session:
            experiment = create_experiment(
                session=session, study_id=study.id, experiment_in=ExperimentCreate(template="probe")
            )
            assert experiment.id is not None
        with store.session() as session:
            start_experiment(session=session, experiment_id=experiment.id)
        with store.session() as session:
            curve = [CurvePointBase(step=s, split="val", accuracy=0.5, pgr=0.1) for s in range(POINTS)]
            finish_experiment(
                session=session,
                experiment_id=experiment.id,
                status=ExperimentStatus.OK,
                scores=[ScoreBase(split="test", metric="pgr", value=experiment.number / 1000)],
                curve=curve,
                device_seconds=1.0,
            )
        print(experiment.number, flush=True)


def drain(store: Store, study_id: int) -> None:
    claimed = []
    while True:
        with store.session() as session:
            experiment = claim_next_experiment(session=session, study_id=study_id)
            if experiment is None:
                break
            assert experiment.id is not None
            claimed.append(experiment.id)
        with store.session() as session:
            finish_experiment(
                session=session,
                experiment_id=experiment.id,
                status=ExperimentStatus.OK,
                scores=[ScoreBase(split="test", metric="pgr", value=0.5)],
                device_seconds=2.0,
            )
            charge_budget(session=session, study_id=study_id, kind="experiments", amount=1.0, what_for="run")
    print(" ".join(map(str, claimed)), flush=True)


def main() -> None:
    mode, url, results = sys.argv[1:4]
    store = open_store(url=url, results_dir=Path(results))
    if mode == "crash":
        crash_loop(store)
    else:
        drain(store, int(sys.argv[4]))
    store.close()


if __name__ == "__main__":
    main()
