#!/usr/bin/env bash
# t50_backend_down.sh: a standby set down gets its sessions reset at once and no new ones:
# by pgxrd when it runs (it resets every client of the node), by the XDP program's RST at the
# client's next packet when pgxrctl writes the map with pgxrd down
. "$(dirname "$0")/lib.sh"

session_open ro 5433
read -r name _ <<<"$(session_who ro)"
id=${name#db}
other=$((id == 1 ? 2 : 1))
diag "the session is on $name"
check "down: pgxrctl backend set $id down" ctl backend set "$id" down
reply=$(session_who ro)
diag "after down: $reply"
read -r word ms _ <<<"$reply"
check "down: the open session fails at once with a reset ($ms ms), it does not hang" \
	test "$word" = error -a "${ms:-99999}" -lt 1000
check "down: the failure is a lost connection" grep -qiE 'closed|reset|terminat' <<<"$reply"
check "down: pgxrd reset its client connections" grep -q "node $id: [0-9]* client connection(s) reset" "$LAB_DIR/pgxrd.log"
out=$(pyclient spread 5433 40)
same "down: new ro sessions avoid the down standby" "$(echo "$out" | json "d['counts'].get('$name', 0)")" 0
same "down: new ro sessions all go to the other standby (db$other)" "$(echo "$out" | json "d['counts'].get('db$other', 0)")" 40
same "down: backend list shows it down by an operator" \
	"$(ctl -j backend list | json "[b['state'] + ' ' + ','.join(b['flags']) for b in d if b['id'] == $id][0]")" \
	"down admin-down"
lab pgxrd restart
same "down: an operator's down survives a pgxrd restart" \
	"$(ctl -j backend list | json "[b['state'] for b in d if b['id'] == $id][0]")" down
check "down: pgxrctl backend set $id up" ctl backend set "$id" up
out=$(pyclient spread 5433 60)
check "up: the standby takes new sessions again" test "$(echo "$out" | json "d['counts'].get('$name', 0)")" -gt 0
session_close ro
# pgxrd down: pgxrctl writes the map, and the XDP program resets the session when it next sends
lab pgxrd stop
session_open ro2 5433
read -r name _ <<<"$(session_who ro2)"
id=${name#db}
rsts0=$(ctl -j backend list | json "[b['rsts'] for b in d if b['id'] == $id][0]")
check "down without pgxrd: pgxrctl backend set $id down writes the map" ctl backend set "$id" down
read -r word ms _ <<<"$(session_who ro2)"
check "down without pgxrd: the session fails at its next query ($ms ms)" test "$word" = error -a "${ms:-99999}" -lt 1000
rsts1=$(ctl -j backend list | json "[b['rsts'] for b in d if b['id'] == $id][0]")
check "down without pgxrd: the XDP program counted the RST it sent" test "$rsts1" -gt "$rsts0"
ctl backend set "$id" up >/dev/null
session_close ro2
lab pgxrd start
e2e_done
