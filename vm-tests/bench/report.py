#!/usr/bin/python3
"""report.py: turns the benchmark's raw rounds into the markdown table and the JSON document."""
import argparse
import json
import statistics

NAMES = {"direct": "direct to the primary", "xdp": "pgxr VIP:5432 (XDP)", "pgpool": "pgpool-II 4.3"}
PATHS = ("direct", "xdp", "pgpool")
ROUTERS = {"pgxr": "pgxr", "pgpool": "pgpool-II 4.3"}
PROXY_PATHS = (("direct", "direct to the primary"), ("proxy", "pgxr proxy VIP:9999"),
               ("pgpool", "pgpool-II 4.3"), ("pgbouncer", "PgBouncer 1.18, session mode"))
TX_PATHS = (("direct", "direct to the primary"), ("proxytx", "pgxr proxy, pool_mode = transaction"),
            ("pgbouncertx", "PgBouncer 1.18, transaction mode"))
SPLIT_PATHS = (("direct", "direct to the primary"),
               ("lboff", "pgxr proxy, load_balance_mode = off"),
               ("lbon", "pgxr proxy, load_balance_mode = on"),
               ("lbcausal", "pgxr proxy, on, disable_load_balance_on_write = causal"),
               ("pgpool", "pgpool-II 4.3, load_balance_mode = on"))
SPLIT_LOADS = (("S-simple-8", "pgbench -S -M simple -c 8"),
               ("X-simple-8", "80% reads by key (autocommit), 20% updates in a transaction, -c 8"),
               ("R-simple-8", "an autocommit update by key, then a read of that row, -c 8"),
               ("T-simple-8", "80% reads by key, 20% updates, each in a transaction, -c 8"),
               ("Q-simple-8", "pgbench -S -M simple -c 8, each database node capped at {nodecpu}% "
                "of a core (a CPU cgroup each)"))
PROXY_LOADS = (("S-simple-8", "pgbench -S -M simple -c 8"),
               ("S-prepared-8", "pgbench -S -M prepared -c 8"),
               ("S-simple-100", "pgbench -S -M simple -c 100"),
               ("C-simple-8", "pgbench -S -C -c 8 (a connection per transaction)"),
               ("M-simple-8", "pgbench -S -C -c 8 as a role that logs in with md5"))
EVENTS = (
    ("kill-on", "kill -9 of the primary, failover_on_backend_error on (the default of both); "
     "health checks every 1 s, timeout 2 s, 1 retry after 1 s"),
    ("kill-off", "kill -9 of the primary, failover_on_backend_error off; the same checks"),
    ("cut", "the primary's link cut; health checks every 1 s, timeout 1 s, no retry"),
    ("switchover", "switchover to node 1: pgxrctl node promote 1; pgpool-II: "
     "pcp_promote_node --switchover -n 1 with a pg_promote() failover_command"),
)


def load_table(f, text, r, paths, rss):
    """One load's table: a row per path, medians and the rounds' range; with rss, the pooler's
    RSS.  Client CPU: the cores pgbench kept busy, near 2 when the client is the bottleneck.
    Pooler CPU: the pooler process's user and system time per transaction, where it is one
    process (pgxrd, PgBouncer)."""
    n = len(r["samples"]["direct"]["tps"])
    pcpu = any("pooler_us_per_tx" in r["median"][p] for p, _ in paths)
    f.write(f"\n### {text} ({n} rounds)\n\n| path | TPS | TPS min-max | avg latency ms | "
            "p99 latency ms | TPS vs direct | client CPU |" + (" RSS MB |" if rss else "") +
            (" pooler CPU us per tx |" if pcpu else "") +
            "\n|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if rss else "") +
            ("---:|" if pcpu else "") + "\n")
    for p, name in paths:
        m = r["median"][p]
        tps = r["samples"][p]["tps"]
        cell = (f" {m['rss_kb'] / 1024:.1f} |" if "rss_kb" in m else " |") if rss else ""
        if pcpu:
            cell += f" {m['pooler_us_per_tx']:.1f} |" if "pooler_us_per_tx" in m else " |"
        f.write(f"| {name} | {m['tps']:.0f} | {min(tps):.0f}-{max(tps):.0f} | {m['avg_ms']:.3f} | "
                f"{m['p99_ms']:.3f} | {m['tps'] / r['median']['direct']['tps']:.2f}x | "
                f"{m['client_cpu']:.2f} |{cell}\n")


