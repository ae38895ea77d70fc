/*
 * restorer.c - the blob a restored process runs to become its image.
 *
 * cr forks the process with its PID, sets up files and signal state in C,
 * then calls into this code, which it has copied into an "area" that
 * overlaps neither cr's mappings nor any mapping of the image.  The area
 * holds this code, struct rst_args (tlv.h) with its arrays, a stack, a
 * prepared rt_sigreturn frame and room to park the kernel's [vdso]/[vvar].
 *
 * Built freestanding and position independent: no libc, no relocations,
 * no writable data (the Makefile checks), every input in struct rst_args.
 * It never parses the image; cr has validated everything it passes.
 *
 * Stages, and what each may touch:
 *  1. park: cr's code and data are still mapped; move the [vdso]/[vvar]
 *     mappings into the area so they survive stage 2.
 *  2. unmap: remove every mapping outside the area.  From here on only the
 *     area exists; the only way out on error is exit_group.
 *  3. build: create the image's mappings, read their pages from img_fd,
 *     set final protections, move [vdso]/[vvar] to their old addresses,
 *     PR_SET_MM_MAP, rseq, thread pointer, close cr's descriptors.
 *  4. hand over: stop with SIGSTOP so cr (our tracer) can catch the
 *     rt_sigreturn, then rt_sigreturn into the saved registers.  cr
 *     removes the area afterwards from outside, with ptrace.
 */
#include <stdint.h>
#include <stddef.h>
#include <asm/unistd.h>
#include <linux/mman.h>
#include <linux/prctl.h>
#include <linux/signal.h>
#include "tlv.h"

/* arch_*.S: raw syscall, thread pointer, final sigreturn */
long rst_syscall(long nr, long a1, long a2, long a3, long a4, long a5,
		 long a6) __attribute__((visibility("hidden")));
long rst_set_tls(const uint64_t *tls) __attribute__((visibility("hidden")));
void rst_sigreturn(uint64_t frame) __attribute__((visibility("hidden"),
						  noreturn));

#define SYS(nr, a, b, c, d, e, f) rst_syscall(nr, (long)(a), (long)(b), \
	(long)(c), (long)(d), (long)(e), (long)(f))

_Static_assert(offsetof(struct rst_args, stack_top) == 8,
	       "entry code loads the stack from offset 8");

static void __attribute__((noreturn)) fail(struct rst_args *a, int step,
					   long err, uint64_t detail)
{
	struct rst_status st = { step, (int32_t)err, detail };

	SYS(__NR_write, a->status_fd, &st, sizeof(st), 0, 0, 0);
	for (;;)
		SYS(__NR_exit_group, 1, 0, 0, 0, 0, 0);
}

static int bad(long r)
{
	return r < 0 && r > -4096;
}

static void park_special(struct rst_args *a)
{
	for (uint64_t i = 0; i < a->nspecial; i++) {
		struct rst_special *s = &a->special[i];
		long r = SYS(__NR_mremap, s->cur, s->len, s->len,
			     MREMAP_MAYMOVE | MREMAP_FIXED, s->park, 0);
		if (r != (long)s->park)
			fail(a, RST_STEP_PARK, r, s->cur);
	}
}

/* Unmap [lo, hi) if it is not empty. */
static void unmap_range(struct rst_args *a, uint64_t lo, uint64_t hi)
{
	long r;

	if (lo >= hi)
		return;
	r = SYS(__NR_munmap, lo, hi - lo, 0, 0, 0, 0);
	if (bad(r))
		fail(a, RST_STEP_UNMAP, r, lo);
}

static void build_vmas(struct rst_args *a)
{
	struct rst_vma *v = (struct rst_vma *)a->vmas;

	for (uint64_t i = 0; i < a->nvmas; i++) {
		uint64_t prot = v[i].prot | (v[i].fill ? PROT_WRITE : 0);
		long r = SYS(__NR_mmap, v[i].start, v[i].len, prot,
			     v[i].flags | MAP_FIXED, v[i].fd, v[i].pgoff);
		if (r != (long)v[i].start)
			fail(a, RST_STEP_MAP, r, v[i].start);
	}
}

