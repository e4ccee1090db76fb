"""Helpers for scripts/bench.sh: parse wrk and pgbench output, log a browser
in through the identity provider, and write the report. Runs in the
benchmark's venv (python3 -m bench.bench is not needed: call it by path)."""
import glob, json, os, re, sys, urllib.parse
from datetime import datetime, timezone


def parse_duration_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk_parse(path):
    """`wrk --latency` output → requests/s, p50/p99/max ms, non-2xx, socket errors."""
    text = open(path).read()
    out = {"per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))}
    lat = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", text)
    out["max_ms"] = parse_duration_ms(lat.group(3))
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", text, re.M)
        out[f"p{pct}_ms"] = parse_duration_ms(m.group(1))
    m = re.search(r"(\d+) requests in", text)
    out["requests"] = int(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["socket_errors"] = sum(map(int, m.groups())) if m else 0
    return out


def pgbench_parse(output_path, log_prefix):
    """pgbench's summary (tps) and its per-transaction logs (-l) → percentiles."""
    text = open(output_path).read()
    tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", text).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", text)
    lat = []
    for name in glob.glob(log_prefix + ".*"):
        if not re.fullmatch(r"\.\d+(\.\d+)?", name[len(log_prefix):]):
            continue  # pgbench's logs are PREFIX.PID and PREFIX.PID.THREAD
        with open(name) as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 3:
                    lat.append(int(fields[2]))  # microseconds
    lat.sort()
    pct = lambda p: lat[max(1, -(-len(lat) * p // 100)) - 1] / 1000.0 if lat else 0.0
    return {"per_second": tps, "transactions": len(lat), "failed": int(failed.group(1)) if failed else 0,
            "p50_ms": pct(50), "p99_ms": pct(99), "max_ms": lat[-1] / 1000.0 if lat else 0.0}


def login(app, username, password):
    """The browser's login: /auth/login → provider's form → callback; prints the session cookie."""
    import httpx
    with httpx.Client(follow_redirects=False, timeout=30) as c:
        r = c.get(f"{app}/auth/login?next=/credits")
        assert r.status_code == 303, r.status_code
        url = r.headers["location"]
        r = c.get(url)
        while r.is_redirect:
            url = urllib.parse.urljoin(url, r.headers["location"])
            r = c.get(url)
        assert r.status_code == 200, r.status_code
        action = r.text.split('<form id="kc-form-login"')[1].split('action="')[1].split('"')[0].replace("&amp;", "&")
        action = urllib.parse.urljoin(url, action)
        r = c.post(action, data={"username": username, "password": password})
        while r.is_redirect:
            url = urllib.parse.urljoin(action, r.headers["location"])
            r = c.get(url)
        cookie = c.cookies.get("occ_session")
        assert cookie, "no session cookie after login"
        check = c.get(f"{app}/credits")
        assert check.status_code == 200, check.status_code
        print(f"occ_session={cookie}")


def cpu(r):
    """CPU per request: the app's, and PostgreSQL's where the run recorded it."""
    if not r or "app_cpu_us_per_request" not in r:
        return "n/a"
    app = f"{r['app_cpu_us_per_request']:,.0f} µs"
    return f"{app} + {r['pg_cpu_us_per_request']:,.0f} µs PG" if "pg_cpu_us_per_request" in r else app


def fmt(x, digits=0):
    return f"{x:,.{digits}f}" if x is not None else "n/a"


def report(run_dir, out_json, out_md, perf_md):
    meta = json.load(open(os.path.join(run_dir, "meta.json")))
    results = [json.loads(l) for l in open(os.path.join(run_dir, "results.jsonl")) if l.strip()]
    doc = {**meta, "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "results": results}
    by = {}
    for r in results:
        by.setdefault(r["workload"], []).append(r)

    def find(workload, system, c):
        for r in by.get(workload, []):
            if r["system"] == system and r["concurrency"] == c:
                return r
        return None

    # Ratios: the app against each reference, per concurrency.
    for r in results:
        if r["system"] != "app":
            continue
        refs = {"webhook": ["pgbench", "python-peer"], "credits-page": ["static-asset"],
                "balance-api": ["static-asset"], "spend": ["pgbench"], "spend-hot": ["pgbench"]}.get(r["workload"], [])
        r["ratios"] = {}
        for ref in refs:
            other = find("static" if ref == "static-asset" else r["workload"], ref, r["concurrency"])
            if other and other.get("per_second"):
                r["ratios"][ref] = round(r["per_second"] / other["per_second"], 3)

    md = [f"# Benchmark report {meta['started_at']}", ""]
    md.append(f"- Machine: {meta['cores']} cores ({meta['cpu']}), {meta['mem']}")
    md.append("- Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()))
    md.append(f"- Webhook purchases per run: N = {meta['n']}" + (" (shortened; issue #13 asks for N ≥ 10,000)" if meta["n"] < 10000 else ""))
    md.append(f"- pgbench: {meta.get('pgbench_seconds', 15)} s per level; HTTP workloads: wrk, {meta.get('wrk_seconds', 10)} s per run "
              "(1 thread at concurrency 1, else 2); any non-2xx answer or socket error fails the run.")
    md.append(f"- Commit: `{meta['commit']}`; app built with `cargo build --release`; " + meta["notes"])
    md.append("")
    md.append("## 1. Webhook fulfilment (signed `checkout.session.completed`, one fresh purchase each)")
    md.append("")
    md.append("| concurrency | pgbench fulfilment transaction | app webhook | app / pgbench | Python Ops-Center | app / Python | app p50 / p99 / max ms | pgbench p50 / p99 / max ms | Python p50 / p99 / max ms | CPU per delivery (app + PostgreSQL) |")
    md.append("|---|---|---|---|---|---|---|---|---|---|")
    for c in sorted({r["concurrency"] for r in by.get("webhook", [])}):
        app, pg, py = find("webhook", "app", c), find("webhook", "pgbench", c), find("webhook", "python-peer", c)
        lat = lambda r: f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f} / {r['max_ms']:.1f}" if r else "n/a"
        rate = lambda r: (f"{fmt(r['per_second'])}/s" + (" (checkpoint)" if r.get("checkpoint_during") else "")) if r else "n/a"
        ratio = lambda ref: f"{app['ratios'][ref]:.2f}×" if app and ref in app.get("ratios", {}) else "n/a"
        md.append(f"| {c} | {rate(pg)} | {rate(app)} | {ratio('pgbench')} | {rate(py)} | {ratio('python-peer')} | {lat(app)} | {lat(pg)} | {lat(py)} | {cpu(app)} |")
    wal = [(c, [find("webhook", sys_, c) for sys_ in ("pgbench", "app", "python-peer")])
           for c in sorted({r["concurrency"] for r in by.get("webhook", [])})]
    if any(r and "wal_bytes_per_item" in r for _, rs in wal for r in rs):
        kb = lambda r: f"{r['wal_bytes_per_item'] / 1024:.1f} KB" if r and "wal_bytes_per_item" in r else "n/a"
        md += ["", "WAL written per transaction or delivery (from the checkpoint that starts each segment): "
               + "; ".join(f"at {c}: pgbench {kb(pg)}, app {kb(app)}, Python {kb(py)}" for c, (pg, app, py) in wal) + "."]
    md.append("")
    md.append("Every app and Python run is verified afterwards: each purchase completed with exactly one grant, "
              "no failed delivery, a redelivery of the first events changes nothing (app), and every user's balance "
              "equals the sum of their ledger. pgbench runs `fulfil.sql` (`-j 2 -T " + str(meta.get("pgbench_seconds", 15)) + "`) on a scratch database from "
              "`schema.sql`; its balances are checked against its transactions too. Each of the three starts right after a `CHECKPOINT`; "
              "a rate marked (checkpoint) met another one during its run.")
    for workload, title, reference in (("credits-page", "2. The `/credits` page (session cookie, 50 history rows)", "static asset"),
                                       ("balance-api", "3. `GET /api/v1/billing/credits/balance` with a bearer token", "static asset")):
        if workload not in by:
            continue
        md += ["", f"## {title}", "", f"Reference: `{meta.get('static_path', 'static')}` from the same process.", "",
               "| concurrency | app req/s | p50 / p99 / max ms | CPU per request (app + PostgreSQL) | reference req/s | reference p50 / p99 ms | ratio |", "|---|---|---|---|---|---|---|"]
        for r in sorted(by[workload], key=lambda r: r["concurrency"]):
            ref = find("static", "static-asset", r["concurrency"])
            md.append(f"| {r['concurrency']} | {fmt(r['per_second'])} | {r['p50_ms']:.1f} / {r['p99_ms']:.1f} / {r['max_ms']:.1f} | {cpu(r)} | "
                      + (f"{fmt(ref['per_second'])} | {ref['p50_ms']:.1f} / {ref['p99_ms']:.1f} | {r['ratios'].get('static-asset', 0):.2f}×" if ref else "n/a | n/a | n/a") + " |")
    if "spend" in by:
        md += ["", "## Wallet: `POST /api/v1/billing/credits/spend` (issue #14)", "",
               "A spender service's bearer token, a fresh `Idempotency-Key` per request, 1 credit from a random one of "
               "1,000 users (50 service names); the reference is pgbench sending the same statement "
               "(`bench/spend.sql`: `wallet_spend`, one round trip) to the same database. Hot: every spend on one user.", "",
               "| users | concurrency | pgbench | app | app / pgbench | app p50 / p99 / max ms | pgbench p50 / p99 ms | CPU per spend (app + PostgreSQL) |",
               "|---|---|---|---|---|---|---|---|"]
        for workload, label in (("spend", "1,000"), ("spend-hot", "1 (hot)")):
            for r in sorted((r for r in by.get(workload, []) if r["system"] == "app"), key=lambda r: r["concurrency"]):
                pg = find(workload, "pgbench", r["concurrency"])
                md.append(f"| {label} | {r['concurrency']} | " + (f"{fmt(pg['per_second'])}/s" if pg else "n/a") + f" | {fmt(r['per_second'])}/s | "
                          + (f"{r['ratios'].get('pgbench', 0):.2f}×" if pg else "n/a") + f" | {r['p50_ms']:.1f} / {r['p99_ms']:.1f} / {r['max_ms']:.1f} | "
                          + (f"{pg['p50_ms']:.1f} / {pg['p99_ms']:.1f}" if pg else "n/a") + f" | {cpu(r)} |")
        total = next((r for r in by.get("spend-total", [])), None)
        if total:
            md += ["", f"{total['spends']:,} spends in all (app and pgbench); afterwards every balance equals its ledger, every grant's "
                   "remainder its amount less its uses, every spend is funded exactly, and nobody is below zero."]
    if "checkout" in by:
        md += ["", "## 4. Checkout creation against the Stripe emulator (`POST /credits/purchase`)", "",
               "Each answer's `Server-Timing` header splits its latency into the time the app waited on Stripe "
               "(here the emulator, on the same cores) and the rest of the app's own time; *outside* is what "
               "neither clock saw (network, client). Every checkout is verified to have left one pending purchase "
               "with its emulator session.", "",
               "| concurrency | checkouts/s | total p50 / p99 ms | Stripe (emulator) p50 / p99 ms | ours p50 / p99 ms | outside p50 ms | CPU per checkout (app + PostgreSQL) |",
               "|---|---|---|---|---|---|---|"]
        for r in sorted(by["checkout"], key=lambda r: r["concurrency"]):
            part = lambda k: f"{r[k]['p50_ms']:.1f} / {r[k]['p99_ms']:.1f}"
            md.append(f"| {r['concurrency']} | {fmt(r['per_second'])} | {part('total')} | {part('stripe')} | {part('app')} | "
                      f"{r['outside']['p50_ms']:.1f} | {cpu(r)} |")
    if "browser-files" in by:
        files = by["browser-files"][0]
        tti = next(iter(by.get("browser-tti", [])), None)
        # What /credits loaded (tti.mjs saw it transferred); the other wasm
        # files are the lazy routes' chunks, fetched when a page needs them.
        loaded = {x["name"] for x in tti["resources"]} if tti else None
        kb = lambda x: f"{x / 1000:,.1f}"
        md += ["", "## 5. What the browser downloads for `/credits`", "",
               f"The release site (`cargo leptos build --release --precompress --split`); the app serves "
               f"`{files['served_encoding']}` to a browser accepting brotli and gzip. The admin and billing routes are lazy: "
               "their code is in wasm chunks that only those pages load.", "",
               "| file | raw KB | gzip KB | brotli KB | loaded by `/credits` |", "|---|---|---|---|---|"]
        chunks = []
        for f in files["files"]:
            on_credits = loaded is None or f["file"] in loaded or not f["file"].endswith(".wasm")
            if not on_credits:
                chunks.append(f)
                continue
            md.append(f"| `{f['file']}` | {kb(f['raw'])} | {kb(f['gzip'])} | {kb(f['brotli'])} | "
                      + ("n/a" if loaded is None else "yes" if f["file"] in loaded else "no") + " |")
        if loaded is not None:
            wasm = [f for f in files["files"] if f["file"].endswith(".wasm") and f["file"] in loaded]
            md.append(f"| **wasm `/credits` loads** ({len(wasm)} file{'s' if len(wasm) != 1 else ''}) | "
                      f"**{kb(sum(f['raw'] for f in wasm))}** | **{kb(sum(f['gzip'] for f in wasm))}** | "
                      f"**{kb(sum(f['brotli'] for f in wasm))}** | |")
        if chunks:
            md.append(f"| other wasm chunks ({len(chunks)}, loaded on demand) | {kb(sum(f['raw'] for f in chunks))} | "
                      f"{kb(sum(f['gzip'] for f in chunks))} | {kb(sum(f['brotli'] for f in chunks))} | no |")
        if tti:
            md += ["", f"Time to interactive in headless Chromium (`bench/tti.mjs`, a fresh browser context each run, "
                   f"median of {tti['runs']}): **{tti['tti_ms']:.0f} ms** from navigation to the `data-hydrated` marker "
                   f"(max {tti['tti_max_ms']:.0f} ms); first byte {tti['first_byte_ms']:.0f} ms, DOMContentLoaded "
                   f"{tti['dom_content_loaded_ms']:.0f} ms, load {tti['load_ms']:.0f} ms. Transferred: "
                   + ", ".join(f"`{x['name']}` {x['transfer'] / 1000:,.1f} KB" for x in tti["resources"] if x["transfer"]) + "."]
    if "instances" in by:
        md += ["", "## 8. Several instances behind haproxy (webhook fulfilment)", "",
               "One to four app processes on the one database behind haproxy (round robin), N signed deliveries each "
               "run; afterwards each purchase has exactly one grant, and redelivering the first 400 events through "
               "the balancer (so to other instances) changes nothing.", "",
               "| instances | concurrency | deliveries/s | vs one instance | p50 / p99 / max ms |", "|---|---|---|---|---|"]
        runs_ = sorted(by["instances"], key=lambda r: r["instances"])
        one = runs_[0]["per_second"] if runs_ else None
        for r in runs_:
            md.append(f"| {r['instances']} | {r['concurrency']} | {fmt(r['per_second'])} | {r['per_second'] / one:.2f}× | "
                      f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f} / {r['max_ms']:.1f} |")
    if "scale" in by:
        md += ["", "## 7. The admin views at scale", "",
               "Admin API calls with an admin's bearer token and the dashboard page with an admin's session, "
               "wrk at concurrency 4; p99 in ms (requests/s in brackets).", ""]
        sizes = sorted({r["purchases"] for r in by["scale"]})
        probes = list(dict.fromkeys(r["probe"] for r in by["scale"]))
        md.append("| probe | " + " | ".join(f"{n:,} purchases" for n in sizes) + " |")
        md.append("|---" * (len(sizes) + 1) + "|")
        for probe in probes:
            cells = []
            for n in sizes:
                r = next((r for r in by["scale"] if r["probe"] == probe and r["purchases"] == n), None)
                cells.append(f"{r['p99_ms']:.1f} ({fmt(r['per_second'])}/s)" if r else "n/a")
            md.append(f"| {probe} | " + " | ".join(cells) + " |")
        for r in sorted(by.get("scale-export", []), key=lambda r: r["purchases"]):
            md.append("")
            md.append(f"CSV export of {r['rows']:,} purchases: first byte after {r['ttfb_s'] * 1000:.0f} ms, all "
                      f"{r['bytes'] / 1e6:,.1f} MB in {r['total_s']:.1f} s; app RSS {r['rss_before_mib']} → {r['rss_after_mib']} MiB.")
        plans = [r for r in by.get("scale-plan", []) if r["purchases"] == max(sizes)]
        if plans:
            md += ["", f"Plans at {max(sizes):,} purchases (`EXPLAIN (ANALYZE, BUFFERS)`):"]
            for r in plans:
                md += ["", f"<details><summary><code>{r['query']}</code></summary>", "", "```", r["plan"].rstrip(), "```", "", "</details>"]
    if "healthz" in by:
        md += ["", "Also `/healthz`: " + ", ".join(f"{fmt(r['per_second'])}/s at {r['concurrency']}" for r in sorted(by["healthz"], key=lambda r: r["concurrency"])) + "."]
    if "memory" in by:
        md += ["", "## 6. Server memory", "", "| measurement | MiB |", "|---|---|"]
        for r in by["memory"]:
            md.append(f"| {r['what']} | {r['mib']:.1f} |")
    md.append("")
    text = "\n".join(md)
    json.dump(doc, open(out_json, "w"), indent=2)
    open(out_md, "w").write(text)
    if perf_md:
        write_performance(perf_md, text, os.path.basename(out_json))


def write_performance(path, latest, json_name):
    """docs/PERFORMANCE.md: the notes section is kept; the latest report replaces the old one."""
    marker = "<!-- latest benchmark report (scripts/bench.sh writes below this line) -->"
    head = ""
    if os.path.exists(path):
        head = open(path).read().split(marker)[0]
    if not head.strip():
        head = "# Performance\n\nRun `scripts/bench.sh` (README, \"Benchmarks\").\n"
    body = latest.replace("\n## ", "\n### ").replace("# Benchmark report", "## Latest report:", 1)
    open(path, "w").write(head.rstrip() + "\n\n" + marker + "\n\n" + body + f"\nJSON: `bench/results/{json_name}`.\n")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "wrk":
        print(json.dumps(wrk_parse(args[0])))
    elif cmd == "pgbench":
        print(json.dumps(pgbench_parse(args[0], args[1])))
    elif cmd == "login":
        login(*args)
    elif cmd == "report":
        report(*args)
    else:
        sys.exit(f"unknown command {cmd}")
