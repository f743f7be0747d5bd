#!/usr/bin/env bash
# t180_manual_promote.sh: a standby promoted behind pgxr's back: two primaries, the higher
# timeline wins, the other is fenced and its sessions are reset
# lab: fresh
. "$(dirname "$0")/lib.sh"

session_open rw 5432
same "manual promote: a session on the primary" "$(session_who rw | cut -d' ' -f1)" db0
lab psql db1 -qX -c "SELECT pg_promote(true, 60)" >/dev/null
check "manual promote: pgxrd takes the higher timeline as the primary" wait_for 10 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print([n['node_id'] for n in json.load(sys.stdin) if n['role'] == 'primary' and n['status'] == 'up'])\")\" = '[1]' ]"
same "manual promote: the old primary is fenced" "$(node_field 0 status)" fenced
read -r word _ <<<"$(session_who rw)"
same "manual promote: the session on the fenced primary is reset" "$word" error
same "manual promote: VIP:5432 reaches node 1" "$(vip_sql 5432 "SELECT current_setting('cluster_name')")" db1
check "manual promote: the event history says why" bash -c "'$LAB_SH' pgxrctl event list | grep -q 'timeline 2 is above node 0'"
session_close rw
e2e_done
