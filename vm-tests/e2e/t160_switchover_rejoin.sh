#!/usr/bin/env bash
# t160_switchover_rejoin.sh: pgxrd on the primary's host (as in the pgpool seed): a switchover
# under writes stops the local primary cleanly and makes it a standby without pg_rewind; after
# a kill -9 of the local primary and a failover, node rejoin runs pg_rewind itself
# (sr_check_period 0: the rejoin asks for the replication check it waits on)
# lab: fresh LAB_COLOCATED=1 LAB_CONF_EXTRA=sr_check_period=0
. "$(dirname "$0")/lib.sh"

same "colocated: VIP:5432 reaches the local primary" "$(vip_sql 5432 "SELECT current_setting('cluster_name')")" db0
lab psql db0 -qX -c "CREATE TABLE acked (id int PRIMARY KEY)" >/dev/null
writer_start t160 12
sleep 2
out=$(ctl node promote 1 2>&1)
same "switchover: pgxrctl node promote 1 succeeds" "$?" 0
diag "$out"
check "switchover: the reply tells how long writes were refused" grep -q '^writes were refused for [0-9]* ms' <<<"$out"
check "switchover: the local primary was stopped cleanly" grep -q 'node 0 stopped cleanly' <<<"$out"
check "switchover: the reply says node 0 is a standby now" grep -q 'node 0 is a standby of node 1 now' <<<"$out"
same "switchover: node 1 is the primary" "$(primary_id)" 1
same "switchover: the old primary is a standby that is up" "$(node_field 0 status) $(node_field 0 role)" "up standby"
same "switchover: node 0 is in recovery" "$(lab psql db0 -XAt -c "SELECT pg_is_in_recovery()")" t
check "switchover: no pg_rewind was needed" bash -c "! grep -q 'rejoin: pg_rewind: ' '$LAB_DIR/pgxrd.log'"
writer_wait t160
check_no_loss "switchover" "$LAB_DIR/t160.acks"
check "switchover: writes were acknowledged by node 1 after it" test "$(acks_by "$LAB_DIR/t160.acks" db1 0)" -gt 0
check_one_primary "switchover"
# back to node 0, which is a standby now: the old primary (node 1) is remote, rejoin_command
out=$(ctl node promote 0 2>&1)
same "switchover back: pgxrctl node promote 0 succeeds" "$?" 0
diag "$out"
same "switchover back: node 0 is the primary" "$(primary_id)" 0
check "switchover back: node 1 refused writes over libpq, then rejoined with rejoin_command" \
	grep -q 'node 1 refuses writes' <<<"$out"
same "switchover back: node 1 is a standby that is up" "$(node_field 1 status) $(node_field 1 role)" "up standby"
# a crash of the local primary: failover; the old primary is rewound by pgxrd itself
lab pg db0 kill
check "failover: a standby is promoted" wait_for 15 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print([n['node_id'] for n in json.load(sys.stdin) if n['role'] == 'primary' and n['status'] == 'up'])\")\" != '[]' ]"
new=$(primary_id)
vip_sql 5432 "CREATE TABLE after_failover (x int); INSERT INTO after_failover VALUES (7)" >/dev/null
lab pg db0 start
out=$(ctl node rejoin 0 2>&1)
same "rejoin: node rejoin 0 (data directory on this host) succeeds" "$?" 0
[ -z "$out" ] || diag "$out"
check "rejoin: pgxrd ran pg_rewind itself" grep -q 'rejoin: pg_rewind: ' "$LAB_DIR/pgxrd.log"
same "rejoin: node 0 is a standby" "$(lab psql db0 -XAt -c "SELECT pg_is_in_recovery()")" t
same "rejoin: it kept its own configuration (cluster_name, socket)" \
	"$(lab psql db0 -XAt -c "SELECT current_setting('cluster_name')")" db0
check "rejoin: it has the write made after the failover" \
	wait_for 10 bash -c "[ \"\$('$LAB_SH' psql db0 -XAt -c 'SELECT count(*) FROM after_failover')\" = 1 ]"
same "rejoin: pgxrd routes it as a standby that is up" "$(node_field 0 status) $(node_field 0 role)" "up standby"
same "rejoin: node $new is still the primary" "$(primary_id)" "$new"
e2e_done
