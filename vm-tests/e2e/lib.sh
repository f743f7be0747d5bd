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
