"""The console's login (password, then the TOTP code or its enrolment), logout and account pages."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from facematch.api.console.deps import (
    Actor,
    Member,
    MemberAction,
    check_origin,
    clear_cookie,
    device_cookie,
    login_cookie,
    session_cookie,
    session_token,
    set_cookie,
)
from facematch.api.console.pages import PREFIX, redirect, render, safe_next
from facematch.api.deps import Source, Svc
from facematch.errors import ConsoleSessionError, InvalidFieldError, LoginFailedError
from facematch.flows.console import auth as console_auth
from facematch.flows.console import operators
from facematch.flows.console.auth import LoginStep

router = APIRouter(prefix=PREFIX, include_in_schema=False)
Text = Annotated[str, Form()]


def _login_page(
    request: Request, svc: Svc, *, error: str = "", email: str = "", status: int = 200, next_: str = ""
) -> Response:
    nonce, form_token = console_auth.login_form(svc)
    response = render(
        request,
        "login.html",
        status=status,
        form_token=form_token,
        next=safe_next(next_ or request.query_params.get("next")),
        expired=request.query_params.get("expired") == "1",
        error=error,
        email=email,
    )
    set_cookie(response, svc, login_cookie(svc), nonce, 1800)
    return response


@router.get("/login")
def login_page(request: Request, svc: Svc) -> Response:
    try:
        console_auth.resolve(svc, session_token(request, svc))
    except ConsoleSessionError:
        return _login_page(request, svc)
    return redirect(safe_next(request.query_params.get("next")))


def _after_login(svc: Svc, step: LoginStep, next_: str) -> Response:
    target = safe_next(next_)
    if step.stage == console_auth.SECOND_FACTOR:
        response = redirect(f"{PREFIX}/login/code?{urlencode({'next': target})}")
    elif step.stage == console_auth.ENROL:
        response = redirect(f"{PREFIX}/enrol?{urlencode({'next': target})}")
    elif step.must_change_password:  # the only page a generated password opens: say why
        flags = {"required": "1", "next": target} | ({"enrolled": "1"} if step.enrolled else {})
        response = redirect(f"{PREFIX}/account?{urlencode(flags)}")
    else:
        response = redirect(target)
    console = svc.settings.console
    set_cookie(
        response,
        svc,
        session_cookie(svc),
        step.token,
        console.session_absolute_s if step.stage == console_auth.ACTIVE else console.login_step_ttl_s,
    )
    if step.device_token:
        set_cookie(response, svc, device_cookie(svc), step.device_token, console.known_browser_s)
    return response


@router.post("/login")
def login(
    request: Request,
    svc: Svc,
    source: Source,
    email: Text = "",
    password: Text = "",
    form_token: Text = "",
    next: Text = "",
) -> Response:
    check_origin(request, svc)
    console_auth.check_login_form(svc, request.cookies.get(login_cookie(svc)), form_token)
    try:
        step = console_auth.password_step(
            svc, email, password, source, device_token=request.cookies.get(device_cookie(svc))
        )
    except LoginFailedError as error:
        return _login_page(request, svc, error=str(error), email=email, status=401, next_=next)
    response = _after_login(svc, step, next)
    clear_cookie(response, svc, login_cookie(svc))
    return response


@router.get("/login/code")
def code_page(request: Request, svc: Svc) -> Response:
    waiting = console_auth.pending(svc, session_token(request, svc), console_auth.SECOND_FACTOR)
    return render(
        request,
        "code.html",
        email=waiting.email,
        pending_csrf=waiting.csrf_token,
        next=safe_next(request.query_params.get("next")),
        error="",
    )


@router.post("/login/code")
def code(
    request: Request, svc: Svc, source: Source, code: Text = "", csrf: Text = "", next: Text = ""
) -> Response:
    check_origin(request, svc)
    token = session_token(request, svc)
    waiting = console_auth.pending(svc, token, console_auth.SECOND_FACTOR)
    console_auth.check_csrf(waiting.csrf_token, csrf)
    try:
        step = console_auth.second_factor_step(
            svc, token, code, source, device_token=request.cookies.get(device_cookie(svc))
        )
    except LoginFailedError as error:
        page = render(
            request,
            "code.html",
            status=401,
            email=waiting.email,
            pending_csrf=waiting.csrf_token,
            next=safe_next(next),
            error=str(error),
        )
        return page
    return _after_login(svc, step, next)


@router.get("/enrol")
def enrol_page(request: Request, svc: Svc) -> Response:
    enrolment = console_auth.enrolment(svc, session_token(request, svc))
    return render(
        request, "enrol.html", enrolment=enrolment, next=safe_next(request.query_params.get("next")), error=""
    )


@router.post("/enrol")
def enrol(
    request: Request, svc: Svc, source: Source, code: Text = "", csrf: Text = "", next: Text = ""
) -> Response:
    check_origin(request, svc)
    token = session_token(request, svc)
    enrolment = console_auth.enrolment(svc, token)
    console_auth.check_csrf(enrolment.csrf_token, csrf)
    try:
        step = console_auth.finish_enrolment(
            svc, token, code, source, device_token=request.cookies.get(device_cookie(svc))
        )
    except LoginFailedError as error:
        return render(
            request, "enrol.html", status=401, enrolment=enrolment, next=safe_next(next), error=str(error)
        )
    return _after_login(svc, step, next)


@router.post("/logout")
def logout(request: Request, svc: Svc, user: MemberAction, source: Source) -> Response:
    console_auth.logout(svc, session_token(request, svc), source=source)
    response = redirect(PREFIX + "/login")
    clear_cookie(response, svc, session_cookie(svc))
    return response


@router.post("/logout-everywhere")
def logout_everywhere(svc: Svc, user: MemberAction, source: Source) -> Response:
    console_auth.logout_everywhere(svc, user, source=source)
    response = redirect(PREFIX + "/login")
    clear_cookie(response, svc, session_cookie(svc))
    return response


def _account_page(
    request: Request,
    svc: Svc,
    user: operators.ConsoleUser,
    *,
    status: int = 200,
    notice: str = "",
    error: str = "",
    next_: str = "",
) -> Response:
    console = svc.settings.console
    return render(
        request,
        "account.html",
        user=user,
        status=status,
        idle_min=console.session_idle_s // 60,
        absolute_h=round(console.session_absolute_s / 3600, 1),
        zones=operators.time_zones(),
        next=safe_next(next_) if next_ else "",
        enrolled=request.query_params.get("enrolled") == "1",
        notice=notice,
        error=error,
    )


@router.get("/account")
def account(request: Request, svc: Svc, user: Member, next: str = "") -> Response:
    return _account_page(request, svc, user, next_=next)


@router.post("/account/password")
def change_password(
    request: Request,
    svc: Svc,
    user: MemberAction,
    source: Source,
    current: Text = "",
    new: Text = "",
    next: Text = "",
) -> Response:
    try:
        operators.change_password(svc, user, current, new, source=source)
    except (LoginFailedError, InvalidFieldError) as error:
        return _account_page(request, svc, user, status=400, error=str(error), next_=next)
    if next:  # a generated password sent the operator here on the way somewhere: go on
        return redirect(safe_next(next))
    user = console_auth.resolve(svc, session_token(request, svc))
    return _account_page(request, svc, user, notice="Password changed.")


@router.post("/account/time-zone")
def time_zone(request: Request, svc: Svc, user: Actor, source: Source, zone: Text = "") -> Response:
    try:
        operators.set_time_zone(svc, user, zone, source=source)
    except InvalidFieldError as error:
        return _account_page(request, svc, user, status=400, error=str(error))
    user = console_auth.resolve(svc, session_token(request, svc))
    return _account_page(request, svc, user, notice=f"Times are now shown in {user.time_zone}.")
