#include "emu/backend/cpu_state_blob.h"

#include <cstring>
#include <memory>
#include <vector>

namespace emu::backend {
namespace {

// CPUX86State begins with regs[16], eip, eflags, cc_dst, cc_src, cc_src2 (8 bytes each),
// cc_op, df, hflags, hflags2 (4 bytes each), then SegmentCache segs[6] (24 bytes each).
constexpr size_t kEipInEnv = 16 * 8;
constexpr size_t kHflagsInEnv = 16 * 8 + 5 * 8 + 2 * 4;
constexpr size_t kSegsInEnv = kHflagsInEnv + 2 * 4;
constexpr size_t kSegmentCacheSize = 24;

// ... int error_code; int exception_is_int; target_ulong exception_next_eip;
//     target_ulong dr[8]; union { void* bp[4]; }; int old_exception;
constexpr ptrdiff_t kErrorCodeFromDr0 = -16;
constexpr ptrdiff_t kExceptionIsIntFromDr0 = -12;
constexpr ptrdiff_t kOldExceptionFromDr0 = 8 * 8 + 4 * 8;

template <typename T>
T read_at(const uint8_t* p, size_t off) {
    T v;
    std::memcpy(&v, p + off, sizeof v);
    return v;
}
template <typename T>
void write_at(uint8_t* p, size_t off, T v) {
    std::memcpy(p + off, &v, sizeof v);
}

std::optional<size_t> find_u64(const uint8_t* p, size_t size, uint64_t pattern) {
    for (size_t off = 0; off + 8 <= size; ++off)
        if (read_at<uint64_t>(p, off) == pattern) return off;
    return std::nullopt;
}

struct ScratchEngine {
    uc_engine* uc = nullptr;
    std::vector<uint8_t> ram;
    ~ScratchEngine() {
        if (uc) uc_close(uc);
    }
};

struct FaultCapture {
    const CpuStateLayout* layout;
    int32_t error_code = -1;
    int32_t old_exception = -1;
    uint32_t vector = 0;
    bool seen = false;
};

void capture_fault(uc_engine* uc, uint32_t intno, void* user) {
    auto* cap = static_cast<FaultCapture*>(user);
    CpuStateBlob blob(uc, *cap->layout);
    blob.load();
    cap->vector = intno;
    cap->error_code = blob.error_code();
    cap->old_exception = blob.old_exception();
    cap->seen = true;
    uc_emu_stop(uc);
}

}  // namespace

LayoutProbe probe_cpu_state_layout() {
    LayoutProbe result;
    ScratchEngine s;
    if (uc_open(UC_ARCH_X86, UC_MODE_64, &s.uc) != UC_ERR_OK) {
        result.failure = "uc_open failed";
        return result;
    }
    const size_t total = uc_context_size(s.uc);
    uc_context* raw = nullptr;
    uc_context_alloc(s.uc, &raw);
    std::unique_ptr<uc_context, uc_err (*)(uc_context*)> ctx(raw, uc_context_free);
    const auto* bytes = reinterpret_cast<const uint8_t*>(raw);

    constexpr uint64_t kRaxPattern = 0x5a17e5a17e5a17e5ull;
    constexpr uint64_t kDrPattern = 0xd0d1d2d3d4d5d600ull;
    constexpr uint64_t kRipPattern = 0x00007a5b6c7d8e9full;
    constexpr uint64_t kFsBasePattern = 0x0000123456789abcull;
    uc_reg_write(s.uc, UC_X86_REG_RAX, &kRaxPattern);
    uc_reg_write(s.uc, UC_X86_REG_RIP, &kRipPattern);
    uc_reg_write(s.uc, UC_X86_REG_FS_BASE, &kFsBasePattern);
    for (int i : {0, 1, 2, 3, 6, 7}) {
        uint64_t v = kDrPattern + i;
        uc_reg_write(s.uc, UC_X86_REG_DR0 + i, &v);
    }
    uc_context_save(s.uc, raw);

    auto rax = find_u64(bytes, total, kRaxPattern);
    auto dr0 = find_u64(bytes, total, kDrPattern);
    if (!rax || !dr0 || *dr0 < 16) {
        result.failure = "RAX or DR0 pattern not found in the uc_context blob";
        return result;
    }
    CpuStateLayout l;
    l.header = *rax;
    const size_t dr0_env = *dr0 - l.header;
    l.eip = kEipInEnv;
    l.hflags = kHflagsInEnv;
    l.segs = kSegsInEnv;
    l.error_code = dr0_env + kErrorCodeFromDr0;
    l.exception_is_int = dr0_env + kExceptionIsIntFromDr0;
    l.old_exception = dr0_env + kOldExceptionFromDr0;
    const uint8_t* env = bytes + l.header;
    if (l.header + l.old_exception + 4 > total) {
        result.failure = "old_exception offset lies outside the blob";
        return result;
    }
    for (int i : {1, 2, 3, 6, 7})
        if (read_at<uint64_t>(env, dr0_env + 8 * i) != kDrPattern + i) {
            result.failure = "DR1..DR7 are not contiguous after DR0";
            return result;
        }
    if (read_at<uint64_t>(env, l.eip) != kRipPattern) {
        result.failure = "EIP is not at its expected offset";
        return result;
    }
    if (read_at<uint64_t>(env, l.segs + kSegFs * kSegmentCacheSize + 8) != kFsBasePattern) {
        result.failure = "the FS segment cache is not at its expected offset";
        return result;
    }
    const uint32_t hflags = read_at<uint32_t>(env, l.hflags);
    if ((hflags & (kHflagLma | kHflagCs64)) != (kHflagLma | kHflagCs64) || (hflags & kHflagCplMask)) {
        result.failure = "hflags does not read as 64-bit mode, CPL 0";
        return result;
    }

    // Raise a real #PF (write to a not-present page) and check error_code and old_exception.
    s.ram.assign(8 << 20, 0);  // 0x400000 must lie inside a mapped region
    auto put = [&](uint64_t pa, uint64_t v) { std::memcpy(&s.ram[pa], &v, 8); };
    put(0x1000, 0x2003);                      // PML4[0] -> PDPT
    put(0x2000, 0x3003);                      // PDPT[0] -> PD
    put(0x3000, 0x83);                        // PD[0]: 2 MiB page at 0, present, writable
    const uint8_t code[] = {0x48, 0x89, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00};  // mov [0x400000], rax
    std::memcpy(&s.ram[0x10000], code, sizeof code);
    uc_mem_map_ptr(s.uc, 0, s.ram.size(), UC_PROT_ALL, s.ram.data());
    uint64_t cr3 = 0x1000, cr4 = 0x20, cr0 = 0x80010033, rsp = 0x20000;
    uc_reg_write(s.uc, UC_X86_REG_CR3, &cr3);
    uc_reg_write(s.uc, UC_X86_REG_CR4, &cr4);
    uc_reg_write(s.uc, UC_X86_REG_CR0, &cr0);
    uc_reg_write(s.uc, UC_X86_REG_RSP, &rsp);
    FaultCapture cap{&l};
    uc_hook hook;
    uc_hook_add(s.uc, &hook, UC_HOOK_INTR, reinterpret_cast<void*>(capture_fault), &cap, 1, 0);
    uc_emu_start(s.uc, 0x10000, 0x10000 + sizeof code, 0, 100);
    if (!cap.seen || cap.vector != 14) {
        result.failure = "the probe's write to a not-present page raised no #PF";
        return result;
    }
    if (cap.error_code != 2 || cap.old_exception != 14) {
        result.failure = "error_code/old_exception read " + std::to_string(cap.error_code) + "/" +
                         std::to_string(cap.old_exception) + ", expected 2/14";
        return result;
    }
    result.layout = l;
    return result;
}

CpuStateBlob::CpuStateBlob(uc_engine* uc, const CpuStateLayout& layout) : uc_(uc), layout_(layout) {
    uc_context_alloc(uc_, &context_);
}

CpuStateBlob::~CpuStateBlob() {
    if (context_) uc_context_free(context_);
}

uint8_t* CpuStateBlob::env() const { return reinterpret_cast<uint8_t*>(context_) + layout_.header; }
void CpuStateBlob::load() { uc_context_save(uc_, context_); }
void CpuStateBlob::store() { uc_context_restore(uc_, context_); }
int32_t CpuStateBlob::error_code() const { return read_at<int32_t>(env(), layout_.error_code); }
bool CpuStateBlob::exception_is_int() const { return read_at<int32_t>(env(), layout_.exception_is_int) != 0; }
int32_t CpuStateBlob::old_exception() const { return read_at<int32_t>(env(), layout_.old_exception); }
void CpuStateBlob::clear_old_exception() { write_at<int32_t>(env(), layout_.old_exception, -1); }
uint32_t CpuStateBlob::hflags() const { return read_at<uint32_t>(env(), layout_.hflags); }
void CpuStateBlob::set_hflags(uint32_t v) { write_at<uint32_t>(env(), layout_.hflags, v); }

SegmentCache CpuStateBlob::segment(int index) const {
    const size_t off = layout_.segs + static_cast<size_t>(index) * kSegmentCacheSize;
    return {read_at<uint32_t>(env(), off), read_at<uint64_t>(env(), off + 8),
            read_at<uint32_t>(env(), off + 16), read_at<uint32_t>(env(), off + 20)};
}

void CpuStateBlob::set_segment(int index, const SegmentCache& s) {
    const size_t off = layout_.segs + static_cast<size_t>(index) * kSegmentCacheSize;
    write_at(env(), off, s.selector);
    write_at(env(), off + 8, s.base);
    write_at(env(), off + 16, s.limit);
    write_at(env(), off + 20, s.flags);
}

}  // namespace emu::backend
