"""Where a webhook may go: public addresses only, unless ``STYLIZE_WEBHOOK_ALLOW`` names them.

The API checks a ``webhook_url`` at submit; the delivery checks it again and connects to the
very address it checked, so a name that resolves elsewhere later (DNS rebinding) gains nothing.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

# Cloud instance-metadata endpoints, named as such in the refusal.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class WebhookAddressError(ValueError):
    """The URL is not one a webhook may be sent to; the message says why and what to do."""


class WebhookUnresolvable(WebhookAddressError):
    """The URL's host does not resolve (now): refused at submit, retried at delivery."""


@dataclass(frozen=True)
class AllowList:
    """Addresses, networks and host names that webhooks may reach although not public."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str) -> AllowList:
        """Comma-separated IPs, CIDR networks or host names; ValueError names a bad entry."""
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for entry in filter(None, (part.strip() for part in text.split(","))):
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            name = entry.lower().rstrip(".")
            labels = name.split(".")
            if not all(
                label and len(label) <= 63 and label.replace("-", "").isalnum() for label in labels
            ):
                raise ValueError(
                    f"{entry!r} is neither an IP address, a network (10.0.0.0/8) nor a host name"
                )
            hosts.add(name)
        return cls(tuple(networks), frozenset(hosts))

    def allows(self, host: str, address: IPAddress) -> bool:
        """Whether ``host`` (as written in the URL) or its ``address`` is on the list."""
        if host.lower().rstrip(".") in self.hosts:
            return True
        return any(address.version == net.version and address in net for net in self.networks)


@dataclass(frozen=True)
class WebhookTarget:
    """A checked webhook URL: connect to ``addresses`` (all checked), send ``host`` as Host."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def refusal(address: IPAddress) -> str | None:
    """Why ``address`` is no place for a webhook, or None when it is public."""
    embedded = embedded_ipv4(address)
    if embedded is not None:
        return refusal(embedded)
    if address in METADATA_ADDRESSES:
        return "cloud metadata"
    for kind in ("loopback", "link_local", "unspecified", "multicast", "private", "reserved"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if address.is_global else "non-public"


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, 6to4 or NAT64 IPv6 address."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_webhook_url(url: str, allow: AllowList, resolver: Resolver = resolve) -> WebhookTarget:
    """Resolve ``url``'s host and refuse it unless every address is public or allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookAddressError("use an http:// or https:// URL with a host")
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = resolver(host, port)
    except (OSError, UnicodeError):
        addresses = []
    if not addresses:
        raise WebhookUnresolvable(f"the host {host} does not resolve; check the URL")
    for text in addresses:
        address = ipaddress.ip_address(text.split("%")[0])
        reason = refusal(address)
        if reason is not None and not allow.allows(host, address):
            raise WebhookAddressError(
                f"{host} resolves to {address}, a {reason} address; webhooks are sent to "
                "public addresses only (an operator may allow it with STYLIZE_WEBHOOK_ALLOW)"
            )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return WebhookTarget(parts.scheme, host, port, path, tuple(addresses))
