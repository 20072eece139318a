"""Where a client reaches Serve's listed targets (``runtime.serve_proxy.target_host``)."""
import pytest

from alpa_serve_like.runtime.serve_proxy import target_host


@pytest.mark.parametrize("node_ip, http_host, expected", [
    ("192.0.2.2", "127.0.0.1", "127.0.0.1"),  # Ray on the interface, Serve on loopback: loopback
    ("192.0.2.2", "localhost", "localhost"),
    ("192.0.2.2", "::1", "[::1]"),
    ("127.0.0.1", "127.0.0.1", "127.0.0.1"),
    ("10.0.0.5", "0.0.0.0", "10.0.0.5"),  # every interface: the node's own address reaches it
    ("10.0.0.5", None, "10.0.0.5"),
    ("fd00::5", "::", "[fd00::5]"),
])
def test_a_loopback_http_host_is_where_targets_are_reached(node_ip, http_host, expected):
    assert target_host(node_ip, http_host) == expected
