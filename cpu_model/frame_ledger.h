// What each physical frame may hold, as the leak oracle sees it (DESIGN 5, "Frame ledger").
//
// A frame is *sensitive* from an allocation tracepoint with __GFP_SENSITIVE until it is freed;
// from then on it holds *residue* until its content is seen to be all zero (the bytes are
// checked, the guest's word is not taken). A sensitive frame has an owner (0 = the kernel,
// else a process): it is not a secret to its owner. Per-pageblock counts let the rules skip
// a 2 MiB mapping that contains no secret in O(1).
#pragma once
#include <cstdint>
#include <set>
#include <unordered_map>
#include <vector>

#include "mmu/restorable.h"

namespace cpu_model {

class FrameLedger {
public:
    explicit FrameLedger(uint64_t ram_size);

    void allocate(uint64_t frame, bool sensitive, uint64_t owner);
    void free(uint64_t frame);
    void clear_residue(uint64_t frame);  // its content was seen to be zero

    bool sensitive(uint64_t frame) const { return state(frame) & kSensitive; }
    bool residue(uint64_t frame) const { return state(frame) & kResidue; }
    bool allocated(uint64_t frame) const { return state(frame) & kAllocated; }
    uint64_t owner(uint64_t frame) const;
    // True when [base, base + size) holds a sensitive or residue frame.
    bool range_has_secrets(uint64_t base, uint64_t size) const;
    const std::set<uint64_t>& sensitive_frames() const { return sensitive_; }
    const std::set<uint64_t>& residue_frames() const { return residue_; }
    uint64_t digest() const;

private:
    static constexpr uint8_t kAllocated = 1, kSensitive = 2, kResidue = 4;
    static constexpr unsigned kBlockShift = 21;  // pageblock: 2 MiB
    uint8_t state(uint64_t frame) const {
        const uint64_t i = frame >> 12;
        return i < states_.size() ? states_[i] : 0;
    }
    void set(uint64_t frame, uint8_t s);

    mmu::RestorableArray<uint8_t> states_;             // one byte per 4 KiB frame of RAM
    mmu::RestorableArray<uint32_t> secrets_per_block_;  // sensitive + residue frames per 2 MiB
    // Owner per frame index, for the few frames a process owns (absent: the kernel, 0).
    // Sparse, so that copying the ledger (machine snapshots) does not scale with RAM.
    std::unordered_map<uint64_t, uint64_t> owners_;
    std::set<uint64_t> sensitive_;
    std::set<uint64_t> residue_;
};

}  // namespace cpu_model
