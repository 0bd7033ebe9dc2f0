// One virtual CPU: a Unicorn engine on the shared guest RAM plus everything Unicorn 2.0.1
// does not do for a full-system x86-64 machine (DESIGN 4): exception delivery through the
// IDT, the privileged instructions found by the load-time scan, SYSCALL, CPUID, the data
// path through memory windows, instruction counting per translated block, and the
// classification of every stop.
#pragma once
#include <unicorn/unicorn.h>

#include <array>
#include <cstdint>
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
#include "emu/devices/port_bus.h"
#include "emu/events.h"
#include "emu/run_stats.h"
#include "mmu/physical_memory.h"

namespace emu {
class TlbStats;
}

namespace emu::backend {

enum class StopKind {
    GuestExit,        // isa-debug-exit written
    Halted,           // HLT executed (the machine decides whether anything can wake it)
    InsnLimit,        // --max-insns reached
    TripleFault,
    ForbiddenAccess,  // a guest access the backend must refuse (text write, unscanned code, ...)
    OracleViolation,  // --stop-on-violation and the oracle reported one
    BackendError,     // Unicorn reported something we could not classify
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

struct VcpuShared {
    mmu::PhysicalMemory ram;
    const PrivilegedScan* scan = nullptr;
    const CpuStateLayout* layout = nullptr;
    const CpuidTable* cpuid = nullptr;
    devices::PortBus* ports = nullptr;
    EventSink* events = nullptr;
    const TableFrameFilter* table_filter = nullptr;  // null: page-table writes not observed
    std::vector<PhysRange> text;
    uint64_t max_insns = 0;  // 0: unlimited
    uint64_t seed = 0;
    TlbStats* tlb_stats = nullptr;  // --tlb-stats
    int maxphyaddr = 40;    // CPUID.80000008H:EAX[7:0], as advertised to the guest
    bool paranoid = false;  // cross-check Unicorn's #PFs with our walker; re-validate roots
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
    // Runs until something the machine must look at.
    StopInfo run();

    uint32_t id() const { return id_; }
    uint64_t icount() const { return icount_; }
    const RunStats& stats() const { return stats_; }
    uint64_t reg(int uc_reg) const;
    bool interrupts_enabled() const;
    std::string register_dump() const;
    uc_engine* engine() const { return uc_; }
    // Stops the run from inside an event handler (the machine's event sinks run in hooks).
    void request_stop(StopKind kind, std::string detail) { stop(kind, std::move(detail)); }

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
    void watch_user_code(uint64_t page);
    uint32_t cpl() const;
    mmu::AccessContext access_context(bool user) const;
    std::optional<std::string> validate_root(uint64_t cr3);
    void paranoid_check_page_fault(const GuestEvent& ev);
    void stop(StopKind kind, std::string detail);
    std::string describe_rip(uint64_t rip) const;

    uint32_t id_;
    VcpuShared& shared_;
    uc_engine* uc_ = nullptr;
    std::optional<MemoryWindows> windows_;
    std::vector<uc_hook> hooks_;
    RunStats stats_;
    uint64_t icount_ = 0;
    uint64_t insn_limit_ = UINT64_MAX;
    uint64_t tsc_offset_ = 0;
    uint64_t shadow_efer_sce_ = 0;
    std::mt19937_64 rng_;
    std::optional<GuestEvent> pending_;
    std::optional<StopInfo> stop_;
    uint64_t halt_at_ = UINT64_MAX;
    uint64_t out_rip_ = 0;  // the scanned OUT about to execute (0: not a scanned one)
    std::set<uint64_t> validated_roots_;
    std::set<uint64_t> user_code_pages_;  // pages with a per-instruction user-code hook
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
