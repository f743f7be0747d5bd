#!/usr/bin/env bash
# t310_proxy_auth.sh: enable_pool_hba: pool_hba.conf and pool_passwd (md5, SCRAM, TEXT, AES),
# the same round trips and errors as PostgreSQL, pgxr's own login to the server (md5, SCRAM from
# a password or from the client's keys), and the session pool: reuse, reset, max_pool, life time
# lab: fresh
. "$(dirname "$0")/lib.sh"

P=9999
wire() { timeout "${WIRE_TIMEOUT:-30}" "$LAB_SH" exec cli /usr/bin/python3 "$ROOT/vm-tests/pgwire.py" "$@"; }
# auth PORT user=.. password=..: the Authentication requests, the error's code, the user served
auth() {
	wire auth "$@" | json "[d['auth'], (d['error'] or {}).get('code'), d['user']]"
}
auth_msg() { wire auth "$@" | json "(d['error'] or {}).get('message')"; }
auth_pid() { wire auth "$@" | json "d['pid']"; }
backends_of() {
	lab psql db0 -XAt -c "SELECT count(*) FROM pg_stat_activity WHERE usename = '$1' AND backend_type = 'client backend'"
}
as_user() {
	local user=$1 pw=$2
	shift 2
	timeout 20 "$LAB_SH" exec cli env PGPASSWORD="$pw" psql -XAt -v ON_ERROR_STOP=1 \
		"host=$VIP port=$P user=$user dbname=postgres connect_timeout=5" "$@"
}

# roles on the primary: SCRAM verifiers, one md5 hash, one role its server trusts
lab psql db0 -qX >/dev/null <<'EOF'
SET password_encryption = 'scram-sha-256';
CREATE ROLE alice LOGIN PASSWORD 'alice-pw';
CREATE ROLE carol LOGIN PASSWORD 'carol-pw';
CREATE ROLE dave LOGIN PASSWORD 'dave-pw';
CREATE ROLE frank LOGIN PASSWORD 'frank-pw';
CREATE ROLE gina LOGIN PASSWORD 'gina-pw';
CREATE ROLE trudy LOGIN;
CREATE ROLE quinn LOGIN PASSWORD 'quinn-pw';
SET password_encryption = 'md5';
CREATE ROLE bob LOGIN PASSWORD 'bob-pw';
CREATE ROLE rita LOGIN PASSWORD 'rita-pw';
CREATE TABLE t310 (x int);
GRANT ALL ON t310 TO alice;
EOF
hba=$LAB_DIR/db0/data/pg_hba.conf
sed -i "1i host all bob,rita $LAB_NET.0/24 md5\nhost all trudy $LAB_NET.0/24 trust" "$hba"
lab psql db0 -qXAt -c "SELECT pg_reload_conf()" >/dev/null

# pool_passwd in each of pgpool's formats; the AES entry made by pgpool's own pg_enc
echo "pgxr-t310-key" >"$LAB_DIR/pgpoolkey"
chmod 600 "$LAB_DIR/pgpoolkey"
aes=$(pg_enc -k "$LAB_DIR/pgpoolkey" dave-pw | sed -n 's/^pool_passwd string: //p')
gina=$(/usr/bin/python3 - <<'PYEOF'
import base64, hashlib, hmac, os
salt = os.urandom(16)
sp = hashlib.pbkdf2_hmac("sha256", b"gina-pw", salt, 4096)
ck = hmac.new(sp, b"Client Key", "sha256").digest()
sk = hmac.new(sp, b"Server Key", "sha256").digest()
b = lambda x: base64.b64encode(x).decode()
print(f"SCRAM-SHA-256$4096:{b(salt)}${b(hashlib.sha256(ck).digest())}:{b(sk)}")
PYEOF
)
{
	lab psql db0 -XAt -F: -c "SELECT rolname, rolpassword FROM pg_authid WHERE rolname IN ('alice', 'bob')"
	echo "carol:TEXTcarol-pw"
	echo "dave:$aes"
	echo "frank:TEXTwrong-frank"
	echo "gina:$gina"
	echo "postgres:TEXT$PGPASSWORD"
} >"$LAB_DIR/pool_passwd"
cat >"$LAB_DIR/pool_hba.conf" <<'EOF'
# TYPE  DATABASE   USER                          ADDRESS     METHOD
host    all        mallory                       0.0.0.0/0   reject
host    all        trudy                         0.0.0.0/0   trust
host    all        carol,frank                   0.0.0.0/0   password
host    all        bob,rita                      0.0.0.0/0   md5
host    template1  alice                         0.0.0.0/0   md5
host    all        alice,dave,gina,postgres,zed,quinn  0.0.0.0/0   scram-sha-256
EOF
check "auth: pg_enc made an AES entry" grep -q '^dave:AES' "$LAB_DIR/pool_passwd"
reload_with enable_pool_hba=on "pool_key_file='$LAB_DIR/pgpoolkey'"

