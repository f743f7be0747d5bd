#!/usr/bin/env bash
# t330_proxy_split.sh: load_balance_mode in transaction pooling: reads the parser finds safe run on
# the standbys by backend_weight, everything else on the primary, over the simple and the
# extended protocol; where each statement ran is read from the servers' own logs (log_statement)
# lab: fresh
. "$(dirname "$0")/lib.sh"

P=9999
pgbench_vip() { timeout 120 "$LAB_SH" exec cli pgbench -n "host=$VIP port=$P user=postgres dbname=postgres" "$@" 2>&1; }
scratch=$(mktemp -d /tmp/t330.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

statement_log all
lab psql db0 -XAtq -c "CREATE TABLE split_t (id int PRIMARY KEY, v text)" \
	-c "INSERT INTO split_t SELECT g, 'row' || g FROM generate_series(1, 100) g" >/dev/null
replicated db2 split_t 100
proxy_auth_postgres
# no reads on the primary (weight 0), a quarter on db1, three quarters on db2
reload_with enable_pool_hba=on pool_mode=transaction max_pool=8 load_balance_mode=on \
	statement_level_load_balance=on backend_weight0=0 backend_weight1=1 backend_weight2=3

# functions: pgxrd reads their volatility in a database from the primary once a read there calls
# one (that read goes to the primary), and again after DDL of functions through the proxy
vip_sql $P "SELECT now()" >/dev/null
sleep 1
vip_sql $P "CREATE FUNCTION split_stable(int) RETURNS int LANGUAGE sql STABLE AS 'SELECT \$1'" >/dev/null
vip_sql $P "CREATE FUNCTION split_volatile(int) RETURNS int LANGUAGE sql AS 'SELECT \$1'" >/dev/null
sleep 1.5

# the rules, over the simple protocol: each statement carries a mark of its own
declare -A rule=(
	[read]="SELECT v, 'mk_read' FROM split_t WHERE id = 1"
	[insert]="INSERT INTO split_t VALUES (1001, 'mk_insert')"
	[update]="UPDATE split_t SET v = 'mk_update' WHERE id = 2"
	[catalog]="SELECT relname, 'mk_catalog' FROM pg_class LIMIT 1"
	[qualified_catalog]="SELECT 'mk_qcatalog' FROM pg_catalog.pg_am LIMIT 1"
	[function]="SELECT random(), 'mk_function'"
	[stable_function]="SELECT now(), 'mk_stablefn'"
	[aggregate]="SELECT count(*), 'mk_count' FROM split_t"
	[no_lb]="/*NO LOAD BALANCE*/ SELECT 'mk_nolb' FROM split_t LIMIT 1"
	[comment]="/* a comment */ SELECT 'mk_comment' FROM split_t LIMIT 1"
	[for_update]="SELECT v, 'mk_forupdate' FROM split_t WHERE id = 3 FOR UPDATE"
	[cte_dml]="WITH x AS (UPDATE split_t SET v = v WHERE id = 4 RETURNING v) SELECT v, 'mk_ctedml' FROM x"
	[multi]="SELECT 'mk_multi1' FROM split_t LIMIT 1; SELECT 'mk_multi2'"
	[select_into]="SELECT v, 'mk_into' AS m INTO TEMP into_t FROM split_t LIMIT 1"
	[show]="SHOW server_version -- mk_show"
	[values]="VALUES ('mk_values')"
	[explain]="EXPLAIN SELECT v, 'mk_explain' FROM split_t"
	[user_stable]="SELECT split_stable(1), 'mk_ustable'"
	[user_qualified]="SELECT public.split_stable(2), 'mk_uqstable'"
	[user_volatile]="SELECT split_volatile(1), 'mk_uvolatile'"
	[copy_out]="COPY (SELECT v, 'mk_copyout' FROM split_t LIMIT 1) TO STDOUT"
	[copy_in]="COPY split_t FROM STDIN -- mk_copyin"
	[table]="TABLE split_t -- mk_table"
)
declare -A want=(
	[read]=standby [insert]=primary [update]=primary [catalog]=primary [qualified_catalog]=primary
	[function]=primary [stable_function]=standby [aggregate]=standby [no_lb]=primary
	[comment]=primary [for_update]=primary [cte_dml]=primary
	[multi]=primary [select_into]=primary [show]=standby [values]=primary [explain]=standby
	[user_stable]=standby [user_qualified]=standby [user_volatile]=primary
	[copy_out]=standby [copy_in]=primary [table]=standby
)
for k in "${!rule[@]}"; do
	vip_sql $P "${rule[$k]}" </dev/null >/dev/null 2>"$scratch/err" || diag "$k: $(cat "$scratch/err")"
done
sleep 0.5
for k in $(printf '%s\n' "${!rule[@]}" | sort); do
	mark=$(grep -o "mk_[a-z0-9]*" <<<"${rule[$k]}" | head -1)
	same "split: simple protocol, $k goes to the ${want[$k]}" "$(ran_at "$mark")" "${want[$k]}"
done

# the same rules over the extended protocol (Parse, Bind, Describe, Execute, Sync of each; marks
# mx_ instead of mk_), but COPY FROM STDIN and a multi-statement query, which it cannot carry;
# SELECT INTO TEMP last, since its temporary table pins the session to the primary
for k in $(printf '%s\n' "${!rule[@]}" | sort | grep -vx select_into) select_into; do
	case $k in copy_in | multi) continue ;; esac
	sed 's/mk_/mx_/g; s/(1001,/(1002,/' <<<"${rule[$k]}"
