// What CPUID reports to the guest. Unicorn 2.0.1 reports no PCID, INVPCID, NX or SYSCALL for
// any CPU model (DESIGN 4.4). We advertise what the backend emulates (PCID, INVPCID,
// SYSCALL) and not what it cannot (NX: an XD bit is a reserved-bit fault in 2.0.1). The
// base values are Unicorn's own, read once from a scratch engine, so they do not depend on
// the host CPU.
#pragma once
#include <cstdint>
#include <map>
#include <utility>

namespace emu::backend {

struct CpuidResult {
    uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

class CpuidTable {
public:
    static CpuidTable probe();
    CpuidResult lookup(uint32_t leaf, uint32_t subleaf, uint32_t apic_id) const;

private:
    std::map<std::pair<uint32_t, uint32_t>, CpuidResult> leaves_;
    uint32_t max_basic_ = 0;
    uint32_t max_extended_ = 0;
};

}  // namespace emu::backend
