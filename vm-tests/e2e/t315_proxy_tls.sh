#!/usr/bin/env bash
# t315_proxy_tls.sh: TLS on the proxy port (sslmode require and verify-full, hostssl and
# hostnossl lines, SCRAM channel binding) and to the servers (backend_sslmode verify-full),
# with large results and pgbench through both
# lab: fresh
. "$(dirname "$0")/lib.sh"

P=9999
tls=$LAB_DIR/tls
install -d -m 0755 "$tls"
# a CA of the test's own; certificates for the VIP (the proxy) and for db0
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tls/ca.key" -out "$tls/ca.crt" -days 2 \
	-subj /CN=pgxr-test-ca >/dev/null 2>&1
cert() {
	openssl req -newkey rsa:2048 -nodes -keyout "$tls/$1.key" -out "$tls/$1.csr" -subj "/CN=$2" >/dev/null 2>&1
	openssl x509 -req -in "$tls/$1.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial \
		-out "$tls/$1.crt" -days 2 -extfile <(printf 'subjectAltName=IP:%s\n' "$2") >/dev/null 2>&1
}
cert proxy "$VIP"
cert db0 "$LAB_NET.20"
install -o postgres -m 0600 "$tls/db0.key" "$LAB_DIR/db0/data/server.key"
install -o postgres -m 0644 "$tls/db0.crt" "$LAB_DIR/db0/data/server.crt"
lab psql db0 -qX >/dev/null <<'EOF'
ALTER SYSTEM SET ssl = on;
SELECT pg_reload_conf();
SET password_encryption = 'scram-sha-256';
CREATE ROLE alice LOGIN PASSWORD 'alice-pw';
CREATE ROLE bob LOGIN PASSWORD 'bob-pw';
CREATE ROLE sslonly LOGIN PASSWORD 'sslonly-pw';
EOF
lab psql db0 -XAt -F: -c "SELECT rolname, rolpassword FROM pg_authid WHERE rolname IN ('alice', 'sslonly')" >"$LAB_DIR/pool_passwd"
echo "bob:TEXTbob-pw" >>"$LAB_DIR/pool_passwd"
echo "postgres:TEXT$PGPASSWORD" >>"$LAB_DIR/pool_passwd"
cat >"$LAB_DIR/pool_hba.conf" <<'EOF'
hostssl    all  sslonly         0.0.0.0/0  scram-sha-256
hostnossl  all  bob             0.0.0.0/0  scram-sha-256
host       all  alice,postgres  0.0.0.0/0  scram-sha-256
EOF
reload_with enable_pool_hba=on ssl=on "ssl_cert='$tls/proxy.crt'" "ssl_key='$tls/proxy.key'"
lab pgxrd restart >/dev/null
# pgxrd's own connections (health checks, promotion) encrypt when the server offers TLS
ctl_tls() {
	[ "$(lab psql db0 -XAt -c "SELECT count(*) > 0 AND bool_and(s.ssl) FROM pg_stat_ssl s
		JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'pgxrd'")" = t ]
}
check "tls: pgxrd's connections to db0 are encrypted" wait_for 10 ctl_tls
# as libpq's sslmode=prefer: a server that refuses the login over TLS gets it again in plain text
hba=$LAB_DIR/db0/data/pg_hba.conf
cp "$hba" "$hba.t315"
{ echo "hostssl all postgres $LAB_NET.2/32 reject"; cat "$hba.t315"; } >"$hba"
lab psql db0 -qX -c "SELECT pg_reload_conf()" \
	-c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgxrd'" >/dev/null
ctl_plain() {
	[ "$(lab psql db0 -XAt -c "SELECT count(*) > 0 AND NOT bool_or(s.ssl) FROM pg_stat_ssl s
		JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'pgxrd'")" = t ]
}
check "tls: refused over TLS (hostssl ... reject), pgxrd logs in without it" wait_for 10 ctl_plain
same "tls: ... and node 0 stays up" "$(node_field 0 status)" up
cp "$hba.t315" "$hba"
lab psql db0 -qX -c "SELECT pg_reload_conf()" >/dev/null

