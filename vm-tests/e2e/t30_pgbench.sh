#!/usr/bin/env bash
# t30_pgbench.sh: pgbench through both VIP ports completes without failures
. "$(dirname "$0")/lib.sh"

lab exec db0 runuser -u postgres -- pgbench -q -i -s 2 -h "$LAB_DIR/db0/sock" postgres >/dev/null 2>&1
run_bench() {
	local port=$1
	shift
	timeout 60 "$LAB_SH" exec cli pgbench -n -c 4 -j 2 -T 4 "$@" \
		"host=$VIP port=$port user=postgres dbname=postgres connect_timeout=5" 2>&1
}
out=$(run_bench 5432)
diag "rw: $(echo "$out" | grep -E '^tps')"
check "pgbench: TPC-B-like writes through VIP:5432 complete" \
	grep -q 'number of failed transactions: 0 (0.000%)' <<<"$out"
# reads on the standbys need the tables replicated first
sleep 1
out=$(run_bench 5433 -S -C)
diag "ro -S -C: $(echo "$out" | grep -E '^tps')"
check "pgbench: select-only with a connection per transaction through VIP:5433 completes" \
	grep -q 'number of failed transactions: 0 (0.000%)' <<<"$out"
e2e_done
