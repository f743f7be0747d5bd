#!/usr/bin/env bash
# t110_sync_noloss.sh: with synchronous replication (remote_apply), no acknowledged
# commit is lost across a failover after kill -9 of the primary
# lab: fresh
. "$(dirname "$0")/lib.sh"

lab psql db0 -qX -c "CREATE TABLE acked (id int PRIMARY KEY)" \
	-c "ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 (db1, db2)'" \
	-c "ALTER SYSTEM SET synchronous_commit = 'remote_apply'" -c "SELECT pg_reload_conf()" >/dev/null
check "sync: both standbys are synchronous candidates (quorum)" \
	wait_for 10 bash -c "[ \"\$('$LAB_SH' psql db0 -XAt -c \"SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'quorum'\")\" = 2 ]"
acks=$LAB_DIR/t110.acks
pyclient writer 5432 10 "$acks" >/dev/null &
writer=$!
sleep 3
kill_ms=$(now_ms)
lab pg db0 kill
wait "$writer"
new=$(primary_id)
check "sync: a standby was promoted (node $new)" test "$new" = 1 -o "$new" = 2
total=$(awk '$1 == "ok"' "$acks" | wc -l)
before=$(awk -v t="$kill_ms" '$1 == "ok" && $3 < t' "$acks" | wc -l)
# every acknowledged id, through COPY: far too many for a command line
found=$(awk '$1 == "ok" { print $2 }' "$acks" | lab psql "db$new" -XAtq -c "CREATE TEMP TABLE ids (id int)" \
	-c "COPY ids FROM STDIN" -c "SELECT count(*) FROM ids JOIN acked USING (id)")
diag "$total acknowledged commits ($before before the kill); $found of them on node $new"
check "sync: commits were acknowledged before and after the failover" test "$before" -gt 0 -a "$total" -gt "$before"
same "sync: every acknowledged commit is on the new primary" "$found" "$total"
check_one_primary "sync"
e2e_done
