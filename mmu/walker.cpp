#include "mmu/walker.h"

namespace mmu {
namespace {

// SDM 4.7: W/R, U/S and I/D describe the access, whatever caused the fault. I/D is reported
// only when execute-disable or SMEP is in force.
uint32_t access_error_bits(AccessType access, const AccessContext& ctx) {
    uint32_t ec = 0;
    if (access == AccessType::Write) ec |= pf_error::kWrite;
    if (ctx.user) ec |= pf_error::kUser;
    if (access == AccessType::Execute && (ctx.efer_nxe || ctx.cr4_smep))
        ec |= pf_error::kInstructionFetch;
    return ec;
}

// SDM 4.6: is this access allowed to a page with these combined rights?
bool access_allowed(const Translation& t, AccessType access, const AccessContext& ctx) {
    switch (access) {
    case AccessType::Read:
        return !ctx.user || t.user;
    case AccessType::Write:
        if (ctx.user) return t.user && t.writable;
        return !ctx.cr0_wp || t.writable;
    case AccessType::Execute:
        if (!t.executable) return false;
        if (ctx.user) return t.user;
        return !(ctx.cr4_smep && t.user);
    }
    return false;
}

}  // namespace

WalkResult walk(PhysicalMemory& mem, uint64_t cr3, uint64_t va, AccessType access,
                const AccessContext& ctx) {
    WalkResult r;
    Translation& t = r.t;
    t.va_page = va & ~(kPageSize4K - 1);
    if (!is_canonical(va)) {
        r.status = WalkStatus::NonCanonical;
        return r;
    }

    uint64_t table = cr3_table_address(cr3, ctx.maxphyaddr);
    uint64_t entry_pa[4] = {};
    uint64_t entry_raw[4] = {};
    int used = 0;
    t.writable = t.user = t.executable = true;

    for (int lv = 4; lv >= 1; --lv) {
        const auto level = static_cast<PteLevel>(lv);
        t.table_pa[4 - lv] = table;
        const uint64_t pa = table + uint64_t{index_of(level, va)} * sizeof(uint64_t);
        t.leaf_level = lv;
        t.leaf_entry_pa = pa;
        const std::optional<uint64_t> raw = mem.read_u64(pa);
        if (!raw) {
            t.leaf_entry = 0;
            r.status = WalkStatus::TableOutsideRam;
            return r;
        }
        t.leaf_entry = *raw;
        if (!(*raw & pte_bits::kPresent)) {
            r.status = WalkStatus::PageFault;
            r.error_code = access_error_bits(access, ctx);
            return r;
        }
        if (entry_reserved_bits_set(level, *raw, ctx.maxphyaddr, ctx.efer_nxe) != 0) {
            r.status = WalkStatus::PageFault;
            r.error_code =
                pf_error::kPresent | pf_error::kReservedBit | access_error_bits(access, ctx);
            return r;
        }
        t.writable = t.writable && (*raw & pte_bits::kWritable);
        t.user = t.user && (*raw & pte_bits::kUser);
        if (ctx.efer_nxe) t.executable = t.executable && !(*raw & pte_bits::kNoExecute);
        entry_pa[used] = pa;
        entry_raw[used] = *raw;
        ++used;
        if (entry_maps_page(level, *raw)) {
            t.page_size = span_of(level);
            t.global = ctx.cr4_pge && (*raw & pte_bits::kGlobal);
            t.va_page = va & ~(t.page_size - 1);
            t.pa = entry_address(level, *raw) | (va & (t.page_size - 1));
            t.frame = t.pa & ~(kPageSize4K - 1);
            break;
        }
        table = entry_address(level, *raw);
    }

    if (!access_allowed(t, access, ctx)) {
        r.status = WalkStatus::PageFault;
        r.error_code = pf_error::kPresent | access_error_bits(access, ctx);
        return r;
    }

    if (ctx.set_accessed_dirty) {
        for (int i = 0; i < used; ++i) {
            uint64_t v = entry_raw[i] | pte_bits::kAccessed;
            if (i == used - 1 && access == AccessType::Write) v |= pte_bits::kDirty;
            if (v != entry_raw[i]) mem.write_u64(entry_pa[i], v);
            if (i == used - 1) t.leaf_entry = v;
        }
    }
    r.status = WalkStatus::Ok;
    return r;
}

}  // namespace mmu
