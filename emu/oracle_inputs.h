// What the leak oracle reads besides events: the content a frame has when it becomes a page
// table, and whether a frame is all zero. Live runs read guest RAM and record each answer in
// the event stream (TableSnapshot/TableEntry, FrameContent) just before the event that asked;
// a replay serves the recorded answers, so it needs no RAM (DESIGN 2: the oracle is a pure
// function of the stream).
#pragma once
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "cpu_model/leak_oracle.h"
#include "emu/events.h"
#include "mmu/address_space_index.h"
#include "mmu/physical_memory.h"

namespace emu {

class LiveOracleInputs final : public mmu::TableReader, public cpu_model::FrameContentSource {
public:
    explicit LiveOracleInputs(const mmu::PhysicalMemory& ram) : ram_(ram) {}
    bool read_table(uint64_t table_pa, mmu::TableEntries& out) override;
    bool frame_is_zero(uint64_t frame) override;
    // The records produced since the last call, to be written before the event that asked.
    std::vector<Event> take_records();
    void set_context(const Event& e) { context_ = e; }

private:
    Event record(EventKind kind, std::initializer_list<uint64_t> args) const;
    const mmu::PhysicalMemory& ram_;
    Event context_;
    std::vector<Event> records_;
};

class RecordedOracleInputs final : public mmu::TableReader, public cpu_model::FrameContentSource {
public:
    // Consumes TableSnapshot, TableEntry and FrameContent; false for any other event.
    bool consume(const Event& e);
    bool read_table(uint64_t table_pa, mmu::TableEntries& out) override;
    bool frame_is_zero(uint64_t frame) override;

private:
    std::unordered_map<uint64_t, std::vector<std::pair<unsigned, uint64_t>>> tables_;
    std::unordered_map<uint64_t, bool> zero_;
};

}  // namespace emu
