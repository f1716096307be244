"""The webhook address guard: public addresses only, unless the allow-list names them."""

from __future__ import annotations

import ipaddress

import pytest

from shared.settings import Settings
from shared.webhooks.address import (
    AllowList,
    Resolver,
    WebhookAddressError,
    WebhookUnresolvable,
    check_webhook_url,
    refusal,
)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("169.254.10.10", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("64:ff9b::a9fe:a9fe", "cloud metadata"),  # NAT64 of 169.254.169.254
        ("2002:a00:1::", "private"),  # 6to4 of 10.0.0.1
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
        ("224.0.0.1", "multicast"),
    ],
)
def test_non_public_addresses_are_refused_with_their_kind(address: str, reason: str) -> None:
    assert refusal(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700::6810:84e5", "8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def fixed(*addresses: str) -> Resolver:
    """A resolver that answers ``addresses`` for any host."""
    return lambda host, port: list(addresses)


def test_a_name_resolving_to_a_private_address_is_refused_naming_both() -> None:
    with pytest.raises(WebhookAddressError) as refused:
        check_webhook_url("https://hooks.example.com/x", AllowList(), fixed("8.8.8.8", "10.0.0.5"))
    assert "hooks.example.com resolves to 10.0.0.5, a private address" in str(refused.value)
    assert "STYLIZE_WEBHOOK_ALLOW" in str(refused.value)


def test_the_target_keeps_every_checked_address_path_and_port() -> None:
    target = check_webhook_url(
        "https://hooks.example.com:8443/in?x=1", AllowList(), fixed("8.8.8.8")
    )
    assert (target.scheme, target.host, target.port, target.path) == (
        "https",
        "hooks.example.com",
        8443,
        "/in?x=1",
    )
    assert target.addresses == ("8.8.8.8",)


def test_the_allow_list_admits_networks_addresses_and_host_names() -> None:
    allow = AllowList.parse("127.0.0.1, 10.0.0.0/8,Hooks.Internal.")
    assert check_webhook_url("http://127.0.0.1:9/h", allow).addresses == ("127.0.0.1",)
    check_webhook_url("http://x.example/h", allow, fixed("10.9.9.9"))
    check_webhook_url("http://hooks.internal/h", allow, fixed("192.168.0.7"))
    with pytest.raises(WebhookAddressError, match=r"192\.168\.0\.7"):
        check_webhook_url("http://other.internal/h", allow, fixed("192.168.0.7"))
    with pytest.raises(WebhookAddressError, match="loopback"):
        check_webhook_url("http://[::1]:9/h", allow)


def test_an_unresolvable_host_and_other_schemes_are_refused() -> None:
    def nowhere(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(WebhookUnresolvable, match="does not resolve"):
        check_webhook_url("http://nowhere.invalid/", AllowList(), nowhere)
    with pytest.raises(WebhookAddressError, match="http"):
        check_webhook_url("ftp://example.com/", AllowList())


def test_a_bad_allow_list_entry_fails_the_settings_in_one_line() -> None:
    with pytest.raises(ValueError, match="'not a host!' is neither an IP address"):
        Settings(webhook_allow="127.0.0.1,not a host!")
    assert Settings(webhook_allow="").webhook_allow_list() == AllowList()
