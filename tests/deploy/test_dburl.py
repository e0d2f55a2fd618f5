"""The deploy image's store URL: built from the db service's host and password, any character quoted."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from aar.deploy.dburl import database_url, export_database_url
from aar.errors import UserError


def test_the_password_survives_any_character() -> None:
    password = "p@ss/w:rd%?#&= x"
    url = database_url({"AAR_DB_HOST": "db", "AAR_DB_PASSWORD": password})
    assert url is not None
    parsed = make_url(url)
    assert (parsed.host, parsed.port, parsed.username, parsed.database) == ("db", 5432, "aar", "aar")
    assert parsed.password == password and parsed.drivername == "postgresql+psycopg"


def test_a_secret_file_wins_and_an_explicit_url_is_left_alone(tmp_path: Path) -> None:
    secret = tmp_path / "db_password"
    secret.write_text("from-the-secret\n")
    env = {"AAR_DB_HOST": "db", "AAR_DB_PASSWORD": "from-env", "AAR_DB_PASSWORD_FILE": str(secret)}
    assert make_url(database_url(env) or "").password == "from-the-secret"
    explicit = {"AAR_DB_HOST": "db", "AAR_DATABASE_URL": "sqlite://"}
    export_database_url(explicit)
    assert explicit["AAR_DATABASE_URL"] == "sqlite://"
    assert database_url({}) is None  # not in the deployment: nothing to build


def test_no_password_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no password: set AAR_DB_PASSWORD"):
        database_url({"AAR_DB_HOST": "db"})
    with pytest.raises(UserError, match="cannot read the database password"):
        database_url({"AAR_DB_HOST": "db", "AAR_DB_PASSWORD_FILE": str(tmp_path / "missing")})
    with pytest.raises(SystemExit, match=r"^error: AAR_DB_HOST is set but no password"):
        export_database_url({"AAR_DB_HOST": "db"})
