#include "arch/x86/extable.h"

#include "kernel/panic.h"

extern "C" const x86::extable::Entry __start___ex_table[];
extern "C" const x86::extable::Entry __stop___ex_table[];

namespace x86 {
namespace {

struct ExpectState {
    bool armed;
    uint64_t count;
    ExceptionRecord last;
};
constinit ExpectState g_expect{};

constexpr ExceptionRecord kNoException = {~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull};

}  // namespace

namespace extable {

const Entry* search(uint64_t rip) {
    // Unsorted and small: a linear scan.
    for (const Entry* e = __start___ex_table; e < __stop___ex_table; ++e) {
        if (e->insn == rip) return e;
    }
    return nullptr;
}

uint64_t entry_count() { return static_cast<uint64_t>(__stop___ex_table - __start___ex_table); }

void note_exception(const ExceptionRecord& rec) {
    ++g_expect.count;
    g_expect.last = rec;
}

bool expecting() { return g_expect.armed; }

}  // namespace extable

ExpectException::ExpectException() {
    VERIFY(!g_expect.armed);
    g_expect.armed = true;
    reset();
}

ExpectException::~ExpectException() { g_expect.armed = false; }

uint64_t ExpectException::count() const { return g_expect.count; }
const ExceptionRecord& ExpectException::last() const { return g_expect.last; }

void ExpectException::reset() {
    g_expect.count = 0;
    g_expect.last = kNoException;
}

}  // namespace x86
