#include "emu/backend/privileged_scan.h"

#include <unicorn/unicorn.h>

#include <optional>
#include <stdexcept>

namespace emu::backend {

const char* privileged_kind_name(PrivilegedKind k) {
    switch (k) {
        case PrivilegedKind::MovToCr0: return "mov-cr0";
        case PrivilegedKind::MovToCr3: return "mov-cr3";
        case PrivilegedKind::MovToCr4: return "mov-cr4";
        case PrivilegedKind::Invlpg: return "invlpg";
        case PrivilegedKind::Invpcid: return "invpcid";
        case PrivilegedKind::Wrmsr: return "wrmsr";
        case PrivilegedKind::Rdmsr: return "rdmsr";
        case PrivilegedKind::Rdtsc: return "rdtsc";
        case PrivilegedKind::Rdtscp: return "rdtscp";
        case PrivilegedKind::Rdrand: return "rdrand";
        case PrivilegedKind::Rdseed: return "rdseed";
        case PrivilegedKind::Hlt: return "hlt";
        case PrivilegedKind::PortOut: return "out";
        case PrivilegedKind::RepStos: return "rep-stos";
        case PrivilegedKind::Pause: return "pause";
        case PrivilegedKind::Sti: return "sti";
    }
    return "?";
}

int capstone_to_unicorn_reg(unsigned r, int* bytes) {
    struct Entry { unsigned cs; int uc; int bytes; };
    static const Entry table[] = {
        {X86_REG_RAX, UC_X86_REG_RAX, 8}, {X86_REG_RBX, UC_X86_REG_RBX, 8},
        {X86_REG_RCX, UC_X86_REG_RCX, 8}, {X86_REG_RDX, UC_X86_REG_RDX, 8},
        {X86_REG_RSI, UC_X86_REG_RSI, 8}, {X86_REG_RDI, UC_X86_REG_RDI, 8},
        {X86_REG_RBP, UC_X86_REG_RBP, 8}, {X86_REG_RSP, UC_X86_REG_RSP, 8},
        {X86_REG_R8, UC_X86_REG_R8, 8},   {X86_REG_R9, UC_X86_REG_R9, 8},
        {X86_REG_R10, UC_X86_REG_R10, 8}, {X86_REG_R11, UC_X86_REG_R11, 8},
        {X86_REG_R12, UC_X86_REG_R12, 8}, {X86_REG_R13, UC_X86_REG_R13, 8},
        {X86_REG_R14, UC_X86_REG_R14, 8}, {X86_REG_R15, UC_X86_REG_R15, 8},
        {X86_REG_RIP, UC_X86_REG_RIP, 8},
        {X86_REG_EAX, UC_X86_REG_EAX, 4}, {X86_REG_EBX, UC_X86_REG_EBX, 4},
        {X86_REG_ECX, UC_X86_REG_ECX, 4}, {X86_REG_EDX, UC_X86_REG_EDX, 4},
        {X86_REG_ESI, UC_X86_REG_ESI, 4}, {X86_REG_EDI, UC_X86_REG_EDI, 4},
        {X86_REG_EBP, UC_X86_REG_EBP, 4}, {X86_REG_ESP, UC_X86_REG_ESP, 4},
        {X86_REG_R8D, UC_X86_REG_R8D, 4}, {X86_REG_R9D, UC_X86_REG_R9D, 4},
        {X86_REG_R10D, UC_X86_REG_R10D, 4}, {X86_REG_R11D, UC_X86_REG_R11D, 4},
        {X86_REG_R12D, UC_X86_REG_R12D, 4}, {X86_REG_R13D, UC_X86_REG_R13D, 4},
        {X86_REG_R14D, UC_X86_REG_R14D, 4}, {X86_REG_R15D, UC_X86_REG_R15D, 4},
        {X86_REG_AX, UC_X86_REG_AX, 2}, {X86_REG_BX, UC_X86_REG_BX, 2},
        {X86_REG_CX, UC_X86_REG_CX, 2}, {X86_REG_DX, UC_X86_REG_DX, 2},
        {X86_REG_SI, UC_X86_REG_SI, 2}, {X86_REG_DI, UC_X86_REG_DI, 2},
        {X86_REG_BP, UC_X86_REG_BP, 2}, {X86_REG_R8W, UC_X86_REG_R8W, 2},
        {X86_REG_R9W, UC_X86_REG_R9W, 2}, {X86_REG_R10W, UC_X86_REG_R10W, 2},
        {X86_REG_R11W, UC_X86_REG_R11W, 2}, {X86_REG_R12W, UC_X86_REG_R12W, 2},
        {X86_REG_R13W, UC_X86_REG_R13W, 2}, {X86_REG_R14W, UC_X86_REG_R14W, 2},
        {X86_REG_R15W, UC_X86_REG_R15W, 2},
        {X86_REG_FS, UC_X86_REG_FS_BASE, 8}, {X86_REG_GS, UC_X86_REG_GS_BASE, 8},
    };
    for (const Entry& e : table)
        if (e.cs == r) {
            if (bytes) *bytes = e.bytes;
            return e.uc;
        }
    return 0;
}

PrivilegedScan::PrivilegedScan() {
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle_) != CS_ERR_OK)
        throw std::runtime_error("capstone: cs_open failed");
    cs_option(handle_, CS_OPT_DETAIL, CS_OPT_ON);
}

