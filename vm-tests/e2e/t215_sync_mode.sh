#!/usr/bin/env bash
# t215_sync_mode.sh: synchronous_mode = on: pgxr keeps synchronous_standby_names on the primary
# (ANY 1 of the streaming standbys) and sets it on each new primary, so that two failovers in a
# row (kill -9 of the primary, twice) under writes lose no acknowledged commit
# lab: fresh LAB_CONF_EXTRA=synchronous_mode=on
. "$(dirname "$0")/lib.sh"

lab psql db0 -qX -c "CREATE TABLE acked (id int PRIMARY KEY)" >/dev/null
check "synchronous_mode: pgxr sets synchronous_standby_names on the primary" \
	wait_for 10 bash -c "[ \"\$('$LAB_SH' psql db0 -XAt -c 'SHOW synchronous_standby_names')\" = 'ANY 1 (\"db1\", \"db2\")' ]"
check "synchronous_mode: both standbys are quorum candidates" \
	wait_for 10 bash -c "[ \"\$('$LAB_SH' psql db0 -XAt -c \"SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'quorum'\")\" = 2 ]"
acks=$LAB_DIR/t215.acks
writer_start t215 60
sleep 3
lab pg db0 kill
check "first failover: a standby is promoted" wait_for 15 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print([n['node_id'] for n in json.load(sys.stdin) if n['role'] == 'primary' and n['status'] == 'up'])\")\" != '[]' ]"
p1=$(primary_id)
other=$((p1 == 1 ? 2 : 1))
check "first failover: the new primary waits for its remaining standby" \
	wait_for 10 bash -c "[ \"\$('$LAB_SH' psql db$p1 -XAt -c 'SHOW synchronous_standby_names')\" = 'ANY 1 (\"db$other\")' ]"
check "first failover: db$other streams from it, as a quorum standby" \
	wait_for 15 bash -c "[ \"\$('$LAB_SH' psql db$p1 -XAt -c \"SELECT sync_state FROM pg_stat_replication WHERE application_name = 'db$other'\")\" = quorum ]"
check "first failover: db$p1 acknowledges commits" wait_for 10 bash -c "grep -q ' db$p1\$' '$acks'"
sleep 2
lab pg "db$p1" kill
check "second failover: db$other is promoted" wait_for 15 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print([n['node_id'] for n in json.load(sys.stdin) if n['role'] == 'primary' and n['status'] == 'up'])\")\" = '[$other]' ]"
check "second failover: db$other acknowledges commits" wait_for 10 bash -c "grep -q ' db$other\$' '$acks'"
same "second failover: with no standby left, commits do not wait (synchronous_mode on)" \
	"$(lab psql "db$other" -XAt -c 'SHOW synchronous_standby_names')" ""
sleep 1
writer_stop t215
check_no_loss "two failovers with synchronous_mode on" "$acks"
check_one_primary "two failovers with synchronous_mode on"
e2e_done
