"""The store's URL inside the deploy image: built from the db service's host and password.

compose.yaml hands the password over as AAR_DB_PASSWORD, or as a secret file named by
AAR_DB_PASSWORD_FILE; any character is allowed (it is quoted into the URL). An explicit
AAR_DATABASE_URL wins.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path
from urllib.parse import quote

from aar.errors import UserError


def database_url(env: MutableMapping[str, str]) -> str | None:
    """`postgresql+psycopg://aar:<password>@<AAR_DB_HOST>:5432/aar`, or None without AAR_DB_HOST.

    Raises:
        UserError: AAR_DB_HOST is set but no password is (or its secret file cannot be read).
    """
    host = env.get("AAR_DB_HOST", "")
    if env.get("AAR_DATABASE_URL") or not host:
        return None
    password = env.get("AAR_DB_PASSWORD", "")
    if secret := env.get("AAR_DB_PASSWORD_FILE", ""):
        try:
            password = Path(secret).read_text().rstrip("\n")  # as the shell reads it (db service)
        except OSError as exc:
            raise UserError(f"cannot read the database password from {secret}: {exc.strerror}") from None
    if not password:
        raise UserError("AAR_DB_HOST is set but no password: set AAR_DB_PASSWORD or AAR_DB_PASSWORD_FILE")
    user, name, port = (
        env.get("AAR_DB_USER", "aar"),
        env.get("AAR_DB_NAME", "aar"),
        env.get("AAR_DB_PORT", "5432"),
    )
    return f"postgresql+psycopg://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{name}"


def export_database_url(env: MutableMapping[str, str] | None = None) -> None:
    """Set AAR_DATABASE_URL from the db service's settings (the image's `aar` command calls this first)."""
    env = os.environ if env is None else env
    try:
        url = database_url(env)
    except UserError as exc:
        raise SystemExit(f"error: {exc}") from None
    if url is not None:
        env["AAR_DATABASE_URL"] = url
