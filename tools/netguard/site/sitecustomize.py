"""Block network access for an offline run (put on PYTHONPATH by tools.netguard.offline_env).

Runs when the interpreter starts, before any notebook code, and makes every Python-level
network access to a non-loopback host fail: ``socket.connect``/``connect_ex``/``sendto`` and
name resolution (``getaddrinfo``, ``gethostbyname``). Loopback stays open because the kernel
talks to its client over ZMQ on 127.0.0.1 (ZMQ is C code and does not go through Python's
socket module anyway). Code that opens sockets from C (libcurl...) is not covered; nothing in
the course does.
"""
import ipaddress as _ipaddress
import socket as _socket

_LOCAL_NAMES = {"", "localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class NetworkBlockedError(ConnectionRefusedError):
    """Raised for any attempt to reach a non-loopback host."""


def _local(host):
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").split("%")[0].lower()
    if host in _LOCAL_NAMES:
        return True
    try:
        ip = _ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_unspecified


def _refuse(what, host):
    raise NetworkBlockedError(f"network access is disabled here (the course runs offline): "
                              f"{what} to {host!r} was refused")


def _check_address(address, what):
    if isinstance(address, tuple) and address and not _local(address[0]):
        _refuse(what, address[0])


_connect = _socket.socket.connect
_connect_ex = _socket.socket.connect_ex
_sendto = _socket.socket.sendto
_getaddrinfo = _socket.getaddrinfo
_gethostbyname = _socket.gethostbyname
_gethostbyname_ex = _socket.gethostbyname_ex


def connect(self, address):
    _check_address(address, "connect")
    return _connect(self, address)


def connect_ex(self, address):
    _check_address(address, "connect")
    return _connect_ex(self, address)


def sendto(self, data, *args):
    _check_address(args[-1] if args else None, "sendto")
    return _sendto(self, data, *args)


def getaddrinfo(host, *args, **kwargs):
    if not _local(host):
        _refuse("name lookup", host)
    return _getaddrinfo(host, *args, **kwargs)


def gethostbyname(host):
    if not _local(host):
        _refuse("name lookup", host)
    return _gethostbyname(host)


def gethostbyname_ex(host):
    if not _local(host):
        _refuse("name lookup", host)
    return _gethostbyname_ex(host)


_socket.socket.connect = connect
_socket.socket.connect_ex = connect_ex
_socket.socket.sendto = sendto
_socket.getaddrinfo = getaddrinfo
_socket.gethostbyname = gethostbyname
_socket.gethostbyname_ex = gethostbyname_ex
_socket.NetworkBlockedError = NetworkBlockedError
