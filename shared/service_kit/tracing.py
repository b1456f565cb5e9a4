"""OpenTelemetry traces: on in every process when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.

Off (the default), nothing of OpenTelemetry's SDK is imported and every helper here is one check
of :data:`ON`. On, :func:`setup` (the kit's app config calls it) makes the process's tracer
provider from the standard variables (``OTEL_TRACES_SAMPLER``/``_ARG``, ``OTEL_EXPORTER_OTLP_*``,
``OTEL_RESOURCE_ATTRIBUTES``), names the resource (``service.name``, ``service.version``,
``deployment.environment``), and turns on the maintained instrumentations: Django, psycopg, Redis,
urllib3 (the kit's :class:`~service_kit.http.ServiceClient`: one CLIENT span per attempt, with
``traceparent``), botocore, and Celery, the last in each worker process once forked
(``worker_process_init``; ``worker_ready`` for a pool of threads).

Messages carry their trace in the envelope (``trace``: ``traceparent`` and ``tracestate``),
written with the outbox row in the request's transaction: the relay's or the sweep's later publish
is a PRODUCER span of that request's trace, and the handler runs in a CONSUMER span under it
(OpenTelemetry's messaging conventions: ``messaging.system`` ``rabbitmq``, destination, message
id).

Work under a span that is not sampled (nine requests in ten at the default ratio) makes no spans:
the request's or the message's own span, when not recording, suppresses the instrumentations
(psycopg, Redis, urllib3, botocore) for what runs under it, so an unsampled request pays for one
sampling decision, not for a span per query. Its ``traceparent`` (flag not sampled) still goes out
with every call and message, so the services it reaches record nothing of it either.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

#: Tracing is on in this process (the endpoint is set and the SDK not disabled).
ON = bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")) and (
    os.environ.get("OTEL_SDK_DISABLED", "").lower() != "true"
)
if ON:  # bound once: an import inside a function is a lookup at each call, on every request
    from opentelemetry import context, trace
    from opentelemetry.propagate import extract, inject

TRACER_NAME = "service_kit"
_set_up = False
_tracer: Any = None
#: The sampler never samples under a caller that did not (parent-based: the standard default).
_follows_unsampled_callers = False


def setup(service: str, version: str, environment: str) -> bool:
    """The process's tracer provider and instrumentations (once; False when tracing is off)."""
    global _set_up
    if not ON or _set_up:
        return _set_up
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor
    from opentelemetry.sdk.resources import OTELResourceDetector, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from service_kit.otlp import OTLPSpanExporter  # OpenTelemetry's, with a leaner encoder

    # More attributes come from OTEL_RESOURCE_ATTRIBUTES (the pod, the cluster); those it and
    # OTEL_SERVICE_NAME name win over these defaults (the chart sets the deployment environment).
    defaults = {
        "service.name": service,
        "service.version": version,
        "deployment.environment": environment,
    }
    resource = Resource.create({**defaults, **OTELResourceDetector().detect().attributes})
    provider = TracerProvider(resource=resource)  # sampler: OTEL_TRACES_SAMPLER (+ _ARG)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    global _follows_unsampled_callers
    _follows_unsampled_callers = _drops_under_unsampled_caller(provider.sampler)
    DjangoInstrumentor().instrument()
    from django.conf import settings

    from service_kit.tracing_django import replace_in

    settings.MIDDLEWARE = replace_in(list(settings.MIDDLEWARE))
    PsycopgInstrumentor().instrument(enable_commenter=False)
    RedisInstrumentor().instrument()
    URLLib3Instrumentor().instrument()
    BotocoreInstrumentor().instrument()  # type: ignore[no-untyped-call]
    from celery.signals import worker_process_init, worker_ready

    worker_process_init.connect(_instrument_celery, weak=False)
    worker_ready.connect(_instrument_celery, weak=False)
    _set_up = True
    return True


