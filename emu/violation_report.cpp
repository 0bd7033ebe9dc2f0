#include "mmu/hex.h"
#include "emu/violation_report.h"

#include <capstone/capstone.h>
#include <cxxabi.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>

#include "guest_kernel/abi/asi_emu_abi.h"

namespace emu {
namespace {

using mmu::hex;

const char* trace_kind_name(uint64_t k) {
    switch (k) {
        case asi_abi::kTracePageAlloc: return "page-alloc";
        case asi_abi::kTracePageFree: return "page-free";
        case asi_abi::kTraceAddressSpaceRegister: return "address-space-register";
        case asi_abi::kTraceAddressSpaceUnregister: return "address-space-unregister";
        case asi_abi::kTracePageblockFlip: return "pageblock-flip";
        case asi_abi::kTracePagesZeroed: return "pages-zeroed";
        case asi_abi::kTraceTlbFlush: return "tlb-flush";
        case asi_abi::kTraceAsiExit: return "asi-exit";
        case asi_abi::kTraceAsiEnter: return "asi-enter";
        case asi_abi::kTraceMitigation: return "mitigation";
        case asi_abi::kTraceMark: return "mark";
    }
    return "tracepoint";
}

}  // namespace

// "name+0x1c" with name demangled when it is a C++ symbol.
static std::string demangle(const std::string& symbolized) {
    const size_t plus = symbolized.rfind('+');
    const std::string name = symbolized.substr(0, plus), offset = plus == std::string::npos ? "" : symbolized.substr(plus);
    int status = 0;
    char* d = abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status);
    if (status != 0 || !d) return symbolized;
    std::string out = std::string(d) + offset;
    std::free(d);
    return out;
}

std::string CodeView::symbol(uint64_t rip) const {
    if (!image_) return hex(rip);
    auto s = image_->symbolize(rip);
    return s ? hex(rip) + " <" + demangle(*s) + ">" : hex(rip);
}

std::string CodeView::describe(uint64_t rip) const {
    std::string out = symbol(rip);
    if (!image_) return out;
    for (const ElfSegment& s : image_->segments) {
        if (!s.executable || rip < s.vaddr || rip >= s.vaddr + s.file_size) continue;
        const uint64_t off = s.file_offset + (rip - s.vaddr);
        if (off >= file_.size()) break;
        csh cs;
        if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) break;
        cs_insn* insn = nullptr;
        const size_t n = cs_disasm(cs, file_.data() + off, std::min<size_t>(16, file_.size() - off), rip, 1, &insn);
        if (n == 1) out += std::string(": ") + insn[0].mnemonic + (insn[0].op_str[0] ? " " : "") + insn[0].op_str;
        if (n) cs_free(insn, n);
        cs_close(&cs);
        break;
    }
    return out;
}

