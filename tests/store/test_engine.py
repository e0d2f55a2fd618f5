from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from aar.config import Settings
from aar.errors import UserError
from aar.store import open_store
from aar.store.migrate import head_revision


def test_default_store_is_sqlite_in_results_dir(tmp_path: Path) -> None:
    store = open_store(Settings(results_dir=tmp_path / "results", database_url=""))
    try:
        assert (tmp_path / "results" / "aar.db").exists()
        with store.engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "malformed database URL"),
        ("mysql://root@localhost/aar", "unsupported database 'mysql'"),
        ("postgresql://nobody@127.0.0.1:1/aar", "cannot open the database at postgresql"),
        ("sqlite:////nonexistent-dir/deeper/aar.db", "not writable|does not exist"),
    ],
)
def test_bad_urls_are_one_clear_error(tmp_path: Path, url: str, message: str) -> None:
    results = tmp_path / "results"
    with pytest.raises(UserError, match=message):
        open_store(url=url, results_dir=results)
    assert not results.exists(), "nothing written"


def test_password_is_hidden_in_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError) as caught:
        open_store(url="postgresql://me:s3cret@127.0.0.1:1/aar", results_dir=tmp_path)
    assert "s3cret" not in str(caught.value)


def test_a_store_from_a_newer_aar_is_refused_untouched(shared_db_url: str, tmp_path: Path) -> None:
    open_store(url=shared_db_url, results_dir=tmp_path).close()
    store = open_store(url=shared_db_url, results_dir=tmp_path)
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    store.close()
    for upgrade in (True, False):
        with pytest.raises(UserError, match=r"schema revision 9999_future, newer than this aar knows"):
            open_store(url=shared_db_url, results_dir=tmp_path, upgrade=upgrade)
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "9999_future"


def test_reopening_is_a_no_op(shared_db_url: str, tmp_path: Path) -> None:
    for _ in range(2):
        store = open_store(url=shared_db_url, results_dir=tmp_path)
        with store.engine.connect() as connection:
            assert (
                connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
                == head_revision()
            )
        store.close()
