#include "test/ktap.h"

#include <stdarg.h>

#include "abi/asi_emu_abi.h"
#include "lib/printf.h"

namespace ktap {
namespace {

constexpr uint32_t kMaxSelected = 64;

bool selected(StringView selection, const char* name) {
    if (selection.equals("all")) return true;
    StringView rest = selection;
    StringView token;
    while (rest.next_token(',', &token)) {
        if (token.equals(name)) return true;
    }
    return false;
}

}  // namespace

void Test::diag(const char* fmt, ...) {
    kprintf("# %s: ", name_);
    va_list ap;
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
    kprintf("\n");
}

void Test::fail(const char* fmt, ...) {
    failed_ = true;
    kprintf("# %s: FAIL: ", name_);
    va_list ap;
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
    kprintf("\n");
}

bool Test::expect(bool cond, const char* expr, const char* file, int line) {
    if (!cond) fail("%s:%d: expected %s", file, line, expr);
    return cond;
}

bool Test::expect_eq(uint64_t actual, uint64_t expected, const char* actual_expr,
                     const char* expected_expr, const char* file, int line) {
    if (actual == expected) return true;
    fail("%s:%d: %s == %#lx, expected %s == %#lx", file, line, actual_expr, actual, expected_expr,
         expected);
    return false;
}

uint32_t run(StringView selection) {
    uint32_t count = 0;
    const TestCase* cases = test_cases(&count);

    // Unknown names are an error, reported before the plan.
    bool unknown = false;
    if (!selection.equals("all")) {
        StringView rest = selection;
        StringView token;
        while (rest.next_token(',', &token)) {
            bool known = false;
            for (uint32_t i = 0; i < count; ++i) known = known || token.equals(cases[i].name);
            if (!known) {
                kprintf("# unknown test '%.*s'\n", static_cast<int>(token.size), token.data);
                unknown = true;
            }
        }
    }

    const TestCase* plan[kMaxSelected];
    uint32_t planned = 0;
    for (uint32_t i = 0; i < count && planned < kMaxSelected; ++i) {
        if (selected(selection, cases[i].name)) plan[planned++] = &cases[i];
    }

    kprintf("KTAP version 1\n1..%u\n", planned);
    uint32_t passed = 0, failed = 0, skipped = 0;
    for (uint32_t i = 0; i < planned; ++i) {
        Test t(plan[i]->name);
        plan[i]->fn(t);
        if (t.failed()) {
            kprintf("not ok %u %s\n", i + 1, t.name());
            ++failed;
        } else if (t.skip_reason() != nullptr) {
            kprintf("ok %u %s # SKIP %s\n", i + 1, t.name(), t.skip_reason());
            ++skipped;
        } else {
            kprintf("ok %u %s\n", i + 1, t.name());
            ++passed;
        }
    }
    kprintf("# totals: pass:%u fail:%u skip:%u total:%u\n", passed, failed, skipped, planned);
    return (failed == 0 && !unknown && planned > 0) ? asi_abi::kGuestExitSuccess
                                                    : asi_abi::kGuestExitFailure;
}

}  // namespace ktap
