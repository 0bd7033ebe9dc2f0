#!/usr/bin/env python3
"""Per-policy figures (issue "The guest's ASI"): runs each policy on the same workloads with a
fixed seed under the leak oracle and prints a Markdown table of what each design costs.
Usage: tools/bench/policy_table.py [path/to/asi-emu] [ops] [seed]"""
import json
import subprocess

from bench_common import args, grab

emu, ops, seed = args()


rows = []
for policy in ("freetype", "rfc", "off"):
    for workload in ("mixed", "flip-storm"):
        append = f"workload={workload} ops={ops} seed={seed} " + ("asi=off" if policy == "off" else f"asi.policy={policy}")
        p = subprocess.run([emu, "run", "--append", append, "--json"], capture_output=True, text=True)
        out = json.loads(p.stdout)
        console, oracle = p.stderr, out.get("oracle") or {}
        flushes = (int(grab(r"INVPCID single-address (\d+)", console, "0")) + int(grab(r"single-context (\d+)", console, "0"))
                   + int(grab(r"flushing CR3 loads (\d+)", console, "0")) + int(grab(r"INVLPG (\d+)", console, "0")))
        needed = sum(oracle.get(k, 0) for k in ("cr3_flushes_needed", "invlpg_needed", "invpcid_needed"))
        redundant = sum(oracle.get(k, 0) for k in ("cr3_flushes_redundant", "invlpg_redundant", "invpcid_redundant"))
        rows.append([policy, workload, str(flushes), f"{needed} / {redundant}",
                     grab(r"pages zeroed: (\d+) for ASI", console),
                     grab(r"pageblock flips: (\d+) to sensitive", console) + " / " + grab(r"(\d+) to nonsensitive", console),
                     grab(r"ASI: \d+ entries; exits: page fault (\d+)", console),
                     grab(r"alloc cost: median (\d+)", console) + " / " + grab(r"alloc cost: median \d+, p99 (\d+)", console),
                     grab(r"(\d+) cycles per allocation", console),
                     oracle.get("verdict", "off"), str(out["exit_code"])])

head = ["policy", "workload", "TLB flushes", "needed / redundant (oracle)", "pages zeroed (ASI)",
        "flips to sens. / nonsens.", "ASI exits (#PF)", "alloc cost median / p99 (insns)", "est. cycles / alloc",
        "verdict", "exit"]
print(f"ops={ops} seed={seed}, one vCPU, 256 MiB\n")
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for r in rows:
    print("| " + " | ".join(r) + " |")
