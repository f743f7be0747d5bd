#!/usr/bin/env bash
# t220_rogue_primary.sh: a rogue pg_ctl promote of a standby with a lower node id than the
# primary is never routed, not even for one SYN, while clients open a connection per
# transaction through VIP:5432: the counters and the flow table show no session sent to it;
# it is made read-only and fence_command (a STONITH hook) runs for it
# lab: fresh LAB_CONF_EXTRA=fence_command='echo\x20fenced\x20%d\x20primary\x20%m\x20>>$LAB_DIR/t220.fenced'
. "$(dirname "$0")/lib.sh"

lab psql db0 -qX -c "CREATE TABLE acked (id int PRIMARY KEY)" -c "CREATE TABLE churn (x int)" >/dev/null
out=$(ctl node promote 2 2>&1)
same "rogue: a switchover makes node 2 the primary" "$(primary_id)" 2
same "rogue: node 0 is a standby of it" "$(node_field 0 status) $(node_field 0 role)" "up standby"
acks=$LAB_DIR/t220.acks
flows() { ctl -j flow list | json "sorted(set('%s:%s' % (f['client'], f['client_port']) for f in d if f['backend'] == $1))"; }
before_conns=$(backend_conns 0)
before_flows=$(flows 0)
start=$(now_ms)
writer_start t220 30
echo "INSERT INTO churn VALUES (1)" >"$LAB_DIR/t220.sql"
"$LAB_SH" exec cli pgbench -n -C -c 2 -T 8 -f "$LAB_DIR/t220.sql" \
	"host=$VIP port=5432 user=postgres dbname=postgres connect_timeout=2" >"$LAB_DIR/t220.pgbench" 2>&1 &
bench=$!
sleep 2
lab exec db0 runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$LAB_DIR/db0/data" promote >/dev/null
check "rogue: node 0 is fenced" wait_for 10 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print([n['status'] for n in json.load(sys.stdin) if n['node_id'] == 0][0])\")\" = fenced ]"
wait "$bench"
diag "pgbench: $(grep -E '^number of transactions actually processed|^number of failed' "$LAB_DIR/t220.pgbench" | tr '\n' ' ')"
writer_stop t220
same "rogue: no SYN was steered to node 0 (its conns counter)" "$(backend_conns 0)" "$before_conns"
same "rogue: no flow to node 0 was added" "$(flows 0)" "$before_flows"
same "rogue: no commit was acknowledged by db0" "$(acks_by "$acks" db0 "$start")" 0
check "rogue: the event history says why" bash -c "'$LAB_SH' pgxrctl event list | grep -q 'claims to be primary (timeline [0-9]*) without being promoted by pgxr; node 2'"
check "rogue: node 0 is made read-only" wait_for 10 bash -c "[ \"\$('$LAB_SH' psql db0 -XAt -c 'SHOW default_transaction_read_only')\" = on ]"
same "rogue: fence_command ran for it, with the placeholders" "$(cat "$LAB_DIR/t220.fenced" 2>/dev/null)" "fenced 0 primary 2"
check "rogue: the event history says so" bash -c "'$LAB_SH' pgxrctl event list | grep -q 'fence: fence_command done'"
check_no_loss "rogue" "$acks"
check_one_primary "rogue"
e2e_done
