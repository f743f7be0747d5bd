#!/usr/bin/env bash
# t40_restart.sh: a pgxrd restart (and pgxrd being down) does not interrupt open sessions; pins of
# another map ABI are refused
. "$(dirname "$0")/lib.sh"

session_open rw 5432
session_open ro 5433
rw1=$(session_who rw) ro1=$(session_who ro)
diag "before: rw '$rw1', ro '$ro1'"
lab pgxrd stop
same "restart: the rw session works while pgxrd is down" "$(session_who rw)" "$rw1"
same "restart: the ro session works while pgxrd is down" "$(session_who ro)" "$ro1"
same "restart: new sessions work while pgxrd is down" \
	"$(vip_sql 5432 "SELECT current_setting('cluster_name')")" db0
mark=$(wc -l <"$LAB_DIR/pgxrd.log")
lab pgxrd start
same "restart: the rw session still works on the same backend after the restart" "$(session_who rw)" "$rw1"
same "restart: the ro session still works on the same backend after the restart" "$(session_who ro)" "$ro1"
check "restart: pgxrd took over the attached program instead of reattaching" \
	grep -q 'XDP program already attached' <(tail -n +"$((mark + 1))" "$LAB_DIR/pgxrd.log")

# pins of another map ABI are refused, saying how to move on; forwarding goes on meanwhile
pins=$(sed -n 's/.*maps pinned under "\([^"]*\)".*/\1/p' "$LAB_DIR/pgxrd.log" | tail -n 1)
# this build's ABIs (each below 256: one byte of the little-endian __u32)
maps=$(sed -n 's/^#define PGXR_MAP_ABI //p' "$ROOT/include/pgxr_xdp.h")
caches=$(sed -n 's/^#define PGXR_CACHE_ABI //p' "$ROOT/include/pgxr_xdp.h")
lab pgxrd stop
bpftool map update pinned "$pins/abi" key 0 0 0 0 value 99 0 0 0 "$caches" 0 0 0
mark=$(wc -l <"$LAB_DIR/pgxrd.log")
check "restart: pins of another map ABI are refused" bash -c "! '$LAB_SH' pgxrd start 2>/dev/null"
check "restart: ... with the ABIs and pgxrd --detach named" \
	grep -q "are of map ABI 99, this build's is $maps: \"pgxrd --detach\" removes them" \
	<(tail -n +"$((mark + 1))" "$LAB_DIR/pgxrd.log")
same "restart: ... the sessions go on meanwhile" "$(session_who rw) $(session_who ro)" "$rw1 $ro1"
out=$(lab pgxrctl backend list 2>&1) && rc=0 || rc=$?
same "restart: ... and pgxrctl refuses them too, naming the ABIs" \
	"$([ "$rc" -ne 0 ] && echo refused) $(grep -c "map ABI 99, cache ABI $caches; this build's: $maps, $caches" <<<"$out")" "refused 1"
bpftool map update pinned "$pins/abi" key 0 0 0 0 value "$maps" 0 0 0 "$caches" 0 0 0
lab pgxrd start
same "restart: this build's ABI is taken again" "$(session_who rw)" "$rw1"
session_close rw
session_close ro
e2e_done
