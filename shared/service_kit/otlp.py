"""OTLP/HTTP span export, with the spans written straight to protobuf's wire format.

OpenTelemetry's own encoder builds a protobuf object per span, attribute and value, and hashes
the resource (a JSON dump of its attributes) once per span to group them: about 120 µs of the
exporting process's CPU for a span of 14 attributes, more than making the span cost. Every span a
service records is encoded once, in its own process, so that cost is paid on every sampled
request. This encoder writes the same ``ExportTraceServiceRequest`` (the tests decode both and
compare them) with the resource and scope encoded once, and each attribute key once per process:
about a tenth of the time.

:class:`OTLPSpanExporter` is OpenTelemetry's HTTP exporter (endpoint, headers, TLS, compression,
retries: its standard variables) with this encoder. Imported only when tracing is on.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as _OTLPSpanExporter,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

logger = logging.getLogger(__name__)

_fixed64 = struct.Struct("<Q").pack
_fixed32 = struct.Struct("<I").pack
_double = struct.Struct("<d").pack
#: ``flags`` of a span or link: whether its parent is remote is known (and set when it is).
_HAS_IS_REMOTE, _IS_REMOTE = 0x100, 0x200


#: The one-byte varints (0 to 127): most lengths and small numbers.
_BYTE = [bytes((n,)) for n in range(0x80)]


def _varint(value: int) -> bytes:
    if value < 0x80:
        return _BYTE[value]
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: its tag, the payload's length, the payload."""
    size = len(payload)
    return tag + (_BYTE[size] if size < 0x80 else _varint(size)) + payload


def _text(tag: bytes, value: str) -> bytes:
    return _field(tag, value.encode("utf-8", "replace"))  # a lone surrogate: "?", still UTF-8


# -- common.proto: AnyValue, KeyValue ---------------------------------------------------------

#: Each attribute key's encoded ``KeyValue.key`` field: keys repeat from span to span.
_keys: dict[str, bytes] = {}
_KEYS_KEPT = 4096


def _key(key: str) -> bytes:
    encoded = _keys.get(key)
    if encoded is None:
        encoded = _text(b"\x0a", key)
        if len(_keys) < _KEYS_KEPT:
            _keys[key] = encoded
    return encoded


def _value(value: Any) -> bytes:
    """An ``AnyValue``'s body (its oneof set even to a zero value, as protobuf does)."""
    if isinstance(value, str):
        return _text(b"\x0a", value)
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise TypeError(f"an integer outside int64: {value}")
        return b"\x18" + _varint(value & 0xFFFFFFFFFFFFFFFF)  # int64: two's complement
    if isinstance(value, float):
        return b"\x21" + _double(value)
    if isinstance(value, bytes):
        return _field(b"\x3a", value)
    if value is None:
        return b""
    if isinstance(value, Sequence):
        return _field(b"\x2a", b"".join(_field(b"\x0a", _value(v)) for v in value))
    if isinstance(value, Mapping):
        return _field(b"\x32", b"".join(_key_value(b"\x0a", k, v) for k, v in value.items()))
    raise TypeError(f"an attribute of type {type(value).__name__}")


def _key_value(tag: bytes, key: Any, value: Any) -> bytes:
    return _field(tag, _key(str(key)) + _field(b"\x12", _value(value)))


