#!/usr/bin/env bash
# t10_rw.sh: VIP:rw_port reaches the primary, with the client's own address (DSR)
. "$(dirname "$0")/lib.sh"

same "rw: psql through VIP:5432 reaches the primary (pg_is_in_recovery() = f)" \
	"$(vip_sql 5432 "SELECT current_setting('cluster_name') || ' ' || pg_is_in_recovery()")" "db0 false"
same "rw: PostgreSQL sees the client's own address, not the router's" \
	"$(vip_sql 5432 "SELECT host(inet_client_addr())")" "$CLIENT_IP"
vip_sql 5432 "CREATE TABLE IF NOT EXISTS t10 (id int); INSERT INTO t10 VALUES (42)" >/dev/null
lsn=$(vip_sql 5432 "SELECT pg_current_wal_lsn()")
for i in $(seq 50); do
	[ "$(lab psql db1 -XAt -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'")" = t ] && break
	sleep 0.1
done
same "rw: a write through the VIP replicates to the standbys" \
	"$(lab psql db1 -XAt -c "SELECT count(*) FROM t10 WHERE id = 42")" "1"
e2e_done
