#!/usr/bin/env bash
# t345_proxy_split_lag.sh: the split and delay_threshold: a standby past it takes no reads of
# the proxy (its share goes to the other readers by weight), with prefer_lower_delay_standby to
# the standby least behind within it (pgpool's); with every standby past it, reads go to the
# primary; where each read ran is read from the servers' logs
# lab: fresh LAB_CONF_EXTRA=delay_threshold=100000
. "$(dirname "$0")/lib.sh"

P=9999
lb_is() { [ "$(node_field "$1" load_balance_node)" = "$2" ]; }
# reads MARK N: N reads through the proxy in one session, each its own unit, carrying MARK
reads() {
	local i
	for i in $(seq "$2"); do echo "SELECT n, '$1' FROM lag_t WHERE id = $((i % 10 + 1));"; done >"$scratch/$1.sql"
	timeout 60 "$LAB_SH" exec cli psql -XAtq -v ON_ERROR_STOP=1 \
		"host=$VIP port=$P user=postgres dbname=postgres" -f "$scratch/$1.sql" >/dev/null || diag "reads $1 failed"
	sleep 0.3
}
# WAL the paused standbys do not replay: about 2 MB
churn() { lab psql db0 -XAtq -c "INSERT INTO lag_noise SELECT g, repeat('x', 200) FROM generate_series(1, 8000) g" >/dev/null; }
scratch=$(mktemp -d /tmp/t345.XXXXXX)
cleanup() {
	lab psql db1 -XAtq -c "SELECT pg_wal_replay_resume()" >/dev/null 2>&1
	lab psql db2 -XAtq -c "SELECT pg_wal_replay_resume()" >/dev/null 2>&1
	rm -rf "$scratch"
}
trap cleanup EXIT

statement_log all
lab psql db0 -XAtq -c "CREATE TABLE lag_t (id int PRIMARY KEY, n int)" \
	-c "INSERT INTO lag_t SELECT g, g FROM generate_series(1, 10) g" \
	-c "CREATE TABLE lag_noise (id int, pad text)" >/dev/null
replicated db1 lag_t 10
replicated db2 lag_t 10
proxy_auth_postgres
reload_with enable_pool_hba=on pool_mode=transaction load_balance_mode=on statement_level_load_balance=on \
	backend_weight0=0 backend_weight1=1 backend_weight2=1
reads mk_warm 5

reads mk_both 40
read -r n0 n1 n2 <<<"$(where mk_both)"
same "lag: both standbys within delay_threshold: the reads on both, none on the primary" \
	"$n0 $((n1 + n2)) $((n1 > 0 && n2 > 0))" "0 40 1"

# db2 stops replaying: past the threshold, it takes no reads
lab psql db2 -XAtq -c "SELECT pg_wal_replay_pause()" >/dev/null
churn
check "lag: db2, paused, is past delay_threshold" wait_for 15 lb_is 2 False
reads mk_db2lags 30
same "lag: db2 past delay_threshold: every read on db1" "$(where mk_db2lags)" "0 30 0"

# weights 1:1:1: db2's share goes to the primary and db1 by weight (about 150 each of 300), or
# with prefer_lower_delay_standby to db1, the standby least behind (about 200, the primary 100)
reload_with backend_weight0=1
reads mk_share 300
read -r n0 n1 n2 <<<"$(where mk_share)"
diag "db2 lagging, weights 1:1:1: $n0 $n1 $n2"
same "lag: db2's share spread by weight: the primary and db1 about 150 each of 300 (within 30), none on db2" \
	"$((n0 >= 120 && n0 <= 180)) $((n0 + n1)) $n2" "1 300 0"
reload_with prefer_lower_delay_standby=on
reads mk_prefer 300
read -r n0 n1 n2 <<<"$(where mk_prefer)"
diag "db2 lagging, prefer_lower_delay_standby: $n0 $n1 $n2"
same "lag: prefer_lower_delay_standby: db2's share to db1: db1 about 200 of 300, the primary about 100 (within 30)" \
	"$((n1 >= 170 && n1 <= 230)) $((n0 >= 70 && n0 <= 130)) $((n0 + n1)) $n2" "1 1 300 0"

# db1 stops too: no standby within the threshold, reads go to the primary, preferred or not
lab psql db1 -XAtq -c "SELECT pg_wal_replay_pause()" >/dev/null
churn
check "lag: db1, paused later, is past delay_threshold too" wait_for 15 lb_is 1 False
reload_with backend_weight0=0
reads mk_bothlag 30
same "lag: both standbys past delay_threshold, prefer_lower_delay_standby: every read on the primary" \
	"$(where mk_bothlag)" "30 0 0"
reload_with prefer_lower_delay_standby=off
reads mk_bothlag2 30
same "lag: both standbys past delay_threshold: every read on the primary" "$(where mk_bothlag2)" "30 0 0"

lab psql db1 -XAtq -c "SELECT pg_wal_replay_resume()" >/dev/null
lab psql db2 -XAtq -c "SELECT pg_wal_replay_resume()" >/dev/null
check "lag: resumed, db1 takes reads again" wait_for 20 lb_is 1 True
check "lag: resumed, db2 takes reads again" wait_for 20 lb_is 2 True
reads mk_after 40
read -r n0 n1 n2 <<<"$(where mk_after)"
same "lag: caught up: the reads on both standbys again" "$n0 $((n1 + n2)) $((n1 > 0 && n2 > 0))" "0 40 1"

statement_log off
e2e_done
