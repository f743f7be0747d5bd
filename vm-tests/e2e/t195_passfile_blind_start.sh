#!/usr/bin/env bash
# t195_passfile_blind_start.sh: health checks take their password from a passfile; a pgxrd
# that could reach no node promotes nobody when it sees again: the primary is checked
# once more before a standby is promoted
# lab: fresh LAB_CONF_EXTRA=health_check_password=''\nhealth_check_timeout=4
. "$(dirname "$0")/lib.sh"

statuses() { ctl -j node list | json "sorted(n['status'] for n in d)"; }
all_are() { [ "$(statuses)" = "$1" ]; }
# events_grow TEXT N: more than N events say TEXT
events_grow() { [ "$(ctl event list | grep -c "$1")" -gt "$2" ]; }
pf=$LAB_DIR/pgpass
# the lab's pgxrd has no password at all: it sees nobody
check "passfile: without a password every node is down" wait_for 10 all_are "['down', 'down', 'down']"
printf '*:*:*:postgres:%s\n' "$PGPASSWORD" >"$pf"
chmod 600 "$pf"
lab pgxrd stop
PGPASSFILE=$pf lab pgxrd start
check "passfile: with it every node is up" wait_for 10 all_are "['up', 'up', 'up']"
same "passfile: node 0 is the primary" "$(primary_id)" 0
# pgxrd restarted blind: the primary it knew (from the pinned maps) does not answer
lab pgxrd stop
printf '*:*:*:postgres:not-the-password\n' >"$pf"
PGPASSFILE=$pf lab pgxrd start
check "passfile: a wrong password leaves every node down" wait_for 10 all_are "['down', 'down', 'down']"
check "passfile: node info tells why" bash -c "'$LAB_SH' pgxrctl node info 0 | grep -q 'password authentication failed'"
check "blind start: the failover waits for a standby" wait_for 15 bash -c "'$LAB_SH' pgxrctl event list | grep -q 'no standby is up to promote'"
printf '*:*:*:postgres:%s\n' "$PGPASSWORD" >"$pf"
check "blind start: with the right password again every node is up" wait_for 10 all_are "['up', 'up', 'up']"
sleep 2
same "blind start: all nodes up and none fenced" "$(statuses)" "['up', 'up', 'up']"
same "blind start: node 0 is still the primary" "$(primary_id)" 0
check "blind start: no standby was promoted" bash -c "! '$LAB_SH' pgxrctl event list | grep -q 'chosen for promotion'"
check "blind start: the failover was called off" bash -c "'$LAB_SH' pgxrctl event list | grep -q 'failover called off: the primary is back'"

# the same blindness, with the standbys seen again first: pgxrd's own packets to the
# nodes are dropped (client flows take the XDP path and do not pass netfilter).  Clients
# still write on db0, and its standbys get that WAL after pgxrd lost db0: they are the
# witnesses that only pgxrd's path is broken, and nobody is promoted

db() { echo "$LAB_NET.$((20 + $1))"; }
lab exec rtr nft add table inet t195
lab exec rtr nft add chain inet t195 out '{ type filter hook output priority 0; }'
for n in 0 1 2; do
	lab exec rtr nft add rule inet t195 out ip daddr "$(db $n)" tcp dport 5432 drop comment "db$n"
done
unblock() {
	local h
	h=$(lab exec rtr nft -a list chain inet t195 out | sed -n "s/.*comment \"$1\" # handle \([0-9]*\)/\1/p")
	lab exec rtr nft delete rule inet t195 out handle "$h"
}
lab psql db0 -qX -c "CREATE TABLE t195 (x int)" >/dev/null
check "cut off: every node is down" wait_for 25 all_are "['down', 'down', 'down']"
check "cut off: the failover waits for a standby" wait_for 15 events_grow 'no standby is up to promote' 1
offs=$(ctl event list | grep -c 'still receives WAL from it')
# a client of db0 writes until pgxrd sees it again; the standbys stream it
touch "$LAB_DIR/t195.writing"
while [ -e "$LAB_DIR/t195.writing" ]; do lab psql db0 -qX -c "INSERT INTO t195 VALUES (1)" >/dev/null; sleep 0.1; done &
unblock db1
unblock db2
check "cut off: a standby back says the primary lives: the failover is called off" \
	wait_for 15 events_grow 'still receives WAL from it' "$offs"
same "cut off: node 0 is routed as the primary again, though pgxrd cannot reach it" "$(primary_id)" 0
unblock db0
check "cut off: pgxrd sees node 0 again" wait_for 10 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print([n['pg_status'] for n in json.load(sys.stdin) if n['node_id'] == 0][0])\")\" = up ]"
rm -f "$LAB_DIR/t195.writing"
wait
check "cut off: every node is up again" wait_for 10 all_are "['up', 'up', 'up']"
same "cut off: node 0 is still the primary" "$(primary_id)" 0
check "cut off: no standby was promoted" bash -c "! '$LAB_SH' pgxrctl event list | grep -q 'chosen for promotion'"
same "cut off: db1 is still a standby" "$(lab psql db1 -XAtc 'SELECT pg_is_in_recovery()')" t
same "cut off: VIP:5432 reaches db0" "$(vip_sql 5432 "SELECT current_setting('cluster_name')")" db0

# cut off again, and the operator detaches the primary meanwhile: when pgxrd sees again,
# the primary answers but is not routed, so the confirmation lets the failover go on
block() {
	for n in 0 1 2; do
		lab exec rtr nft add rule inet t195 out ip daddr "$(db $n)" tcp dport 5432 drop comment "db$n"
	done
}
waits=$(ctl event list | grep -c 'no standby is up to promote')
block
check "detached while cut off: every node is down" wait_for 25 all_are "['down', 'down', 'down']"
check "detached while cut off: the failover waits for a standby" wait_for 15 events_grow 'no standby is up to promote' "$waits"
ctl node detach 0 >/dev/null
unblock db0
unblock db1
unblock db2
check "detached while cut off: a standby is promoted once pgxrd sees again" wait_for 20 bash -c "'$LAB_SH' pgxrctl event list | grep -q 'chosen for promotion'"
check "detached while cut off: the new primary is routed" wait_for 10 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print([n['node_id'] for n in json.load(sys.stdin) if n['role'] == 'primary' and n['status'] == 'up'])\")\" != '[]' ]"
check "detached while cut off: VIP:5432 writes on the new primary" bash -c "[ \"\$(timeout 20 '$LAB_SH' exec cli psql -XAt 'host=$VIP port=5432 user=postgres dbname=postgres connect_timeout=5' -c 'SELECT pg_is_in_recovery()')\" = f ]"
e2e_done
