#!/usr/bin/python3
"""pgclient.py: PostgreSQL client actions for the lab tests, through the VIP (psycopg2)."""
import io
import json
import os
import subprocess
import sys
import threading
import time

import psycopg2

VIP = os.environ.get("LAB_VIP", "10.77.0.100")
WHO = "SELECT current_setting('cluster_name'), pg_backend_pid()"


def connect(port, timeout=5, host=VIP, keepalives=True):
    # tcp_user_timeout: a write to a vanished server fails in a second, not minutes
    if not keepalives:
        # an application pool's idle connection: nothing on the wire while it waits
        return psycopg2.connect(host=host, port=port, user="postgres", dbname="postgres",
                                password=os.environ.get("PGPASSWORD", ""),
                                connect_timeout=timeout, keepalives=0)
    return psycopg2.connect(host=host, port=port, user="postgres", dbname="postgres",
                            password=os.environ.get("PGPASSWORD", ""), connect_timeout=timeout,
                            tcp_user_timeout=1000, keepalives_idle=1, keepalives_interval=1,
                            keepalives_count=2)


def in_threads(run, n):
    """run(0) .. run(n - 1), each in a thread of its own, all at once; back when all are done."""
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


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


def session(port, idle=False):
    """A long session driven from stdin: 'who' prints 'NAME PID' or 'error MS TEXT'.

    idle: no TCP keepalives, so that it sends nothing between commands."""
    conn = connect(port, keepalives=not idle)
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


def writer(port, seconds, path, first=1):
    """Inserts id FIRST, FIRST + 1... into acked for `seconds` (or until PATH.stop exists), through reconnects.

    Each acknowledged commit is written to `path` as "ok ID EPOCH_MS SERVER"
    before the next attempt (the writes the cluster must not lose; SERVER
    is the cluster_name of the server that acknowledged it), each failure
    as "fail EPOCH_MS".
    """
    end = time.monotonic() + seconds
    conn, n, failures = None, first - 1, 0
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
    print(json.dumps({"attempts": n - first + 1, "failures": failures}))


def walnoise(port, seconds, path, hosts):
    """Writes a little WAL on each of `hosts` that is a primary, every 10 ms, until PATH.stop exists.

    What a demoted primary still writes with no client (checkpoints,
    autovacuum, standby snapshots), made frequent: a non-transactional
    logical message is allowed under default_transaction_read_only.
    Sessions that are ended reconnect.
    """
    end = time.monotonic() + seconds
    conns = dict.fromkeys(hosts)
    written = dict.fromkeys(hosts, 0)
    stop = path + ".stop"
    while time.monotonic() < end and not os.path.exists(stop):
        for host in hosts:
            try:
                if conns[host] is None:
                    conns[host] = connect(port, timeout=1, host=host)
                    conns[host].autocommit = True
                with conns[host].cursor() as cur:
                    cur.execute("SELECT CASE WHEN pg_is_in_recovery() THEN NULL ELSE "
                                "pg_logical_emit_message(false, 'pgxr-test', 'noise') END")
                    if cur.fetchone()[0] is not None:
                        written[host] += 1
            except psycopg2.Error:
                if conns[host] is not None:
                    conns[host].close()
                conns[host] = None
        time.sleep(0.01)
    print(json.dumps(written))


def fifo(port, n):
    """A full pool serves clients in the order they asked.

    With max_pool 1: one client holds the server connection in a
    transaction; n others ask for it 50 ms apart, then it commits.  Prints
    the order the server ran them in (by clock_timestamp()).
    """
    conns = [connect(port) for _ in range(n)]
    for c in conns:
        c.autocommit = True
    holder = connect(port)
    with holder.cursor() as cur:
        cur.execute("SELECT 1")  # BEGIN first: the transaction holds the one server connection
    ran = {}

    def ask(i):
        with conns[i].cursor() as cur:
            cur.execute("SELECT clock_timestamp()")
            ran[i] = cur.fetchone()[0]

    threads = []
    for i in range(n):
        threads.append(threading.Thread(target=ask, args=(i,)))
        threads[-1].start()
        time.sleep(0.05)
    time.sleep(0.2)
    holder.commit()
    for t in threads:
        t.join(20)
    print(json.dumps({"ran": sorted(ran, key=ran.get), "n": len(ran)}))


