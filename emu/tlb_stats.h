// --tlb-stats: a finite set-associative TLB (cpu_model/tlb_cache) fed with the translations
// the guest really uses, for hit/miss/refill counts per PCID. Invalidations come from the
// event stream with the SDM's scopes. It is statistics only: it never feeds the oracle, whose
// verdicts come from the architectural envelope.
#pragma once
#include <cstdint>

#include "cpu_model/tlb_cache.h"
#include "emu/events.h"

namespace emu {

class TlbStats final : public EventSink {
public:
    void on_event(const Event& e) override;
    void access(uint64_t cr3, uint64_t cr4, uint64_t va, uint64_t page_size, bool global,
                cpu_model::TlbCache::AccessKind kind);
    const cpu_model::TlbCache& cache() const { return cache_; }

private:
    static uint16_t pcid_of(uint64_t cr3, uint64_t cr4) {
        return (cr4 & (1u << 17)) ? static_cast<uint16_t>(cr3 & 0xfff) : 0;
    }
    cpu_model::TlbCache cache_;
    uint64_t cr4_ = 0;
    uint64_t cr3_ = 0;
};

}  // namespace emu
