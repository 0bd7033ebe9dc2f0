#include "emu/events.h"

namespace emu {

const char* event_kind_name(EventKind kind) {
    switch (kind) {
        case EventKind::Cr3Load: return "cr3-load";
        case EventKind::Cr4Write: return "cr4-write";
        case EventKind::Cr0Write: return "cr0-write";
        case EventKind::Invlpg: return "invlpg";
        case EventKind::Invpcid: return "invpcid";
        case EventKind::Exception: return "exception";
        case EventKind::Tracepoint: return "tracepoint";
        case EventKind::MsrWrite: return "msr-write";
        case EventKind::Syscall: return "syscall";
        case EventKind::PteWrite: return "pte-write";
        case EventKind::TableSnapshot: return "table-snapshot";
        case EventKind::TableEntry: return "table-entry";
        case EventKind::FrameContent: return "frame-content";
        case EventKind::VcpuState: return "vcpu-state";
        case EventKind::Slice: return "slice";
        case EventKind::Ipi: return "ipi";
        case EventKind::Interrupt: return "interrupt";
        case EventKind::Halt: return "halt";
    }
    return "unknown";
}

}  // namespace emu
