"""GraphQL -> endpoints: one operation per field of Query and Mutation, from a live
endpoint's introspection, a saved introspection result (JSON) or an SDL file.

Each operation selects scalar fields down to `max_depth` levels of objects (deeper object
fields, and fields that need arguments below the top level, are left out) and passes
required arguments as variables with sample values: the argument's default, an enum's
first value, or a value of its type. Custom scalars get a value that fits their name or
`@specifiedBy` URL (`Date` a date, `DateTime` an RFC 3339 time, `UUID`, `Email`, `URL`,
`JSON`, ...: CUSTOM_SCALARS); a custom scalar Luna cannot tell gets no invented value: a
mutation that needs one is marked destructive (a wrong value could be stored and break the
service under test) and a warning names it. Mutations are writes; a mutation whose name
or description says it destroys is marked destructive (`model.destructive_reason`, the
same words as REST). The schema is built by graphql-core, so a malformed introspection or
SDL is reported by the same library that would serve it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    Undefined,
    build_client_schema,
    build_schema,
    get_introspection_query,
    get_named_type,
)

from tasks.discovery.formats import FIXED_UUID, FORMATS
from tasks.discovery.model import (
    DiscoveredEndpoint,
    Discovery,
    LoaderError,
    check_size,
    destructive_reason,
    destructive_summary,
)

DEFAULT_MAX_DEPTH = 2
MAX_FIELDS_PER_LEVEL = 25
INTROSPECTION_QUERY = get_introspection_query(descriptions=False)
SCALAR_SAMPLES: dict[str, Any] = {"Int": 1, "Float": 1.0, "String": "string", "Boolean": True, "ID": "1"}
# Custom scalars by their name, lower-cased without '_' (graphql-scalars and common servers).
CUSTOM_SCALARS: dict[str, Any] = {
    "date": FORMATS["date"],
    "localdate": FORMATS["date"],
    "datetime": FORMATS["date-time"],
    "datetimeiso": FORMATS["date-time"],
    "timestamp": FORMATS["date-time"],
    "timestamptz": FORMATS["date-time"],
    "instant": FORMATS["date-time"],
    "offsetdatetime": FORMATS["date-time"],
    "zoneddatetime": FORMATS["date-time"],
    "localdatetime": "2024-01-01T00:00:00",
    "time": FORMATS["time"],
    "localtime": "12:00:00",
    "duration": FORMATS["duration"],
    "uuid": FIXED_UUID,
    "guid": FIXED_UUID,
    "email": FORMATS["email"],
    "emailaddress": FORMATS["email"],
    "url": FORMATS["url"],
    "uri": FORMATS["uri"],
    "ipv4": FORMATS["ipv4"],
    "ipv6": FORMATS["ipv6"],
    "json": {},
    "jsonobject": {},
    "object": {},
    "bigint": 1,
    "long": 1,
    "int64": 1,
    "positiveint": 1,
    "nonnegativeint": 0,
    "unsignedint": 1,
    "short": 1,
    "byte": 1,
    "decimal": "1.0",
    "bigdecimal": "1.0",
    "float64": 1.0,
    "hexcolorcode": "#000000",
    "currency": "EUR",
    "countrycode": "NL",
    "locale": "en",
    "phonenumber": "+15555550100",
    "postalcode": "1000",
}
# `@specifiedBy` URLs that say what a scalar is.
SPECIFIED_BY: tuple[tuple[str, Any], ...] = (
    ("rfc3339", FORMATS["date-time"]),
    ("rfc4122", FIXED_UUID),
    ("uuid", FIXED_UUID),
    ("rfc3986", FORMATS["uri"]),
    ("rfc5322", FORMATS["email"]),
    ("iso8601", FORMATS["date-time"]),
)


def scalar_sample(type_: GraphQLScalarType) -> tuple[bool, Any]:
    """(True, value) for a built-in or known custom scalar; (False, None) when Luna cannot tell."""
    if type_.name in SCALAR_SAMPLES:
        return True, SCALAR_SAMPLES[type_.name]
    key = type_.name.lower().replace("_", "")
    if key in CUSTOM_SCALARS:
        return True, CUSTOM_SCALARS[key]
    url = (type_.specified_by_url or "").lower().replace("-", "")
    for marker, value in SPECIFIED_BY:
        if marker in url:
            return True, value
    return False, None


def _sample(type_: GraphQLInputType, unknown: set[str], depth: int = 0) -> Any:
    """A value of the type; the names of scalars Luna cannot sample are added to `unknown`."""
    if isinstance(type_, GraphQLNonNull):
        return _sample(type_.of_type, unknown, depth)
    if isinstance(type_, GraphQLList):
        return [_sample(type_.of_type, unknown, depth + 1)]
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values), None)
    if isinstance(type_, GraphQLInputObjectType):
        if depth > 4:
            return {}
        return {
            name: (
                field.default_value if field.default_value is not Undefined else _sample(field.type, unknown, depth + 1)
            )
            for name, field in type_.fields.items()
            if isinstance(field.type, GraphQLNonNull) or field.default_value is not Undefined
        }
    if isinstance(type_, GraphQLScalarType):
        known, value = scalar_sample(type_)
        if not known:
            unknown.add(type_.name)
        return value
    return None


def _selection(type_: GraphQLNamedType, depth: int, max_depth: int) -> str | None:
    """`{ a b c { d } }` for an object type; None for a leaf."""
    if isinstance(type_, GraphQLUnionType):
        return "{ __typename }"
    if not isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
        return None
    picked: list[str] = []
    for name, field in type_.fields.items():
        if len(picked) >= MAX_FIELDS_PER_LEVEL:
            break
        if any(isinstance(a.type, GraphQLNonNull) and a.default_value is Undefined for a in field.args.values()):
            continue  # needs arguments we would have to invent per level
        inner = get_named_type(field.type)
        if isinstance(inner, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
            if depth >= max_depth:
                continue
            sub = _selection(inner, depth + 1, max_depth)
            if sub:
                picked.append(f"{name} {sub}")
        else:
            picked.append(name)
    return "{ " + " ".join(picked or ["__typename"]) + " }"


def _operation(
    kind: str, name: str, field: GraphQLField, max_depth: int, unknown: set[str]
) -> tuple[str, dict[str, Any]]:
    required = {
        arg_name: arg
        for arg_name, arg in field.args.items()
        if isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined
    }
    variables = {arg_name: _sample(arg.type, unknown) for arg_name, arg in required.items()}
    declared = ", ".join(f"${arg_name}: {arg.type}" for arg_name, arg in required.items())
    passed = ", ".join(f"{arg_name}: ${arg_name}" for arg_name in required)
    selection = _selection(get_named_type(field.type), 1, max_depth) or ""
    op_name = re.sub(r"\W", "_", f"{kind.capitalize()}{name[:1].upper()}{name[1:]}")
    document = (
        f"{kind} {op_name}{f'({declared})' if declared else ''} "
        f"{{ {name}{f'({passed})' if passed else ''}{(' ' + selection) if selection else ''} }}"
    )
    return document, variables


def from_schema(schema: GraphQLSchema, *, source: str, path: str, max_depth: int = DEFAULT_MAX_DEPTH) -> Discovery:
    endpoints: list[DiscoveredEndpoint] = []
    warnings: list[str] = []
    for kind, root in (("query", schema.query_type), ("mutation", schema.mutation_type)):
        if root is None:
            continue
        for name, field in root.fields.items():
            unknown: set[str] = set()
            document, variables = _operation(kind, name, field, max_depth, unknown)
            reason = destructive_reason("POST", write=kind == "mutation", name=name)
            if unknown:
                scalars = ", ".join(sorted(unknown))
                if kind == "mutation":
                    reason = reason or f"it needs the custom scalar(s) {scalars}"
                warnings.append(
                    f"{kind} {name} needs the custom scalar(s) {scalars}, which Luna cannot sample: "
                    + ("marked destructive; " if kind == "mutation" else "sent as null; ")
                    + "give its variables in the endpoints file"
                )
            endpoints.append(
                DiscoveredEndpoint(
                    name=f"{kind}_{name}",
                    group="graphql",
                    type="graphql",
                    method="POST",
                    path=path,
                    query=document,
                    variables=variables or None,
                    checks={"status": 200, "no_graphql_errors": True, "has_data": True},
                    destructive=reason is not None,
                    destructive_reason=reason,
                    source=f"{source}#/{kind}/{name}",
                )
            )
    summary = destructive_summary(endpoints)
    if summary:
        warnings.append(summary)
    if schema.subscription_type is not None:
        warnings.append("subscriptions are not load tested (k6 sends them over HTTP only); left out")
    if not endpoints:
        raise LoaderError(
            "invalid", "the schema has no query or mutation fields", location=source, tip="check the schema"
        )
    return Discovery(source=source, kind="graphql", title=None, endpoints=endpoints, warnings=warnings)


def from_graphql(
    document: bytes | str, *, source: str, path: str = "/graphql", max_depth: int = DEFAULT_MAX_DEPTH
) -> Discovery:
    """An introspection result (JSON: `{"data": {"__schema": ...}}` or `{"__schema": ...}`)
    or an SDL document -> Discovery (raises LoaderError)."""
    check_size(document, source)
    text = document.decode("utf-8-sig", errors="replace") if isinstance(document, bytes) else document
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    try:
        if data is not None:
            if isinstance(data, dict) and isinstance(data.get("data"), dict):
                data = data["data"]
            if not isinstance(data, dict) or not isinstance(data.get("__schema"), dict):
                raise LoaderError(
                    "format",
                    "JSON without an introspection '__schema'",
                    location=source,
                    tip="save the result of the standard introspection query, or pass the SDL",
                )
            schema = build_client_schema(data)  # type: ignore[arg-type]
        else:
            schema = build_schema(text)
    except LoaderError:
        raise
    except GraphQLError as exc:
        where = source
        if exc.locations:
            where = f"{source}:{exc.locations[0].line}:{exc.locations[0].column}"
        raise LoaderError(
            "syntax" if "Syntax Error" in exc.message else "invalid",
            exc.message.splitlines()[0],
            location=where,
            tip="fix the schema",
        ) from None
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as exc:
        raise LoaderError(
            "invalid",
            f"not a usable GraphQL schema ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})",
            location=source,
            tip="pass a complete introspection result or SDL",
        ) from None
    return from_schema(schema, source=source, path=path, max_depth=max_depth)


def introspection_body() -> bytes:
    return json.dumps({"query": INTROSPECTION_QUERY, "operationName": "IntrospectionQuery"}).encode()
