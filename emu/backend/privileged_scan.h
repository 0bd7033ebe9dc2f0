// Load-time scan of the guest's executable segments with Capstone (DESIGN 4.6). Each
// instruction Unicorn 2.0.1 gets wrong or would make host-dependent gets a code hook on
// exactly its address: mov to CR0/CR3/CR4, INVLPG, INVPCID, WRMSR, RDMSR, RDTSC, RDTSCP,
// RDRAND, RDSEED, HLT (so that a halt is told apart from any other stop), and OUT (Unicorn's
// OUT hook does not see an up-to-date RIP).
// Also gives the instruction count of a translated block (DESIGN 4.9).
#pragma once
#include <capstone/capstone.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace emu::backend {

enum class PrivilegedKind : uint8_t {
    MovToCr0, MovToCr3, MovToCr4, Invlpg, Invpcid, Wrmsr, Rdmsr, Rdtsc, Rdtscp, Rdrand, Rdseed, Hlt,
    PortOut,  // not emulated: hooked so that port writes (tracepoints) carry their exact RIP
    RepStos,  // carried out on the host buffer (DESIGN 4.11): guest stores are slow in 2.0.1
    Pause,    // ends the time slice when other vCPUs could run (pause-loop exiting)
    Sti,      // opens the interrupt window: a pending interrupt is delivered after it
};
const char* privileged_kind_name(PrivilegedKind k);

// A memory operand: segment base (FS/GS only in 64-bit mode) + base + index * scale + disp.
struct MemoryOperand {
    int segment = 0;  // Unicorn register id or 0
    int base = 0;     // Unicorn register id or 0 (RIP-relative: UC_X86_REG_RIP)
    int index = 0;
    int scale = 1;
    int64_t disp = 0;
};

struct PrivilegedInsn {
    uint64_t address = 0;
    uint8_t size = 0;
    PrivilegedKind kind{};
    int reg = 0;       // Unicorn id of the register operand (source of mov crN, type of invpcid,
                       // destination of rdrand/rdseed), 0 when none
    int reg_bytes = 8; // width of that register (RepStos: the element size)
    MemoryOperand mem; // invlpg's address, invpcid's descriptor
};

struct CodeRange {
    uint64_t va_begin;
    std::span<const uint8_t> bytes;
};

// Maps a Capstone x86 register to Unicorn's id (and its width in bytes); 0 if unsupported.
int capstone_to_unicorn_reg(unsigned cs_reg, int* bytes = nullptr);

class PrivilegedScan {
public:
    PrivilegedScan();
    ~PrivilegedScan();
    PrivilegedScan(const PrivilegedScan&) = delete;
    PrivilegedScan& operator=(const PrivilegedScan&) = delete;

    // Linear sweep over one executable range. Returns the number of undecodable bytes
    // skipped (padding), which callers may report.
    size_t scan(const CodeRange& range);

    const std::vector<PrivilegedInsn>& instructions() const { return found_; }
    const PrivilegedInsn* find(uint64_t address) const;
    // Decodes the one instruction at va; the result when it is one of the kinds above.
    std::optional<PrivilegedInsn> decode_one(const uint8_t* bytes, size_t size, uint64_t va) const;
    // Number of instructions in [bytes, bytes + size) decoded from `va`.
    uint32_t count_instructions(const uint8_t* bytes, size_t size, uint64_t va) const;
    // One-line disassembly of the instruction at va ("mov cr3, rax").
    std::string disassemble(const uint8_t* bytes, size_t size, uint64_t va) const;
    // True when the instruction's memory operand is addressed through RSP or RBP (a fault
    // on it is #SS rather than #GP, SDM 6.15 interrupt 12) or it is an implicit stack access.
    bool is_stack_access(const uint8_t* bytes, size_t size, uint64_t va) const;

private:
    std::optional<PrivilegedInsn> classify(const cs_insn* insn) const;
    csh handle_ = 0;
    std::vector<PrivilegedInsn> found_;
    std::unordered_map<uint64_t, size_t> by_address_;
};

}  // namespace emu::backend
