#!/usr/bin/env bash
# t160_switchover_rejoin.sh: pgxrd on the primary's host (as in the pgpool seed): a
# switchover with node promote, then node rejoin runs pg_rewind itself on the local node
# (sr_check_period 0: the rejoin asks for the replication check it waits on)
# lab: fresh LAB_COLOCATED=1 LAB_CONF_EXTRA=sr_check_period=0
. "$(dirname "$0")/lib.sh"

same "colocated: VIP:5432 reaches the local primary" "$(vip_sql 5432 "SELECT current_setting('cluster_name')")" db0
out=$(ctl node promote 1 2>&1)
same "switchover: pgxrctl node promote 1 succeeds" "$?" 0
[ -z "$out" ] || diag "$out"
same "switchover: node 1 is the primary" "$(primary_id)" 1
same "switchover: the old primary is fenced" "$(node_field 0 status)" fenced
vip_sql 5432 "CREATE TABLE after_switch (x int)" >/dev/null
same "switchover: writes go to node 1" \
	"$(vip_sql 5432 "INSERT INTO after_switch VALUES (7) RETURNING current_setting('cluster_name')" | head -1)" db1
check "switchover: promoting a node that is not a standby that is up is refused" \
	grep -q 'Error:' <<<"$(ctl node promote 0 2>&1)"
out=$(ctl node rejoin 0 2>&1)
same "rejoin: node rejoin 0 (data directory on this host) succeeds" "$?" 0
[ -z "$out" ] || diag "$out"
check "rejoin: pgxrd ran pg_rewind itself" grep -q 'rejoin: pg_rewind: ' "$LAB_DIR/pgxrd.log"
same "rejoin: node 0 is a standby" "$(lab psql db0 -XAt -c "SELECT pg_is_in_recovery()")" t
same "rejoin: it kept its own configuration (cluster_name, socket)" \
	"$(lab psql db0 -XAt -c "SELECT current_setting('cluster_name')")" db0
check "rejoin: it has the write made after the switchover" \
	wait_for 10 bash -c "[ \"\$('$LAB_SH' psql db0 -XAt -c 'SELECT count(*) FROM after_switch')\" = 1 ]"
same "rejoin: pgxrd routes it as a standby that is up" "$(node_field 0 status) $(node_field 0 role)" "up standby"
same "rejoin: node 1 is still the primary" "$(primary_id)" 1
e2e_done
