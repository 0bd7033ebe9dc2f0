// One virtual CPU: a Unicorn engine on the shared guest RAM plus everything Unicorn 2.0.1
// does not do for a full-system x86-64 machine (DESIGN 4): exception delivery through the
// IDT, the privileged instructions found by the load-time scan, SYSCALL, CPUID, the data
// path through memory windows, instruction counting per translated block, and the
// classification of every stop.
#pragma once
#include <unicorn/unicorn.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "emu/backend/cpu_state_blob.h"
#include "emu/backend/cpuid_table.h"
#include "emu/backend/exception_delivery.h"
#include "emu/backend/memory_windows.h"
#include "emu/backend/privileged_scan.h"
#include "emu/devices/local_apic.h"
#include "emu/devices/port_bus.h"
#include "emu/events.h"
#include "emu/run_stats.h"
#include "mmu/physical_memory.h"

namespace emu {
class DirtyPageTracker;
}

namespace emu {
class TlbStats;
}

namespace emu::backend {

enum class StopKind {
    GuestExit,        // isa-debug-exit written
    Halted,           // parked by HLT (RIP after it); the machine decides what can wake it
    SliceEnd,         // the time slice is used up (or given up by PAUSE)
    Resume,           // internal: back to the run loop (interrupt window, timer), never returned
    InsnLimit,        // --max-insns reached
    TripleFault,
    ForbiddenAccess,  // a guest access the backend must refuse (text write, unscanned code, ...)
    OracleViolation,  // --stop-on-violation and the oracle reported one
    BackendError,     // Unicorn reported something we could not classify
    FuzzReady,        // the guest's fuzz mode waits for its program (asi_emu_abi.h); resumable
    FuzzDone,         // the guest's fuzz mode ran its program
};

// The last kFuzzPort write (asi_emu_abi.h "In-emulator fuzzing"): command and arguments.
struct FuzzRequest {
    uint32_t command = 0;
    uint64_t rdi = 0, rsi = 0, r8 = 0;
};

struct StopInfo {
    StopKind kind;
    std::string detail;
};

// Which physical frames are page tables now: stores to them become PteWrite events.
class TableFrameFilter {
public:
    virtual ~TableFrameFilter() = default;
    virtual bool is_table_frame(uint64_t pa) const = 0;
};

// The machine's interrupt fabric: routes an IPI from one local APIC to its destinations.
class InterruptRouter {
public:
    virtual ~InterruptRouter() = default;
    virtual void send_ipi(uint32_t from, const devices::IpiRequest& ipi) = 0;
    virtual uint32_t vcpu_count() const = 0;
};

struct VcpuShared {
    mmu::PhysicalMemory ram;
    const PrivilegedScan* scan = nullptr;
    const CpuStateLayout* layout = nullptr;
    const CpuidTable* cpuid = nullptr;
    devices::PortBus* ports = nullptr;
    EventSink* events = nullptr;
    const TableFrameFilter* table_filter = nullptr;  // null: page-table writes not observed
    InterruptRouter* router = nullptr;
    // With an interrupt held pending (IF=0), the engine stops at least this often to see
    // whether POPF or IRETQ has opened the window: bounds the delivery delay on one vCPU,
    // whose slice never ends.
    uint64_t interrupt_poll = 20000;
    std::vector<PhysRange> text;
    uint64_t max_insns = 0;  // 0: unlimited
    uint64_t seed = 0;
    TlbStats* tlb_stats = nullptr;  // --tlb-stats
    int maxphyaddr = 40;    // CPUID.80000008H:EAX[7:0], as advertised to the guest
    bool paranoid = false;  // cross-check Unicorn's #PFs with our walker; re-validate roots
    // Guest block coverage (fuzzing): each block executed bumps the counter its address
    // hashes to. Null: off. coverage_mask + 1 counters, a power of two.
    uint8_t* coverage = nullptr;
    size_t coverage_mask = 0;
    // Machine snapshots: told before asi-emu itself writes guest RAM in bulk (rep stos).
    DirtyPageTracker* ram_tracker = nullptr;
};

struct BootState {
    uint64_t rip, rsp, rdi, cr3;
};

class Vcpu {
public:
    Vcpu(uint32_t id, VcpuShared& shared);
    ~Vcpu();
    Vcpu(const Vcpu&) = delete;
    Vcpu& operator=(const Vcpu&) = delete;

