// The in-emulator fuzzer's program format (asi_emu_abi.h "In-emulator fuzzing"): a byte
// string decoded, deterministically and without failure, into at most kFuzzMaxOps
// operations that the guest's fuzz mode (fuzz/fuzz_mode.h) runs on its CPUs. Every byte
// string is a valid program, so every mutation reaches the kernel. Included by the guest and
// by host C++20 code (asi-emu's print mode, seed tools, tests): only <stdint.h> and
// <stddef.h>, no allocation, no library calls, everything constexpr.
//
// Each operation is an opcode byte o: kind = o % 16, sel = o / 16; it runs on the CPU
// sel % (CPUs online) (the (sel % n)-th online CPU). Kinds 0-5, 12 and 13 take one argument
// byte a; a missing argument byte at the end drops that last operation. Bytes after the
// kFuzzMaxOps-th operation are ignored.
//
//   kind      name           arg  meaning
//   0, 1, 2   alloc          a    one allocation: order a & 3, or 9 (a pageblock) when
//                                 a & 0x40; gfp: a & 0x04 __GFP_SENSITIVE, a & 0x08
//                                 __GFP_DIRECT_RECLAIM (without it ALLOC_NOBLOCK, gfp.h),
//                                 a & 0x10 __GFP_ZERO, a & 0x20 __GFP_MOVABLE; a & 0x80
//                                 unused. Kept in the live table (kFuzzMaxLive entries;
//                                 when it is full the operation is skipped).
//   3, 4      free           a    free live[a % live] (nothing when no allocation is live)
//   5         touch          a    write a pattern into every page of live[a % live] through
//                                 the direct map, in the CPU's current ASI state: the secret
//                                 pattern for a sensitive allocation (inside ASI that takes
//                                 the #PF ASI exit), a public one otherwise
//   6         asi_enter      -    asi_enter() (the CPU stays restricted and tense)
//   7         asi_relax      -    asi_relax()
//   8         asi_exit       -    asi_exit()
//   9         deferred_work  -    the policy's deferred worker (rfc; nothing under freetype)
//   10        drain          -    drain the CPU's per-CPU lists
//   11        interrupt      -    the CPU takes an interrupt now (a self-IPI in an sti window)
//   12        alloc_burst    a    1 + (a & 15) order-0 allocations with direct reclaim,
//                                 sensitive when a & 0x10 (exhausts one sensitivity, so
//                                 pageblocks change sensitivity); stops when the table is full
//   13        free_burst     a    free the last 1 + (a & 15) entries of the live table
//   14        check          -    the allocator's self-checks (zone invariants, restricted
//                                 mapping of every free and live frame); O(zone), so only
//                                 the first check of a program runs
//   15        nop            -    nothing
//
// The live table: an allocation is appended at its end; a free moves the last entry into
// the freed one's place (workload/live_table.h), so "live[i]" and "the last entries" depend
// only on the operations before. While no free happened in between, the last entries are the
// newest allocations.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../abi/asi_emu_abi.h"

