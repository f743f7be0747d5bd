#!/usr/bin/env bash
# t59_synflood.sh: 200,000 SYNs from other 5-tuples pass while an idle ro session and an idle rw
# session wait (an application pool's connections): both keep their flow entry and still work
# lab: fresh
. "$(dirname "$0")/lib.sh"

N=${SYNFLOOD_N:-200000}
svc_field() { ctl -j stats | json "sum(s['$1'] for s in d['services'] if s['kind'] in ('rw', 'ro'))"; }
rings() { ctl -j service list | json "[(s['kind'], [(b['id'], b['slots']) for b in s['backends']]) for s in d]"; }
# the client's own flows (the flood's come from 198.18.0.0/15): "PORT BACKEND" lines
own_flows() {
	ctl -j flow list | json "'\\n'.join(sorted(f'{f[\"vip_port\"]}:{f[\"client_port\"]} {f[\"backend\"]}' for f in d if f['client'] == '$CLIENT_IP'))"
}

# no keepalives: nothing on the wire while they wait, as a pool's idle connections
session_open ro 5433 idle
session_open rw 5432 idle
read -r ro_node _ <<<"$(session_who ro)"
read -r rw_node _ <<<"$(session_who rw)"
diag "idle sessions on $ro_node (ro) and $rw_node (rw)"
flows_before=$(own_flows)
rings_before=$(rings)
conns_before=$(svc_field conns)
misses_before=$(svc_field misses)
diag "the client's flows: $(tr '\n' ' ' <<<"$flows_before")"

mac=$(ip -n "$LAB-rtr" -j link show dev eth0 | json "d[0]['address']")
out=$(lab exec cli /usr/bin/python3 "$ROOT/vm-tests/synflood.py" eth0 "$mac" "$VIP" 5432,5433 "$N")
diag "synflood: $out"
conns=$(($(svc_field conns) - conns_before))
diag "SYNs steered: $conns"
diag "the router's eth0: $(lab exec rtr ip -s link show dev eth0 | sed -n '/RX:/{n;p}' | xargs)"
check "synflood: the $N SYNs were steered (at least 99%: the rest is the veth's)" test "$conns" -ge $((N * 99 / 100))
flows=$(ctl -j flow list | json "len(d)")
diag "flow table: $flows entries"
check "synflood: the flow table holds them" test "$flows" -ge $((conns))
same "synflood: the idle sessions' flow entries survived, on the same backends" "$(own_flows)" "$flows_before"
same "synflood: the rings did not change" "$(rings)" "$rings_before"
read -r ro_after _ <<<"$(session_who ro)"
read -r rw_after _ <<<"$(session_who rw)"
same "synflood: the idle ro session still works, on $ro_node" "$ro_after" "$ro_node"
same "synflood: the idle rw session still works, on $rw_node" "$rw_after" "$rw_node"
misses=$(svc_field misses)
[[ $misses =~ ^[0-9]+$ && $misses_before =~ ^[0-9]+$ ]] || misses="not a number: '$misses'"
same "synflood: none of their segments missed the flow table" "$((misses - misses_before))" 0
session_close ro
session_close rw
e2e_done