# the matrix: what the client is asked, and how it ends
same "auth: scram-sha-256 line, SCRAM verifier, right password" "$(auth $P user=alice password=alice-pw)" "[[10, 11, 12, 0], None, 'alice']"
same "auth: ... wrong password: 28P01 after the whole exchange" "$(auth $P user=alice password=nope)" "[[10, 11], '28P01', None]"
same "auth: ... PostgreSQL itself asks the same" "$(auth 5432 user=alice password=nope)" "[[10, 11], '28P01', None]"
same "auth: ... the message is PostgreSQL's" "$(auth_msg $P user=alice password=nope)" 'password authentication failed for user "alice"'
same "auth: md5 line with a SCRAM verifier: SCRAM, as PostgreSQL" "$(auth $P user=alice password=alice-pw database=template1)" "[[10, 11, 12, 0], None, 'alice']"
same "auth: md5 line, md5 entry, right password; pgxr logs in with the hash" "$(auth $P user=bob password=bob-pw)" "[[5, 0], None, 'bob']"
same "auth: ... wrong password" "$(auth $P user=bob password=nope)" "[[5], '28P01', None]"
same "auth: ... PostgreSQL itself asks the same" "$(auth 5432 user=bob password=nope)" "[[5], '28P01', None]"
same "auth: password line, TEXT entry: cleartext, then SCRAM to the server" "$(auth $P user=carol password=carol-pw)" "[[3, 0], None, 'carol']"
same "auth: ... wrong password" "$(auth $P user=carol password=nope)" "[[3], '28P01', None]"
same "auth: AES entry (pg_enc): SCRAM to the client and to the server" "$(auth $P user=dave password=dave-pw)" "[[10, 11, 12, 0], None, 'dave']"
same "auth: ... wrong password" "$(auth $P user=dave password=nope)" "[[10, 11], '28P01', None]"
same "auth: a user pool_passwd lacks goes through the exchange and fails at its end" "$(auth $P user=zed password=x)" "[[10, 11], '28P01', None]"
same "auth: ... as PostgreSQL does for a user it lacks" "$(auth 5432 user=zed password=x)" "[[10, 11], '28P01', None]"
same "auth: trust line, a server that trusts too: no password anywhere" "$(auth $P user=trudy password=)" "[[0], None, 'trudy']"
same "auth: reject line: 28000" "$(auth $P user=mallory password=x)" "[[], '28000', None]"
check "auth: ... pgpool's words for it" grep -q 'pool_hba.conf rejects connection for host "' <<<"$(auth_msg $P user=mallory password=x)"
same "auth: no line: 28000" "$(auth $P user=eve password=x)" "[[], '28000', None]"
out=$(auth_msg $P user=eve password=x)
same "auth: ... naming host, user and database" "$out" "no pool_hba.conf entry for host \"$CLIENT_IP\", user \"eve\", database \"postgres\", no encryption"
same "auth: the server refuses pgxr's login: its own error reaches the client" "$(auth $P user=frank password=wrong-frank)" "[[3], '28P01', None]"
out=$(auth_msg $P user=gina password=gina-pw)
check "auth: a verifier that is not the server's is said so ($out)" grep -q "not the server's" <<<"$out"
same "auth: psql (libpq) logs in through VIP:$P" "$(as_user alice alice-pw -c 'SELECT current_user')" alice
# auth_query: users pool_passwd lacks, looked up on the primary as auth_user
same "auth_query: off, a user pool_passwd lacks fails" "$(auth $P user=quinn password=quinn-pw)" "[[10, 11], '28P01', None]"
reload_with auth_user=postgres
same "auth_query: a SCRAM verifier found on the primary; pgxr logs in with the client's keys" \
	"$(auth $P user=quinn password=quinn-pw)" "[[10, 11, 12, 0], None, 'quinn']"