done >"$scratch/each.sql"
out=$(timeout 60 "$LAB_SH" exec cli env LAB_VIP="$VIP" PGPASSWORD="$PGPASSWORD" \
	/usr/bin/python3 "$ROOT/vm-tests/pgwire.py" each $P <"$scratch/each.sql" 2>&1)
same "split: extended protocol, every statement of the rules ran" "$(json "[d['ran'], d['errors']]" <<<"$out")" \
	"[$(grep -c . "$scratch/each.sql"), {}]"
sleep 0.5
for k in $(printf '%s\n' "${!rule[@]}" | sort); do
	case $k in copy_in | multi) continue ;; esac
	mark=$(grep -o "mk_[a-z0-9]*" <<<"${rule[$k]}" | head -1)
	same "split: extended protocol, $k goes to the ${want[$k]}" "$(ran_at "${mark/mk_/mx_}")" "${want[$k]}"
done

# a multi-statement transaction runs on the primary; BEGIN READ ONLY runs whole on one standby
# (t340: transactions a statement at a time)
vip_sql $P "BEGIN; SELECT v, 'mk_intx' FROM split_t WHERE id = 5; COMMIT" >/dev/null
printf '%s\n' "BEGIN READ ONLY;" "SELECT v, 'mk_readonly' FROM split_t WHERE id = 6;" "COMMIT;" >"$scratch/ro.sql"
timeout 20 "$LAB_SH" exec cli psql -XAtq "host=$VIP port=$P user=postgres dbname=postgres" -f "$scratch/ro.sql" >/dev/null
sleep 0.5
same "split: BEGIN; a read; COMMIT in one query (multi-statement) runs on the primary" "$(where mk_intx)" "1 0 0"
read -r n0 n1 n2 <<<"$(where mk_readonly)"
same "split: BEGIN READ ONLY's transaction runs on a standby" "$n0 $((n1 + n2))" "0 1"

# a function made VOLATILE inside a transaction: read again once it commits
printf '%s\n' "BEGIN;" "ALTER FUNCTION split_stable(int) VOLATILE;" "COMMIT;" >"$scratch/alter.sql"
timeout 20 "$LAB_SH" exec cli psql -XAtq -v ON_ERROR_STOP=1 \
	"host=$VIP port=$P user=postgres dbname=postgres" -f "$scratch/alter.sql" >/dev/null
