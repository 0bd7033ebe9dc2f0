// In-kernel self tests reported in KTAP (docs.kernel.org/dev-tools/ktap.html):
//   KTAP version 1
//   1..N
//   # diagnostic lines
//   ok 1 name | not ok 1 name | ok 1 name # SKIP reason
#pragma once
#include <stdint.h>

#include "lib/cmdline.h"

namespace ktap {

class Test {
public:
    explicit Test(const char* name) : name_(name) {}

    [[gnu::format(printf, 2, 3)]] void diag(const char* fmt, ...);
    [[gnu::format(printf, 2, 3)]] void fail(const char* fmt, ...);
    void skip(const char* reason) { skip_reason_ = reason; }

    bool expect(bool cond, const char* expr, const char* file, int line);
    bool expect_eq(uint64_t actual, uint64_t expected, const char* actual_expr,
                   const char* expected_expr, const char* file, int line);

    const char* name() const { return name_; }
    bool failed() const { return failed_; }
    const char* skip_reason() const { return skip_reason_; }

private:
    const char* name_;
    bool failed_ = false;
    const char* skip_reason_ = nullptr;
};

#define KT_EXPECT(t, cond) (t).expect(static_cast<bool>(cond), #cond, __FILE__, __LINE__)
#define KT_EXPECT_EQ(t, actual, expected) \
    (t).expect_eq(static_cast<uint64_t>(actual), static_cast<uint64_t>(expected), #actual, #expected, __FILE__, __LINE__)

struct TestCase {
    const char* name;
    void (*fn)(Test&);
};

// `selection` is "all" or a comma-separated list of test names. Returns the exit value:
// asi_abi::kGuestExitSuccess when every selected test passed or was skipped.
uint32_t run(StringView selection);

// The registry (test_list.cpp).
const TestCase* test_cases(uint32_t* count);

}  // namespace ktap
