#!/usr/bin/env bash
# t70_errors.sh: pgxrd's command line and its failures to start are clear
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d "$LAB_DIR/t70.XXXXXX")
out=$("$ROOT/pgxrd" --help)
# the lab's own pgxrd holds its pid file: a second one is refused, clearly
out2=$(lab exec rtr "$ROOT/pgxrd" -f "$LAB_DIR/pgxr.conf" 2>&1)
same "pgxrd: a second pgxrd on the same pid file exits 1" "$?" 1
check "pgxrd: the error names the running pgxrd" grep -qE 'another pgxrd is running \(pid [0-9]+' <<<"$out2"
check "pgxrd: --help lists the options" grep -q -- '--detach' <<<"$out"
"$ROOT/pgxrd" --bogus >/dev/null 2>&1
same "pgxrd: an unknown option exits 2" "$?" 2

printf 'interface = eth0\nvip = %s\nrw_port = abc\nbackend_hostname0 = %s.20\n' "$VIP" "$LAB_NET" >"$tmp/bad.conf"
out=$("$ROOT/pgxrd" -f "$tmp/bad.conf" 2>&1)
same "pgxrd: a bad config value makes it exit 1" "$?" 1
check "pgxrd: the bad value is reported at file:line with what was expected" \
	grep -qF "$tmp/bad.conf:3: invalid value for parameter \"rw_port\": \"abc\" (expected an integer from 1 to 65535)" <<<"$out"

out=$("$ROOT/pgxrd" -f "$tmp/missing.conf" 2>&1)
same "pgxrd: a missing config file makes it exit 1" "$?" 1
check "pgxrd: the missing config file is named in the error" grep -qF "could not open configuration file \"$tmp/missing.conf\"" <<<"$out"

# a second pgxrd of the lab's configuration, on other pins, pid file and socket
other_conf() {
	sed -e "s|^bpf_pin_dir = .*|bpf_pin_dir = '/sys/fs/bpf/$LAB-t70'|" \
		-e "s|^pid_file_name = .*|pid_file_name = '$tmp/pgxrd.pid'|" \
		-e "s|^control_socket = .*|control_socket = '$tmp/pgxrd.sock'|" "$@" "$LAB_DIR/pgxr.conf"
}
other_conf -e 's/^interface = .*/interface = nope0/' >"$tmp/nope.conf"
out=$(lab exec rtr "$ROOT/pgxrd" -f "$tmp/nope.conf" 2>&1)
same "pgxrd: a missing interface makes it exit 1" "$?" 1
check "pgxrd: the missing interface is named in the error" grep -qF 'interface "nope0" does not exist' <<<"$out"

# an XDP program pgxr did not attach is never replaced
other_conf -e 's/^xdp_mode = .*/xdp_mode = generic/' >"$tmp/foreign.conf"
lab exec cli ip link set dev eth0 xdpgeneric obj "$ROOT/.output/xdp_pass.bpf.o" sec xdp
out=$(lab exec cli "$ROOT/pgxrd" -f "$tmp/foreign.conf" 2>&1)
same "pgxrd: another XDP program on the interface makes it exit 1" "$?" 1
check "pgxrd: the error says another XDP program is attached" grep -qF 'another XDP program is attached' <<<"$out"
check "pgxrd: leaves a foreign XDP program in place" bash -c "'$LAB_SH' exec cli ip link show dev eth0 | grep -q xdpgeneric"
check "pgxrd: a failed attach leaves no pins behind" test ! -e "/sys/fs/bpf/$LAB-t70/eth0"
lab exec cli ip link set dev eth0 xdpgeneric off