same "auth_query: ... a wrong password" "$(auth $P user=quinn password=nope)" "[[10, 11], '28P01', None]"
same "auth_query: an md5 hash found: md5 both ways" "$(auth $P user=rita password=rita-pw)" "[[5, 0], None, 'rita']"
same "auth_query: a user the primary lacks fails at the end of the exchange" \
	"$(auth $P user=zed password=x)" "[[10, 11], '28P01', None]"
same "auth_query: pool_passwd still comes first" "$(auth $P user=alice password=alice-pw)" "[[10, 11, 12, 0], None, 'alice']"
reload_with "auth_query='SELECT 1/0, 2'"
same "auth_query: a query that fails: the user is unknown, no server error reaches the client" \
	"$(auth $P user=quinn password=quinn-pw)" "[[10, 11], '28P01', None]"
reload_with "auth_user=''" "auth_query='SELECT usename, passwd FROM pg_shadow WHERE usename = \$1'"
out=$(pyclient cancel $P)
same "auth: cancel of a pooled session: 57014 for it, the other sleeps on" \
	"$(json "[d['victim'], d['bystander'], d['victim_usable']]" <<<"$out")" "['57014', 'ok', True]"

# the session pool
a=$(auth_pid $P user=alice password=alice-pw)
b=$(auth_pid $P user=alice password=alice-pw)
same "pool: the next client of the same user, database and parameters gets the same server ($a)" "$b" "$a"
c=$(auth_pid $P user=alice password=alice-pw application_name=other)
check "pool: other startup parameters, another server ($c)" test "$c" != "$a"
d=$(auth_pid $P user=carol password=carol-pw)
check "pool: another user, another server" test "$d" != "$a"
pid1=$(as_user alice alice-pw -c "SET search_path = pg_catalog" -c "CREATE TEMP TABLE tmp310 (x int)" \
	-c "LISTEN t310" -c "SELECT pg_advisory_lock(310)" -c "PREPARE q310 AS SELECT 1" -c "SELECT pg_backend_pid()" | tail -1)
