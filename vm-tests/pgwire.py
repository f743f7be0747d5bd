#!/usr/bin/python3
"""pgwire.py: a raw PostgreSQL v3 client for the proxy tests: pipelines, garbage, stalls.

Drivers hide what these tests must control (message order, half messages,
a client that stops reading), so this speaks the protocol itself.  It
prints one JSON object per action.
"""
import base64
import hashlib
import hmac
import json
import os
import socket
import struct
import sys
import time

VIP = os.environ.get("LAB_VIP", "10.77.0.100")
PASSWORD = os.environ.get("PGPASSWORD", "")


def msg(kind, body=b""):
    return kind + struct.pack("!I", len(body) + 4) + body


def cstr(s):
    return s.encode() + b"\0"


class Conn:
    def __init__(self, port, timeout=10, user="postgres", password=PASSWORD, params=None,
                 version=(3, 0)):
        self.sock = socket.create_connection((VIP, port), timeout=timeout)
        self.buf = bytearray()
        self.user, self.password = user, password
        self.params = {"user": user, "database": "postgres"}
        self.params.update(params or {})
        self.version = version
        self.key = None
        self.status = {}

    def send(self, data):
        self.sock.sendall(data)

    def fill(self, n):
        """Buffers at least n bytes; False at EOF."""
        while len(self.buf) < n:
            data = self.sock.recv(max(65536, n - len(self.buf)))
            if not data:
                return False
            self.buf += data
        return True

    def read(self):
        """The next message as (type, body); (None, b"") at EOF."""
        if not self.fill(5):
            return None, b""
        n = struct.unpack("!I", self.buf[1:5])[0]
        if len(self.buf) >= n + 1:
            kind, body = bytes(self.buf[:1]), bytes(self.buf[5:n + 1])
            del self.buf[:n + 1]
            return kind, body
        # a large message: read its body straight into place, not by appending
        kind, have = bytes(self.buf[:1]), self.buf[5:]
        body = bytearray(n - 4)
        view = memoryview(body)
        view[:len(have)] = have
        got = len(have)
        self.buf = bytearray()
        while got < len(body):
            k = self.sock.recv_into(view[got:])
            if not k:
                return None, b""
            got += k
        return kind, bytes(body)

    def startup(self):
        """Startup and authentication; returns the messages up to the first ReadyForQuery."""
        body = struct.pack("!HH", *self.version)
        for k, v in self.params.items():
            body += cstr(k) + cstr(v)
        body += b"\0"
        self.send(struct.pack("!I", len(body) + 4) + body)
        seen = []
        while True:
            kind, body = self.read()
            seen.append((kind, body))
            if kind is None or kind == b"Z":
                return seen
            if kind == b"E":
                return seen
            if kind == b"K":
                self.key = struct.unpack("!II", body)
            if kind == b"S":
                k, v = body.split(b"\0")[:2]
                self.status[k.decode()] = v.decode()
            if kind == b"R":
                self.auth(struct.unpack("!I", body[:4])[0], body[4:])

    def auth(self, code, data):
        if code == 3:
            self.send(msg(b"p", cstr(self.password)))
        elif code == 5:
            inner = hashlib.md5((self.password + self.user).encode()).hexdigest()
            outer = hashlib.md5(inner.encode() + data[:4]).hexdigest()
            self.send(msg(b"p", cstr("md5" + outer)))
        elif code == 10:
            self.nonce = base64.b64encode(os.urandom(18)).decode()
            self.first = f"n=,r={self.nonce}"
            first = ("n,," + self.first).encode()
            self.send(msg(b"p", cstr("SCRAM-SHA-256") + struct.pack("!I", len(first)) + first))
        elif code == 11:
            server_first = data.decode()
            attrs = dict(a.split("=", 1) for a in server_first.split(","))
            salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(),
                                         base64.b64decode(attrs["s"]), int(attrs["i"]))
            client_key = hmac.new(salted, b"Client Key", "sha256").digest()
            stored = hashlib.sha256(client_key).digest()
            final = f"c=biws,r={attrs['r']}"
            auth_msg = f"{self.first},{server_first},{final}".encode()
            sig = hmac.new(stored, auth_msg, "sha256").digest()
            proof = bytes(a ^ b for a, b in zip(client_key, sig))
            self.send(msg(b"p", (final + ",p=" + base64.b64encode(proof).decode()).encode()))

    def until_ready(self):
        """Messages up to and with the next ReadyForQuery."""
        out = []
        while True:
            kind, body = self.read()
            out.append((kind, body))
            if kind in (None, b"Z"):
                return out

    def close(self):
        try:
            self.send(msg(b"X"))
        except OSError:
            pass
        self.sock.close()


