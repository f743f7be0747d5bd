#!/usr/bin/env bash
# t60_pgxrctl.sh: pgxrctl reads the pinned maps (also without pgxrd), in tables and JSON
. "$(dirname "$0")/lib.sh"

out=$(ctl service list)
diag "$(head -3 <<<"$out" | tr '\n' '|')"
check "pgxrctl: service list shows rw on the primary alone" grep -qE '^0 +rw +.* 5432 +0 \(100\.0%\)$' <<<"$out"
# weights 1:2 give the standbys a third and two thirds of the Maglev slots
check "pgxrctl: service list shows ro over the standbys by weight" \
	grep -qE '^1 +ro +.* 5433 +1 \(33\.[0-9]%\) 2 \(66\.[0-9]%\)$' <<<"$out"
check "pgxrctl: service list shows the proxy port" grep -qE '^2 +proxy +.* 9999 +-$' <<<"$out"
for cmd in "service list" "backend list" "flow list" "stats" "map list" "map dump services" \
	"map dump backends" "map dump rings" "map dump flows" "map dump verdict_stats"; do
	# shellcheck disable=SC2086
	check "pgxrctl: -j $cmd is valid JSON" bash -c "'$LAB_SH' pgxrctl -j $cmd | /usr/bin/python3 -m json.tool >/dev/null"
	check "pgxrctl: -p $cmd is valid JSON" bash -c "'$LAB_SH' pgxrctl -p $cmd | /usr/bin/python3 -m json.tool >/dev/null"
done
same "pgxrctl: backend list -j has the three nodes with their roles" \
	"$(ctl -j backend list | json "' '.join(b['role'] for b in d)")" "primary standby standby"

session_open s1 5432
session_who s1 >/dev/null
out=$(ctl flow list)
check "pgxrctl: flow list shows the open session's flow to the primary" \
	grep -qE "^$CLIENT_IP:[0-9]+ +$VIP:5432 +0$" <<<"$out"
out=$(ctl flow list limit 1)
same "pgxrctl: flow list limit 1 shows one flow" "$(grep -cE "^$LAB_NET" <<<"$out")" 1
session_close s1
check "pgxrctl: stats counts forwarded packets" \
	test "$(ctl -j stats | json "[v['packets'] for v in d['verdicts'] if v['verdict'] == 'tx'][0]")" -gt 0

out=$(ctl serv l 2>&1)
check "pgxrctl: unambiguous prefixes are accepted (serv l)" grep -q '^ID' <<<"$out"
ctl s >/dev/null 2>"$LAB_DIR/t60.err"
same "pgxrctl: an ambiguous prefix exits 2" "$?" 2
check "pgxrctl: an ambiguous prefix error names the candidates" grep -q 'ambiguous.*service, stats' "$LAB_DIR/t60.err"
ctl frobnicate >"$LAB_DIR/t60.out" 2>"$LAB_DIR/t60.err"
same "pgxrctl: an unknown object exits 2" "$?" 2
check "pgxrctl: the usage goes to stderr, nothing to stdout" \
	test ! -s "$LAB_DIR/t60.out" -a -n "$(grep -l '^Usage: pgxrctl' "$LAB_DIR/t60.err")"
ctl backend frob >/dev/null 2>&1
same "pgxrctl: an unknown command exits 2" "$?" 2
ctl backend set 7 down 2>"$LAB_DIR/t60.err"
same "pgxrctl: setting an unconfigured backend exits 1" "$?" 1
check "pgxrctl: the error says the backend is not configured" grep -qE '^Error: (backend|node) 7 is not configured' "$LAB_DIR/t60.err"
ctl backend help | grep -q '^Usage: pgxrctl backend'
same "pgxrctl: backend help prints its usage" "$?" 0

lab pgxrd stop
out=$(ctl backend list)
check "pgxrctl: works while pgxrd is not running" grep -qE '^0 +[0-9.]+ +5432 +up +primary' <<<"$out"
lab pgxrd start
rm -f "$LAB_DIR/t60.out" "$LAB_DIR/t60.err"
e2e_done
