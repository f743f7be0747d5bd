#!/usr/bin/env bash
# t300_proxy.sh: VIP:9999 speaks PostgreSQL: psql, pgbench in three modes, psycopg2, JDBC,
# node-postgres, a raw client's pipelines; SHOW pool_*; cancel; limits; garbage under load
# lab: fresh
. "$(dirname "$0")/lib.sh"

P=9999
pid=$(cat "$LAB_DIR/lab-pgxrd.pid")
wire() { timeout "${WIRE_TIMEOUT:-30}" "$LAB_SH" exec cli /usr/bin/python3 "$ROOT/vm-tests/pgwire.py" "$@"; }
pgbench_vip() { timeout 60 "$LAB_SH" exec cli pgbench -n "host=$VIP port=$P user=postgres dbname=postgres" "$@" 2>&1; }
rss_kb() { ps -o rss= -p "$pid" | tr -d ' '; }

check "proxy: pgxrd logs the listener" grep -q "proxy listening on \* port $P" "$LAB_DIR/pgxrd.log"
same "proxy: psql through VIP:$P reaches the primary" "$(vip_sql $P "SELECT current_setting('cluster_name')")" db0

# pgpool's SHOW commands, as psql prints them
out=$(timeout 20 "$LAB_SH" exec cli psql -XA -F'|' "host=$VIP port=$P user=postgres dbname=postgres" -c "show pool_nodes")
same "proxy: SHOW pool_nodes has pgpool 4.4's columns, in order" "$(head -1 <<<"$out")" \
	"node_id|hostname|port|status|pg_status|lb_weight|role|pg_role|select_cnt|load_balance_node|replication_delay|replication_state|replication_sync_state|last_status_change"
same "proxy: SHOW pool_nodes has a row per node" "$(grep -c '^[0-9]|' <<<"$out")" 3
check "proxy: node 0 is the primary, up" grep -q "^0|$LAB_NET.20|5432|up|up|[0-9.]*|primary|primary|" <<<"$out"
check "proxy: node 1 streams" grep -q "^1|$LAB_NET.21|5432|up|up|[0-9.]*|standby|standby|[0-9]*|true|[0-9]*|streaming|async|" <<<"$out"
same "proxy: SHOW pool_version, any case, with a semicolon" \
	"$(vip_sql $P "Show POOL_VERSION ;")" "$("$ROOT/pgxrd" --version | awk '{print $2}') (pgxr)"
out=$(vip_sql $P "SHOW pool_cache" 2>&1)
check "proxy: a pgpool SHOW pgxr lacks is a clear error ($out)" grep -q 'SHOW pool_cache is not supported by pgxr' <<<"$out"
out=$(vip_sql $P "SHOW pool_nonsense" 2>&1)
check "proxy: any other SHOW is PostgreSQL's ($out)" grep -q 'unrecognized configuration parameter "pool_nonsense"' <<<"$out"
same "proxy: an ordinary SHOW goes to the server" "$(vip_sql $P "SHOW cluster_name")" db0

# drivers
vip_sql $P "DROP TABLE IF EXISTS pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history" >/dev/null 2>&1
pgbench_vip -i -s 1 -q >/dev/null
for mode in simple extended prepared; do
	out=$(pgbench_vip -M $mode -c 8 -j 2 -T 3)
	tps=$(awk '/^tps/ {print int($3)}' <<<"$out")
	check "proxy: pgbench -M $mode -c 8 runs without failures (tps $tps)" \
		grep -q 'number of failed transactions: 0 ' <<<"$out"
done
out=$(pyclient proxy $P)
diag "psycopg2: $out"
same "proxy: psycopg2 COPY FROM STDIN, COPY TO STDOUT, errors, notices, ParameterStatus" \
	"$(json "[d['copy_in'], d['copy_out_same'], d['copy_error'], d['notice'], d['parameter_status'], d['server']]" <<<"$out")" \
	"[[20000, 199990000], True, '22P02', True, 'pgxr-proxy-test', 'db0']"
same "proxy: JDBC reaches the primary" "$(jdbc $P)" "db0 false $LAB_NET.2"
same "proxy: JDBC past prepareThreshold uses a named server statement; a batch insert" \
	"$(jdbc $P prepared)" "110 1 100"
