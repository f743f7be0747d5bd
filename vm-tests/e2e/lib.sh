# vm-tests/e2e/lib.sh: helpers for the lab tests; every check prints one TAP line
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB_SH=$ROOT/vm-tests/lab
LAB=${LAB:-pgxr}
LAB_NET=${LAB_NET:-10.77.0}
LAB_DIR=${LAB_DIR:-/tmp/$LAB-lab}
VIP=$LAB_NET.100
CLIENT_IP=$LAB_NET.10
export PGPASSWORD=${PGPASSWORD:-pgxr-lab} LAB_VIP=$VIP

# failures of this script, for its exit status
E2E_FAILED=0

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; E2E_FAILED=$((E2E_FAILED + 1)); }
diag() { printf '# %s\n' "$*"; }
# check NAME COMMAND...: ok when COMMAND succeeds
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}
# same NAME GOT WANT
same() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1: got '$2', want '$3'"; fi
}

lab() { "$LAB_SH" "$@"; }
ctl() { "$LAB_SH" pgxrctl "$@"; }
# psql from the client to VIP:PORT, unaligned tuples only
vip_sql() {
	local port=$1
	shift
	timeout 20 "$LAB_SH" exec cli psql -XAt -v ON_ERROR_STOP=1 \
		"host=$VIP port=$port user=postgres dbname=postgres connect_timeout=5" -c "$*"
}
pyclient() { timeout 60 "$LAB_SH" exec cli /usr/bin/python3 "$ROOT/vm-tests/pgclient.py" "$@"; }
# json EXPR: evaluates a Python expression over the JSON document on stdin (as d)
json() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# the conns counter of backend ID
backend_conns() { ctl -j backend list | json "[b['conns'] for b in d if b['id'] == $1][0]"; }

# long-lived sessions: session_open NAME PORT, then session_who NAME
declare -A E2E_IN E2E_OUT E2E_PID
session_open() {
	local name=$1 port=$2 fifo_in fifo_out
	fifo_in=$(mktemp -u "$LAB_DIR/in.XXXXXX")
	fifo_out=$(mktemp -u "$LAB_DIR/out.XXXXXX")
	mkfifo "$fifo_in" "$fifo_out"
	"$LAB_SH" exec cli /usr/bin/python3 "$ROOT/vm-tests/pgclient.py" session "$port" \
		<"$fifo_in" >"$fifo_out" 2>&1 &
	E2E_PID[$name]=$!
	exec {fd_in}>"$fifo_in" {fd_out}<"$fifo_out"
	E2E_IN[$name]=$fd_in
	E2E_OUT[$name]=$fd_out
	rm -f "$fifo_in" "$fifo_out"
}
session_who() {
	local name=$1 line
	echo who >&"${E2E_IN[$name]}" || { echo "error - session gone"; return; }
	if read -r -t 15 line <&"${E2E_OUT[$name]}"; then echo "$line"; else echo "error - no answer in 15 s"; fi
}
session_close() {
	local name=$1 fi=${E2E_IN[$1]} fo=${E2E_OUT[$1]}
	echo quit >&"$fi" 2>/dev/null || true
	exec {fi}>&- {fo}<&-
	wait "${E2E_PID[$name]}" 2>/dev/null || true
}

e2e_done() { exit $((E2E_FAILED > 0)); }

# pgxrd's view, from its control socket
node_field() { ctl -j node list | json "[n['$2'] for n in d if n['node_id'] == $1][0]"; }
primary_id() { ctl -j node list | json "([n['node_id'] for n in d if n['role'] == 'primary' and n['status'] == 'up'] + [-1])[0]"; }
# wait_for SECONDS COMMAND...: polls every 0.2 s until COMMAND succeeds; WAITED holds the seconds
wait_for() {
	local limit=$1 start=$SECONDS
	shift
	while [ $((SECONDS - start)) -le "$limit" ]; do
		if "$@" >/dev/null 2>&1; then
			WAITED=$((SECONDS - start))
			return 0
		fi
		sleep 0.2
	done
	return 1
}
now_ms() { date +%s%3N; }
# from a writer's file: the first failed write after a time (epoch ms)...
first_fail_after() { awk -v t="$2" '$1 == "fail" && $2 >= t { print $2; exit }' "$1"; }
# ...and the first acknowledged write after that
first_ack_after() { awk -v t="$2" '$1 == "ok" && $3 >= t { print $3; exit }' "$1"; }

