#!/usr/bin/python3
"""idle.py HOST PORT N: opens N client connections that log in (SCRAM) and stay idle.

Prints "ready K" once K of them are in (K < N when some were refused), then holds
them until its standard input closes.  For the benchmark's memory at many idle
clients: the salted password is computed once per salt, so a run measures the
pooler, not this client.
"""
import base64
import hashlib
import hmac
import os
import resource
import socket
import struct
import sys

PASSWORD = os.environ.get("PGPASSWORD", "")
SALTED = {}


def msg(kind, body=b""):
    return kind + struct.pack("!I", len(body) + 4) + body


def read_msg(sock, buf):
    while len(buf) < 5 or len(buf) < struct.unpack("!I", buf[1:5])[0] + 1:
        data = sock.recv(65536)
        if not data:
            return None, b"", buf
        buf += data
    n = struct.unpack("!I", buf[1:5])[0]
    return buf[:1], buf[5:n + 1], buf[n + 1:]


def login(host, port, user):
    sock = socket.create_connection((host, port), timeout=5)
    body = struct.pack("!HH", 3, 0) + b"user\0" + user.encode() + b"\0database\0postgres\0\0"
    sock.sendall(struct.pack("!I", len(body) + 4) + body)
    buf, first = b"", ""
    while True:
        kind, body, buf = read_msg(sock, buf)
        if kind in (None, b"E"):
            sock.close()
            return None
        if kind == b"Z":
            return sock
        if kind != b"R":
            continue
        code = struct.unpack("!I", body[:4])[0]
        if code == 10:
            nonce = base64.b64encode(os.urandom(18)).decode()
            first = f"n=,r={nonce}"
            data = ("n,," + first).encode()
            sock.sendall(msg(b"p", b"SCRAM-SHA-256\0" + struct.pack("!I", len(data)) + data))
        elif code == 11:
            server_first = body[4:].decode()
            attrs = dict(a.split("=", 1) for a in server_first.split(","))
            key = (attrs["s"], attrs["i"])
            if key not in SALTED:
                SALTED[key] = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(),
                                                  base64.b64decode(attrs["s"]), int(attrs["i"]))
            client_key = hmac.new(SALTED[key], b"Client Key", "sha256").digest()
            stored = hashlib.sha256(client_key).digest()
            final = f"c=biws,r={attrs['r']}"
            sig = hmac.new(stored, f"{first},{server_first},{final}".encode(), "sha256").digest()
            proof = bytes(a ^ b for a, b in zip(client_key, sig))
            sock.sendall(msg(b"p", (final + ",p=" + base64.b64encode(proof).decode()).encode()))
        elif code == 3:
            sock.sendall(msg(b"p", PASSWORD.encode() + b"\0"))


def main():
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    user = sys.argv[4] if len(sys.argv) > 4 else "postgres"
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    held = []
    for _ in range(n):
        try:
            s = login(host, port, user)
        except OSError:
            s = None
        if not s:
            break   # the pooler is at a limit: what it took so far is the answer
        held.append(s)
    print(f"ready {len(held)}", flush=True)
    sys.stdin.read()
    for s in held:
        s.close()


if __name__ == "__main__":
    main()