namespace fuzz_program {

constexpr size_t kFuzzMaxOps = 256;
constexpr uint32_t kFuzzMaxLive = 64;

// The opcode's low nibble (o % 16).
enum Opcode : uint8_t {
    kOpAlloc = 0,  // also 1 and 2
    kOpFree = 3,   // also 4
    kOpTouch = 5,
    kOpAsiEnter = 6,
    kOpAsiRelax = 7,
    kOpAsiExit = 8,
    kOpDeferredWork = 9,
    kOpDrain = 10,
    kOpInterrupt = 11,
    kOpAllocBurst = 12,
    kOpFreeBurst = 13,
    kOpCheck = 14,
    kOpNop = 15,
};

enum class OpKind : uint8_t {
    kAlloc,
    kFree,
    kTouch,
    kAsiEnter,
    kAsiRelax,
    kAsiExit,
    kDeferredWork,
    kDrain,
    kInterrupt,
    kAllocBurst,
    kFreeBurst,
    kCheck,
    kNop,
};

struct FuzzOp {
    OpKind kind = OpKind::kNop;
    uint8_t cpu_sel = 0;  // o / 16: the CPU is cpu_sel % (CPUs online)
    uint8_t arg = 0;      // 0 for kinds without an argument
};

constexpr OpKind kind_of(uint8_t opcode) {
    constexpr OpKind kKinds[16] = {
        OpKind::kAlloc,     OpKind::kAlloc,        OpKind::kAlloc,      OpKind::kFree,
        OpKind::kFree,      OpKind::kTouch,        OpKind::kAsiEnter,   OpKind::kAsiRelax,
        OpKind::kAsiExit,   OpKind::kDeferredWork, OpKind::kDrain,      OpKind::kInterrupt,
        OpKind::kAllocBurst, OpKind::kFreeBurst,   OpKind::kCheck,      OpKind::kNop,
    };
    return kKinds[opcode % 16];
}

constexpr bool takes_arg(OpKind k) {
    return k == OpKind::kAlloc || k == OpKind::kFree || k == OpKind::kTouch ||
           k == OpKind::kAllocBurst || k == OpKind::kFreeBurst;
}

constexpr uint8_t opcode(Opcode op, uint32_t cpu_sel) {
    return static_cast<uint8_t>(static_cast<uint32_t>(op) | (cpu_sel & 15u) << 4);
}

// Decodes up to min(max, kFuzzMaxOps) operations of bytes[0, len) into out[]; returns how
// many. Never reads past bytes + len nor writes past out + max.
constexpr size_t decode(const uint8_t* bytes, size_t len, FuzzOp* out, size_t max) {
    if (max > kFuzzMaxOps) max = kFuzzMaxOps;
    size_t n = 0, pos = 0;
    while (pos < len && n < max) {
        const uint8_t o = bytes[pos++];
        FuzzOp op;
        op.kind = kind_of(o);
        op.cpu_sel = static_cast<uint8_t>(o / 16);
        if (takes_arg(op.kind)) {
            if (pos == len) break;  // the argument is missing: drop the operation
            op.arg = bytes[pos++];
        }
        out[n++] = op;
    }
    return n;
}

// ---- Arguments --------------------------------------------------------------------------
constexpr uint32_t cpu_index(const FuzzOp& op, uint32_t cpus_online) {
    return cpus_online == 0 ? 0 : op.cpu_sel % cpus_online;
}

// alloc
constexpr uint8_t kArgSensitive = 0x04, kArgDirectReclaim = 0x08, kArgZero = 0x10, kArgMovable = 0x20,
                  kArgPageblock = 0x40;
constexpr uint32_t kPageblockOrder = 9;
constexpr uint32_t alloc_order(uint8_t a) { return (a & kArgPageblock) ? kPageblockOrder : a & 3u; }
constexpr uint64_t alloc_gfp(uint8_t a) {
    uint64_t gfp = 0;
    if (a & kArgSensitive) gfp |= asi_abi::kGfpSensitive;
    if (a & kArgDirectReclaim) gfp |= asi_abi::kGfpDirectReclaim;
    if (a & kArgZero) gfp |= asi_abi::kGfpZero;
    if (a & kArgMovable) gfp |= asi_abi::kGfpMovable;
    return gfp;
}
constexpr uint8_t alloc_arg(uint32_t order, uint64_t gfp) {
    uint8_t a = order >= kPageblockOrder ? kArgPageblock : static_cast<uint8_t>(order & 3u);
    if (gfp & asi_abi::kGfpSensitive) a |= kArgSensitive;
    if (gfp & asi_abi::kGfpDirectReclaim) a |= kArgDirectReclaim;
    if (gfp & asi_abi::kGfpZero) a |= kArgZero;
    if (gfp & asi_abi::kGfpMovable) a |= kArgMovable;
    return a;
}

// alloc_burst
constexpr uint8_t kArgBurstSensitive = 0x10;
constexpr uint32_t burst_count(uint8_t a) { return 1 + (a & 15u); }
constexpr uint64_t burst_gfp(uint8_t a) {
    return asi_abi::kGfpDirectReclaim | ((a & kArgBurstSensitive) ? asi_abi::kGfpSensitive : 0);
}
// free_burst uses burst_count too.

// ---- Text -------------------------------------------------------------------------------
namespace detail {

// Appends into buf[0, size), always NUL-terminated when size > 0; counts the full length.
struct Writer {
    char* buf;
    size_t size;
    size_t len = 0;

