#!/usr/bin/python3
"""synflood.py: sends N TCP SYNs to VIP:PORT from N other 5-tuples, as raw frames on an interface.

Usage: synflood.py IFACE DST_MAC VIP PORT[,PORT...] N [PPS]

Sources are 198.18.0.0/15 (RFC 2544's benchmark range, routed nowhere): address
198.18.0.0 + i % 65536, source port 10000 + i // 65536, ports taken in turn.
Checksums are valid, so the backends take them as real SYNs.  At most PPS
frames a second (default 50000: a lab's veth drops what its receiver's
queue cannot take).  Prints the frames sent and the seconds it took, as JSON."""
import json
import socket
import struct
import sys
import time


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def main():
    ifname, dmac, vip, ports, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    ports = [int(p) for p in ports.split(",")]
    pps = int(sys.argv[6]) if len(sys.argv) > 6 else 50000
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    smac = s.getsockname()[4]
    eth = bytes.fromhex(dmac.replace(":", "")) + smac + b"\x08\x00"
    dst = socket.inet_aton(vip)
    # MSS 1460: a SYN as a client's stack sends it
    opts = b"\x02\x04\x05\xb4"
    start = time.monotonic()
    for i in range(n):
        src = struct.pack("!I", (198 << 24) | (18 << 16) | (i % 65536))
        sport, dport = 10000 + i // 65536, ports[i % len(ports)]
        tcp = struct.pack("!HHIIBBHHH", sport, dport, i, 0, 6 << 4, 0x02, 64240, 0, 0) + opts
        tcp = tcp[:16] + struct.pack("!H", csum(src + dst + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), i & 0xFFFF, 0x4000, 64, 6, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        s.send(eth + ip + tcp)
        if i % 1000 == 999:
            ahead = (i + 1) / pps - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
    print(json.dumps({"sent": n, "seconds": round(time.monotonic() - start, 2)}))


if __name__ == "__main__":
    main()
