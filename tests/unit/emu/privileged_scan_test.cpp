// PrivilegedScan: the load-time Capstone sweep that finds the instructions the backend
// hooks (DESIGN 4.6), block instruction counts (4.9) and the #SS/#GP choice (SDM 6.15).
#include <gtest/gtest.h>

#include <unicorn/unicorn.h>

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "emu/backend/privileged_scan.h"

namespace emu::backend {
namespace {

constexpr uint64_t kBase = 0xffffffff80200000ull;

// Code assembled by hand, remembering where each instruction starts.
struct Code {
    std::vector<uint8_t> bytes;
    uint64_t add(std::initializer_list<uint8_t> insn) {
        const uint64_t at = kBase + bytes.size();
        bytes.insert(bytes.end(), insn);
        return at;
    }
    CodeRange range() const { return {kBase, bytes}; }
};

class Scan : public ::testing::Test {
protected:
    PrivilegedScan scan;
};

TEST_F(Scan, FindsExactlyThePrivilegedInstructions) {
    Code c;
    c.add({0x48, 0x89, 0xd8});                          // mov rax, rbx
    const uint64_t cr3 = c.add({0x0f, 0x22, 0xd8});     // mov cr3, rax
    c.add({0x0f, 0x20, 0xd8});                          // mov rax, cr3   (a read: not hooked)
    c.add({0x90});                                      // nop
    const uint64_t cr4 = c.add({0x0f, 0x22, 0xe3});     // mov cr4, rbx
    c.add({0x48, 0x83, 0xc0, 0x01});                    // add rax, 1
    const uint64_t invlpg = c.add({0x0f, 0x01, 0x7f, 0x08});  // invlpg [rdi+8]
    c.add({0x48, 0x8b, 0x44, 0x24, 0x08});              // mov rax, [rsp+8]
    const uint64_t invpcid = c.add({0x66, 0x0f, 0x38, 0x82, 0x06});  // invpcid rax, [rsi]
    c.add({0x44, 0x0f, 0x22, 0xc0});                    // mov cr8, rax   (not hooked)
    const uint64_t rdtsc = c.add({0x0f, 0x31});         // rdtsc
    c.add({0x0f, 0xa2});                                // cpuid          (hooked elsewhere)
    const uint64_t rdrand = c.add({0x48, 0x0f, 0xc7, 0xf1});  // rdrand rcx
    c.add({0x55});                                      // push rbp
    const uint64_t wrmsr = c.add({0x0f, 0x30});         // wrmsr
    c.add({0x0f, 0x01, 0xf8});                          // swapgs
    const uint64_t rdmsr = c.add({0x0f, 0x32});         // rdmsr
    c.add({0x48, 0x8d, 0x05, 0x00, 0x00, 0x00, 0x00});  // lea rax, [rip]
    const uint64_t hlt = c.add({0xf4});                 // hlt
    c.add({0xc3});                                      // ret

    EXPECT_EQ(scan.scan(c.range()), 0u) << "nothing undecodable";
    const auto& found = scan.instructions();
    ASSERT_EQ(found.size(), 9u);

    struct Want {
        uint64_t address;
        PrivilegedKind kind;
        uint8_t size;
    };
    const Want want[] = {
        {cr3, PrivilegedKind::MovToCr3, 3}, {cr4, PrivilegedKind::MovToCr4, 3},
        {invlpg, PrivilegedKind::Invlpg, 4}, {invpcid, PrivilegedKind::Invpcid, 5},
        {rdtsc, PrivilegedKind::Rdtsc, 2},   {rdrand, PrivilegedKind::Rdrand, 4},
        {wrmsr, PrivilegedKind::Wrmsr, 2},   {rdmsr, PrivilegedKind::Rdmsr, 2},
        {hlt, PrivilegedKind::Hlt, 1},
    };
    for (size_t i = 0; i < 9; ++i) {
        EXPECT_EQ(found[i].address, want[i].address) << i;
        EXPECT_EQ(found[i].kind, want[i].kind) << i << " " << privileged_kind_name(found[i].kind);
        EXPECT_EQ(found[i].size, want[i].size) << i;
        const PrivilegedInsn* f = scan.find(want[i].address);
        ASSERT_NE(f, nullptr) << i;
        EXPECT_EQ(f->kind, want[i].kind) << i;
    }

    // Operands.
    EXPECT_EQ(scan.find(cr3)->reg, UC_X86_REG_RAX);
    EXPECT_EQ(scan.find(cr3)->reg_bytes, 8);
    EXPECT_EQ(scan.find(cr4)->reg, UC_X86_REG_RBX);
    const PrivilegedInsn* inv = scan.find(invlpg);
    EXPECT_EQ(inv->reg, 0);
    EXPECT_EQ(inv->mem.base, UC_X86_REG_RDI);
    EXPECT_EQ(inv->mem.index, 0);
    EXPECT_EQ(inv->mem.segment, 0);
    EXPECT_EQ(inv->mem.disp, 8);
    const PrivilegedInsn* pcid = scan.find(invpcid);
    EXPECT_EQ(pcid->reg, UC_X86_REG_RAX);
    EXPECT_EQ(pcid->mem.base, UC_X86_REG_RSI);
    EXPECT_EQ(pcid->mem.index, 0);
    EXPECT_EQ(pcid->mem.disp, 0);
    EXPECT_EQ(scan.find(rdrand)->reg, UC_X86_REG_RCX);
    EXPECT_EQ(scan.find(rdrand)->reg_bytes, 8);
    EXPECT_EQ(scan.find(rdtsc)->reg, 0);
    EXPECT_EQ(scan.find(wrmsr)->reg, 0);
    EXPECT_EQ(scan.find(hlt)->reg, 0);

    // Addresses that are not privileged instructions, or not instruction starts.
    EXPECT_EQ(scan.find(kBase), nullptr);
    EXPECT_EQ(scan.find(cr3 + 1), nullptr);
    EXPECT_EQ(scan.find(cr3 + 3), nullptr) << "mov rax, cr3";
}

TEST_F(Scan, RemainingKindsAndOperandForms) {
    Code c;
    const uint64_t cr0 = c.add({0x0f, 0x22, 0xc0});                    // mov cr0, rax
    const uint64_t cr3_r12 = c.add({0x41, 0x0f, 0x22, 0xdc});          // mov cr3, r12
    const uint64_t rdtscp = c.add({0x0f, 0x01, 0xf9});                 // rdtscp
    const uint64_t rdseed = c.add({0x48, 0x0f, 0xc7, 0xfa});           // rdseed rdx
    const uint64_t rdrand32 = c.add({0x0f, 0xc7, 0xf1});               // rdrand ecx
    const uint64_t rdrand16 = c.add({0x66, 0x41, 0x0f, 0xc7, 0xf0});   // rdrand r8w
    const uint64_t invlpg_sib = c.add({0x0f, 0x01, 0x7c, 0x8b, 0xf0}); // invlpg [rbx+rcx*4-0x10]
    const uint64_t invlpg_rip = c.add({0x0f, 0x01, 0x3d, 0x10, 0x00, 0x00, 0x00});  // invlpg [rip+0x10]
    const uint64_t invlpg_gs = c.add({0x65, 0x0f, 0x01, 0x38});        // invlpg gs:[rax]
    const uint64_t invpcid_r = c.add({0x66, 0x44, 0x0f, 0x38, 0x82, 0x4c, 0x24, 0x10});  // invpcid r9, [rsp+0x10]
    scan.scan(c.range());
    ASSERT_EQ(scan.instructions().size(), 10u);

    EXPECT_EQ(scan.find(cr0)->kind, PrivilegedKind::MovToCr0);
    EXPECT_EQ(scan.find(cr0)->reg, UC_X86_REG_RAX);
    EXPECT_EQ(scan.find(cr3_r12)->kind, PrivilegedKind::MovToCr3);
    EXPECT_EQ(scan.find(cr3_r12)->reg, UC_X86_REG_R12);
    EXPECT_EQ(scan.find(rdtscp)->kind, PrivilegedKind::Rdtscp);
    EXPECT_EQ(scan.find(rdseed)->kind, PrivilegedKind::Rdseed);
    EXPECT_EQ(scan.find(rdseed)->reg, UC_X86_REG_RDX);
    EXPECT_EQ(scan.find(rdrand32)->reg, UC_X86_REG_ECX);
    EXPECT_EQ(scan.find(rdrand32)->reg_bytes, 4);
    EXPECT_EQ(scan.find(rdrand16)->reg, UC_X86_REG_R8W);
    EXPECT_EQ(scan.find(rdrand16)->reg_bytes, 2);

    const MemoryOperand& sib = scan.find(invlpg_sib)->mem;
    EXPECT_EQ(sib.base, UC_X86_REG_RBX);
    EXPECT_EQ(sib.index, UC_X86_REG_RCX);
    EXPECT_EQ(sib.scale, 4);
    EXPECT_EQ(sib.disp, -0x10);
    const MemoryOperand& rip = scan.find(invlpg_rip)->mem;
    EXPECT_EQ(rip.base, UC_X86_REG_RIP);
    EXPECT_EQ(rip.disp, 0x10);
    const MemoryOperand& gs = scan.find(invlpg_gs)->mem;
    EXPECT_EQ(gs.segment, UC_X86_REG_GS_BASE);
    EXPECT_EQ(gs.base, UC_X86_REG_RAX);
    const PrivilegedInsn* p = scan.find(invpcid_r);
    EXPECT_EQ(p->reg, UC_X86_REG_R9);
    EXPECT_EQ(p->mem.base, UC_X86_REG_RSP);
    EXPECT_EQ(p->mem.disp, 0x10);
}

TEST_F(Scan, OrdinaryCodeFindsNothing) {
    Code c;
    c.add({0x48, 0x89, 0xd8});        // mov rax, rbx
    c.add({0x0f, 0x20, 0xe0});        // mov rax, cr4
    c.add({0x0f, 0x20, 0xc0});        // mov rax, cr0
    c.add({0x0f, 0x01, 0xf8});        // swapgs
    c.add({0x0f, 0x0b});              // ud2
    c.add({0xcd, 0x80});              // int 0x80
    c.add({0x48, 0xcf});              // iretq
    EXPECT_EQ(scan.scan(c.range()), 0u);
    EXPECT_TRUE(scan.instructions().empty());
}

TEST_F(Scan, ResynchronisesAfterUndecodableBytes) {
    Code c;
    c.add({0x06});                                  // push es: invalid in 64-bit mode
    const uint64_t cr3 = c.add({0x0f, 0x22, 0xd8});  // mov cr3, rax
    c.add({0x0f, 0x0b});                            // ud2
    const uint64_t hlt = c.add({0xf4});
    EXPECT_EQ(scan.scan(c.range()), 1u);
    ASSERT_EQ(scan.instructions().size(), 2u);
    EXPECT_EQ(scan.instructions()[0].address, cr3);
    EXPECT_EQ(scan.instructions()[1].address, hlt);
}

TEST_F(Scan, SeveralRangesAccumulate) {
    const uint8_t a[] = {0x0f, 0x30};  // wrmsr
    const uint8_t b[] = {0x90, 0x0f, 0x32};  // nop; rdmsr
    scan.scan({0x1000, a});
    scan.scan({0x5000, b});
    ASSERT_EQ(scan.instructions().size(), 2u);
    EXPECT_EQ(scan.find(0x1000)->kind, PrivilegedKind::Wrmsr);
    EXPECT_EQ(scan.find(0x5001)->kind, PrivilegedKind::Rdmsr);
}

TEST_F(Scan, DecodeOneAndDisassemble) {
    const uint8_t cr3[] = {0x0f, 0x22, 0xd8, 0x90};
    auto p = scan.decode_one(cr3, sizeof cr3, 0x4000);
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->kind, PrivilegedKind::MovToCr3);
    EXPECT_EQ(p->address, 0x4000u);
    EXPECT_EQ(p->size, 3);
    EXPECT_EQ(scan.disassemble(cr3, sizeof cr3, 0x4000), "mov cr3, rax");
    const uint8_t nop[] = {0x90};
    EXPECT_FALSE(scan.decode_one(nop, 1, 0).has_value());
    EXPECT_FALSE(scan.decode_one(cr3, 2, 0).has_value()) << "truncated";
    EXPECT_TRUE(scan.instructions().empty()) << "decode_one does not record";
}

TEST_F(Scan, CountInstructions) {
    Code c;
    c.add({0x48, 0x89, 0xd8});              // mov rax, rbx
    c.add({0x48, 0x83, 0xc0, 0x01});        // add rax, 1
    c.add({0x90});                          // nop
    c.add({0x48, 0x8b, 0x44, 0x24, 0x08});  // mov rax, [rsp+8]
    c.add({0x75, 0xf0});                    // jne
    EXPECT_EQ(scan.count_instructions(c.bytes.data(), c.bytes.size(), kBase), 5u);
    EXPECT_EQ(scan.count_instructions(c.bytes.data(), 3, kBase), 1u);
    EXPECT_EQ(scan.count_instructions(c.bytes.data(), 7, kBase), 2u);
    EXPECT_EQ(scan.count_instructions(c.bytes.data(), 6, kBase), 1u) << "a cut instruction is not counted";
}

TEST_F(Scan, StackAccess) {
    struct Case {
        std::vector<uint8_t> bytes;
        bool stack;
        const char* what;
    };
    const Case cases[] = {
        {{0x48, 0x8b, 0x44, 0x24, 0x08}, true, "mov rax, [rsp+8]"},
        {{0x48, 0x8b, 0x4d, 0xf8}, true, "mov rcx, [rbp-8]"},
        {{0x48, 0x89, 0x04, 0x24}, true, "mov [rsp], rax"},
        {{0x55}, true, "push rbp"},
        {{0x5d}, true, "pop rbp"},
        {{0xc3}, true, "ret"},
        {{0xe8, 0, 0, 0, 0}, true, "call"},
        {{0x9c}, true, "pushfq"},
        {{0xc9}, true, "leave"},
        {{0x48, 0x8b, 0x03}, false, "mov rax, [rbx]"},
        {{0x48, 0x89, 0x04, 0x25, 0, 0x10, 0, 0}, false, "mov [0x1000], rax"},
        {{0x48, 0x8b, 0x04, 0x2b}, false, "mov rax, [rbx+rbp]: rbp is the index"},
        {{0x48, 0x89, 0xd8}, false, "mov rax, rbx"},
        {{0x90}, false, "nop"},
    };
    for (const Case& k : cases)
        EXPECT_EQ(scan.is_stack_access(k.bytes.data(), k.bytes.size(), 0x1000), k.stack) << k.what;
}

TEST(CapstoneToUnicorn, RegistersAndWidths) {
    int bytes = 0;
    EXPECT_EQ(capstone_to_unicorn_reg(X86_REG_R15, &bytes), UC_X86_REG_R15);
    EXPECT_EQ(bytes, 8);
    EXPECT_EQ(capstone_to_unicorn_reg(X86_REG_EDI, &bytes), UC_X86_REG_EDI);
    EXPECT_EQ(bytes, 4);
    EXPECT_EQ(capstone_to_unicorn_reg(X86_REG_SI, &bytes), UC_X86_REG_SI);
    EXPECT_EQ(bytes, 2);
    EXPECT_EQ(capstone_to_unicorn_reg(X86_REG_FS), UC_X86_REG_FS_BASE);
    EXPECT_EQ(capstone_to_unicorn_reg(X86_REG_CR3), 0);
    EXPECT_EQ(capstone_to_unicorn_reg(X86_REG_XMM0), 0);
}

}  // namespace
}  // namespace emu::backend
