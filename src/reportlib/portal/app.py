"""The portal's ASGI application (Starlette, Jinja2 templates), served by ``reportlib serve``.

Pages: home (the catalogue of documents the user may see), reports (the seven portal reports
on screen and exported), on demand (a statement or QBR deck rendered by the server's warm
kernels), users (admins). Every page and download checks who is asking: something a user may
not see answers 404, exactly as something that does not exist.

Sessions are a signed, HttpOnly, SameSite=Lax cookie (Starlette's SessionMiddleware, which
signs with itsdangerous) carrying a random token whose hash is a row of ``portal_sessions``;
signing out ends that row. Every form that changes something carries the session's CSRF
token. Every response carries the security headers of :data:`SECURITY_HEADERS`; the app serves
its own scripts and styles (``/static``), and no page has an inline script. Errors show a page
of our own: never a traceback, a database URL or a password.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import secrets
import traceback
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio.to_thread
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from ..config import outputs_root, redact_secrets_in_text, resolve_db_url
from ..db import connect, engine_for, init_db
from ..errors import ConfigError, DataError, ParameterError, ReportlibError, UnknownEntityError
from . import reports as rp
from .catalogue import Catalogue, Run, may_download
from .ondemand import FAMILIES as ON_DEMAND, RenderPool
from .users import (LoginRefused, User, add_user, end_session, list_users, session_user, set_enabled, set_password,
                    sign_in)

__all__ = ["CSP", "PortalSettings", "SECURITY_HEADERS", "create_app"]

log = logging.getLogger("reportlib.portal")
HERE = Path(__file__).parent

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
# A document served from the outputs folder runs nothing and sees nothing of the portal.
DOWNLOAD_CSP = "default-src 'none'; sandbox; frame-ancestors 'none'"
VIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; sandbox; frame-ancestors 'none'"
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
FAMILY_LABELS = {"statement": "Statements", "qbr": "QBR decks", "qbr-portfolio": "QBR portfolio",
                 "amendment": "Rate amendments", "dashboard": "Tech dashboard"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SESSION_COOKIE = "reportlib_session"
MAX_BODY = 64 * 1024  # forms only: a sign-in, a user, a request for a report
HOME_LIMIT = 300  # runs listed on the home page at most; the filters narrow the rest
THREADS = 4  # threads answering requests at once (database and pandas work)


@dataclass(frozen=True)
class PortalSettings:
    """How one portal runs: database, outputs folder, kernels, cookie secret, HTTPS-only cookies."""

    db_url: str
    out: Path
    secret: str
    kernels: int = 1
    https_only: bool = False
    rehearse: bool = True


def secret_key() -> str:
    """The cookie-signing key: ``REPORTLIB_PORTAL_SECRET``, else a random key kept in the
    project's ``data/portal-secret`` (mode 0600), made on first use, so sessions outlive a restart."""
    if os.environ.get("REPORTLIB_PORTAL_SECRET"):
        return os.environ["REPORTLIB_PORTAL_SECRET"]
    from ..config import project_root

    path = project_root() / "data" / "portal-secret"
    for _attempt in range(2):
        try:
            key = path.read_text(encoding="ascii").strip()
            if key:
                return key
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:  # only the owner may read it; a second server starting at once reads the first one's
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        key = secrets.token_urlsafe(48)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(key + "\n")
        return key
    raise ConfigError(f"The portal's key file {path} is empty: delete it, or set REPORTLIB_PORTAL_SECRET.")


# -- middleware -----------------------------------------------------------------------------