sleep 1.5
vip_sql $P "SELECT split_stable(3), 'mk_altered'" >/dev/null
sleep 0.5
same "split: a function made VOLATILE in a transaction: once committed, a read calling it runs on the primary" \
	"$(where mk_altered)" "1 0 0"

# pgpool's lists instead of pg_proc (split_stable is VOLATILE now, split_volatile always was):
# write_function_list names the writes, read_only_function_list the only reads, each item a
# whole name (schema.name when qualified); primary_routing_query_pattern_list sends a query to
# the primary.  lands NAME SQL WANT: SQL, carrying its mark, ran on WANT only
lands() {
	local mark
	mark=$(grep -o "mk_[a-z0-9]*" <<<"$2" | head -1)
	vip_sql $P "$2" >/dev/null 2>"$scratch/err" || diag "$1: $(cat "$scratch/err")"
	sleep 0.3
	same "split: $1 goes to the $3" "$(ran_at "$mark")" "$3"
}
reload_with write_function_list="'split_vol.*'"
lands "write_function_list: a listed function" "SELECT split_volatile(2), 'mk_wlisted'" primary
lands "write_function_list: a function pg_proc calls VOLATILE but not listed" \
	"SELECT split_stable(4), 'mk_wlstable'" standby
lands "write_function_list: random(), not listed" "SELECT random(), 'mk_wlrandom'" standby
reload_with write_function_list="''" read_only_function_list="'now,public\\\\.split_stable'"
lands "read_only_function_list: a listed function" "SELECT now(), 'mk_ronow'" standby
lands "read_only_function_list: a listed qualified name" "SELECT public.split_stable(5), 'mk_roqual'" standby
lands "read_only_function_list: the same function unqualified (the item is schema.name)" \
	"SELECT split_stable(6), 'mk_rounqual'" primary
lands "read_only_function_list: length(), not listed" "SELECT length('x'), 'mk_rolength'" primary
reload_with read_only_function_list="''" primary_routing_query_pattern_list="'.*mk_prq.*;.*never.*'"
lands "primary_routing_query_pattern_list: a read it matches" "SELECT v, 'mk_prq' FROM split_t WHERE id = 7" primary
lands "primary_routing_query_pattern_list: a read it does not match" \
	"SELECT v, 'mk_notprq' FROM split_t WHERE id = 8" standby
reload_with primary_routing_query_pattern_list="''"

# an unlogged table has no rows on a standby, which refuses to read it: its reads go to the
# primary (check_unlogged_table, on by default); pgxrd reads again which tables are unlogged once
# a transaction that changed tables through the proxy ends
vip_sql $P "CREATE UNLOGGED TABLE split_u (id int)" >/dev/null
vip_sql $P "INSERT INTO split_u VALUES (1)" >/dev/null
sleep 1.5
lands "check_unlogged_table: a read of an unlogged table" "SELECT id, 'mk_unlogged' FROM split_u" primary
lands "check_unlogged_table: ... qualified" "SELECT id, 'mk_qunlogged' FROM public.split_u" primary
reload_with check_unlogged_table=off
out=$(vip_sql $P "SELECT id, 'mk_unchecked' FROM split_u" 2>&1)
same "check_unlogged_table = off: the read goes to a standby, which refuses it" \
	"$(grep -c "cannot access temporary or unlogged relations during recovery" <<<"$out")" 1
reload_with check_unlogged_table=on
vip_sql $P "ALTER TABLE split_u SET LOGGED" >/dev/null
sleep 1.5
replicated db2 split_u 1
lands "check_unlogged_table: the table made logged through the proxy: read on a standby" \
	"SELECT id, 'mk_nowlogged' FROM split_u" standby

