#!/usr/bin/env bash
# t201_switchover_idle.sh: a switchover of a primary that writes nothing.  After a WAL segment
# switch (archive_timeout, pg_switch_wal, a start) the primary's insert position points past a
# page header where no record may come for 15 s (the next standby snapshot): a switchover that
# waits for the candidate to replay up to it refuses writes that long.  pgxr flushes a commit of
# its own and waits for the end of it.  A writer runs before and after the switchover, not
# across it: its commits would flush the WAL and hide the idle case
# lab: fresh
. "$(dirname "$0")/lib.sh"
T=t201

lab psql db0 -qX -c "CREATE TABLE acked (id int PRIMARY KEY)" >/dev/null
writer_start $T.before 3
writer_wait $T.before
lab psql db0 -qXAt -c "SELECT pg_switch_wal()" >/dev/null
read -r ins fl <<<"$(lab psql db0 -XAt -F ' ' -c "SELECT pg_current_wal_insert_lsn(), pg_current_wal_flush_lsn()")"
check "idle: after the segment switch the insert position ($ins) is past the last record's end ($fl)" \
	test "$ins" != "$fl"
start=$(now_ms)
out=$(ctl node promote 1 2>&1)
same "idle: pgxrctl node promote 1 succeeds" "$?" 0
diag "$(tr '\n' '|' <<<"$out")"
refused=$(sed -n 's/^writes were refused for \([0-9]*\) ms$/\1/p' <<<"$out")
check "idle: writes were refused for under a second (${refused:-?} ms), not until the next WAL record" \
	test -n "$refused" -a "${refused:-99999}" -lt 1000
# ids of their own: the first writer's stay in the table
writer_start $T.after 3 5432 1000000
writer_wait $T.after
cat "$LAB_DIR/$T.before.acks" "$LAB_DIR/$T.after.acks" >"$LAB_DIR/$T.acks"
check "idle: node 1 acknowledges commits through VIP:5432 after it" \
	test -n "$(first_ack_by "$LAB_DIR/$T.acks" db1 "$start")"
check_no_loss "idle switchover" "$LAB_DIR/$T.acks"
check_one_primary "idle switchover"
same "idle: node 0 is a standby that is up" "$(node_field 0 status) $(node_field 0 role)" "up standby"
e2e_done