def proxy_suite(port):
    """What an application does on one connection: COPY both ways, notices, parameters, errors."""
    conn = connect(port)
    out = {}
    with conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE tp (id int, v text)")
        data = "".join(f"{i}\tvalue {i}\n" for i in range(20000))
        cur.copy_expert("COPY tp FROM STDIN", io.StringIO(data))
        cur.execute("SELECT count(*), sum(id) FROM tp")
        out["copy_in"] = list(cur.fetchone())
        buf = io.StringIO()
        cur.copy_expert("COPY (SELECT * FROM tp ORDER BY id) TO STDOUT", buf)
        out["copy_out_same"] = buf.getvalue() == data
        try:
            cur.copy_expert("COPY tp FROM STDIN", io.StringIO("1\tok\nnot-a-number\tbad\n"))
        except psycopg2.Error as e:
            out["copy_error"] = e.pgcode
        conn.rollback()
        cur.execute("DO $$ BEGIN RAISE NOTICE 'pgxr notice'; END $$")
        out["notice"] = any("pgxr notice" in n for n in conn.notices)
        cur.execute("SET application_name = 'pgxr-proxy-test'")
        out["parameter_status"] = conn.get_parameter_status("application_name")
        try:
            cur.execute("SELECT no_such_column FROM tp")
        except psycopg2.Error as e:
            out["error"] = e.pgcode
        conn.rollback()
        cur.execute("SELECT current_setting('cluster_name')")
        out["server"] = cur.fetchone()[0]
    conn.commit()
    conn.close()
    print(json.dumps(out))


def cancel(port):
    """Cancels one pg_sleep(10) while another session sleeps 2 s: only the first ends, at once."""
    victim, bystander = connect(port), connect(port)
    res = {}

    def sleep_on(conn, seconds, key):
        start = time.monotonic()
        try:
            with conn.cursor() as cur:
                cur.execute(f"SELECT pg_sleep({seconds})")
            res[key] = "ok"
        except psycopg2.Error as e:
            res[key] = e.pgcode
        res[key + "_ms"] = int((time.monotonic() - start) * 1000)

    threads = [threading.Thread(target=sleep_on, args=(victim, 10, "victim")),
               threading.Thread(target=sleep_on, args=(bystander, 2, "bystander"))]
    for t in threads:
        t.start()
    time.sleep(0.5)
    sent = time.monotonic()
    victim.cancel()
    threads[0].join()
    res["victim_after_cancel_ms"] = int((time.monotonic() - sent) * 1000)
    threads[1].join()
    victim.rollback()
    with victim.cursor() as cur:
        cur.execute("SELECT 1")
        res["victim_usable"] = cur.fetchone()[0] == 1
    victim.close()
    bystander.close()
    print(json.dumps(res))


def late_cancel(port, block, unblock):
    """A cancel that reaches the server after its query ended hits no other client.

    With max_pool 1: A runs pg_sleep(0.3) and cancels it at 0.1 s, while
    the shell command `block` drops the router's SYNs to the server (so the
    cancel's own connection gets through at its SYN's retransmission, a
    second later, after `unblock`); A's query ends by itself, and B,
    waiting for the one server connection, runs pg_sleep(1.5) next.
    """
    a, b = connect(port), connect(port)
    a.autocommit = b.autocommit = True
    res = {}
    for conn in (a, b):
        with conn.cursor() as cur:
            cur.execute("SELECT 1")  # the pool's one server connection, made first

    def run(conn, sql, key):
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
            res[key] = "ok"
        except psycopg2.Error as e:
            res[key] = e.pgcode

    subprocess.run(block, shell=True, check=True)
    try:
        ta = threading.Thread(target=run, args=(a, "SELECT pg_sleep(0.3)", "a"))
        tb = threading.Thread(target=run, args=(b, "SELECT pg_sleep(1.5)", "b"))
        ta.start()
        time.sleep(0.1)
        a.cancel()
        tb.start()
        time.sleep(0.7)
    finally:
        subprocess.run(unblock, shell=True, check=True)
    ta.join(10)
    tb.join(10)
    print(json.dumps(res))


def hold(port, n, seconds):
    """Opens n sessions and holds them; prints how many opened and the errors of the rest."""
    conns, errors = [], []
    for _ in range(n):
        try:
            conns.append(connect(port))
        except psycopg2.Error as e:
            errors.append(str(e).strip().splitlines()[0])
    print(json.dumps({"open": len(conns), "errors": errors}), flush=True)
    time.sleep(seconds)
    for c in conns:
        c.close()


