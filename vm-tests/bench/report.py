#!/usr/bin/python3
"""report.py: turns the benchmark's raw rounds into the markdown table and the JSON document."""
import argparse
import json
import statistics

NAMES = {"direct": "direct to the primary", "xdp": "pgxr VIP:5432 (XDP)", "pgpool": "pgpool-II 4.3"}
PATHS = ("direct", "xdp", "pgpool")


def main():
    ap = argparse.ArgumentParser()
    for opt in ("rounds", "xdp", "commit", "when", "out"):
        ap.add_argument("--" + opt, required=True)
    for opt in ("clients", "seconds", "scale"):
        ap.add_argument("--" + opt, type=int, required=True)
    a = ap.parse_args()

    # mode -> path -> metric -> samples, in the order the modes ran
    samples, failover = {}, {}
    for line in open(a.rounds):
        if line.startswith("failover "):
            _, who, ms = line.split()
            failover.setdefault(who, []).append(int(ms))
            continue
        mode, path, tps, avg, p99 = line.split()
        m = samples.setdefault(mode, {}).setdefault(path, {})
        for key, val in (("tps", tps), ("avg_ms", avg), ("p99_ms", p99)):
            m.setdefault(key, []).append(float(val))
    modes = {}
    for mode, paths in samples.items():
        res = {p: {k: statistics.median(v) for k, v in paths[p].items()} for p in PATHS}
        modes[mode] = {
            "rounds": len(paths["direct"]["tps"]),
            "pgbench": res,
            "samples": paths,
            "ratio_xdp_to_direct": res["xdp"]["tps"] / res["direct"]["tps"],
            "ratio_xdp_to_pgpool": res["xdp"]["tps"] / res["pgpool"]["tps"],
        }
    xdp = json.loads(a.xdp)
    doc = {"commit": a.commit, "utc": a.when, "clients": a.clients, "seconds": a.seconds,
           "scale": a.scale, "modes": modes, "xdp_ns": xdp}
    if failover:
        doc["failover_ms"] = {who: {"median": statistics.median(v), "samples": v}
                              for who, v in failover.items()}
    with open(a.out + ".json", "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    with open(a.out + ".md", "w") as f:
        f.write(f"# pgxr benchmark {a.when} (commit {a.commit})\n\n")
        f.write("Client, router and the three databases share one 2-core machine, linked by veth "
                "and a bridge.\n")
        if modes:
            f.write(f"\npgbench -S -c {a.clients} -j 2 -T {a.seconds}, scale {a.scale}.  Each XDP "
                    "mode runs in a lab of its own with its own direct baseline; medians of "
                    "interleaved rounds, the order of the paths rotating each round.\n")
        for mode, m in modes.items():
            res = m["pgbench"]
            f.write(f"\n## {mode} XDP ({m['rounds']} rounds)\n\n")
            f.write("| path | TPS | avg latency ms | p99 latency ms | TPS vs direct |\n")
            f.write("|---|---:|---:|---:|---:|\n")
            for p in PATHS:
                r = res[p]
                f.write(f"| {NAMES[p]} | {r['tps']:.0f} | {r['avg_ms']:.3f} | {r['p99_ms']:.3f} | "
                        f"{r['tps'] / res['direct']['tps']:.2f}x |\n")
            f.write(f"\npgxr / pgpool-II TPS: {m['ratio_xdp_to_pgpool']:.2f}x\n")
        if failover:
            fo = doc["failover_ms"]
            f.write("\n## Failover\n\nkill -9 of the primary's postmaster while a client writes "
                    "(one INSERT per commit, reconnecting on error); the time from the kill to the "
                    "first write acknowledged after the first failed one.  The same settings for "
                    "both: health checks every 1 s, timeout 2 s, 1 retry after 1 s; "
                    "failover_on_backend_error on (the default of both) or off.  pgpool-II promotes "
                    "with a pg_promote() failover_command.\n\n")
            f.write("| failover_on_backend_error | router | median ms | samples ms |\n"
                    "|---|---|---:|---|\n")
            for boe in ("on", "off"):
                for who in ("pgxr", "pgpool"):
                    k = f"{who}-{boe}"
                    if k in fo:
                        name = "pgxr" if who == "pgxr" else "pgpool-II 4.3"
                        f.write(f"| {boe} | {name} | {fo[k]['median']:.0f} | "
                                f"{', '.join(map(str, fo[k]['samples']))} |\n")
            f.write("\n")
            for boe in ("on", "off"):
                if f"pgxr-{boe}" in fo and f"pgpool-{boe}" in fo:
                    f.write(f"failover_on_backend_error {boe}: pgxr takes "
                            f"{fo[f'pgxr-{boe}']['median'] / fo[f'pgpool-{boe}']['median']:.2f} "
                            "of pgpool-II's time\n")
        f.write(f"\n## XDP program cost\n\nbpf_prog_test_run_opts, {xdp['repeat']} repeats, median "
                f"of {xdp['rounds']}: {xdp['flow_hit_ns']:.0f} ns/packet on a flow-table hit, "
                f"{xdp['syn_ns']:.0f} ns/packet for a SYN\n")


if __name__ == "__main__":
    main()
