#!/usr/bin/env bash
# t20_ro.sh: VIP:ro_port spreads sessions over the standbys by weight, sessions stay put
. "$(dirname "$0")/lib.sh"

# lab weights: db1 1, db2 2
before1=$(backend_conns 1) before2=$(backend_conns 2) before0=$(backend_conns 0)
out=$(pyclient spread 5433 300)
diag "$out"
n1=$(echo "$out" | json "d['counts'].get('db1', 0)")
n2=$(echo "$out" | json "d['counts'].get('db2', 0)")
same "ro: 300 sessions through VIP:5433 all reach standbys" "$((n1 + n2))" 300
# 300 hashed sessions: a share is within 10 points of its weight (about 4 sigma)
check "ro: sessions spread by weight 1:2 within 10 points (db1 $n1, db2 $n2)" \
	test "$n1" -ge 70 -a "$n1" -le 130
same "ro: every session kept its backend for its whole life" \
	"$(echo "$out" | json "d['stable']")" True
same "ro: XDP counted one new connection per session on db1" "$(($(backend_conns 1) - before1))" "$n1"
same "ro: XDP counted one new connection per session on db2" "$(($(backend_conns 2) - before2))" "$n2"
same "ro: no ro session went to the primary" "$(($(backend_conns 0) - before0))" 0
e2e_done
