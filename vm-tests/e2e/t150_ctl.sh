#!/usr/bin/env bash
# t150_ctl.sh: pgxrctl node/event through the control socket; bad requests; stale pid file
# and socket after a crash; the VIP announced with gratuitous ARP
# lab: fresh
. "$(dirname "$0")/lib.sh"

sock=$LAB_DIR/pgxrd.sock
out=$(ctl node list)
check "ctl: node list has pgpool's SHOW pool_nodes columns" grep -qE '^node_id +hostname +port +status +pg_status +lb_weight +role +pg_role +select_cnt +load_balance_node +replication_delay +replication_state +replication_sync_state +last_status_change$' <<<"$out"
check "ctl: node list -j is valid JSON with three nodes" bash -c "'$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c 'import json,sys; assert len(json.load(sys.stdin)) == 3'"
check "ctl: node list -p is valid JSON" bash -c "'$LAB_SH' pgxrctl -p node list | /usr/bin/python3 -m json.tool >/dev/null"
check "ctl: node info shows the node as pcp_node_info does" bash -c "'$LAB_SH' pgxrctl node info 0 | grep -q '^Role                   : primary$'"
check "ctl: event list -j is valid JSON" bash -c "'$LAB_SH' pgxrctl -j event list | /usr/bin/python3 -m json.tool >/dev/null"
ctl node info 99 >/dev/null 2>"$LAB_DIR/t150.err"
same "ctl: node info of an unconfigured node exits 1" "$?" 1
check "ctl: the error says there is no such node" grep -q '^Error: no such node' "$LAB_DIR/t150.err"
ctl node info abc >/dev/null 2>&1
same "ctl: a node id that is not a number exits 2" "$?" 2
ctl node frob >/dev/null 2>&1
same "ctl: an unknown node command exits 2" "$?" 2
ctl node attach 0 >/dev/null 2>&1
same "ctl: attaching a node that is attached succeeds" "$?" 0
raw() { printf '%s' "$1" | timeout 5 socat - "UNIX-CONNECT:$sock" 2>/dev/null | head -1; }
same "ctl: a garbage request gets a usage reply" "$(raw $'hello\n')" "usage expected FORMAT OBJECT COMMAND [ARG]..."
same "ctl: an unknown command gets a usage reply" "$(raw $'plain node explode\n')" 'usage unknown command "node explode"'
same "ctl: a request too long is refused" "$(raw "$(head -c 2000 /dev/zero | tr '\0' x)")" "usage request too long"
timeout 2 socat - "UNIX-CONNECT:$sock" </dev/null >/dev/null 2>&1
check "ctl: pgxrd still answers after all that" bash -c "'$LAB_SH' pgxrctl node list >/dev/null"

# detach and attach a standby by hand
check "ctl: node detach 2" ctl node detach 2
out=$(pyclient spread 5433 20)
same "ctl: a detached standby gets no ro sessions" "$(echo "$out" | json "d['counts']")" "{'db1': 20}"
same "ctl: node list shows it down" "$(node_field 2 status)" down
check "ctl: node attach 2" ctl node attach 2
same "ctl: node list shows it up again" "$(node_field 2 status)" up

# a crashed pgxrd leaves its pid file and socket; the next one takes over
kill -KILL "$(cat "$LAB_DIR/lab-pgxrd.pid")"
sleep 0.3
check "crash: the pid file and the socket are left behind" test -e "$LAB_DIR/pgxrd.pid" -a -S "$sock"
rm -f "$LAB_DIR/lab-pgxrd.pid"
# a client whose neighbour entry for the VIP is wrong learns it from the announcement
lab exec cli ip neigh replace "$VIP" lladdr 02:00:00:00:00:99 dev eth0 nud stale
lab pgxrd start
check "crash: a new pgxrd starts over the stale pid file and socket" grep -q 'replacing the stale pid file' "$LAB_DIR/pgxrd.log"
check "crash: its control socket answers" bash -c "'$LAB_SH' pgxrctl node list >/dev/null"
rtr_mac=$(lab exec rtr ip -br link show dev eth0 | awk '{print $3}')
check "vip: the gratuitous ARP corrects the client's neighbour entry for the VIP" \
	wait_for 3 bash -c "'$LAB_SH' exec cli ip neigh show $VIP dev eth0 | grep -q '$rtr_mac'"
e2e_done
