// Access to the parts of QEMU's CPUX86State that Unicorn 2.0.1 exposes no API for.
//
// In 2.0.1 a uc_context is a 16-byte header followed by a raw copy of CPUX86State up to its
// `retaddr` field (uc.c: uc_context_save memcpy's env_ptr). We need four things from it:
//  * error_code: the error code of the exception being raised (#PF, #GP, ...);
//  * old_exception: QEMU's "exception in flight", which QEMU resets only in its own
//    do_interrupt_all. Unicorn never calls that, so without a reset the second fault is
//    promoted to #DF and the third is a silent triple fault;
//  * hflags and the CS/SS segment caches: CPL lives in hflags (taken from SS.DPL), and a
//    64-bit UC_X86_REG_CS write only stores the selector, so a privilege change done by the
//    host (exception delivery, SYSCALL) must write them here.
// The offsets are located at start-up (DR0..DR7 and RAX written with patterns, then a real
// #PF raised on a scratch engine) and verified; a mismatch refuses to run (exit 6).
#pragma once
#include <unicorn/unicorn.h>

#include <cstdint>
#include <optional>
#include <string>

namespace emu::backend {

// QEMU's SegmentCache {uint32 selector; uint64 base; uint32 limit; uint32 flags;}.
struct SegmentCache {
    uint32_t selector;
    uint64_t base;
    uint32_t limit;
    uint32_t flags;  // descriptor bits 8..23 of the high dword, as QEMU keeps them
};

// QEMU hflags bits (target/i386/cpu.h).
constexpr uint32_t kHflagCplMask = 3u;
constexpr uint32_t kHflagInhibitIrq = 1u << 3;  // the instruction after STI or MOV SS (SDM vol. 3A 6.8.3)
constexpr uint32_t kHflagCs32 = 1u << 4;
constexpr uint32_t kHflagSs32 = 1u << 5;
constexpr uint32_t kHflagLma = 1u << 14;
constexpr uint32_t kHflagCs64 = 1u << 15;

// QEMU segment-cache flag bits (= descriptor high dword bits).
constexpr uint32_t kDescAccessed = 1u << 8;
constexpr uint32_t kDescWritableOrReadable = 1u << 9;
constexpr uint32_t kDescCode = 1u << 11;
constexpr uint32_t kDescS = 1u << 12;
constexpr uint32_t kDescDplShift = 13;
constexpr uint32_t kDescPresent = 1u << 15;
constexpr uint32_t kDescLong = 1u << 21;
constexpr uint32_t kDescBig = 1u << 22;
constexpr uint32_t kDescGranularity = 1u << 23;

constexpr int kSegEs = 0, kSegCs = 1, kSegSs = 2, kSegDs = 3, kSegFs = 4, kSegGs = 5;

struct CpuStateLayout {
    size_t header = 0;          // bytes before CPUX86State inside a uc_context
    size_t eip = 0;
    size_t hflags = 0;
    size_t segs = 0;            // SegmentCache segs[6]
    size_t error_code = 0;
    size_t exception_is_int = 0;
    size_t old_exception = 0;
};

// Locates and verifies the layout on a scratch engine. Returns the layout, or a description
// of what did not check out.
struct LayoutProbe {
    std::optional<CpuStateLayout> layout;
    std::string failure;
};
LayoutProbe probe_cpu_state_layout();

// A loaded copy of one engine's CPU state. load(), edit, store(); store() overwrites every
// register, so write RIP/RSP/RFLAGS through the API *after* store().
class CpuStateBlob {
public:
    CpuStateBlob(uc_engine* uc, const CpuStateLayout& layout);
    ~CpuStateBlob();
    CpuStateBlob(const CpuStateBlob&) = delete;
    CpuStateBlob& operator=(const CpuStateBlob&) = delete;

    void load();
    void store();

    int32_t error_code() const;
    bool exception_is_int() const;
    int32_t old_exception() const;
    void clear_old_exception();
    uint32_t hflags() const;
    void set_hflags(uint32_t v);
    SegmentCache segment(int index) const;
    void set_segment(int index, const SegmentCache& s);

private:
    uint8_t* env() const;
    uc_engine* uc_;
    const CpuStateLayout& layout_;
    uc_context* context_ = nullptr;
};

}  // namespace emu::backend
