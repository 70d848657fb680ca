"""The report of `python -m benchmarks`: printed, and as the Markdown tables
docs/performance.md is made from (times, the issue-16 targets, memory)."""

from __future__ import annotations

LABELS = {"gradcli": "gradcli", "gradcli-untuned": "gradcli, malloc tuning off",
          "numpy": "numpy forward (floor)", "autograd": "autograd", "torch": "torch",
          "jax": "jax", "jax-jit": "jax-jit", "tf.function": "tf.function"}
# gradcli's tracemalloc peak of a warm call before the static memory plan
# (docs/performance.md, run of 2026-11-28), in MB: nothing was kept between calls.
BEFORE_PLAN_MB = {"a_seed000_grad": 0.0, "b_mlp_grad": 2.5, "c_jacobian_tanh_256": 1.6,
                  "d_hessian_logsumexp": 0.9, "e_per_point_hessians": 5.7}
PEERS = ("tf.function", "torch", "autograd")


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f}"


def _engines(report: dict) -> list[str]:
    present = {e for row in report["seconds"].values() for e in row}
    return [e for e in LABELS if e in present]


def targets(report: dict, key: str = "seconds") -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for the issue-16 targets this run can judge,
    from the wall times (`key="seconds"`) or the CPU times ("cpu_seconds")."""
    rows = []
    for workload, row in report.get(key, {}).items():
        ours = row.get("gradcli")
        tag = workload.split("_")[0]
        if ours is None:
            continue
        if "jax-jit" in row:
            ratio = ours / row["jax-jit"]
            rows.append((f"({tag}) ≤ 1.0× jitted JAX", f"{ratio:.2f}× ({_ms(ours)} vs "
                         f"{_ms(row['jax-jit'])} ms)", "met" if ratio <= 1.0 else "**missed**"))
        slower = [p for p in PEERS if p in row and row[p] < ours]
        compared = [p for p in PEERS if p in row]
        if compared:
            rows.append((f"({tag}) ahead of {', '.join(compared)}",
                         ", ".join(f"{p} {ours / row[p]:.2f}×" for p in compared),
                         "met" if not slower else f"**missed** ({', '.join(slower)} faster)"))
        if "numpy" in row:
            ratio = ours / row["numpy"]
            rows.append((f"({tag}) ≤ 2.5× the numpy forward", f"{ratio:.2f}×",
                         "met" if ratio <= 2.5 else "**missed**"))
        if "gradcli-untuned" in row and "jax-jit" in row and tag == "e":
            ratio = row["gradcli-untuned"] / row["jax-jit"]
            rows.append(("(e) ≤ 1.0× jitted JAX, malloc tuning off", f"{ratio:.2f}×",
                         "met" if ratio <= 1.0 else "**missed**"))
    return rows


def _table(report: dict, key: str, engines: list[str]) -> list[str]:
    lines = ["| workload | " + " | ".join(LABELS[e] for e in engines) + " |",
             "|---|" + "---|" * len(engines)]
    for workload, row in report.get(key, {}).items():
        ours = row.get("gradcli")
        cells = []
        for e in engines:
            if e not in row:
                cells.append("")
            elif e == "gradcli" or ours is None:
                cells.append(_ms(row[e]))
            else:
                cells.append(f"{_ms(row[e])} ({ours / row[e]:.2f})")
        lines.append(f"| {workload} | " + " | ".join(cells) + " |")
    return lines


def _load_line(report: dict) -> str:
    load = report.get("load", {})
    parts = []
    if "loadavg_start" in load:
        parts.append(f"load average {load['loadavg_start'][0]:.2f} at the start, "
                     f"{load['loadavg_end'][0]:.2f} at the end")
    if "busy_share" in load:
        parts.append(f"over the run's {load['seconds']:.0f} s the CPUs were "
                     f"{load['busy_share']:.0%} busy: {load['ours_share']:.0%} this benchmark, "
                     f"{load['others_share']:.0%} other processes, and "
                     f"{load['steal_share']:.0%} of the time stolen by the hypervisor")
    return "; ".join(parts)


def markdown(report: dict) -> str:
    cpu = report["cpu"]
    engines = _engines(report)
    model = cpu.get("model name", cpu.get("machine", "?"))
    ident = ", ".join(f"{k} {cpu[k]}" for k in ("cpu family", "model", "stepping") if k in cpu)
    caches = ", ".join(f"{k} {cpu[k]}" for k in ("L1d cache", "L2 cache", "L3 cache") if k in cpu)
    threads = (f"every engine limited to {report['threads']} thread(s)"
               if report.get("threads") else "every engine with its default threads")
    lines = [
        f"Measured {report['date']} on {report['platform']}: CPU {model} ({ident}), "
        f"{cpu.get('cpus')} CPUs, SIMD {' '.join(cpu.get('simd', [])) or '?'}"
        + (f", {caches}" if caches else "") + f"; Python {report['python']}; "
        + ", ".join(f"{k} {v}" for k, v in report["versions"].items()) + ".", "",
        f"Load: {_load_line(report)}.", "",
        f"Each engine in its own process; {report['rounds']} interleaved rounds, each engine's "
        f"best round (the median of warm calls, {report['budget']} s per workload per round); "
        f"{threads}.  Wall time, milliseconds; in parentheses gradcli/engine (below 1: "
        "gradcli is faster).", ""]
    lines += _table(report, "seconds", engines)
    if report.get("cpu_seconds"):
        lines += ["", "CPU time a call (user + system, all the engine's threads; same rounds, "
                  "best round): it leaves out the time an engine waited for a CPU that other "
                  "work held, but counts threads spinning while they wait for each other.", ""]
        lines += _table(report, "cpu_seconds", engines)
    by_cpu = {t: m for t, m, _ in targets(report, "cpu_seconds")}
    rows = targets(report)
    if rows:
        lines += ["", "| target | measured (wall time) | | by CPU time |", "|---|---|---|---|"]
        lines += [f"| {t} | {m} | {v} | {by_cpu.get(t, '')} |" for t, m, v in rows]
    memory = report.get("memory", {})
    if "gradcli" in memory:
        untuned = memory.get("gradcli-untuned", {})
        lines += ["", "gradcli's memory per workload: the buffers its planned programs keep "
                  "between calls, tracemalloc's peak during a warm call (numpy reports its "
                  "buffers to it), their sum against the peak before the memory plan (when "
                  "nothing was kept), and minor page faults a warm call (allocator tuning on / "
                  "off).", "",
                  "| workload | kept buffers | peak of a warm call | sum | before the plan "
                  "| page faults a call |", "|---|---|---|---|---|---|"]
        for workload, m in memory["gradcli"].items():
            faults = f"{m['faults_per_call']:.0f}"
            if workload in untuned:
                faults += f" / {untuned[workload]['faults_per_call']:.0f}"
            before = BEFORE_PLAN_MB.get(workload)
            lines.append(f"| {workload} | {m['pool_bytes'] / 1e6:.2f} MB | "
                         f"{m['call_peak_bytes'] / 1e6:.2f} MB | {m['peak_bytes'] / 1e6:.2f} MB "
                         f"| {'' if before is None else f'{before:.1f} MB'} | {faults} |")
    if "cold_start_seconds" in report:
        lines += ["", "Cold start of the whole process (median wall time):", "",
                  "| command | ms |", "|---|---|"]
        lines += [f"| {k} | {v * 1e3:.0f} |" for k, v in report["cold_start_seconds"].items()]
    return "\n".join(lines) + "\n"


def print_report(report: dict) -> None:
    cpu = report["cpu"]
    print(f"{report['date']}  {report['platform']}  {cpu.get('model name', '?')}  "
          f"{cpu.get('cpus')} cpus  " + "  ".join(f"{k} {v}"
                                                 for k, v in report["versions"].items()))
    print(f"load: {_load_line(report)}")
    for workload, row in report["seconds"].items():
        ours = row.get("gradcli")
        print(f"\n{workload}")
        for engine, seconds in sorted(row.items(), key=lambda kv: kv[1]):
            ratio = ("" if engine == "gradcli" or ours is None
                     else f"   gradcli/{engine} = {ours / seconds:.2f}")
            cpu_s = report.get("cpu_seconds", {}).get(workload, {}).get(engine)
            cpu_ms = "" if cpu_s is None else f"  (CPU {cpu_s * 1e3:.3f} ms)"
            print(f"  {LABELS[engine]:28s} {seconds * 1e3:10.3f} ms{cpu_ms}{ratio}")
    by_cpu = {t: m for t, m, _ in targets(report, "cpu_seconds")}
    for target, measured, verdict in targets(report):
        print(f"  {target:50s} {measured:40s} {verdict:10s} (CPU time: {by_cpu.get(target)})")
    for engine, rows in report.get("memory", {}).items():
        for workload, m in rows.items():
            print(f"  {engine:16s} {workload:22s} kept {m['pool_bytes'] / 1e6:6.2f} MB  "
                  f"warm-call peak {m['call_peak_bytes'] / 1e6:6.2f} MB  "
                  f"faults/call {m['faults_per_call']:.0f}")
    if "cold_start_seconds" in report:
        print("\nf_cold_start (whole process)")
        for what, seconds in report["cold_start_seconds"].items():
            print(f"  {what:40s} {seconds * 1e3:8.1f} ms")
