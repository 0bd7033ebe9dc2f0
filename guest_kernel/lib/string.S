/*
 * memcpy, memmove, memset with the string instructions. Written in assembly so that the
 * compiler cannot turn their bodies back into calls to themselves, and so that asi-emu sees
 * one `rep movs`/`rep stos` it may carry out on the host buffer (DESIGN 4.11).
 * SysV ABI: DF is clear on function entry and must be clear on return.
 */
	.text
	.globl memcpy
	.type memcpy, @function
memcpy:                       /* rdi = dst, rsi = src, rdx = n; returns dst */
	movq %rdi, %rax
	movq %rdx, %rcx
	rep movsb
	ret
	.size memcpy, . - memcpy

	.globl memset
	.type memset, @function
memset:                       /* rdi = dst, esi = byte, rdx = n; returns dst */
	movq %rdi, %r9
	movl %esi, %eax
	movq %rdx, %rcx
	rep stosb
	movq %r9, %rax
	ret
	.size memset, . - memset

	.globl memmove
	.type memmove, @function
memmove:                      /* rdi = dst, rsi = src, rdx = n; returns dst */
	movq %rdi, %rax
	movq %rdx, %rcx
	cmpq %rsi, %rdi
	jbe 1f                    /* dst <= src: a forward copy never overwrites unread bytes */
	leaq (%rsi, %rdx), %r8
	cmpq %r8, %rdi
	jae 1f                    /* no overlap */
	leaq -1(%rsi, %rdx), %rsi /* overlapping with dst above src: copy backwards */
	leaq -1(%rdi, %rdx), %rdi
	std
	rep movsb
	cld
	ret
1:	rep movsb
	ret
	.size memmove, . - memmove
