// SMP: the local APIC's timer and IPIs on every CPU, and TLB shootdown (SDM vol. 3A 10.5.4
// APIC timer, 10.6 IPIs, 10.12 x2APIC; 4.10.5 propagation of paging-structure changes to
// multiple processors). The tests run on CPU 0; the other CPUs take part from their idle
// loop (smp::run_on) or in interrupt context (smp::call_function). With one CPU the
// cross-CPU parts have nobody to reach and pass with a diagnostic; without x2APIC (QEMU's
// TCG) the tests skip.
#include "arch/x86/apic.h"
#include "arch/x86/cpu.h"
#include "arch/x86/irq.h"
#include "kernel/smp.h"
#include "kernel/tick.h"
#include "mm/asi/asi.h"
#include "mm/early_frame_allocator.h"
#include "mm/kernel_mappings.h"
#include "mm/kernel_page_allocator.h"
#include "mm/kernel_va.h"
#include "mm/phys.h"
#include "mm/tlb.h"
#include "mm/tlb_shootdown.h"
#include "test/tests.h"

namespace tests {
namespace {

// A vector of its own for these tests (class 0xf like the kernel's, unused by them).
constexpr uint8_t kTestVector = 0xf3;
constexpr uint32_t kOneShotCount = 5000;
// Waits are bounded in TSC ticks (guest instructions plus idle time on asi-emu).
constexpr uint64_t kWaitBound = 200ull * tick::kTickInstructions;

constinit uint64_t g_test_irqs[smp::kMaxCpus]{};

void on_test_vector(const x86::TrapFrame&) {
    __atomic_fetch_add(&g_test_irqs[smp::this_cpu()], 1, __ATOMIC_RELAXED);
    x86::apic::eoi();
}

uint64_t test_irqs(uint32_t cpu) { return __atomic_load_n(&g_test_irqs[cpu], __ATOMIC_RELAXED); }

// Waits (answering interrupts) until done() or the bound; returns done(). Past the bound it
// still opens one interrupt window: a PAUSE may give a whole time slice away at once (asi-emu
// counts it as spent), so an interrupt that became pending meanwhile gets its chance.
template <class Done>
bool wait_for(Done done) {
    const uint64_t t0 = x86::rdtsc();
    while (!done()) {
        if (x86::rdtsc() - t0 > kWaitBound) {
            x86::interrupt_window();
            return done();
        }
        smp::wait_relax();
    }
    return true;
}

template <class F>
void for_each_other_cpu(F f) {
    const uint64_t others = smp::online_mask() & ~smp::cpu_bit(smp::this_cpu());
    for (uint32_t cpu = 0; cpu < smp::kMaxCpus; ++cpu)
        if (others & smp::cpu_bit(cpu)) f(cpu);
}

uint32_t others() { return smp::online_count() - 1; }

// ---- apic_timer -----------------------------------------------------------------------

struct OneShotResult {
    bool fired;
    uint64_t count;          // test interrupts taken
    uint32_t left_before;    // current count right after arming (counting down)
    uint32_t left_after;     // current count after expiry (0)
};
constinit OneShotResult g_oneshot[smp::kMaxCpus]{};

// On each CPU in process context: a one-shot timer on the test vector in place of the
// tick, then the tick again.
void one_shot(void*) {
    const uint32_t cpu = smp::this_cpu();
    OneShotResult& r = g_oneshot[cpu];
    const uint64_t before = test_irqs(cpu);
    x86::apic::stop_timer();
    x86::apic::start_oneshot_timer(kTestVector, kOneShotCount);
    r.left_before = x86::apic::timer_current_count();
    r.fired = wait_for([&] { return test_irqs(cpu) != before; });
    // Well past the expiry: a one-shot timer must not fire again (SDM 10.5.4).
    const uint64_t t0 = x86::rdtsc();
    while (x86::rdtsc() - t0 < 4 * kOneShotCount) smp::wait_relax();
    r.count = test_irqs(cpu) - before;
    r.left_after = x86::apic::timer_current_count();
    tick::start_cpu();
}

}  // namespace

void apic_timer(ktap::Test& t) {
    if (!x86::apic::available()) return t.skip("CPU has no x2APIC");
    x86::irq::set_handler(kTestVector, on_test_vector);
    // The periodic tick advances on every CPU.
    uint64_t ticks[smp::kMaxCpus] = {};
    const uint64_t online = smp::online_mask();
    for (uint32_t cpu = 0; cpu < smp::kMaxCpus; ++cpu) ticks[cpu] = tick::ticks(cpu);
    const bool all = !tick::enabled() || wait_for([&] {
        for (uint32_t cpu = 0; cpu < smp::kMaxCpus; ++cpu)
            if ((online & smp::cpu_bit(cpu)) && tick::ticks(cpu) == ticks[cpu]) return false;
        return true;
    });
    if (!tick::enabled()) t.diag("no periodic tick (nolapic_timer): one-shot timers only");
    if (!all) {
        for (uint32_t cpu = 0; cpu < smp::kMaxCpus; ++cpu)
            if ((online & smp::cpu_bit(cpu)) && tick::ticks(cpu) == ticks[cpu]) t.fail("CPU %u: no tick", cpu);
    }
    // A one-shot timer on each CPU fires exactly once.
    one_shot(nullptr);
    for_each_other_cpu([](uint32_t cpu) { smp::run_on(cpu, one_shot, nullptr); });
    for (uint32_t cpu = 0; cpu < smp::kMaxCpus; ++cpu) {
        if (!(online & smp::cpu_bit(cpu))) continue;
        const OneShotResult& r = g_oneshot[cpu];
        if (!r.fired || r.count != 1 || r.left_after != 0 || r.left_before == 0 || r.left_before > kOneShotCount)
            t.fail("CPU %u one-shot: fired=%d interrupts=%lu count after arming %u, after expiry %u", cpu, r.fired,
                   r.count, r.left_before, r.left_after);
    }
    t.diag("%u CPU(s); CPU 0: %lu ticks of %u instructions so far", smp::online_count(), tick::ticks(0),
           tick::kTickInstructions);
}

// ---- ipi_delivery ---------------------------------------------------------------------

namespace {

constinit uint32_t g_seen_apic_id[smp::kMaxCpus]{};

void record_apic_id(void*) { g_seen_apic_id[smp::this_cpu()] = x86::apic::id(); }

}  // namespace

void ipi_delivery(ktap::Test& t) {
    if (!x86::apic::available()) return t.skip("CPU has no x2APIC");
    x86::irq::set_handler(kTestVector, on_test_vector);
    const uint32_t me = smp::this_cpu();
    // Self IPI with IF=0: held in the IRR until the interrupt window (SDM 10.8.4).
    const uint64_t before = test_irqs(me);
    x86::apic::send_ipi_self(kTestVector);
    KT_EXPECT_EQ(t, test_irqs(me), before);
    x86::interrupt_window();
    KT_EXPECT_EQ(t, test_irqs(me), before + 1);
    // A fixed IPI to each other CPU, by its x2APIC ID.
    for_each_other_cpu([&](uint32_t cpu) {
        const uint64_t n = test_irqs(cpu);
        x86::apic::send_ipi(cpu, kTestVector);
        if (!wait_for([&] { return test_irqs(cpu) == n + 1; }))
            t.fail("IPI to CPU %u: %lu interrupts, expected %lu", cpu, test_irqs(cpu), n + 1);
    });
    // All but self (destination shorthand 11b).
    uint64_t counts[smp::kMaxCpus] = {};
    for (uint32_t cpu = 0; cpu < smp::kMaxCpus; ++cpu) counts[cpu] = test_irqs(cpu);
    x86::apic::send_ipi_all_but_self(kTestVector);
    for_each_other_cpu([&](uint32_t cpu) {
        if (!wait_for([&] { return test_irqs(cpu) == counts[cpu] + 1; }))
            t.fail("all-but-self IPI: CPU %u took %lu, expected %lu", cpu, test_irqs(cpu), counts[cpu] + 1);
    });
    x86::interrupt_window();
    KT_EXPECT_EQ(t, test_irqs(me), counts[me]);  // not to the sender
    // Call function: each CPU reports its own x2APIC ID (= CPU number).
    for (uint32_t cpu = 0; cpu < smp::kMaxCpus; ++cpu) {
        if (!smp::is_online(cpu)) continue;
        g_seen_apic_id[cpu] = ~0u;
        smp::call_function(cpu, record_apic_id, nullptr);
        if (g_seen_apic_id[cpu] != cpu) t.fail("CPU %u reports x2APIC ID %u", cpu, g_seen_apic_id[cpu]);
    }
    if (others() == 0) t.diag("one CPU: only the self IPI and the local call could be checked");
    else t.diag("IPIs to %u other CPU(s) delivered and acknowledged", others());
}

// ---- tlb_shootdown --------------------------------------------------------------------

namespace {

constinit uint64_t g_probe_va = 0;
constinit uint64_t g_probe_value[smp::kMaxCpus]{};

// In interrupt context on each CPU: a read through the test mapping (caching it).
void read_probe(void*) {
    g_probe_value[smp::this_cpu()] = *reinterpret_cast<volatile uint64_t*>(g_probe_va);
}

// Reads the mapping on every online CPU; counts those that saw `expected`.
uint32_t read_everywhere(ktap::Test& t, uint64_t expected, const char* when) {
    uint32_t right = 0;
    for (uint32_t cpu = 0; cpu < smp::kMaxCpus; ++cpu) {
        if (!smp::is_online(cpu)) continue;
        g_probe_value[cpu] = 0;
        smp::call_function(cpu, read_probe, nullptr);
        if (g_probe_value[cpu] == expected) ++right;
        else t.fail("%s: CPU %u read %#lx, expected %#lx", when, cpu, g_probe_value[cpu], expected);
    }
    return right;
}

}  // namespace

void tlb_shootdown(ktap::Test& t) {
    if (!x86::apic::available()) return t.skip("CPU has no x2APIC");
    constexpr uint64_t kOld = 0x0101010101010101, kNew = 0x0202020202020202;
    const uint64_t va = mm::vmalloc_range().allocate(1);
    const uint64_t a = mm::allocate_zeroed_frame(), b = mm::allocate_zeroed_frame();
    if (!KT_EXPECT(t, va != 0 && a != 0 && b != 0)) return;
    *static_cast<volatile uint64_t*>(mm::phys_to_virt(a)) = kOld;
    *static_cast<volatile uint64_t*>(mm::phys_to_virt(b)) = kNew;
    mm::KernelPageTable& pt = mm::kernel_page_table();
    const uint64_t flags = mm::pte::kWritable | mm::nx_flag();
    if (!KT_EXPECT(t, pt.map_4k(va, a, flags) == mm::MapError::kOk)) return;
    g_probe_va = va;
    // Every CPU caches va -> a.
    read_everywhere(t, kOld, "before the change");

    // va -> b: a change of frame of a present entry needs an invalidation on every CPU that
    // may cache it (SDM 4.10.4.2, 4.10.5).
    const mm::tlb::Counters mine = mm::tlb::counters();
    uint64_t received[smp::kMaxCpus] = {};
    for_each_other_cpu([&](uint32_t cpu) { received[cpu] = mm::tlb::counters_of(cpu).ipis_received; });
    KT_EXPECT(t, pt.unmap_4k(va) == mm::MapError::kOk);
    KT_EXPECT(t, pt.map_4k(va, b, flags) == mm::MapError::kOk);
    mm::tlb::flush_kernel_range_all_cpus(va, 1);

    KT_EXPECT_EQ(t, mm::tlb::counters().ipis_sent, mine.ipis_sent + others());
    for_each_other_cpu([&](uint32_t cpu) {
        if (mm::tlb::counters_of(cpu).ipis_received != received[cpu] + 1)
            t.fail("CPU %u handled %lu shootdown IPIs, expected %lu", cpu, mm::tlb::counters_of(cpu).ipis_received,
                   received[cpu] + 1);
    });
    const uint32_t right = read_everywhere(t, kNew, "after the shootdown");

    pt.unmap_4k(va);
    mm::tlb::flush_kernel_range_all_cpus(va, 1);
    t.diag("%u CPU(s) see the new translation after %u shootdown IPI(s)", right, others());
}

// ---- asi_shootdown_rule ---------------------------------------------------------------

namespace {

struct EntryResult {
    uint64_t generation_flushes;  // delta over asi_enter
    bool up_to_date;
};
constinit EntryResult g_entry[smp::kMaxCpus]{};

void enter_relax(void*) {
    const uint32_t cpu = smp::this_cpu();
    const uint64_t before = mm::tlb::counters().generation_flushes;
    asi::enter();
    asi::relax();
    g_entry[cpu].generation_flushes = mm::tlb::counters().generation_flushes - before;
    g_entry[cpu].up_to_date = mm::tlb::flushed_generation(cpu, mm::tlb::Space::kRestricted) >=
                              mm::tlb::generation(mm::tlb::Space::kRestricted);
}
void leave(void*) { asi::exit(asi::ExitReason::kOther); }

}  // namespace

// The 2022 RFC's rule (mm/tlb_shootdown.h): a restricted-space flush interrupts the CPUs
// inside ASI only; a CPU outside flushes with its next entry.
void asi_shootdown_rule(ktap::Test& t) {
    if (!x86::apic::available()) return t.skip("CPU has no x2APIC");
    if (!asi::enabled()) return t.skip("ASI is off (asi=off)");
    using mm::tlb::Space;
    const uint64_t page = mm::alloc_pages(0, page_alloc::GFP_KERNEL);
    if (!KT_EXPECT(t, page != 0)) return;
    const uint64_t va = mm::direct_map_va(page);

    // Everyone else inside ASI: each gets an IPI.
    for_each_other_cpu([](uint32_t cpu) { smp::run_on(cpu, enter_relax, nullptr); });
    mm::tlb::Counters before = mm::tlb::counters();
    mm::tlb::flush_restricted_all_cpus(va, 1);
    KT_EXPECT_EQ(t, mm::tlb::counters().ipis_sent, before.ipis_sent + others());
    KT_EXPECT_EQ(t, mm::tlb::counters().ipis_avoided, before.ipis_avoided);
    for_each_other_cpu([&](uint32_t cpu) {
        if (mm::tlb::flushed_generation(cpu, Space::kRestricted) < mm::tlb::generation(Space::kRestricted))
            t.fail("CPU %u (inside ASI) did not flush", cpu);
    });

    // Everyone else outside: nobody is interrupted, each flushes as it enters.
    for_each_other_cpu([](uint32_t cpu) { smp::run_on(cpu, leave, nullptr); });
    before = mm::tlb::counters();
    mm::tlb::flush_restricted_all_cpus(va, 1);
    KT_EXPECT_EQ(t, mm::tlb::counters().ipis_sent, before.ipis_sent);
    KT_EXPECT_EQ(t, mm::tlb::counters().ipis_avoided, before.ipis_avoided + others());
    for_each_other_cpu([&](uint32_t cpu) {
        smp::run_on(cpu, enter_relax, nullptr);
        if (g_entry[cpu].generation_flushes != 1 || !g_entry[cpu].up_to_date)
            t.fail("CPU %u entering ASI: %lu flushing loads owed to the request, up to date %d", cpu,
                   g_entry[cpu].generation_flushes, g_entry[cpu].up_to_date);
        smp::run_on(cpu, leave, nullptr);
    });
    mm::free_pages(page, 0);
    if (others() == 0) t.diag("one CPU: no other CPU to interrupt or to defer");
    else t.diag("%u CPU(s) inside ASI interrupted; %u outside deferred to their entry", others(), others());
}

}  // namespace tests