out=$(as_user alice alice-pw -c "SELECT pg_backend_pid() || ' ' || current_setting('search_path') || ' ' ||
	(SELECT count(*) FROM pg_class WHERE relname = 'tmp310') || ' ' || (SELECT count(*) FROM pg_listening_channels()) || ' ' ||
	(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory') || ' ' || (SELECT count(*) FROM pg_prepared_statements)")
same "pool: reset_query_list ran: same server, search_path, temp table, LISTEN, lock and PREPARE gone" "$out" "$pid1 \"\$user\", public 0 0 0 0"
printf 'BEGIN;\nINSERT INTO t310 VALUES (1);\nSELECT pg_backend_pid();\n' | as_user alice alice-pw >/dev/null
same "pool: a transaction its client left open is rolled back before reuse" \
	"$(as_user alice alice-pw -c "SELECT count(*) || ' ' || (pg_backend_pid() = $pid1) FROM t310")" "0 true"
reload_with "reset_query_list=''"
printf 'BEGIN;\nINSERT INTO t310 VALUES (2);\nSELECT pg_backend_pid();\n' | as_user alice alice-pw >/dev/null
same "pool: with an empty reset_query_list, a connection its client left in a transaction is closed" \
	"$(as_user alice alice-pw -c "SELECT count(*) || ' ' || (pg_backend_pid() = $pid1) FROM t310")" "0 false"
reload_with "reset_query_list='ABORT; DISCARD ALL'"
lab psql db0 -qX -c "GRANT SELECT ON ALL TABLES IN SCHEMA public TO alice" >/dev/null
timeout 60 "$LAB_SH" exec cli pgbench -n "host=$VIP port=$P user=postgres dbname=postgres" -i -s 1 -q >/dev/null 2>&1
lab psql db0 -qX -c "GRANT SELECT ON ALL TABLES IN SCHEMA public TO alice" >/dev/null
out=$(timeout 60 "$LAB_SH" exec cli env PGPASSWORD=alice-pw pgbench -n -C -S -c 4 -j 2 -T 3 \
	"host=$VIP port=$P user=alice dbname=postgres" 2>&1)
n=$(backends_of alice)
diag "pgbench -C as alice: $(grep -E '^(tps|number of transactions actually)' <<<"$out" | tr '\n' ' ')"
check "pool: pgbench -C -c 4 (a connection per transaction) runs without failures" grep -q 'number of failed transactions: 0 ' <<<"$out"
check "pool: ... on at most max_pool (4) + 4 server connections ($n)" test "$n" -le 8
reload_with max_pool=1
timeout 60 "$LAB_SH" exec cli env PGPASSWORD=alice-pw pgbench -n -C -S -c 4 -j 2 -T 2 \
	"host=$VIP port=$P user=alice dbname=postgres" >/dev/null 2>&1
wait_for 5 bash -c "[ \$('$LAB_SH' psql db0 -XAt -c \"SELECT count(*) FROM pg_stat_activity WHERE usename = 'alice' AND application_name = 'pgbench'\") -le 1 ]"
same "pool: max_pool 1: one idle server of a pool stays cached" \
	"$(lab psql db0 -XAt -c "SELECT count(*) FROM pg_stat_activity WHERE usename = 'alice' AND application_name = 'pgbench'")" 1
reload_with connection_life_time=1
as_user alice alice-pw -c "SELECT 1" >/dev/null
sleep 2.5
same "pool: connection_life_time 1: an idle cached server is closed" "$(backends_of alice)" 0
reload_with connection_cache=off
a=$(auth_pid $P user=alice password=alice-pw)
b=$(auth_pid $P user=alice password=alice-pw)
check "pool: connection_cache off: each client a server of its own" test "$a" != "$b"
reload_with connection_cache=on connection_life_time=0 max_pool=4

# pgpool's SHOW commands and pgxrctl, with sessions and cached connections about
show() { as_user alice alice-pw -F'|' -c "SHOW $1" | sed 's/^/ /'; }
header() { timeout 20 "$LAB_SH" exec cli env PGPASSWORD=alice-pw psql -XA -F'|' \
	"host=$VIP port=$P user=alice dbname=postgres" -c "SHOW $1" | head -1; }
same "show: pool_processes has pgpool 4.4's columns" "$(header pool_processes)" \
	"pool_pid|start_time|client_connection_count|database|username|backend_connection_time|pool_counter|status"
out=$(show pool_processes)
check "show: ... a row per worker waiting for connections" grep -q '|Wait for connection$' <<<"$out"
check "show: ... and the asking session, idle, as alice on postgres" grep -Eq '\|postgres\|alice\|[0-9-]+ [0-9:]+\|[0-9]+\|Idle$' <<<"$out"
same "show: pool_pools has pgpool 4.4's columns" "$(header pool_pools)" \
	"pool_pid|start_time|client_connection_count|pool_id|backend_id|database|username|backend_connection_time|client_connection_time|client_disconnection_time|client_idle_duration|majorversion|minorversion|pool_counter|pool_backendpid|pool_connected|status"
as_user carol carol-pw -c "SELECT 1" >/dev/null
out=$(show pool_pools)
check "show: ... the asking session's server, connected" grep -Eq '\|0\|postgres\|alice\|.*\|3\|0\|[0-9]+\|[0-9]+\|1\|Idle$' <<<"$out"
check "show: ... a cached server of carol's, not connected" grep -Eq '\|0\|postgres\|carol\|.*\|3\|0\|[0-9]+\|[0-9]+\|0\|Idle \(cached\)$' <<<"$out"
same "show: pool_status has pgpool's columns" "$(header pool_status)" "item|value|description"
out=$(show pool_status)
check "show: ... every key, with its value" grep -q '^ max_pool|4|idle cached server connections' <<<"$out"
check "show: ... enable_pool_hba on" grep -q '^ enable_pool_hba|on|' <<<"$out"
check "show: ... a node's keys under their index" grep -q "^ backend_hostname0|$LAB_NET.20|" <<<"$out"
check "show: ... passwords masked" grep -q '^ health_check_password|\*\*\*\*\*\*\*\*|' <<<"$out"
same "show: ... and never shown" "$(grep -c "$PGPASSWORD" <<<"$out")" 0
same "show: pool_backend_stats has pgpool 4.4's columns" "$(header pool_backend_stats)" \
	"node_id|hostname|port|status|role|select_cnt|insert_cnt|update_cnt|delete_cnt|ddl_cnt|other_cnt|panic_cnt|fatal_cnt|error_cnt"
before=$(show pool_backend_stats | awk -F'|' '$1 == " 0" {print $6, $7, $10, $14}')
as_user alice alice-pw -c "SELECT 1" -c "INSERT INTO t310 VALUES (2)" -c "CREATE TEMP TABLE t310b (x int)" >/dev/null
as_user alice alice-pw -c "SELECT 1/0" >/dev/null 2>&1
sleep 0.3	# the main loop sums the workers' counters every 100 ms
after=$(show pool_backend_stats | awk -F'|' '$1 == " 0" {print $6, $7, $10, $14}')
diag "pool_backend_stats node 0 (select insert ddl error): $before -> $after"
same "show: ... counts node 0's SELECT, INSERT, DDL and ERROR as the server answers them" \
	"$(/usr/bin/python3 -c "a='$before'.split(); b='$after'.split(); print([int(y) - int(x) for x, y in zip(a, b)])")" "[1, 1, 1, 1]"
same "show: pool_health_check_stats has pgpool 4.4's columns" "$(header pool_health_check_stats)" \
	"node_id|hostname|port|status|role|last_status_change|total_count|success_count|fail_count|skip_count|retry_count|average_retry_count|max_retry_count|max_duration|min_duration|average_duration|last_health_check|last_successful_health_check|last_skip_health_check|last_failed_health_check"
out=$(show pool_health_check_stats | awk -F'|' '$1 == " 0" {print ($7 > 0 && $8 == $7 && $9 == 0 && $17 != "")}')
same "show: ... node 0 checked, every check a success, last check time set" "$out" 1
out=$(ctl -j pool list)
same "pgxrctl: pool list -j: the connected server and the cached ones" \
	"$(json "sorted(set((p['username'], p['pool_connected']) for p in d if p['username'] in ('carol',)))" <<<"$out")" "[('carol', '0')]"
out=$(ctl client list)
check "pgxrctl: client list prints pool_processes' columns" grep -q '^pool_pid *start_time *client_connection_count *database *username' <<<"$out"

# files: a broken pool_hba.conf changes nothing; no secret in the log
cp "$LAB_DIR/pool_hba.conf" "$LAB_DIR/pool_hba.conf.good"
echo "host all all 10.0.0.0/33 trust" >>"$LAB_DIR/pool_hba.conf"
out=$(ctl reload 2>&1)
check "auth: a reload with a broken pool_hba.conf is refused, naming file and line" \
	grep -q "pool_hba.conf:8: invalid address" <<<"$out"
same "auth: ... and the old rules hold" "$(auth $P user=alice password=alice-pw)" "[[10, 11, 12, 0], None, 'alice']"
mv "$LAB_DIR/pool_hba.conf.good" "$LAB_DIR/pool_hba.conf"
ctl reload >/dev/null
secrets="alice-pw|bob-pw|carol-pw|dave-pw|gina-pw|wrong-frank|$PGPASSWORD|md5[0-9a-f]{32}|SCRAM-SHA-256\\\$|AES[A-Za-z0-9+/]{8}"
check "auth: no password, hash or verifier in pgxrd's log" bash -c "! grep -Eq '$secrets' '$LAB_DIR/pgxrd.log'"
check "auth: failures are logged with the reason and the pool_hba.conf line" \
	grep -q 'password authentication failed for user "alice" from .*: wrong password (scram-sha-256) (pool_hba.conf line 7)' "$LAB_DIR/pgxrd.log"

# passthrough (enable_pool_hba off): only a server that asked no password is reused
reload_with enable_pool_hba=off
a=$(auth_pid $P user=trudy password=)
b=$(auth_pid $P user=trudy password=)
same "passthrough: a server that trusts the user is reused" "$b" "$a"
a=$(auth_pid $P user=alice password=alice-pw)
b=$(auth_pid $P user=alice password=alice-pw)
check "passthrough: a server that asked a password is not ($a, $b)" test "$a" != "$b"
same "passthrough: the server authenticates again" "$(auth $P user=alice password=nope)" "[[10, 11], '28P01', None]"
exit $((E2E_FAILED > 0))
