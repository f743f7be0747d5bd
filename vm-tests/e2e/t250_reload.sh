#!/usr/bin/env bash
# t250_reload.sh: pgxrctl reload and SIGHUP apply weights and a lag threshold online, name what
# needs a restart, and a broken file changes nothing and says file:line
# lab: fresh
. "$(dirname "$0")/lib.sh"

conf=$LAB_DIR/pgxr.conf
ro_ring() { ctl -j service list | json "sorted(b['id'] for s in d if s['kind'] == 'ro' for b in s['backends'])"; }
same "reload: both standbys are in the ro ring" "$(ro_ring)" "[1, 2]"
sed -i 's/^backend_weight2 = .*/backend_weight2 = 0/' "$conf"
out=$(ctl reload 2>&1)
same "reload: pgxrctl reload succeeds" "$?" 0
diag "$(tr '\n' '|' <<<"$out")"
check "reload: the reply says so" grep -q "configuration reloaded from \"$conf\"" <<<"$out"
same "reload: weight 0 takes node 2 out of the ro ring" "$(ro_ring)" "[1]"
same "reload: node list shows the new weight" "$(node_field 2 lb_weight)" "0"
# a threshold: db1 replays nothing while the primary writes; with delay_threshold off it stays
lab psql db1 -qX -c "SELECT pg_wal_replay_pause()" >/dev/null
lab psql db0 -qX -c "CREATE TABLE t250 AS SELECT g FROM generate_series(1, 20000) g" >/dev/null
sleep 2.5
same "reload: with delay_threshold 0 the lagging db1 stays in the ro ring" "$(ro_ring)" "[1]"
echo "delay_threshold = 10000" >>"$conf"
ctl reload >/dev/null
check "reload: delay_threshold 10000 takes the lagging db1 out" \
	wait_for 10 bash -c "[ \"\$('$LAB_SH' pgxrctl -j service list | /usr/bin/python3 -c \"import json,sys; print(sorted(b['id'] for s in json.load(sys.stdin) if s['kind'] == 'ro' for b in s['backends']))\")\" = '[0]' ]"
check "reload: the event history says it lags" bash -c "'$LAB_SH' pgxrctl event list | grep -q 'lagging [0-9]* bytes'"
lab psql db1 -qX -c "SELECT pg_wal_replay_resume()" >/dev/null
check "reload: db1 caught up is back in the ro ring" wait_for 10 bash -c "[ \"\$('$LAB_SH' pgxrctl -j service list | /usr/bin/python3 -c \"import json,sys; print(sorted(b['id'] for s in json.load(sys.stdin) if s['kind'] == 'ro' for b in s['backends']))\")\" = '[1]' ]"
# what needs a restart is named, and not applied
echo "rw_port = 6432" >>"$conf"
out=$(ctl reload 2>&1)
check "reload: a changed rw_port is named as needing a restart" grep -q 'need a restart of pgxrd to take effect: rw_port' <<<"$out"
same "reload: VIP:5432 still reaches the primary" "$(vip_sql 5432 "SELECT current_setting('cluster_name')")" db0
# a broken file changes nothing
sed -i 's/^backend_weight2 = .*/backend_weight2 = 2/' "$conf"
echo "health_check_period = banana" >>"$conf"
line=$(wc -l <"$conf")
out=$(ctl reload 2>&1)
check "reload: a broken file is refused" test $? -ne 0
diag "$(tr '\n' '|' <<<"$out")"
check "reload: the error names file:line and what was expected" \
	grep -q "$conf:$line: invalid value for parameter \"health_check_period\": \"banana\" (expected an integer from 0 to 3600)" <<<"$out"
same "reload: nothing changed (node 2 still out of the ro ring)" "$(ro_ring)" "[1]"
# SIGHUP does the same as pgxrctl reload
sed -i '$d' "$conf"
sed -i '/^rw_port = 6432$/d' "$conf"
kill -HUP "$(cat "$LAB_DIR/lab-pgxrd.pid")"
check "reload: SIGHUP reloads the file" wait_for 10 bash -c "[ \"\$('$LAB_SH' pgxrctl -j service list | /usr/bin/python3 -c \"import json,sys; print(sorted(b['id'] for s in json.load(sys.stdin) if s['kind'] == 'ro' for b in s['backends']))\")\" = '[1, 2]' ]"
check "reload: the log says SIGHUP" grep -q 'received SIGHUP, reloading' "$LAB_DIR/pgxrd.log"
e2e_done
