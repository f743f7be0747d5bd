#!/usr/bin/env bash
# t342_proxy_split_dml.sh: disable_load_balance_on_write = dml_adaptive, pgpool's rule: in an
# explicit transaction that wrote, a read naming no table it wrote (nor one the relationship list
# ties to what it wrote) still runs on a standby; the others, and every read after what pgxr does
# not follow (a SAVEPOINT), run on the primary in the transaction.  A read that fails on the
# standby fails the transaction.  psql, psycopg2 (autocommit off) and JDBC (autoCommit false,
# named prepared statements), in transaction and session pooling; where each statement ran is
# read from the servers' logs, what it did from the primary.
# lab: fresh
. "$(dirname "$0")/lib.sh"

P=9999
at() { ran_at "$@"; }
n_of() { lab psql db0 -XAt -c "SELECT n FROM $1 WHERE id = $2"; }
scratch=$(mktemp -d /tmp/t342.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

statement_log all
for t in dml_a dml_b dml_c dml_d; do
	lab psql db0 -XAtq -c "CREATE TABLE $t (id int PRIMARY KEY, n int NOT NULL DEFAULT 0)" \
		-c "INSERT INTO $t SELECT g, 0 FROM generate_series(1, 3000) g" >/dev/null
done
lab psql db0 -XAtq -c "CREATE FUNCTION dml_bump(k int) RETURNS int LANGUAGE sql VOLATILE AS
	\$\$ UPDATE dml_b SET n = n + 1 WHERE id = k RETURNING n \$\$" >/dev/null
for t in dml_a dml_b dml_c dml_d; do
	replicated db1 $t 3000
	replicated db2 $t 3000
done
proxy_auth_postgres
reload_with enable_pool_hba=on pool_mode=transaction max_pool=8 load_balance_mode=on \
	backend_weight0=0 backend_weight1=1 backend_weight2=1 disable_load_balance_on_write=dml_adaptive \
	"dml_adaptive_object_relationship_list='dml_c:dml_d, public.dml_bump():dml_b'"
# reads calling a function wait for its volatility from the primary's catalog once: learnt here
vip_sql $P "SELECT current_setting('cluster_name')" >/dev/null
sleep 1

# battery TAG BASE: transactions of psql, one statement a line, marks mk_TAG*, rows BASE + 1 ..
battery() {
	local t=$1 b=$2 out
	cat >"$scratch/$t.sql" <<EOF
BEGIN;
SELECT n, 'mk_${t}r1' FROM dml_a WHERE id = $((b + 1));
UPDATE dml_b SET n = n + 1 WHERE id = $((b + 1)) AND 'mk_${t}w1' <> '';
SELECT n, 'mk_${t}a1' FROM dml_a WHERE id = $((b + 1));
SELECT n, 'mk_${t}b1' FROM dml_b WHERE id = $((b + 1));
SELECT a.n, 'mk_${t}j1' FROM dml_a a JOIN dml_b b USING (id) WHERE id = $((b + 1));
SELECT n, 'mk_${t}c1' FROM dml_a WHERE id = $((b + 1));
COMMIT;
BEGIN;
UPDATE dml_c SET n = n + 1 WHERE id = $((b + 2)) AND 'mk_${t}w2' <> '';
SELECT n, 'mk_${t}d2' FROM dml_d WHERE id = $((b + 2));
SELECT n, 'mk_${t}a2' FROM dml_a WHERE id = $((b + 2));
SELECT dml_bump($((b + 2))), 'mk_${t}f2';
SELECT n, 'mk_${t}b2' FROM dml_b WHERE id = $((b + 2));
COMMIT;
BEGIN;
UPDATE dml_b SET n = n + 1 WHERE id = $((b + 3)) AND 'mk_${t}w3' <> '';
SAVEPOINT sp;
SELECT n, 'mk_${t}a3' FROM dml_a WHERE id = $((b + 3));
COMMIT;
BEGIN;
UPDATE dml_b SET n = n + 100 WHERE id = $((b + 4)) AND 'mk_${t}w4' <> '';
SELECT 1 / 0, 'mk_${t}z4' FROM dml_a WHERE id = $((b + 4));
SELECT n, 'mk_${t}x4' FROM dml_a WHERE id = $((b + 4));
COMMIT;
BEGIN;
UPDATE dml_b SET n = n + 1 WHERE id = $((b + 5)) AND 'mk_${t}w5' <> '';
SELECT n, 'mk_${t}a5' FROM dml_a WHERE id = $((b + 5));
COMMIT;
BEGIN ISOLATION LEVEL REPEATABLE READ;
UPDATE dml_b SET n = n + 1 WHERE id = $((b + 6)) AND 'mk_${t}w6' <> '';
SELECT n, 'mk_${t}a6' FROM dml_a WHERE id = $((b + 6));
COMMIT;
BEGIN;
UPDATE dml_b SET n = n + 1 WHERE id = $((b + 7)) AND 'mk_${t}w7' <> '';
BEGIN READ ONLY /* mk_${t}b7 */;
SELECT n, 'mk_${t}a7' FROM dml_a WHERE id = $((b + 7));
COMMIT;
SET default_transaction_isolation = 'repeatable read';
BEGIN;
UPDATE dml_b SET n = n + 1 WHERE id = $((b + 8)) AND 'mk_${t}w8' <> '';
SELECT n, 'mk_${t}a8' FROM dml_a WHERE id = $((b + 8));
COMMIT;
RESET default_transaction_isolation;
EOF
	out=$(vip_file $P "$scratch/$t.sql")
	sleep 0.5
	diag "$t: $(tr '\n' ' ' <<<"$out")"
	same "$t: a read on a standby, then a write: the transaction moves to the primary" \
		"$(at "mk_${t}r1") $(at "mk_${t}w1")" "standby primary"
	same "$t: ... a read of a table it did not write: a standby; of the one it wrote, alone or joined: the primary; then a standby again" \
		"$(at "mk_${t}a1") $(at "mk_${t}b1") $(at "mk_${t}j1") $(at "mk_${t}c1")" "standby primary primary standby"
	same "$t: ... the read of the written table sees the write; it committed" \
		"$(grep "mk_${t}b1" <<<"$out") $(n_of dml_b $((b + 1)))" "1|mk_${t}b1 1"
	same "$t: the relationship list: a write to dml_c keeps dml_d's reads on the primary, dml_a's go to a standby" \
		"$(at "mk_${t}w2") $(at "mk_${t}d2") $(at "mk_${t}a2")" "primary primary standby"
	same "$t: ... a function the list ties to dml_b: its call and the read of dml_b after it on the primary" \
		"$(at "mk_${t}f2") $(at "mk_${t}b2") $(n_of dml_b $((b + 2)))" "primary primary 1"
	same "$t: after a SAVEPOINT (not followed), the transaction's reads stay on the primary" \
		"$(at "mk_${t}a3")" "primary"
	same "$t: a read that fails on the standby fails the transaction: the next statement is refused, COMMIT rolls back" \
		"$(at "mk_${t}z4") $(grep -c 'current transaction is aborted' <<<"$out") $(grep -cx ROLLBACK <<<"$out") $(n_of dml_b $((b + 4)))" \
		"standby 1 1 0"
	same "$t: ... the next transaction of the session splits again, and commits" \
		"$(at "mk_${t}a5") $(n_of dml_b $((b + 5)))" "standby 1"
	same "$t: one snapshot a transaction (REPEATABLE READ, the transaction's or the session's default): its reads after a write stay on the primary" \
		"$(at "mk_${t}a6") $(at "mk_${t}a8") $(n_of dml_b $((b + 6))) $(n_of dml_b $((b + 8)))" "primary primary 1 1"
	same "$t: a BEGIN READ ONLY inside the transaction runs on the primary (a WARNING); the read after it on a standby" \
		"$(at "mk_${t}b7") $(at "mk_${t}a7") $(n_of dml_b $((b + 7)))" "primary standby 1"
	same "$t: nothing is left in a transaction on any node" "$(idle_in_tx db0) $(idle_in_tx db1) $(idle_in_tx db2)" "0 0 0"
}

base=0
for mode in transaction session; do
	reload_with pool_mode=$mode
	sleep 0.5
	tag=$([ "$mode" = transaction ] && echo t || echo s)
	battery "${tag}p" $base
	base=$((base + 10))

	out=$(pyclient dmlsplit $P 200 $((base + 1)))
	diag "$mode: psycopg2: $out"
	same "$mode: psycopg2, 200 transactions (autocommit off): update dml_b, read dml_a, read dml_b: dml_a's reads on the standbys, dml_b's on the primary, each sees its update, no error" \
		"$(json "d['sessions'], d['other'].get('db0', 0), d['other'].get('db1', 0) + d['other'].get('db2', 0), d['written'], d['own_write'], d['errors']" <<<"$out")" \
		"200 0 200 {'db0': 200} 200 {}"
	base=$((base + 200))

	out=$(jdbc $P dml $((base + 1)))
	diag "$mode: JDBC: $out"
	same "$mode: JDBC, autoCommit false, named prepared statements: dml_a's reads on the standbys, dml_b's on the primary, each sees its update; a fetch of 10 rows at a time (a portal) in a transaction that wrote gets every row" \
		"$(awk '{ split($1, a, /[=,]/); s = 0; for (i = 1; i < length(a); i += 2) if (a[i] != "db0") s += a[i + 1]; print s, $2, $3, $4 }' <<<"$out")" \
		"20 db0=20 20 50"
	base=$((base + 20))

	# the transaction's primary connection ends while a standby runs its read: the client is told
	cat >"$scratch/kill-$mode.sql" <<EOF
BEGIN;
UPDATE dml_b SET n = n + 1 WHERE id = $((base + 1)) AND 'mk_${tag}kw' <> '';
SELECT n, 'mk_${tag}ka' FROM dml_a WHERE id = $((base + 1));
\\! psql -XAtq "host=$LAB_NET.20 user=postgres dbname=postgres" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'dmlkill' AND query LIKE '%mk_${tag}kw%'" >/dev/null
SELECT n, 'mk_${tag}kb' FROM dml_b WHERE id = $((base + 1));
EOF
	out=$(timeout 30 "$LAB_SH" exec cli psql -XAt \
		"host=$VIP port=$P user=postgres dbname=postgres application_name=dmlkill" -f "$scratch/kill-$mode.sql" 2>&1)
	diag "$mode: primary lost: $(tr '\n' ' ' <<<"$out")"
	same "$mode: the primary's connection of a transaction lost while a standby read: the client's next statement ends the session (08006), the write is gone" \
		"$(at "mk_${tag}ka") $(grep -c 'the connection to the primary (node 0) that ran this transaction was lost' <<<"$out") $(n_of dml_b $((base + 1)))" \
		"standby 1 0"
	base=$((base + 10))
	same "$mode: nothing is left in a transaction on any node" "$(idle_in_tx db0) $(idle_in_tx db1) $(idle_in_tx db2)" "0 0 0"
done

# the primary may be a session's read node (weight 1 for each node): its reads after a write run
# there, in the transaction, and nothing waits
reload_with pool_mode=transaction backend_weight0=1
sleep 0.5
out=$(pyclient dmlsplit $P 200 $((base + 1)))
diag "weight 1:1:1: psycopg2: $out"
same "backend_weight 1:1:1: 200 transactions, each sees its update, no error, dml_b's reads on the primary" \
	"$(json "d['sessions'], d['written'], d['own_write'], d['errors']" <<<"$out")" "200 {'db0': 200} 200 {}"
check "backend_weight 1:1:1: some of dml_a's reads on the primary, some on the standbys ($(json "d['other']" <<<"$out"))" \
	test "$(json "int(d['other'].get('db0', 0) > 0 and d['other'].get('db1', 0) + d['other'].get('db2', 0) > 0)" <<<"$out")" = 1
reload_with backend_weight0=0
base=$((base + 200))

# a pool of 2 connections a node for 8 clients: a transaction holding the primary does not wait
# for a standby's connection (its read runs on the primary instead), and nothing deadlocks
reload_with pool_mode=transaction max_pool=2 query_wait_timeout=20
sleep 0.5
out=$(pyclient dmlsplit $P 200 $((base + 1)))
diag "max_pool 2: psycopg2: $out"
same "max_pool = 2, 8 clients: 200 transactions, each sees its update, no error, dml_b's reads on the primary" \
	"$(json "d['sessions'], d['written'], d['own_write'], d['errors']" <<<"$out")" "200 {'db0': 200} 200 {}"
base=$((base + 200))

# the same battery with disable_load_balance_on_write = transaction: the reads after the write stay
# on the primary (so the test above can fail)
reload_with pool_mode=transaction disable_load_balance_on_write=transaction
sleep 0.5
cat >"$scratch/tx.sql" <<EOF
BEGIN;
UPDATE dml_b SET n = n + 1 WHERE id = 2900 AND 'mk_txw' <> '';
SELECT n, 'mk_txa' FROM dml_a WHERE id = 2900;
COMMIT;
EOF
vip_file $P "$scratch/tx.sql" >/dev/null
sleep 0.5
same "transaction (not dml_adaptive): a read after the write runs on the primary" "$(at mk_txa)" "primary"
statement_log off
e2e_done
