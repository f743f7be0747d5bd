#!/usr/bin/env bash
# t340_proxy_split_tx.sh: the read/write split inside explicit transactions, pgpool's rule: a
# transaction's reads run on the session's read node until its first statement that is not a
# read, which moves the transaction to the primary (the client's BEGIN runs there first, the
# reader's transaction is rolled back); psql, psycopg2 with autocommit off, JDBC with autoCommit
# false and prepared statements, node-postgres, pgbench; transaction and session pooling.  Where
# each statement ran is read from the servers' logs (log_statement), what it did from the primary.
# lab: fresh
. "$(dirname "$0")/lib.sh"

P=9999
at() { ran_at "$@"; }
n_of() { lab psql db0 -XAt -c "SELECT n FROM split_tx WHERE id = $1"; }
# pgxr's own ROLLBACK (no semicolon, unlike psql's) ends a reader's transaction it leaves
rollbacks() { echo $(($(grep -c "statement: ROLLBACK$" "$LAB_DIR/db1/postgresql.log") + $(grep -c "statement: ROLLBACK$" "$LAB_DIR/db2/postgresql.log"))); }
scratch=$(mktemp -d /tmp/t340.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

statement_log all
lab psql db0 -XAtq -c "CREATE TABLE split_tx (id int PRIMARY KEY, n int NOT NULL DEFAULT 0)" \
	-c "INSERT INTO split_tx SELECT g, 0 FROM generate_series(1, 5000) g" >/dev/null
replicated db1 split_tx 5000
replicated db2 split_tx 5000
proxy_auth_postgres
reload_with enable_pool_hba=on pool_mode=transaction max_pool=8 load_balance_mode=on \
	backend_weight0=0 backend_weight1=1 backend_weight2=1
# reads calling a function wait for its volatility from the primary's catalog once: learnt here
vip_sql $P "SELECT current_setting('cluster_name')" >/dev/null
sleep 1

# battery TAG BASE: transactions of psql, one statement a line, marks mk_TAG*, rows BASE + 1 ..
battery() {
	local t=$1 b=$2 rb out
	cat >"$scratch/$t.sql" <<EOF
BEGIN;
SELECT n, 'mk_${t}r1' FROM split_tx WHERE id = $((b + 1));
UPDATE split_tx SET n = n + 1 WHERE id = $((b + 1)) AND 'mk_${t}w1' <> '';
SELECT n, 'mk_${t}a1' FROM split_tx WHERE id = $((b + 1));
COMMIT;
BEGIN;
SELECT n, 'mk_${t}r2' FROM split_tx WHERE id = $((b + 2));
SELECT n, 'mk_${t}s2' FROM split_tx WHERE id = $((b + 2));
COMMIT;
BEGIN;
SELECT 1 / 0, 'mk_${t}r3' FROM split_tx WHERE id = $((b + 3));
UPDATE split_tx SET n = n + 1 WHERE id = $((b + 3)) AND 'mk_${t}w3' <> '';
ROLLBACK;
BEGIN READ WRITE;
SELECT n, 'mk_${t}r4' FROM split_tx WHERE id = $((b + 4));
SAVEPOINT sp;
UPDATE split_tx SET n = n + 1 WHERE id = $((b + 4)) AND 'mk_${t}w4' <> '';
ROLLBACK TO SAVEPOINT sp;
SELECT n, 'mk_${t}a4' FROM split_tx WHERE id = $((b + 4));
COMMIT;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT n, 'mk_${t}r5' FROM split_tx WHERE id = $((b + 5));
COMMIT;
BEGIN;
UPDATE split_tx SET n = n + 1 WHERE id = $((b + 6)) AND 'mk_${t}w6' <> '';
SELECT n, 'mk_${t}a6' FROM split_tx WHERE id = $((b + 6));
COMMIT;
START TRANSACTION ISOLATION LEVEL REPEATABLE READ;
SELECT n, 'mk_${t}r7' FROM split_tx WHERE id = $((b + 7));
COMMIT;
EOF
	rb=$(rollbacks)
	out=$(vip_file $P "$scratch/$t.sql")
	sleep 0.5
	diag "$t: $(tr '\n' ' ' <<<"$out")"
	same "$t: a read, a write, a read: the first on a standby, the rest on the primary" \
		"$(at "mk_${t}r1") $(at "mk_${t}w1") $(at "mk_${t}a1")" "standby primary primary"
	same "$t: ... the transaction's read after its write sees it; it committed" \
		"$(sed -n 4p <<<"$out") $(n_of $((b + 1)))" "1|mk_${t}a1 1"
	same "$t: a transaction that only reads runs on a standby, its COMMIT too" \
		"$(at "mk_${t}r2") $(at "mk_${t}s2")" "standby standby"
	same "$t: a failed transaction on the reader: its write is refused there, never run on the primary" \
		"$(grep -c "current transaction is aborted" <<<"$out") $(on_node 0 "mk_${t}w3") $(n_of $((b + 3)))" "1 0 0"
	same "$t: BEGIN READ WRITE reads on a standby (as a plain BEGIN); SAVEPOINT moves it, ROLLBACK TO works" \
		"$(at "mk_${t}r4") $(at "mk_${t}w4") $(at "mk_${t}a4") $(n_of $((b + 4)))" "standby primary primary 0"
	same "$t: a SERIALIZABLE transaction reads on the primary" "$(at "mk_${t}r5")" primary
	same "$t: a transaction that writes first stays on the primary" \
		"$(at "mk_${t}w6") $(at "mk_${t}a6") $(n_of $((b + 6)))" "primary primary 1"
	same "$t: a REPEATABLE READ transaction reads on a standby" "$(at "mk_${t}r7")" standby
	same "$t: each transaction that moved ended on its reader (pgxr's ROLLBACK), nothing left idle in a transaction" \
		"$(($(rollbacks) - rb)) $(idle_in_tx db1) $(idle_in_tx db2)" "2 0 0"
}
battery tx 100
reload_with pool_mode=session
battery se 200
reload_with pool_mode=transaction

# disable_load_balance_on_write: with trans_transaction, a transaction that wrote keeps the
# session's later transactions on the primary, not its autocommit reads; transaction does not
for mode in trans_transaction transaction; do
	reload_with disable_load_balance_on_write=$mode
	t=${mode:0:6}
	printf '%s\n' "BEGIN;" "SELECT n, 'mk_${t}_1' FROM split_tx WHERE id = 301;" "COMMIT;" \
		"BEGIN;" "UPDATE split_tx SET n = n + 1 WHERE id = 302;" "COMMIT;" \
		"BEGIN;" "SELECT n, 'mk_${t}_2' FROM split_tx WHERE id = 301;" "COMMIT;" \
		"SELECT n, 'mk_${t}_3' FROM split_tx WHERE id = 301;" >"$scratch/$t.sql"
	vip_file $P "$scratch/$t.sql" >/dev/null
	sleep 0.5
	case $mode in
	trans_transaction) want="standby primary standby" ;;
	transaction) want="standby standby standby" ;;
	esac
	same "$mode: a read transaction, a write transaction, a read transaction, an autocommit read" \
		"$(at "mk_${t}_1") $(at "mk_${t}_2") $(at "mk_${t}_3")" "$want"