def readers(port, n, seconds, sql):
    """n autocommit sessions read in a loop for seconds; what each saw, and whether it lived."""
    out = [None] * n

    def run(i):
        seen = {"ok": 0, "errors": {}, "alive": False, "error_after": 0}
        try:
            conn = connect(port)
            conn.autocommit = True
        except psycopg2.Error as e:
            seen["connect"] = str(e).strip().splitlines()[0]
            out[i] = seen
            return
        end = time.monotonic() + seconds
        first_error = None
        while time.monotonic() < end and not conn.closed:
            try:
                with conn.cursor() as cur:
                    cur.execute(sql)
                    cur.fetchall()
                seen["ok"] += 1
                if first_error is not None:
                    seen["error_after"] += 1
            except psycopg2.Error as e:
                code = e.pgcode or "none"
                seen["errors"][code] = seen["errors"].get(code, 0) + 1
                first_error = first_error or time.monotonic()
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
            seen["alive"] = True
        except psycopg2.Error:
            pass
        conn.close()
        out[i] = seen

    in_threads(run, n)
    print(json.dumps(out), flush=True)


def causal(port, n, rounds, table):
    """n autocommit sessions each insert a row, then read it back, `rounds` times.

    A read that does not find the row the same session committed just before is stale.  Prints
    the rounds, the stale reads, which node answered the reads (cluster_name), and errors.
    """
    out = [None] * n

    def run(i):
        seen = {"rounds": 0, "stale": 0, "nodes": {}, "errors": {}}
        try:
            conn = connect(port)
            conn.autocommit = True
            with conn.cursor() as cur:
                for r in range(rounds):
                    key = i * 1000000 + r
                    try:
                        cur.execute(f"INSERT INTO {table} VALUES (%s)", (key,))
                        cur.execute(f"SELECT count(*), current_setting('cluster_name') FROM {table} "
                                    "WHERE id = %s", (key,))
                        found, node = cur.fetchone()
                    except psycopg2.Error as e:
                        code = e.pgcode or "none"
                        seen["errors"][code] = seen["errors"].get(code, 0) + 1
                        continue
                    seen["rounds"] += 1
                    seen["nodes"][node] = seen["nodes"].get(node, 0) + 1
                    if found != 1:
                        seen["stale"] += 1
            conn.close()
        except psycopg2.Error as e:
            seen["errors"]["connect"] = str(e).strip().splitlines()[0]
        out[i] = seen

    in_threads(run, n)
    total = {"rounds": 0, "stale": 0, "nodes": {}, "errors": {}}
    for seen in out:
        total["rounds"] += seen["rounds"]
        total["stale"] += seen["stale"]
        for k in ("nodes", "errors"):
            for name, c in seen[k].items():
                total[k][name] = total[k].get(name, 0) + c if isinstance(c, int) else c
    print(json.dumps(total))


def count_error(out, lock, e):
    """One more of e's SQLSTATE (or its first line) in out["errors"]."""
    with lock:
        code = e.pgcode or str(e).strip().splitlines()[0]
        out["errors"][code] = out["errors"].get(code, 0) + 1


def one_tx_sessions(port, n, base, tx, where):
    """n sessions, 8 at a time, each one transaction (autocommit off, psycopg2's default).

    tx(cur, key) runs session i's statements on row base + i and returns (nodes, own): a dict
    of where each named read ran (cluster_name), and whether the transaction saw its own
    write.  Prints, per name in where, how many reads ran on each node; how many transactions
    saw their own write; sessions done; errors by SQLSTATE.
    """
    out = {"sessions": 0, "own_write": 0, "errors": {}}
    out.update({w: {} for w in where})
    lock = threading.Lock()

    def run(t):
        for i in range(t, n, 8):
            try:
                conn = connect(port)
                with conn.cursor() as cur:
                    nodes, own = tx(cur, base + i)
                conn.commit()
                conn.close()
            except psycopg2.Error as e:
                count_error(out, lock, e)
                continue
            with lock:
                out["sessions"] += 1
                for w, node in nodes.items():
                    out[w][node] = out[w].get(node, 0) + 1
                out["own_write"] += own

    in_threads(run, 8)
    print(json.dumps(out))


