#!/usr/bin/env bash
# t57_pmtu.sh: path MTU discovery through DSR: a client behind a 1280-byte link gets a large
# result from rw and ro, because the hop's "fragmentation needed" reaches the backend
. "$(dirname "$0")/lib.sh"

# the client's subnet, one router hop away: 10.79.0 -> 10.79.128
FAR_NET=${LAB_NET%.*}.$((${LAB_NET##*.} + 128))
GW_IP=$LAB_NET.3
FAR_IP=$FAR_NET.10
BIG=4194304

undo() {
	local n
	# the next gw (a test run again) has another MAC
	for n in db0 db1 db2 rtr; do
		lab exec "$n" ip route del "$FAR_NET.0/24" 2>/dev/null
		lab exec "$n" ip neigh flush to "$GW_IP" 2>/dev/null
	done
	ip netns del "$LAB-far" 2>/dev/null
	ip netns del "$LAB-gw" 2>/dev/null
	ip -n "$LAB-br" link del gw 2>/dev/null
	return 0
}
trap undo EXIT

# gw: on the lab's segment as any router, with a 1280-byte link toward the client (a VPN,
# a tunnel); the client's own link is 1500, so it offers an MSS the path cannot carry
ip netns add "$LAB-gw"
ip netns add "$LAB-far"
ip link add eth0 netns "$LAB-gw" type veth peer name gw netns "$LAB-br"
ip -n "$LAB-br" link set gw master br0 up
ip link add far0 netns "$LAB-gw" mtu 1280 type veth peer name eth0 netns "$LAB-far"
ip -n "$LAB-gw" addr add "$GW_IP/24" dev eth0
ip -n "$LAB-gw" addr add "$FAR_NET.1/24" dev far0
for d in eth0 far0 lo; do ip -n "$LAB-gw" link set "$d" up; done
ip -n "$LAB-far" addr add "$FAR_IP/24" dev eth0
ip -n "$LAB-far" link set eth0 up
ip -n "$LAB-far" link set lo up
ip -n "$LAB-far" route add default via "$FAR_NET.1"
lab exec gw sysctl -qw net.ipv4.ip_forward=1
# native XDP_TX on veth needs checksums the sender completed (DESIGN.md, lab facts)
lab exec far ethtool -K eth0 tx off >/dev/null
for n in 0 1 2; do
	lab exec "db$n" ip route add "$FAR_NET.0/24" via "$GW_IP"
done
lab exec rtr ip route add "$FAR_NET.0/24" via "$GW_IP"

far_sql() {
	timeout "$1" "$LAB_SH" exec far psql -XAt -v ON_ERROR_STOP=1 \
		"host=$VIP port=$2 user=postgres dbname=postgres connect_timeout=5" -c "$3"
}
tx_icmp() { ctl -j stats | json "[v['packets'] for v in d['verdicts'] if v['verdict'] == 'tx_icmp'][0]"; }
# big SECONDS PORT: the bytes of a BIG-byte value that reached the client; BIG_RC: psql's
# status (124: still waiting when the time was up)
big() {
	local out
	out=$(far_sql "$1" "$2" "SELECT repeat('x', $BIG)")
	BIG_RC=$?
	BIG_GOT=$(printf '%s' "$out" | wc -c)
}

same "pmtu: the client behind the 1280-byte link reaches VIP:5432" "$(far_sql 10 5432 'SELECT 1')" 1

# control: with the hop's ICMP dropped on its way out, the result stalls (what the router's
# own stack did with it); the rw node is the one that would learn the MTU, so ro is used
lab exec gw nft -f - <<'NFT'
table ip pmtu_block {
	chain out {
		type filter hook output priority 0; policy accept;
		icmp type destination-unreachable drop
	}
}
NFT
start=$(now_ms)
big 8 5433
diag "with the ICMP dropped: $BIG_GOT bytes after $(($(now_ms) - start)) ms (psql status $BIG_RC)"
# connected (a failed connection ends at once, with status 2), then waited for the rest
check "pmtu: control: without the hop's ICMP the ro result stalls" test "$BIG_RC" = 124 -a "$BIG_GOT" -lt "$BIG"
lab exec gw nft delete table ip pmtu_block

before=$(tx_icmp)
start=$(now_ms)
big 20 5432
diag "rw: $BIG_GOT bytes in $(($(now_ms) - start)) ms"
same "pmtu: a $BIG-byte result through VIP:5432 completes" "$BIG_GOT" "$BIG"
start=$(now_ms)
big 20 5433
diag "ro: $BIG_GOT bytes in $(($(now_ms) - start)) ms"
same "pmtu: a $BIG-byte result through VIP:5433 completes" "$BIG_GOT" "$BIG"
after=$(tx_icmp)
diag "tx_icmp: $before -> $after"
check "pmtu: the forwarded ICMP is counted (tx_icmp)" test "$after" -gt "$before"
# the backends that sent the results learned the path's MTU: the primary, and a standby
mtu_of() { lab exec "db$1" ip route get "$FAR_IP" from "$VIP" | grep -o 'mtu [0-9]*'; }
mtus="$(mtu_of 0) / $(mtu_of 1) / $(mtu_of 2)"
diag "the backends' cached path MTU (db0 / db1 / db2): $mtus"
same "pmtu: the primary cached the 1280-byte path MTU" "$(mtu_of 0)" "mtu 1280"
check "pmtu: so did the standby that sent the ro result" grep -qE "/ mtu 1280" <<<"$mtus"
e2e_done
