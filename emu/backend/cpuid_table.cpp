#include "emu/backend/cpuid_table.h"

#include <unicorn/unicorn.h>

#include <vector>

namespace emu::backend {
namespace {

constexpr uint32_t kLeaf1EcxPcid = 1u << 17;        // CPUID.01H:ECX.PCID
constexpr uint32_t kLeaf1EcxX2apic = 1u << 21;
constexpr uint32_t kLeaf1EcxHypervisor = 1u << 31;
constexpr uint32_t kLeaf7EbxInvpcid = 1u << 10;     // CPUID.(EAX=07H,ECX=0):EBX.INVPCID
constexpr uint32_t kLeaf7EbxSmep = 1u << 7;
constexpr uint32_t kLeaf7EbxSmap = 1u << 20;
constexpr uint32_t kExt1EdxSyscall = 1u << 11;      // CPUID.80000001H:EDX.SYSCALL
constexpr uint32_t kExt1EdxNx = 1u << 20;           // CPUID.80000001H:EDX.XD
constexpr uint32_t kExt1EdxPage1G = 1u << 26;
constexpr uint32_t kExt1EdxRdtscp = 1u << 27;

CpuidResult native_cpuid(uc_engine* uc, std::vector<uint8_t>& ram, uint32_t leaf, uint32_t sub) {
    const uint8_t code[] = {0x0f, 0xa2};  // cpuid
    std::copy(std::begin(code), std::end(code), ram.begin());
    uint64_t a = leaf, c = sub;
    uc_reg_write(uc, UC_X86_REG_RAX, &a);
    uc_reg_write(uc, UC_X86_REG_RCX, &c);
    uc_emu_start(uc, 0, sizeof code, 0, 1);
    uint64_t r[4];
    uc_reg_read(uc, UC_X86_REG_RAX, &r[0]);
    uc_reg_read(uc, UC_X86_REG_RBX, &r[1]);
    uc_reg_read(uc, UC_X86_REG_RCX, &r[2]);
    uc_reg_read(uc, UC_X86_REG_RDX, &r[3]);
    return {static_cast<uint32_t>(r[0]), static_cast<uint32_t>(r[1]), static_cast<uint32_t>(r[2]),
            static_cast<uint32_t>(r[3])};
}

}  // namespace

CpuidTable CpuidTable::probe() {
    CpuidTable t;
    uc_engine* uc = nullptr;
    uc_open(UC_ARCH_X86, UC_MODE_64, &uc);
    std::vector<uint8_t> ram(4096, 0);
    uc_mem_map_ptr(uc, 0, ram.size(), UC_PROT_ALL, ram.data());
    const CpuidResult l0 = native_cpuid(uc, ram, 0, 0);
    t.max_basic_ = std::max<uint32_t>(l0.eax, 7);
    for (uint32_t leaf = 0; leaf <= t.max_basic_; ++leaf)
        t.leaves_[{leaf, 0}] = native_cpuid(uc, ram, leaf, 0);
    const CpuidResult e0 = native_cpuid(uc, ram, 0x80000000u, 0);
    t.max_extended_ = std::max<uint32_t>(e0.eax, 0x80000008u);
    for (uint32_t leaf = 0x80000000u; leaf <= t.max_extended_; ++leaf)
        t.leaves_[{leaf, 0}] = native_cpuid(uc, ram, leaf, 0);
    uc_close(uc);
    t.leaves_[{0, 0}].eax = t.max_basic_;
    t.leaves_[{0x80000000u, 0}].eax = t.max_extended_;
    CpuidResult& l1 = t.leaves_[{1, 0}];
    l1.ecx = (l1.ecx | kLeaf1EcxPcid | kLeaf1EcxX2apic) & ~kLeaf1EcxHypervisor;  // x2APIC: emu/devices/local_apic.h
    CpuidResult& l7 = t.leaves_[{7, 0}];
    l7.ebx = (l7.ebx | kLeaf7EbxInvpcid) & ~(kLeaf7EbxSmep | kLeaf7EbxSmap);
    CpuidResult& e1 = t.leaves_[{0x80000001u, 0}];
    e1.edx = (e1.edx | kExt1EdxSyscall | kExt1EdxRdtscp) & ~(kExt1EdxNx | kExt1EdxPage1G);
    return t;
}

CpuidResult CpuidTable::lookup(uint32_t leaf, uint32_t subleaf, uint32_t apic_id) const {
    // Leaves with subleaves we model: only 7 (subleaf 0); others report subleaf 0's values.
    if (leaf == 7 && subleaf != 0) return {};
    if ((leaf > max_basic_ && leaf < 0x80000000u) || leaf > max_extended_) {
        // Intel: an out-of-range leaf returns the highest basic leaf's data (SDM CPUID).
        leaf = max_basic_;
    }
    auto it = leaves_.find({leaf, 0});
    CpuidResult r = it == leaves_.end() ? CpuidResult{} : it->second;
    if (leaf == 1) r.ebx = (r.ebx & 0x00ffffffu) | (apic_id << 24);  // initial APIC id
    return r;
}

}  // namespace emu::backend