def fields(body):
    """An ErrorResponse's or NoticeResponse's fields by code letter."""
    out = {}
    for part in body.split(b"\0"):
        if part:
            out[part[:1].decode()] = part[1:].decode(errors="replace")
    return out


def error_of(seen):
    for kind, body in seen:
        if kind == b"E":
            f = fields(body)
            return {"severity": f.get("S"), "code": f.get("C"), "message": f.get("M")}
    return None


def types(seen):
    return "".join("-" if k is None else k.decode() for k, _ in seen)


def parse(name, sql):
    return msg(b"P", cstr(name) + cstr(sql) + struct.pack("!H", 0))


def bind(portal, stmt, params=()):
    body = cstr(portal) + cstr(stmt) + struct.pack("!H", 0) + struct.pack("!H", len(params))
    for p in params:
        body += struct.pack("!I", len(p)) + p
    return msg(b"B", body + struct.pack("!H", 0))


def execute(portal=""):
    return msg(b"E", cstr(portal) + struct.pack("!I", 0))


def describe(kind, name):
    return msg(b"D", kind + cstr(name))


def sync():
    return msg(b"S")


def rows(seen):
    """The text of each DataRow's first column, in order."""
    out = []
    for kind, body in seen:
        if kind == b"D":
            n = struct.unpack("!i", body[2:6])[0]
            out.append(None if n < 0 else body[6:6 + n].decode())
    return out


def act_pipeline(port):
    """Extended protocol: a pipeline with an error in its middle, named statements, portals."""
    c = Conn(port)
    start = c.startup()
    res = {"startup": types(start)[-1:]}
    c.send(parse("s1", "SELECT $1::int + 1") + bind("", "s1", [b"41"]) + execute()
           + parse("", "SELECT 1/0") + bind("", "") + execute()
           + parse("", "SELECT 'skipped'") + bind("", "") + execute() + sync()
           + bind("p1", "s1", [b"1"]) + describe(b"P", "p1") + execute("p1") + sync()
           + msg(b"C", b"S" + cstr("s1")) + sync())
    first, second, third = c.until_ready(), c.until_ready(), c.until_ready()
    res["first_rows"] = rows(first)
    res["first_error"] = (error_of(first) or {}).get("code")
    res["first_types"] = types(first)
    res["second_rows"] = rows(second)
    res["second_types"] = types(second)
    res["third_types"] = types(third)
    # a statement closed is gone; a simple query after all of it still works
    c.send(bind("", "s1", [b"1"]) + execute() + sync())
    res["closed_error"] = (error_of(c.until_ready()) or {}).get("code")
    c.send(msg(b"Q", cstr("SELECT 'after'")))
    res["after"] = rows(c.until_ready())
    # FunctionCall: int4pl (oid 177) with 2 and 3
    c.send(msg(b"F", struct.pack("!IHHH", 177, 1, 1, 2) + struct.pack("!I4sI4s", 4,
           struct.pack("!i", 2), 4, struct.pack("!i", 3)) + struct.pack("!H", 1)))
    fc = c.until_ready()
    res["function_call"] = [struct.unpack("!i", b[4:8])[0] for k, b in fc if k == b"V"]
    c.close()
    print(json.dumps(res))


def act_negotiate(port):
    """A client asking for protocol 3.2 with a _pq_ option gets NegotiateProtocolVersion first."""
    c = Conn(port, version=(3, 2), params={"_pq_.test_option": "x"})
    seen = c.startup()
    res = {"types": types(seen)}
    for kind, body in seen:
        if kind == b"v":
            version, n = struct.unpack("!II", body[:8])
            res["version"] = f"{version >> 16}.{version & 0xffff}"
            res["options"] = [o.decode() for o in body[8:].split(b"\0")[:n]]
    c.send(msg(b"Q", cstr("SELECT 1")))
    res["rows"] = rows(c.until_ready())
    c.close()
    print(json.dumps(res))


