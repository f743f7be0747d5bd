#!/usr/bin/env bash
# t320_proxy_txpool.sh: pool_mode = transaction: a server connection per transaction; named
# statements and SETs follow a client to another server connection; LISTEN, SQL PREPARE, temp
# tables and advisory locks pin; a full pool serves in arrival order; query_wait_timeout;
# cancel; pgbench, JDBC, node-postgres
# lab: fresh
. "$(dirname "$0")/lib.sh"

P=9999
wire() { timeout "${WIRE_TIMEOUT:-30}" "$LAB_SH" exec cli /usr/bin/python3 "$ROOT/vm-tests/pgwire.py" "$@"; }
pgbench_vip() { timeout 60 "$LAB_SH" exec cli pgbench -n "host=$VIP port=$P user=postgres dbname=postgres" "$@" 2>&1; }
# the server connections of one pool (its clients' application_name): pgxrd's health checks are not
servers() {
	lab psql db0 -XAt -c "SELECT count(*) FROM pg_stat_activity WHERE usename = 'postgres' AND backend_type = 'client backend' AND application_name = '$1'"
}

lab psql db0 -qX >/dev/null <<'SQL'
CREATE SCHEMA txs;
CREATE TABLE txs.t (v text);
INSERT INTO txs.t VALUES ('txs');
CREATE TABLE public.t (v text);
INSERT INTO public.t VALUES ('public');
SQL
proxy_auth_postgres
reload_with enable_pool_hba=on pool_mode=transaction max_pool=1

out=$(wire tx_prepared $P 5432)
diag "two clients, one server: $out"
same "txpool: a named statement and search_path follow each client; names do not collide" \
	"$(json "[d['a_parse'], d['b_search_path'], d['b_s1'], d['a_s1'], d['a_table']]" <<<"$out")" \
	"['1Z', ['\"\$user\", public'], ['b7'], ['40'], ['txs']]"
same "txpool: ... and survive the server connection's end: re-prepared, SET again" \
	"$(json "[d['terminated'], d['a_new_server'], d['a_s1_after'], d['a_table_after'], d['b_s1_after']]" <<<"$out")" \
	"[['t'], True, ['50'], ['txs'], ['b8']]"
same "txpool: a client's Close drops its own statement, not another client's" \
	"$(json "[d['b_close'], d['b_closed_s1'], d['a_s1_last']]" <<<"$out")" "['3Z', '26000', ['60']]"
same "txpool: max_pool 1 held: one server connection" "$(servers '')" 1
out=$(wire tx_pipeline $P)
diag "pipelines: $out"
same "txpool: two names for one text in one pipeline: each client answer once, none of pgxr's" \
	"$(json "[d['two_names'], d['two_names_rows']]" <<<"$out")" "['12DCZ12DCZ', ['same', 'same']]"
same "txpool: an error between two batches ends its batch only" \
	"$(json "[d['error_between'], d['error_code']]" <<<"$out")" "['2DCZEZ2DCZ', '42601']"
same "txpool: a batch whose Sync comes later keeps its server" \
	"$(json "[d['late_sync'], d['late_sync_rows']]" <<<"$out")" "['2DCZ2DCZ', ['same', 'same']]"
same "txpool: a simple query's error, then a batch" "$(json "d['query_error_then_batch']" <<<"$out")" "EZ2DCZ"
# first come, first served: no later client (of either worker thread) passes one that waits
out=$(pyclient fifo $P 8)
diag "eight clients ask for the one server connection 50 ms apart: $out"
same "txpool: a full pool serves waiting clients in the order they asked" \
	"$(json "d['ran']" <<<"$out")" "[0, 1, 2, 3, 4, 5, 6, 7]"

reload_with max_pool=4
vip_sql $P "DROP TABLE IF EXISTS pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history" >/dev/null 2>&1
pgbench_vip -i -s 1 -q >/dev/null
# a thread per client: pgbench's PQprepare() blocks its thread, and a thread blocked on one of its
# clients while others of its clients hold the pool's connections would wait for itself
for mode in simple extended prepared; do
	out=$(pgbench_vip -M $mode -c 8 -j 8 -T 3)
	tps=$(awk '/^tps/ {print int($3)}' <<<"$out")
	check "txpool: pgbench -M $mode -c 8 over max_pool 4, no failures (tps $tps)" \
		grep -q 'number of failed transactions: 0 ' <<<"$out"
