#!/usr/bin/env bash
# t55_neigh.sh: a backend whose MAC changes keeps being reached (neighbour events, re-validation)
. "$(dirname "$0")/lib.sh"

mac_of() { ctl -j backend list | json "[b['mac'] for b in d if b['id'] == $1][0]"; }
# wait_mac ID MAC SECONDS: prints the seconds it took, or fails
wait_mac() {
	local start=$SECONDS
	while [ $((SECONDS - start)) -le "$3" ]; do
		[ "$(mac_of "$1")" = "$2" ] && { echo $((SECONDS - start)); return 0; }
		sleep 0.2
	done
	return 1
}

session_open ro 5433
read -r name _ <<<"$(session_who ro)"
id=${name#db}
# a backend that announces its new address (arp_notify) is followed at once
lab exec "$name" sysctl -qw net.ipv4.conf.eth0.arp_notify=1
lab exec "$name" ip link set dev eth0 address 02:00:5e:00:53:0$id
took=$(wait_mac "$id" "02:00:5e:00:53:0$id" 5)
check "neigh: an announced MAC change of $name reaches the map (${took:-no} s)" test -n "$took"
reply=$(session_who ro)
check "neigh: the open session to $name continues on the new MAC" grep -q "^$name " <<<"$reply"
# one that does not announce it is found by pgxrd's periodic re-validation
other=$((id == 1 ? 2 : 1))
lab exec "db$other" ip link set dev eth0 address 02:00:5e:00:53:1$other
took=$(wait_mac "$other" "02:00:5e:00:53:1$other" 90)
check "neigh: a silent MAC change of db$other is found by re-validation (${took:-no} s)" test -n "$took"
# while the router's own entry was stale its health checks may have failed too, and one that
# began then may still fail: up means up for a whole check cycle (timeout 2 s, a retry after 1 s)
all_up() { [ "$(ctl -j node list | json "sorted(n['status'] for n in d)")" = "['up', 'up', 'up']" ]; }
stable_up() {
	local n=0
	for _ in $(seq 40); do
		if all_up; then n=$((n + 1)); else n=0; fi
		[ "$n" -ge 7 ] && return 0
		sleep 1
	done
	return 1
}
check "neigh: both standbys are up again, for a whole check cycle" stable_up
out=$(pyclient spread 5433 30)
same "neigh: new sessions reach both standbys at their new MACs" \
	"$(echo "$out" | json "sorted(d['counts'])")" "['db1', 'db2']"
session_close ro
e2e_done
