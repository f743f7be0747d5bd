#!/usr/bin/env bash
# t70_errors.sh: pgxrd's command line and its failures to start are clear
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d "$LAB_DIR/t70.XXXXXX")
out=$("$ROOT/pgxrd" --help)
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

sed -e 's/^interface = .*/interface = nope0/' -e "s|^bpf_pin_dir = .*|bpf_pin_dir = '/sys/fs/bpf/$LAB-t70'|" \
	"$LAB_DIR/pgxr.conf" >"$tmp/nope.conf"
out=$(lab exec rtr "$ROOT/pgxrd" -f "$tmp/nope.conf" 2>&1)
same "pgxrd: a missing interface makes it exit 1" "$?" 1
check "pgxrd: the missing interface is named in the error" grep -qF 'interface "nope0" does not exist' <<<"$out"

# an XDP program pgxr did not attach is never replaced
sed -e "s|^bpf_pin_dir = .*|bpf_pin_dir = '/sys/fs/bpf/$LAB-t70'|" -e 's/^xdp_mode = .*/xdp_mode = generic/' \
	"$LAB_DIR/pgxr.conf" >"$tmp/foreign.conf"
lab exec cli ip link set dev eth0 xdpgeneric obj "$ROOT/.output/xdp_pass.bpf.o" sec xdp
out=$(lab exec cli "$ROOT/pgxrd" -f "$tmp/foreign.conf" 2>&1)
same "pgxrd: another XDP program on the interface makes it exit 1" "$?" 1
check "pgxrd: the error says another XDP program is attached" grep -qF 'another XDP program is attached' <<<"$out"
check "pgxrd: leaves a foreign XDP program in place" bash -c "'$LAB_SH' exec cli ip link show dev eth0 | grep -q xdpgeneric"
check "pgxrd: a failed attach leaves no pins behind" test ! -e "/sys/fs/bpf/$LAB-t70/eth0"
lab exec cli ip link set dev eth0 xdpgeneric off
rm -rf "$tmp" "/sys/fs/bpf/$LAB-t70"
e2e_done
