#!/usr/bin/env bash
# t305_proxy_failover.sh: the proxy port under HA events: a switchover and a kill -9 of the
# primary under a writer and pgbench through VIP:9999; sessions on the old primary end with
# an error, new ones reach the new primary with no restart, no acknowledged commit is lost;
# with T305_POOL_MODE=transaction, the same under transaction pooling
# lab: fresh
. "$(dirname "$0")/lib.sh"

P=9999
# T305_POOL_MODE=transaction (t325): the same events under transaction pooling
POOL_MODE=${T305_POOL_MODE:-session}
if [ "$POOL_MODE" = transaction ]; then
	proxy_auth_postgres
	reload_with enable_pool_hba=on pool_mode=transaction max_pool=20
fi
wire() { timeout 30 "$LAB_SH" exec cli /usr/bin/python3 "$ROOT/vm-tests/pgwire.py" "$@"; }
proxy_primary() { vip_sql $P "SELECT current_setting('cluster_name') || ' ' || pg_is_in_recovery()"; }
lab psql db0 -qX -c "CREATE TABLE acked (id int PRIMARY KEY)" -c "CREATE TABLE bench (x int)" >/dev/null
echo "INSERT INTO bench VALUES (1)" >"$LAB_DIR/t305.sql"

# a switchover: the writer's session on db0 ends, it reconnects to db1 through the proxy
writer_start t305s 30 $P
session_open idle $P
same "switchover: an idle proxy session is on db0" "$(session_who idle | cut -d' ' -f1)" db0
sleep 2
start=$(now_ms)
out=$(ctl node promote 1 2>&1)
same "switchover: pgxrctl node promote 1 succeeds" "$?" 0
diag "$(tr '\n' '|' <<<"$out")"
check "switchover: node 1 acknowledges the proxied writer's commits" \
	wait_for 10 bash -c "[ \"\$(awk -v t=$start '\$1 == \"ok\" && \$4 == \"db1\" && \$3 >= t' '$LAB_DIR/t305s.acks' | wc -l)\" -gt 0 ]"
writer_stop t305s
first=$(first_ack_by "$LAB_DIR/t305s.acks" db1 "$start")
diag "switchover at $start; first commit acknowledged by db1 through the proxy +$((first - start)) ms"
check_no_loss "proxy switchover" "$LAB_DIR/t305s.acks"
order=$(awk '$1 == "ok" && $4 != last { printf "%s%s", sep, $4; sep = " "; last = $4 }' "$LAB_DIR/t305s.acks")
same "proxy switchover: the servers that acknowledged commits, in order" "$order" "db0 db1"
out=$(session_who idle)
if [ "$POOL_MODE" = transaction ]; then
	# between transactions a client holds no server: its next one goes to the new primary
	check "switchover: the idle session's next transaction reaches db1, no error ($out)" grep -q '^db1' <<<"$out"
else
	check "switchover: the idle session on the old primary ended with an error ($out)" grep -q '^error' <<<"$out"
fi
session_close idle
same "switchover: a new proxy session reaches db1, out of recovery" "$(proxy_primary)" "db1 false"

# kill -9 of the primary under a writer and pgbench, both through the proxy
vip_sql 5432 "TRUNCATE acked" >/dev/null
writer_start t305k 16 $P
"$LAB_SH" exec cli pgbench -n -c 4 -T 16 -f "$LAB_DIR/t305.sql" \
	"host=$VIP port=$P user=postgres dbname=postgres connect_timeout=2" >"$LAB_DIR/t305.pgbench" 2>&1 &
bench=$!
sleep 3
kill_ms=$(now_ms)
lab pg db1 kill
writer_wait t305k
wait $bench
acks=$LAB_DIR/t305k.acks
new=$(primary_id)
down=$(first_fail_after "$acks" "$kill_ms")
first=$(first_ack_by "$acks" "db$new" "$kill_ms")
diag "pgbench: $(grep -E 'aborted|failed transactions|error' "$LAB_DIR/t305.pgbench" | head -3 | tr '\n' '|')"
check "failover: the proxied writer's writes fail when the primary is killed" test -n "$down"
check "failover: the new primary (node $new) acknowledges the proxied writer's commits" test -n "$first"
diag "kill -9 at $kill_ms; first failed write +$((${down:-0} - kill_ms)) ms; first commit by db$new through the proxy +$((${first:-0} - kill_ms)) ms"
check "failover: pgbench's sessions on the killed primary got errors, not a hang" \
	grep -qE 'aborted|error|terminat' "$LAB_DIR/t305.pgbench"
check_no_loss_before "proxy failover" "$acks" "$kill_ms"
check_one_primary "proxy failover"
same "failover: a new proxy session reaches node $new, out of recovery" "$(proxy_primary)" "db$new false"
out=$(timeout 30 "$LAB_SH" exec cli pgbench -n -c 4 -T 3 -f "$LAB_DIR/t305.sql" \
	"host=$VIP port=$P user=postgres dbname=postgres connect_timeout=2" 2>&1)
check "failover: a new pgbench through the proxy writes, no restart of pgxrd" \
	grep -q 'number of failed transactions: 0 (0.000%)' <<<"$out"
out=$(timeout 20 "$LAB_SH" exec cli psql -XA -F'|' "host=$VIP port=$P user=postgres dbname=postgres" -c "show pool_nodes")
check "failover: SHOW pool_nodes through the proxy names node $new the primary" grep -q "^$new|.*|up|up|[0-9.]*|primary|primary|" <<<"$out"
check "failover: ... and node 1 down" grep -qE "^1\|[^|]*\|5432\|(down|fenced)\|down\|" <<<"$out"
e2e_done
