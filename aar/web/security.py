"""Who may read the dashboard: anyone on loopback, and only token holders when bound elsewhere."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.types import ASGIApp

from aar.errors import UserError

TOKEN_ENV = "AAR_WEB_TOKEN"
COOKIE = "aar_token"
# Same-origin assets only: nothing is loaded from a CDN, and agent-written text can never run as script.
CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'"


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_binding(host: str, token: str | None) -> None:
    """Refuse to serve on a non-loopback address without a token.

    Raises:
        UserError: `host` is reachable from other machines and no token is set.
    """
    if not is_loopback(host) and not token:
        raise UserError(
            f"refusing to serve on {host} without a token: set {TOKEN_ENV} (or bind to 127.0.0.1)"
        )


def presented_token(request: Request) -> str | None:
    """The token a request carries: a Bearer header, the `token` query parameter, or the cookie."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.query_params.get("token") or request.cookies.get(COOKIE)


class TokenMiddleware(BaseHTTPMiddleware):
    """Require the token on every request; a `?token=` link sets a cookie so the browser keeps access."""

    def __init__(self, app: ASGIApp, *, token: str, deny: Callable[[Request], Response]) -> None:
        super().__init__(app)
        self.token = token
        self.deny = deny

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Pass the request on when its token matches, else answer 401."""
        given = presented_token(request)
        if given is None or not hmac.compare_digest(given.encode(), self.token.encode()):
            return self.deny(request)
        response = await call_next(request)
        if request.query_params.get("token"):
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
        return response


async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Add the content security policy and no-sniff headers to every response."""
    response = await call_next(request)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response
