"""The URL policy: which URLs facematch accepts and where its requests may go.

One :class:`UrlPolicy` (built once per process from ``reference.allow_http`` and
``reference.allow_loopback``: ``svc.urls``) answers for every place a URL enters: Initiate Flow
(``referenceImageUrl`` against the partner's reference hosts; the redirect URLs as links), partner
configuration (the callback URL, reference host patterns, the privacy-policy link, the origins
allowed to frame the web app), the reference fetch and the callback sender
(:mod:`facematch.outbound.safe_http` checks the URL before resolving, and every resolved address
after). So a URL refused at send time is refused when it is configured or submitted, and one
accepted then is not refused later for a reason that needs no network.

Reference hosts are exact host names, IP literals, or ``*.suffix`` patterns (any subdomain of
``suffix``, not ``suffix`` itself).
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from facematch.errors import DestinationNotAllowedError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_HOST_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
#: A last label that some parser could read as a number (WHATWG treats such hosts as IPv4).
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")
_BAD_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_ORIGIN = re.compile(
    r"(?P<scheme>https?)://(?P<host>\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(?P<port>[0-9]{1,5}))?/?",
    re.IGNORECASE,
)
_ORIGIN_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")

# Python's is_global has changed between releases (and calls 224/4 global), so the ranges that
# must never be reached are also spelled out here.
_DENIED_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",  # CGNAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved + broadcast
        "::/128",
        "::1/128",
        "::/96",  # IPv4-compatible (deprecated)
        "::ffff:0:0/96",  # IPv4-mapped
        "64:ff9b::/96",  # NAT64
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard
        "2001::/23",  # IETF protocol assignments, incl. Teredo 2001::/32
        "2001:db8::/32",
        "2002::/16",  # 6to4
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local
        "ff00::/8",  # multicast
    )
)
_LOOPBACK_NETWORKS = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
#: The longest URL accepted anywhere (redirect URLs, reference URLs, callback URLs, links).
MAX_URL_LENGTH = 2000


@dataclass(frozen=True)
class Destination:
    """A checked URL: the parsed URL, its normalised host, port, and the IP when the host is one."""

    url: httpx.URL
    host: str  # normalised: lower-case ASCII, no trailing dot, no brackets
    port: int
    literal: IPAddress | None


def check_url(
    url: str, *, allowed_hosts: tuple[str, ...] | None, allow_http: bool, allow_loopback: bool
) -> Destination:
    """Parse ``url`` and apply every check that needs no DNS; raise :class:`DestinationNotAllowedError`."""
    if _BAD_URL_CHARS.search(url):
        # Parsers disagree on these (backslash as slash, stripped tabs); refuse rather than guess.
        raise DestinationNotAllowedError("the URL contains characters that are not allowed")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        raise DestinationNotAllowedError("the URL cannot be parsed") from None
    scheme = parsed.scheme
    if scheme not in ("https", "http") or (scheme == "http" and not allow_http):
        raise DestinationNotAllowedError("the URL scheme is not allowed")
    authority = re.split(r"[/?#]", url.split("//", 1)[-1], maxsplit=1)[0]
    if parsed.userinfo or "@" in authority:
        raise DestinationNotAllowedError("credentials in the URL are not allowed")
    host = _normalise_host(parsed.raw_host.decode("ascii", errors="replace"))
    literal = _parse_literal(host)
    if not _host_allowed(host, literal, allowed_hosts):
        raise DestinationNotAllowedError("the host is not in the allowlist")
    if literal is not None and not _address_allowed(literal, allow_loopback=allow_loopback):
        raise DestinationNotAllowedError("the address is not publicly routable")
    if literal is None and _is_localhost_name(host) and not allow_loopback:
        # RFC 6761: these names are the machine itself; refused now, not only when resolved
        raise DestinationNotAllowedError("the address is not publicly routable")
    port = parsed.port or (443 if scheme == "https" else 80)
    if not 0 < port < 65536:
        raise DestinationNotAllowedError("the URL's port is not a port")
    return Destination(url=parsed, host=host, port=port, literal=literal)


def _is_localhost_name(host: str) -> bool:
    return host in ("localhost", "localhost.localdomain") or host.endswith(".localhost")


def address_allowed(address: str, *, allow_loopback: bool = False) -> bool:
    """Whether ``address`` (an IP string) is one we may connect to."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    return _address_allowed(ip, allow_loopback=allow_loopback)


def _address_allowed(ip: IPAddress, *, allow_loopback: bool) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and (
        ip.ipv4_mapped is not None or ip.sixtofour is not None or ip.teredo is not None
    ):
        return False  # an IPv4 address in disguise, whatever it embeds
    if ip.is_loopback and allow_loopback:
        return any(ip in net for net in _LOOPBACK_NETWORKS)
    if any(ip.version == net.version and ip in net for net in _DENIED_NETWORKS):
        return False
    return ip.is_global and not (
        ip.is_multicast or ip.is_private or ip.is_reserved or ip.is_link_local or ip.is_unspecified
    )


