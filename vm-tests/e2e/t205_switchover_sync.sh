#!/usr/bin/env bash
# t205_switchover_sync.sh: t200's five switchovers under writes, with synchronous_mode = on
# (pgxr sets synchronous_standby_names on each new primary)
# lab: fresh LAB_CONF_EXTRA=synchronous_mode=on
T=t205 SYNC_MODE=on . "$(dirname "$0")/t200_switchover_load.sh"
