#!/usr/bin/env bash
# t185_start_primaries.sh: pgxrd starting with no pinned state finds two primaries: the one the
# standbys stream from wins and the other is fenced; when nothing tells them apart, neither is
# routed until an operator picks one (node promote --force)
# lab: fresh
. "$(dirname "$0")/lib.sh"

fresh_start() {
	lab pgxrd stop
	lab exec rtr "$ROOT/pgxrd" -f "$LAB_DIR/pgxr.conf" --detach >/dev/null 2>&1
	lab pgxrd start
}
# db1 promoted while pgxrd is away; db2 still streams from db0
lab pgxrd stop
lab psql db1 -qX -c "SELECT pg_promote(true, 60)" >/dev/null
fresh_start
same "two primaries at start: node 0, which db2 streams from, is routed" "$(primary_id)" 0
same "two primaries at start: node 1 is fenced" "$(node_field 1 status)" fenced
check "two primaries at start: the event history says why" bash -c "'$LAB_SH' pgxrctl event list | grep -q 'claims to be primary, but node 0 is the primary'"
same "two primaries at start: VIP:5432 reaches db0" "$(vip_sql 5432 "SELECT current_setting('cluster_name')")" db0
# no standby any more: nothing tells db0 and db1 apart
lab pg db2 stop >/dev/null
fresh_start
same "ambiguous start: no primary is routed" "$(primary_id)" -1
out=$(ctl node list)
diag "$(tr '\n' '|' <<<"$out")"
check "ambiguous start: node list says what to do" grep -q '^# node [01]: one of several primaries.*pgxrctl node promote [01] --force routes it' <<<"$out"
check "ambiguous start: VIP:5432 reaches no backend" bash -c "! timeout 10 '$LAB_SH' exec cli psql -XAt 'host=$VIP port=5432 user=postgres dbname=postgres connect_timeout=2' -c 'SELECT 1' 2>/dev/null"
out=$(ctl node promote 1 --force 2>&1)
same "ambiguous start: node promote 1 --force succeeds" "$?" 0
same "ambiguous start: node 1 is routed" "$(primary_id)" 1
same "ambiguous start: node 0 is fenced" "$(node_field 0 status)" fenced
same "ambiguous start: VIP:5432 writes on db1" "$(vip_sql 5432 "SELECT current_setting('cluster_name') || ' ' || pg_is_in_recovery()")" "db1 false"
e2e_done