def _normalise_host(raw: str) -> str:
    host = raw.lower()
    host = host.removesuffix(".")
    if not host or "%" in host:
        raise DestinationNotAllowedError("the host is not allowed")
    if ":" in host:
        return host  # an IPv6 literal; parsed by _parse_literal
    try:
        canonical = str(ipaddress.IPv4Address(host))
    except ValueError:
        canonical = None
    if canonical is not None:
        if canonical != host:
            raise DestinationNotAllowedError("numeric host forms are not allowed")
        return host
    # inet_aton accepts "0", "127.1", "2130706433", "0x7f000001", "0177.0.0.1"; so do some resolvers.
    with contextlib.suppress(OSError):
        socket.inet_aton(host)
        raise DestinationNotAllowedError("numeric host forms are not allowed")
    labels = host.split(".")
    if _NUMERIC_LABEL.match(labels[-1]) or len(host) > 253:
        raise DestinationNotAllowedError("numeric host forms are not allowed")
    if not all(_HOST_LABEL.match(label) for label in labels):
        raise DestinationNotAllowedError("the host is not allowed")
    return host


def _parse_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        if ":" in host:
            raise DestinationNotAllowedError("the host is not allowed") from None
        return None


def _host_allowed(host: str, literal: IPAddress | None, allowed: tuple[str, ...] | None) -> bool:
    if allowed is None:
        return True
    for pattern in allowed:
        pattern = pattern.strip().lower().removesuffix(".").strip("[]")
        if pattern.startswith("*."):
            suffix = pattern[1:]
            if literal is None and host.endswith(suffix) and len(host) > len(suffix):
                return True
        elif literal is not None:
            with contextlib.suppress(ValueError):
                if ipaddress.ip_address(pattern) == literal:
                    return True
        elif host == pattern:
            return True
    return False


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    """The one set of URL rules (see the module docstring). ``allow_http`` and ``allow_loopback``
    are for development and tests only; the settings refuse them elsewhere."""

    allow_http: bool = False
    allow_loopback: bool = False

    def destination(self, url: str, *, allowed_hosts: Sequence[str] | None = None) -> Destination:
        """A URL facematch may send a request to (``allowed_hosts``: the partner's reference hosts;
        None for URLs from our own configuration), checked without DNS; DestinationNotAllowedError."""
        if len(url) > MAX_URL_LENGTH:
            raise DestinationNotAllowedError("the URL is too long")
        return check_url(
            url,
            allowed_hosts=None if allowed_hosts is None else tuple(allowed_hosts),
            allow_http=self.allow_http,
            allow_loopback=self.allow_loopback,
        )

    def address_allowed(self, address: str) -> bool:
        """Whether a resolved address may be connected to."""
        return address_allowed(address, allow_loopback=self.allow_loopback)

    @staticmethod
    def host_pattern(value: str) -> str:
        """A reference-host allowlist entry, normalised: a host name, an IP literal, or ``*.suffix``
        with a suffix of at least two labels; DestinationNotAllowedError otherwise."""
        pattern = value.strip().lower().removesuffix(".")
        wildcard = pattern.startswith("*.")
        host = pattern[2:] if wildcard else pattern.strip("[]")
        normalised = _normalise_pattern_host(host)
        if wildcard:
            if _parse_literal(normalised) is not None or normalised.count(".") < 1:
                raise DestinationNotAllowedError("a wildcard needs a domain of two or more labels")
            return "*." + normalised
        return normalised

    @staticmethod
    def origin(value: str) -> str:
        """An origin allowed to frame the web app, as it goes into the CSP's ``frame-ancestors``:
        ``http(s)://host[:port]`` (a trailing ``/`` is dropped), the host a DNS name or an IP
        literal; DestinationNotAllowedError otherwise. Anything else (a path, query, space, ``;``,
        ``*``, credentials) could widen or rewrite the policy."""
        match = _ORIGIN.fullmatch(value)
        port = int(match["port"]) if match and match["port"] else None
        if match is None or not _origin_host_ok(match["host"]) or (port is not None and not 0 < port < 65536):
            raise DestinationNotAllowedError("not an origin (http(s)://host[:port])")
        return f"{match['scheme'].lower()}://{match['host'].lower()}" + ("" if port is None else f":{port}")

    @staticmethod
    def link(url: str) -> str:
        """A URL handed to browsers (redirect URLs, a privacy-policy link): http(s), a host, no
        credentials, at most MAX_URL_LENGTH characters; DestinationNotAllowedError otherwise."""
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - parsing the port raises ValueError for a bad one
        except ValueError:
            raise DestinationNotAllowedError("the URL cannot be parsed") from None
        if len(url) > MAX_URL_LENGTH or _BAD_URL_CHARS.search(url):
            raise DestinationNotAllowedError(
                "the URL is too long or contains characters that are not allowed"
            )
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DestinationNotAllowedError("the URL must be an http(s) URL with a host")
        if parts.username or parts.password:
            raise DestinationNotAllowedError("credentials in the URL are not allowed")
        return url


def _origin_host_ok(host: str) -> bool:
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        return True
    labels = host.split(".")
    if labels[-1].isdigit():  # all-numeric last label: only a canonical dotted IPv4 address
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return False
        return True
    return len(host) <= 253 and all(_ORIGIN_LABEL.fullmatch(label) for label in labels)


def _normalise_pattern_host(host: str) -> str:
    if ":" in host:
        literal = _parse_literal(host)
        assert literal is not None
        return str(literal)
    return _normalise_host(host)