# psql in the client's namespace; $1 is the password, the rest libpq keywords
tpsql() {
	local pw=$1 conn=$2
	shift 2
	timeout 30 "$LAB_SH" exec cli env PGPASSWORD="$pw" psql -XAt -v ON_ERROR_STOP=1 \
		"host=$VIP port=$P dbname=postgres connect_timeout=5 $conn" "$@" 2>&1
}
out=$(tpsql alice-pw "user=alice sslmode=require" -c '\conninfo')
check "tls: sslmode=require: the proxy speaks TLS" grep -q 'SSL connection (protocol: TLSv1\.[23]' <<<"$out"
same "tls: sslmode=verify-full against the test CA, the VIP in the certificate" \
	"$(tpsql alice-pw "user=alice sslmode=verify-full sslrootcert=$tls/ca.crt" -c 'SELECT current_user')" alice
out=$(tpsql alice-pw "hostaddr=$VIP host=wrong.example user=alice sslmode=verify-full sslrootcert=$tls/ca.crt" -c 'SELECT 1')
check "tls: ... a name the certificate lacks is refused by the client ($out)" grep -q 'does not match host name' <<<"$out"
same "tls: channel_binding=require: SCRAM-SHA-256-PLUS bound to pgxr's certificate" \
	"$(tpsql alice-pw "user=alice sslmode=require channel_binding=require" -c 'SELECT current_user')" alice
same "tls: a hostssl line admits a TLS client" \
	"$(tpsql sslonly-pw "user=sslonly sslmode=require" -c 'SELECT current_user')" sslonly
out=$(tpsql sslonly-pw "user=sslonly sslmode=disable" -c 'SELECT 1')
check "tls: ... not a plain one: no pool_hba.conf entry, no encryption ($out)" \
	grep -q 'no pool_hba.conf entry for host "'"$CLIENT_IP"'", user "sslonly", database "postgres", no encryption' <<<"$out"
same "tls: a hostnossl line admits a plain client" \
	"$(tpsql bob-pw "user=bob sslmode=disable" -c 'SELECT current_user')" bob
out=$(tpsql bob-pw "user=bob sslmode=require" -c 'SELECT 1')
check "tls: ... not a TLS one, SSL encryption ($out)" grep -q 'user "bob", database "postgres", SSL encryption' <<<"$out"
same "tls: a 10 MB value through TLS to the client" \
	"$(tpsql alice-pw "user=alice sslmode=require" -c "SELECT length(repeat('x', 10000000))")" 10000000

# TLS to the servers as well
reload_with backend_sslmode=verify-full "backend_sslrootcert='$tls/ca.crt'"
lab pgxrd restart >/dev/null
q="SELECT ssl || ' ' || pg_backend_pid() FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
a=$(tpsql alice-pw "user=alice sslmode=require" -c "$q")
b=$(tpsql alice-pw "user=alice sslmode=require" -c "$q")
same "tls: backend_sslmode verify-full: pgxr's server connection is TLS ($a)" "${a%% *}" true
same "tls: ... and is cached and reused like a plain one" "$b" "$a"
check "tls: pgxr logs in to the TLS server with SCRAM-SHA-256-PLUS (channel binding on)" \
	grep -q 'logging in to node 0 with SCRAM-SHA-256-PLUS' "$LAB_DIR/pgxrd.log"
same "tls: a 10 MB value through TLS on both sides" \
	"$(tpsql alice-pw "user=alice sslmode=require" -c "SELECT md5(repeat('pgxr', 2500000))")" \
	"$(lab psql db0 -XAt -c "SELECT md5(repeat('pgxr', 2500000))")"
timeout 60 "$LAB_SH" exec cli pgbench -n "host=$VIP port=$P user=postgres dbname=postgres sslmode=require" -i -s 1 -q >/dev/null 2>&1
out=$(timeout 60 "$LAB_SH" exec cli pgbench -n -S -c 4 -j 2 -T 3 "host=$VIP port=$P user=postgres dbname=postgres sslmode=require" 2>&1)
diag "pgbench -S over TLS both sides: $(grep -E '^tps' <<<"$out")"
check "tls: pgbench -S -c 4 over TLS on both sides, no failures" grep -q 'number of failed transactions: 0 ' <<<"$out"
# a server whose certificate the configured CA did not sign is refused
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tls/other.key" -out "$tls/other.crt" -days 2 \
	-subj /CN=other >/dev/null 2>&1
reload_with "backend_sslrootcert='$tls/other.crt'"
lab pgxrd restart >/dev/null
out=$(tpsql alice-pw "user=alice sslmode=require" -c "SELECT 1")
check "tls: a server certificate the CA did not sign: the login fails, saying why ($out)" \
	grep -q 'TLS with the server (node 0) failed:.*certificate verify failed' <<<"$out"
exit $((E2E_FAILED > 0))