def txsplit(port, n, table, base):
    """Session i reads row base + i, adds one to it, reads it again, commits: where the first
    and the second read ran, and whether the second saw the write."""
    def tx(cur, key):
        cur.execute(f"SELECT n, current_setting('cluster_name'), 'mk_pyr' FROM {table} "
                    "WHERE id = %s", (key,))
        before, first, _ = cur.fetchone()
        cur.execute(f"UPDATE {table} SET n = n + 1 WHERE id = %s -- mk_pyw", (key,))
        cur.execute(f"SELECT n, current_setting('cluster_name') FROM {table} WHERE id = %s", (key,))
        after, second = cur.fetchone()
        return {"first": first, "second": second}, after == before + 1

    one_tx_sessions(port, n, base, tx, ("first", "second"))


def dmlsplit(port, n, base):
    """dml_adaptive: session i updates dml_b's row base + i, then reads dml_a's and dml_b's rows,
    and commits: where the dml_a ("other") and the dml_b ("written") reads ran, and whether the
    dml_b read saw the update."""
    def tx(cur, key):
        cur.execute("UPDATE dml_b SET n = n + 1 WHERE id = %s -- mk_pdw", (key,))
        cur.execute("SELECT current_setting('cluster_name'), 'mk_pda' FROM dml_a WHERE id = %s",
                    (key,))
        other = cur.fetchone()[0]
        cur.execute("SELECT n, current_setting('cluster_name'), 'mk_pdb' FROM dml_b WHERE id = %s",
                    (key,))
        n_after, written = cur.fetchone()[:2]
        return {"other": other, "written": written}, n_after == 1

    one_tx_sessions(port, n, base, tx, ("other", "written"))


def txlost(port, seconds):
    """A transaction reads (autocommit off), waits `seconds`, reads again: prints where the first
    read ran, and the second read's node, or its error (SQLSTATE, or the driver's text) and how
    long it took to come."""
    conn = connect(port)
    out = {}
    with conn.cursor() as cur:
        cur.execute("SELECT current_setting('cluster_name')")
        out["first"] = cur.fetchone()[0]
        time.sleep(seconds)
        start = time.monotonic()
        try:
            cur.execute("SELECT current_setting('cluster_name')")
            out["second"] = cur.fetchone()[0]
        except psycopg2.Error as e:
            out["error"] = e.pgcode or str(e).strip().splitlines()[0]
        out["ms"] = int((time.monotonic() - start) * 1000)
    conn.close()
    print(json.dumps(out))


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: pgclient.py { spread PORT N | session PORT | writer PORT SECONDS FILE [FIRST] |"
                 " walnoise PORT SECONDS FILE HOST... | fifo PORT N | proxy PORT | cancel PORT |"
                 " late_cancel PORT BLOCK UNBLOCK |"
                 " hold PORT N SECONDS | readers PORT N SECONDS SQL |"
                 " causal PORT N ROUNDS TABLE | txsplit PORT N TABLE BASE | dmlsplit PORT N BASE | txlost PORT SECONDS }")
    action, port = sys.argv[1], int(sys.argv[2])
    if action == "spread":
        spread(port, int(sys.argv[3]))
    elif action == "session":
        session(port, idle=sys.argv[3:4] == ["idle"])
    elif action == "writer":
        writer(port, float(sys.argv[3]), sys.argv[4], int(sys.argv[5]) if len(sys.argv) > 5 else 1)
    elif action == "walnoise":
        walnoise(port, float(sys.argv[3]), sys.argv[4], sys.argv[5:])
    elif action == "fifo":
        fifo(port, int(sys.argv[3]))
    elif action == "proxy":
        proxy_suite(port)
    elif action == "cancel":
        cancel(port)
    elif action == "late_cancel":
        late_cancel(port, sys.argv[3], sys.argv[4])
    elif action == "hold":
        hold(port, int(sys.argv[3]), float(sys.argv[4]))
    elif action == "readers":
        readers(port, int(sys.argv[3]), float(sys.argv[4]), sys.argv[5])
    elif action == "causal":
        causal(port, int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    elif action == "txlost":
        txlost(port, float(sys.argv[3]))
    elif action == "dmlsplit":
        dmlsplit(port, int(sys.argv[3]), int(sys.argv[4]))
    elif action == "txsplit":
        txsplit(port, int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
    else:
        sys.exit(f"unknown action {action}")


if __name__ == "__main__":
    main()
