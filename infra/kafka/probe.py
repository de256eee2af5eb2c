"""Standard-library helpers for kafka.sh: port checks and a real Kafka Metadata request.

probe.py free PORT              exit 0 when 127.0.0.1:PORT is free
probe.py pick                   print a free port
probe.py wait HOST PORT SECS [PID]
                                exit 0 once the broker answers a Metadata request
                                listing itself; 1 on timeout or when PID died
"""

from __future__ import annotations

import os
import socket
import struct
import sys
import time


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    buf = b""
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf


def metadata_brokers(host: str, port: int, timeout: float = 2.0) -> int:
    """Send Metadata v1 (all topics) and return how many brokers the answer lists."""
    client_id = b"camguard-probe"
    body = struct.pack(">hhih", 3, 1, 7, len(client_id)) + client_id + struct.pack(">i", -1)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", _recv_exact(sock, 4))[0]
        payload = _recv_exact(sock, size)
    correlation, n_brokers = struct.unpack(">ii", payload[:8])
    if correlation != 7:
        raise ConnectionError("unexpected correlation id")
    return int(n_brokers)


def wait_ready(host: str, port: int, seconds: float, pid: int | None) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if pid is not None:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return False
        try:
            if metadata_brokers(host, port) >= 1:
                return True
        except (OSError, ConnectionError, struct.error):
            pass
        time.sleep(0.3)
    return False


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else ""
    if cmd == "free":
        return 0 if port_free(int(argv[1])) else 1
    if cmd == "pick":
        print(pick_port())
        return 0
    if cmd == "wait":
        pid = int(argv[4]) if len(argv) > 4 else None
        return 0 if wait_ready(argv[1], int(argv[2]), float(argv[3]), pid) else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
