// A leak-oracle verdict: which rule, where, and the chain of events that led there.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "emu/events.h"

namespace cpu_model {

enum class Rule : uint8_t {
    R1Mapped = 1,     // a sensitive frame is present in a restricted page table
    R2Stale = 2,      // reachable through a possibly-cached stale translation of a restricted PCID
    R3Global = 3,     // a global translation to a sensitive frame survives into the restricted space
    R4Residue = 4,    // a frame holding residue becomes reachable in a restricted context
    R5TableReuse = 5, // a page-table frame is freed while a paging-structure cache may point to it
    R6L1tf = 6,       // (L1TF profile) a not-present restricted entry names a sensitive frame
};

const char* rule_name(Rule r);         // "R1", ...
const char* rule_title(Rule r);        // "mapped", "stale", ...

struct Violation {
    Rule rule{};
    unsigned vcpu = 0;
    uint16_t pcid = 0;
    uint64_t va = 0;
    uint64_t frame = 0;
    uint64_t icount = 0;
    uint64_t rip = 0;            // the instruction whose event exposed the frame
    uint64_t event_index = 0;    // position of that event in the stream
    std::string how;             // how the frame is reachable (source, root, entry)
    struct Link {
        uint64_t index;          // position in the event stream
        emu::Event event;
        std::string note;        // why it is part of the chain
    };
    std::vector<Link> chain;     // the events that led there, oldest first, the trigger last
};

}  // namespace cpu_model