# pgpool's redirect preference lists, weights 1:1:1 here: the application name's item first,
# else the database's; primary, a node id, standby, and a node's share of the reads
reload_with backend_weight0=1 backend_weight1=1 backend_weight2=1 \
	app_name_redirect_preference_list="'pgxr_primary:primary,pgxr_one:1,pgxr_half:2(0.5)'" \
	database_redirect_preference_list="'postgres:standby'"
# reads_as APP MARK N: N reads of one session with application_name APP, each carrying MARK
reads_as() {
	local i
	for i in $(seq "$3"); do echo "SELECT v, '$2' FROM split_t WHERE id = $((i % 100 + 1));"; done >"$scratch/$2.sql"
	timeout 60 "$LAB_SH" exec cli psql -XAtq -v ON_ERROR_STOP=1 \
		"host=$VIP port=$P user=postgres dbname=postgres application_name=$1" -f "$scratch/$2.sql" >/dev/null ||
		diag "reads_as $1 failed"
	sleep 0.3
}
reads_as pgxr_primary mk_rdprimary 30
same "redirect: application pgxr_primary: every read on the primary" "$(where mk_rdprimary)" "30 0 0"
reads_as pgxr_one mk_rdone 30
same "redirect: application pgxr_one: every read on node 1" "$(where mk_rdone)" "0 30 0"
reads_as psql mk_rdstandby 60
read -r n0 n1 n2 <<<"$(where mk_rdstandby)"
same "redirect: no application item, database postgres: standby: the reads on both standbys, none on the primary" \
	"$n0 $((n1 + n2)) $((n1 > 0 && n2 > 0))" "0 60 1"
reads_as pgxr_half mk_rdhalf 1000
read -r n0 n1 n2 <<<"$(where mk_rdhalf)"
diag "pgxr_half: $n0 $n1 $n2"
same "redirect: pgxr_half:2(0.5): node 2 takes half the reads (500 within 10%), the others the rest" \
	"$((n2 >= 450 && n2 <= 550)) $((n0 + n1 + n2)) $((n0 > 0 && n1 > 0))" "1 1000 1"
reload_with backend_weight0=0 backend_weight1=1 backend_weight2=3 app_name_redirect_preference_list="''" \
	database_redirect_preference_list="''"

# the extended protocol: pgbench's reads (prepared: Bind of a named statement) and its writes
cat >"$scratch/mixed.sql" <<'EOF'
\set id random(1, 100)
SELECT v, 'mk_ext_read' FROM split_t WHERE id = :id;
UPDATE split_t SET v = 'mk_ext_write' WHERE id = :id;
EOF
for mode in extended prepared; do
	out=$(pgbench_vip -M $mode -c 4 -j 2 -t 100 -f "$scratch/mixed.sql")
	grep -q "number of failed transactions: 0" <<<"$out" ||
		grep -q "actually processed: 400/400" <<<"$out" || diag "pgbench -M $mode: $out"
	sleep 0.5
	read -r n0 n1 n2 <<<"$(where mk_ext_read)"
	same "split: extended protocol ($mode), 400 reads run on the standbys only" "$n0 $((n1 + n2 >= 400))" "0 1"
	read -r n0 n1 n2 <<<"$(where mk_ext_write)"
	same "split: extended protocol ($mode), the 400 writes run on the primary only" "$((n0 >= 400)) $n1 $n2" "1 0 0"
	for n in 0 1 2; do : >"$LAB_DIR/db$n/postgresql.log"; done
done

# 1,000 sessions of one read each, the read node picked once per session: spread by weight
reload_with statement_level_load_balance=off
printf '%s\n' "SELECT v, 'mk_spread' FROM split_t WHERE id = 7;" >"$scratch/spread.sql"
out=$(pgbench_vip -C -c 4 -j 2 -t 250 -f "$scratch/spread.sql")
grep -q "actually processed: 1000/1000" <<<"$out" || diag "pgbench -C: $out"
sleep 0.5
read -r n0 n1 n2 <<<"$(where mk_spread)"
diag "1,000 sessions' reads: db0 $n0, db1 $n1, db2 $n2 (weights 0, 1, 3)"
same "split: 1,000 sessions, every read on a standby" "$n0 $((n1 + n2))" "0 1000"
# within 10 points of the weights' shares (25% and 75%): 7 standard deviations
check "split: ... db1 gets a quarter of them, db2 three quarters (within 10 points)" \
	[ "$n1" -ge 150 ] && [ "$n1" -le 350 ]
