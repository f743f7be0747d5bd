#!/usr/bin/env bash
# t81_vlan.sh: VIP traffic tagged on the wire (every link carries VLAN 42 only), the tag stripped by
# the router's device before XDP, as a NIC's receive VLAN offload does: what the program sends goes
# back on the VLAN (rw, ro, a large result, its own RST, a failover under a writer); an untagged
# frame would be dropped where it arrives, and none is
# lab: fresh LAB_VLAN=42
. "$(dirname "$0")/lib.sh"
T=t81

# the frames each namespace's wire dropped: untagged, or of another VLAN
untagged() {
	local n out
	for n in cli $(seq 0 "${LAB_STANDBYS:-2}" | sed 's/^/db/'); do
		out=$("$ROOT/.output/lab/vlan_wire" stats "/sys/fs/bpf/$LAB-vlan/$n")
		printf '%s=%s ' "$n" "$(sed -n 's/.* untagged \([0-9]*\) other_vlan \([0-9]*\)$/\1+\2/p' <<<"$out")"
	done
}
tx() { ctl -j stats | json "sum(v['packets'] for v in d['verdicts'] if v['verdict'] == '$1')"; }

if [ "$LAB_XDP_MODE" = native ]; then
	# generic XDP gets the skb, whose tag the stack keeps and sends again: nothing to put back
	check "vlan: native mode runs the program that puts stripped tags back" \
		grep -q 'native mode, VLAN tags the device strips are put back' "$LAB_DIR/pgxrd.log"
fi
before=$(untagged)
tx0=$(tx tx)
same "vlan: VIP:5432 reaches the primary, which sees the client's own address" \
	"$(vip_sql 5432 "SELECT current_setting('cluster_name') || ' ' || host(inet_client_addr())")" "db0 $CLIENT_IP"
out=$(pyclient spread 5433 30)
same "vlan: ro sessions are spread over both standbys" "$(echo "$out" | json "sorted(d['counts'])")" "['db1', 'db2']"
for port in 5432 5433; do
	same "vlan: a 4 MB result through VIP:$port" \
		"$(vip_sql $port "SELECT length(string_agg(repeat('x', 1000), '')) FROM generate_series(1, 4000)")" 4000000
done
check "vlan: the XDP program forwarded the client's segments (tx $tx0 -> $(tx tx))" test "$(tx tx)" -gt "$((tx0 + 100))"

# the program's own RST: pgxrd down, an operator sets the session's standby down, and the
# program answers the client's next segment
lab pgxrd stop
session_open ro 5433
read -r name _ <<<"$(session_who ro)"
rst0=$(tx tx_rst)
ctl backend set "${name#db}" down >/dev/null
read -r word ms _ <<<"$(session_who ro)"
check "vlan: the session on the down $name fails at its next query with the program's RST ($ms ms)" \
	test "$word" = error -a "${ms:-99999}" -lt 1000 -a "$(tx tx_rst)" -gt "$rst0"
ctl backend set "${name#db}" up >/dev/null
session_close ro
lab pgxrd start
same "vlan: no untagged or other VLAN's frame reached the client or a backend" "$(untagged)" "$before"

# kill -9 of the primary under a writer: the failover's traffic is on the VLAN too
kill_primary_under_writer $T vlan
same "vlan: still none reached the client or a backend" "$(untagged)" "$before"
e2e_done
