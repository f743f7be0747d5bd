#!/usr/bin/python3
"""pgclient.py: PostgreSQL client actions for the lab tests, through the VIP (psycopg2)."""
import json
import os
import sys
import time

import psycopg2

VIP = os.environ.get("LAB_VIP", "10.77.0.100")
WHO = "SELECT current_setting('cluster_name'), pg_backend_pid()"


def connect(port, timeout=5):
    # tcp_user_timeout: a write to a vanished server fails in a second, not minutes
    return psycopg2.connect(host=VIP, port=port, user="postgres", dbname="postgres",
                            password=os.environ.get("PGPASSWORD", ""), connect_timeout=timeout,
                            tcp_user_timeout=1000, keepalives_idle=1, keepalives_interval=1,
                            keepalives_count=2)


def who(conn):
    with conn.cursor() as cur:
        cur.execute(WHO)
        name, pid = cur.fetchone()
    conn.rollback()
    return name, pid


def spread(port, n):
    """Opens n sessions at once; each says where it is at open and again at the end."""
    conns = [connect(port) for _ in range(n)]
    first = [who(c) for c in conns]
    second = [who(c) for c in conns]
    for c in conns:
        c.close()
    counts = {}
    for name, _ in first:
        counts[name] = counts.get(name, 0) + 1
    print(json.dumps({"n": n, "counts": counts, "stable": first == second}))


def session(port):
    """A long session driven from stdin: 'who' prints 'NAME PID' or 'error MS TEXT'."""
    conn = connect(port)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "quit":
            break
        if cmd != "who":
            print("error 0 unknown command", flush=True)
            continue
        start = time.monotonic()
        try:
            name, pid = who(conn)
            print(f"{name} {pid}", flush=True)
        except psycopg2.Error as e:
            ms = int((time.monotonic() - start) * 1000)
            text = str(e).strip().replace("\n", " ")
            print(f"error {ms} {text}", flush=True)
    conn.close()


def writer(port, seconds, path):
    """Inserts id 1, 2, 3... into acked for `seconds` (or until PATH.stop exists), through reconnects.

    Each acknowledged commit is written to `path` as "ok ID EPOCH_MS SERVER"
    before the next attempt (the writes the cluster must not lose; SERVER
    is the cluster_name of the server that acknowledged it), each failure
    as "fail EPOCH_MS".
    """
    end = time.monotonic() + seconds
    conn, n, failures = None, 0, 0
    stop = path + ".stop"
    with open(path, "w") as out:
        while time.monotonic() < end and not os.path.exists(stop):
            n += 1
            try:
                if conn is None:
                    conn = connect(port, timeout=1)
                    conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute("INSERT INTO acked (id) VALUES (%s) "
                                "RETURNING current_setting('cluster_name')", (n,))
                    server = cur.fetchone()[0]
                out.write(f"ok {n} {int(time.time() * 1000)} {server}\n")
                out.flush()
            except psycopg2.Error:
                failures += 1
                out.write(f"fail {int(time.time() * 1000)}\n")
                out.flush()
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.02)
    print(json.dumps({"attempts": n, "failures": failures}))


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: pgclient.py { spread PORT N | session PORT | writer PORT SECONDS FILE }")
    action, port = sys.argv[1], int(sys.argv[2])
    if action == "spread":
        spread(port, int(sys.argv[3]))
    elif action == "session":
        session(port)
    elif action == "writer":
        writer(port, float(sys.argv[3]), sys.argv[4])
    else:
        sys.exit(f"unknown action {action}")


if __name__ == "__main__":
    main()