def act_startup_error(port, *params):
    """A startup with params k=v...; prints the error (or null) and the message types."""
    p = dict(a.split("=", 1) for a in params)
    user = p.pop("user", "postgres")
    password = p.pop("password", PASSWORD)
    c = Conn(port, user=user, password=password, params=p)
    seen = c.startup()
    if types(seen).endswith("E"):
        kind, _ = c.read()
        closed = kind is None
    else:
        closed = False
    print(json.dumps({"error": error_of(seen), "types": types(seen), "closed": closed}))


def act_garbage(port, what):
    """Sends one kind of garbage; prints how the proxy answered and how long it took to close."""
    s = socket.create_connection((VIP, port), timeout=30)
    start = time.monotonic()
    if what == "bytes":
        s.sendall(os.urandom(64))
    elif what == "huge":
        s.sendall(struct.pack("!II", 0x7FFFFFF0, 0x00030000))
    elif what == "half":
        s.sendall(struct.pack("!II", 40, 0x00030000) + b"user\0")
    elif what == "http":
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    elif what in ("badtype", "badlen", "halfmsg"):
        c = Conn(port)
        c.startup()
        s.close()
        s = c.sock
        start = time.monotonic()
        if what == "badtype":
            s.sendall(b"\x01\0\0\0\x04")
        elif what == "badlen":
            s.sendall(b"Q\xff\xff\xff\xff")
        else:
            s.sendall(b"Q\0\0\0\x40SELECT")
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    ms = int((time.monotonic() - start) * 1000)
    err = None
    if data[:1] == b"E":
        err = fields(data[5:struct.unpack("!I", data[1:5])[0] + 1]).get("C")
    print(json.dumps({"what": what, "closed_ms": ms, "error": err}))


def act_stall(port, mbytes, seconds):
    """Asks for mbytes of rows and reads nothing for a while; then reads them all."""
    c = Conn(port)
    c.startup()
    c.send(msg(b"Q", cstr(f"SELECT repeat('x', 1048576) FROM generate_series(1, {mbytes})")))
    time.sleep(float(seconds))
    n, total = 0, 0
    while True:
        kind, body = c.read()
        if kind == b"D":
            n += 1
            total += len(body)
        if kind in (None, b"Z"):
            break
    c.close()
    print(json.dumps({"rows": n, "bytes": total}))


def act_big(port, mbytes):
    """One DataRow of mbytes through the proxy, checked whole."""
    c = Conn(port, timeout=120)
    c.startup()
    c.send(msg(b"Q", cstr(f"SELECT length(repeat('ab', {mbytes} * 524288)), "
                          f"repeat('ab', {mbytes} * 524288)")))
    got = c.until_ready()
    ok = False
    for kind, body in got:
        if kind == b"D":
            n1 = struct.unpack("!i", body[2:6])[0]
            length = int(body[6:6 + n1])
            n2 = struct.unpack("!i", body[6 + n1:10 + n1])[0]
            value = body[10 + n1:10 + n1 + n2]
            ok = length == len(value) == int(mbytes) * 1048576 and value[:4] == b"abab"
    c.close()
    print(json.dumps({"ok": ok, "types": types(got)[-3:]}))


def act_terminated(port):
    """A session whose backend is terminated by another: what it hears, then EOF."""
    victim, killer = Conn(port), Conn(port)
    victim.startup()
    killer.startup()
    victim.send(msg(b"Q", cstr("SELECT pg_backend_pid()")))
    pid = rows(victim.until_ready())[0]
    killer.send(msg(b"Q", cstr(f"SELECT pg_terminate_backend({pid})")))
    killed = rows(killer.until_ready())
    seen = []
    while True:
        kind, body = victim.read()
        seen.append((kind, body))
        if kind is None:
            break
    killer.close()
    err = error_of(seen) or {}
    print(json.dumps({"killed": killed, "types": types(seen), "code": err.get("code"),
                      "message": err.get("message")}))


