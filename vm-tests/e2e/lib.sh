# vm-tests/e2e/lib.sh: helpers for the lab tests; every check prints one TAP line
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB_SH=$ROOT/vm-tests/lab
LAB=${LAB:-pgxr}
LAB_NET=${LAB_NET:-10.77.0}
LAB_DIR=${LAB_DIR:-/tmp/$LAB-lab}
if [ "${LAB_FAMILY:-4}" = 6 ]; then
	# written as PostgreSQL and iproute2 write them back (fd00:10:77::10)
	read -r VIP CLIENT_IP < <(/usr/bin/python3 -c 'import ipaddress, sys
print(*(ipaddress.ip_address(a) for a in sys.argv[1:]))' "fd00:${LAB_NET//./:}::100" "fd00:${LAB_NET//./:}::10")
else
	VIP=$LAB_NET.100
	CLIENT_IP=$LAB_NET.10
fi
export PGPASSWORD=${PGPASSWORD:-pgxr-lab} LAB_VIP=$VIP

# failures of this script, for its exit status
E2E_FAILED=0

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; E2E_FAILED=$((E2E_FAILED + 1)); }
diag() { printf '# %s\n' "$*"; }
# check NAME COMMAND...: ok when COMMAND succeeds
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}
# same NAME GOT WANT
same() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1: got '$2', want '$3'"; fi
}

lab() { "$LAB_SH" "$@"; }
# reload_with KEY=VALUE...: sets each key in the lab's pgxr.conf, then reloads pgxrd
reload_with() {
	local k conf=$LAB_DIR/pgxr.conf
	for k in "$@"; do
		sed -i "/^${k%%=*} = /d" "$conf"
		echo "${k%%=*} = ${k#*=}" >>"$conf"
	done
	ctl reload >/dev/null
}
ctl() { "$LAB_SH" pgxrctl "$@"; }
# psql from the client to VIP:PORT, unaligned tuples only
vip_sql() {
	local port=$1
	shift
	timeout 20 "$LAB_SH" exec cli psql -XAt -v ON_ERROR_STOP=1 \
		"host=$VIP port=$port user=postgres dbname=postgres connect_timeout=5" -c "$*"
}
pyclient() { timeout 60 "$LAB_SH" exec cli /usr/bin/python3 "$ROOT/vm-tests/pgclient.py" "$@"; }
# vip_file PORT FILE: psql runs FILE against VIP:PORT, errors and all, as it goes on after them
vip_file() {
	timeout 30 "$LAB_SH" exec cli psql -XAt "host=$VIP port=$1 user=postgres dbname=postgres" -f "$2" 2>&1
}
# jdbc PORT [ARGS]: vm-tests/PgxrJdbc.java against VIP:PORT
jdbc() { timeout 60 "$LAB_SH" exec cli java -cp /usr/share/java/postgresql.jar "$ROOT/vm-tests/PgxrJdbc.java" "$VIP" "$@" 2>&1; }
# idle_in_tx NODE: its sessions idle in a transaction
idle_in_tx() { lab psql "$1" -XAt -c "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'"; }
# the proxy authenticates postgres itself: pool_passwd in clear text, scram-sha-256 from anywhere
proxy_auth_postgres() {
	echo "postgres:TEXT$PGPASSWORD" >"$LAB_DIR/pool_passwd"
	echo "host all all 0.0.0.0/0 scram-sha-256" >"$LAB_DIR/pool_hba.conf"
}
# replicated NODE TABLE COUNT: waits up to 10 s for NODE's TABLE to hold COUNT rows
replicated() {
	wait_for 10 bash -c "[ \"\$('$LAB_SH' psql $1 -XAt -c 'SELECT count(*) FROM $2' 2>/dev/null)\" = $3 ]" ||
		diag "$2 did not reach $1"
}
# statements logged on every node (log_statement = all), for where(); statement_log off undoes it
statement_log() {
	local n set=${1:-all}
	for n in 0 1 2; do
		if [ "$set" = off ]; then
			lab psql "db$n" -XAtq -c "ALTER SYSTEM RESET log_statement" -c "SELECT pg_reload_conf()" >/dev/null
		else
			lab psql "db$n" -XAtq -c "ALTER SYSTEM SET log_statement = '$set'" -c "SELECT pg_reload_conf()" >/dev/null
		fi
	done
}
# on_node N MARK: how many statements of node N's log carry MARK
on_node() { grep -c -- "$2" "$LAB_DIR/db$1/postgresql.log" || true; }
# where MARK ran: "n0 n1 n2" counts
where() { echo "$(on_node 0 "$1") $(on_node 1 "$1") $(on_node 2 "$1")"; }
# ran_at MARK: primary or standby, where the statements carrying MARK ran, else the counts
ran_at() {
	local n0 n1 n2
	read -r n0 n1 n2 <<<"$(where "$1")"
	if [ "$n0" -ge 1 ] && [ "$n1" = 0 ] && [ "$n2" = 0 ]; then echo primary
	elif [ "$n0" = 0 ] && [ $((n1 + n2)) -ge 1 ]; then echo standby
	else echo "db0:$n0 db1:$n1 db2:$n2"; fi
}
# json EXPR: evaluates a Python expression over the JSON document on stdin (as d)
json() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# the conns counter of backend ID
backend_conns() { ctl -j backend list | json "[b['conns'] for b in d if b['id'] == $1][0]"; }

