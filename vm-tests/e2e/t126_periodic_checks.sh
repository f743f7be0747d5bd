#!/usr/bin/env bash
# t126_periodic_checks.sh: with health_probe_interval = 0 a node is checked every
# health_check_period (pgpool's way), and each check gets its whole health_check_timeout: the
# bound of a continuously probed node (its last answer plus the timeout) does not apply to a
# node last heard a period ago
# lab: fresh LAB_CONF_EXTRA=health_probe_interval=0\nhealth_check_period=3
. "$(dirname "$0")/lib.sh"

mark=$(wc -l <"$LAB_DIR/pgxrd.log")
sleep 10
same "periodic: no check failed in 10 s of checks every 3 s" \
	"$(tail -n +"$mark" "$LAB_DIR/pgxrd.log" | grep -c 'health check failed')" 0
same "periodic: every node is up" "$(ctl -j node list | json "' '.join(n['status'] for n in d)")" "up up up"
e2e_done