static void read_pages(struct rst_args *a)
{
	struct rst_run *run = (struct rst_run *)a->runs;

	for (uint64_t i = 0; i < a->nruns; i++) {
		uint64_t done = 0;

		while (done < run[i].len) {
			long r = SYS(__NR_pread64, a->img_fd,
				     run[i].addr + done, run[i].len - done,
				     run[i].off + done, 0, 0);
			if (r <= 0)
				fail(a, RST_STEP_READ, r ? r : -5,
				     run[i].addr + done);
			done += r;
		}
	}
}

static void finish_vmas(struct rst_args *a)
{
	struct rst_vma *v = (struct rst_vma *)a->vmas;
	long r;

	for (uint64_t i = 0; i < a->nvmas; i++) {
		if (v[i].fill && !(v[i].prot & PROT_WRITE)) {
			r = SYS(__NR_mprotect, v[i].start, v[i].len, v[i].prot,
				0, 0, 0);
			if (bad(r))
				fail(a, RST_STEP_PROTECT, r, v[i].start);
		}
		if (v[i].name) {
			r = SYS(__NR_prctl, PR_SET_VMA, PR_SET_VMA_ANON_NAME,
				v[i].start, v[i].len, v[i].name, 0);
			if (bad(r))
				fail(a, RST_STEP_NAME, r, v[i].start);
		}
	}
}

static void place_special(struct rst_args *a)
{
	for (uint64_t i = 0; i < a->nspecial; i++) {
		struct rst_special *s = &a->special[i];
		long r;

		if (!s->dst) {
			unmap_range(a, s->park, s->park + s->len);
			continue;
		}
		r = SYS(__NR_mremap, s->park, s->len, s->len,
			MREMAP_MAYMOVE | MREMAP_FIXED, s->dst, 0);
		if (r != (long)s->dst)
			fail(a, RST_STEP_SPECIAL, r, s->dst);
	}
}

static void finish_task(struct rst_args *a)
{
	int64_t *fds = (int64_t *)a->close_fds;
	long r;

	r = SYS(__NR_prctl, PR_SET_MM, PR_SET_MM_MAP, a->mm_map,
		a->mm_map_size, 0, 0);
	if (bad(r))
		fail(a, RST_STEP_MM, r, 0);
	if (a->rseq_addr) {
		r = SYS(__NR_rseq, a->rseq_addr, a->rseq_len, 0, a->rseq_sig,
			0, 0);
		if (bad(r))
			fail(a, RST_STEP_RSEQ, r, a->rseq_addr);
	}
	r = rst_set_tls(a->tls);
	if (bad(r))
		fail(a, RST_STEP_TLS, r, a->tls[0]);
	for (uint64_t i = 0; i < a->nclose; i++) {
		r = SYS(__NR_close, fds[i], 0, 0, 0, 0, 0);
		if (bad(r))
			fail(a, RST_STEP_CLOSE, r, fds[i]);
	}
}

/*
 * Entered from the arch entry code on the area's stack, with signals
 * blocked (cr did that), never returns.
 */
__attribute__((visibility("hidden"), noreturn, used))
void rst_main(struct rst_args *a)
{
	if (a->size != sizeof(*a))
		fail(a, RST_STEP_ARGS, 0, a->size);
	park_special(a);
	unmap_range(a, 0, a->area);
	unmap_range(a, a->area + a->area_len, a->task_size);
	build_vmas(a);
	read_pages(a);
	finish_vmas(a);
	place_special(a);
	finish_task(a);
	/*
	 * The status fd is closed now: from here cr learns about failure
	 * only through the stop or the exit it sees with ptrace.
	 */
	SYS(__NR_kill, a->self_pid, SIGSTOP, 0, 0, 0, 0);
	rst_sigreturn(a->sigframe);
}
