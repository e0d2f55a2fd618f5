from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from aar.store import Store, claim_next_experiment, get_experiment, models, open_store
from aar.store.engine import make_engine, parse_url
from aar.store.migrate import current_revisions, head_revision, upgrade

FIRST = "0001"


def test_the_migrations_build_exactly_the_models(store: Store) -> None:
    def ours(name: str | None, type_: str, _parent: object) -> bool:
        return type_ != "table" or name in models.STORE_TABLES

    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": ours})
        assert compare_metadata(context, models.SQLModel.metadata) == []
        assert current_revisions(connection) == (head_revision(),)
    assert head_revision() != FIRST


def _first_version_store(url: str) -> None:
    """A store as the first schema version wrote it, with a study and a running experiment."""
    engine = make_engine(parse_url(url))
    upgrade(engine, where=url, revision=FIRST)
    with engine.begin() as connection:
        now = "2026-01-01 00:00:00"
        connection.execute(
            text(
                "INSERT INTO study (id, name, goal, task, pair, policy, feedback_mode, budget_limits, status,"
                " experiment_counter, created_at, updated_at) VALUES (1, 'old', 'g', '', '', '', '', '{}',"
                " 'active', 2, :now, :now)"
            ),
            {"now": now},
        )
        for number, status in ((1, "ok"), (2, "queued")):
            connection.execute(
                text(
                    "INSERT INTO experiment (id, study_id, number, template, config, seed, sandbox_kind,"
                    " devices, status, queued_at) VALUES (:n, 1, :n, 'probe', '{}', 0, '', '[]', :s, :now)"
                ),
                {"n": number, "s": status, "now": now},
            )
        assert current_revisions(connection) == (FIRST,)
    engine.dispose()


def test_an_old_store_upgrades_in_place(shared_db_url: str, tmp_path: Path) -> None:
    _first_version_store(shared_db_url)
    store = open_store(url=shared_db_url, results_dir=tmp_path)
    try:
        with store.session() as session:
            assert get_experiment(session=session, experiment_id=1).status == "ok"
            claimed = claim_next_experiment(session=session, study_id=1, worker="new:1")
            assert claimed is not None
            assert (claimed.number, claimed.attempt, claimed.worker) == (2, 1, "new:1")
        with store.engine.connect() as connection:
            assert current_revisions(connection) == (head_revision(),)
    finally:
        store.close()
