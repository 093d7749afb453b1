"""HTTP with the standard library: bearer token on every request, JSON bodies, retries with backoff on
connection errors, 429 and 5xx, and MLflow's ``{"error_code", "message"}`` turned into ``ApiError``."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Optional

from .errors import ApiError, ServerUnreachableError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_CHUNK = 1 << 20


class Transport:
    def __init__(
        self,
        base_url: str,
        token: Optional[str] = None,
        *,
        max_retries: int = 5,
        backoff_s: float = 0.5,
        max_backoff_s: float = 10.0,
        timeout_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.timeout_s = timeout_s
        self._sleep = sleep

    def url(self, path: str, query: Optional[dict[str, Any]] = None) -> str:
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        return url

    def _headers(self, extra: Optional[dict[str, str]] = None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "mlops-sdk-python/0.1"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        headers.update(extra or {})
        return headers

    def _send(self, method: str, url: str, make_body: Callable[[], Any], headers: dict[str, str], on_response):
        """Sends with retries. ``make_body`` is called per attempt (a file body must be reopened)."""
        attempt = 0
        while True:
            body = make_body()
            try:
                request = urllib.request.Request(url, data=body, method=method, headers=headers)
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    return on_response(response)
            except urllib.error.HTTPError as err:
                payload = err.read()
                if err.code in RETRY_STATUSES and attempt < self.max_retries:
                    attempt += 1
                    self._sleep(self._delay(attempt))
                    continue
                raise _api_error(err.code, payload, method, url) from None
            except (urllib.error.URLError, http.client.HTTPException, ConnectionError, socket.timeout) as err:
                if attempt < self.max_retries:
                    attempt += 1
                    self._sleep(self._delay(attempt))
                    continue
                raise ServerUnreachableError(
                    f"{method} {url} failed after {attempt + 1} attempts: {err}"
                ) from err
            finally:
                if hasattr(body, "close"):
                    body.close()

    def _delay(self, attempt: int) -> float:
        return min(self.max_backoff_s, self.backoff_s * (2 ** (attempt - 1)))

    def json(self, method: str, path: str, body: Optional[dict] = None, query: Optional[dict] = None) -> dict:
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = self._headers({"Content-Type": "application/json"} if data is not None else None)

        def parse(response) -> dict:
            raw = response.read()
            return json.loads(raw) if raw.strip() else {}

        return self._send(method, self.url(path, query), lambda: data, headers, parse)

    def put_file(self, path: str, local_path: str) -> None:
        size = os.path.getsize(local_path)
        headers = self._headers({"Content-Type": "application/octet-stream", "Content-Length": str(size)})
        # Streamed from disk, never read whole into memory.
        self._send("PUT", self.url(path), lambda: open(local_path, "rb"), headers, lambda r: r.read())

    def get_to_file(self, path: str, dest: str, query: Optional[dict] = None) -> None:
        tmp = dest + ".part"

        def save(response) -> None:
            with open(tmp, "wb") as out:
                shutil.copyfileobj(response, out, _CHUNK)

        self._send("GET", self.url(path, query), lambda: None, self._headers(), save)
        os.replace(tmp, dest)


def _api_error(status: int, payload: bytes, method: str, url: str) -> ApiError:
    code, message = f"HTTP_{status}", payload.decode("utf-8", "replace")[:2000]
    try:
        parsed = json.loads(payload)
        if isinstance(parsed, dict):
            if "error_code" in parsed:
                code, message = str(parsed["error_code"]), str(parsed.get("message", ""))
            elif isinstance(parsed.get("error"), dict):  # the native API's shape
                code = str(parsed["error"].get("code", code))
                message = str(parsed["error"].get("message", ""))
    except ValueError:
        pass
    return ApiError(status, code, message, method, url)
