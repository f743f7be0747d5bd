#!/usr/bin/env bash
# t140_lag.sh: a standby past delay_threshold leaves the ro ring and returns when it catches up
# lab: fresh LAB_CONF_EXTRA=delay_threshold=1048576
. "$(dirname "$0")/lib.sh"

lb() { node_field "$1" load_balance_node; }
same "lag: db1 starts in the ro ring" "$(lb 1)" True
lab psql db1 -qX -c "SELECT pg_wal_replay_pause()" >/dev/null
# 8 MB of WAL that db1 receives but does not replay
lab psql db0 -qX -c "CREATE TABLE filler AS SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, 8000) g" >/dev/null
check "lag: paused db1 is found lagging" wait_for 10 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print([n['load_balance_node'] for n in json.load(sys.stdin) if n['node_id'] == 1][0])\")\" = False ]"
diag "replication_delay of db1: $(node_field 1 replication_delay) bytes"
check "lag: backend list flags it lagging" bash -c "'$LAB_SH' pgxrctl backend list | grep -E '^1 ' | grep -q lagging"
out=$(pyclient spread 5433 30)
same "lag: ro sessions avoid it" "$(echo "$out" | json "d['counts']")" "{'db2': 30}"
check "lag: the event history says it lags" bash -c "'$LAB_SH' pgxrctl event list | grep -E ' 1 ' | grep -q lagging"
lab psql db1 -qX -c "SELECT pg_wal_replay_resume()" >/dev/null
check "lag: resumed, it catches up and is back in the ro ring" wait_for 15 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print([n['load_balance_node'] for n in json.load(sys.stdin) if n['node_id'] == 1][0])\")\" = True ]"
check "lag: it came back after delay_recovery_checks (3) checks within the threshold" \
	bash -c "'$LAB_SH' pgxrctl event list | grep -E ' 1 ' | grep -q 'within the thresholds for 3 checks'"
out=$(pyclient spread 5433 60)
check "lag: it takes ro sessions again ($(echo "$out" | json "d['counts']"))" \
	test "$(echo "$out" | json "d['counts'].get('db1', 0)")" -gt 0
e2e_done