done

# a session whose transactions are SERIALIZABLE reads on the primary (a standby refuses them),
# until it sets another level
printf '%s\n' "SET default_transaction_isolation = 'serializable';" \
	"SELECT n, 'mk_sz1' FROM split_tx WHERE id = 303;" \
	"BEGIN;" "SELECT n, 'mk_sz2' FROM split_tx WHERE id = 303;" "COMMIT;" \
	"SET default_transaction_isolation = 'read committed';" \
	"SELECT n, 'mk_sz3' FROM split_tx WHERE id = 303;" >"$scratch/ser.sql"
out=$(vip_file $P "$scratch/ser.sql")
sleep 0.5
same "split: SET default_transaction_isolation = serializable: autocommit and transaction reads on the primary, no error" \
	"$(at mk_sz1) $(at mk_sz2) $(grep -c ERROR <<<"$out")" "primary primary 0"
same "split: ... set back to read committed, reads on a standby again" "$(at mk_sz3)" standby

# psycopg2, autocommit off (its default): 1,000 sessions of one transaction each, a read, an
# update, a read; weights 0:1:1, so each standby takes 500 of the first reads, within 10%
pyclient txsplit $P 1000 split_tx 1001 >"$scratch/py.json"
diag "psycopg2: $(cat "$scratch/py.json")"
same "psycopg2: 1,000 transactions, no error, each saw its own write" \
	"$(json "[d['sessions'], d['errors'], d['own_write']]" <"$scratch/py.json")" "[1000, {}, 1000]"
same "psycopg2: the reads before the write on the standbys by weight (each 500 within 10%), none on the primary" \
	"$(json "[d['first'].get('db0', 0), 450 <= d['first'].get('db1', 0) <= 550, 450 <= d['first'].get('db2', 0) <= 550]" <"$scratch/py.json")" \
	"[0, True, True]"
same "psycopg2: the reads after the write on the primary" "$(json "d['second']" <"$scratch/py.json")" "{'db0': 1000}"
sleep 0.5
same "psycopg2: in the servers' logs, reads before the write on the standbys, writes on the primary" \
	"$(at mk_pyr) $(at mk_pyw)" "standby primary"
same "psycopg2: every update committed" \
	"$(lab psql db0 -XAt -c "SELECT count(*), sum(n) FROM split_tx WHERE id BETWEEN 1001 AND 2000")" "1000|1000"

