#include "arch/x86/extable.h"

#include "arch/x86/percpu.h"
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
constinit ExpectState g_expects[percpu::kMaxCpus]{};  // per CPU

ExpectState& me() { return g_expects[percpu::cpu_id()]; }

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
    ExpectState& st = me();
    ++st.count;
    st.last = rec;
}

bool expecting() { return me().armed; }

}  // namespace extable

ExpectException::ExpectException() {
    VERIFY(!me().armed);
    me().armed = true;
    reset();
}

ExpectException::~ExpectException() { me().armed = false; }

uint64_t ExpectException::count() const { return me().count; }
const ExceptionRecord& ExpectException::last() const { return me().last; }

void ExpectException::reset() {
    me().count = 0;
    me().last = kNoException;
}

}  // namespace x86