    // Maps memory, installs hooks, loads the 64-bit boot state. Error text on failure.
    std::optional<std::string> init(const BootState& boot);
    // Runs until the vCPU's clock reaches slice_end (SliceEnd) or something the machine must
    // look at. Interrupts due are delivered first; a parked vCPU that nothing wakes returns
    // Halted at once.
    StopInfo run(uint64_t slice_end = UINT64_MAX);

    uint32_t id() const { return id_; }
    uint64_t icount() const { return icount_; }
    // The vCPU's clock: guest instructions executed plus time spent halted or given up by
    // PAUSE. The TSC and the APIC timer count it.
    uint64_t clock() const { return icount_ + idle_; }
    void advance_idle_to(uint64_t clock);
    bool halted() const { return halted_; }
    // A parked vCPU that would take an interrupt now (IF=1 and one deliverable).
    bool can_wake_now() const;
    // The clock at which a parked vCPU's own timer would wake it; UINT64_MAX if never.
    uint64_t self_wake_time() const;
    devices::LocalApic& apic() { return apic_; }
    void note_ipi_received() { ++stats_.ipis_received; }
    void note_ipi_sent(uint32_t dest, const devices::IpiRequest& ipi);
    // The event that starts a time slice (the schedule is part of the trace).
    void emit_slice(uint64_t slice_end) { emit(EventKind::Slice, reg(UC_X86_REG_RIP), {clock(), slice_end}); }
    const RunStats& stats() const { return stats_; }
    uint64_t reg(int uc_reg) const;
    bool interrupts_enabled() const;
    std::string register_dump() const;
    uc_engine* engine() const { return uc_; }
    // Stops the run from inside an event handler (the machine's event sinks run in hooks).
    void request_stop(StopKind kind, std::string detail) { stop(kind, std::move(detail)); }
    const FuzzRequest& fuzz_request() const { return fuzz_request_; }
    // The clock value at which the run stops with InsnLimit (UINT64_MAX: never).
    void set_insn_limit(uint64_t clock_limit) { insn_limit_ = clock_limit; }

    // Machine snapshots (vcpu_snapshot.cpp): everything of this vCPU except guest RAM, taken
    // and put back between runs (never from a hook).
    struct Snapshot;
    std::shared_ptr<const Snapshot> save() const;
    void restore(const Snapshot& s);
    // Registers, control and segment state, clocks, APIC, pending event, aliases, counters.
    uint64_t state_digest() const;

private:
    // Hook trampolines (Unicorn calls plain functions).
    static void on_block(uc_engine*, uint64_t address, uint32_t size, void* self);
    static void on_privileged(uc_engine*, uint64_t address, uint32_t size, void* self);
    static void on_user_code(uc_engine*, uint64_t address, uint32_t size, void* self);
    static void on_interrupt(uc_engine*, uint32_t intno, void* self);
    static bool on_invalid_insn(uc_engine*, void* self);
    static bool on_unmapped(uc_engine*, uc_mem_type type, uint64_t address, int size, int64_t value, void* self);
    static bool on_protection(uc_engine*, uc_mem_type type, uint64_t address, int size, int64_t value, void* self);
    static void on_syscall(uc_engine*, void* self);
    static int on_cpuid(uc_engine*, void* self);
    static void on_out(uc_engine*, uint32_t port, int size, uint32_t value, void* self);
    static uint32_t on_in(uc_engine*, uint32_t port, int size, void* self);
    static void on_data_access(uc_engine*, uc_mem_type type, uint64_t address, int size, int64_t value, void* self);
    void count_translation(uint64_t va, bool fetch, bool write);
    static void on_window_write(uc_engine*, uc_mem_type type, uint64_t address, int size, int64_t value, void* window);

    // Privileged-instruction emulation (privileged_emulation.cpp). Each returns true when it
    // carried the instruction out itself (RIP already moved), false to let Unicorn run it.
    bool emulate(const PrivilegedInsn& insn);
    bool emulate_mov_cr3(const PrivilegedInsn& insn);
    bool emulate_invpcid(const PrivilegedInsn& insn);
    bool emulate_rdmsr(const PrivilegedInsn& insn);
    bool emulate_wrmsr(const PrivilegedInsn& insn);
    void emulate_random(const PrivilegedInsn& insn);
    bool emulate_rep_stos(const PrivilegedInsn& insn);
    void note_cr_write(const PrivilegedInsn& insn);
    void note_invlpg(const PrivilegedInsn& insn);
    uint64_t effective_address(const PrivilegedInsn& insn) const;
    uint64_t read_operand(const PrivilegedInsn& insn) const;
    void skip(const PrivilegedInsn& insn);
    uint64_t tsc() const;