    constexpr void put(char c) {
        if (size != 0 && len + 1 < size) buf[len] = c;
        ++len;
    }
    constexpr void str(const char* s) {
        while (*s != '\0') put(*s++);
    }
    constexpr void num(uint32_t v) {
        char digits[10] = {};
        int n = 0;
        do {
            digits[n++] = static_cast<char>('0' + v % 10);
            v /= 10;
        } while (v != 0);
        while (n > 0) put(digits[--n]);
    }
    constexpr int finish() {
        if (size != 0) buf[len < size ? len : size - 1] = '\0';
        return static_cast<int>(len);
    }
};

constexpr void gfp_text(Writer& w, uint64_t gfp) {
    // ALLOC_NOBLOCK is not a gfp bit: it is named for requests without direct reclaim.
    if (gfp & asi_abi::kGfpSensitive) w.str("sensitive|");
    w.str((gfp & asi_abi::kGfpDirectReclaim) ? "direct-reclaim" : "noblock");
    if (gfp & asi_abi::kGfpZero) w.str("|zero");
    if (gfp & asi_abi::kGfpMovable) w.str("|movable");
}

// "<what><n><then><gfp>", e.g. "alloc order 2 gfp noblock".
constexpr void request_text(Writer& w, const char* what, uint32_t n, const char* then, uint64_t gfp) {
    w.str(what);
    w.num(n);
    w.str(then);
    gfp_text(w, gfp);
}

}  // namespace detail

// Renders one operation, e.g. "cpu 1: alloc order 2 gfp sensitive|direct-reclaim|zero" or
// "cpu 0: free live[3]" (live[i] is live allocation i % live, as above). With cpus_online
// = 0 (unknown) the CPU is shown as its selector: "sel 5: asi_enter". Returns the length
// of the whole text, as snprintf does; buf is NUL-terminated when size > 0.
constexpr int describe(const FuzzOp& op, char* buf, size_t size, uint32_t cpus_online = 0) {
    detail::Writer w{buf, size};
    w.str(cpus_online == 0 ? "sel " : "cpu ");
    w.num(cpus_online == 0 ? op.cpu_sel : cpu_index(op, cpus_online));
    w.str(": ");
    switch (op.kind) {
        case OpKind::kAlloc:
            detail::request_text(w, "alloc order ", alloc_order(op.arg), " gfp ", alloc_gfp(op.arg));
            break;
        case OpKind::kFree:
        case OpKind::kTouch:
            w.str(op.kind == OpKind::kFree ? "free live[" : "touch live[");
            w.num(op.arg);
            w.put(']');
            break;
        case OpKind::kAsiEnter: w.str("asi_enter"); break;
        case OpKind::kAsiRelax: w.str("asi_relax"); break;
        case OpKind::kAsiExit: w.str("asi_exit"); break;
        case OpKind::kDeferredWork: w.str("deferred_work"); break;
        case OpKind::kDrain: w.str("drain"); break;
        case OpKind::kInterrupt: w.str("interrupt"); break;
        case OpKind::kAllocBurst:
            detail::request_text(w, "alloc_burst ", burst_count(op.arg), " x order 0 gfp ", burst_gfp(op.arg));
            break;
        case OpKind::kFreeBurst:
            w.str("free_burst last ");
            w.num(burst_count(op.arg));
            break;
        case OpKind::kCheck: w.str("check"); break;
        case OpKind::kNop: w.str("nop"); break;
    }
    return w.finish();
}

}  // namespace fuzz_program