std::string describe_event(const Event& e) {
    const auto& a = e.a;
    switch (e.kind) {
        case EventKind::Cr3Load:
            return "CR3 <- " + hex(a[0]) + (a[2] ? " (no-flush)" : " (flushing)") + ", was " + hex(a[1]);
        case EventKind::Cr4Write: return "CR4 <- " + hex(a[0]) + ", was " + hex(a[1]);
        case EventKind::Cr0Write: return "CR0 <- " + hex(a[0]) + ", was " + hex(a[1]);
        case EventKind::Invlpg: return "INVLPG " + hex(a[0]) + " (PCID " + std::to_string(a[1]) + ")";
        case EventKind::Invpcid:
            return "INVPCID type " + std::to_string(a[0]) + " PCID " + std::to_string(a[1]) + " address " + hex(a[2]);
        case EventKind::Exception:
            return "exception vector " + std::to_string(a[0]) + " error " + hex(a[1]) + " CR2 " + hex(a[2]);
        case EventKind::Tracepoint:
            if (a[0] == asi_abi::kTracePageAlloc || a[0] == asi_abi::kTracePageFree)
                return std::string(trace_kind_name(a[0])) + " pa " + hex(a[1]) + " order " + std::to_string(a[2]) +
                       " gfp " + hex(a[3]) + ((a[3] & asi_abi::kGfpSensitive) ? " (sensitive)" : "") + " owner " +
                       std::to_string(a[4]);
            if (a[0] == asi_abi::kTraceAddressSpaceRegister)
                return std::string("address-space-register root ") + hex(a[1]) + " PCID " + std::to_string(a[2]) +
                       (a[3] == asi_abi::kSpaceRestricted ? " restricted" : " unrestricted") + " owner " +
                       std::to_string(a[4]);
            return std::string(trace_kind_name(a[0])) + " " + hex(a[1]) + " " + hex(a[2]) + " " + hex(a[3]);
        case EventKind::PteWrite:
            return "page-table write " + hex(a[2]) + " (" + std::to_string(a[1]) + " bytes) at PA " + hex(a[0]);
        case EventKind::MsrWrite: return "WRMSR " + hex(a[0]) + " <- " + hex(a[1]);
        case EventKind::Syscall: return "SYSCALL RAX " + hex(a[0]);
        case EventKind::VcpuState: return "vCPU power-on CR0 " + hex(a[0]) + " CR3 " + hex(a[1]) + " CR4 " + hex(a[2]);
        case EventKind::TableSnapshot: return "table snapshot " + hex(a[0]);
        case EventKind::TableEntry: return "table entry " + hex(a[0]) + "[" + std::to_string(a[1]) + "] = " + hex(a[2]);
        case EventKind::FrameContent: return "frame " + hex(a[0]) + (a[1] ? " is zero" : " is not zero");
        case EventKind::Slice: return "time slice from clock " + std::to_string(a[0]) + " to " + std::to_string(a[1]);
        case EventKind::Ipi:
            return "IPI vector " + hex(a[1]) + " to vCPU " + std::to_string(a[0]) + " (ICR " + hex(a[2]) + ")";
        case EventKind::Interrupt:
            return "interrupt vector " + hex(a[0]) + (a[1] == kInterruptSourceTimer ? " (APIC timer)" : " (IPI)");
        case EventKind::Halt: return a[0] ? "HLT: parked" : "woken from HLT";
    }
    return event_kind_name(e.kind);
}

std::string format_violation(const cpu_model::Violation& v, const CodeView& code) {
    std::string out = std::string(cpu_model::rule_name(v.rule)) + ": " + cpu_model::rule_title(v.rule) + "\n";
    out += "  vCPU " + std::to_string(v.vcpu) + ", PCID " + std::to_string(v.pcid) + ", VA " + hex(v.va) + ", frame " +
           hex(v.frame) + ", event #" + std::to_string(v.event_index) + " at instruction count " +
           std::to_string(v.icount) + "\n";
    out += "  instruction: " + code.describe(v.rip) + "\n";
    out += "  how: " + v.how + "\n";
    out += "  chain of events:\n";
    for (const auto& link : v.chain) {
        out += "    #" + std::to_string(link.index) + " vCPU " + std::to_string(link.event.vcpu) + " @" +
               std::to_string(link.event.icount) + ": " + describe_event(link.event) + "\n";
        out += "        at " + code.symbol(link.event.rip) + " -- " + link.note + "\n";
    }
    return out;
}

std::string verdict_line(uint64_t count, const std::vector<cpu_model::Violation>& violations) {
    if (count == 0) return "verdict: clean (no sensitive frame was reachable in the restricted address space)";
    const cpu_model::Violation& first = violations.front();
    return "verdict: VIOLATION: " + std::to_string(count) + " report(s), first " + cpu_model::rule_name(first.rule) +
           " on vCPU " + std::to_string(first.vcpu) + " frame " + hex(first.frame) + " (" +
           cpu_model::rule_title(first.rule) + ")";
}

std::string oracle_metrics_text(const cpu_model::OracleMetrics& m) {
    auto pair = [](const cpu_model::FlushCounts& c) {
        return std::to_string(c.needed) + " needed / " + std::to_string(c.redundant) + " redundant";
    };
    return "oracle: " + std::to_string(m.pte_writes) + " page-table writes; CR3 flushes " + pair(m.cr3_flush) +
           "; INVLPG " + pair(m.invlpg) + "; INVPCID " + pair(m.invpcid) + "; restricted-space entries " +
           std::to_string(m.asi_entries);
}

}  // namespace emu