def act_copy_extended(port):
    """COPY FROM STDIN through the extended protocol, as libpq sends it (Syncs the server
    ignores during the copy), then a SHOW pool_version that pgxr must still answer."""
    c = Conn(port)
    c.startup()
    c.send(msg(b"Q", cstr("CREATE TEMP TABLE tc (id int)")))
    c.until_ready()
    c.send(parse("", "COPY tc FROM STDIN") + bind("", "") + describe(b"P", "") + execute()
           + sync())
    seen = []
    while True:
        kind, body = c.read()
        seen.append((kind, body))
        if kind in (None, b"G", b"E", b"Z"):
            break
    c.send(msg(b"d", b"1\n2\n3\n") + msg(b"c") + sync())
    done = c.until_ready()
    c.send(msg(b"Q", cstr("SELECT count(*) FROM tc")))
    count = rows(c.until_ready())
    c.send(msg(b"Q", cstr("SHOW pool_version")))
    show = c.until_ready()
    c.close()
    print(json.dumps({"start": types(seen), "done": types(done), "count": count,
                      "show": rows(show), "show_error": (error_of(show) or {}).get("code")}))


def act_show_flood(port, n):
    """n SHOW pool_nodes sent without reading a byte; then every answer is read and counted."""
    c = Conn(port, timeout=60)
    c.startup()
    c.sock.setblocking(False)
    data = msg(b"Q", cstr("SHOW pool_nodes")) * int(n)
    sent, stalled_at = 0, None
    deadline = time.monotonic() + 5
    while sent < len(data) and time.monotonic() < deadline:
        try:
            sent += c.sock.send(data[sent:sent + 65536])
        except BlockingIOError:
            stalled_at = stalled_at or sent
            time.sleep(0.05)
    print(json.dumps({"phase": "stalled", "sent": sent, "total": len(data)}), flush=True)
    time.sleep(float(os.environ.get("FLOOD_HOLD", "2")))
    c.sock.setblocking(True)
    c.sock.settimeout(60)
    while sent < len(data):
        sent += c.sock.send(data[sent:])
    answers = 0
    while answers < int(n):
        kind, _ = c.read()
        if kind is None:
            break
        if kind == b"Z":
            answers += 1
    c.close()
    print(json.dumps({"phase": "done", "answers": answers}))


def act_insert_close(port, marker):
    """An INSERT and a Terminate in one write, then the socket closes at once."""
    c = Conn(port)
    c.startup()
    c.send(msg(b"Q", cstr(f"INSERT INTO pgwire_marks VALUES ('{marker}')")) + msg(b"X"))
    c.sock.close()
    print(json.dumps({"sent": marker}))


def act_auth(port, *params):
    """Logs in with user=, password= and other startup parameters; prints the
    Authentication requests in order, the error, and whom the server says it serves."""
    p = dict(a.split("=", 1) for a in params)
    user = p.pop("user", "postgres")
    password = p.pop("password", PASSWORD)
    c = Conn(port, user=user, password=password, params=p)
    seen = c.startup()
    res = {"auth": [struct.unpack("!I", b[:4])[0] for k, b in seen if k == b"R"],
           "error": error_of(seen), "user": None, "pid": None,
           "key_pid": c.key[0] if c.key else None}
    if types(seen).endswith("Z"):
        c.send(msg(b"Q", cstr("SELECT current_user || ' ' || pg_backend_pid()")))
        who = rows(c.until_ready())
        if who:
            res["user"], pid = who[0].split()
            res["pid"] = int(pid)
    c.close()
    print(json.dumps(res))


