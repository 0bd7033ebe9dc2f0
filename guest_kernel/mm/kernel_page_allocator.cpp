#include "mm/kernel_page_allocator.h"

#include "abi/asi_emu_abi.h"
#include "arch/x86/percpu.h"
#include "boot/boot_info.h"
#include "kernel/panic.h"
#include "mm/asi/asi.h"
#include "mm/asi/fault_injection.h"
#include "mm/asi/restricted_map.h"
#include "mm/early_frame_allocator.h"
#include "mm/page_alloc/policies.h"
#include "mm/phys.h"
#include "mm/pte.h"

namespace mm {
namespace {

using page_alloc::PhysRange;

constexpr uint32_t kMaxRanges = asi_abi::kMaxMemoryRegions + 8;

constinit GuestArch g_arch{};
constinit page_alloc::PolicySet<GuestArch> g_policies{};
constinit KernelPageAllocator g_allocator{};
constinit bool g_ready = false;
constinit PageAllocLayout g_layout{};

bool owned_by_allocator(uint64_t pa) {
    return g_allocator.contains(pa) && g_allocator.page_state(pa) != page_alloc::PageState::kReserved;
}
bool mapped_at_init(uint64_t pa) { return g_allocator.restricted_mapped_at_init(pa); }

uint64_t kernel_frame() { return alloc_pages(0, page_alloc::GFP_KERNEL | page_alloc::kGfpZero); }

}  // namespace

void init_page_allocator(const PageAllocConfig& config) {
    VERIFY(!g_ready);
    const asi_abi::BootInfo& bi = boot::info();
    PhysRange usable[asi_abi::kMaxMemoryRegions];
    uint32_t n_usable = 0;
    for (uint32_t i = 0; i < bi.region_count; ++i)
        if (bi.regions[i].type == asi_abi::kMemoryUsable)
            usable[n_usable++] = PhysRange{bi.regions[i].base, bi.regions[i].length};
    const page_alloc::ZoneSpan span = page_alloc::zone_span_for(usable, n_usable);
    VERIFY(span.pages != 0);

    // 1. mem_map.
    const uint64_t bytes = span.pages * sizeof(page_alloc::Page);
    const uint64_t frames = (bytes + pte::k4K - 1) / pte::k4K;
    const uint64_t metadata = early_frames().allocate_contiguous(frames);
    if (metadata == 0) panic("page allocator: no %lu contiguous frames for the page metadata", frames);
    g_layout.metadata_pa = metadata;
    g_layout.metadata_bytes = bytes;

    // 2. The restricted space's tables.
    const char* policy = config.asi ? config.policy : "off";
    page_alloc::AsiPolicy<GuestArch>* selected = g_policies.by_name(policy);
    if (selected == nullptr) panic("page allocator: unknown policy '%s'", policy);
    if (config.asi) {
        asi::rmap::Options options;
        options.page_granular = !selected->splits_by_sensitivity();  // rfc maps single pages
        options.l1tf_invert = config.l1tf_invert;
        options.global_entries = asi::bug(asi::Bug::kGlobalRestricted);
        asi::rmap::build(options);
    }

    // 3. Hand-over.
    EarlyFrameAllocator::FreeRange free[kMaxRanges];
    const uint32_t n = early_frames().retire(free, kMaxRanges);
    PhysRange ranges[kMaxRanges];
    for (uint32_t i = 0; i < n; ++i) {
        ranges[i] = PhysRange{free[i].base, free[i].length};
        if (g_layout.first_pa == 0 || free[i].base < g_layout.first_pa) g_layout.first_pa = free[i].base;
        if (free[i].base + free[i].length > g_layout.end_pa) g_layout.end_pa = free[i].base + free[i].length;
    }
    g_layout.ranges = n;
    page_alloc::AllocatorConfig<GuestArch> cfg;
    cfg.pages = static_cast<page_alloc::Page*>(phys_to_virt(metadata));
    cfg.span = span;
    cfg.ranges = ranges;
    cfg.range_count = n;
    cfg.cpus = bi.cpu_count;  // per-CPU lists for every CPU the machine has (kernel/smp.h)
    cfg.policy = selected;
    g_allocator.init(g_arch, cfg);
    g_arch.attach(&g_allocator);

    // 4. The restricted direct map, then ASI on.
    if (config.asi) {
        asi::rmap::populate(owned_by_allocator, mapped_at_init);
        asi::init();
    }

    // 5.
    set_frame_source(kernel_frame);
    g_ready = true;
}

bool page_allocator_ready() { return g_ready; }
KernelPageAllocator& page_allocator() { return g_allocator; }
GuestArch& page_allocator_arch() { return g_arch; }
const PageAllocLayout& page_alloc_layout() { return g_layout; }

uint64_t alloc_pages(uint32_t order, page_alloc::gfp_t gfp, uint64_t owner) {
    const uint64_t pa = g_allocator.alloc_pages(x86::percpu::cpu_id(), order, gfp, owner);
    return pa == KernelPageAllocator::kAllocFailed ? 0 : pa;
}

void free_pages(uint64_t pa, uint32_t order) { g_allocator.free_pages(x86::percpu::cpu_id(), pa, order); }

}  // namespace mm
