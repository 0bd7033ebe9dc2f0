// Human and JSON renderings of leak-oracle verdicts: the rule, where, the instruction
// (symbolised from the ELF's symbol table and disassembled with Capstone) and the chain of
// events that led there. Used by `run`, `replay` and `explain`.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "cpu_model/leak_oracle.h"
#include "emu/elf_image.h"
#include "emu/events.h"

namespace emu {

// The guest's code, for symbols and disassembly: the ELF image and its bytes.
class CodeView {
public:
    CodeView() = default;
    CodeView(const ElfImage* image, std::span<const uint8_t> file) : image_(image), file_(file) {}
    // "0xffffffff80201234 <asi_enter+0x14>: mov cr3, rax"
    std::string describe(uint64_t rip) const;
    std::string symbol(uint64_t rip) const;

private:
    const ElfImage* image_ = nullptr;
    std::span<const uint8_t> file_;
};

std::string describe_event(const Event& e);
std::string format_violation(const cpu_model::Violation& v, const CodeView& code);
std::string verdict_line(uint64_t violation_count, const std::vector<cpu_model::Violation>& violations);
std::string oracle_metrics_text(const cpu_model::OracleMetrics& m);

}  // namespace emu
