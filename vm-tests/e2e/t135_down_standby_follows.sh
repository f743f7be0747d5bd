#!/usr/bin/env bash
# t135_down_standby_follows.sh: a standby that was down during a failover is pointed at
# the new primary when it comes back, then attached
# lab: fresh
. "$(dirname "$0")/lib.sh"

lab pg db2 stop
check "down standby: db2 is down" wait_for 10 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print([n['status'] for n in json.load(sys.stdin) if n['node_id'] == 2][0])\")\" = down ]"
lab psql db0 -qX -c "CREATE TABLE acked (id int PRIMARY KEY)" >/dev/null
writer_start t135 40
sleep 2
kill_ms=$(now_ms)
lab pg db0 kill
check "down standby: db1 becomes the primary" wait_for 15 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print([n['node_id'] for n in json.load(sys.stdin) if n['role'] == 'primary' and n['status'] == 'up'])\")\" = '[1]' ]"
lab pg db2 start
check "down standby: back, db2 is pointed at db1 and attached" wait_for 20 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print([n['status'] + ' ' + n['replication_state'] for n in json.load(sys.stdin) if n['node_id'] == 2][0])\")\" = 'up streaming' ]"
check "down standby: the event history says it follows node 1" bash -c "'$LAB_SH' pgxrctl event list | grep -E ' 2 ' | grep -q 'follows node 1'"
writer_stop t135
check_no_loss_before "down standby" "$LAB_DIR/t135.acks" "$kill_ms"
check_one_primary "down standby"
out=$(pyclient spread 5433 30)
check "down standby: it serves ro sessions ($(echo "$out" | json "d['counts']"))" \
	test "$(echo "$out" | json "d['counts'].get('db2', 0)")" -gt 0
e2e_done
