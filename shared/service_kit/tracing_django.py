"""OpenTelemetry's Django middleware, skipped for a request whose caller did not sample its trace.

:func:`service_kit.tracing.setup` puts this class where the maintained Django instrumentation put
its own. Under :class:`~service_kit.tracing.UnsampledCallers` (the instrumentations suppressed:
the parent-based sampler would not record this request), the request goes straight on; every
other request, sampled or deciding at this service, is the maintained middleware's. Imported only
when tracing is on.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.instrumentation.django.middleware.otel_middleware import _DjangoMiddleware
from opentelemetry.instrumentation.utils import is_instrumentation_enabled


class DjangoMiddleware(_DjangoMiddleware):
    def __call__(self, request: Any) -> Any:
        if not is_instrumentation_enabled():
            return self.get_response(request)
        return super().__call__(request)  # type: ignore[no-untyped-call]  # theirs is untyped

    # Django calls these apart from __call__. Theirs first rebuild the request's absolute URL to
    # match it against the excluded URLs, then look for the span their process_request left in
    # request.META: for a request it never saw (skipped above, or excluded), nothing to do.
    def process_view(self, request: Any, view_func: Any, *args: Any, **kwargs: Any) -> Any:
        if self._environ_activation_key in request.META:
            return super().process_view(request, view_func, *args, **kwargs)  # type: ignore[no-untyped-call]
        return None

    def process_exception(self, request: Any, exception: Exception) -> Any:
        if self._environ_activation_key in request.META:
            return super().process_exception(request, exception)  # type: ignore[no-untyped-call]
        return None


def replace_in(middleware: list[str]) -> list[str]:
    """``middleware`` with OpenTelemetry's own entry made this one."""
    theirs = f"{_DjangoMiddleware.__module__}.{_DjangoMiddleware.__qualname__}"
    return [f"{__name__}.DjangoMiddleware" if entry == theirs else entry for entry in middleware]
