"""Drives tests/ws_server (scv/ws.c) with an independent client: Debian's python3-websockets
for well-behaved traffic, and raw frames on a plain socket for the hostile cases.

    /usr/bin/python3 ws_client.py PORT SERVER_LOG

Prints "PASS ws/NAME" or "FAIL ws/NAME: why" per check; exits 1 if any failed. The server
must run with --origin http://127.0.0.1:8080 --ping-ms 300 --max-missed 2
--close-timeout-ms 700 --max-send-queue 1048576.
"""
import asyncio
import base64
import os
import re
import socket
import struct
import sys
import time

import websockets

PORT = int(sys.argv[1])
LOG = sys.argv[2]
URI = f"ws://127.0.0.1:{PORT}/agent/v1/ws"
ORIGIN = "http://127.0.0.1:8080"
failed = 0


def result(name, ok, why=""):
    global failed
    if ok:
        print(f"PASS ws/{name}", flush=True)
    else:
        failed += 1
        print(f"FAIL ws/{name}: {why}", flush=True)


def check_eq(name, got, want):
    result(name, got == want, f"got {got!r}, want {want!r}")


def wait_log(pattern, timeout=5.0):
    """The first server log line matching pattern that appears within timeout, or None."""
    deadline = time.monotonic() + timeout
    rx = re.compile(pattern)
    while time.monotonic() < deadline:
        with open(LOG, encoding="utf-8", errors="replace") as f:
            for line in f:
                if rx.search(line):
                    return line.strip()
        time.sleep(0.05)
    return None


# ---- raw socket helpers -------------------------------------------------------------------

