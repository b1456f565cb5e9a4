"""Operations: health and readiness, metrics, logs, request bodies, the forwarded headers of the
proxies in front. The request id and acting user these report are service_kit.context's."""

from .bodies import BodyRefused, WholeBodies, is_chunked, is_length, read_whole
from .forwarded import client_address
from .health import CHECKS, healthz, readiness, readyz
from .logs import ContextFilter, RedactFilter
from .metrics import metrics_view

__all__ = [
    "CHECKS",
    "BodyRefused",
    "ContextFilter",
    "RedactFilter",
    "WholeBodies",
    "client_address",
    "healthz",
    "is_chunked",
    "is_length",
    "metrics_view",
    "read_whole",
    "readiness",
    "readyz",
]
