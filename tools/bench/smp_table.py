#!/usr/bin/env python3
"""SMP figures (issue "SMP"): per policy, the `mixed` workload on 1, 2, 4 and 8 vCPUs under the
leak oracle (same total ops, split over the CPUs by the guest), with what the guest reports:
IPIs sent, remote flushes, flushes avoided by the "only CPUs inside ASI" rule, ASI exits; and
the emulation speed of 4 vCPUs vs 1 on the same total work, runs side by side.
Usage: tools/bench/smp_table.py [path/to/asi-emu] [ops] [seed]"""
import json
import subprocess
import time

from bench_common import args, grab

emu, ops, seed = args()


def run(smp, append, oracle="on"):
    t0 = time.monotonic()
    p = subprocess.run([emu, "run", "--smp", str(smp), "--oracle", oracle, "--append", append, "--json"],
                       capture_output=True, text=True)
    wall = time.monotonic() - t0
    return json.loads(p.stdout), p.stderr, wall


rows = []
for policy in ("freetype", "rfc"):
    for smp in (1, 2, 4, 8):
        append = f"workload=mixed ops={ops} seed={seed} asi.policy={policy}"
        out, console, wall = run(smp, append)
        c = out["counters"]
        oracle = out.get("oracle") or {}
        rows.append([policy, str(smp), str(c["ipis_sent"]),
                     grab(r"(\d+) handled \((\d+) flushed something\)", console, 2),
                     grab(r"(\d+) avoided because the target was outside ASI", console),
                     grab(r"(\d+) flushes done at ASI entry", console),
                     str(c["interrupts"]), grab(r"ASI: (\d+) entries", console),
                     grab(r"ASI: \d+ entries; exits: page fault (\d+)", console),
                     str(c["instructions"]), f"{wall:.2f}", oracle.get("verdict", "off"), str(out["exit_code"])])

head = ["policy", "vCPUs", "IPIs sent", "remote flushes", "IPIs avoided (target outside ASI)",
        "flushes at ASI entry instead", "interrupts taken",
        "ASI entries", "ASI exits (#PF)", "guest instructions", "wall s", "verdict", "exit"]
print(f"workload=mixed ops={ops} seed={seed}, 256 MiB, oracle on, quantum default\n")
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for r in rows:
    print("| " + " | ".join(r) + " |")

# Speed: the same total work on 1 and 4 vCPUs, alternated three times; guest instructions per
# host second (the scheduler's and APIC's cost shows up as a lower rate with 4 vCPUs).
print("\nEmulation speed, 4 vCPUs vs 1, same total work (oracle off, alternated 3 times):\n")
rates = {1: [], 4: []}
for _ in range(3):
    for smp in (1, 4):
        out, _, wall = run(smp, f"workload=mixed ops={ops} seed={seed}", oracle="off")
        rates[smp].append(out["counters"]["instructions"] / wall)
best = {k: max(v) for k, v in rates.items()}
print(f"| vCPUs | guest instructions / s (best of 3) |\n|---|---|")
for k in (1, 4):
    print(f"| {k} | {best[k] / 1e6:.1f} M |")
print(f"\n4 vs 1 vCPU: {best[4] / best[1]:.2f}x")
