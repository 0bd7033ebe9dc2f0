// Every ASI policy, and selection by the name given on the command line
// (asi.policy=freetype|rfc; asi=off selects "off"). A PolicySet has static storage in the
// guest (no heap); the allocator keeps a pointer to the selected member.
#pragma once

#include "policy.h"
#include "policy_freetype.h"
#include "policy_off.h"
#include "policy_rfc.h"

namespace page_alloc {

constexpr bool policy_names_equal(const char* a, const char* b) {
    while (*a != '\0' && *a == *b) ++a, ++b;
    return *a == *b;
}

template <class Arch>
struct PolicySet {
    FreetypePolicy<Arch> freetype;
    RfcPolicy<Arch> rfc;
    OffPolicy<Arch> off;

    static constexpr const char* kDefault = "freetype";
    static constexpr const char* kNames[] = {"freetype", "rfc", "off"};

    // nullptr for an unknown name.
    AsiPolicy<Arch>* by_name(const char* name) {
        if (policy_names_equal(name, "freetype")) return &freetype;
        if (policy_names_equal(name, "rfc")) return &rfc;
        if (policy_names_equal(name, "off")) return &off;
        return nullptr;
    }
};

}  // namespace page_alloc
