#!/usr/bin/env python3
"""A participant that joins a meeting over the signalling WebSocket and stays, so that the meeting
has a live session while Schemathesis runs (scripts/schemathesis.sh). Standard library only.

Usage: live_peer.py ws://127.0.0.1:PORT/v1/signal PARTICIPANT_TOKEN

Prints `joined` once the join is answered, then keeps the connection alive (a ping every 10 s)
until the server closes it (a kick, the session ended) or the process is stopped.
"""

import base64
import json
import os
import select
import socket
import struct
import sys
import time
from urllib.parse import urlparse


def send_text(sock: socket.socket, text: str) -> None:
    payload = text.encode()
    header = bytearray([0x81])  # FIN, text
    if len(payload) < 126:
        header.append(0x80 | len(payload))
    elif len(payload) < 1 << 16:
        header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
    else:
        header += bytes([0x80 | 127]) + struct.pack("!Q", len(payload))
    mask = os.urandom(4)
    sock.sendall(bytes(header) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def recv_frame(sock: socket.socket) -> tuple[int, bytes]:
    first, second = recv_exact(sock, 2)
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", recv_exact(sock, 2))
    elif length == 127:
        (length,) = struct.unpack("!Q", recv_exact(sock, 8))
    return first & 0x0F, recv_exact(sock, length)


def recv_message(sock: socket.socket) -> dict:
    while True:
        opcode, payload = recv_frame(sock)
        if opcode == 0x8:
            raise ConnectionError("closed by the server")
        if opcode == 0x1:
            return json.loads(payload)


def main() -> int:
    url, token = urlparse(sys.argv[1]), sys.argv[2]
    sock = socket.create_connection((url.hostname, url.port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += recv_exact(sock, 1)
    if not response.startswith(b"HTTP/1.1 101"):
        print(f"no WebSocket upgrade: {response!r}", file=sys.stderr)
        return 1
    send_text(sock, json.dumps({"type": "hello", "protocol": 1, "token": token}))
    welcome = recv_message(sock)
    if welcome.get("type") != "welcome":
        print(f"not welcomed: {welcome}", file=sys.stderr)
        return 1
    send_text(sock, json.dumps({"type": "join", "req": 1}))
    while True:
        message = recv_message(sock)
        if message.get("req") == 1:
            if message.get("type") != "reply":
                print(f"join refused: {message}", file=sys.stderr)
                return 1
            break
    print("joined", flush=True)
    last_ping = time.monotonic()
    try:
        while True:
            if time.monotonic() - last_ping >= 10:
                send_text(sock, json.dumps({"type": "ping"}))
                last_ping = time.monotonic()
            readable, _, _ = select.select([sock], [], [], 1)
            if readable:
                recv_message(sock)
    except (ConnectionError, OSError):
        return 0


if __name__ == "__main__":
    sys.exit(main())
