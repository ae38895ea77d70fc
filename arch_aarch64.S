/*
 * arch_aarch64.S - the restorer blob's aarch64 entry and exits.
 *
 * C calls pass x0-x7; the kernel takes the syscall number in x8 and
 * arguments in x0-x5, returns in x0, and preserves everything else.
 */
	.text

/* rst_entry(struct rst_args *a): switch to a->stack_top, run rst_main. */
	.globl rst_entry
	.hidden rst_entry
	.type rst_entry, %function
rst_entry:
	ldr	x1, [x0, #8]		/* a->stack_top, 16-byte aligned */
	mov	sp, x1
	mov	x29, #0
	mov	x30, #0
	bl	rst_main
	brk	#0

/* long rst_syscall(nr, a1, a2, a3, a4, a5, a6): -errno on failure. */
	.globl rst_syscall
	.hidden rst_syscall
	.type rst_syscall, %function
rst_syscall:
	mov	x8, x0			/* nr */
	mov	x0, x1
	mov	x1, x2
	mov	x2, x3
	mov	x3, x4
	mov	x4, x5
	mov	x5, x6
	svc	#0
	ret

/*
 * long rst_clone3(struct clone_args *ca, size, fn, a, t): a new thread
 * starts on ca->stack and calls fn(a, t); the caller gets its tid.
 * fn, a and t travel in x9-x11, which the kernel preserves.
 */
	.globl rst_clone3
	.hidden rst_clone3
	.type rst_clone3, %function
rst_clone3:
	mov	x9, x2			/* fn */
	mov	x10, x3			/* a */
	mov	x11, x4			/* t */
	mov	x8, #435		/* clone3(ca, size) */
	svc	#0
	cbnz	x0, 1f
	mov	x29, #0			/* child: fresh stack */
	mov	x30, #0
	mov	x0, x10
	mov	x1, x11
	blr	x9
	brk	#0
1:	ret

/* long rst_set_tls(const uint64_t tls[2]): tpidr_el0 = tls[0]. */
	.globl rst_set_tls
	.hidden rst_set_tls
	.type rst_set_tls, %function
rst_set_tls:
	ldr	x1, [x0]
	msr	tpidr_el0, x1
	mov	x0, #0
	ret

/* rst_sigreturn(frame): the kernel expects sp at struct rt_sigframe. */
	.globl rst_sigreturn
	.hidden rst_sigreturn
	.type rst_sigreturn, %function
rst_sigreturn:
	mov	sp, x0
	mov	x8, #139		/* rt_sigreturn */
	svc	#0
	brk	#0

	.section .note.GNU-stack,"",%progbits
