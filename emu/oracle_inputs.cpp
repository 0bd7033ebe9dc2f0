#include "emu/oracle_inputs.h"

#include <cstring>

namespace emu {

Event LiveOracleInputs::record(EventKind kind, std::initializer_list<uint64_t> args) const {
    Event e;
    e.icount = context_.icount;
    e.rip = context_.rip;
    e.vcpu = context_.vcpu;
    e.kind = kind;
    size_t i = 0;
    for (uint64_t a : args) e.a[i++] = a;
    return e;
}

bool LiveOracleInputs::read_table(uint64_t table_pa, mmu::TableEntries& out) {
    if (!ram_.contains(table_pa, 4096)) return false;
    std::memcpy(out.data(), ram_.data + table_pa, 4096);
    records_.push_back(record(EventKind::TableSnapshot, {table_pa}));
    for (unsigned i = 0; i < out.size(); ++i)
        if (out[i]) records_.push_back(record(EventKind::TableEntry, {table_pa, i, out[i]}));
    return true;
}

bool LiveOracleInputs::frame_is_zero(uint64_t frame) {
    bool zero = false;
    if (ram_.contains(frame, 4096)) {
        zero = true;
        const uint8_t* p = ram_.data + frame;
        for (size_t i = 0; i < 4096 && zero; i += 8) {
            uint64_t w;
            std::memcpy(&w, p + i, 8);
            zero = w == 0;
        }
    }
    records_.push_back(record(EventKind::FrameContent, {frame, zero ? 1u : 0u}));
    return zero;
}

std::vector<Event> LiveOracleInputs::take_records() {
    std::vector<Event> out;
    out.swap(records_);
    return out;
}

bool RecordedOracleInputs::consume(const Event& e) {
    switch (e.kind) {
        case EventKind::TableSnapshot:
            tables_[e.a[0]].clear();
            return true;
        case EventKind::TableEntry:
            if (e.a[1] < 512) tables_[e.a[0]].push_back({static_cast<unsigned>(e.a[1]), e.a[2]});
            return true;
        case EventKind::FrameContent:
            zero_[e.a[0]] = e.a[1] != 0;
            return true;
        default:
            return false;
    }
}

bool RecordedOracleInputs::read_table(uint64_t table_pa, mmu::TableEntries& out) {
    out.fill(0);
    auto it = tables_.find(table_pa);
    if (it == tables_.end()) return true;  // never snapshotted: all entries not present
    for (const auto& [index, value] : it->second) out[index] = value;
    return true;
}

bool RecordedOracleInputs::frame_is_zero(uint64_t frame) {
    auto it = zero_.find(frame);
    return it != zero_.end() && it->second;
}

}  // namespace emu
