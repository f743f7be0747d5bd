#!/usr/bin/env bash
# t105_failover_command.sh: failover through failover_command and pgpool's placeholders; the
# other standby follows through follow_primary_command instead of pgxrd's own follow
# lab: fresh LAB_CONF_EXTRA=failover_command='$LAB_DIR/t105.sh\x20%d\x20%h\x20%p\x20%m\x20%H\x20%r\x20%P\x20%N\x20%S\x20%%'\nfollow_primary_command='$LAB_DIR/t105f.sh\x20%d\x20%h\x20%m\x20%H\x20%P'
. "$(dirname "$0")/lib.sh"

# what pgpool users write: record the arguments, promote the new main node
cat >"$LAB_DIR/t105.sh" <<SCRIPT
#!/bin/sh
echo "failed=\$1/\$2:\$3 new=\$4/\$5:\$6 old=\$7/\$8:\$9 \${10}" >"$LAB_DIR/t105.args"
PGPASSWORD='$PGPASSWORD' exec psql -XAtq -h "\$5" -p "\$6" -U postgres -d postgres -c 'SELECT pg_promote(true, 60)'
SCRIPT
chmod +x "$LAB_DIR/t105.sh"
cat >"$LAB_DIR/t105f.sh" <<SCRIPT
#!/bin/sh
echo "standby=\$1/\$2 new=\$3/\$4 old=\$5 env=\$PGXR_FAILED_NODE_ID/\$PGXR_NEW_MAIN_NODE_ID" >>"$LAB_DIR/t105f.args"
SCRIPT
chmod +x "$LAB_DIR/t105f.sh"
lab psql db0 -qX -c "CREATE TABLE acked (id int PRIMARY KEY)" >/dev/null
writer_start t105 30
sleep 2
kill_ms=$(now_ms)
lab pg db0 kill
check "failover_command: a standby becomes the primary" wait_for 15 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print([n['node_id'] for n in json.load(sys.stdin) if n['role'] == 'primary' and n['status'] == 'up'])\")\" != '[]' ]"
new=$(primary_id)
check "failover_command: pgxrd ran it" grep -qF "failover_command: running \$LAB_DIR/t105.sh 0 $LAB_NET.20 5432 " "$LAB_DIR/pgxrd.log"
same "failover_command: the placeholders were expanded" "$(cat "$LAB_DIR/t105.args" 2>/dev/null)" \
	"failed=0/$LAB_NET.20:5432 new=$new/$LAB_NET.2$new:5432 old=0/$LAB_NET.20:5432 %"
same "failover_command: VIP:5432 reaches the promoted node" \
	"$(vip_sql 5432 "SELECT current_setting('cluster_name') || ' ' || pg_is_in_recovery()")" "db$new false"
same "failover_command: the old primary is fenced" "$(node_field 0 status)" fenced
check "failover_command: the new primary acknowledges writes" wait_for 10 bash -c "grep -q ' db$new\$' '$LAB_DIR/t105.acks'"
writer_stop t105
check_no_loss_before "failover_command" "$LAB_DIR/t105.acks" "$kill_ms"
check_one_primary "failover_command"
other=$((new == 1 ? 2 : 1))
check "follow_primary_command: it ran for the other standby" wait_for 10 test -s "$LAB_DIR/t105f.args"
same "follow_primary_command: its placeholders and PGXR_* variables" "$(cat "$LAB_DIR/t105f.args" 2>/dev/null)" \
	"standby=$other/$LAB_NET.2$other new=$new/$LAB_NET.2$new old=0 env=$other/$new"
check "follow_primary_command: pgxrd did not re-point the standby itself" \
	bash -c "! '$LAB_SH' pgxrctl event list | grep -q 'follows node $new now (primary_conninfo changed'"
e2e_done
