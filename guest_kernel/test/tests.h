// Self-test entry points, one group per file; registered in test_list.cpp.
#pragma once
#include "test/ktap.h"

namespace tests {

// test_memory.cpp
void direct_map_alias(ktap::Test& t);
void kernel_page_tables(ktap::Test& t);
void write_to_readonly(ktap::Test& t);
// test_exceptions.cpp
void page_fault_not_present(ktap::Test& t);
void three_page_faults(ktap::Test& t);
void int3(ktap::Test& t);
void ud2(ktap::Test& t);
void non_canonical(ktap::Test& t);
void bad_selector(ktap::Test& t);
// test_double_fault.cpp
void double_fault_ist(ktap::Test& t);
// test_tlb.cpp
void cr3_noflush_readback(ktap::Test& t);
void stale_after_noflush(ktap::Test& t);
void invpcid_types(ktap::Test& t);
// test_user_mode.cpp
void user_mode(ktap::Test& t);
// test_cpu.cpp
void rdtsc_monotonic(ktap::Test& t);
void cpuid_features(ktap::Test& t);
// test_asi.cpp
void asi_state(ktap::Test& t);
void asi_fault_exit(ktap::Test& t);
void asi_address_space_shape(ktap::Test& t);
// test_page_alloc.cpp
void asi_sensitive_unmapped(ktap::Test& t);
void asi_half_memory(ktap::Test& t);
void rmap_all_mapped_as(ktap::Test& t);
void page_alloc_stress(ktap::Test& t);
// test_rfc_deferred.cpp
void rfc_deferred_unmap(ktap::Test& t);
// test_fuzz_check.cpp
void fuzz_check_scope(ktap::Test& t);
// test_smp.cpp
void apic_timer(ktap::Test& t);
void ipi_delivery(ktap::Test& t);
void tlb_shootdown(ktap::Test& t);
void asi_shootdown_rule(ktap::Test& t);

}  // namespace tests
