"""The OpenAPI document says what the API really answers, errors included.

Every error the control plane sends has one shape, :class:`~aios.controlplane.error_handlers.
ErrorBody` (``{"status", "message", "field"?, "node"?}``); Litestar would document its own
``{"status_code", "detail"}`` for validation errors and nothing else. :func:`document_errors`
gives every operation the error statuses it can answer, each with :class:`ErrorBody`:

=====  ==================================================================================
400    a parameter or body that does not validate (every operation)
401    no, bad or expired credentials (every operation but ``/health``; the public ones
       answer it for a bad token, password or device credential)
403    the caller's role does not allow it (guarded operations; registration when closed)
404    a path's resource does not exist or belongs to another organization
409    a write conflicting with existing data
422    a pipeline spec that is valid JSON but not a valid pipeline
429    too many attempts (the operations without a bearer token: login, registration...)
500    an unexpected error (logged; the body says nothing more)
503    the MQTT broker is unavailable (writes that publish)
=====  ==================================================================================

Request bodies are documented as strictly as they are decoded (:class:`StrictStructSchemaPlugin`):
a Struct that forbids unknown fields says ``additionalProperties: false``, and the bounds of an
optional field (``Annotated[int, Meta(ge=0)] | None``) stay on its non-null branch. (It
extends Litestar's Struct plugin, which is not exported publicly: the schemathesis contract
test, ``tests/controlplane/api/test_openapi_contract.py``, fails if an upgrade changes it.)
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Litestar
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Schema
from litestar.routes import HTTPRoute
from litestar.typing import FieldDefinition

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator

from aios.controlplane.error_handlers import ErrorBody

_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
_UNAUTHENTICATED_PATHS = {"/health"}
_DESCRIPTIONS = {
    400: "Invalid parameter or body (``field`` names it)",
    401: "Not authenticated",
    403: "Not allowed for the caller's role",
    404: "Not found (or another organization's)",
    409: "Conflicts with existing data",
    422: "Not a valid pipeline (``node`` and ``field`` say where)",
    429: "Too many attempts (see ``Retry-After``)",
    500: "Unexpected error",
    503: "The MQTT broker is unavailable",
}


def error_statuses(handler: HTTPRouteHandler, path: str) -> set[int]:
    """The error statuses ``handler`` (serving ``path``) can answer."""
    if path in _UNAUTHENTICATED_PATHS:
        return {500}
    methods = set(handler.http_methods)
    statuses = {400, 401, 500}
    public = bool(handler.opt.get("exclude_from_auth"))
    if handler.resolve_guards() or path == "/api/v1/auth/register":
        statuses.add(403)
    if "{" in path:
        statuses.add(404)
    if methods & _WRITES:
        statuses |= {409, 503}
        if path.startswith("/api/v1/pipelines"):
            statuses.add(422)
    if public:
        statuses.add(429)
    return statuses


def document_errors(app: Litestar) -> None:
    """Add the :class:`ErrorBody` responses to every HTTP operation of ``app`` (before its
    OpenAPI document is first generated, which happens on first request)."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            documented = dict(handler.responses or {})
            for status in sorted(error_statuses(handler, route.path)):
                documented.setdefault(
                    status,
                    ResponseSpec(
                        data_container=ErrorBody,
                        generate_examples=False,
                        description=_DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
                    ),
                )
            handler.responses = documented


_BOUNDS = {
    "ge": "minimum",
    "le": "maximum",
    "gt": "exclusive_minimum",
    "lt": "exclusive_maximum",
    "min_length": "min_length",
    "max_length": "max_length",
    "pattern": "pattern",
}
_ITEM_BOUNDS = {"min_length": "min_items", "max_length": "max_items"}


def _bounds(info: msgspec.inspect.Type) -> dict[str, Any]:
    """The JSON-schema bounds of a msgspec type (Schema attribute names)."""
    names = _ITEM_BOUNDS if isinstance(info, msgspec.inspect.ListType) else _BOUNDS
    return {
        attribute: getattr(info, bound)
        for bound, attribute in names.items()
        if getattr(info, bound, None) is not None
    }


def _tighten(node: Schema, info: msgspec.inspect.Type) -> None:
    """Copy the bounds of ``info`` (and of its items, or of its one non-null branch) onto
    ``node`` where Litestar left them out."""
    if isinstance(info, msgspec.inspect.UnionType):
        branches = [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]
        schemas = [b for b in node.one_of or [] if isinstance(b, Schema) and b.type != "null"]
        if len(branches) == 1 and len(schemas) == 1:
            _tighten(schemas[0], branches[0])
        return
    for attribute, value in _bounds(info).items():
        if getattr(node, attribute) is None:
            setattr(node, attribute, value)
    item_type = getattr(info, "item_type", None)
    if item_type is not None and isinstance(node.items, Schema):
        _tighten(node.items, item_type)


class StrictStructSchemaPlugin(StructSchemaPlugin):
    """Litestar's Struct schemas, plus ``additionalProperties: false`` for Structs that forbid
    unknown fields and the bounds of optional fields and list items (which Litestar drops)."""

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        info = msgspec.inspect.type_info(field_definition.type_)
        if not isinstance(info, msgspec.inspect.StructType):
            return schema
        if info.forbid_unknown_fields:
            schema.additional_properties = False
        for field in info.fields:
            prop = (schema.properties or {}).get(field.encode_name)
            if isinstance(prop, Schema):
                _tighten(prop, field.type)
        return schema
