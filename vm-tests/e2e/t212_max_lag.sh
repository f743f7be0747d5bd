#!/usr/bin/env bash
# t212_max_lag.sh: an asynchronous standby further behind the primary than
# maximum_lag_on_failover is not promoted automatically; --force promotes it
# lab: fresh LAB_CONF_EXTRA=maximum_lag_on_failover=100000
. "$(dirname "$0")/lib.sh"

lab psql db0 -qX -c "CREATE TABLE acked (id int PRIMARY KEY)" >/dev/null
# db1 holds back: its namespace drops what the primary sends it; db2 goes away
lab exec db1 nft add table inet t212
lab exec db1 nft add chain inet t212 in '{ type filter hook input priority 0; }'
lab exec db1 nft add rule inet t212 in ip saddr "$LAB_NET.20" tcp sport 5432 drop
lab pg db2 stop >/dev/null
lab psql db0 -qX -c "CREATE TABLE filler AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 5000) g" >/dev/null
sleep 1.5
lab pg db0 kill
check "max lag: the failover finds nobody it may promote" \
	wait_for 15 bash -c "'$LAB_SH' pgxrctl event list | grep -q 'nobody may be promoted: node 1 is [0-9]* bytes behind the primary.s last position (maximum_lag_on_failover 100000)'"
sleep 2
same "max lag: db1 is still in recovery" "$(lab psql db1 -XAt -c 'SELECT pg_is_in_recovery()')" t
out=$(ctl node promote 1 --force 2>&1)
same "max lag: node promote 1 --force succeeds" "$?" 0
same "max lag: node 1 is the primary" "$(primary_id)" 1
e2e_done
