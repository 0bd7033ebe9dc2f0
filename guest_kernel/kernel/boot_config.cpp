#include "kernel/boot_config.h"

#include "abi/asi_emu_abi.h"

#include "lib/cmdline.h"
#include "lib/printf.h"

namespace config {
namespace {

bool parse_on_off(StringView v, bool* out) {
    if (v.equals("on") || v.equals("1") || v.equals("y")) return *out = true, true;
    if (v.equals("off") || v.equals("0") || v.equals("n")) return *out = false, true;
    return false;
}

// Decimal or 0x-prefixed hexadecimal, no overflow.
bool parse_u64(StringView v, uint64_t* out) {
    if (v.empty()) return false;
    uint64_t base = 10;
    size_t i = 0;
    if (v.size > 2 && v.data[0] == '0' && (v.data[1] == 'x' || v.data[1] == 'X')) base = 16, i = 2;
    uint64_t value = 0;
    for (; i < v.size; ++i) {
        const char c = v.data[i];
        uint64_t d;
        if (c >= '0' && c <= '9') d = static_cast<uint64_t>(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f') d = static_cast<uint64_t>(c - 'a' + 10);
        else if (base == 16 && c >= 'A' && c <= 'F') d = static_cast<uint64_t>(c - 'A' + 10);
        else return false;
        if (value > (~0ull - d) / base) return false;
        value = value * base + d;
    }
    *out = value;
    return true;
}

bool is_hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// An even number of hex digits, at most kFuzzProgramMax bytes.
bool valid_fuzz_program(StringView v) {
    if (v.size % 2 != 0 || v.size / 2 > asi_abi::kFuzzProgramMax) return false;
    for (size_t i = 0; i < v.size; ++i)
        if (!is_hex_digit(v.data[i])) return false;
    return true;
}

}  // namespace

const char* policy_name(Policy p) { return p == Policy::kRfc ? "rfc" : "freetype"; }

bool parse(const char* cmdline, uint64_t default_seed, BootConfig* out, char* err, uint32_t err_size) {
    *out = BootConfig{};
    out->seed = default_seed;
    bool ok = true;
    auto bad = [&](StringView key, StringView value) {
        if (ok) ksnprintf(err, err_size, "invalid value '%.*s' for %.*s", static_cast<int>(value.size),
                          value.data, static_cast<int>(key.size), key.data);
        ok = false;
    };
    CommandLine(cmdline).for_each([&](StringView key, StringView value) {
        if (key.equals("asi")) {
            if (!parse_on_off(value, &out->asi)) bad(key, value);
        } else if (key.equals("asi.policy")) {
            if (value.equals("freetype")) out->policy = Policy::kFreetype;
            else if (value.equals("rfc")) out->policy = Policy::kRfc;
            else bad(key, value);
        } else if (key.equals("asi.l1tf_invert")) {
            if (!parse_on_off(value, &out->l1tf_invert)) bad(key, value);
        } else if (key.equals("asi.bug")) {
            if (!asi::parse_bug(value, &out->bug)) bad(key, value);
        } else if (key.equals("workload")) {
            char name[32];
            if (value.size >= sizeof name) return bad(key, value);
            for (size_t i = 0; i < value.size; ++i) name[i] = value.data[i];
            name[value.size] = '\0';
            if (!workload::parse_workload(name, &out->workload)) bad(key, value);
        } else if (key.equals("ops")) {
            if (!parse_u64(value, &out->ops) || out->ops == 0) bad(key, value);
        } else if (key.equals("seed")) {
            if (!parse_u64(value, &out->seed)) bad(key, value);
        } else if (key.equals("nopcid")) {
            out->nopcid = true;
        } else if (key.equals("noinvpcid")) {
            out->noinvpcid = true;
        } else if (key.equals("nolapic_timer")) {
            out->lapic_timer = false;
        } else if (key.equals("lapic_timer")) {
            out->lapic_timer = true;
        } else if (key.equals("fuzz")) {
            out->fuzz = true;
        } else if (key.equals("fuzz.program")) {
            if (!valid_fuzz_program(value)) return bad(key, value);
            out->fuzz_program_hex = value.data;
            out->fuzz_program_hex_length = static_cast<uint32_t>(value.size);
        }
    });
    return ok;
}

}  // namespace config
