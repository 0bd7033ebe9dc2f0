// Probe helpers (probe.S): single instructions that may fault, each with an exception-table
// entry. They return true when the access completed and false when it faulted; the fault is
// then visible through x86::ExpectException.
#pragma once
#include <stdint.h>

#include "arch/x86/cpu.h"

extern "C" {
bool probe_read_u8(uint64_t addr, uint8_t* out);
bool probe_read_u64(uint64_t addr, uint64_t* out);
bool probe_write_u8(uint64_t addr, uint8_t value);
bool probe_write_u64(uint64_t addr, uint64_t value);
// mov selector -> DS, then DS = KERNEL_DS again.
bool probe_load_ds(uint16_t selector);
// INVPCID type, [desc].
bool probe_invpcid(uint64_t type, const x86::InvpcidDescriptor* desc);
}
