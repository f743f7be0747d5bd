#!/usr/bin/env bash
# t232_answered_error.sh: the primary answers pgxrd with an error (pg_hba rejects the router)
# and nobody writes: that is another fact than no answer; its standbys still stream from it,
# so with failover_on_backend_error nothing fails over
# lab: fresh
. "$(dirname "$0")/lib.sh"

hba=$LAB_DIR/db0/data/pg_hba.conf
cp "$hba" "$hba.t232"
{ echo "host all all $LAB_NET.2/32 reject"; cat "$hba.t232"; } >"$hba"
lab psql db0 -qX -c "SELECT pg_reload_conf()" \
	-c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgxrd'" >/dev/null
check "answered: pgxrd logs that the primary answered with an error" \
	wait_for 10 grep -q "node 0: .*it answered: FATAL: pg_hba.conf rejects connection .*(SQLSTATE 28000)" "$LAB_DIR/pgxrd.log"
check "answered: node info tells the error apart from no answer" \
	wait_for 5 bash -c "'$LAB_SH' pgxrctl node info 0 | grep -q 'Last health error *: answered: FATAL: pg_hba.conf rejects'"
check "answered: its standbys stream from it: the failover is called off" \
	wait_for 10 bash -c "'$LAB_SH' pgxrctl event list | grep -q 'failover called off: node [12] still receives WAL from it'"
sleep 3
check "answered: no standby was promoted" bash -c "! '$LAB_SH' pgxrctl event list | grep -q 'chosen for promotion'"
same "answered: node 0 is still the routed primary" "$(primary_id)" 0
cp "$hba.t232" "$hba"
lab psql db0 -qX -c "SELECT pg_reload_conf()" >/dev/null
check "answered: pgxrd reaches it again" wait_for 10 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print([n['pg_status'] for n in json.load(sys.stdin) if n['node_id'] == 0][0])\")\" = up ]"
check_one_primary "answered"
e2e_done