# without bpffs mounted, pgxrd mounts it (a private mount namespace keeps the host's)
out=$(unshare --mount --propagation private bash -c "
	umount /sys/fs/bpf 2>/dev/null
	nsenter --net=/run/netns/$LAB-cli '$ROOT/pgxrd' -f '$tmp/foreign.conf' >'$tmp/mount.log' 2>&1 &
	pid=\$!
	for i in \$(seq 100); do grep -q 'ready:' '$tmp/mount.log' && break; sleep 0.1; done
	ls /sys/fs/bpf/$LAB-t70/eth0
	kill \$pid; wait \$pid
	nsenter --net=/run/netns/$LAB-cli '$ROOT/pgxrd' -f '$tmp/foreign.conf' --detach 2>&1")
check "pgxrd: mounts the bpf filesystem when it is not mounted" \
	grep -q 'mounted the bpf filesystem on "/sys/fs/bpf"' "$tmp/mount.log"
check "pgxrd: pins its link and maps in the bpf filesystem it mounted" grep -qx link <<<"$out"
check "pgxrd: --detach removes what it pinned in the bpf filesystem it mounted" grep -q 'detached from "eth0"' <<<"$out"
check "pgxrd: no XDP program is left on the interface after --detach" \
	bash -c "! '$LAB_SH' exec cli ip link show dev eth0 | grep -q 'prog/xdp'"
# an interface whose driver has no native XDP (a VLAN device's case; this kernel has no
# 802.1Q, a bridge stands in for it): named, with the way out
ROUTED=${LAB_NET%.*}.$((${LAB_NET##*.} + 64))
# whatever happens below: no device, route or pins of this test are left
undo() {
	lab exec rtr ip link del t70dummy 2>/dev/null
	lab exec rtr ip route del "$ROUTED.0/24" 2>/dev/null
	rm -rf "$tmp" "/sys/fs/bpf/$LAB-t70"
	return 0
}
trap undo EXIT
undo
mkdir -p "$tmp"
lab exec rtr ip link add t70dummy type bridge
lab exec rtr ip addr add 198.51.100.1/24 dev t70dummy
lab exec rtr ip link set t70dummy up
printf "interface = t70dummy\nvip = 198.51.100.100\nxdp_mode = native\nbpf_pin_dir = '/sys/fs/bpf/%s-t70'\npid_file_name = '%s/d.pid'\ncontrol_socket = '%s/d.sock'\nbackend_hostname0 = '198.51.100.20'\n" \
	"$LAB" "$tmp" "$tmp" >"$tmp/dummy.conf"
out=$(lab exec rtr timeout 10 "$ROOT/pgxrd" -f "$tmp/dummy.conf" 2>&1)
same "pgxrd: native XDP on a driver without it makes it exit 1" "$?" 1
check "pgxrd: the error names the device's kind and xdp_mode = generic" \
	grep -qF 'could not attach XDP (native mode) to "t70dummy": its driver (a bridge device) has no native XDP; use xdp_mode = generic or auto' <<<"$out"
check "pgxrd: ... and attached nothing" test ! -e "/sys/fs/bpf/$LAB-t70/t70dummy/link"
lab exec rtr ip link del t70dummy

# a backend beyond a router, or with no route at all: DSR could never reach it, while its
# (routed) health checks would pass; refused at start and on reload, by name
lab exec rtr ip route add "$ROUTED.0/24" via "$LAB_NET.3"
other_conf >"$tmp/routed.conf"
printf "backend_hostname3 = '%s.5'\nbackend_port3 = 5432\nbackend_hostname4 = '192.0.2.1'\n" \
	"$ROUTED" >>"$tmp/routed.conf"
out=$(lab exec rtr "$ROOT/pgxrd" -f "$tmp/routed.conf" 2>&1)
same "pgxrd: a backend off the interface's link makes it exit 1" "$?" 1
line=$(grep -n '^backend_hostname3' "$tmp/routed.conf" | cut -d: -f1)
check "pgxrd: the error names the routed backend at file:line, the interface and the gateway" \
	grep -qF "$tmp/routed.conf:$line: backend_hostname3 = '$ROUTED.5' ($ROUTED.5) is not on the link of \"eth0\": the kernel routes it via $LAB_NET.3 on \"eth0\"" <<<"$out"
check "pgxrd: and the backend with no route" \
	grep -qF "backend_hostname4 = '192.0.2.1' (192.0.2.1) is not on the link of \"eth0\": the kernel has no route to it" <<<"$out"
check "pgxrd: a refused start attached nothing" test ! -e "/sys/fs/bpf/$LAB-t70/eth0"
cp "$LAB_DIR/pgxr.conf" "$tmp/lab.conf"
printf "backend_hostname3 = '%s.5'\nbackend_port3 = 5432\n" "$ROUTED" >>"$LAB_DIR/pgxr.conf"
out=$(ctl reload 2>&1)
same "pgxrd: a reload naming a backend off the link fails" "$?" 1
check "pgxrd: the reload's error names it, the interface and the reason" \
	grep -qF "backend_hostname3 = '$ROUTED.5' ($ROUTED.5) is not on the link of \"eth0\": the kernel routes it via" <<<"$out"
cp "$tmp/lab.conf" "$LAB_DIR/pgxr.conf"
out=$(ctl reload 2>&1)
same "pgxrd: the lab's own file reloads again" "$?" 0
same "pgxrd: the refused reload changed nothing (3 nodes)" "$(ctl -j node list | json "len(d)")" 3
e2e_done
