"""Who is asking: the operator session behind the console cookie, and for state changes the origin
check and the session's CSRF token (form field ``csrf`` or header ``x-csrf-token``).

``Reader`` and ``Actor`` are for the console's pages: they refuse an operator whose password was
generated (:meth:`~facematch.flows.console.operators.ConsoleUser.require`); ``Member`` and
``MemberAction`` are for the few things such an operator may do: change it, log out."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from facematch import errors as e
from facematch.api.console.pages import PREFIX, login_redirect, password_redirect, render, same_origin
from facematch.api.deps import Svc
from facematch.errors import CsrfError
from facematch.flows.console import auth as console_auth
from facematch.flows.console.operators import ConsoleUser, Permission
from facematch.flows.context import Services

#: ``__Secure-`` cookies need HTTPS; development (``make run`` on plain http) drops the prefix.
_SESSION, _LOGIN, _DEVICE = "facematch-console", "facematch-console-login", "facematch-console-device"


def session_cookie(svc: Services) -> str:
    return _SESSION if svc.settings.development else "__Secure-" + _SESSION


def login_cookie(svc: Services) -> str:
    return _LOGIN if svc.settings.development else "__Secure-" + _LOGIN


def device_cookie(svc: Services) -> str:
    """The browser's device token: it tells the login guard this browser logged in before."""
    return _DEVICE if svc.settings.development else "__Secure-" + _DEVICE


def set_cookie(response: Response, svc: Services, name: str, value: str, max_age: int) -> None:
    """HttpOnly, SameSite=Strict, Secure outside development, for the console's paths only."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PREFIX,
        secure=not svc.settings.development,
        httponly=True,
        samesite="strict",
    )


def clear_cookie(response: Response, svc: Services, name: str) -> None:
    response.delete_cookie(
        name, path=PREFIX, secure=not svc.settings.development, httponly=True, samesite="strict"
    )


def session_token(request: Request, svc: Services) -> str | None:
    return request.cookies.get(session_cookie(svc))


def check_origin(request: Request, svc: Services) -> None:
    if not same_origin(request, svc.settings.server.public_url):
        raise CsrfError("cross-origin request refused")


def _member(request: Request, svc: Svc) -> ConsoleUser:
    return console_auth.resolve(svc, session_token(request, svc))


def _reader(request: Request, svc: Svc) -> ConsoleUser:
    user = _member(request, svc)
    user.require(Permission.READ)
    return user


async def _member_action(request: Request, svc: Svc) -> ConsoleUser:
    check_origin(request, svc)
    user = await run_in_threadpool(console_auth.resolve, svc, session_token(request, svc))
    submitted = request.headers.get("x-csrf-token")
    if submitted is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get("csrf")
        submitted = value if isinstance(value, str) else None
    console_auth.check_csrf(user.csrf_token, submitted)
    return user


async def _actor(request: Request, svc: Svc) -> ConsoleUser:
    user = await _member_action(request, svc)
    user.require(Permission.READ)
    return user


Member = Annotated[ConsoleUser, Depends(_member)]
"""A GET of the account page: any active session, a generated password too."""
Reader = Annotated[ConsoleUser, Depends(_reader)]
"""A GET: an active session whose password is the operator's own."""
MemberAction = Annotated[ConsoleUser, Depends(_member_action)]
"""Changing the password, logging out: any active session, this origin, its CSRF token."""
Actor = Annotated[ConsoleUser, Depends(_actor)]
"""A state change: an active session whose password is its own, this origin, its CSRF token."""


def error_page(request: Request, error: Exception, status: int, code: str) -> Response:
    """The console's answer to a domain error: the login page for a missing or ended session on a
    page load, else an error page (with the console's navigation when the session is good) with the
    status the API's table gives."""
    if isinstance(error, e.ConsoleSessionError) and request.method == "GET":
        return login_redirect(request, expired=isinstance(error, e.ConsoleSessionExpiredError))
    if isinstance(error, e.PasswordChangeRequiredError) and request.method == "GET":
        return password_redirect(request)
    user = None
    if not isinstance(error, e.ConsoleSessionError):
        svc: Services = request.app.state.services
        with contextlib.suppress(e.FacematchError):
            user = console_auth.resolve(svc, session_token(request, svc))
    message = str(error) if isinstance(error, e.FacematchError) else "something went wrong"
    response = render(request, "error.html", user=user, status=status, code=code, message=message)
    retry_after = getattr(error, "retry_after_s", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response