# JDBC, autoCommit false, prepared statements (named on the servers past prepareThreshold), and
# node-postgres (named and unnamed statements): 20 transactions each, in both pool modes
for mode in transaction session; do
	reload_with pool_mode=$mode
	base=$([ $mode = transaction ] && echo 2001 || echo 2101)
	read -r first second own fetched <<<"$(jdbc $P txsplit $base)"
	same "JDBC ($mode pooling): reads before the write on the standbys, after it on the primary, own writes seen, a fetch-size read whole" \
		"$(grep -c db0 <<<"$first") $second $own $fetched" "0 db0=20 20 50"
	if [ -d "$ROOT/.deps/node/node_modules/pg" ]; then
		out=$(timeout 60 "$LAB_SH" exec cli env NODE_PATH="$ROOT/.deps/node/node_modules" LAB_VIP="$VIP" \
			PGPASSWORD="$PGPASSWORD" node "$ROOT/vm-tests/pgnode.js" $P txsplit $((base + 50)) 2>&1)
		same "node-postgres ($mode pooling): reads before the write on the standbys, after it on the primary, own writes seen" \
			"$(json "['db0' in d['first'], sum(d['first'].values()), d['second'], d['own_write']]" <<<"$out")" \
			"[False, 20, {'db0': 20}, 20]"
	else
		not_ok "node-postgres ($mode pooling): not installed in .deps/node (tools/install-deps installs it)"
	fi
done
sleep 0.5
# each reads twice with one statement: 20 of each run's reads on the primary (after the write)
same "JDBC and node-postgres: in the servers' logs, reads before the write on the standbys, writes on the primary" \
	"$(where mk_jr | awk '{print $1, $2 + $3}') $(at mk_jw) $(where mk_nr | awk '{print $1, $2 + $3}') $(at mk_nw)" \
	"40 40 primary 40 40 primary"

# raw protocol: a BEGIN batch behind a BEGIN pgxr answered; a unit sent a message at a time; a
# portal fetched twice in a transaction on a reader; START TRANSACTION's tag
out=$(timeout 60 "$LAB_SH" exec cli env LAB_VIP="$VIP" PGPASSWORD="$PGPASSWORD" \
	/usr/bin/python3 "$ROOT/vm-tests/pgwire.py" tx_split $P 2>&1)
diag "pgwire tx_split: $out"
same "raw protocol: a BEGIN batch inside a transaction pgxr began: PostgreSQL's warning, the read, the commit" \
	"$(json "[d['begin_batch']['error'], 'N' in d['begin_batch']['types'], len(d['begin_batch']['rows']), d['begin_batch']['commit']]" <<<"$out")" \
	"[None, True, 1, 'CZ']"
same "raw protocol: a unit written one message at a time is routed whole, to a standby" \
	"$(json "[d['piecemeal']['error'], d['piecemeal']['rows'][0] in ('db1', 'db2')]" <<<"$out")" "[None, True]"
same "raw protocol: a portal fetched twice in a transaction on a reader: all its rows, from one standby" \
	"$(json "[d['fetch']['error'], len(d['fetch']['rows']), len(set(r[:3] for r in d['fetch']['rows'])), d['fetch']['rows'][0][:3] != 'db0', d['fetch']['commit']]" <<<"$out")" \
	"[None, 4, 1, True, 'CZ']"
same "raw protocol: START TRANSACTION answered with its own tag" "$(json "d['start_tag']" <<<"$out")" \
	"['START TRANSACTION']"

# pgbench, a custom script of transactions (prepared statements): a read, an update, a read
cat >"$LAB_DIR/t340.sql" <<'EOF'
\set id random(3001, 3100)
BEGIN;
SELECT n, 'mk_pbr' FROM split_tx WHERE id = :id;
UPDATE split_tx SET n = n + 1 WHERE id = :id AND 'mk_pbw' <> '';
SELECT n, 'mk_pba' FROM split_tx WHERE id = :id;
END;
EOF
out=$(timeout 120 "$LAB_SH" exec cli pgbench -n -M prepared -c 4 -t 100 -f "$LAB_DIR/t340.sql" \
	"host=$VIP port=$P user=postgres dbname=postgres" 2>&1)
sleep 0.5
same "pgbench: 400 transactions, none failed" "$(grep -o "processed: [0-9]*/[0-9]*" <<<"$out")" "processed: 400/400"
same "pgbench: reads before the write on the standbys, writes and the reads after on the primary" \
	"$(where mk_pbr | awk '{print $1, $2 + $3}') $(at mk_pbw) $(at mk_pba)" "0 400 primary primary"
same "pgbench: every update committed" \
	"$(lab psql db0 -XAt -c "SELECT sum(n) FROM split_tx WHERE id BETWEEN 3001 AND 3100")" 400

# a standby lost under a transaction that read there: the client gets an error at its next
# statement, not a hang; autocommit sessions go on elsewhere (t330)
reload_with backend_weight1=1 backend_weight2=0
pyclient txlost $P 3 >"$scratch/lost.json" &
lost=$!
sleep 1.5
lab pg db1 stop
wait $lost
diag "a transaction across db1's stop: $(cat "$scratch/lost.json")"
same "split: the standby a transaction read on stops: its next statement gets an error within 10 s" \
	"$(json "[d['first'], 'error' in d, d['ms'] < 10000]" <"$scratch/lost.json")" "['db1', True, True]"
lab pg db1 start
same "split: after that, a new session reads" "$(vip_sql $P "SELECT 'ok' FROM split_tx WHERE id = 1")" ok

statement_log off
exit $((E2E_FAILED > 0))
