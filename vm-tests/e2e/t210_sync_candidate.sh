#!/usr/bin/env bash
# t210_sync_candidate.sh: synchronous_standby_names names db2; db1 is held behind; db2 stops;
# the primary is killed: db1 lacks acknowledged commits, so it is not promoted automatically;
# node list and the events say why; node promote 1 --force is the operator's way out
# lab: fresh
. "$(dirname "$0")/lib.sh"

lab psql db0 -qX -c "CREATE TABLE acked (id int PRIMARY KEY)" \
	-c "ALTER SYSTEM SET synchronous_standby_names = 'db2'" -c "SELECT pg_reload_conf()" >/dev/null
check "sync: db2 is the synchronous standby" \
	wait_for 10 bash -c "[ \"\$('$LAB_SH' psql db0 -XAt -c \"SELECT sync_state FROM pg_stat_replication WHERE application_name = 'db2'\")\" = sync ]"
# db1 holds back: its namespace drops what the primary sends it
lab exec db1 nft add table inet t210
lab exec db1 nft add chain inet t210 in '{ type filter hook input priority 0; }'
lab exec db1 nft add rule inet t210 in ip saddr "$LAB_NET.20" tcp sport 5432 drop
acks=$LAB_DIR/t210.acks
writer_start t210 40
sleep 3
# the replication check records what db2 confirmed
sleep 1.5
lab pg db2 stop >/dev/null
sleep 1.5
lab pg db0 kill
check "sync: the failover finds nobody it may promote" \
	wait_for 15 bash -c "'$LAB_SH' pgxrctl event list | grep -q 'nobody may be promoted: node 1 is not a synchronous standby, and [0-9]* bytes behind what they confirmed'"
sleep 2
check "sync: no standby was promoted" bash -c "! '$LAB_SH' pgxrctl event list | grep -q 'chosen for promotion'"
same "sync: db1 is still in recovery" "$(lab psql db1 -XAt -c 'SELECT pg_is_in_recovery()')" t
out=$(ctl node list)
diag "$(tr '\n' '|' <<<"$out")"
check "sync: node list says why node 1 is not promoted and what to do" \
	grep -q '^# node 1: not promoted automatically: .*pgxrctl node promote 1 --force' <<<"$out"
out=$(ctl node promote 1 2>&1)
check "sync: node promote 1 without --force is refused, with the reason" \
	grep -q 'behind what they confirmed' <<<"$out"
out=$(ctl node promote 1 --force 2>&1)
same "sync: node promote 1 --force succeeds" "$?" 0
diag "$(tr '\n' '|' <<<"$out")"
same "sync: node 1 is the primary" "$(primary_id)" 1
same "sync: VIP:5432 writes on db1" "$(vip_sql 5432 "SELECT current_setting('cluster_name') || ' ' || pg_is_in_recovery()")" "db1 false"
writer_stop t210
missing=$(acked_missing "$acks" 1)
check "sync: db1 lacks $missing commits db2 acknowledged: promoting it automatically would have lost them" \
	test "$missing" -gt 0
e2e_done
