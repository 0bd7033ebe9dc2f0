#include "emu/tlb_stats.h"

namespace emu {

void TlbStats::access(uint64_t cr3, uint64_t cr4, uint64_t va, uint64_t page_size, bool global,
                      cpu_model::TlbCache::AccessKind kind) {
    cache_.access(pcid_of(cr3, cr4), va, page_size, global && (cr4 & (1u << 7)), kind);
}

// Invalidation scopes of SDM vol. 3A 4.10.4.1.
void TlbStats::on_event(const Event& e) {
    switch (e.kind) {
        case EventKind::VcpuState:
            cr3_ = e.a[1];
            cr4_ = e.a[2];
            break;
        case EventKind::Cr3Load:
            cr3_ = e.a[0];
            if (!e.a[2]) cache_.invalidate_pcid(pcid_of(cr3_, cr4_), /*keep_global=*/true);
            break;
        case EventKind::Cr4Write: {
            const uint64_t changed = e.a[0] ^ cr4_;
            if ((changed & (1u << 7)) || ((cr4_ & (1u << 17)) && !(e.a[0] & (1u << 17))))
                cache_.invalidate_all(false);
            cr4_ = e.a[0];
            break;
        }
        case EventKind::Cr0Write:
            if ((e.a[1] >> 31) && !(e.a[0] >> 31)) cache_.invalidate_all(false);
            break;
        case EventKind::Invlpg:
            cache_.invalidate_page(pcid_of(cr3_, cr4_), e.a[0]);
            break;
        case EventKind::Invpcid:
            switch (e.a[0]) {
                case 0: cache_.invalidate_page(static_cast<uint16_t>(e.a[1]), e.a[2]); break;
                case 1: cache_.invalidate_pcid(static_cast<uint16_t>(e.a[1]), true); break;
                case 2: cache_.invalidate_all(false); break;
                case 3: cache_.invalidate_all(true); break;
            }
            break;
        default:
            break;
    }
}

}  // namespace emu
