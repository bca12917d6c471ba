"""Where a webhook may be sent: https only, and never to a private address.

Checked when an endpoint is saved (a 422) and again before every attempt: the
sender resolves the host, refuses if any address is private, loopback,
link-local, multicast, reserved or unspecified, and then connects to the very
address it checked (the URL is pinned to it, with the original ``Host`` and TLS
server name), so a DNS answer that changes between the check and the connect
(DNS rebinding) cannot steer a delivery inside the network.

Development may allow http (``CASECOORD_WEBHOOK_ALLOW_INSECURE``) and private
addresses (``CASECOORD_WEBHOOK_ALLOW_PRIVATE``); production refuses both settings.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from app.platform.config import Settings


class RefusedURL(Exception):
    """The URL is not allowed; the message says why (no secrets in it)."""


@dataclass(frozen=True)
class Target:
    """A checked URL: connect to ``url`` (the host pinned to an address), sending
    ``host`` as the Host header and ``sni`` as the TLS server name."""

    url: str
    host: str
    sni: str | None


def check_syntax(url: str, settings: Settings) -> tuple[str, str, int]:
    """The scheme, host and port of an acceptable URL, or :class:`RefusedURL`."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RefusedURL("The URL is malformed.") from exc
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and settings.webhook_allow_insecure):
        raise RefusedURL("The URL must use https.")
    if not parts.hostname:
        raise RefusedURL("The URL has no host.")
    if parts.username or parts.password:
        raise RefusedURL("The URL may not carry credentials.")
    if parts.fragment:
        raise RefusedURL("The URL may not have a fragment.")
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80)


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def _addresses(host: str, port: int) -> list[str]:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return [host]
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout=5
        )
    except (OSError, TimeoutError) as exc:
        raise RefusedURL("The URL's host does not resolve.") from exc
    found = [str(info[4][0]) for info in infos]
    if not found:
        raise RefusedURL("The URL's host does not resolve.")
    return found


async def check(url: str, settings: Settings) -> Target:
    """Check ``url`` now (syntax, then every address its host resolves to) and pin it."""
    scheme, host, port = check_syntax(url, settings)
    addresses = await _addresses(host, port)
    if not settings.webhook_allow_private and not all(_is_public(a) for a in addresses):
        raise RefusedURL("The URL resolves to a private, loopback or link-local address.")
    address = addresses[0]
    parts = urlsplit(url)
    pinned_host = f"[{address}]" if ":" in address else address
    netloc = f"{pinned_host}:{parts.port}" if parts.port else pinned_host
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return Target(url=pinned, host=host_header, sni=host if scheme == "https" else None)
