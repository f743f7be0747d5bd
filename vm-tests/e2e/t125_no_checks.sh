#!/usr/bin/env bash
# t125_no_checks.sh: a node with health_check_period 0 is not checked, so never set down, also
# when clients resend segments to it: the retransmissions the XDP program counts start a check
# of other nodes only (pgpool's meaning of 0: no health checks for that node)
# lab: fresh LAB_CONF_EXTRA=health_check_period1=0\nbackend_weight2=0
. "$(dirname "$0")/lib.sh"

session_open ro 5433
read -r name _ <<<"$(session_who ro)"
same "no checks: the ro session is on db1 (db2 has weight 0)" "$name" db1
retrans0=$(ctl -j backend list | json "[b['retrans'] for b in d if b['id'] == 1][0]")
lab link db1 down
reply=$(session_who ro)
diag "with db1 cut off: $reply"
check "no checks: the client sent segments to db1 again, and the program counted them" \
	wait_for 5 bash -c "[ \"\$('$LAB_SH' pgxrctl -j backend list | /usr/bin/python3 -c \"import json,sys; print([b['retrans'] for b in json.load(sys.stdin) if b['id'] == 1][0])\")\" -gt $retrans0 ]"
# longer than a check and its retry would take to set it down (2 s + 1 s + 2 s)
sleep 6
check "no checks: pgxrd did not check db1 for them" bash -c "! grep -q 'node 1: clients sent' '$LAB_DIR/pgxrd.log'"
same "no checks: db1 is still up" "$(node_field 1 status)" up
lab link db1 up
session_close ro
e2e_done
