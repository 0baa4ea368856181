"""Listening addresses: which ones reach this machine only (Flower and the board check them)."""

import ipaddress


def is_loopback(address: str) -> bool:
    """Say whether a listening address is this machine only ('' means every interface)."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False