def _drops_under_unsampled_caller(sampler: Any) -> bool:
    """Whether ``sampler`` drops every span whose remote parent was not sampled (asked, not
    assumed: trace id 1 is sampled by any ratio above 0 that would decide on its own)."""
    from opentelemetry.sdk.trace.sampling import Decision

    caller = trace.NonRecordingSpan(
        trace.SpanContext(trace_id=1, span_id=1, is_remote=True, trace_flags=trace.TraceFlags(0))
    )
    result = sampler.should_sample(trace.set_span_in_context(caller), 1, "probe")
    return bool(result.decision == Decision.DROP)


class UnsampledCallers:
    """WSGI middleware in front of a service's Django application: a request whose caller's
    ``traceparent`` says "not sampled", under the standard parent-based sampler, is not sampled
    here either, so it runs in the caller's trace context with every instrumentation suppressed,
    OpenTelemetry's Django middleware included (which otherwise reads the request's attributes
    and resolves its URL a second time for a span that is never recorded). Its log lines keep
    the trace id, and its calls and messages pass the unsampled context on."""

    def __init__(self, application: Any):
        self.application = application

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        header = environ.get("HTTP_TRACEPARENT")
        if not (header and _follows_unsampled_callers):
            return self.application(environ, start_response)
        caller = extract({"traceparent": header, "tracestate": environ.get("HTTP_TRACESTATE", "")})
        span_context = trace.get_current_span(caller).get_span_context()
        if not span_context.is_valid or span_context.trace_flags.sampled:
            return self.application(environ, start_response)
        token = context.attach(_quiet_unless_recording(trace.get_current_span(caller), caller))
        try:
            return self.application(environ, start_response)
        finally:
            context.detach(token)


def _instrument_celery(**_: Any) -> None:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor

    instrumentor = CeleryInstrumentor()  # type: ignore[no-untyped-call]
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()


def shutdown() -> None:
    """Send what is buffered (a short-lived process's spans, before it exits)."""
    if _set_up:
        provider: Any = trace.get_tracer_provider()
        provider.shutdown()


def tracer() -> Any:
    """The kit's tracer, made once: the SDK's ``get_tracer`` builds a new one (scope, warnings
    filter) at every call, a fixed cost on every request whether it is sampled or not."""
    global _tracer
    if _tracer is None:
        _tracer = trace.get_tracer(TRACER_NAME)
    return _tracer


def carrier() -> dict[str, str] | None:
    """The current trace context as W3C headers (``traceparent``, ``tracestate``), or None."""
    if not ON:
        return None
    headers: dict[str, str] = {}
    inject(headers)
    return headers or None


def inject_into(headers: dict[str, str]) -> None:
    """Adds the current context's ``traceparent``/``tracestate`` to outgoing headers."""
    if ON:
        inject(headers)


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) in hex of the current span, when one is being recorded."""
    if not ON:
        return None
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")


def _messaging_attributes(
    envelope: Mapping[str, Any], destination: str, routing_key: str
) -> dict[str, Any]:
    return {
        "messaging.system": "rabbitmq",
        "messaging.destination.name": destination,
        "messaging.rabbitmq.destination.routing_key": routing_key,
        "messaging.message.id": str(envelope.get("id")),
        "messaging.message.conversation_id": envelope.get("request_id") or "",
        "platform.message.type": str(envelope.get("type")),
    }


@contextlib.contextmanager
def _message_span(
    envelope: Mapping[str, Any],
    name: str,
    kind: str,
    destination: str,
    routing_key: str,
    operation: dict[str, str],
) -> Iterator[None]:
    """A messaging span (``kind``: PRODUCER or CONSUMER) in the trace the envelope carries."""
    with (
        tracer().start_as_current_span(
            name,
            context=extract(envelope.get("trace") or {}),
            kind=getattr(trace.SpanKind, kind),
            attributes={**_messaging_attributes(envelope, destination, routing_key), **operation},
        ),
        quiet_unless_recording(),
    ):
        yield


@contextlib.contextmanager
def producer_span(
    envelope: dict[str, Any], exchange: str, routing_key: str, publisher: str = "relay"
) -> Iterator[dict[str, Any]]:
    """A PRODUCER span ("<exchange> publish") in the trace the envelope was written in, whenever
    it is sent (``publisher``: the outbox's relay at once, or its sweep after a broker outage);
    yields the envelope to send, its ``trace`` now this span's (the consumer's parent)."""
    if not ON:
        yield envelope
        return
    operation = {"messaging.operation.type": "send", "platform.outbox.publisher": publisher}
    with _message_span(
        envelope, f"{exchange} publish", "PRODUCER", exchange, routing_key, operation
    ):
        yield {**envelope, "trace": carrier()}


@contextlib.contextmanager
def consumer_span(envelope: Mapping[str, Any], queue: str, routing_key: str) -> Iterator[None]:
    """A CONSUMER span ("<queue> process") under the envelope's producer."""
    if not ON:
        yield
        return
    operation = {"messaging.operation.type": "process"}
    with _message_span(envelope, f"{queue} process", "CONSUMER", queue, routing_key, operation):
        yield