def act_tx_prepared(port, direct_port):
    """Transaction pooling: two clients, one server connection (max_pool 1), then another
    (the first one terminated): each client's named statement and search_path follow it."""
    a, b = Conn(port), Conn(port)
    res = {"a_start": types(a.startup())[-1:], "b_start": types(b.startup())[-1:]}

    def q(c, sql):
        c.send(msg(b"Q", cstr(sql)))
        out = c.until_ready()
        err = error_of(out)
        return err["code"] if err else rows(out)

    def run(c, stmt, value):
        c.send(bind("", stmt, [value.encode()]) + execute() + sync())
        out = c.until_ready()
        err = error_of(out)
        return err["code"] if err else rows(out)

    a.send(parse("s1", "SELECT ($1::int * 10)::text") + sync())
    res["a_parse"] = types(a.until_ready())
    res["a_set"] = q(a, "SET search_path = txs, public")
    res["b_search_path"] = q(b, "SELECT current_setting('search_path')")
    b.send(parse("s1", "SELECT 'b' || $1") + bind("", "s1", [b"7"]) + execute() + sync())
    res["b_s1"] = rows(b.until_ready())
    res["a_s1"] = run(a, "s1", "4")
    res["a_table"] = q(a, "SELECT v FROM t")
    pid = q(a, "SELECT pg_backend_pid()")[0]
    d = Conn(int(direct_port))
    d.startup()
    res["terminated"] = q(d, f"SELECT pg_terminate_backend({pid})")
    d.close()
    time.sleep(0.3)
    res["a_s1_after"] = run(a, "s1", "5")
    res["a_table_after"] = q(a, "SELECT v FROM t")
    res["a_new_server"] = q(a, "SELECT pg_backend_pid()")[0] != pid
    res["b_s1_after"] = run(b, "s1", "8")
    b.send(msg(b"C", b"S" + cstr("s1")) + sync())
    res["b_close"] = types(b.until_ready())
    res["b_closed_s1"] = run(b, "s1", "9")
    res["a_s1_last"] = run(a, "s1", "6")
    a.close()
    b.close()
    print(json.dumps(res))


def act_tx_pipeline(port):
    """Transaction pooling under pipelines: two names for one text in one send, an error in
    the middle, and a batch whose Sync comes later (the server must stay attached)."""
    c = Conn(port)
    res = {"start": types(c.startup())[-1:]}

    def until_n_ready(n):
        out = []
        while n:
            kind, body = c.read()
            out.append((kind, body))
            if kind is None:
                break
            if kind == b"Z":
                n -= 1
        return out

    c.send(parse("pa", "SELECT 'same'") + bind("", "pa") + execute() + sync() +
           parse("pb", "SELECT 'same'") + bind("", "pb") + execute() + sync())
    out = until_n_ready(2)
    res["two_names"] = types(out)
    res["two_names_rows"] = rows(out)
    c.send(bind("", "pa") + execute() + sync() + parse("bad", "SELEC 1") + sync() +
           bind("", "pb") + execute() + sync())
    out = until_n_ready(3)
    res["error_between"] = types(out)
    res["error_code"] = (error_of(out) or {}).get("code")
    c.send(bind("", "pa") + execute() + sync() + bind("", "pb") + execute())
    time.sleep(0.3)
    c.send(sync())
    out = until_n_ready(2)
    res["late_sync"] = types(out)
    res["late_sync_rows"] = rows(out)
    c.send(msg(b"Q", cstr("SELECT 1/0")) + bind("", "pa") + execute() + sync())
    out = until_n_ready(2)
    res["query_error_then_batch"] = types(out)
    c.close()
    print(json.dumps(res))


def act_key(port):
    """BackendKeyData's pid against pg_backend_pid()."""
    c = Conn(port)
    c.startup()
    c.send(msg(b"Q", cstr("SELECT pg_backend_pid()")))
    pid = int(rows(c.until_ready())[0])
    c.close()
    print(json.dumps({"key_pid": c.key[0], "backend_pid": pid}))


def act_causal(port, rounds, table, base):
    """Extended protocol, named statements: insert a row, then read it back, `rounds` times.

    Prints the rounds, the stale reads (the row not found) and which node answered them.
    """
    c = Conn(port)
    c.startup()
    c.send(parse("ins", f"INSERT INTO {table} VALUES ($1::bigint)")
           + parse("sel", f"SELECT count(*), current_setting('cluster_name') FROM {table} "
                          "WHERE id = $1::bigint") + sync())
    res = {"rounds": 0, "stale": 0, "nodes": {}, "errors": {}, "prepare": types(c.until_ready())}
    for r in range(int(rounds)):
        key = str(int(base) + r).encode()
        c.send(bind("", "ins", [key]) + execute() + sync())
        err = error_of(c.until_ready())
        if not err:
            c.send(bind("", "sel", [key]) + execute() + sync())
            seen = c.until_ready()
            err = error_of(seen)
        if err:
            res["errors"][err["code"]] = res["errors"].get(err["code"], 0) + 1
            continue
        row = [body for kind, body in seen if kind == b"D"][0]
        n = struct.unpack("!i", row[2:6])[0]
        count = row[6:6 + n].decode()
        node = row[6 + n + 4:].decode()
        res["rounds"] += 1
        res["nodes"][node] = res["nodes"].get(node, 0) + 1
        if count != "1":
            res["stale"] += 1
    c.close()
    print(json.dumps(res))