done
n=$(servers pgbench)
check "txpool: ... on at most 4 server connections ($n)" test "$n" -le 4
# a worker keeps the server connections its sessions give back in its epoll set (parked):
# a pooled transaction costs no epoll_ctl; strace counts pgxrd's over 2000 transactions
strace -f -c -e trace=epoll_ctl -o "$LAB_DIR/t320.strace" -p "$(cat "$LAB_DIR/lab-pgxrd.pid")" 2>/dev/null &
tracer=$!
sleep 1
out=$(pgbench_vip -M simple -c 1 -t 2000)
kill -INT $tracer
wait $tracer
n=$(awk '$NF == "epoll_ctl" {print $4}' "$LAB_DIR/t320.strace")
check "txpool: 2000 pooled transactions of one client, no failure" \
	grep -q 'number of failed transactions: 0 ' <<<"$out"
check "txpool: ... cost pgxrd fewer than 100 epoll_ctl (${n:-0}; two a transaction without parking)" \
	test "${n:-0}" -lt 100
# within the second a parked connection stays in its worker, SHOW pool_pools lists it
out=$(vip_sql $P "SHOW pool_pools")
parked=$(awk -F'|' '$17 == "Idle (parked)" {print $15; exit}' <<<"$out")
check "txpool: SHOW pool_pools lists the parked connection, with its server's pid (${parked:-none})" \
	test -n "$parked" -a "$(lab psql db0 -XAt -c "SELECT count(*) FROM pg_stat_activity WHERE pid = ${parked:-0}")" = 1
same "txpool: JDBC past prepareThreshold (named server statements), a batch insert" \
	"$(jdbc $P prepared)" "110 1 100"
if [ -d "$ROOT/.deps/node/node_modules/pg" ]; then
	out=$(timeout 60 "$LAB_SH" exec cli env NODE_PATH="$ROOT/.deps/node/node_modules" LAB_VIP="$VIP" \
		PGPASSWORD="$PGPASSWORD" node "$ROOT/vm-tests/pgnode.js" $P 2>&1)
	diag "node-postgres: $out"
	same "txpool: node-postgres transactions, named statements, an error, LISTEN/NOTIFY (pinned)" \
		"$(json "[d['server'], d['rows'], d['prepared_sum'], d['error'], d['after_error'], d['notification']]" <<<"$out")" \
		"['db0', [{'id': 2, 'v': 'two'}], 55, '22012', 7, 'hello']"
else
	not_ok "txpool: node-postgres is not installed in .deps/node (tools/install-deps installs it)"
fi
out=$(pyclient cancel $P)
same "txpool: cancel ends the one pg_sleep(10) with 57014; the other session's sleep runs out" \
	"$(json "[d['victim'], d['bystander'], d['victim_usable']]" <<<"$out")" "['57014', 'ok', True]"
check "txpool: ... within a second" test "$(json "d['victim_after_cancel_ms']" <<<"$out")" -lt 1000
# a cancel that arrives late (the router's SYNs to db0 dropped for a while: it connects at
# the retransmission) finds its query ended: the server connection it was meant for must not
# serve the next client meanwhile
reload_with max_pool=1
nft_t320="ip netns exec $LAB-rtr nft"
trap "$nft_t320 delete table inet t320 2>/dev/null" EXIT
$nft_t320 add table inet t320
$nft_t320 add chain inet t320 out '{ type filter hook output priority 0; }'
# the pool starts empty: the client makes its one connection, then the SYNs are dropped
lab psql db0 -XAtq -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name <> 'pgxrd'" >/dev/null
out=$(pyclient late_cancel $P \
	"$nft_t320 add rule inet t320 out ip daddr $LAB_NET.20 tcp dport 5432 'tcp flags & (syn | ack) == syn' drop" \
	"$nft_t320 flush chain inet t320 out")
