#!/usr/bin/env bash
# t235_survey_called_off.sh: the primary is lost to pgxrd, and answers again while the standbys
# are still being asked for their positions: the failover is called off, the primary stays
# routed (its clients never noticed) and nothing is fenced.  The standbys' health backends are
# stopped (SIGSTOP) to hold the survey open; health_check_timeout1/2 keep them from being
# given up meanwhile
# lab: fresh LAB_CONF_EXTRA=health_check_max_retries=0\nhealth_check_timeout1=20\nhealth_check_timeout2=20
. "$(dirname "$0")/lib.sh"

lab psql db0 -qX -c "CREATE TABLE acked (id int PRIMARY KEY)" >/dev/null
hold=$(for n in 1 2; do lab psql "db$n" -XAt -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgxrd'"; done | tr '\n' ' ')
diag "pgxrd's backends on the standbys: $hold"
acks=$LAB_DIR/t235.acks
writer_start t235 40
sleep 1
router_blocked_at db0 t235
kill -STOP $hold
check "survey: pgxrd loses the primary and asks the standbys" \
	wait_for 15 bash -c "'$LAB_SH' pgxrctl event list | grep -q 'failover: health check failed'"
lab exec db0 nft delete table inet t235
check "survey: the primary answers during the survey: the failover is called off" \
	wait_for 10 bash -c "'$LAB_SH' pgxrctl event list | grep -q 'failover called off: the primary answers again'"
kill -CONT $hold
sleep 2
writer_stop t235
check "survey: no standby was promoted" bash -c "! '$LAB_SH' pgxrctl event list | grep -q 'chosen for promotion'"
check "survey: nothing was fenced, nothing taken out of routing" bash -c "! '$LAB_SH' pgxrctl event list | grep -qE 'fenced|up -> down'"
same "survey: node 0 is the primary" "$(primary_id)" 0
same "survey: no write failed" "$(grep -c '^fail' "$acks")" 0
check_no_loss "survey" "$acks"
check_one_primary "survey"
e2e_done