if [ -d "$ROOT/.deps/node/node_modules/pg" ]; then
	out=$(timeout 60 "$LAB_SH" exec cli env NODE_PATH="$ROOT/.deps/node/node_modules" LAB_VIP="$VIP" \
		PGPASSWORD="$PGPASSWORD" node "$ROOT/vm-tests/pgnode.js" $P 2>&1)
	diag "node-postgres: $out"
	same "proxy: node-postgres transactions, named statements, an error, LISTEN/NOTIFY" \
		"$(json "[d['server'], d['rows'], d['prepared_sum'], d['prepared_on_server'], d['error'], d['after_error'], d['notification']]" <<<"$out")" \
		"['db0', [{'id': 2, 'v': 'two'}], 55, 1, '22012', 7, 'hello']"
else
	not_ok "proxy: node-postgres is not installed in .deps/node (tools/install-deps installs it)"
fi
out=$(wire pipeline $P)
diag "pipeline: $out"
same "proxy: a pipeline with an error in its middle: rows, the error, then skipped to Sync" \
	"$(json "[d['first_rows'], d['first_error'], d['first_types'], d['second_rows'], d['third_types'], d['closed_error'], d['after'], d['function_call']]" <<<"$out")" \
	"[['42'], '22012', '12DC1EZ', ['2'], '3Z', '26000', ['after'], [5]]"
out=$(wire negotiate $P)
same "proxy: a 3.2 client with a _pq_ option gets NegotiateProtocolVersion 3.0 first" \
	"$(json "[d['types'][0], d['version'], d['options'], d['rows']]" <<<"$out")" \
	"['v', '3.0', ['_pq_.test_option'], ['1']]"
out=$(wire copy_extended $P)
diag "copy through the extended protocol: $out"
same "proxy: COPY FROM STDIN by Parse/Bind/Execute/Sync, then SHOW pool_version is still pgxr's" \
	"$(json "[d['start'][-1], d['done'], d['count'], d['show_error']]" <<<"$out")" "['G', 'CZ', ['3'], None]"
check "proxy: ... with the version" grep -q '(pgxr)' <<<"$(json "d['show']" <<<"$out")"
out=$(wire key $P)
same "proxy: BackendKeyData carries the server's own pid (pg_backend_pid() agrees)" \
	"$(json "d['key_pid'] == d['backend_pid']" <<<"$out")" True
vip_sql $P "CREATE TABLE IF NOT EXISTS pgwire_marks (m text)" >/dev/null
wire insert_close $P t300-mark >/dev/null
check "proxy: an INSERT sent with Terminate just before the client closes still runs, as on PostgreSQL" \
	wait_for 5 bash -c "[ \"\$('$LAB_SH' psql db0 -XAt -c \"SELECT count(*) FROM pgwire_marks WHERE m = 't300-mark'\")\" = 1 ]"
out=$(wire startup_error $P replication=of)
same "proxy: replication=of is false to PostgreSQL, so a normal session" "$(json "[d['error'], d['types'][-1]]" <<<"$out")" "[None, 'Z']"
same "proxy: sslmode=prefer falls back to plain text" \
	"$(timeout 20 "$LAB_SH" exec cli psql -XAt "host=$VIP port=$P user=postgres dbname=postgres sslmode=prefer" -c "SELECT 1")" 1

# cancel: the one query, at once, nothing else
out=$(pyclient cancel $P)
diag "cancel: $out"
same "proxy: a cancelled pg_sleep(10) ends with 57014; the other session's sleep runs out" \
	"$(json "[d['victim'], d['bystander'], d['victim_usable']]" <<<"$out")" "['57014', 'ok', True]"
check "proxy: the cancel took effect within a second" \
	test "$(json "d['victim_after_cancel_ms']" <<<"$out")" -lt 1000

# authentication passes through: PostgreSQL's own errors
out=$(wire startup_error $P password=wrong)
same "proxy: a wrong password is PostgreSQL's 28P01, then the connection closes" \
	"$(json "[d['error']['code'], d['closed']]" <<<"$out")" "['28P01', True]"
out=$(wire startup_error $P replication=database)
same "proxy: a replication connection is refused with 0A000" "$(json "d['error']['code']" <<<"$out")" 0A000
check "proxy: ... and told where to go" grep -q 'connect to the primary itself' <<<"$out"

# big rows and a client that does not read: memory stays bounded
rss0=$(rss_kb)
out=$(WIRE_TIMEOUT=120 wire big $P 200)
same "proxy: a 200 MB DataRow passes whole" "$(json "d['ok']" <<<"$out")" True
wire stall $P 300 4 >"$LAB_DIR/stall.json" &
stall=$!
sleep 2.5
rss1=$(rss_kb)
same "proxy: a client that stops reading leaves the server blocked in ClientWrite" \
	"$(lab psql db0 -XAt -c "SELECT wait_event FROM pg_stat_activity WHERE query LIKE 'SELECT repeat%'")" ClientWrite
