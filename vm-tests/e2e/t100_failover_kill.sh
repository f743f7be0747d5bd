#!/usr/bin/env bash
# t100_failover_kill.sh: kill -9 the primary under writes: a standby is promoted, writes
# resume through the same VIP:5432, the old primary is fenced and stays so when it returns
# lab: fresh
. "$(dirname "$0")/lib.sh"

lab psql db0 -qX -c "CREATE TABLE acked (id int PRIMARY KEY)" -c "CREATE TABLE bench (x int)" >/dev/null
acks=$LAB_DIR/t100.acks
echo "INSERT INTO bench VALUES (1)" >"$LAB_DIR/t100.sql"
pyclient writer 5432 14 "$acks" >"$LAB_DIR/t100.writer" &
writer=$!
# pgbench writing too: its clients abort at the kill, new pgbench connections must work
"$LAB_SH" exec cli pgbench -n -C -c 2 -T 14 -f "$LAB_DIR/t100.sql" \
	"host=$VIP port=5432 user=postgres dbname=postgres connect_timeout=2" >"$LAB_DIR/t100.pgbench" 2>&1 &
bench=$!
sleep 3
kill_ms=$(now_ms)
lab pg db0 kill
wait "$writer" "$bench"
diag "writer: $(cat "$LAB_DIR/t100.writer"); pgbench at the kill: $(grep -c 'aborted\|error' "$LAB_DIR/t100.pgbench") error line(s)"
new=$(primary_id)
down=$(first_fail_after "$acks" "$kill_ms")
first=$(first_ack_by "$acks" "db$new" "$kill_ms")
check "failover: writes through VIP:5432 fail when the primary is killed" test -n "$down"
check "failover: the new primary acknowledges writes through VIP:5432" test -n "$first"
took=$((${first:-0} - kill_ms))
diag "kill -9 at $kill_ms; first failed write +$((${down:-0} - kill_ms)) ms; first commit acknowledged by db$new +$took ms"
check "failover: writes resume on the new primary within 5 s (health_check_period 1, 1 retry after 1 s): $took ms" test "$took" -lt 5000
check_no_loss_before "failover" "$acks" "$kill_ms"
check_one_primary "failover"
check "failover: a standby is the primary now (node $new)" test "$new" = 1 -o "$new" = 2
same "failover: VIP:5432 reaches it, out of recovery" \
	"$(vip_sql 5432 "SELECT current_setting('cluster_name') || ' ' || pg_is_in_recovery()")" "db$new false"
same "failover: the old primary is fenced" "$(node_field 0 status)" fenced
check "failover: the event history has the failover" bash -c "'$LAB_SH' pgxrctl event list | grep -q 'failover complete: node $new is the primary'"
out=$(timeout 30 "$LAB_SH" exec cli pgbench -n -C -c 2 -T 3 -f "$LAB_DIR/t100.sql" \
	"host=$VIP port=5432 user=postgres dbname=postgres connect_timeout=2" 2>&1)
check "failover: a new pgbench with a connection per transaction writes through VIP:5432" \
	grep -q 'number of failed transactions: 0 (0.000%)' <<<"$out"
other=$((new == 1 ? 2 : 1))
check "failover: the other standby follows the new primary" \
	wait_for 15 bash -c "[ \"\$('$LAB_SH' psql db$new -XAt -c \"SELECT count(*) FROM pg_stat_replication WHERE application_name = 'db$other' AND state = 'streaming'\")\" = 1 ]"
same "failover: VIP:5433 reaches the remaining standby" \
	"$(vip_sql 5433 "SELECT current_setting('cluster_name')")" "db$other"
# the old primary comes back, still a primary: two primaries exist, one is routed
lab pg db0 start
check "fencing: pgxrd sees the old primary answer again" wait_for 10 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print([n['pg_status'] + n['pg_role'] for n in json.load(sys.stdin) if n['node_id'] == 0][0])\")\" = upprimary ]"
same "fencing: it stays fenced" "$(node_field 0 status)" fenced
out=$(for i in $(seq 20); do vip_sql 5432 "SELECT current_setting('cluster_name')"; done | sort -u)
same "fencing: 20 new VIP:5432 sessions all reach the new primary, none the old" "$out" "db$new"
e2e_done
