#!/usr/bin/env bash
# t325_proxy_txpool_failover.sh: t305's switchover and kill -9 under a writer and pgbench through
# VIP:9999, with pool_mode = transaction: no acknowledged commit lost, one primary, new
# transactions on the new primary without a restart, an idle client moved without an error
# lab: fresh
T305_POOL_MODE=transaction bash "$(dirname "$0")/t305_proxy_failover.sh" |
	sed -e 's/^ok - /ok - txpool: /' -e 's/^not ok - /not ok - txpool: /'
exit "${PIPESTATUS[0]}"
