#!/usr/bin/env bash
# t230_blind_router.sh: the primary drops only the router's packets (pg_hba, a firewall) while
# clients keep writing through the VIP: its standbys still stream from it, so pgxrd calls the
# failover off: no promotion, no fence, no lost commit, no failed write
# lab: fresh
. "$(dirname "$0")/lib.sh"

lab psql db0 -qX -c "CREATE TABLE acked (id int PRIMARY KEY)" >/dev/null
acks=$LAB_DIR/t230.acks
writer_start t230 40
sleep 2
router_blocked_at db0 t230
check "blind router: pgxrd cannot reach the primary" wait_for 15 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print([n['pg_status'] for n in json.load(sys.stdin) if n['node_id'] == 0][0])\")\" = down ]"
check "blind router: the standbys witness that it lives: the failover is called off" \
	wait_for 15 bash -c "'$LAB_SH' pgxrctl event list | grep -q 'failover called off: node [12] still receives WAL from it'"
sleep 6
out=$(ctl node list)
diag "$(tr '\n' '|' <<<"$out")"
check "blind router: node list says why" grep -q "^# node 0: pgxrd cannot reach it (.*), but node [12] still streams from it" <<<"$out"
lab exec db0 nft delete table inet t230
check "blind router: pgxrd reaches the primary again" wait_for 15 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print([n['pg_status'] for n in json.load(sys.stdin) if n['node_id'] == 0][0])\")\" = up ]"
writer_stop t230
check "blind router: no standby was promoted" bash -c "! '$LAB_SH' pgxrctl event list | grep -q 'chosen for promotion'"
check "blind router: nothing was fenced" bash -c "! '$LAB_SH' pgxrctl event list | grep -q 'fenced'"
same "blind router: node 0 stayed the routed primary" "$(primary_id)" 0
same "blind router: every write went to db0" "$(awk '$1 == "ok" && $4 != "db0"' "$acks" | wc -l)" 0
same "blind router: no write failed" "$(grep -c '^fail' "$acks")" 0
check_no_loss "blind router" "$acks"
check_one_primary "blind router"
e2e_done