# long-lived sessions: session_open NAME PORT, then session_who NAME
declare -A E2E_IN E2E_OUT E2E_PID
# (session_open NAME PORT idle: without keepalives, silent between commands)
session_open() {
	local name=$1 port=$2 fifo_in fifo_out
	fifo_in=$(mktemp -u "$LAB_DIR/in.XXXXXX")
	fifo_out=$(mktemp -u "$LAB_DIR/out.XXXXXX")
	mkfifo "$fifo_in" "$fifo_out"
	"$LAB_SH" exec cli /usr/bin/python3 "$ROOT/vm-tests/pgclient.py" session "$port" ${3:-} \
		<"$fifo_in" >"$fifo_out" 2>&1 &
	E2E_PID[$name]=$!
	exec {fd_in}>"$fifo_in" {fd_out}<"$fifo_out"
	E2E_IN[$name]=$fd_in
	E2E_OUT[$name]=$fd_out
	rm -f "$fifo_in" "$fifo_out"
}
session_who() {
	local name=$1 line
	echo who >&"${E2E_IN[$name]}" || { echo "error - session gone"; return; }
	if read -r -t 15 line <&"${E2E_OUT[$name]}"; then echo "$line"; else echo "error - no answer in 15 s"; fi
}
session_close() {
	local name=$1 fi=${E2E_IN[$1]} fo=${E2E_OUT[$1]}
	echo quit >&"$fi" 2>/dev/null || true
	exec {fi}>&- {fo}<&-
	wait "${E2E_PID[$name]}" 2>/dev/null || true
}

e2e_done() { exit $((E2E_FAILED > 0)); }

# pgxrd's view, from its control socket
node_field() { ctl -j node list | json "[n['$2'] for n in d if n['node_id'] == $1][0]"; }
primary_id() { ctl -j node list | json "([n['node_id'] for n in d if n['role'] == 'primary' and n['status'] == 'up'] + [-1])[0]"; }
# wait_for SECONDS COMMAND...: polls every 0.2 s until COMMAND succeeds; WAITED holds the seconds
wait_for() {
	local limit=$1 start=$SECONDS
	shift
	while [ $((SECONDS - start)) -le "$limit" ]; do
		if "$@" >/dev/null 2>&1; then
			WAITED=$((SECONDS - start))
			return 0
		fi
		sleep 0.2
	done
	return 1
}
now_ms() { date +%s%3N; }
# from a writer's file: the first failed write after a time (epoch ms)...
first_fail_after() { awk -v t="$2" '$1 == "fail" && $2 >= t { print $2; exit }' "$1"; }
# ...and the first acknowledged write after that
first_ack_after() { awk -v t="$2" '$1 == "ok" && $3 >= t { print $3; exit }' "$1"; }