def _attributes(tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
    """Repeated ``KeyValue`` fields under ``tag``; a value that cannot be encoded is left out,
    as OpenTelemetry's encoder leaves it (logged)."""
    if not attributes:
        return b""
    out = []
    for key, value in attributes.items():
        try:
            if value.__class__ is str and len(value) < 0x40:  # most values: inlined
                text = value.encode("utf-8", "replace")
                size = len(text)
                if size < 0x7E:
                    kv = _keys.get(key) or _key(key)
                    kv += b"\x12" + _BYTE[size + 2] + b"\x0a" + _BYTE[size] + text
                    out.append(tag + (_BYTE[len(kv)] if len(kv) < 0x80 else _varint(len(kv))) + kv)
                    continue
            out.append(_key_value(tag, key, value))
        except TypeError as error:
            logger.warning("otlp.attribute_dropped", extra={"key": key, "error": str(error)})
    return b"".join(out)


# -- trace.proto: Span, ScopeSpans, ResourceSpans --------------------------------------------


def _flags(parent: Any) -> bytes:
    return _fixed32(_HAS_IS_REMOTE | (_IS_REMOTE if parent is not None and parent.is_remote else 0))


def _span(span: ReadableSpan) -> bytes:
    context = span.context
    assert context is not None  # noqa: S101 - every SDK span has one
    parts = [
        b"\x0a\x10" + context.trace_id.to_bytes(16, "big"),
        b"\x12\x08" + context.span_id.to_bytes(8, "big"),
    ]
    if context.trace_state:
        parts.append(_text(b"\x1a", ",".join(f"{k}={v}" for k, v in context.trace_state.items())))
    parent = span.parent
    if parent is not None:
        parts.append(b"\x22\x08" + parent.span_id.to_bytes(8, "big"))
    parts.append(_text(b"\x2a", span.name))
    parts.append(b"\x30" + _varint(span.kind.value + 1))  # the SDK's kinds start at INTERNAL = 0
    parts.append(b"\x39" + _fixed64(span.start_time or 0))
    parts.append(b"\x41" + _fixed64(span.end_time or 0))
    parts.append(_attributes(b"\x4a", span.attributes))
    if span.dropped_attributes:
        parts.append(b"\x50" + _varint(span.dropped_attributes))
    for event in span.events:
        body = b"\x09" + _fixed64(event.timestamp) + _text(b"\x12", event.name)
        body += _attributes(b"\x1a", event.attributes)
        if event.dropped_attributes:
            body += b"\x20" + _varint(event.dropped_attributes)
        parts.append(_field(b"\x5a", body))
    if span.dropped_events:
        parts.append(b"\x60" + _varint(span.dropped_events))
    for link in span.links:
        body = b"\x0a\x10" + link.context.trace_id.to_bytes(16, "big")
        body += b"\x12\x08" + link.context.span_id.to_bytes(8, "big")
        body += _attributes(b"\x22", link.attributes)
        if link.dropped_attributes:
            body += b"\x28" + _varint(link.dropped_attributes)
        parts.append(_field(b"\x6a", body + b"\x35" + _flags(link.context)))
    if span.dropped_links:
        parts.append(b"\x70" + _varint(span.dropped_links))
    status = b""
    if span.status.description:
        status += _text(b"\x12", span.status.description)
    if span.status.status_code.value:
        status += b"\x18" + _varint(span.status.status_code.value)
    parts.append(_field(b"\x7a", status))
    parts.append(b"\x85\x01" + _flags(parent))  # field 16, fixed32
    return b"".join(parts)


#: Encoded resources and scopes, by identity (each process has one resource and few scopes);
#: the object is kept with its bytes, so its id is never another's.
_encoded: dict[int, tuple[Any, bytes]] = {}


def _once(thing: Any, encode: Any) -> bytes:
    entry = _encoded.get(id(thing))
    if entry is None or entry[0] is not thing:
        entry = (thing, encode(thing))
        if len(_encoded) < 256:
            _encoded[id(thing)] = entry
    return entry[1]


def _resource(resource: Any) -> bytes:
    return _field(b"\x0a", _attributes(b"\x0a", resource.attributes))


def _scope(scope: Any) -> bytes:
    if scope is None:
        return b"\x0a\x00"
    body = _text(b"\x0a", scope.name)
    if scope.version:
        body += _text(b"\x12", scope.version)
    body += _attributes(b"\x1a", scope.attributes)
    return _field(b"\x0a", body)


def encode_spans(spans: Iterable[ReadableSpan]) -> bytes:
    """An OTLP ``ExportTraceServiceRequest``: the spans grouped by resource, then by scope."""
    groups: dict[int, tuple[Any, dict[int, tuple[Any, list[bytes]]]]] = {}
    for span in spans:
        resource, scope = span.resource, span.instrumentation_scope
        scopes = groups.setdefault(id(resource), (resource, {}))[1]
        scopes.setdefault(id(scope), (scope, []))[1].append(_field(b"\x12", _span(span)))
    out = []
    for resource, scopes in groups.values():
        body = _once(resource, _resource)
        for scope, encoded in scopes.values():
            scope_body = _once(scope, _scope) + b"".join(encoded)
            if scope is not None and scope.schema_url:
                scope_body += _text(b"\x1a", scope.schema_url)
            body += _field(b"\x12", scope_body)
        if resource.schema_url:
            body += _text(b"\x1a", resource.schema_url)
        out.append(_field(b"\x0a", body))
    return b"".join(out)


class OTLPSpanExporter(_OTLPSpanExporter):
    """OpenTelemetry's OTLP/HTTP span exporter, its requests written by :func:`encode_spans`."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            return SpanExportResult.FAILURE
        try:
            body = encode_spans(spans)
        except Exception:
            logger.exception("otlp.encode_failed", extra={"spans": len(spans)})
            return SpanExportResult.FAILURE
        if 0 < self._max_request_size < len(body):
            logger.warning("otlp.batch_too_large", extra={"spans": len(spans), "bytes": len(body)})
            return SpanExportResult.FAILURE
        result = self._client.export(body)
        return SpanExportResult.SUCCESS if result.success else SpanExportResult.FAILURE
