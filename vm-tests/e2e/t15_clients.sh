#!/usr/bin/env bash
# t15_clients.sh: other client stacks through the VIP: JDBC, psycopg2, libpq's psql
. "$(dirname "$0")/lib.sh"

same "clients: JDBC through VIP:5432 reaches the primary" "$(jdbc 5432)" "db0 false $CLIENT_IP"
out=$(jdbc 5433)
check "clients: JDBC through VIP:5433 reaches a standby ($out)" grep -qE "^db[12] true $CLIENT_IP$" <<<"$out"
out=$(pyclient spread 5432 3)
same "clients: psycopg2 through VIP:5432 reaches the primary" "$(echo "$out" | json "d['counts']")" "{'db0': 3}"
same "clients: psql with sslmode=prefer (server without TLS) goes through VIP:5432" \
	"$(timeout 20 "$LAB_SH" exec cli psql -XAt "host=$VIP port=5432 user=postgres dbname=postgres sslmode=prefer" \
		-c "SELECT current_setting('cluster_name')")" db0
e2e_done