$nft_t320 delete table inet t320
diag "late cancel: $out"
same "txpool: a late cancel hits no other client's query (the next one ran on another server connection)" \
	"$(json "[d['a'], d['b']]" <<<"$out")" "['ok', 'ok']"

# pins: each kind keeps its server, and SHOW says so
for stmt in "LISTEN ch320" "PREPARE q320 AS SELECT 1" "CREATE TEMP TABLE tmp320 (x int)" "SELECT pg_advisory_lock(320)"; do
	out=$(timeout 20 "$LAB_SH" exec cli psql -XAt -F'|' "host=$VIP port=$P user=postgres dbname=postgres" \
		-c "$stmt" -c "SHOW pool_processes" -c "SELECT pg_backend_pid()" -c "SELECT pg_backend_pid()" 2>&1)
	pids=$(tail -2 <<<"$out" | sort -u | wc -l)
	check "txpool: \"$stmt\" pins the session (SHOW pool_processes says why) and keeps its server ($pids pid)" \
		bash -c "grep -q 'pinned: ' <<<'$out' && [ $pids = 1 ]"
done

# a full pool: the next client waits query_wait_timeout, then hears why
reload_with max_pool=1 query_wait_timeout=1
out=$(timeout 30 "$LAB_SH" exec cli /usr/bin/python3 - "$VIP" $P <<'PYEOF'
import json, subprocess, sys, time, psycopg2
vip, port = sys.argv[1], int(sys.argv[2])
dsn = f"host={vip} port={port} user=postgres dbname=postgres application_name=t320wait"
holder = psycopg2.connect(dsn)
cur = holder.cursor()
cur.execute("SELECT 1")            # BEGIN: the transaction holds the one server connection
start = time.monotonic()
# psql says what the server said before the connection ended (psycopg2 keeps only the end)
r = subprocess.run(["psql", "-XAt", dsn, "-c", "SELECT 1"], capture_output=True, text=True)
res = {"waiter": (r.stdout + r.stderr).strip().splitlines()[0],
       "ms": int((time.monotonic() - start) * 1000)}
holder.commit()
third = psycopg2.connect(dsn)
c = third.cursor()
c.execute("SELECT 1")
res["after"] = c.fetchone()[0]
print(json.dumps(res))
PYEOF
)
diag "full pool: $out"
check "txpool: a client waits for a full pool at most query_wait_timeout, then gets an error" \
	grep -q 'FATAL:  no server connection for user .*postgres.* within query_wait_timeout (1 s)' <<<"$out"
check "txpool: ... after about a second" test "$(json "d['ms']" <<<"$out")" -ge 900
same "txpool: ... and the pool serves again once the transaction ends" "$(json "d['after']" <<<"$out")" 1

# max_pool raised while a client waits: it gets the new slot, not the held connection
reload_with max_pool=1 query_wait_timeout=20
timeout 30 "$LAB_SH" exec cli /usr/bin/python3 - "$VIP" $P >"$LAB_DIR/t320raise.out" 2>&1 <<'PYEOF' &
import json, sys, time, psycopg2
vip, port = sys.argv[1], int(sys.argv[2])
dsn = f"host={vip} port={port} user=postgres dbname=postgres application_name=t320raise"
holder, waiter = psycopg2.connect(dsn), psycopg2.connect(dsn)
waiter.autocommit = True
cur = holder.cursor()
cur.execute("SELECT 1")            # BEGIN: the transaction holds the one server connection
start = time.monotonic()
with waiter.cursor() as c:
    c.execute("SELECT pg_backend_pid() <> %s", (holder.get_backend_pid(),))
    other = c.fetchone()[0]
res = {"ms": int((time.monotonic() - start) * 1000), "other_server": other}
time.sleep(0.2)
holder.commit()
print(json.dumps(res))
PYEOF
raiser=$!
sleep 2
reload_with max_pool=2
wait $raiser
out=$(cat "$LAB_DIR/t320raise.out")
diag "max_pool raised under a waiter: $out"
same "txpool: max_pool raised while a client waits: it is served, on a new connection, within the reload" \
	"$(json "[d['other_server'], d['ms'] < 10000]" <<<"$out" 2>&1)" "[True, True]"
exit $((E2E_FAILED > 0))
