"""The gateway's ECS log formatter: ``ecs_logging.StdlibFormatter``'s output, made faster.

The gateway writes one access line per request, so formatting is on its hot path; ecs_logging
builds each document by de-dotting and deep-merging one small dict per field, ~70 µs a line. This
subclass builds the same document directly (~15 µs): same fields, same nesting, same conflicts
refused, same JSON (``format`` is the original's). Options it does not cover (``extra``,
``exclude_fields``, ``stack_trace_limit``) fall back to the original. The unit tests compare the
two on a range of records.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ecs_logging import StdlibFormatter
from ecs_logging._meta import ECS_VERSION
from ecs_logging._utils import _json_dumps_fallback, flatten_dict

_MISSING = object()
_APM = (
    ("span.id", "elasticapm_span_id"),
    ("transaction.id", "elasticapm_transaction_id"),
    ("trace.id", "elasticapm_trace_id"),
    ("service.name", "elasticapm_service_name"),
    ("service.environment", "elasticapm_service_environment"),
)


def _put(result: dict[str, Any], field: str, value: Any) -> None:
    """``merge_dicts(de_dot(field, value), result)`` for a leaf value, without the dicts."""
    node = result
    *parents, last = field.split(".")
    for key in parents:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise TypeError(f"Type mismatch at key `{key}`: merging dicts would replace a value")
        node = child
    current = node.get(last, _MISSING)
    if current is not _MISSING and current != {}:
        raise TypeError(f"Type mismatch at key `{last}`: merging dicts would replace a value")
    node[last] = value


def _present(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


def _log_fields(record: logging.LogRecord, message: str) -> dict[str, Any]:
    log: dict[str, Any] = {}
    if record.levelname:
        log["level"] = record.levelname.lower()
    origin = _present(function=record.funcName)
    file = _present(line=record.lineno, name=record.filename)
    if file:
        origin["file"] = file
    if origin:
        log["origin"] = origin
    log.update(_present(original=message, logger=record.name))
    return log


def _process_fields(record: logging.LogRecord) -> dict[str, Any]:
    process = _present(pid=record.process, name=record.processName)
    thread = _present(id=record.thread, name=record.threadName)
    if thread:
        process["thread"] = thread
    return process


class EcsFormatter(StdlibFormatter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # ecs_logging's json_dumps makes a new encoder for each of its four dumps per line.
        self._encode = json.JSONEncoder(
            sort_keys=True,
            separators=(",", ":"),
            default=_json_dumps_fallback,
            ensure_ascii=self.ensure_ascii,
        ).encode

    def format(self, record: logging.LogRecord) -> str:
        """``ecs_logging._utils.json_dumps`` of the document, with one encoder."""
        value = self.format_to_ecs(record)
        encode = self._encode
        ordered = []
        timestamp = value.pop("@timestamp", _MISSING)
        if timestamp is not _MISSING:
            ordered.append(f'"@timestamp":{encode(timestamp)}')
        try:
            ordered.append(f'"log.level":{encode(value["log"].pop("level"))}')
            if not value["log"]:
                value.pop("log", None)
        except KeyError:
            level = value.pop("log.level", _MISSING)
            if level is not _MISSING:
                ordered.append(f'"log.level":{encode(level)}')
        message = value.pop("message", _MISSING)
        if message is not _MISSING:
            ordered.append(f'"message":{encode(message)}')
        if not ordered:
            return encode(value)
        if value:
            return "{%s,%s" % (",".join(ordered), encode(value)[1:])  # noqa: UP031
        return "{%s}" % ",".join(ordered)  # noqa: UP031

    def format_to_ecs(self, record: logging.LogRecord) -> dict[str, Any]:
        if self._exclude_fields or self._extra is not None or self._stack_trace_limit is not None:
            return super().format_to_ecs(record)
        message = record.getMessage()
        result: dict[str, Any] = {
            "@timestamp": self._record_timestamp(record),
            "ecs.version": ECS_VERSION,
        }
        result["log"] = _log_fields(record, message)
        process = _process_fields(record)
        if process:
            result["process"] = process
        error = _present(
            type=self._record_error_type(record),
            message=self._record_error_message(record),
            stack_trace=self._record_error_stack_trace(record),
        )
        if error:
            result["error"] = error
        self._put_extras(result, record, message)
        result.setdefault("message", message)
        return result

    def _put_extras(self, result: dict[str, Any], record: logging.LogRecord, message: str) -> None:
        """The record's own attributes (``extra=``), APM's under their ECS names."""
        available = record.__dict__
        available["message"] = message  # as the original does
        extras = flatten_dict(
            {key: available[key] for key in available.keys() - self._LOGRECORD_DICT}
        )
        for field, apm in _APM:
            extras.setdefault(field, extras.pop(apm, None))
        for field, value in extras.items():
            if value is None or field.startswith("elasticapm_labels."):
                continue
            _put(result, field, value)
