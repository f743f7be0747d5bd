#!/usr/bin/env bash
# t180_manual_promote.sh: a standby promoted behind pgxr's back is fenced whatever its
# timeline: never routed, made read-only; the operator moves the rw port with node promote --force
# lab: fresh
. "$(dirname "$0")/lib.sh"

session_open rw 5432
same "manual promote: a session on the primary" "$(session_who rw | cut -d' ' -f1)" db0
# the fence ends this psql's own session too, once it sees db1 as a primary
lab psql db1 -qX -c "SELECT pg_promote(true, 60)" >/dev/null 2>&1
check "manual promote: pgxrd fences node 1, on a higher timeline" wait_for 10 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print([n['status'] for n in json.load(sys.stdin) if n['node_id'] == 1][0])\")\" = fenced ]"
same "manual promote: node 0 stays the primary" "$(primary_id)" 0
read -r word _ <<<"$(session_who rw)"
same "manual promote: the session on the primary goes on" "$word" db0
out=$(for i in $(seq 10); do vip_sql 5432 "SELECT current_setting('cluster_name')"; done | sort -u)
same "manual promote: 10 new VIP:5432 sessions all reach node 0" "$out" db0
check "manual promote: the event history says why" bash -c "'$LAB_SH' pgxrctl event list | grep -q 'claims to be primary (timeline 2) without being promoted by pgxr'"
check "manual promote: node 1 is made read-only" wait_for 10 bash -c "[ \"\$('$LAB_SH' psql db1 -XAt -c 'SHOW default_transaction_read_only')\" = on ]"
check "manual promote: a write on node 1 itself fails" bash -c "! '$LAB_SH' psql db1 -XAt -c 'CREATE TABLE rogue (x int)' 2>/dev/null"
out=$(ctl node promote 1 2>&1)
check "manual promote: node promote 1 without --force is refused" grep -q 'add --force' <<<"$out"
out=$(ctl node promote 1 --force 2>&1)
same "manual promote: node promote 1 --force succeeds" "$?" 0
[ -z "$out" ] || diag "$out"
same "manual promote: node 1 is the primary now" "$(primary_id)" 1
same "manual promote: node 0 is fenced" "$(node_field 0 status)" fenced
read -r word _ <<<"$(session_who rw)"
same "manual promote: the session on the old primary is reset" "$word" error
vip_sql 5432 "CREATE TABLE moved (x int)" >/dev/null
same "manual promote: VIP:5432 writes on node 1, no longer read-only" \
	"$(vip_sql 5432 "INSERT INTO moved VALUES (1) RETURNING current_setting('cluster_name') || ' ' || current_setting('default_transaction_read_only')" | head -1)" "db1 off"
session_close rw
e2e_done
