// The page_alloc fuzzer's input format: a byte string decoded, deterministically and without
// failure, into a configuration and a program of allocator operations. Every byte string is
// a valid program (a missing argument byte at the end drops the last operation), so
// libFuzzer's mutations always reach the allocator. The seed generator (tools/) encodes
// programs with Encoder; ASI_FUZZ_PRINT=1 prints them with print_program.
//
// Byte 0, the configuration: policy = b % 3 (0 freetype, 1 rfc, 2 off); r = b / 3:
//   bit 0  initial sensitivity of whole pageblocks: 0 sensitive, 1 nonsensitive
//   bit 1  memory layout: 0 one 4 MiB range (two pageblocks); 1 8 MiB in two ranges with
//          partly usable (pinned) pageblocks at both ends (kLayouts, page_alloc_fuzzer.cpp)
//   bits 2-3  CPUs - 1 (1..4)
//   bit 4  per-CPU lists: 0 batch 8 / high 32; 1 batch 2 / high 4 (drains often)
// Then operations, each an opcode byte o (kind = o & 7, hi = o >> 3) and its arguments:
//   0, 1  alloc          g            one alloc_pages on CPU hi % cpus
//   2     alloc burst    g, c         1 + (c & 63) alloc_pages on CPU hi % cpus
//   3, 4  free           i            free_pages of live allocation i % live, on CPU hi % cpus
//   5     free burst     c            free the 1 + (c & 31) newest live allocations, CPU hi % cpus
//   6     run_deferred_work
//   7     drain / check  hi == 31: drain_all_pcp; hi == 30: check the whole zone (the
//                        allocator's verify() and every frame against the shadow model:
//                        O(zone), so only where a program asks, and only the first
//                        time); else drain_pcp(hi % cpus)
// The request byte g: order = g & 3; bit 2 __GFP_SENSITIVE; bit 3 __GFP_DIRECT_RECLAIM
// (without it the request is ALLOC_NOBLOCK); bit 4 __GFP_ZERO; bits 5-6 migratetype
// (0 unmovable, 1 __GFP_MOVABLE, 2 __GFP_RECLAIMABLE, 3 both: an invalid request that must
// fail); bit 7 unused.
// "Live allocation i" counts the allocations still held, oldest first.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "guest_kernel/mm/page_alloc/gfp.h"

