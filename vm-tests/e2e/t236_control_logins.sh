#!/usr/bin/env bash
# t236_control_logins.sh: pgxrd's own connections to the nodes (health checks, promotion,
# fencing) log in with each method a pg_hba.conf may ask of them: trust, password, md5 and
# scram-sha-256; the shared lab is put back as it was, also on failure
. "$(dirname "$0")/lib.sh"

hba=$LAB_DIR/db0/data/pg_hba.conf
cp "$hba" "$hba.t236"
restore() {
	cp "$hba.t236" "$hba"
	lab psql db0 -qX -c "SET password_encryption = 'scram-sha-256'" \
		-c "ALTER ROLE postgres PASSWORD '$PGPASSWORD'" -c "SELECT pg_reload_conf()" >/dev/null
}
trap restore EXIT

# pgxrd's sessions on db0 that started after $1 (a timestamptz)
pgxrd_since() {
	lab psql db0 -XAt -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgxrd' AND backend_start > '$1'"
}
back_in() { [ "$(pgxrd_since "$MARK")" -gt 0 ]; }
node0_up() { [ "$(node_field 0 pg_status)" = up ] && [ "$(node_field 0 status)" = up ]; }
relogin() {
	local method=$1
	{ echo "host all postgres $LAB_NET.2/32 $method"; cat "$hba.t236"; } >"$hba"
	MARK=$(lab psql db0 -XAt -c "SELECT pg_reload_conf(), now()" | cut -d'|' -f2)
	lab psql db0 -qX -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgxrd'" >/dev/null
	check "logins: $method: pgxrd logs in to db0 again" wait_for 15 back_in
	check "logins: $method: node 0 is up" wait_for 10 node0_up
}

relogin trust
relogin password
relogin scram-sha-256
# md5 needs an md5 hash: with a SCRAM verifier the server asks for SCRAM instead
lab psql db0 -qX -c "SET password_encryption = 'md5'" -c "ALTER ROLE postgres PASSWORD '$PGPASSWORD'" >/dev/null
same "logins: the password is stored as md5" \
	"$(lab psql db0 -XAt -c "SELECT left(rolpassword, 3) FROM pg_authid WHERE rolname = 'postgres'")" md5
relogin md5
restore
trap - EXIT
check "logins: back to scram-sha-256, node 0 is up" wait_for 10 node0_up
e2e_done
