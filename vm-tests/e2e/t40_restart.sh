#!/usr/bin/env bash
# t40_restart.sh: a pgxrd restart (and pgxrd being down) does not interrupt open sessions
. "$(dirname "$0")/lib.sh"

session_open rw 5432
session_open ro 5433
rw1=$(session_who rw) ro1=$(session_who ro)
diag "before: rw '$rw1', ro '$ro1'"
lab pgxrd stop
same "restart: the rw session works while pgxrd is down" "$(session_who rw)" "$rw1"
same "restart: the ro session works while pgxrd is down" "$(session_who ro)" "$ro1"
same "restart: new sessions work while pgxrd is down" \
	"$(vip_sql 5432 "SELECT current_setting('cluster_name')")" db0
mark=$(wc -l <"$LAB_DIR/pgxrd.log")
lab pgxrd start
same "restart: the rw session still works on the same backend after the restart" "$(session_who rw)" "$rw1"
same "restart: the ro session still works on the same backend after the restart" "$(session_who ro)" "$ro1"
check "restart: pgxrd took over the attached program instead of reattaching" \
	grep -q 'XDP program already attached' <(tail -n +"$((mark + 1))" "$LAB_DIR/pgxrd.log")
session_close rw
session_close ro
e2e_done
