#!/usr/bin/env bash
# t120_link_cut.sh: the primary's link is cut: failover; a client waiting for a result on the
# old primary hears of it at the failover, not minutes later; when the link comes back the
# old primary (still a primary) stays fenced; node rejoin makes it a standby that serves reads
# lab: fresh
. "$(dirname "$0")/lib.sh"

lab psql db0 -qX -c "CREATE TABLE acked (id int PRIMARY KEY)" >/dev/null
acks=$LAB_DIR/t120.acks
pyclient writer 5432 14 "$acks" >/dev/null &
writer=$!
# a session that waits for a result sends nothing: only pgxrd can tell it its server is gone
( start=$(now_ms)
  timeout 60 "$LAB_SH" exec cli psql -XAt "host=$VIP port=5432 user=postgres dbname=postgres" \
	-c "SELECT pg_sleep(50)" >/dev/null 2>&1
  echo "$? $(now_ms)" >"$LAB_DIR/t120.waiting" ) &
waiting=$!
sleep 2
cut_ms=$(now_ms)
lab link db0 down
check "link cut: a standby becomes the primary" wait_for 20 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print([n['node_id'] for n in json.load(sys.stdin) if n['role'] == 'primary' and n['status'] == 'up'])\")\" != '[]' ] && [ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print([n['status'] for n in json.load(sys.stdin) if n['node_id'] == 0][0])\")\" = fenced ]"
wait "$writer" "$waiting"
read -r rc ended <"$LAB_DIR/t120.waiting"
failed_over=$(date -d "$(grep -m1 'failover complete' "$LAB_DIR/pgxrd.log" | cut -c1-23)" +%s%3N)
diag "the waiting session ended with status $rc, $((ended - cut_ms)) ms after the cut, $((ended - failed_over)) ms after the failover"
check "link cut: the session waiting on the old primary is reset at the failover ($((ended - failed_over)) ms after it)" \
	test "$rc" -ne 0 -a "$((ended - failed_over))" -lt 1000
check "link cut: the clients' retransmissions to the cut primary were counted" \
	test "$(ctl -j backend list | json "[b['retrans'] for b in d if b['id'] == 0][0]")" -gt 0
check "link cut: pgxrd heard of them" grep -q 'node 0: clients sent [0-9]* segment(s) to it again' "$LAB_DIR/pgxrd.log"
new=$(primary_id)
first=$(first_ack_by "$acks" "db$new" "$cut_ms")
down=$(grep -m1 'node 0: failover: health check failed' "$LAB_DIR/pgxrd.log" | cut -c1-23)
diag "link cut at $cut_ms; declared lost at $down; node $new promoted; it acknowledged a write $((${first:-0} - cut_ms)) ms after the cut (health_check_timeout 2 s, 1 retry after 1 s)"
check "link cut: the new primary acknowledges writes through VIP:5432" test -n "$first"
check "link cut: writes resume within health_check_timeout + retry + health_check_timeout + 1 s ($((${first:-0} - cut_ms)) ms)" \
	test "$((${first:-0} - cut_ms))" -lt 6000
check_no_loss_before "link cut" "$acks" "$cut_ms"
lab link db0 up
check "link cut: the old primary answers again, as a primary" wait_for 15 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print([n['pg_status'] + ' ' + n['pg_role'] for n in json.load(sys.stdin) if n['node_id'] == 0][0])\")\" = 'up primary' ]"
same "link cut: two primaries exist; the old one is fenced" "$(node_field 0 status)" fenced
out=$(for i in $(seq 10); do vip_sql 5432 "SELECT current_setting('cluster_name')"; done | sort -u)
same "link cut: VIP:5432 sessions all reach the new primary" "$out" "db$new"
# the old primary diverged: it wrote WAL of its own while cut off
out=$(ctl node rejoin 0 2>&1)
same "rejoin: pgxrctl node rejoin 0 succeeds" "$?" 0
[ -z "$out" ] || diag "$out"
same "rejoin: the old primary is a standby" "$(lab psql db0 -XAt -c "SELECT pg_is_in_recovery()")" t
tl_new=$(lab psql "db$new" -XAt -c "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)")
same "rejoin: it streams on the new primary's timeline (no diverged timeline)" \
	"$(lab psql db0 -XAt -c "SELECT lpad(to_hex(received_tli), 8, '0') FROM pg_stat_wal_receiver WHERE status = 'streaming'")" \
	"$tl_new"
same "rejoin: pgxrd routes it as a standby that is up" "$(node_field 0 status) $(node_field 0 role)" "up standby"
out=$(pyclient spread 5433 60)
check "rejoin: it serves ro sessions ($(echo "$out" | json "d['counts']"))" \
	test "$(echo "$out" | json "d['counts'].get('db0', 0)")" -gt 0
last=$(awk '$1 == "ok" { id = $2 } END { print id }' "$acks")
check "rejoin: it has the last write acknowledged after the failover (id $last)" \
	wait_for 10 bash -c "[ \"\$('$LAB_SH' psql db0 -XAt -c 'SELECT count(*) FROM acked WHERE id = $last')\" = 1 ]"
e2e_done