def start_server_span(name: str, environ: Mapping[str, Any], attributes: dict[str, Any]) -> Any:
    """A SERVER span at an edge that trusts no caller: a new trace, linked to the caller's
    ``traceparent`` when it sent a valid one. Returns (span, token); :func:`end_server_span`."""
    links = []
    if "HTTP_TRACEPARENT" in environ:  # most callers send none: nothing to parse then
        headers = {"traceparent": environ["HTTP_TRACEPARENT"]}
        if "HTTP_TRACESTATE" in environ:
            headers["tracestate"] = environ["HTTP_TRACESTATE"]
        incoming = trace.get_current_span(extract(headers)).get_span_context()
        if incoming.is_valid:
            links.append(trace.Link(incoming, {"platform.link": "untrusted_caller"}))
    span = tracer().start_span(
        name,
        context=context.Context(),  # a new root: never the caller's parent
        kind=trace.SpanKind.SERVER,
        attributes=attributes,
        links=links,
    )
    token = context.attach(_quiet_unless_recording(span, trace.set_span_in_context(span)))
    return span, token


def _quiet_unless_recording(span: Any, ctx: Any) -> Any:
    """``ctx``, with the instrumentations suppressed when ``span`` is not recorded."""
    if span.is_recording():
        return ctx
    return context.set_value(context._SUPPRESS_INSTRUMENTATION_KEY, True, ctx)


@contextlib.contextmanager
def quiet_unless_recording() -> Iterator[None]:
    """Suppresses the instrumentations inside, when the current span is not recorded."""
    span = trace.get_current_span()
    if span.is_recording() or not span.get_span_context().is_valid:
        yield
        return
    token = context.attach(_quiet_unless_recording(span, context.get_current()))
    try:
        yield
    finally:
        context.detach(token)


class UnsampledRequestMiddleware:
    """Django middleware (after OpenTelemetry's, which opens the request's span): a request not
    sampled runs with the instrumentations suppressed, so its queries and calls make no spans."""

    def __init__(self, get_response: Any):
        from opentelemetry.instrumentation.utils import is_instrumentation_enabled

        self.get_response = get_response
        self.enabled = is_instrumentation_enabled

    def __call__(self, request: Any) -> Any:
        if not self.enabled():  # already quiet (UnsampledCallers)
            return self.get_response(request)
        with quiet_unless_recording():
            return self.get_response(request)


def end_server_span(span: Any, token: Any, *, end: bool = True) -> None:
    context.detach(token)
    if end:
        span.end()


def set_status(span: Any, status: int) -> None:
    """The HTTP status on a server span (5xx: an error)."""
    if not span.is_recording():
        return
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))


@contextlib.contextmanager
def client_span(name: str, attributes: dict[str, Any], headers: dict[str, str]) -> Iterator[Any]:
    """A CLIENT span for one attempt of a call, its ``traceparent`` put in ``headers``.

    Under a span not sampled (most requests at a ratio below 1) no span is made: the current
    one's ``traceparent`` (flag not sampled) is sent, so the callee records nothing either, and
    the span yielded is that non-recording one (its ``set_attribute`` does nothing)."""
    if not ON:
        yield None
        return
    current = trace.get_current_span()
    if current.get_span_context().is_valid and not current.is_recording():
        inject(headers)
        yield current
        return
    with tracer().start_as_current_span(
        name, kind=trace.SpanKind.CLIENT, attributes=attributes
    ) as span:
        inject(headers)
        yield span
