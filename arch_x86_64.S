/*
 * arch_x86_64.S - the restorer blob's x86-64 entry and exits.
 *
 * C calls pass rdi, rsi, rdx, rcx, r8, r9, then the stack; the kernel
 * takes the syscall number in rax and arguments in rdi, rsi, rdx, r10, r8,
 * r9, and clobbers rcx and r11.
 */
	.text

/* rst_entry(struct rst_args *a): switch to a->stack_top, run rst_main. */
	.globl rst_entry
	.hidden rst_entry
	.type rst_entry, @function
rst_entry:
	mov	8(%rdi), %rsp		/* a->stack_top, 16-byte aligned */
	xor	%ebp, %ebp
	call	rst_main
	ud2

/* long rst_syscall(nr, a1, a2, a3, a4, a5, a6): -errno on failure. */
	.globl rst_syscall
	.hidden rst_syscall
	.type rst_syscall, @function
rst_syscall:
	mov	%rdi, %rax		/* nr */
	mov	%rsi, %rdi		/* a1 */
	mov	%rdx, %rsi		/* a2 */
	mov	%rcx, %rdx		/* a3 */
	mov	%r8, %r10		/* a4 */
	mov	%r9, %r8		/* a5 */
	mov	8(%rsp), %r9		/* a6 */
	syscall
	ret

/*
 * long rst_clone3(struct clone_args *ca, size, fn, a, t): a new thread
 * starts on ca->stack and calls fn(a, t); the caller gets its tid.
 * fn stays in rdx and t in r8 (clone3 ignores them and the kernel keeps
 * them); a moves from rcx, which syscall clobbers, to r9.
 */
	.globl rst_clone3
	.hidden rst_clone3
	.type rst_clone3, @function
rst_clone3:
	mov	%rcx, %r9		/* a */
	mov	$435, %eax		/* clone3(ca, size) */
	syscall
	test	%rax, %rax
	jnz	1f
	xor	%ebp, %ebp		/* child: on its own stack */
	mov	%r9, %rdi		/* a */
	mov	%r8, %rsi		/* t */
	call	*%rdx
	ud2
1:	ret

/* long rst_set_tls(const uint64_t tls[2]): fs_base = tls[0], gs_base = tls[1]. */
	.globl rst_set_tls
	.hidden rst_set_tls
	.type rst_set_tls, @function
rst_set_tls:
	mov	%rdi, %rdx
	mov	$158, %eax		/* arch_prctl */
	mov	$0x1002, %edi		/* ARCH_SET_FS */
	mov	(%rdx), %rsi
	syscall
	test	%rax, %rax
	jnz	1f
	mov	$158, %eax
	mov	$0x1001, %edi		/* ARCH_SET_GS */
	mov	8(%rdx), %rsi
	syscall
1:	ret

/*
 * rst_sigreturn(frame): frame points at struct rt_sigframe's pretcode;
 * the kernel expects rsp just past it, as after a handler's ret.
 */
	.globl rst_sigreturn
	.hidden rst_sigreturn
	.type rst_sigreturn, @function
rst_sigreturn:
	lea	8(%rdi), %rsp
	mov	$15, %eax		/* rt_sigreturn */
	syscall
	ud2

	.section .note.GNU-stack,"",@progbits
