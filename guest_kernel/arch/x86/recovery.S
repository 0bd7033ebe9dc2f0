/*
 * uint64_t call_with_recovery(ResumeContext* ctx, void (*fn)(void*), void* arg)
 *
 * Saves the callee-saved registers, the caller's RSP after return and the return address
 * in *ctx, then calls fn(arg) and returns 0. recovery::resume() rewrites a trap frame from
 * *ctx with RAX = 1, so that IRETQ makes this call return 1 to its caller instead, whatever
 * stack and privilege level fn had reached.
 */
	.text
	.globl call_with_recovery
call_with_recovery:
	movq %rbx, 0(%rdi)
	movq %rbp, 8(%rdi)
	movq %r12, 16(%rdi)
	movq %r13, 24(%rdi)
	movq %r14, 32(%rdi)
	movq %r15, 40(%rdi)
	leaq 8(%rsp), %rax        /* RSP once the return address is popped */
	movq %rax, 48(%rdi)
	movq (%rsp), %rax         /* return address */
	movq %rax, 56(%rdi)
	pushfq
	popq %rax
	movq %rax, 64(%rdi)
	pushq %rbp                /* realign to 16 bytes for the call, and keep the RBP chain */
	movq %rsp, %rbp
	movq %rdx, %rdi
	call *%rsi
	popq %rbp
	xorl %eax, %eax
	ret
