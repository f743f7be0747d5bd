#!/usr/bin/env bash
# t170_restart_failover.sh: pgxrd dies with the primary: the restarted pgxrd finds the
# primary gone from what it pinned and fails over; a fence survives restarts too
# lab: fresh
. "$(dirname "$0")/lib.sh"

lab psql db0 -qX -c "CREATE TABLE acked (id int PRIMARY KEY)" >/dev/null
writer_start t170 30
sleep 2
kill -KILL "$(cat "$LAB_DIR/lab-pgxrd.pid")"
rm -f "$LAB_DIR/lab-pgxrd.pid"
kill_ms=$(now_ms)
lab pg db0 kill
sleep 0.5
lab pgxrd start
check "restart: the restarted pgxrd promotes a standby" wait_for 15 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print([n['node_id'] for n in json.load(sys.stdin) if n['role'] == 'primary' and n['status'] == 'up'])\")\" != '[]' ]"
new=$(primary_id)
check "restart: it is a standby of before (node $new)" test "$new" = 1 -o "$new" = 2
same "restart: VIP:5432 reaches it" "$(vip_sql 5432 "SELECT current_setting('cluster_name') || ' ' || pg_is_in_recovery()")" "db$new false"
check "restart: the failover is in the event history" bash -c "'$LAB_SH' pgxrctl event list | grep -q 'primary was not reachable at start'"
check "restart: the new primary acknowledges writes" wait_for 10 bash -c "grep -q ' db$new\$' '$LAB_DIR/t170.acks'"
writer_stop t170
check_no_loss_before "restart" "$LAB_DIR/t170.acks" "$kill_ms"
check_one_primary "restart"
# the old primary comes back and pgxrd restarts: the pinned fence holds
lab pg db0 start
lab pgxrd restart
check "restart: the old primary answers as a primary" wait_for 10 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print([n['pg_role'] for n in json.load(sys.stdin) if n['node_id'] == 0][0])\")\" = primary ]"
same "restart: after a restart the old primary is still fenced" "$(node_field 0 status)" fenced
same "restart: VIP:5432 still reaches node $new" "$(vip_sql 5432 "SELECT current_setting('cluster_name')")" "db$new"
e2e_done
