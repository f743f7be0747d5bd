#!/usr/bin/env bash
# t145_lag_by_time.sh: a standby more than delay_threshold_by_time behind (replay_lag) leaves
# the ro ring and returns when it catches up
# lab: fresh LAB_CONF_EXTRA=delay_threshold_by_time=1000
. "$(dirname "$0")/lib.sh"

lb() { node_field "$1" load_balance_node; }
lb_is() { [ "$(lb "$1")" = "$2" ]; }
same "lag by time: db1 starts in the ro ring" "$(lb 1)" True
lab psql db0 -qX -c "CREATE TABLE ticks (at timestamptz)" >/dev/null
lab psql db1 -qX -c "SELECT pg_wal_replay_pause()" >/dev/null
# a commit every 0.2 s: little WAL, but db1 replays none of it
(for _ in $(seq 60); do
	lab psql db0 -qX -c "INSERT INTO ticks VALUES (now())" >/dev/null 2>&1
	sleep 0.2
done) &
ticker=$!
check "lag by time: paused db1 leaves the ro ring" wait_for 10 lb_is 1 False
check "lag by time: the event names the time" bash -c "'$LAB_SH' pgxrctl event list | grep -E ' 1 ' | grep -q 'ms behind (delay_threshold 0 bytes, 1000 ms)'"
same "lag by time: db2 stays in the ro ring" "$(lb 2)" True
out=$(pyclient spread 5433 30)
same "lag by time: ro sessions avoid db1" "$(echo "$out" | json "d['counts']")" "{'db2': 30}"
lab psql db1 -qX -c "SELECT pg_wal_replay_resume()" >/dev/null
check "lag by time: resumed, db1 is back in the ro ring" wait_for 15 lb_is 1 True
kill "$ticker" 2>/dev/null
wait "$ticker" 2>/dev/null
e2e_done
