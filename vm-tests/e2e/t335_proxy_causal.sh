#!/usr/bin/env bash
# t335_proxy_causal.sh: disable_load_balance_on_write = causal: the standbys apply WAL 200 ms
# late; a session's read right after its own commit runs on a standby only once that standby
# replayed the commit, else on the primary after causal_read_timeout.  With off the same
# rounds read stale rows, so the checks can fail.  Both pool modes, both protocols, and a
# standby stopped under the rounds.
# lab: fresh
. "$(dirname "$0")/lib.sh"

P=9999
# causal_py N ROUNDS TABLE: N psycopg2 sessions insert a row then read it back, ROUNDS times
causal_py() { timeout 150 "$LAB_SH" exec cli /usr/bin/python3 "$ROOT/vm-tests/pgclient.py" causal $P "$@"; }
# causal_ext ROUNDS TABLE BASE: the same over the extended protocol, named statements
causal_ext() { timeout 150 "$LAB_SH" exec cli /usr/bin/python3 "$ROOT/vm-tests/pgwire.py" causal $P "$@"; }
# field JSON KEY: a number of a causal run's summary; reads NODE: its reads answered by NODE
field() { json "d['$2']" <<<"$1"; }
reads() { json "d['nodes'].get('$2', 0)" <<<"$1"; }
errors() { json "','.join(sorted(d['errors'])) or 'none'" <<<"$1"; }
# both NAME COND1 COND2: ok when both test expressions (strings for [ ]) hold
both() { if eval "[ $2 ]" && eval "[ $3 ]"; then ok "$1"; else not_ok "$1"; fi; }
scratch_out=$(mktemp /tmp/t335.XXXXXX)
trap 'rm -f "$scratch_out"' EXIT

for n in 1 2; do
	lab psql "db$n" -XAtq -c "ALTER SYSTEM SET recovery_min_apply_delay = '200ms'" \
		-c "SELECT pg_reload_conf()" >/dev/null
done
for t in off_py off_ext on_py on_ext short sess sess_short kill reuse; do
	lab psql db0 -XAtq -c "CREATE TABLE causal_$t (id bigint PRIMARY KEY)" >/dev/null
done
proxy_auth_postgres
# reads on the standbys only (weight 0 on the primary): a read on db0 is the causal fallback
reload_with enable_pool_hba=on pool_mode=transaction max_pool=8 load_balance_mode=on \
	statement_level_load_balance=on backend_weight0=0 backend_weight1=1 backend_weight2=1 \
	disable_load_balance_on_write=off
wait_for 10 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c 'import json,sys; print(sum(n[\"load_balance_node\"] for n in json.load(sys.stdin)))')\" = 2 ]" ||
	diag "the standbys are not both read nodes"
# the first read that calls a function makes pgxrd fetch the database's function list: until
# then it goes to the primary
read_on_standby() { [ "$(vip_sql $P "SELECT current_setting('cluster_name')")" != db0 ]; }
wait_for 10 read_on_standby || diag "reads that call current_setting() stay on the primary"

# off: a read right after the commit runs on a standby that has not applied it yet
out=$(causal_py 10 10 causal_off_py)
diag "off, simple protocol: $out"
check "off: reads right after a commit see the standbys' state from before it ($(field "$out" stale) of 100 stale)" \
	[ "$(field "$out" stale)" -gt 0 ]
out=$(causal_ext 20 causal_off_ext 0)
diag "off, extended protocol: $out"
check "off, extended protocol: stale reads too ($(field "$out" stale) of 20)" [ "$(field "$out" stale)" -gt 0 ]

# causal: 1,000 rounds from 10 sessions, each read waits on a standby for its replay
reload_with disable_load_balance_on_write=causal causal_read_timeout=3000
out=$(causal_py 10 100 causal_on_py)
diag "causal, simple protocol: $out"
same "causal: 1,000 insert-then-read rounds, none failed" "$(field "$out" rounds)/$(errors "$out")" "1000/none"
same "causal: no stale read" "$(field "$out" stale)" 0
both "causal: the reads ran on the standbys, both ($(reads "$out" db1) on db1, $(reads "$out" db2) on db2, $(reads "$out" db0) on the primary)" \
	"$(reads "$out" db1) -gt 100 -a $(reads "$out" db2) -gt 100" "$(reads "$out" db0) -le 50"
out=$(causal_ext 60 causal_on_ext 0)
diag "causal, extended protocol: $out"
same "causal, extended protocol with named statements: 60 rounds, none stale" \
	"$(field "$out" rounds)/$(field "$out" stale)/$(errors "$out")" "60/0/none"
check "causal, extended protocol: the reads ran on the standbys" \
	[ "$(($(reads "$out" db1) + $(reads "$out" db2)))" -ge 55 ]

# a client that leaves right after its write: the primary is still being asked its position, and
# the connection goes back to the pool all the same (each INSERT ran by one of few server pids)
lab psql db0 -XAtq -c "ALTER SYSTEM SET log_statement = 'mod'" -c "SELECT pg_reload_conf()" >/dev/null
for i in $(seq 20); do vip_sql $P "INSERT INTO causal_reuse VALUES ($i) -- mk_reuse" >/dev/null; done
pids=$(grep -a "mk_reuse" "$LAB_DIR/db0/postgresql.log" | grep -o "\[[0-9]*\]" | sort -u | wc -l)
check "causal: 20 clients that each write and leave reuse the pooled server connections ($pids server processes ran them)" \
	[ "$pids" -le 4 ]
lab psql db0 -XAtq -c "ALTER SYSTEM RESET log_statement" -c "SELECT pg_reload_conf()" >/dev/null

# short_timeout MODE TABLE ROUNDS: with a causal_read_timeout shorter than the replay delay, the
# read gives up on the standby and the primary answers each of 5 sessions' ROUNDS reads
short_timeout() {
	reload_with causal_read_timeout=50
	out=$(causal_py 5 "$3" "$2")
	diag "causal, $1, causal_read_timeout 50 ms: $out"
	same "causal, $1, a timeout shorter than the delay: no stale read, every read on the primary" \
		"$(field "$out" stale)/$(reads "$out" db0)/$(errors "$out")" "0/$((5 * $3))/none"
}
short_timeout "transaction pooling" causal_short 20

# session pooling: the session's own connections, the same rule
reload_with pool_mode=session causal_read_timeout=3000
out=$(causal_py 10 20 causal_sess)
diag "causal, session pooling: $out"
same "causal, session pooling: 200 rounds, none stale" \
	"$(field "$out" rounds)/$(field "$out" stale)/$(errors "$out")" "200/0/none"
check "causal, session pooling: the reads ran on the standbys" \
	[ "$(($(reads "$out" db1) + $(reads "$out" db2)))" -ge 190 ]
short_timeout "session pooling" causal_sess_short 10

# a standby stopped under the rounds: a read it was running fails (57P01), one waiting for its
# replay goes elsewhere; the sessions go on and no read is stale
reload_with pool_mode=transaction causal_read_timeout=3000
causal_py 10 60 causal_kill >"$scratch_out" 2>&1 &
pid=$!
sleep 4
lab pg db2 stop >/dev/null
wait "$pid"
out=$(cat "$scratch_out")
diag "causal, db2 stopped: $out"
both "causal, a standby stopped: no stale read, only 57P01 errors ($(errors "$out")), every round done or failed" \
	"$(field "$out" stale) = 0 -a $(json "d['rounds'] + sum(d['errors'].values())" <<<"$out") = 600" \
	"$(json "int(set(d['errors']) <= {'57P01'})" <<<"$out") = 1"