def raw_connect(origin=ORIGIN, key=None, version="13", method="GET", upgrade="websocket",
                rcvbuf=None):
    """Opens a socket and sends an upgrade request; returns (socket, status, head)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(5)
    s.connect(("127.0.0.1", PORT))
    key = key or base64.b64encode(os.urandom(16)).decode()
    req = (f"{method} /agent/v1/ws HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\n"
           f"Upgrade: {upgrade}\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
           f"Sec-WebSocket-Version: {version}\r\n")
    if origin is not None:
        req += f"Origin: {origin}\r\n"
    s.sendall((req + "\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    text = head.decode(errors="replace")
    status = int(text.split(" ")[1]) if text.startswith("HTTP/1.1 ") else 0
    return s, status, text


def send_frame(s, opcode, payload, fin=True, mask=True):
    if isinstance(payload, str):
        payload = payload.encode()
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask:
        key = os.urandom(4)
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        head += key
    s.sendall(head + payload)


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError("connection closed")
        data += chunk
    return data


def read_frame(s):
    """(opcode, payload) of the next server frame; raises EOFError at end of stream."""
    b0, b1 = recv_exact(s, 2)
    if b1 & 0x80:
        raise ValueError("server frame is masked")
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", recv_exact(s, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", recv_exact(s, 8))[0]
    return b0 & 0x0F, recv_exact(s, n)


def close_code_of(payload):
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None


def expect_close(name, s, code):
    """Reads frames until a close; checks its code and that the server then ends the TCP."""
    try:
        while True:
            op, payload = read_frame(s)
            if op == 8:
                break
        got = close_code_of(payload)
        eof = s.recv(1) == b""
        result(name, got == code and eof,
               f"close code {got}, want {code}; TCP closed after it: {eof}")
    except (EOFError, OSError, ValueError) as e:
        result(name, False, f"no close frame: {e}")
    finally:
        s.close()


def eof_within(s, seconds):
    """True when the server closes the TCP connection within seconds (frames are skipped)."""
    s.settimeout(seconds)
    try:
        while s.recv(65536):
            pass
        return True
    except socket.timeout:
        return False
    except OSError:
        return True
    finally:
        s.close()


# ---- with python3-websockets --------------------------------------------------------------

async def client_cases():
    async with websockets.connect(URI, origin=ORIGIN, ping_interval=None,
                                  max_size=1 << 20) as ws:
        await ws.send("hello \u20ac")
        check_eq("echo", await ws.recv(), "hello \u20ac")

        await ws.send(["frag1 ", "frag2 ", "\u00e9\u20ac"])  # three frames
        check_eq("fragmented_message", await ws.recv(), "frag1 frag2 \u00e9\u20ac")

        await ws.send("cmd:big 200000")
        big = await ws.recv()
        check_eq("server_large_message", (len(big), big[:12], big[-3:]),
                 (200000, "012345678901", "789"))

        pong = await ws.ping(b"client-ping")
        try:
            await asyncio.wait_for(pong, 3)
            result("client_ping_answered", True)
        except asyncio.TimeoutError:
            result("client_ping_answered", False, "no pong within 3 s")

        # the server pings every 300 ms; the library answers them
        await asyncio.sleep(1.2)
        await ws.send("cmd:stats")
        stats = await ws.recv()
        n = int(stats.split("=")[1]) if stats.startswith("pongs=") else -1
        result("server_pings_answered", n >= 2, f"server counted {stats!r}")

        # a reading client gets a flood whole: the send queue bound is not hit
        await ws.send("cmd:flood 100 60000")
        got = 0
        for _ in range(100):
            m = await asyncio.wait_for(ws.recv(), 10)
            got += len(m) == 60000
        check_eq("flood_to_a_reader", got, 100)

        await ws.close(code=4000, reason="bye")
        check_eq("client_close_code_echoed", (ws.close_code, ws.close_reason), (4000, "bye"))
    line = wait_log(r"received=4000 ")
    result("client_close_seen_by_server", line is not None and "state=closed sent=4000" in line,
           f"server log: {line}")

    async with websockets.connect(URI, origin=ORIGIN, ping_interval=None) as ws:
        await ws.send("cmd:close 4001 token expired")
        try:
            await asyncio.wait_for(ws.recv(), 3)
            result("server_close_code", False, "got a message instead of a close")
        except websockets.ConnectionClosed as e:
            check_eq("server_close_code", (e.rcvd.code, e.rcvd.reason) if e.rcvd else None,
                     (4001, "token expired"))

    async with websockets.connect(URI, origin=ORIGIN, ping_interval=None,
                                  max_size=1 << 20) as ws:
        await ws.send("x" * 70000)
        try:
            await asyncio.wait_for(ws.recv(), 3)
            result("oversized_1009", False, "echoed")
        except websockets.ConnectionClosed as e:
            check_eq("oversized_1009", e.rcvd.code if e.rcvd else None, 1009)

    async with websockets.connect(URI, origin=ORIGIN, ping_interval=None,
                                  max_size=1 << 20) as ws:
        await ws.send("y" * 65536)
        m = await ws.recv()
        check_eq("at_the_limit_accepted", len(m), 65536)

    async with websockets.connect(URI, origin=ORIGIN, ping_interval=None) as ws:
        await ws.send(b"\x00\x01binary")
        try:
            await asyncio.wait_for(ws.recv(), 3)
            result("binary_1003", False, "echoed")
        except websockets.ConnectionClosed as e:
            check_eq("binary_1003", e.rcvd.code if e.rcvd else None, 1003)

    try:
        async with websockets.connect(URI, origin="https://evil.example.net",
                                      ping_interval=None):
            result("bad_origin_refused_library", False, "connected")
    except websockets.InvalidStatusCode as e:
        check_eq("bad_origin_refused_library", e.status_code, 403)


# ---- raw frames ---------------------------------------------------------------------------

def raw_cases():
    s, status, head = raw_connect()
    check_eq("raw_handshake", status, 101)
    send_frame(s, 1, "masked hello")
    check_eq("raw_masked_accepted", read_frame(s), (1, b"masked hello"))
    # fragments with a ping between them: the pong first, then the whole message
    send_frame(s, 1, "part1-", fin=False)
    send_frame(s, 9, b"raw-ping")
    send_frame(s, 0, "part2", fin=True)
    check_eq("raw_ping_pong", read_frame(s), (0xA, b"raw-ping"))
    check_eq("raw_fragments", read_frame(s), (1, b"part1-part2"))
    # our close with a code: echoed, then the server ends the TCP connection
    send_frame(s, 8, struct.pack("!H", 4002) + b"done")
    expect_close("raw_client_close", s, 4002)

    s, _, _ = raw_connect()
    send_frame(s, 1, "not masked", mask=False)
    expect_close("unmasked_1002", s, 1002)

    s, _, _ = raw_connect()
    send_frame(s, 1, b"bad \xc0\xaf utf-8")
    expect_close("invalid_utf8_1007", s, 1007)

    s, _, _ = raw_connect()
    send_frame(s, 1, b"\xed\xa0\x80")  # a surrogate
    expect_close("surrogate_1007", s, 1007)

    s, _, _ = raw_connect()
    send_frame(s, 9, b"fragmented ping", fin=False)
    expect_close("fragmented_control_1002", s, 1002)

    s, _, _ = raw_connect()
    send_frame(s, 1, "z" * 65537)
    expect_close("raw_oversized_1009", s, 1009)

    s, _, _ = raw_connect()
    send_frame(s, 2, b"\x01\x02")
    expect_close("raw_binary_1003", s, 1003)

    # a client that never answers pings: dropped after two missed pongs (300 ms apart)
    s, _, _ = raw_connect()
    t0 = time.monotonic()
    dropped = eof_within(s, 4)
    result("missed_pongs_drop", dropped and time.monotonic() - t0 >= 0.5,
           f"dropped: {dropped} after {time.monotonic() - t0:.2f} s")
    line = wait_log(r"why=no pong to our pings")
    result("missed_pongs_logged", line is not None, "no log line")

    # the server closes, the client never answers: dropped after the close timeout
    s, _, _ = raw_connect()
    send_frame(s, 1, "cmd:close 1000 bye")
    s.settimeout(3)
    op, payload = read_frame(s)
    check_eq("server_close_frame", (op, close_code_of(payload)), (8, 1000))
    t0 = time.monotonic()
    dropped = eof_within(s, 4)
    result("close_wait_bounded", dropped and time.monotonic() - t0 >= 0.4,
           f"dropped: {dropped} after {time.monotonic() - t0:.2f} s")
    line = wait_log(r"why=no close frame from the peer in time")
    result("close_wait_logged", line is not None, "no log line")

    # a reader that stops reading: the server drops it, it does not buffer for ever
    s, _, _ = raw_connect(rcvbuf=4096)
    send_frame(s, 1, "cmd:flood 2000 60000")
    line = wait_log(r"state=aborted .*why=send queue over its bound", timeout=10)
    result("slow_reader_dropped", line is not None, "no abort logged")
    s.close()

    # handshakes refused with the reason's status
    for name, kwargs, want in [
        ("bad_origin_403", {"origin": "https://bridge.example.com.evil.net"}, 403),
        ("no_origin_403", {"origin": None}, 403),
        ("bad_key_400", {"key": "c2hvcnQ="}, 400),
        ("bad_version_426", {"version": "8"}, 426),
        ("upgrade_h2c_400", {"upgrade": "h2c"}, 400),
        ("post_405", {"method": "POST"}, 405),
    ]:
        s, status, head = raw_connect(**kwargs)
        closed = eof_within(s, 3)
        result(name, status == want and closed, f"status {status}, closed {closed}: {head!r}")
        if name == "bad_version_426":
            result("bad_version_names_13", "Sec-WebSocket-Version: 13\r\n" in head, head)


asyncio.run(client_cases())
raw_cases()
sys.exit(1 if failed else 0)
