"""The dashboard's FastAPI application: read-only pages and a JSON API over one results store.

Errors never show a traceback: unknown ids give 404, malformed parameters 422, as an HTML page for
pages and as JSON under `/api`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlmodel import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from aar.config import Settings
from aar.errors import UserError
from aar.report.render import fmt_ci, fmt_json, fmt_num, fmt_time
from aar.store.artifacts import ArtifactMissingError
from aar.store.crud import NotFoundError
from aar.store.engine import Store
from aar.web.security import TokenMiddleware, security_headers

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
MAX_ID = 2**63 - 1
# Path ids: the route's `:int` convertor turns non-numbers into 404; the bounds keep the database happy.
Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]


def store_session(request: Request) -> Iterator[Session]:
    """A read session on the app's store, for one request."""
    store: Store = request.app.state.store
    with store.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(store_session)]


def templates_env() -> Environment:
    """The page templates, autoescaped, with the report's number filters."""
    env = Environment(
        loader=PackageLoader("aar.web", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=fmt_num, ci=fmt_ci, time=fmt_time, json=fmt_json)
    return env


def wants_json(request: Request) -> bool:
    """API paths answer JSON; pages answer HTML."""
    return request.url.path.startswith("/api")


def error_response(request: Request, status: int, message: str, details: list[str] | None = None) -> Response:
    """An error as JSON (API) or as a small HTML page, never a traceback."""
    if wants_json(request):
        return JSONResponse({"detail": message, "errors": details or []}, status_code=status)
    templates: Jinja2Templates = request.app.state.templates
    context = {"status": status, "message": message, "details": details or []}
    return templates.TemplateResponse(request, "error.html", context, status_code=status)


def _validation_messages(exc: RequestValidationError) -> list[str]:
    out = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()))
        out.append(f"{where}: {error.get('msg', 'invalid')}")
    return out


def install_error_handlers(app: FastAPI) -> None:
    """Map HTTP errors, bad parameters and unknown store ids to clean 4xx responses."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return error_response(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def bad_parameters(request: Request, exc: RequestValidationError) -> Response:
        return error_response(request, 422, "malformed request parameters", _validation_messages(exc))

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> Response:
        return error_response(request, 404, str(exc))

    @app.exception_handler(ArtifactMissingError)
    async def missing_artifact(request: Request, exc: ArtifactMissingError) -> Response:
        return error_response(request, 404, str(exc))

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError) -> Response:
        return error_response(request, 400, str(exc))


def create_app(store: Store, *, token: str | None = None, templates_dir: Path | None = None) -> FastAPI:
    """The dashboard over `store`.

    Args:
        store: The open results store (read only; the app never writes to it).
        token: When set, every request must carry it (Bearer header, `?token=`, or the cookie a
            `?token=` link sets). `aar serve` requires one on non-loopback addresses.
        templates_dir: Experiment templates, for diffs against a template's `method.py`; defaults to
            the settings' `templates_dir`.
    """
    from aar.web import api, pages

    app = FastAPI(
        title="aar dashboard", docs_url="/api/docs", redoc_url=None, openapi_url="/api/openapi.json"
    )
    app.state.store = store
    app.state.templates = Jinja2Templates(env=templates_env())
    app.state.templates_dir = templates_dir or Settings().templates_dir
    install_error_handlers(app)
    app.middleware("http")(security_headers)
    if token:
        app.add_middleware(TokenMiddleware, token=token, deny=_deny)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    return app


def _deny(request: Request) -> Response:
    if wants_json(request):
        return JSONResponse({"detail": "a valid token is required"}, status_code=401)
    body = "<!doctype html><title>401</title><h1>401</h1><p>A valid token is required (?token=…).</p>"
    return HTMLResponse(body, status_code=401)


def page(request: Request, name: str, **context: Any) -> Response:
    """Render a page template with `context`."""
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, name, context)
