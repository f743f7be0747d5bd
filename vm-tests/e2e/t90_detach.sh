#!/usr/bin/env bash
# t90_detach.sh: pgxrd --detach removes everything it attached; attaching again works
. "$(dirname "$0")/lib.sh"

pins=/sys/fs/bpf/$LAB/eth0
check "detach: pgxrd holds the VIP on the router" bash -c "'$LAB_SH' exec rtr ip -4 addr show dev eth0 | grep -q ' $VIP/32 '"
lab pgxrd stop
check "detach: a stopped pgxrd released the VIP" bash -c "! '$LAB_SH' exec rtr ip -4 addr show dev eth0 | grep -q ' $VIP/'"
check "detach: pins exist while attached" test -e "$pins/link" -a -e "$pins/flows"
out=$(lab exec rtr "$ROOT/pgxrd" -f "$LAB_DIR/pgxr.conf" --detach 2>&1)
same "detach: pgxrd --detach exits 0" "$?" 0
check "detach: the pin directory is gone" test ! -e "$pins"
check "detach: no XDP program is left on the interface" \
	bash -c "! '$LAB_SH' exec rtr ip link show dev eth0 | grep -q 'prog/xdp'"
out=$(timeout 10 "$LAB_SH" exec cli psql -XAt "host=$VIP port=5432 user=postgres dbname=postgres connect_timeout=2" \
	-c "SELECT 1" 2>&1)
check "detach: VIP:5432 reaches no backend any more" test "$out" != 1
out=$(lab exec rtr "$ROOT/pgxrd" -f "$LAB_DIR/pgxr.conf" --detach 2>&1)
check "detach: a second --detach finds nothing and exits 0" grep -q 'nothing attached' <<<"$out"
lab pgxrd start
same "detach: attaching again steers VIP:5432 to the primary" \
	"$(vip_sql 5432 "SELECT current_setting('cluster_name')")" db0
e2e_done
