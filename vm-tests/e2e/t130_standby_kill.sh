#!/usr/bin/env bash
# t130_standby_kill.sh: a killed standby leaves the ro ring and its sessions fail at once;
# restarted, it is re-attached automatically (auto_failback), but not twice within
# auto_failback_interval
# lab: fresh
. "$(dirname "$0")/lib.sh"

session_open ro 5433
read -r name _ <<<"$(session_who ro)"
id=${name#db}
other=$((id == 1 ? 2 : 1))
lab pg "$name" kill
reply=$(session_who ro)
read -r word ms _ <<<"$reply"
check "standby kill: its open session fails at once ($ms ms), it does not hang" test "$word" = error -a "${ms:-99999}" -lt 2000
check "standby kill: pgxrd marks it down" wait_for 10 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print([n['status'] for n in json.load(sys.stdin) if n['node_id'] == $id][0])\")\" = down ]"
out=$(pyclient spread 5433 30)
same "standby kill: new ro sessions all go to the other standby" "$(echo "$out" | json "d['counts']")" "{'db$other': 30}"
check "standby kill: it is out of the ro ring" bash -c "! '$LAB_SH' pgxrctl service list | grep -E '^1 ' | grep -q ' $id ('"
lab pg "$name" start
check "auto_failback: restarted and streaming, it is attached again" wait_for 20 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print([n['status'] for n in json.load(sys.stdin) if n['node_id'] == $id][0])\")\" = up ]"
diag "re-attached $WAITED s after its restart"
out=$(pyclient spread 5433 60)
check "auto_failback: it takes ro sessions again ($(echo "$out" | json "d['counts']"))" \
	test "$(echo "$out" | json "d['counts'].get('$name', 0)")" -gt 0
check "auto_failback: the event history says why" bash -c "'$LAB_SH' pgxrctl event list | grep -q 'auto_failback'"
check "auto_failback: a restart alone does not rewrite its primary_conninfo" \
	bash -c "! '$LAB_SH' pgxrctl event list | grep -q 'follows node'"
# a second crash within auto_failback_interval (60 s): it stays out until attached
lab pg "$name" kill
check "auto_failback_interval: killed again, it is down" wait_for 10 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print([n['status'] for n in json.load(sys.stdin) if n['node_id'] == $id][0])\")\" = down ]"
lab pg "$name" start
sleep 4
same "auto_failback_interval: streaming again within 60 s, it is not attached again" "$(node_field "$id" status)" down
check "auto_failback_interval: node list says why" bash -c "'$LAB_SH' pgxrctl node list | grep -q '^# node $id: attached again at most every auto_failback_interval (60 s)'"
ctl node attach "$id" >/dev/null
same "auto_failback_interval: an operator attaches it" "$(node_field "$id" status)" up
session_close ro
e2e_done