PrivilegedScan::~PrivilegedScan() { cs_close(&handle_); }

size_t PrivilegedScan::scan(const CodeRange& range) {
    cs_insn* insn = cs_malloc(handle_);
    const uint8_t* code = range.bytes.data();
    size_t size = range.bytes.size();
    uint64_t address = range.va_begin;
    size_t skipped = 0;
    while (size > 0) {
        if (!cs_disasm_iter(handle_, &code, &size, &address, insn)) {
            ++code;  // undecodable byte (padding): resynchronise one byte later
            --size;
            ++address;
            ++skipped;
            continue;
        }
        std::optional<PrivilegedInsn> p = classify(insn);
        if (!p) continue;
        by_address_[p->address] = found_.size();
        found_.push_back(*p);
    }
    cs_free(insn, 1);
    return skipped;
}

std::optional<PrivilegedInsn> PrivilegedScan::classify(const cs_insn* insn) const {
    std::optional<PrivilegedKind> kind;
    const cs_x86& x = insn->detail->x86;
    switch (insn->id) {
        case X86_INS_MOV:
            if (x.op_count == 2 && x.operands[0].type == X86_OP_REG) {
                switch (x.operands[0].reg) {
                    case X86_REG_CR0: kind = PrivilegedKind::MovToCr0; break;
                    case X86_REG_CR3: kind = PrivilegedKind::MovToCr3; break;
                    case X86_REG_CR4: kind = PrivilegedKind::MovToCr4; break;
                    default: break;
                }
            }
            break;
        case X86_INS_INVLPG: kind = PrivilegedKind::Invlpg; break;
        case X86_INS_INVPCID: kind = PrivilegedKind::Invpcid; break;
        case X86_INS_WRMSR: kind = PrivilegedKind::Wrmsr; break;
        case X86_INS_RDMSR: kind = PrivilegedKind::Rdmsr; break;
        case X86_INS_RDTSC: kind = PrivilegedKind::Rdtsc; break;
        case X86_INS_RDTSCP: kind = PrivilegedKind::Rdtscp; break;
        case X86_INS_RDRAND: kind = PrivilegedKind::Rdrand; break;
        case X86_INS_RDSEED: kind = PrivilegedKind::Rdseed; break;
        case X86_INS_HLT: kind = PrivilegedKind::Hlt; break;
        case X86_INS_OUT: kind = PrivilegedKind::PortOut; break;
        case X86_INS_PAUSE: kind = PrivilegedKind::Pause; break;
        case X86_INS_STI: kind = PrivilegedKind::Sti; break;
        case X86_INS_STOSB:
        case X86_INS_STOSW:
        case X86_INS_STOSD:
        case X86_INS_STOSQ:
            // Only REP with 64-bit addressing and no segment override: anything else is
            // left to Unicorn.
            if (x.prefix[0] == X86_PREFIX_REP && x.prefix[1] == 0 && x.prefix[3] == 0)
                kind = PrivilegedKind::RepStos;
            break;
        default: break;
    }
    if (!kind) return std::nullopt;
    PrivilegedInsn p;
    p.address = insn->address;
    p.size = insn->size;
    p.kind = *kind;
    if (*kind == PrivilegedKind::RepStos) {
        p.reg_bytes = insn->id == X86_INS_STOSB ? 1 : insn->id == X86_INS_STOSW ? 2 : insn->id == X86_INS_STOSD ? 4 : 8;
        return p;
    }
    for (int i = 0; i < x.op_count; ++i) {
        const cs_x86_op& op = x.operands[i];
        if (op.type == X86_OP_REG && !(i == 0 && (*kind == PrivilegedKind::MovToCr0 ||
                                                  *kind == PrivilegedKind::MovToCr3 ||
                                                  *kind == PrivilegedKind::MovToCr4)))
            p.reg = capstone_to_unicorn_reg(op.reg, &p.reg_bytes);
        if (op.type == X86_OP_MEM) {
            p.mem.segment = op.mem.segment == X86_REG_INVALID ? 0 : capstone_to_unicorn_reg(op.mem.segment);
            p.mem.base = op.mem.base == X86_REG_INVALID ? 0 : capstone_to_unicorn_reg(op.mem.base);
            p.mem.index = op.mem.index == X86_REG_INVALID ? 0 : capstone_to_unicorn_reg(op.mem.index);
            p.mem.scale = op.mem.scale;
            p.mem.disp = op.mem.disp;
        }
    }
    return p;
}

