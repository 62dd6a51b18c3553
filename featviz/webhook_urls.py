"""Where webhooks may go (SSRF): an http(s) URL whose host, if the service names any, is an
allowed one, and that resolves only to public addresses or to networks the service allows, so
that a job cannot make the workers call Redis, a cloud's metadata endpoint or a private network.

The API checks a URL when a job is submitted; the worker checks it again before each delivery
and connects to the very addresses it checked, so that a name re-pointed in between (DNS
rebinding) reaches nothing it should not.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_PORTS = {"http": 80, "https": 443}


class RefusedURLError(ValueError):
    """A webhook URL the service will not call; the message says why."""


def parts(url: str) -> tuple[str, int]:
    """The host and port of a well-formed webhook URL.

    Raises
    ------
    RefusedURLError
        Not an http(s) URL with a host, or one that carries credentials (which records and
        logs would show).
    """
    try:
        split = urlsplit(url)
        port = split.port
    except ValueError as error:
        raise RefusedURLError(f"is not a valid URL: {error}") from None
    if split.scheme not in DEFAULT_PORTS:
        raise RefusedURLError("must be an http:// or https:// URL")
    if not split.hostname:
        raise RefusedURLError("must name a host")
    if split.username is not None or split.password is not None:
        raise RefusedURLError("must not carry credentials; check the webhook's signature instead")
    return split.hostname, port or DEFAULT_PORTS[split.scheme]


def _public(address: IPAddress) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        return _public(mapped)
    return address.is_global and not address.is_multicast


def allowed_addresses(
    url: str, hosts: Sequence[str], private_networks: Sequence[IPNetwork]
) -> list[IPAddress]:
    """The addresses ``url``'s host resolves to, each of them allowed.

    Parameters
    ----------
    hosts
        Host names the URL may name (``*.example.com`` matches subdomains); empty: any.
    private_networks
        Networks that may be reached although not public (loopback, private, link-local...).

    Raises
    ------
    RefusedURLError
        The URL is malformed, names another host, does not resolve, or resolves to an address
        that is neither public nor in ``private_networks``.
    """
    host, port = parts(url)
    if hosts and not any(fnmatch.fnmatch(host.lower(), pattern.lower()) for pattern in hosts):
        raise RefusedURLError(f"host {host!r} is not one this service sends webhooks to")
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise RefusedURLError(f"host {host!r} does not resolve: {error}") from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(entry[4][0]) for entry in found))
    for address in addresses:
        if not _public(address) and not any(address in net for net in private_networks):
            raise RefusedURLError(
                f"host {host!r} resolves to {address}, which is not a public address "
                "(loopback, private, link-local and the like are refused unless the service "
                "allows their network)"
            )
    return addresses
