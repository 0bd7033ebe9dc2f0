#include "kernel/workload_hooks.h"

#include "arch/x86/cpu.h"
#include "mm/asi/asi.h"
#include "mm/phys.h"
#include "mm/pte.h"
#include "mm/set_memory.h"

namespace kernel_workload {
namespace {

constexpr uint64_t kSecret = 0x5ec2e7da7a5ec2e7ull;  // never zero: residue must be visible
constexpr uint64_t kPublic = 0x9b11c0ffee9b11c0ull;  // written into nonsensitive blocks
constexpr uint32_t kPatternWords = 8;                // 64 bytes at the start of each page

}  // namespace

void GuestHooks::between_ops() {
    x86::interrupt_window();
    asi::enter();
    asi::relax();
}

void GuestHooks::fill(uint64_t pa, uint32_t order, uint64_t key) {
    for (uint64_t i = 0; i < (1ull << order); ++i) {
        const uint64_t page = pa + i * mm::pte::k4K;
        volatile uint64_t* p = static_cast<volatile uint64_t*>(mm::phys_to_virt(page));
        for (uint32_t w = 0; w < kPatternWords; ++w) p[w] = key ^ (page + w);
    }
}

void GuestHooks::write_secret(uint64_t pa, uint32_t order) {
    fill(pa, order, kSecret);
    stats_.secret_pages += 1ull << order;
}

void GuestHooks::write_public(uint64_t pa, uint32_t order) {
    fill(pa, order, kPublic);
    stats_.public_pages += 1ull << order;
}

void GuestHooks::read_pages(uint64_t pa, uint32_t order) {
    for (uint64_t i = 0; i < (1ull << order); ++i)
        sink_ += *static_cast<volatile uint64_t*>(mm::phys_to_virt(pa + i * mm::pte::k4K));
    stats_.read_pages += 1ull << order;
}

bool GuestHooks::seal(uint64_t pa) {
    if (sealed_count_ == kMaxSealed || !mm::set_direct_map_ro(pa)) return false;
    sealed_[sealed_count_++] = pa;
    ++stats_.sealed;
    return true;
}

void GuestHooks::unseal_if_sealed(uint64_t pa) {
    for (uint32_t i = 0; i < sealed_count_; ++i) {
        if (sealed_[i] != pa) continue;
        mm::set_direct_map_rw(pa);
        sealed_[i] = sealed_[--sealed_count_];
        return;
    }
}

void GuestHooks::on_alloc(uint64_t pa, uint32_t order, page_alloc::gfp_t gfp, uint64_t owner) {
    if (gfp & page_alloc::kGfpSensitive) {
        write_secret(pa, order);
        return;
    }
    read_pages(pa, order);
    if (owner == 0 && order == 0 && kernel_pages_++ % kSealEvery == 0) seal(pa);
}

void GuestHooks::on_free(uint64_t pa, uint32_t order, page_alloc::gfp_t gfp) {
    (void)order;
    if (!(gfp & page_alloc::kGfpSensitive)) unseal_if_sealed(pa);
}

}  // namespace kernel_workload
