#include "test/tests.h"

namespace ktap {
namespace {

// Run order for test=all. double_fault_ist sits in the middle on purpose: the tests after it
// show that the kernel carries on normally after a #DF.
constexpr TestCase kTests[] = {
    {"direct_map_alias", tests::direct_map_alias},
    {"kernel_page_tables", tests::kernel_page_tables},
    {"page_fault_not_present", tests::page_fault_not_present},
    {"three_page_faults", tests::three_page_faults},
    {"write_to_readonly", tests::write_to_readonly},
    {"int3", tests::int3},
    {"ud2", tests::ud2},
    {"non_canonical", tests::non_canonical},
    {"bad_selector", tests::bad_selector},
    {"double_fault_ist", tests::double_fault_ist},
    {"cr3_noflush_readback", tests::cr3_noflush_readback},
    {"stale_after_noflush", tests::stale_after_noflush},
    {"invpcid_types", tests::invpcid_types},
    {"user_mode", tests::user_mode},
    {"rdtsc_monotonic", tests::rdtsc_monotonic},
    {"cpuid_features", tests::cpuid_features},
    {"asi_state", tests::asi_state},
    {"asi_fault_exit", tests::asi_fault_exit},
    {"asi_address_space_shape", tests::asi_address_space_shape},
    {"asi_sensitive_unmapped", tests::asi_sensitive_unmapped},
    {"asi_half_memory", tests::asi_half_memory},
    {"rmap_all_mapped_as", tests::rmap_all_mapped_as},
    {"page_alloc_stress", tests::page_alloc_stress},
    {"rfc_deferred_unmap", tests::rfc_deferred_unmap},
    {"fuzz_check_scope", tests::fuzz_check_scope},
    {"apic_timer", tests::apic_timer},
    {"ipi_delivery", tests::ipi_delivery},
    {"tlb_shootdown", tests::tlb_shootdown},
    {"asi_shootdown_rule", tests::asi_shootdown_rule},
};

}  // namespace

const TestCase* test_cases(uint32_t* count) {
    *count = sizeof(kTests) / sizeof(kTests[0]);
    return kTests;
}

}  // namespace ktap