read -r s0 s1 s2 <<<"$(vip_sql $P "SHOW pool_nodes" | awk -F'|' '{ print $9 }' | tr '\n' ' ')"
diag "SHOW pool_nodes select_cnt: $s0 $s1 $s2"
check "split: SHOW pool_nodes' select_cnt counts each standby's SELECTs" \
	[ "$s1" -ge "$n1" ] && [ "$s2" -ge "$n2" ]

# a session's read node holds for the session; each session is counted on its node
printf '%s\n' "SELECT v, 'mk_session' FROM split_t WHERE id = 8;" >"$scratch/session.sql"
pgbench_vip -c 1 -t 50 -f "$scratch/session.sql" >/dev/null
sleep 0.5
read -r n0 n1 n2 <<<"$(where mk_session)"
same "split: statement_level_load_balance off: one session's 50 reads on one node" \
	"$n0 $(( (n1 == 50 && n2 == 0) || (n1 == 0 && n2 == 50) ))" "0 1"

# no reader: reads go to the primary
reload_with backend_weight1=0 backend_weight2=0
vip_sql $P "SELECT v, 'mk_noreader' FROM split_t WHERE id = 9" >/dev/null
sleep 0.5
same "split: with no node weighted for reads, a read goes to the primary" "$(where mk_noreader)" "1 0 0"

# off: everything on the primary
reload_with load_balance_mode=off backend_weight0=1 backend_weight1=1 backend_weight2=1
vip_sql $P "SELECT v, 'mk_off' FROM split_t WHERE id = 10" >/dev/null
sleep 0.5
same "split: load_balance_mode off: a read goes to the primary" "$(where mk_off)" "1 0 0"

# disable_load_balance_on_write = always: a write in a transaction keeps the session's later
# reads on the primary; a read whose text would pin a session stays on the primary
reload_with load_balance_mode=on statement_level_load_balance=on disable_load_balance_on_write=always \
	backend_weight0=0 backend_weight1=1 backend_weight2=3
cat >"$scratch/always.sql" <<'SQL'
SELECT v, 'mk_al_before' FROM split_t WHERE id = 14;
BEGIN;
INSERT INTO split_t VALUES (3001, 'x');
COMMIT;
SELECT v, 'mk_al_after' FROM split_t WHERE id = 14;
SQL
timeout 20 "$LAB_SH" exec cli psql -XAtq -v ON_ERROR_STOP=1 \
	"host=$VIP port=$P user=postgres dbname=postgres" -f "$scratch/always.sql" >/dev/null
sleep 0.5
read -r n0 n1 n2 <<<"$(where mk_al_before)"
same "split: always: a read before the session's first write runs on a standby" "$n0 $((n1 + n2))" "0 1"
same "split: always: ... a read after a write in a transaction runs on the primary" \
	"$(where mk_al_after)" "1 0 0"
reload_with disable_load_balance_on_write=transaction
vip_sql $P "SELECT v, 'mk_pintext2' FROM split_t WHERE v LIKE '%pg_advisory_lock(%'" >/dev/null
sleep 0.5
same "split: a read whose text pins a session in transaction pooling runs on the primary" \
	"$(where mk_pintext2)" "1 0 0"

# session pooling: a session's connections (primary, read node) stay its own; what it set and
# prepared follows it
reload_with pool_mode=session load_balance_mode=on statement_level_load_balance=off \
	backend_weight0=0 backend_weight1=1 backend_weight2=3
