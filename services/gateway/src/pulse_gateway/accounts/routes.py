"""Sessions (login, refresh, logout, me) and the admin API, relayed to the auth service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any, NoReturn, TypeVar

from litestar import Request, Response, delete, get, patch, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.openapi.spec import Operation, RequestBody
from litestar.params import Body, FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
from pulse_contracts.accounts import (
    ApiKey,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyReply,
    AuthReply,
    AuthRequest,
    CreateApiKey,
    CreateUser,
    Done,
    ListApiKeys,
    ListUsers,
    LoginRequest,
    LogoutRequest,
    RefreshRequest,
    ResetPassword,
    RevokeApiKey,
    TokenPair,
    UpdateUser,
    User,
    UserList,
    UserReply,
)
from pulse_runtime.access_tokens import AccessClaims
from pulse_runtime.auth_client import AuthClient, AuthRefused, AuthUnavailable
from pulse_runtime.web import ApiError, current_traceparent

from pulse_gateway.edge.refusals import refusals
from pulse_gateway.settings import GatewaySettings

from .schemas import (
    CreatedApiKey,
    LoginBody,
    Me,
    NewApiKey,
    NewUser,
    PasswordReset,
    RefreshBody,
    TokenResponse,
    UserChange,
)

REFRESH_COOKIE = "pulse_refresh"
_COOKIE_PATH = "/api/v1/auth"
ReplyT = TypeVar("ReplyT", bound=AuthReply)

_STATUS = {
    "invalid_credentials": 401,
    "invalid_refresh_token": 401,
    "refresh_token_reused": 401,
    "too_many_attempts": 429,
    "email_taken": 409,
    "not_found": 404,
    "bad_request": 400,
}


async def relay(
    auth: NamedDependency[AuthClient], request: AuthRequest, expect: type[ReplyT]
) -> ReplyT:
    try:
        return await auth.call(request, expect, current_traceparent.get(None))
    except AuthRefused as refused:
        _raise_for(refused)
    except AuthUnavailable:
        raise ApiError(503, "auth_unavailable", "the auth service is not answering") from None


def _raise_for(refused: AuthRefused) -> NoReturn:
    error = refused.error
    status = _STATUS.get(error.code, 503)
    headers = {"Retry-After": str(error.retry_after_s)} if error.retry_after_s else None
    raise ApiError(status, error.code, error.message, headers=headers) from None


def _session_response(
    pair: TokenPair, settings: NamedDependency[GatewaySettings], status_code: int = HTTP_200_OK
) -> Response[TokenResponse]:
    body = TokenResponse(
        access_token=pair.access_token,
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
    )
    cookie = Cookie(
        key=REFRESH_COOKIE,
        value=pair.refresh_token,
        path=_COOKIE_PATH,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="strict",
        max_age=pair.refresh_expires_in or None,
    )
    return Response(
        body, status_code=status_code, cookies=[cookie], headers={"Cache-Control": "no-store"}
    )


def _client_ip(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else ""


@dataclass
class OptionalBody(Operation):
    """An operation whose body may be left out: the refresh token then comes from the cookie
    (Litestar marks every body required)."""

    def __post_init__(self) -> None:
        if isinstance(self.request_body, RequestBody):
            self.request_body.required = False


def is_self(user_id: uuid.UUID, claims: AccessClaims) -> bool:
    """Whether ``user_id`` is the caller, compared as UUIDs: the path may spell an id in any
    of the forms :class:`uuid.UUID` reads (upper case, braces, ``urn:uuid:``, no hyphens)."""
    try:
        return user_id == uuid.UUID(claims.sub)
    except ValueError:
        return False


@post(
    "/api/v1/auth/login",
    opt={"access": "public"},
    summary="Log in",
    status_code=HTTP_200_OK,
    responses=refusals(400, 401, 413, 429, 503),
)
async def login(
    request: Request[Any, Any, Any],
    data: JSONBody[LoginBody],
    auth: NamedDependency[AuthClient],
    settings: NamedDependency[GatewaySettings],
) -> Response[TokenResponse]:
    pair = await relay(
        auth,
        LoginRequest(email=data.email, password=data.password, client_ip=_client_ip(request)),
        TokenPair,
    )
    return _session_response(pair, settings)


@post(
    "/api/v1/auth/refresh",
    opt={"access": "public"},
    summary="New tokens for a refresh token",
    description="The refresh token from the body, else from the `pulse_refresh` cookie.",
    status_code=HTTP_200_OK,
    responses=refusals(400, 401, 413, 503),
    operation_class=OptionalBody,
)
async def refresh(
    request: Request[Any, Any, Any],
    auth: NamedDependency[AuthClient],
    settings: NamedDependency[GatewaySettings],
    data: Annotated[RefreshBody | None, Body()] = None,
) -> Response[TokenResponse]:
    token = (data.refresh_token if data else None) or request.cookies.get(REFRESH_COOKIE)
    if not token:
        raise ApiError(401, "invalid_refresh_token", "no refresh token: log in again")
    pair = await relay(auth, RefreshRequest(refresh_token=token), TokenPair)
    return _session_response(pair, settings)


@post(
    "/api/v1/auth/logout",
    opt={"access": "account"},
    summary="End this session",
    description="Revokes this access token and its refresh chain (the token from the body,"
    " else from the `pulse_refresh` cookie, which is cleared).",
    status_code=HTTP_204_NO_CONTENT,
    responses=refusals(400, 413, 503),
    operation_class=OptionalBody,
    # Max-Age=0 clears the cookie (a fixed header: the document shows it as is).
    response_cookies=[
        Cookie(key=REFRESH_COOKIE, path=_COOKIE_PATH, max_age=0, httponly=True, samesite="strict")
    ],
)
async def logout(
    request: Request[AccessClaims, Any, Any],
    auth: NamedDependency[AuthClient],
    data: Annotated[RefreshBody | None, Body()] = None,
) -> None:
    claims = request.user
    token = (data.refresh_token if data else None) or request.cookies.get(REFRESH_COOKIE)
    await relay(
        auth,
        LogoutRequest(
            user_id=claims.sub, refresh_token=token, access_jti=claims.jti, access_exp=claims.exp
        ),
        Done,
    )


@get("/api/v1/auth/me", opt={"access": "account"}, summary="Who am I")
async def me(request: Request[AccessClaims, Any, Any]) -> Me:
    claims = request.user
    return Me(id=claims.sub, email=claims.email, role=claims.role)


@get("/api/v1/admin/users", opt={"access": "admin"}, summary="List users", responses=refusals(503))
async def list_users(auth: NamedDependency[AuthClient]) -> list[User]:
    return (await relay(auth, ListUsers(), UserList)).users


@post(
    "/api/v1/admin/users",
    opt={"access": "admin"},
    summary="Create a user",
    status_code=HTTP_201_CREATED,
    responses=refusals(400, 409, 413, 503),
)
async def create_user(data: JSONBody[NewUser], auth: NamedDependency[AuthClient]) -> User:
    request = CreateUser(email=data.email, password=data.password, role=data.role)
    return (await relay(auth, request, UserReply)).user


@patch(
    "/api/v1/admin/users/{user_id:uuid}",
    opt={"access": "admin"},
    summary="Role, disabled",
    responses=refusals(400, 404, 409, 413, 503),
)
async def change_user(
    request: Request[AccessClaims, Any, Any],
    user_id: FromPath[uuid.UUID],
    data: JSONBody[UserChange],
    auth: NamedDependency[AuthClient],
) -> User:
    demoted = data.role is not None and data.role != "admin"
    if is_self(user_id, request.user) and (data.disabled or demoted):
        raise ApiError(409, "cannot_change_self", "an admin cannot disable or demote themselves")
    change = UpdateUser(user_id=str(user_id), role=data.role, disabled=data.disabled)
    return (await relay(auth, change, UserReply)).user


@post(
    "/api/v1/admin/users/{user_id:uuid}/password",
    opt={"access": "admin"},
    summary="Reset a password (ends the user's sessions)",
    status_code=HTTP_200_OK,
    responses=refusals(400, 404, 413, 503),
)
async def reset_password(
    user_id: FromPath[uuid.UUID], data: JSONBody[PasswordReset], auth: NamedDependency[AuthClient]
) -> User:
    request = ResetPassword(user_id=str(user_id), password=data.password)
    return (await relay(auth, request, UserReply)).user


@get(
    "/api/v1/admin/api-keys",
    opt={"access": "admin"},
    summary="List API keys",
    responses=refusals(503),
)
async def list_api_keys(auth: NamedDependency[AuthClient]) -> list[ApiKey]:
    return (await relay(auth, ListApiKeys(), ApiKeyList)).api_keys


@post(
    "/api/v1/admin/api-keys",
    opt={"access": "admin"},
    summary="Create an API key (its secret is shown this once)",
    status_code=HTTP_201_CREATED,
    responses=refusals(400, 413, 503),
)
async def create_api_key(
    request: Request[AccessClaims, Any, Any],
    data: JSONBody[NewApiKey],
    auth: NamedDependency[AuthClient],
) -> Response[CreatedApiKey]:
    created = await relay(
        auth,
        CreateApiKey(name=data.name, scopes=data.scopes, created_by=request.user.sub),
        ApiKeyCreated,
    )
    return Response(
        CreatedApiKey(api_key=created.api_key, secret=created.secret),
        status_code=HTTP_201_CREATED,
        headers={"Cache-Control": "no-store"},
    )


@delete(
    "/api/v1/admin/api-keys/{api_key_id:uuid}",
    opt={"access": "admin"},
    summary="Revoke an API key",
    status_code=HTTP_200_OK,
    responses=refusals(400, 404, 503),
)
async def revoke_api_key(
    api_key_id: FromPath[uuid.UUID], auth: NamedDependency[AuthClient]
) -> ApiKey:
    request = RevokeApiKey(api_key_id=str(api_key_id))
    return (await relay(auth, request, ApiKeyReply)).api_key


ROUTES = [
    login,
    refresh,
    logout,
    me,
    list_users,
    create_user,
    change_user,
    reset_password,
    list_api_keys,
    create_api_key,
    revoke_api_key,
]
