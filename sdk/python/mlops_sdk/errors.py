"""Exceptions raised by the SDK."""

from __future__ import annotations


class MlopsError(Exception):
    """Base class of every error the SDK raises."""


class ApiError(MlopsError):
    """The server answered with an error. ``error_code`` is MLflow's (e.g. ``RESOURCE_DOES_NOT_EXIST``)."""

    def __init__(self, status: int, error_code: str, message: str, method: str = "", url: str = "") -> None:
        self.status = status
        self.error_code = error_code
        self.message = message
        self.method = method
        self.url = url
        where = f" ({method} {url})" if method else ""
        super().__init__(f"{error_code} (HTTP {status}): {message}{where}")


class ServerUnreachableError(MlopsError):
    """The server could not be reached, or kept failing with 5xx, after all retries."""


class OfflineError(MlopsError):
    """The operation needs a server, but the SDK runs offline (no URL configured)."""
