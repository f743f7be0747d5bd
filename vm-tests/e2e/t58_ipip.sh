#!/usr/bin/env bash
# t58_ipip.sh: forwarding = ipip: db2 sits one router hop away (the hop namespace); the backends
# take the IPIP off with pgxrctl decap; rw and ro work, the client's address reaches PostgreSQL,
# an upload of full-size segments completes (the router answers what the tunnel cannot carry
# with ICMP), and a switchover to the routed node under a writer loses nothing
# lab: fresh LAB_FORWARDING=ipip LAB_ROUTED=2
. "$(dirname "$0")/lib.sh"
T=t58
HOP_IP=$LAB_NET.4

verdict() { ctl -j stats | json "[v['packets'] for v in d['verdicts'] if v['verdict'] == '$1'][0]"; }
decap() { lab exec "$1" "$ROOT/pgxrctl" --pin-dir "/sys/fs/bpf/$LAB-$1" -j decap show eth0 | json "[v['packets'] for v in d if v['verdict'] == 'ipip'][0]"; }

flags=$(ctl -j backend list | json "[b['flags'] for b in d]")
same "ipip: every backend is forwarded to in IPIP" "$flags" "[['ipip'], ['ipip'], ['ipip']]"
hop_mac=$(ip -n "$LAB-hop" -j link show dev eth0 | json "d[0]['address']")
same "ipip: db2's frames go to its next hop's MAC (the hop's)" \
	"$(ctl -j backend list | json "[b['mac'] for b in d if b['id'] == 2][0]")" "$hop_mac"
tx0=$(verdict tx)
same "ipip: VIP:5432 reaches the primary, which sees the client's own address" \
	"$(vip_sql 5432 "SELECT current_setting('cluster_name') || ' ' || host(inet_client_addr())")" "db0 $CLIENT_IP"
# new sessions are spread by weight (1:2): db2, one hop away, takes most of them
out=$(pyclient spread 5433 30)
same "ipip: ro sessions reach both standbys, db2 across the hop" \
	"$(echo "$out" | json "sorted(d['counts'])")" "['db1', 'db2']"
seen=""
for _ in $(seq 20); do
	seen=$(vip_sql 5433 "SELECT current_setting('cluster_name') || ' ' || host(inet_client_addr())")
	[ "${seen%% *}" = db2 ] && break
done
same "ipip: db2 sees the client's own address" "$seen" "db2 $CLIENT_IP"
check "ipip: db2 took the IPIP off ($(decap db2) packets)" test "$(decap db2)" -gt 0
check "ipip: so did db0" test "$(decap db0)" -gt 0
same "ipip: nothing went out by plain MAC rewrite" "$(verdict tx)" "$tx0"

# full-size segments from the client do not fit once encapsulated: the router answers the
# first with ICMP fragmentation needed, the client lowers its MSS, the upload goes through
big0=$(verdict tx_too_big)
got=$(head -c 3000000 /dev/urandom | base64 -w 1000 | timeout 30 "$LAB_SH" exec cli psql -XAt \
	"host=$VIP port=5432 user=postgres dbname=postgres" -c "CREATE TABLE up (t text)" \
	-c "COPY up FROM STDIN" -c "SELECT count(*) || ' ' || sum(length(t)) FROM up" | tail -1)
same "ipip: a 4 MB COPY FROM STDIN completes" "$got" "4000 4000000"
big=$(($(verdict tx_too_big) - big0))
check "ipip: the router answered the segments too big for the tunnel with ICMP ($big)" test "$big" -gt 0
mtu=$(lab exec cli ip route get "$VIP" | grep -o 'mtu [0-9]*')
same "ipip: the client learned the tunnel's MTU" "$mtu" "mtu 1480"

# the routed node becomes the primary under writes
lab psql db0 -qX -c "CREATE TABLE acked (id int PRIMARY KEY)" >/dev/null
acks=$LAB_DIR/$T.acks
writer_start $T 30
sleep 2
start=$(now_ms)
out=$(ctl node promote 2 2>&1)
same "ipip: switchover to db2, one hop away, succeeds" "$?" 0
diag "$(tr '\n' '|' <<<"$out")"
check "ipip: db2 acknowledges commits through VIP:5432" \
	wait_for 10 bash -c "[ \"\$(awk -v t=$start '\$1 == \"ok\" && \$4 == \"db2\" && \$3 >= t' '$acks' | wc -l)\" -gt 0 ]"
sleep 2
writer_stop $T
check_no_loss "ipip switchover" "$acks"
check_one_primary "ipip switchover"
same "ipip: the old primary streams from db2" \
	"$(lab psql db2 -XAt -c "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'db0' AND state = 'streaming'")" 1
e2e_done