def act_tx_split(port):
    """Explicit transactions under the split, where drivers do odd things.

    A BEGIN batch behind a BEGIN pgxr answered (its warning and its read come back); a unit
    written a message at a time (routed whole); a portal fetched in two Executes inside a
    transaction on a reader (the second stays with the portal); START TRANSACTION's tag.
    """
    node = "SELECT current_setting('cluster_name')"
    c = Conn(port)
    c.startup()
    res = {}
    c.send(msg(b"Q", cstr("BEGIN")))
    c.until_ready()
    c.send(parse("", "BEGIN") + bind("", "") + execute() + parse("", node) + bind("", "")
           + execute() + sync())
    seen = c.until_ready()
    res["begin_batch"] = {"rows": rows(seen), "error": error_of(seen), "types": types(seen)}
    c.send(msg(b"Q", cstr("COMMIT")))
    res["begin_batch"]["commit"] = types(c.until_ready())
    for part in (parse("", node), bind("", ""), describe(b"P", ""), execute(), sync()):
        c.send(part)
        time.sleep(0.05)
    seen = c.until_ready()
    res["piecemeal"] = {"rows": rows(seen), "error": error_of(seen)}
    c.send(msg(b"Q", cstr("BEGIN")))
    c.until_ready()
    c.send(parse("", "SELECT current_setting('cluster_name') || g FROM generate_series(1, 4) g")
           + bind("c1", "") + msg(b"E", cstr("c1") + struct.pack("!I", 2)) + sync())
    first = c.until_ready()
    c.send(msg(b"E", cstr("c1") + struct.pack("!I", 2)) + sync())
    second = c.until_ready()
    c.send(msg(b"Q", cstr("COMMIT")))
    res["fetch"] = {"rows": rows(first) + rows(second), "error": error_of(first) or error_of(second),
                    "commit": types(c.until_ready())}
    c.send(msg(b"Q", cstr("START TRANSACTION")))
    seen = c.until_ready()
    res["start_tag"] = [body.rstrip(b"\0").decode() for kind, body in seen if kind == b"C"]
    c.send(msg(b"Q", cstr("ROLLBACK")))
    c.until_ready()
    c.close()
    print(json.dumps(res))


def act_each(port):
    """Each line of stdin as one extended-protocol unit (Parse, Bind, Describe, Execute, Sync of
    the unnamed statement); prints how many ran and the SQLSTATE of each that failed."""
    c = Conn(port)
    c.startup()
    res = {"ran": 0, "errors": {}}
    for line in sys.stdin:
        sql = line.strip()
        if not sql:
            continue
        c.send(parse("", sql) + bind("", "") + describe(b"P", "") + execute() + sync())
        err = error_of(c.until_ready())
        if err:
            res["errors"][sql] = err["code"]
        else:
            res["ran"] += 1
    c.close()
    print(json.dumps(res))


def main():
    actions = {"causal": act_causal, "tx_split": act_tx_split, "each": act_each, "terminated": act_terminated, "copy_extended": act_copy_extended,
               "show_flood": act_show_flood, "insert_close": act_insert_close, "key": act_key,
               "auth": act_auth, "tx_prepared": act_tx_prepared,
               "tx_pipeline": act_tx_pipeline,
               "pipeline": act_pipeline, "negotiate": act_negotiate,
               "startup_error": act_startup_error, "garbage": act_garbage,
               "stall": act_stall, "big": act_big}
    if len(sys.argv) < 3 or sys.argv[1] not in actions:
        sys.exit("usage: pgwire.py { " + " | ".join(actions) + " } PORT [ARGS...]")
    actions[sys.argv[1]](int(sys.argv[2]), *sys.argv[3:])


if __name__ == "__main__":
    main()