    void raise(GuestEvent ev);  // deliver now (from a hook), stopping on a triple fault
    void set_pending(GuestEvent ev);
    void emit(EventKind kind, uint64_t rip, std::initializer_list<uint64_t> args);
    void flush_unicorn_tlb();
    void watch_user_code(uint64_t page, uint64_t frame);
    // Cross-modifying code (SDM vol. 3A 8.1.3): code another vCPU (or another alias) wrote is
    // guaranteed to execute only after this vCPU executes a serializing instruction. Each
    // user code page remembers a hash of the frame it was translated from; at the start of a
    // slice and at CPUID or MOV to CR3 a changed frame drops its translated blocks.
    void revalidate_user_code();
    static uint64_t frame_hash(const uint8_t* p);
    uint32_t cpl() const;
    mmu::AccessContext access_context(bool user) const;
    std::optional<std::string> validate_root(uint64_t cr3);
    void paranoid_check_page_fault(const GuestEvent& ev);
    void stop(StopKind kind, std::string detail);
    // Stops at the next block boundary: for hooks that moved RIP (Unicorn drops a
    // uc_emu_stop made after a RIP write in a code hook and resumes at the new RIP).
    void defer_stop(StopKind kind);
    void arm_next_stop();
    void on_threshold(uint64_t address);
    // Local APIC (local_apic_glue.cpp).
    bool emulate_apic_rdmsr(const PrivilegedInsn& insn, uint32_t msr);
    bool emulate_apic_wrmsr(const PrivilegedInsn& insn, uint32_t msr, uint64_t value);
    bool emulate_hlt(const PrivilegedInsn& insn);
    bool emulate_sti(const PrivilegedInsn& insn);
    bool emulate_pause(const PrivilegedInsn& insn);
    void service_timer();
    // Delivers the highest deliverable interrupt if RFLAGS.IF (and, unless ignore_shadow, the
    // STI/MOV SS shadow) allows. True when one was delivered.
    bool deliver_interrupt(bool ignore_shadow);
    std::string describe_rip(uint64_t rip) const;

    uint32_t id_;
    VcpuShared& shared_;
    uc_engine* uc_ = nullptr;
    std::optional<MemoryWindows> windows_;
    std::vector<uc_hook> hooks_;
    RunStats stats_;
    uint64_t icount_ = 0;
    uint64_t idle_ = 0;
    uint64_t insn_limit_ = UINT64_MAX;  // on the clock
    uint64_t slice_end_ = UINT64_MAX;   // on the clock
    uint64_t next_stop_ = UINT64_MAX;   // on icount: the block hook looks no further
    std::optional<StopKind> deferred_stop_;
    uint64_t threshold_rip_ = 0;  // the block the block hook stopped in front of
    bool halted_ = false;
    uint64_t tsc_offset_ = 0;
    uint64_t shadow_efer_sce_ = 0;
    std::mt19937_64 rng_;
    devices::LocalApic apic_;
    std::optional<GuestEvent> pending_;
    std::optional<StopInfo> stop_;
    uint64_t out_rip_ = 0;  // the scanned OUT about to execute (0: not a scanned one)
    FuzzRequest fuzz_request_;
    std::set<uint64_t> validated_roots_;
    struct UserCodePage {
        uint64_t frame;
        uint64_t hash;
    };
    std::map<uint64_t, UserCodePage> user_code_pages_;  // by VA page: has a user-code hook

    struct WatchedWindow {
        Vcpu* vcpu;
        uint64_t va_base;
    };
    std::vector<WatchedWindow> watched_windows_;

    struct BlockCacheEntry {
        uint64_t address = UINT64_MAX;
        uint32_t size = 0;
        uint32_t count = 0;
        bool outside_text = false;
    };
    static constexpr size_t kBlockCacheSize = 8192;
    std::vector<BlockCacheEntry> block_cache_;
    void fill_block(BlockCacheEntry& e, uint64_t address, uint32_t size);
};

}  // namespace emu::backend