wait $stall
same "proxy: ... and gets all 300 MB once it reads" "$(json "d['rows']" <"$LAB_DIR/stall.json")" 300
diag "pgxrd RSS: $rss0 kB before, $rss1 kB with 300 MB held back by one client"
check "proxy: pgxrd's RSS grew by less than 8 MB" test $((rss1 - rss0)) -lt 8192

# a client that sends SHOW pool_nodes over and over and reads nothing: one answer is held
rss0=$(rss_kb)
FLOOD_HOLD=3 wire show_flood $P 20000 >"$LAB_DIR/flood.json" &
flood=$!
sleep 4
rss1=$(rss_kb)
wait $flood
diag "SHOW flood: $(tr '\n' ' ' <"$LAB_DIR/flood.json"); pgxrd RSS $rss0 kB before, $rss1 kB while held"
check "proxy: 20000 unread SHOW pool_nodes grow pgxrd's RSS by less than 8 MB" test $((rss1 - rss0)) -lt 8192
same "proxy: ... and all 20000 are answered once the client reads" \
	"$(tail -1 "$LAB_DIR/flood.json" | json "d['answers']")" 20000

# limits, applied by a reload
reload_with max_connections=3
pyclient hold $P 4 4 >"$LAB_DIR/hold.json" &
holder=$!
sleep 3
# the listener's keepalive, which accepted sockets inherit: a client that vanishes is noticed
ka=$(lab exec rtr ss -tnoH state established "( sport = :$P )")
check "proxy: client connections have TCP keepalive, set on the listener ($(head -1 <<<"$ka"))" \
	test "$(grep -c 'timer:(keepalive,' <<<"$ka")" -ge 3
out=$(head -1 "$LAB_DIR/hold.json")
diag "hold: $out"
same "proxy: max_connections 3 admits three sessions" "$(json "d['open']" <<<"$out")" 3
check "proxy: the fourth gets 'sorry, too many clients already'" grep -q 'sorry, too many clients already' <<<"$out"
wait $holder
same "proxy: the slots come back when those sessions end" "$(vip_sql $P "SELECT 1")" 1
reload_with max_connections=1000 authentication_timeout=2 client_idle_limit=2

# garbage while pgbench runs on other sessions
pgbench_vip -M extended -c 4 -j 2 -T 8 >"$LAB_DIR/pgbench-garbage.out" &
bench=$!
sleep 1
for g in bytes huge http badtype badlen; do
	out=$(wire garbage $P $g)
	same "proxy: garbage '$g' ends that connection with 08P01 at once" \
		"$(json "[d['error'], d['closed_ms'] < 1000]" <<<"$out")" "['08P01', True]"
done
out=$(wire garbage $P half)
ms=$(json "d['closed_ms']" <<<"$out")
check "proxy: half a startup packet, then silence: closed after authentication_timeout 2 s ($ms ms)" \
	test "$ms" -ge 1900 -a "$ms" -lt 3500
out=$(wire garbage $P halfmsg)
ms=$(json "d['closed_ms']" <<<"$out")
same "proxy: half a message after startup, then silence: 57P05 after client_idle_limit" \
	"$(json "d['error']" <<<"$out")" 57P05
check "proxy: ... within 2 to 3.5 s ($ms ms)" test "$ms" -ge 1900 -a "$ms" -lt 3500
rss0=$(rss_kb)
for i in $(seq 1 20); do
	pids=()
	for g in bytes huge badtype; do
		wire garbage $P $g >/dev/null &
		pids+=($!)
	done
	wait "${pids[@]}"
done
rss1=$(rss_kb)
diag "pgxrd RSS: $rss0 kB before, $rss1 kB after 60 garbage connections"
check "proxy: 60 garbage connections leave pgxrd's RSS within 2 MB" test $((rss1 - rss0)) -lt 2048
wait $bench
check "proxy: pgbench on other sessions had no failure meanwhile" \
	grep -q 'number of failed transactions: 0 ' "$LAB_DIR/pgbench-garbage.out"
reload_with client_idle_limit=0 authentication_timeout=60

# a backend that goes away under a session
out=$(wire terminated $P)
diag "terminated: $out"
same "proxy: a terminated backend: the client hears PostgreSQL's FATAL 57P01, then EOF, nothing else" \
	"$(json "[d['killed'], d['types'], d['code']]" <<<"$out")" "[['t'], 'E-', '57P01']"
same "proxy: other sessions go on" "$(vip_sql $P "SELECT 1")" 1
e2e_done