# --- HA checks under load: a writer records every acknowledged commit and who acknowledged it
# writer_start NAME SECONDS [PORT [FIRST]]: inserts through VIP:PORT (5432) into acked (create
# it first) into $LAB_DIR/NAME.acks, ids from FIRST (1) on
writer_start() {
	pyclient writer "${3:-5432}" "$2" "$LAB_DIR/$1.acks" ${4:-} >"$LAB_DIR/$1.writer" 2>&1 &
	WRITER_PID=$!
}
writer_wait() { wait "$WRITER_PID" 2>/dev/null; diag "writer: $(cat "$LAB_DIR/$1.writer")"; }
# writer_stop NAME: ends the writer now
writer_stop() { touch "$LAB_DIR/$1.acks.stop"; writer_wait "$1"; }
# wal_noise_start NAME SECONDS: every primary among the nodes writes WAL every 10 ms, also
# once it refuses writes (as checkpoints and autovacuum do); wal_noise_stop NAME ends it
wal_noise_start() {
	local hosts=() i
	for i in $(seq 0 "${LAB_STANDBYS:-2}"); do hosts+=("$LAB_NET.$((20 + i))"); done
	pyclient walnoise 5432 "$2" "$LAB_DIR/$1.noise" "${hosts[@]}" >"$LAB_DIR/$1.noise.out" 2>&1 &
	NOISE_PID=$!
}
wal_noise_stop() {
	touch "$LAB_DIR/$1.noise.stop"
	wait "$NOISE_PID" 2>/dev/null
	diag "WAL noise, messages written per node: $(cat "$LAB_DIR/$1.noise.out")"
}
# acked_missing FILE NODE: how many commits acknowledged in FILE are not in table acked on NODE
acked_missing() {
	awk '$1 == "ok" { print $2 }' "$1" | lab psql "db$2" -XAtq -c "CREATE TEMP TABLE ids (id int)" \
		-c "COPY ids FROM STDIN" -c "SELECT count(*) FROM ids LEFT JOIN acked USING (id) WHERE acked.id IS NULL"
}
# check_no_loss NAME FILE: every commit acknowledged in FILE is on the routed primary
check_no_loss() {
	local p total missing
	p=$(primary_id)
	total=$(awk '$1 == "ok"' "$2" | wc -l)
	missing=$(acked_missing "$2" "$p")
	check "$1: none of $total acknowledged commits is missing on the primary, node $p ($missing missing)" \
		test "$total" -gt 0 -a "$missing" = 0
}
# check_no_loss_before NAME FILE KILL_MS: with asynchronous replication a crash may lose what
# the dying primary acknowledged as it died (its walsenders die with it): every commit
# acknowledged before the kill is on the routed primary; the few after it are counted
check_no_loss_before() {
	local p total missing late lost
	p=$(primary_id)
	awk -v t="$3" '$1 == "ok" && $3 < t' "$2" >"$2.before"
	total=$(wc -l <"$2.before")
	missing=$(acked_missing "$2.before" "$p")
	late=$(awk -v t="$3" '$1 == "ok" && $3 >= t && $4 == old' old="$(awk -v t="$3" '$1 == "ok" && $3 < t { s = $4 } END { print s }' "$2")" "$2" | tee "$2.late" | wc -l)
	lost=$([ "$late" -gt 0 ] && acked_missing "$2.late" "$p" || echo 0)
	diag "$1: the dying primary acknowledged $late commits after the kill; $lost of them reached no standby before it died (asynchronous replication)"
	check "$1: none of $total commits acknowledged before the kill is missing on the primary, node $p ($missing missing)" \
		test "$total" -gt 0 -a "$missing" = 0
}
# check_one_primary NAME: pgxrd, the backends map and the rw ring route one primary, and VIP:5432 writes there
check_one_primary() {
	local p map ring vip
	p=$(primary_id)
	map=$(ctl -j backend list | json "[b['id'] for b in d if b['state'] == 'up' and b['role'] == 'primary']")
	ring=$(ctl -j service list | json "[b['id'] for s in d if s['kind'] == 'rw' for b in s['backends']]")
	vip=$(vip_sql 5432 "SELECT current_setting('cluster_name') || ' ' || pg_is_in_recovery()")
	same "$1: one routed primary (pgxrd's view, backends map, rw ring, VIP:5432)" "$p $map $ring $vip" "$p [$p] [$p] db$p false"
}
# kill_primary_under_writer NAME LABEL: kill -9 of db0 while a writer inserts through VIP:5432
# (table acked is made here): a standby takes over and acknowledges writes, none acknowledged
# before the kill is missing, one primary is routed
kill_primary_under_writer() {
	local acks=$LAB_DIR/$1.acks kill_ms new first
	lab psql db0 -qX -c "CREATE TABLE acked (id int PRIMARY KEY)" >/dev/null
	writer_start "$1" 14
	sleep 3
	kill_ms=$(now_ms)
	lab pg db0 kill
	writer_wait "$1"
	new=$(primary_id)
	first=$(first_ack_by "$acks" "db$new" "$kill_ms")
	check "$2: the new primary (node $new) acknowledges writes through VIP:5432" test -n "$first"
	diag "kill -9 at $kill_ms; first commit acknowledged by db$new +$((${first:-0} - kill_ms)) ms"
	check_no_loss_before "$2 failover" "$acks" "$kill_ms"
	check_one_primary "$2 failover"
}
# first_ack_by FILE SERVER AFTER: epoch ms of the first commit SERVER acknowledged at or after AFTER
first_ack_by() { awk -v s="$2" -v t="$3" '$1 == "ok" && $4 == s && $3 >= t { print $3; exit }' "$1"; }
# acks_by FILE SERVER AFTER: how many commits SERVER acknowledged at or after AFTER
acks_by() { awk -v s="$2" -v t="$3" '$1 == "ok" && $4 == s && $3 >= t { n++ } END { print n + 0 }' "$1"; }
# router_blocked_at NODE TABLE: NODE's namespace drops the router's packets to PostgreSQL
# (pgxrd's checks); clients' packets, which keep their own address, still pass
router_blocked_at() {
	lab exec "$1" nft add table inet "$2"
	lab exec "$1" nft add chain inet "$2" in '{ type filter hook input priority 0; }'
	lab exec "$1" nft add rule inet "$2" in ip saddr "$LAB_NET.2" tcp dport 5432 drop
}
