"""The proxy's base URL: parsed, normalised, its credentials taken out, and checked for
routes that would carry the API key unencrypted.
"""

from __future__ import annotations

import base64
import ipaddress
import urllib.parse
import urllib.request
import warnings
from dataclasses import dataclass

import httpx

from ._exceptions import ConfigurationError

__all__ = ["API_PREFIX", "BaseURL", "InsecureTransportWarning", "endpoint_url", "parse_base_url"]

API_PREFIX = "/ai-proxy"
"""Where the proxy's endpoints live, under the base URL."""
ENDPOINT_SUFFIXES = (f"{API_PREFIX}/chat/completions", f"{API_PREFIX}/completions", API_PREFIX)
"""Endpoint URLs people paste as ``base_url`` (the emulator's banner, OpenAI's habit); the
base is what comes before them. A test checks they cover every endpoint's path."""


class InsecureTransportWarning(UserWarning):
    """The API key would travel unencrypted (``http://`` to a host that is not loopback,
    or through a plain-text proxy that is not)."""


@dataclass(frozen=True)
class BaseURL:
    """A base URL without credentials, and what they become."""

    url: httpx.URL
    authorization: str | None = None
    """``Basic ...`` from the URL's user and password, as httpx would have sent it."""
    secrets: tuple[str, ...] = ()
    """The password as written and decoded, and the header's token: to redact."""


def parse_base_url(value: str | httpx.URL, *, trust_env: bool = True) -> BaseURL:
    """Check and normalise a base URL; warn when the key would be sent unencrypted.

    Credentials in the URL become an ``Authorization`` header built here, so that the URL
    httpx sees, logs and puts on errors has none.

    Raises:
        ConfigurationError: not an http(s) URL with a host.
    """
    url = httpx.URL(value)
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(
            f"base_url must be an http(s) URL with a host, got {str(_without_userinfo(url))!r}"
        )
    parsed = _take_credentials(_strip_endpoint(url))
    _warn_if_unencrypted(parsed.url, trust_env=trust_env)
    return parsed


def endpoint_url(base: httpx.URL, path: str) -> httpx.URL:
    """The URL of an endpoint ``path`` under ``base``, keeping its query and escapes."""
    base_path, separator, query = base.raw_path.partition(b"?")
    return base.copy_with(raw_path=base_path.rstrip(b"/") + path.encode() + separator + query)


def _strip_endpoint(url: httpx.URL) -> httpx.URL:
    base_path, separator, query = url.raw_path.partition(b"?")
    trimmed = base_path.rstrip(b"/")
    for suffix in ENDPOINT_SUFFIXES:
        if trimmed.endswith(suffix.encode()):
            trimmed = trimmed[: -len(suffix)] or b"/"
            return url.copy_with(raw_path=trimmed + separator + query)
    return url


def _take_credentials(url: httpx.URL) -> BaseURL:
    if not url.userinfo:
        return BaseURL(url)
    raw_password = url.userinfo.decode("ascii").partition(":")[2]
    token = base64.b64encode(f"{url.username}:{url.password}".encode()).decode("ascii")
    secrets = (raw_password, urllib.parse.unquote(raw_password), token)
    return BaseURL(_without_userinfo(url), f"Basic {token}", tuple(s for s in secrets if s))


def _without_userinfo(url: httpx.URL) -> httpx.URL:
    return url.copy_with(userinfo=b"") if url.userinfo else url


def _warn_if_unencrypted(url: httpx.URL, *, trust_env: bool) -> None:
    if url.scheme != "http":
        return  # an https target is tunnelled through any proxy (CONNECT): encrypted
    if not is_loopback(url.host):
        message = f"base_url {str(url)!r} is plain http: the API key would be sent unencrypted"
    elif trust_env and (proxy := _plain_proxy_for(url)):
        message = (
            f"requests to {str(url)!r} go through the plain-text proxy {proxy!r} (from the "
            "HTTP_PROXY/ALL_PROXY variables): the API key would be sent unencrypted; "
            "add the host to NO_PROXY to go direct"
        )
    else:
        return
    warnings.warn(message, InsecureTransportWarning, stacklevel=5)


def _plain_proxy_for(url: httpx.URL) -> str | None:
    """The proxy httpx takes from the environment for ``url``, if it is not loopback and
    speaks plain text to us (http, socks); httpx's NO_PROXY rules (curl's)."""
    proxies = urllib.request.getproxies()
    proxy = proxies.get("http") or proxies.get("all")
    if not proxy:
        return None
    if any(_bypasses(url, entry.strip()) for entry in proxies.get("no", "").split(",")):
        return None
    proxy_url = httpx.URL(proxy if "://" in proxy else f"http://{proxy}")
    if proxy_url.scheme == "https" or is_loopback(proxy_url.host):
        return None
    return str(_without_userinfo(proxy_url))


def _bypasses(url: httpx.URL, entry: str) -> bool:
    if entry == "*":
        return True
    if "://" in entry:
        scheme, _, entry = entry.partition("://")
        if scheme not in ("all", url.scheme):
            return False
    host = entry.rsplit(":", 1)[0] if entry.count(":") == 1 else entry
    host = host.strip("[]").lower()
    if not host:
        return False
    if host.startswith("."):  # ".example.com": subdomains only
        return url.host.endswith(host)
    if host == "localhost" or _is_ip(host):
        return url.host == host
    return url.host == host or url.host.endswith(f".{host}")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