namespace page_alloc_fuzz {

enum class Policy : uint8_t { kFreetype = 0, kRfc = 1, kOff = 2 };

inline const char* policy_name(Policy p) {
    switch (p) {
        case Policy::kFreetype: return "freetype";
        case Policy::kRfc: return "rfc";
        case Policy::kOff: return "off";
    }
    return "?";
}

struct Config {
    Policy policy = Policy::kFreetype;
    bool initial_sensitive = true;
    uint8_t layout = 0;  // 0 or 1
    uint32_t cpus = 1;   // 1..4
    bool small_pcp = false;
};

enum class OpKind : uint8_t {
    kAlloc,
    kAllocBurst,
    kFree,
    kFreeBurst,
    kDeferredWork,
    kDrain,
    kDrainAll,
    kCheck
};

struct Op {
    OpKind kind = OpKind::kAlloc;
    uint32_t cpu = 0;
    uint32_t order = 0;         // alloc
    page_alloc::gfp_t gfp = 0;  // alloc
    uint32_t count = 1;         // bursts
    uint32_t index = 0;         // free: index into the live allocations (mod their number)
};

struct Program {
    Config config;
    std::vector<Op> ops;
};

// ---- The request byte ----------------------------------------------------------------------
inline uint32_t request_order(uint8_t g) { return g & 3u; }

inline page_alloc::gfp_t request_gfp(uint8_t g) {
    using namespace page_alloc;
    gfp_t gfp = 0;
    if (g & 0x04) gfp |= kGfpSensitive;
    if (g & 0x08) gfp |= kGfpDirectReclaim;
    if (g & 0x10) gfp |= kGfpZero;
    switch ((g >> 5) & 3) {
        case 1: gfp |= kGfpMovable; break;
        case 2: gfp |= kGfpReclaimable; break;
        case 3: gfp |= kGfpMovable | kGfpReclaimable; break;
        default: break;
    }
    return gfp;
}

inline uint8_t request_byte(uint32_t order, page_alloc::gfp_t gfp) {
    using namespace page_alloc;
    uint8_t g = static_cast<uint8_t>(order & 3u);
    if (gfp & kGfpSensitive) g |= 0x04;
    if (gfp & kGfpDirectReclaim) g |= 0x08;
    if (gfp & kGfpZero) g |= 0x10;
    if (gfp & kGfpMovable) g |= 0x20;
    if (gfp & kGfpReclaimable) g |= 0x40;
    return g;
}

// ---- Decoding ------------------------------------------------------------------------------
inline constexpr size_t kMaxOps = 4096;

// Decodes into `p`, reusing its storage (the fuzzer decodes one program per execution).
inline void decode_program(std::span<const uint8_t> in, Program& p) {
    p.config = Config{};
    p.ops.clear();
    if (in.empty()) return;
    const uint8_t b0 = in[0];
    const uint32_t r = b0 / 3u;
    p.config.policy = static_cast<Policy>(b0 % 3u);
    p.config.initial_sensitive = (r & 1u) == 0;
    p.config.layout = static_cast<uint8_t>((r >> 1) & 1u);
    p.config.cpus = 1 + ((r >> 2) & 3u);
    p.config.small_pcp = ((r >> 4) & 1u) != 0;
    const uint32_t cpus = p.config.cpus;
    size_t pos = 1;
    auto arg = [&](uint8_t& out) {
        if (pos >= in.size()) return false;
        out = in[pos++];
        return true;
    };
    while (pos < in.size() && p.ops.size() < kMaxOps) {
        const uint8_t o = in[pos++];
        const uint32_t hi = o >> 3;
        Op op;
        op.cpu = hi % cpus;
        uint8_t a = 0, c = 0;
        switch (o & 7u) {
            case 0:
            case 1:
                if (!arg(a)) return;
                op.kind = OpKind::kAlloc;
                op.order = request_order(a);
                op.gfp = request_gfp(a);
                break;
            case 2:
                if (!arg(a) || !arg(c)) return;
                op.kind = OpKind::kAllocBurst;
                op.order = request_order(a);
                op.gfp = request_gfp(a);
                op.count = 1 + (c & 15u);
                break;
            case 3:
            case 4:
                if (!arg(a)) return;
                op.kind = OpKind::kFree;
                op.index = a;
                break;
            case 5:
                if (!arg(c)) return;
                op.kind = OpKind::kFreeBurst;
                op.count = 1 + (c & 31u);
                break;
            case 6:
                op.kind = OpKind::kDeferredWork;
                op.cpu = 0;
                break;
            default:
                op.kind = hi == 31 ? OpKind::kDrainAll : hi == 30 ? OpKind::kCheck : OpKind::kDrain;
                if (hi >= 30) op.cpu = 0;
                break;
        }
        p.ops.push_back(op);
    }
}

inline Program decode_program(std::span<const uint8_t> in) {
    Program p;
    decode_program(in, p);
    return p;
}

// ---- Printing (ASI_FUZZ_PRINT=1) -----------------------------------------------------------
inline std::string gfp_string(page_alloc::gfp_t gfp) {
    using namespace page_alloc;
    std::string s;
    auto add = [&](const char* name) {
        if (!s.empty()) s += '|';
        s += name;
    };
    // ALLOC_NOBLOCK is not a gfp bit: it is printed for requests without DIRECT_RECLAIM.
    add((gfp & kGfpDirectReclaim) ? "DIRECT_RECLAIM" : "NOBLOCK");
    if (gfp & kGfpSensitive) add("SENSITIVE");
    if (gfp & kGfpZero) add("ZERO");
    if (gfp & kGfpMovable) add("MOVABLE");
    if (gfp & kGfpReclaimable) add("RECLAIMABLE");
    return s;
}

inline std::string describe(const Op& op) {
    char buf[160];
    switch (op.kind) {
        case OpKind::kAlloc:
            std::snprintf(buf, sizeof buf, "alloc cpu=%u order=%u gfp=%s", op.cpu, op.order,
                          gfp_string(op.gfp).c_str());
            break;
        case OpKind::kAllocBurst:
            std::snprintf(buf, sizeof buf, "alloc x%u cpu=%u order=%u gfp=%s", op.count, op.cpu,
                          op.order, gfp_string(op.gfp).c_str());
            break;
        case OpKind::kFree:
            std::snprintf(buf, sizeof buf, "free live[%u %% n] cpu=%u", op.index, op.cpu);
            break;
        case OpKind::kFreeBurst:
            std::snprintf(buf, sizeof buf, "free x%u newest cpu=%u", op.count, op.cpu);
            break;
        case OpKind::kDeferredWork: std::snprintf(buf, sizeof buf, "run_deferred_work"); break;
        case OpKind::kDrain: std::snprintf(buf, sizeof buf, "drain_pcp cpu=%u", op.cpu); break;
        case OpKind::kDrainAll: std::snprintf(buf, sizeof buf, "drain_all_pcp"); break;
        case OpKind::kCheck: std::snprintf(buf, sizeof buf, "check_zone"); break;
    }
    return buf;
}

inline void print_program(std::FILE* out, const Program& p) {
    std::fprintf(out, "config policy=%s initial=%s layout=%u cpus=%u pcp=%s\n",
                 policy_name(p.config.policy),
                 p.config.initial_sensitive ? "sensitive" : "nonsensitive", p.config.layout,
                 p.config.cpus, p.config.small_pcp ? "2/4" : "8/32");
    for (size_t i = 0; i < p.ops.size(); ++i)
        std::fprintf(out, "%4zu  %s\n", i, describe(p.ops[i]).c_str());
    std::fflush(out);
}

// ---- Encoding (seed generator) -------------------------------------------------------------
class Encoder {
public:
    explicit Encoder(const Config& c) {
        const uint32_t r = (c.initial_sensitive ? 0u : 1u) | (uint32_t{c.layout} & 1u) << 1 |
                           ((c.cpus - 1) & 3u) << 2 | (c.small_pcp ? 1u : 0u) << 4;
        bytes.push_back(static_cast<uint8_t>(static_cast<uint32_t>(c.policy) + 3 * r));
    }
    Encoder& alloc(uint32_t cpu, uint32_t order, page_alloc::gfp_t gfp) {
        bytes.push_back(opcode(0, cpu));
        bytes.push_back(request_byte(order, gfp));
        return *this;
    }
    Encoder& alloc_burst(uint32_t count, uint32_t cpu, uint32_t order, page_alloc::gfp_t gfp) {
        bytes.push_back(opcode(2, cpu));
        bytes.push_back(request_byte(order, gfp));
        bytes.push_back(static_cast<uint8_t>((count - 1) & 63u));
        return *this;
    }
    Encoder& free(uint32_t index, uint32_t cpu) {
        bytes.push_back(opcode(3, cpu));
        bytes.push_back(static_cast<uint8_t>(index));
        return *this;
    }
    Encoder& free_burst(uint32_t count, uint32_t cpu) {
        bytes.push_back(opcode(5, cpu));
        bytes.push_back(static_cast<uint8_t>((count - 1) & 31u));
        return *this;
    }
    Encoder& deferred_work() {
        bytes.push_back(6);
        return *this;
    }
    Encoder& drain(uint32_t cpu) {
        bytes.push_back(opcode(7, cpu));
        return *this;
    }
    Encoder& drain_all() {
        bytes.push_back(opcode(7, 31));
        return *this;
    }
    Encoder& check() {
        bytes.push_back(opcode(7, 30));
        return *this;
    }
    std::vector<uint8_t> bytes;

private:
    static uint8_t opcode(uint32_t kind, uint32_t hi) {
        return static_cast<uint8_t>(kind | (hi & 31u) << 3);
    }
};

}  // namespace page_alloc_fuzz
