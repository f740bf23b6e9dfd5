"""Every error answers JSON ``{"status": int, "message": str, "field"?: str}``.

Litestar's validation errors name the offending parameter or body field in ``field``; the
control plane's own :class:`~aios.controlplane.errors.ControlPlaneError` subclasses map to 400
and 404, and so do Advanced Alchemy's repository errors (not found 404, integrity 409: this
module is their one translation boundary); anything unexpected is logged and answers a bare
500 (no internals leak).
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any

import msgspec
from advanced_alchemy.exceptions import DuplicateKeyError, IntegrityError
from advanced_alchemy.exceptions import NotFoundError as RepositoryNotFoundError
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_500_INTERNAL_SERVER_ERROR,
)
from litestar.types import ExceptionHandlersMap

from aios.controlplane.errors import (
    AuthenticationError,
    BrokerError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)
from aios.shared.errors import PipelineValidationError

log = logging.getLogger(__name__)


_NAMED_FIELD = re.compile(r"(?:missing required|unknown) field `([^`]+)`")


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    status: int
    message: str
    field: str | None = None
    node: str | None = None


def _respond(
    status: int,
    message: str,
    field: str | None = None,
    *,
    node: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response[ErrorBody]:
    return Response(
        ErrorBody(status=status, message=message, field=field, node=node),
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers,
    )


def _validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[ErrorBody]:
    field: str | None = None
    message = exc.detail
    if isinstance(exc.extra, list) and exc.extra and isinstance(exc.extra[0], dict):
        first = exc.extra[0]
        field = str(first["key"]) if first.get("key") is not None else None
        message = str(first.get("message") or message)
        # msgspec reports a missing or unknown top-level body field on the body itself
        # ("Object missing required field `email`"): name the field instead.
        named = _NAMED_FIELD.search(message)
        if field in (None, "data") and named is not None:
            field = named.group(1)
    return _respond(exc.status_code, message, field)


def _http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    return _respond(exc.status_code, exc.detail)


def _invalid(_: Request[Any, Any, Any], exc: InvalidRequestError) -> Response[ErrorBody]:
    return _respond(HTTP_400_BAD_REQUEST, exc.message, exc.field)


def _conflict(_: Request[Any, Any, Any], exc: IntegrityError) -> Response[ErrorBody]:
    return _respond(HTTP_409_CONFLICT, "conflicts with an existing resource")


def _not_found(
    _: Request[Any, Any, Any], exc: NotFoundError | RepositoryNotFoundError
) -> Response[ErrorBody]:
    return _respond(HTTP_404_NOT_FOUND, str(exc) or "not found")


def _unauthenticated(_: Request[Any, Any, Any], exc: AuthenticationError) -> Response[ErrorBody]:
    # The reason stays in the logs of the caller's own mistakes, not in the answer.
    return _respond(401, "not authenticated", headers={"WWW-Authenticate": "Bearer"})


def _forbidden(_: Request[Any, Any, Any], exc: PermissionDeniedError) -> Response[ErrorBody]:
    return _respond(403, str(exc))


def _taken(_: Request[Any, Any, Any], exc: ConflictError) -> Response[ErrorBody]:
    return _respond(HTTP_409_CONFLICT, exc.message, exc.field)


def _too_many(_: Request[Any, Any, Any], exc: RateLimitedError) -> Response[ErrorBody]:
    retry = str(max(1, math.ceil(exc.retry_after_s)))
    return _respond(429, exc.message, headers={"Retry-After": retry})


def _bad_pipeline(_: Request[Any, Any, Any], exc: PipelineValidationError) -> Response[ErrorBody]:
    return _respond(422, exc.message, exc.field, node=exc.node)


def _broker_down(_: Request[Any, Any, Any], exc: BrokerError) -> Response[ErrorBody]:
    return _respond(503, "the MQTT broker is unavailable")


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _respond(HTTP_500_INTERNAL_SERVER_ERROR, "internal server error")


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    ValidationException: _validation,
    HTTPException: _http,
    InvalidRequestError: _invalid,
    NotFoundError: _not_found,
    RepositoryNotFoundError: _not_found,
    DuplicateKeyError: _conflict,
    IntegrityError: _conflict,
    AuthenticationError: _unauthenticated,
    PermissionDeniedError: _forbidden,
    ConflictError: _taken,
    RateLimitedError: _too_many,
    PipelineValidationError: _bad_pipeline,
    BrokerError: _broker_down,
    Exception: _unexpected,
}