lab psql db0 -XAtq -c "CREATE SEQUENCE split_seq" >/dev/null
cat >"$scratch/session.sql" <<'SQL'
SELECT nextval('split_seq');
SET application_name = 'mk_s_app';
SELECT v, 'mk_s_read1' FROM split_t WHERE id = 12;
INSERT INTO split_t VALUES (2001, 'mk_s_insert');
SELECT random() >= 0, v, 'mk_s_read2' FROM split_t WHERE id = 13;
SELECT v, 'mk_s_read3' FROM split_t WHERE id = 13;
SELECT currval('split_seq');
SHOW application_name;
SQL
out=$(timeout 20 "$LAB_SH" exec cli psql -XAtq -v ON_ERROR_STOP=1 \
	"host=$VIP port=$P user=postgres dbname=postgres" -f "$scratch/session.sql" 2>&1)
diag "session: $(tr '\n' ' ' <<<"$out")"
same "split, session pooling: nextval and currval on the session's primary connection, its SET kept" \
	"$(sed -n '1p;5p;6p' <<<"$out" | tr '\n' ' ')" "1 1 mk_s_app "
sleep 0.5
read -r n0 n1 n2 <<<"$(where mk_s_read1)"
same "split, session pooling: a read runs on a standby" "$n0 $((n1 + n2))" "0 1"
same "split, session pooling: a read that calls a volatile function runs on the primary" \
	"$(where mk_s_read2)" "1 0 0"
same "split, session pooling: ... its reads stay on one read node" "$(where mk_s_read3)" "$n0 $n1 $n2"
same "split, session pooling: the write runs on the primary" "$(where mk_s_insert)" "1 0 0"
same "split, session pooling: the SET reached the read node before the read" \
	"$(grep -c "SET application_name = 'mk_s_app'" "$LAB_DIR/db$([ "$n1" = 1 ] && echo 1 || echo 2)/postgresql.log")" 1
for mode in extended prepared; do
	out=$(pgbench_vip -M $mode -c 4 -j 2 -t 100 -f "$scratch/mixed.sql")
	grep -q "actually processed: 400/400" <<<"$out" || diag "pgbench -M $mode: $out"
	sleep 0.5
	read -r n0 n1 n2 <<<"$(where mk_ext_read)"
	same "split, session pooling: pgbench -M $mode, 400 reads on the standbys only" \
		"$n0 $((n1 + n2 >= 400))" "0 1"
	read -r n0 n1 n2 <<<"$(where mk_ext_write)"
	same "split, session pooling: pgbench -M $mode, the 400 writes on the primary only" \
		"$((n0 >= 400)) $n1 $n2" "1 0 0"
	for n in 0 1 2; do : >"$LAB_DIR/db$n/postgresql.log"; done
done
reload_with pool_mode=transaction

# a standby stopped under autocommit reads: each session gets at most an ERROR for the read in
# flight, and its next reads go to the other standby
reload_with load_balance_mode=on statement_level_load_balance=on backend_weight0=0 backend_weight1=1 \
	backend_weight2=1
pyclient readers $P 4 6 "SELECT v FROM split_t WHERE id = 11" >"$scratch/readers.json" &
readers=$!
sleep 2
lab pg db2 stop
wait $readers
diag "readers across db2's stop: $(cat "$scratch/readers.json")"
same "split: a standby stopped under 4 reading sessions: every session lives on" \
	"$(json "[s['alive'] for s in d]" <"$scratch/readers.json")" "[True, True, True, True]"
same "split: ... each reads again after any error, and has at most one error, for its read in flight" \
	"$(json "all(s['ok'] > 0 and sum(s['errors'].values()) <= 1 and (not s['errors'] or s['error_after'] > 0) and set(s['errors']) <= {'57P01'} for s in d)" <"$scratch/readers.json")" True
lab pg db2 start

statement_log off
exit $((E2E_FAILED > 0))