class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` (and ``Cache-Control: no-store`` off ``/static``) to every
    response; a response that set its own Content-Security-Policy keeps it."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/static/")

        async def with_headers(message):
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                headers = list(message.get("headers", []))
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"private, max-age=3600" if static else b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class ErrorPages:
    """Any exception becomes our 500 page; the server log gets the traceback with secrets hidden."""

    def __init__(self, app, templates: Jinja2Templates):
        self.app, self.templates = app, templates

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            reference = secrets.token_hex(4)
            log.error("request %s %s failed (reference %s):\n%s", scope.get("method"), scope.get("path"), reference,
                      redact_secrets_in_text(traceback.format_exc()))
            if started:
                return
            body = self.templates.get_template("error.html").render(
                title="Something went wrong", status=500, user=None, csrf="",
                message=f"The portal could not answer this request. If it happens again, give the administrator "
                        f"the reference {reference}.")
            await Response(body, status_code=500, media_type="text/html")(scope, receive, send)


# -- helpers --------------------------------------------------------------------------------

class SignInRequired(Exception):
    """The request needs a signed-in user; the handler sends the browser to the sign-in page."""


class _Csrf(Exception):
    """A form without the session's CSRF token."""


def _settings(request: Request) -> PortalSettings:
    return request.app.state.settings


def _csrf(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str) or len(token) < 20:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def _check_csrf(request: Request, form) -> None:
    sent, expected = form.get("csrf"), request.session.get("csrf")
    if not isinstance(sent, str) or not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        raise _Csrf()


def _user(request: Request) -> User | None:
    token = request.session.get("sid")
    if not token:
        return None
    with connect(_settings(request).db_url) as conn:
        return session_user(conn, token)


def _require(request: Request) -> User:
    user = _user(request)
    if user is None:
        raise SignInRequired()
    return user


def _render(request: Request, name: str, context: dict[str, Any], status: int = 200,
            headers: dict[str, str] | None = None) -> Response:
    context = {"user": None, **context, "csrf": _csrf(request), "request": request}
    return request.app.state.templates.TemplateResponse(request, name, context, status_code=status, headers=headers)


def _files_of(user: User):
    """For the templates: the files of a run that ``user`` may download."""
    return lambda run: [d for d in run.files if may_download(user, run, d)]


def _not_found() -> HTTPException:
    return HTTPException(404)


_SAFE_NEXT = re.compile(r"/(?![/\\])[\x21-\x7e]*")


def _next_path(value: Any) -> str:
    return value if isinstance(value, str) and _SAFE_NEXT.fullmatch(value) else "/"


# -- pages ----------------------------------------------------------------------------------

def home(request: Request) -> Response:
    user = _require(request)
    catalogue: Catalogue = request.app.state.catalogue
    runs = catalogue.visible(user)
    families = sorted({r.family for r in runs})
    periods = sorted({r.period for r in runs}, reverse=True)
    family, period = request.query_params.get("family") or "", request.query_params.get("period") or ""
    q = (request.query_params.get("q") or "").strip().lower()[:100]
    chosen = [r for r in runs if (not family or r.family == family) and (not period or r.period == period)
              and (not q or q in r.stem.lower() or q in r.entity.lower())]
    groups: dict[tuple[str, str], list[Run]] = {}
    for run in chosen[:HOME_LIMIT]:
        groups.setdefault((run.family, run.period), []).append(run)
    return _render(request, "home.html", {
        "user": user, "groups": groups, "labels": FAMILY_LABELS, "families": families, "periods": periods,
        "family": family, "period": period, "q": q, "count": len(chosen), "limit": HOME_LIMIT,
        "files_of": _files_of(user),
    })


def reports_page(request: Request) -> Response:
    user = _require(request)
    params = request.query_params
    problems, tables, conditions, partner_name, status = [], [], None, None, 200
    with connect(_settings(request).db_url) as conn:
        kept = request.app.state.reports.view(conn)
        partners = rp.partner_accounts(conn) if user.sees_everything else []
        chosen_partner = user.partner if not user.sees_everything else (params.get("partner") or "")
        if params.get("report"):
            try:
                conditions = rp.parse_conditions(conn, user, params, kept)
            except rp.NotFound:
                raise _not_found() from None
            except rp.ConditionsError as exc:
                problems, status = exc.problems, 400
            else:
                chosen_partner = conditions.partner
                try:
                    tables = kept.tables(conditions)
                except DataError as exc:
                    problems, status = [str(exc)], 500
                partner_name = kept.partner_name(conditions.partner)
        accounts = []
        if chosen_partner:
            try:
                accounts = kept.accounts(chosen_partner)
            except UnknownEntityError:
                raise _not_found() from None
    start, end = rp.default_period()
    form = {"report": params.get("report") or "", "from": params.get("from") or start.isoformat(),
            "to": params.get("to") or end.isoformat(), "account_type": params.get("account_type") or "both",
            "account": params.get("account") or "", "status": params.getlist("status"), "partner": chosen_partner}
    if conditions is not None:
        form.update({"from": conditions.start.isoformat(), "to": conditions.end.isoformat(),
                     "account_type": conditions.account_type, "account": conditions.account or ""})
    export = f"/reports/export?{urlencode(conditions.query())}" if conditions is not None and not problems else None
    return _render(request, "reports.html", {
        "user": user, "choices": rp.report_choices(), "account_types": rp.ACCOUNT_TYPES, "statuses": rp.STATUSES,
        "partners": partners, "accounts": accounts, "form": form, "problems": problems, "tables": tables,
        "conditions": conditions, "partner_name": partner_name, "export": export, "shown_rows": rp.SHOWN_ROWS,
    }, status=status)


def report_export(request: Request) -> Response:
    user = _require(request)
    with connect(_settings(request).db_url) as conn:
        kept = request.app.state.reports.view(conn)
        try:
            conditions = rp.parse_conditions(conn, user, request.query_params, kept)
        except rp.NotFound:
            raise _not_found() from None
        except rp.ConditionsError as exc:
            return _render(request, "error.html", {"user": user, "title": "These conditions cannot work",
                                                   "message": "; ".join(exc.problems), "status": 400}, status=400)
        try:
            content = kept.workbook(conditions)
        except DataError as exc:
            return _render(request, "error.html", {"user": user, "title": "The report cannot be made",
                                                   "message": str(exc), "status": 500}, status=500)
    return Response(content, media_type=XLSX, headers={
        "content-disposition": f'attachment; filename="{conditions.file_name()}"',
        "content-security-policy": DOWNLOAD_CSP})


def _document(request: Request, inline: bool) -> Response:
    user = _require(request)
    p = request.path_params
    found = request.app.state.catalogue.document(user, p["folder"], p["period"], p["name"])
    if found is None or (inline and found[1].suffix != ".html"):
        raise _not_found()
    _run, document, path = found
    return FileResponse(path, filename=document.name, content_disposition_type="inline" if inline else "attachment",
                        media_type="text/html; charset=utf-8" if inline else None,
                        headers={"content-security-policy": VIEW_CSP if inline else DOWNLOAD_CSP})


def download(request: Request) -> Response:
    return _document(request, inline=False)


def view(request: Request) -> Response:
    return _document(request, inline=True)


def _ondemand(request: Request, user: User, problems: list[str] | None = None, form: dict | None = None,
              status: int = 200) -> Response:
    pool: RenderPool = request.app.state.pool
    with connect(_settings(request).db_url) as conn:
        partners = rp.partner_accounts(conn) if user.sees_everything else []
    return _render(request, "ondemand.html", {"user": user, "families": ON_DEMAND, "partners": partners,
                                              "jobs": pool.jobs(user), "problems": problems or [], "form": form or {},
                                              "ready": pool.ready, "kernels": pool.kernels}, status=status)


def ondemand_page(request: Request) -> Response:
    return _ondemand(request, _require(request))


async def ondemand_submit(request: Request) -> Response:
    form = await request.form()
    _check_csrf(request, form)
    user = await run_in_threadpool(_require, request)
    pool: RenderPool = request.app.state.pool
    family = form.get("family")
    partner = form.get("partner") if user.sees_everything else user.partner
    if not user.sees_everything and form.get("partner") not in (None, "", user.partner):
        raise _not_found()
    if family not in ON_DEMAND or not isinstance(partner, str) or not partner.strip():
        problems = ["choose what to render and a partner"]
    else:
        period = form.get(ON_DEMAND[family][0]) or ""
        try:
            job = await run_in_threadpool(pool.submit, user, family, partner.strip(), str(period).strip())
        except UnknownEntityError:
            raise _not_found() from None
        except ReportlibError as exc:
            problems = getattr(exc, "problems", None) or [str(exc)]
        else:
            return RedirectResponse(f"/jobs/{job.id}", status_code=303)
    return await run_in_threadpool(_ondemand, request, user, problems, dict(form), 400)


def _job(request: Request):
    user = _require(request)
    job = request.app.state.pool.job(user, request.path_params["job"])
    if job is None:
        raise _not_found()
    return user, job


def job_page(request: Request) -> Response:
    user, job = _job(request)
    run = None
    if job.status == "done":
        r = job.result
        run = request.app.state.catalogue.run(user, r["folder"], r["period"], r["stem"])
    return _render(request, "job.html", {"user": user, "job": job, "run": run, "families": ON_DEMAND,
                                         "files_of": _files_of(user)})


def job_status(request: Request) -> Response:
    _user_, job = _job(request)
    return JSONResponse(job.status_dict())


def users_page(request: Request, problems: list[str] | None = None, notice: str | None = None,
               status: int = 200) -> Response:
    user = _require(request)
    if not user.is_admin:
        raise _not_found()
    with connect(_settings(request).db_url) as conn:
        rows = list_users(conn)
        partners = rp.partner_accounts(conn)
    return _render(request, "users.html", {"user": user, "users": rows, "partners": partners,
                                           "problems": problems or [], "notice": notice}, status=status)


async def users_submit(request: Request) -> Response:
    form = await request.form()
    _check_csrf(request, form)
    user = await run_in_threadpool(_require, request)
    if not user.is_admin:
        raise _not_found()
    action = request.path_params.get("action", "add")
    name = request.path_params.get("name") or form.get("name") or ""
    settings = _settings(request)

    def change() -> str:
        with engine_for(settings.db_url).begin() as conn:
            if action == "add":
                added = add_user(conn, str(name), str(form.get("role") or ""), str(form.get("password") or ""),
                                 partner=str(form.get("partner") or "") or None)
                return f"User {added.name} added."
            if action in ("disable", "enable"):
                if action == "disable" and str(name).lower() == user.name:
                    raise ParameterError(f"user {name}", ["you cannot disable yourself"])
                set_enabled(conn, str(name), action == "enable")
                return f"User {name} {action}d."
            if action == "password":
                set_password(conn, str(name), str(form.get("password") or ""))
                return f"New password set for {name}; their sessions have ended."
        raise _not_found()

    try:
        notice = await run_in_threadpool(change)
    except UnknownEntityError:
        raise _not_found() from None
    except ParameterError as exc:
        return await run_in_threadpool(users_page, request, exc.problems, None, 400)
    return await run_in_threadpool(users_page, request, None, notice)


def login_page(request: Request) -> Response:
    if _user(request) is not None:
        return RedirectResponse(_next_path(request.query_params.get("next")), status_code=303)
    return _render(request, "login.html", {"next": _next_path(request.query_params.get("next")), "problem": None})


async def login_submit(request: Request) -> Response:
    form = await request.form()
    _check_csrf(request, form)
    settings = _settings(request)
    address = request.client.host if request.client else "unknown"
    name, password = str(form.get("name") or ""), str(form.get("password") or "")
    target = _next_path(form.get("next"))

    try:
        _signed_in, token = await run_in_threadpool(sign_in, engine_for(settings.db_url), name, password, address)
    except LoginRefused as refused:
        if refused.retry_after:
            minutes = max(1, round(refused.retry_after / 60))
            return _render(request, "login.html", {
                "next": target, "problem": f"Too many failed sign-ins for this name or from this address. "
                                           f"Try again in about {minutes} minute{'s' if minutes != 1 else ''}."},
                status=429, headers={"retry-after": str(refused.retry_after)})
        return _render(request, "login.html", {"next": target, "problem": "Wrong name or password."}, status=401)
    request.session.clear()
    request.session["sid"] = token
    request.session["csrf"] = secrets.token_urlsafe(32)
    return RedirectResponse(target, status_code=303)


async def logout(request: Request) -> Response:
    form = await request.form()
    _check_csrf(request, form)
    token = request.session.get("sid")

    def sign_out() -> None:
        with engine_for(_settings(request).db_url).begin() as conn:
            end_session(conn, token)

    await run_in_threadpool(sign_out)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok", "kernels_ready": request.app.state.pool.ready})


# -- errors ---------------------------------------------------------------------------------

_TITLES = {400: "Bad request", 403: "Not allowed", 404: "Not found", 405: "Not allowed",
           413: "Too large", 429: "Too many requests"}


async def http_error(request: Request, exc: HTTPException) -> Response:
    messages = {404: "There is nothing here, or nothing you may see.",
                405: "This address does not answer that kind of request.",
                413: "The form sent is too large."}
    status = exc.status_code if exc.status_code in _TITLES else 400
    return _render(request, "error.html", {"title": _TITLES[status], "status": status,
                                           "message": messages.get(status, "The request could not be understood.")},
                   status=status)


async def csrf_error(request: Request, exc: Exception) -> Response:
    return _render(request, "error.html", {
        "title": "Form refused", "status": 403,
        "message": "This form has expired or did not come from this site. Go back, reload the page and try again."},
        status=403)


async def sign_in_required(request: Request, exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)


# -- the application ------------------------------------------------------------------------

def create_app(db_url: str | None = None, out: str | os.PathLike | None = None, *, kernels: int = 1,
               https_only: bool = False, secret: str | None = None, rehearse: bool = True) -> Starlette:
    """The portal over the database ``db_url`` and the outputs folder ``out``."""
    url = resolve_db_url(db_url)
    settings = PortalSettings(db_url=url, out=outputs_root(out), secret=secret or secret_key(), kernels=kernels,
                              https_only=https_only, rehearse=rehearse)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["labels"] = FAMILY_LABELS

    @asynccontextmanager
    async def lifespan(app: Starlette):
        # Requests wait their turn for a few threads instead of sharing the interpreter among
        # dozens: the same work, done in order, leaves fewer requests waiting long.
        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        await run_in_threadpool(init_db, settings.db_url)
        settings.out.mkdir(parents=True, exist_ok=True)
        app.state.pool.start()
        try:
            yield
        finally:
            await run_in_threadpool(app.state.pool.close)

    routes = [
        Route("/", home),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login_submit, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/reports", reports_page),
        Route("/reports/export", report_export),
        Route("/files/{folder}/{period}/{name}", download),
        Route("/view/{folder}/{period}/{name}", view),
        Route("/ondemand", ondemand_page, methods=["GET"]),
        Route("/ondemand", ondemand_submit, methods=["POST"]),
        Route("/jobs/{job}", job_page),
        Route("/jobs/{job}/status", job_status),
        Route("/admin/users", users_page, methods=["GET"]),
        Route("/admin/users", users_submit, methods=["POST"]),
        Route("/admin/users/{name}/{action}", users_submit, methods=["POST"]),
        Route("/healthz", healthz),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(ErrorPages, templates=templates),
        Middleware(SessionMiddleware, secret_key=settings.secret, session_cookie=SESSION_COOKIE,
                   max_age=12 * 3600, same_site="lax", https_only=https_only),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan, max_body_size=MAX_BODY,
                    exception_handlers={HTTPException: http_error, _Csrf: csrf_error,
                                        SignInRequired: sign_in_required})
    app.state.settings = settings
    app.state.templates = templates
    app.state.catalogue = Catalogue(settings.out)
    app.state.reports = rp.ReportCache()
    app.state.pool = RenderPool(settings.db_url, settings.out, kernels=kernels, rehearse=rehearse)
    return app
