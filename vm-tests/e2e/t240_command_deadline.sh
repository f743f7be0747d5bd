#!/usr/bin/env bash
# t240_command_deadline.sh: a failover_command that never exits is killed at command_timeout
# with its process group, never overlaps its retry, and the retried command promotes
# lab: fresh LAB_CONF_EXTRA=failover_command='$LAB_DIR/t240.sh\x20%m\x20%H'\ncommand_timeout=3
. "$(dirname "$0")/lib.sh"

cat >"$LAB_DIR/t240.sh" <<SCRIPT
#!/bin/sh
trap 'echo "killed \$(date +%s%3N) \$\$" >>"$LAB_DIR/t240.runs"; exit 143' TERM
echo "start \$(date +%s%3N) \$\$ new=\$1 env=\$PGXR_NEW_MAIN_NODE_ID pw=\${PGPASSWORD:-none}" >>"$LAB_DIR/t240.runs"
if [ ! -e "$LAB_DIR/t240.first" ]; then
	touch "$LAB_DIR/t240.first"
	sleep 1000 &
	echo \$! >"$LAB_DIR/t240.child"
	wait
fi
PGPASSWORD='$PGPASSWORD' psql -XAtq -h "\$2" -U postgres -d postgres -c 'SELECT pg_promote(true, 60)'
echo "end \$(date +%s%3N) \$\$" >>"$LAB_DIR/t240.runs"
SCRIPT
chmod +x "$LAB_DIR/t240.sh"
# a password in pgxrd's own environment must not reach the commands it runs
lab pgxrd stop
LAB_PGXRD_ENV=PGPASSWORD=not-for-children lab pgxrd start
lab psql db0 -qX -c "CREATE TABLE acked (id int PRIMARY KEY)" >/dev/null
acks=$LAB_DIR/t240.acks
writer_start t240 30
sleep 2
kill_ms=$(now_ms)
lab pg db0 kill
check "command deadline: the failover completes on the second run" \
	wait_for 25 bash -c "'$LAB_SH' pgxrctl event list | grep -q 'failover complete'"
writer_stop t240
diag "$(tr '\n' '|' <"$LAB_DIR/t240.runs")"
same "command deadline: it ran twice" "$(grep -c '^start' "$LAB_DIR/t240.runs")" 2
check "command deadline: the first run was killed (SIGTERM to its process group)" grep -q '^killed' "$LAB_DIR/t240.runs"
check "command deadline: what the first run started was killed too" bash -c "! kill -0 \$(cat '$LAB_DIR/t240.child') 2>/dev/null"
first=$(awk '$1 == "start" { print $2; exit }' "$LAB_DIR/t240.runs")
killed=$(awk '$1 == "killed" { print $2; exit }' "$LAB_DIR/t240.runs")
second=$(awk '$1 == "start" { n++ } $1 == "start" && n == 2 { print $2 }' "$LAB_DIR/t240.runs")
check "command deadline: killed at command_timeout ($((killed - first)) ms after it started)" \
	test "$((killed - first))" -ge 2900 -a "$((killed - first))" -lt 4500
check "command deadline: the retry started after the first run was gone ($((second - killed)) ms later)" \
	test "$second" -gt "$killed"
check "command deadline: the retry, whose promotion was seen, ran to its end" \
	wait_for 10 grep -q '^end' "$LAB_DIR/t240.runs"
check "command deadline: placeholders as arguments and PGXR_* variables agree" \
	bash -c "grep '^start' '$LAB_DIR/t240.runs' | awk '{ split(\$4, a, \"=\"); split(\$5, b, \"=\"); if (a[2] != b[2]) exit 1 }'"
check "command deadline: the command got no password from pgxrd" bash -c "! grep '^start' '$LAB_DIR/t240.runs' | grep -qv 'pw=none'"
check "command deadline: the event history says why the first run failed" \
	bash -c "'$LAB_SH' pgxrctl event list | grep -q 'failover_command did not exit within command_timeout (3 s): killed'"
check_no_loss_before "command deadline" "$acks" "$kill_ms"
check_one_primary "command deadline"
e2e_done
