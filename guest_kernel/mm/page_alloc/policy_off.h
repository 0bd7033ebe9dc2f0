// asi=off: no restricted address space. The allocator is a plain buddy allocator with
// per-CPU lists: no restricted-mapping changes, no TLB flushes, no zeroing beyond
// __GFP_ZERO, no mapping self-check. This is the AsiPolicy defaults; the class exists to
// give the baseline a name.
#pragma once

#include "policy.h"

namespace page_alloc {

template <class Arch>
class OffPolicy final : public AsiPolicy<Arch> {
public:
    const char* name() const override { return "off"; }
};

}  // namespace page_alloc
