"""Operations: health, readiness, metrics, logs and request ids."""

from .context import current_request_id, request_id_var, user_id_var

__all__ = ["current_request_id", "request_id_var", "user_id_var"]
