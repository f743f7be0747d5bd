#!/usr/bin/env bash
# t200_switchover_load.sh: five switchovers in a row under continuous single-connection
# inserts (asynchronous streaming; t205 runs it with synchronous_mode = on): no acknowledged
# commit is lost, each old primary comes back as a standby of the new one, one primary is
# routed throughout, every standby streams from the new primary after each switchover, while
# every primary writes WAL without clients too (as checkpoints and autovacuum do): a standby
# that got the old primary's last WAL and not the candidate could follow no one
# lab: fresh
. "$(dirname "$0")/lib.sh"
T=${T:-t200}

lab psql db0 -qX -c "CREATE TABLE acked (id int PRIMARY KEY)" >/dev/null
acks=$LAB_DIR/$T.acks
writer_start $T 60
wal_noise_start $T 60
sleep 2
prev=0
for to in 1 2 0 1 2; do
	start=$(now_ms)
	out=$(ctl node promote "$to" 2>&1)
	rc=$?
	same "switchover $prev -> $to: pgxrctl node promote $to succeeds" "$rc" 0
	diag "$(tr '\n' '|' <<<"$out")"
	same "switchover $prev -> $to: node $to is the routed primary" "$(primary_id)" "$to"
	same "switchover $prev -> $to: node $prev is a standby that is up" \
		"$(node_field "$prev" status) $(node_field "$prev" role)" "up standby"
	refused=$(sed -n 's/^writes were refused for \([0-9]*\) ms$/\1/p' <<<"$out")
	check "switchover $prev -> $to: writes were refused for a bounded time (${refused:-?} ms)" \
		test -n "$refused" -a "${refused:-99999}" -lt 5000
	check "switchover $prev -> $to: node $to acknowledges commits" \
		wait_for 10 bash -c "[ \"\$(awk -v s=db$to -v t=$start '\$1 == \"ok\" && \$4 == s && \$3 >= t' '$acks' | wc -l)\" -gt 0 ]"
	check "switchover $prev -> $to: both other nodes stream from node $to" \
		wait_for 15 bash -c "[ \"\$('$LAB_SH' psql db$to -XAt -c \"SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'\")\" = 2 ]"
	prev=$to
done
writer_stop $T
wal_noise_stop $T
check_no_loss "five switchovers" "$acks"
check_one_primary "five switchovers"
# commits were acknowledged by one server after another, never two at once: an old
# primary stopped taking writes before its successor took them
order=$(awk '$1 == "ok" && $4 != last { printf "%s%s", sep, $4; sep = " "; last = $4 }' "$acks")
same "five switchovers: the servers that acknowledged commits, in order" "$order" "db0 db1 db2 db0 db1 db2"
if [ "${SYNC_MODE:-}" = on ]; then
	names=$(lab psql "db$(primary_id)" -XAt -c "SHOW synchronous_standby_names")
	check "synchronous_mode: the primary waits for ANY 1 of its standbys ($names)" \
		grep -qE '^ANY 1 \("db[0-9]", "db[0-9]"\)$' <<<"$names"
fi
e2e_done
