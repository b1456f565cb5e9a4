from __future__ import annotations

import logging

from .context import request_id_var, user_id_var


class ContextFilter(logging.Filter):
    """Puts the service name, request id and user id on every log record (ECS field names)."""

    def __init__(self, service: str = "", name: str = ""):
        super().__init__(name)
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.setdefault("service.name", self.service)
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        user_id = getattr(record, "user_id", None) or user_id_var.get()
        record.__dict__.pop("request_id", None)
        record.__dict__.pop("user_id", None)
        if request_id:
            record.__dict__["http.request.id"] = request_id
            record.__dict__["trace.id"] = request_id
        if user_id:
            record.__dict__["user.id"] = user_id
        return True
