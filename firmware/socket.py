# socket.py — on a board as /lib/socket.py: `import socket` is spinet's socket module.
#
# MicroPython's `socket` is an extensible built-in: a socket.py found on sys.path
# ("", ".frozen", "/lib") is imported instead of it, so code written for MicroPython's
# own sockets (umqtt.simple, micropython-lib requests, asyncio streams) runs over
# spinet unchanged. It also answers to the old name `usocket` (umqtt.simple before
# 1.4, urequests) from the moment `socket` is first imported. On a port that has its
# own sockets (unix, Pico W, WIZnet builds) MicroPython imports a u-name as the
# built-in unless sys.modules has it, and the built-in stays reachable by importing
# `socket` with sys.path empty (spinet's host drivers do that); spinet needs neither.
#
# Import order is free: this module holds no Interface. Each socket() takes the
# Interface most recently activated when the socket is made; one made before any
# Interface is active raises OSError(19) (ENODEV). Constants, inet_pton/inet_ntop and
# getaddrinfo of a dotted quad work without an Interface; a name needs one (OSError(-2)).
#
# Host side: this file must never sit on CPython's sys.path, where it would shadow
# CPython's socket. host_tools/deploy.py copies it to the board's /lib; tests put a
# folder holding only this file on MICROPYPATH.

from spinet.socket import (AF_INET, AF_INET6, IPPROTO_ICMP, IPPROTO_IP, IPPROTO_TCP,  # noqa: F401
                           IPPROTO_UDP, MSG_DONTWAIT, MSG_PEEK, SO_BROADCAST, SO_KEEPALIVE,
                           SO_REUSEADDR, SOCK_DGRAM, SOCK_RAW, SOCK_STREAM, SOL_SOCKET,
                           TCP_NODELAY, error, getaddrinfo, inet_ntop, inet_pton, socket)

import sys  # noqa: E402

sys.modules["usocket"] = sys.modules[__name__]
del sys
