// Exception-table entries (in the spirit of Linux's _ASM_EXTABLE): a pair (faulting
// instruction, fixup). When a kernel-mode exception's RIP equals `insn`, the trap dispatcher
// records the exception and resumes at `fixup` instead of oopsing. The table is the
// __ex_table section, bounded by __start___ex_table/__stop___ex_table (kernel.ld).
#pragma once

#ifdef __ASSEMBLER__
#define EXTABLE_ENTRY(insn, fixup) \
	.pushsection __ex_table, "a"; \
	.balign 8; \
	.quad insn, fixup; \
	.popsection
#else
// For inline asm: EXTABLE_ENTRY_STR("1b", "2f").
#define EXTABLE_ENTRY_STR(insn, fixup) \
	".pushsection __ex_table, \"a\"\n\t" \
	".balign 8\n\t" \
	".quad " insn ", " fixup "\n\t" \
	".popsection\n\t"
#endif
