#!/usr/bin/env bash
# t190_failover_called_off.sh: a failover that waits for a standby is called off when the
# primary comes back; standbys returning later do not revive it
# lab: fresh
. "$(dirname "$0")/lib.sh"

lab psql db0 -qX -c "CREATE TABLE acked (id int PRIMARY KEY)" >/dev/null
writer_start t190 60
lab pg db1 stop >/dev/null
lab pg db2 stop >/dev/null
check "called off: both standbys are down" wait_for 10 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print(sorted(n['status'] for n in json.load(sys.stdin)))\")\" = \"['down', 'down', 'up']\" ]"
lab pg db0 stop >/dev/null
check "called off: the failover waits for a standby" wait_for 10 bash -c "'$LAB_SH' pgxrctl event list | grep -q 'no standby is up to promote'"
lab pg db0 start
check "called off: the primary is back and the failover called off" wait_for 10 bash -c "'$LAB_SH' pgxrctl event list | grep -q 'failover called off: the primary is back'"
lab pg db1 start
lab pg db2 start
check "called off: the standbys are attached again" wait_for 20 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print(sorted(n['status'] for n in json.load(sys.stdin)))\")\" = \"['up', 'up', 'up']\" ]"
sleep 2
same "called off: node 0 is still the primary" "$(primary_id)" 0
check "called off: no standby was promoted" bash -c "! '$LAB_SH' pgxrctl event list | grep -q 'chosen for promotion'"
same "called off: VIP:5432 reaches node 0" "$(vip_sql 5432 "SELECT current_setting('cluster_name')")" db0
check "called off: writes resumed on node 0" wait_for 10 bash -c "[ \"\$(tail -1 '$LAB_DIR/t190.acks' | cut -d' ' -f1,4)\" = 'ok db0' ]"
writer_stop t190
same "called off: every write went to node 0" "$(awk '$1 == "ok" && $4 != "db0"' "$LAB_DIR/t190.acks" | wc -l)" 0
check_no_loss "called off" "$LAB_DIR/t190.acks"
check_one_primary "called off"
e2e_done