std::optional<PrivilegedInsn> PrivilegedScan::decode_one(const uint8_t* bytes, size_t size, uint64_t va) const {
    cs_insn* insn = cs_malloc(handle_);
    std::optional<PrivilegedInsn> p;
    if (cs_disasm_iter(handle_, &bytes, &size, &va, insn)) p = classify(insn);
    cs_free(insn, 1);
    return p;
}

const PrivilegedInsn* PrivilegedScan::find(uint64_t address) const {
    auto it = by_address_.find(address);
    return it == by_address_.end() ? nullptr : &found_[it->second];
}

uint32_t PrivilegedScan::count_instructions(const uint8_t* bytes, size_t size, uint64_t va) const {
    cs_insn* insn = cs_malloc(handle_);
    uint32_t n = 0;
    while (size > 0 && cs_disasm_iter(handle_, &bytes, &size, &va, insn)) ++n;
    cs_free(insn, 1);
    return n == 0 ? 1 : n;
}

std::string PrivilegedScan::disassemble(const uint8_t* bytes, size_t size, uint64_t va) const {
    cs_insn* insn = cs_malloc(handle_);
    std::string out = "(undecodable)";
    if (cs_disasm_iter(handle_, &bytes, &size, &va, insn))
        out = std::string(insn->mnemonic) + (insn->op_str[0] ? " " : "") + insn->op_str;
    cs_free(insn, 1);
    return out;
}

bool PrivilegedScan::is_stack_access(const uint8_t* bytes, size_t size, uint64_t va) const {
    cs_insn* insn = cs_malloc(handle_);
    bool stack = false;
    if (cs_disasm_iter(handle_, &bytes, &size, &va, insn)) {
        const cs_x86& x = insn->detail->x86;
        for (int i = 0; i < x.op_count; ++i)
            if (x.operands[i].type == X86_OP_MEM &&
                (x.operands[i].mem.base == X86_REG_RSP || x.operands[i].mem.base == X86_REG_RBP))
                stack = true;
        switch (insn->id) {
            case X86_INS_PUSH: case X86_INS_POP: case X86_INS_CALL: case X86_INS_RET:
            case X86_INS_ENTER: case X86_INS_LEAVE: case X86_INS_PUSHFQ: case X86_INS_POPFQ:
                stack = true;
                break;
            default: break;
        }
    }
    cs_free(insn, 1);
    return stack;
}

}  // namespace emu::backend
