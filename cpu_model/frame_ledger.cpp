#include "cpu_model/frame_ledger.h"

#include "mmu/state_digest.h"

#include <algorithm>

namespace cpu_model {

FrameLedger::FrameLedger(uint64_t ram_size)
    : states_(ram_size >> 12, 0), secrets_per_block_((ram_size >> kBlockShift) + 1, 0) {}

void FrameLedger::set(uint64_t frame, uint8_t s) {
    const uint64_t i = frame >> 12;
    if (i >= states_.size()) return;
    const bool had = states_[i] & (kSensitive | kResidue), has = s & (kSensitive | kResidue);
    if (had != has) secrets_per_block_.writable(frame >> kBlockShift) += has ? 1 : -1;
    if (s & kSensitive) sensitive_.insert(frame);
    else sensitive_.erase(frame);
    if (s & kResidue) residue_.insert(frame);
    else residue_.erase(frame);
    states_.set(i, s);
}

void FrameLedger::allocate(uint64_t frame, bool sensitive, uint64_t owner) {
    // Residue survives a nonsensitive allocation: only zeroing removes it.
    uint8_t s = (state(frame) & kResidue) | kAllocated;
    if (sensitive) s |= kSensitive;
    if (frame >> 12 < states_.size()) {
        if (sensitive && owner) owners_[frame >> 12] = owner;
        else owners_.erase(frame >> 12);
    }
    set(frame, s);
}

void FrameLedger::free(uint64_t frame) {
    uint8_t s = state(frame) & kResidue;
    if (state(frame) & kSensitive) s |= kResidue;
    set(frame, s);
}

void FrameLedger::clear_residue(uint64_t frame) { set(frame, state(frame) & ~kResidue); }

uint64_t FrameLedger::owner(uint64_t frame) const {
    auto it = owners_.find(frame >> 12);
    return it != owners_.end() ? it->second : 0;
}

bool FrameLedger::range_has_secrets(uint64_t base, uint64_t size) const {
    const uint64_t end = base + size;
    if (size >= (1ull << kBlockShift)) {
        for (uint64_t b = base >> kBlockShift; (b << kBlockShift) < end; ++b)
            if (b < secrets_per_block_.size() && secrets_per_block_[b]) return true;
        return false;
    }
    if (!secrets_per_block_[std::min<uint64_t>(base >> kBlockShift, secrets_per_block_.size() - 1)]) return false;
    for (uint64_t f = base; f < end; f += 4096)
        if (state(f) & (kSensitive | kResidue)) return true;
    return false;
}

uint64_t FrameLedger::digest() const {
    mmu::Digest d;
    for (size_t i = 0; i < states_.size(); ++i)
        if (states_[i]) d.add(i).add(states_[i]).add(owner(i << 12));
    return d.add(owners_.size()).value();
}

}  // namespace cpu_model