def main():
    ap = argparse.ArgumentParser()
    for opt in ("rounds", "xdp", "lru", "commit", "when", "out"):
        ap.add_argument("--" + opt, required=True)
    for opt in ("clients", "seconds", "scale"):
        ap.add_argument("--" + opt, type=int, required=True)
    a = ap.parse_args()

    # mode -> path -> metric -> samples, in the order the modes ran
    samples, ha, proxy, txpool, idle, split, classify = {}, {}, {}, {}, {}, {}, None
    nodecpu = None
    for line in open(a.rounds):
        if line.startswith("nodecpu "):
            nodecpu = int(line.split()[1])
            continue
        if line.startswith("classify "):
            _, hit_ns, parse_us = line.split()
            classify = {"hit_ns": float(hit_ns), "parse_us": float(parse_us)}
            continue
        if line.startswith("idle "):
            _, path, n, rss0, rss, anon0, anon = line.split()
            idle[path] = {"clients": int(n), "rss_kb_before": int(rss0), "rss_kb": int(rss),
                          "anon_kb_before": int(anon0), "anon_kb": int(anon)}
            continue
        if line.startswith(("proxy ", "txpool ", "split ")):
            part, load, path, tps, avg, p99, rss, cpu, *pus = line.split()
            m = {"proxy": proxy, "txpool": txpool, "split": split}[part].setdefault(
                load, {}).setdefault(path, {})
            for key, val in (("tps", tps), ("avg_ms", avg), ("p99_ms", p99), ("client_cpu", cpu)):
                m.setdefault(key, []).append(float(val))
            if int(rss) >= 0:
                m.setdefault("rss_kb", []).append(int(rss))
            if pus and float(pus[0]) >= 0:
                m.setdefault("pooler_us_per_tx", []).append(float(pus[0]))
            continue
        if line.startswith("ha "):
            _, event, who, ms, lost, total, status, new, gap = line.split()
            ha.setdefault(event, {}).setdefault(who, []).append(
                {"ms": int(ms), "lost": int(lost), "acknowledged": int(total), "status": status,
                 "first_by": new, "gap_ms": int(gap)})
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
            # each round's VIP / direct: the paths of a round ran back to back, so that drift
            # between rounds cancels out of the ratio; a round where one could not run has none
            "round_ratios": [x / d for x, d in zip(paths["xdp"]["tps"], paths["direct"]["tps"])
                             if x > 0 and d > 0],
        }
    xdp = json.loads(a.xdp)
    doc = {"commit": a.commit, "utc": a.when, "clients": a.clients, "seconds": a.seconds,
           "scale": a.scale, "modes": modes, "xdp_ns": xdp, "flow_lru": json.loads(a.lru)}
    if proxy:
        doc["proxy"] = {}
        for load, paths in proxy.items():
            res = {p: {k: statistics.median(v) for k, v in m.items()} for p, m in paths.items()}
            doc["proxy"][load] = {"median": res, "samples": paths,
                                  "ratio_to_direct": res["proxy"]["tps"] / res["direct"]["tps"],
                                  "ratio_to_pgpool": res["proxy"]["tps"] / res["pgpool"]["tps"],
                                  "ratio_to_pgbouncer": res["proxy"]["tps"] / res["pgbouncer"]["tps"],
                                  "pgxrd_rss_kb_max": max(paths["proxy"].get("rss_kb", [0]))}
    if txpool:
        doc["txpool"] = {}
        for load, paths in txpool.items():
            res = {p: {k: statistics.median(v) for k, v in m.items()} for p, m in paths.items()}
            bouncer = res["pgbouncertx"]["tps"]
            doc["txpool"][load] = {"median": res, "samples": paths,
                                   "ratio_to_direct": res["proxytx"]["tps"] / res["direct"]["tps"],
                                   "ratio_to_pgbouncer": res["proxytx"]["tps"] / bouncer
                                   if bouncer else None}
    if split:
        doc["split"] = {}
        for load, paths in split.items():
            res = {p: {k: statistics.median(v) for k, v in m.items()} for p, m in paths.items()}
            doc["split"][load] = {"median": res, "samples": paths,
                                  "ratio_on_to_off": res["lbon"]["tps"] / res["lboff"]["tps"],
                                  "ratio_on_to_direct": res["lbon"]["tps"] / res["direct"]["tps"],
                                  "ratio_to_pgpool": res["lbon"]["tps"] / res["pgpool"]["tps"],
                                  "ratio_causal_to_on": (res["lbcausal"]["tps"] / res["lbon"]["tps"]
                                                         if "lbcausal" in res else None)}
    if classify:
        doc["classify"] = classify
    if nodecpu:
        doc["node_cpu_percent"] = nodecpu
    if idle:
        doc["idle"] = idle
    if ha:
        doc["ha"] = {}
        for event, whos in ha.items():
            doc["ha"][event] = {}
            for who, v in whos.items():
                valid = [x["ms"] for x in v if x["status"] == "valid"]
                gaps = [x["gap_ms"] for x in v if x["status"] == "valid"]
                doc["ha"][event][who] = {
                    "median_ms": statistics.median(valid) if valid else None,
                    "median_gap_ms": statistics.median(gaps) if gaps else None,
                    "lost": sum(x["lost"] for x in v if x["lost"] >= 0),
                    "samples": v}
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
            f.write("| path | TPS | TPS min-max | avg latency ms | p99 latency ms | TPS vs direct |\n")
            f.write("|---|---:|---:|---:|---:|---:|\n")
            for p in PATHS:
                r = res[p]
                tps = m["samples"][p]["tps"]
                f.write(f"| {NAMES[p]} | {r['tps']:.0f} | {min(tps):.0f}-{max(tps):.0f} | "
                        f"{r['avg_ms']:.3f} | {r['p99_ms']:.3f} | "
                        f"{r['tps'] / res['direct']['tps']:.2f}x |\n")
            rr = sorted(m["round_ratios"])
            if rr:
                f.write(f"\nVIP / direct, round by round: median {statistics.median(rr):.2f}x, "
                        f"{rr[0]:.2f}x-{rr[-1]:.2f}x over {len(rr)} rounds "
                        f"({', '.join(f'{x:.2f}' for x in m['round_ratios'])})"
                        + (f"; {m['rounds'] - len(rr)} round(s) where a path could not run left out"
                           if len(rr) < m["rounds"] else "") + "\n")
            f.write(f"\npgxr / pgpool-II TPS: {m['ratio_xdp_to_pgpool']:.2f}x\n")
        if proxy:
            f.write("\n## The proxy port\n\nOne lab (generic XDP: the proxy port passes to the "
                    "router's stack), scale {}; pgxrd, pgpool-II and PgBouncer up together; for each "
                    "load, rounds in which the order of the paths rotates; medians.  pgxr's proxy "
                    "in session pooling with authentication passed through (a server connection per "
                    "client session, not cached: the server asks a password), PgBouncer in session "
                    "mode.\n".format(a.scale))
            for load, text in PROXY_LOADS:
                if load not in doc["proxy"]:
                    continue
                r = doc["proxy"][load]
                load_table(f, text, r, PROXY_PATHS, False)
                f.write(f"\npgxr proxy / pgpool-II: {r['ratio_to_pgpool']:.2f}x; / PgBouncer: "
                        f"{r['ratio_to_pgbouncer']:.2f}x; pgxrd RSS at most "
                        f"{r['pgxrd_rss_kb_max'] / 1024:.1f} MB\n")
        if txpool:
            f.write("\n## Transaction pooling\n\nThe same lab: pgxr with pool_mode = transaction "
                    "and PgBouncer in transaction mode, max_pool and default_pool_size alike, both "
                    "checking clients against the server's own SCRAM verifier (the role bench_md5: "
                    "md5, against its password in pool_passwd and userlist.txt); medians of rounds "
                    "in rotating order.  A path whose clients abort on errors scores 0.  With -C, "
                    "a SCRAM login costs the client 4096 PBKDF2 rounds: see the client CPU.  Direct "
                    "to the primary, bench_md5 logs in with SCRAM (the server stores SCRAM "
                    "verifiers).\n")
            for load, text in PROXY_LOADS:
                if load not in doc["txpool"]:
                    continue
                r = doc["txpool"][load]
                load_table(f, text, r, TX_PATHS, True)
                ratio = r["ratio_to_pgbouncer"]
                f.write("\npgxr / PgBouncer: " + (f"{ratio:.2f}x\n" if ratio else
                                                    "PgBouncer could not run it\n"))
        if split:
            f.write("\n## Read/write split\n\nThe same lab, session pooling, pgxr authenticating "
                    "clients (SCRAM against the server's verifier); backend_weight 1 for the "
                    "primary and both standbys in pgxr and pgpool-II; pgxr's load_balance_mode "
                    "switched by a reload before each of its runs (a run's sessions are new).  All "
                    "three servers share the machine's two cores with the client and the routers, "
                    "so reads on the standbys take CPU from the primary's.\n")
            for load, text in SPLIT_LOADS:
                if load not in doc["split"]:
                    continue
                r = doc["split"][load]
                load_table(f, text.format(nodecpu=nodecpu), r, SPLIT_PATHS, False)
                f.write(f"\nload_balance_mode on / off: {r['ratio_on_to_off']:.2f}x; on / direct: "
                        f"{r['ratio_on_to_direct']:.2f}x; pgxr / pgpool-II (both on): "
                        f"{r['ratio_to_pgpool']:.2f}x" + (
                            f"; causal / on: {r['ratio_causal_to_on']:.2f}x"
                            if r["ratio_causal_to_on"] else "") + "\n")
            if classify:
                f.write(f"\nClassification per statement (the unit test's measure on this machine): "
                        f"{classify['hit_ns']:.0f} ns on a cache hit, {classify['parse_us']:.1f} us "
                        "to parse a text first seen\n")
        if idle:
            f.write("\n## Idle clients\n\nBoth run in the foreground, as Debian's pgbouncer.service "
                    "runs PgBouncer.  RSS counts the shared libraries' pages a process mapped; "
                    "anonymous memory is what it allocated itself.\n\n"
                    "| pooler | clients logged in and idle | RSS before MB | "
                    "RSS with them MB | per client kB | anonymous before MB | anonymous with them MB |"
                    "\n|---|---:|---:|---:|---:|---:|---:|\n")
            for p, name in TX_PATHS[1:]:
                if p not in idle:
                    continue
                i = idle[p]
                per = (i["rss_kb"] - i["rss_kb_before"]) / i["clients"] if i["clients"] else 0
                f.write(f"| {name} | {i['clients']} | {i['rss_kb_before'] / 1024:.1f} | "
                        f"{i['rss_kb'] / 1024:.1f} | {per:.2f} | {i['anon_kb_before'] / 1024:.1f} | "
                        f"{i['anon_kb'] / 1024:.1f} |\n")
        if ha:
            f.write("\n## Failover and switchover under writes\n\n"
                    "One client writes through the router (one INSERT per commit, reconnecting "
                    "on error) and records which server acknowledged each commit.  Time: from the "
                    "event to the first commit acknowledged by another server than the old "
                    "primary.  Gap: the writer's time without an acknowledgement, from the old "
                    "primary's last to the new one's first.  Lost: acknowledged commits the new "
                    "primary lacks (asynchronous "
                    "streaming replication).  A sample whose writer saw no failed write is "
                    "reported as invalid, not as a time.  Each sample runs in a fresh lab; the "
                    "samples alternate between the routers.\n\n")
            for event, text in EVENTS:
                if event not in doc["ha"]:
                    continue
                f.write(f"### {text}\n\n| router | median ms | median gap ms | lost / acknowledged | "
                        "samples: ms (first by, status) |\n|---|---:|---:|---:|---|\n")
                for who in ("pgxr", "pgpool"):
                    r = doc["ha"][event].get(who)
                    if not r:
                        continue
                    med = "-" if r["median_ms"] is None else f"{r['median_ms']:.0f}"
                    gap = "-" if r["median_gap_ms"] is None else f"{r['median_gap_ms']:.0f}"
                    acked = sum(x["acknowledged"] for x in r["samples"])
                    cells = ", ".join(
                        f"{x['ms']} ({x['first_by']}{'' if x['status'] == 'valid' else ', ' + x['status']})"
                        for x in r["samples"])
                    f.write(f"| {ROUTERS[who]} | {med} | {gap} | {r['lost']} / {acked} | {cells} |\n")
                x, y = doc["ha"][event].get("pgxr"), doc["ha"][event].get("pgpool")
                if x and y and x["median_ms"] and y["median_ms"]:
                    f.write(f"\npgxr takes {x['median_ms'] / y['median_ms']:.2f} of pgpool-II's "
                            "time\n")
                f.write("\n")
        f.write(f"\n## XDP program cost\n\nbpf_prog_test_run_opts, {xdp['repeat']} repeats, median "
                f"of {xdp['rounds']}: {xdp['flow_hit_ns']:.0f} ns/packet on a flow-table hit, "
                f"{xdp['syn_ns']:.0f} ns/packet for a SYN" +
                (f", {xdp['icmp_ptb_ns']:.0f} ns/packet for an ICMP fragmentation-needed it "
                 "forwards to the flow's backend" if "icmp_ptb_ns" in xdp else "") +
                (f", {xdp['fragment_ns']:.0f} ns/packet for a first fragment it drops"
                 if "fragment_ns" in xdp else "") + "\n")
        lru = doc["flow_lru"]
        f.write(f"\n## Flow table\n\nAn idle flow in a table of {lru['max_flows']} flows survives "
                f"this many new flows (in steps of 4096; -1: more than twice the table), on "
                f"{lru['cpus']} CPUs, with the insert's cost through the syscall:\n\n"
                "| LRU | flood on the idle flow's CPU | flood on every CPU | ns/insert, one CPU "
                "| ns/insert, every CPU |\n|---|---:|---:|---:|---:|\n")
        for v in lru["variants"]:
            f.write(f"| {v['lru']} | {v['survives_one_cpu']} | {v['survives_all_cpus']} | "
                    f"{v['insert_ns_one_cpu']:.0f} | {v['insert_ns_all_cpus']:.0f} |\n")


if __name__ == "__main__":
    main()
