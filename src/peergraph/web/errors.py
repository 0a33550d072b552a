"""One error shape for the API, friendly pages for browsers."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException

from peergraph.web.auth import LoginRequired, login_redirect

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "invalid_parameter",
    429: "rate_limited",
}


def error_body(status: int, message: str, code: str | None = None) -> dict[str, object]:
    return {
        "error": {"status": status, "code": code or CODES.get(status, "error"), "message": message}
    }


def install(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired):
        if request.url.path.startswith("/api/"):
            body = error_body(401, "Log in, or send a personal API token.")
            return JSONResponse(body, status_code=401, headers={"www-authenticate": "Bearer"})
        return RedirectResponse(login_redirect(request), status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        message = str(exc.detail)
        if request.url.path.startswith("/api/"):
            return JSONResponse(error_body(exc.status_code, message), status_code=exc.status_code)
        templates = request.app.state.templates
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": exc.status_code, "message": message},
            status_code=exc.status_code,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {e['msg']}"
            for e in exc.errors()
        )
        if request.url.path.startswith("/api/"):
            return JSONResponse(error_body(422, problems), status_code=422)
        return HTMLResponse(
            request.app.state.templates.get_template("error.html").render(
                request=request, status=400, message=problems
            ),
            status_code=400,
        )
