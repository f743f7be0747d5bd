#!/usr/bin/env bash
# t80_ipv6.sh: an IPv6 VIP and IPv6 backends: rw and ro, the VIP's neighbour entry moved by
# pgxrd's unsolicited NA, a fenced node's sessions reset, and a failover under a writer
# lab: fresh LAB_FAMILY=6
. "$(dirname "$0")/lib.sh"
T=t80

same "ipv6: VIP:5432 reaches the primary, which sees the client's own address" \
	"$(vip_sql 5432 "SELECT current_setting('cluster_name') || ' ' || host(inet_client_addr())")" "db0 $CLIENT_IP"
out=$(pyclient spread 5433 30)
same "ipv6: ro sessions are spread over both standbys" "$(echo "$out" | json "sorted(d['counts'])")" "['db1', 'db2']"
check "ipv6: the XDP program forwarded them (tx)" \
	test "$(ctl -j stats | json "[v['packets'] for v in d['verdicts'] if v['verdict'] == 'tx'][0]")" -gt 0

# another router's MAC takes the VIP (as a watchdog move would): its unsolicited NA updates
# the client's neighbour entry at once, not after the client finds the old one unreachable
vip_mac() { ip -n "$LAB-cli" -6 neigh show "$VIP" dev eth0 | grep -o 'lladdr [0-9a-f:]*' | cut -d' ' -f2; }
old_mac=$(vip_mac)
lab pgxrd stop
ip -n "$LAB-rtr" link set dev eth0 address 02:00:5e:00:53:80
lab pgxrd start
check "ipv6: the client's neighbour entry for the VIP moves to the new MAC (from $old_mac)" \
	wait_for 3 bash -c "ip -n '$LAB-cli' -6 neigh show '$VIP' dev eth0 | grep -q 'lladdr 02:00:5e:00:53:80'"
diag "moved within ${WAITED:-?} s"
same "ipv6: VIP:5432 works through it" "$(vip_sql 5432 "SELECT current_setting('cluster_name')")" db0

# a standby that promotes itself is fenced: the sessions pinned to it are reset at once (RSTs
# from pgxrd, IPv6), not left to hang
session_open ro 5433 idle
read -r name _ <<<"$(session_who ro)"
lab exec "$name" runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$LAB_DIR/$name/data" promote >/dev/null
check "ipv6: the rogue $name is fenced" wait_for 10 bash -c "[ \"\$('$LAB_SH' pgxrctl -j node list | /usr/bin/python3 -c \"import json,sys; print([n['status'] for n in json.load(sys.stdin) if n['node_id'] == ${name#db}][0])\")\" = fenced ]"
sleep 1
reply=$(session_who ro)
diag "the session on $name: $reply"
check "ipv6: its idle session was reset (the next query fails at once, not after a timeout)" \
	bash -c "[[ '$reply' =~ ^error\ ([0-9]+)\  ]] && [ \"\${BASH_REMATCH[1]}\" -lt 1000 ]"
session_close ro

# kill -9 of the primary under a writer: the remaining standby takes over
kill_primary_under_writer $T ipv6
same "ipv6: the old primary is fenced" "$(node_field 0 status)" fenced
e2e_done
