"""Mapping between artifact URIs and paths on the server's artifact proxy."""

from __future__ import annotations

import posixpath
import urllib.parse

from .errors import MlopsError

PROXY_PREFIX = "/api/2.0/mlflow-artifacts/artifacts"


def proxy_path_from_uri(uri: str) -> str:
    """``mlflow-artifacts:/1/abc/artifacts`` (or ``mlflow-artifacts://host:port/...``, or an http URL of the
    proxy) -> ``1/abc/artifacts``: the path below the artifact proxy."""
    if uri.startswith("mlflow-artifacts:"):
        rest = uri[len("mlflow-artifacts:"):]
        if rest.startswith("//"):  # with an authority: mlflow-artifacts://host:port/path
            rest = rest[2:].partition("/")[2]
        return _clean(rest)
    marker = PROXY_PREFIX + "/"
    if uri.startswith(("http://", "https://")) and marker in uri:
        return _clean(urllib.parse.unquote(uri.split(marker, 1)[1]))
    raise MlopsError(
        f"artifact URI {uri!r} is not served through the artifact proxy "
        "(expected mlflow-artifacts:/... as the platform's runs have)"
    )


def join(*parts: str) -> str:
    return _clean("/".join(p.strip("/") for p in parts if p and p.strip("/")))


def _clean(path: str) -> str:
    path = path.strip("/")
    if not path:
        return ""
    normalized = posixpath.normpath(path)
    if normalized.startswith("..") or normalized.startswith("/"):
        raise MlopsError(f"artifact path escapes its root: {path!r}")
    return normalized


def proxy_url_path(path: str) -> str:
    """The request path for one artifact below the proxy, each segment percent-encoded."""
    return PROXY_PREFIX + "/" + urllib.parse.quote(path, safe="/")


def safe_child_name(listed_path: str) -> str:
    """A listing entry's file name; listings may give base names or full paths, and a name that would escape
    the download directory is refused."""
    name = posixpath.basename(listed_path.rstrip("/"))
    if name in ("", ".", "..") or "\\" in name:
        raise MlopsError(f"unsafe artifact name in listing: {listed_path!r}")
    return name
