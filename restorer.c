/*
 * restorer.c - the blob a restored process runs to become its image.
 *
 * cr forks the process with its PID and, still in cr's code, builds every
 * private mapping of the image at a "premap" address (reading its pages,
 * or keeping its parent's copy-on-write copy), sets up files and signal
 * state, then calls into this code, which it has copied into an "area"
 * that overlaps neither cr's mappings nor any mapping of the image.  The
 * area holds this code, struct rst_args (tlv.h) with its arrays, a stack
 * per thread, the rt_sigreturn frames and room to park [vdso]/[vvar].
 *
 * Built freestanding and position independent: no libc, no relocations,
 * no writable data (the Makefile checks), every input in struct rst_args.
 * It never parses the image; cr has validated everything it passes.
 *
 * Stages, and what each may touch:
 *  1. park: cr's code and data are still mapped; move [vdso]/[vvar] into
 *     the area, then each premapped mapping to its final address (the
 *     premaps lie apart from every final address, so no move clobbers
 *     another; a move may replace cr's own code, which is no longer used).
 *  2. unmap: remove every mapping that is neither the area nor a moved
 *     one.  From here on the only way out on error is exit_group.
 *  3. build: map what was not premapped (shared mappings), set final
 *     protections and names, move [vdso]/[vvar] into place, PR_SET_MM_MAP,
 *     then each mapping's protection key, madvise and mlock state, and
 *     mlockall, PR_SET_DUMPABLE and last MDWE; create the other threads
 *     with their TIDs (clone3 with set_tid).
 *  4. each thread: TLS, rseq, robust list, tid address, name, its pending
 *     signals; then a SIGSTOP to itself so that cr (the tracer) can catch
 *     its rt_sigreturn into the saved registers.  cr removes the area
 *     afterwards, from outside, with ptrace.
 */
#include <stdint.h>
#include <stddef.h>
#include <asm/unistd.h>
#include <linux/mman.h>
#include <linux/prctl.h>
#include <linux/sched.h>
#include <linux/signal.h>
#include <linux/ioctl.h>
#include <linux/userfaultfd.h>	/* UFFDIO_REGISTER */
#include "tlv.h"

/* arch_*.S: raw syscall, thread creation, thread pointer, sigreturn */
#define HIDDEN __attribute__((visibility("hidden")))
long rst_syscall(long nr, long a1, long a2, long a3, long a4, long a5,
		 long a6) HIDDEN;
long rst_clone3(struct clone_args *ca, uint64_t size,
		void (*fn)(struct rst_args *, struct rst_thread *),
		struct rst_args *a, struct rst_thread *t) HIDDEN;
long rst_set_tls(const uint64_t *tls) HIDDEN;
void rst_sigreturn(uint64_t frame) HIDDEN __attribute__((noreturn));

#define SYS(nr, a, b, c, d, e, f) rst_syscall(nr, (long)(a), (long)(b), \
	(long)(c), (long)(d), (long)(e), (long)(f))

_Static_assert(offsetof(struct rst_args, stack_top) == 8,
	       "entry code loads the stack from offset 8");

static void __attribute__((noreturn)) fail(struct rst_args *a, int step,
					   long err, uint64_t detail)
{
	struct rst_status st = { RST_STATUS_MAGIC, step, (int32_t)err, detail };

	SYS(__NR_write, a->status_fd, &st, sizeof(st), 0, 0, 0);
	for (;;)
		SYS(__NR_exit_group, 1, 0, 0, 0, 0, 0);
}

static int bad(long r)
{
	return r < 0 && r > -4096;
}

/* Tests make a chosen step fail (CR_FAULT=blob-STEP). */
static void step(struct rst_args *a, int s)
{
	if (a->fault_step == (uint64_t)s)
		fail(a, s, -5 /* EIO */, 0);
}

static void move(struct rst_args *a, int step, uint64_t from, uint64_t len,
		 uint64_t to)
{
	long r = SYS(__NR_mremap, from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
		     to, 0);

	if (r != (long)to)
		fail(a, step, r, to);
}

static void unmap(struct rst_args *a, uint64_t lo, uint64_t hi)
{
	long r;

	if (lo >= hi)
		return;
	r = SYS(__NR_munmap, lo, hi - lo, 0, 0, 0, 0);
	if (bad(r))
		fail(a, RST_STEP_UNMAP, r, lo);
}

/* Unmap [lo, hi) but the area. */
static void unmap_but_area(struct rst_args *a, uint64_t lo, uint64_t hi)
{
	uint64_t as = a->area, ae = a->area + a->area_len;

	if (hi <= as || lo >= ae) {
		unmap(a, lo, hi);
		return;
	}
	unmap(a, lo, as);
	unmap(a, ae, hi);
}

static void move_premaps(struct rst_args *a)
{
	struct rst_vma *v = (struct rst_vma *)a->vmas;

	step(a, RST_STEP_PARK);
	for (uint64_t i = 0; i < a->nspecial; i++)
		move(a, RST_STEP_PARK, a->special[i].cur, a->special[i].len,
		     a->special[i].park);
	step(a, RST_STEP_MOVE);
	for (uint64_t i = 0; i < a->nvmas; i++)
		if (v[i].premap)
			move(a, RST_STEP_MOVE, v[i].premap, v[i].len, v[i].start);
}

/* Everything outside the area and the moved mappings goes. */
static void unmap_rest(struct rst_args *a)
{
	struct rst_vma *v = (struct rst_vma *)a->vmas;
	uint64_t at = 0;

	step(a, RST_STEP_UNMAP);
	for (uint64_t i = 0; i < a->nvmas; i++) {
		if (!v[i].premap)
			continue;
		unmap_but_area(a, at, v[i].start);
		at = v[i].start + v[i].len;
	}
	unmap_but_area(a, at, a->task_size);
}

static void build_vmas(struct rst_args *a)
{
	struct rst_vma *v = (struct rst_vma *)a->vmas;
	long r;

	step(a, RST_STEP_MAP);
	for (uint64_t i = 0; i < a->nvmas; i++) {
		if (v[i].shmid >= 0) {	/* attached, then its protection */
			r = SYS(__NR_shmat, v[i].shmid, v[i].start, v[i].shmflg,
				0, 0, 0);
			if (r != (long)v[i].start)
				fail(a, RST_STEP_MAP, r, v[i].start);
			r = SYS(__NR_mprotect, v[i].start, v[i].len, v[i].prot,
				0, 0, 0);
			if (bad(r))
				fail(a, RST_STEP_PROTECT, r, v[i].start);
		} else if (!v[i].premap) {
			r = SYS(__NR_mmap, v[i].start, v[i].len, v[i].prot,
				v[i].flags | MAP_FIXED, v[i].fd, v[i].pgoff);
			if (r != (long)v[i].start)
				fail(a, RST_STEP_MAP, r, v[i].start);
		} else {
			r = SYS(__NR_mprotect, v[i].start, v[i].len, v[i].prot,
				0, 0, 0);
			if (bad(r))
				fail(a, RST_STEP_PROTECT, r, v[i].start);
		}
		step(a, RST_STEP_PROTECT);
		step(a, RST_STEP_NAME);
		if (v[i].name) {
			r = SYS(__NR_prctl, PR_SET_VMA, PR_SET_VMA_ANON_NAME,
				v[i].start, v[i].len, v[i].name, 0);
			if (bad(r))
				fail(a, RST_STEP_NAME, r, v[i].start);
		}
	}
	step(a, RST_STEP_SPECIAL);
	for (uint64_t i = 0; i < a->nspecial; i++) {
		struct rst_special *s = &a->special[i];

		if (s->dst)
			move(a, RST_STEP_SPECIAL, s->park, s->len, s->dst);
		else
			unmap(a, s->park, s->park + s->len);
	}
	step(a, RST_STEP_MM);
	r = SYS(__NR_prctl, PR_SET_MM, PR_SET_MM_MAP, a->mm_map, a->mm_map_size,
		0, 0);
	if (bad(r))
		fail(a, RST_STEP_MM, r, 0);
}

/*
 * --lazy-pages: the lazy mappings are registered with the page server's
 * userfaultfd only now, in place.  Registered while premapped, each move
 * above would be an event the blob waits on until the server has read it
 * (10,000 mappings: more than a second).  Before any advice: an mlock
 * must fault the pages in from the server, not find zeros.
 */
static void register_lazy(struct rst_args *a)
{
	struct rst_vma *v = (struct rst_vma *)a->vmas;

	step(a, RST_STEP_LAZY);
	for (uint64_t i = 0; a->uffd >= 0 && i < a->nvmas; i++) {
		struct uffdio_register r;
		long e;

		if (!v[i].uffd_mode)
			continue;
		r.range.start = v[i].start;
		r.range.len = v[i].len;
		r.mode = v[i].uffd_mode;
		r.ioctls = 0;
		e = SYS(__NR_ioctl, a->uffd, UFFDIO_REGISTER, &r, 0, 0, 0);
		if (bad(e))
			fail(a, RST_STEP_LAZY, e, v[i].start);
	}
}

/* ==== timers, credentials, seccomp ========================================
 * Set last, once every thread exists, with all signals still blocked: a
 * timer that fires now only leaves its signal pending until the thread's
 * rt_sigreturn puts its own mask back.  Credentials are per thread in the
 * kernel, so each thread sets its own, in an order that keeps the
 * privileges needed for the next step until the very end: securebits
 * that keep capabilities over the id changes, the inheritable and
 * ambient sets, bounding set drops, groups and ids, the final securebits,
 * no_new_privs, seccomp filters, and last the capset that drops what the
 * process did not have.  Filters do not block the blob's own remaining
 * syscalls: cr traces the process with PTRACE_O_SUSPEND_SECCOMP until it
 * lets it go.
 */
#define PR_TIMER_CREATE_RESTORE_IDS	77	/* 6.18: ids from *created_timer_id */
#define SECBIT_NO_SETUID_FIXUP	(1 << 2)
#define SECBIT_KEEP_CAPS	(1 << 4)
#define CAP_VERSION_3		0x20080522
#define SECCOMP_MODE_STRICT	1
#define SECCOMP_SET_MODE_STRICT	0
#define SECCOMP_SET_MODE_FILTER	1

static void make_timers(struct rst_args *a)
{
	struct rst_ptimer *p = (struct rst_ptimer *)a->timers;
	long ids = -1;
	int64_t down = 0, now[2];

	step(a, RST_STEP_TIMERS);
	if ((a->ntimers || a->nitimers) &&
	    !bad(SYS(__NR_clock_gettime, 0 /* REALTIME */, now, 0, 0, 0, 0)))
		down = now[0] * 1000000000 + now[1] - (int64_t)a->dump_realtime;
	if (down < 0)
		down = 0;
	for (uint64_t i = 0; i < a->nitimers; i++) {	/* setitimer */
		uint64_t *x = a->itimer[i];
		int64_t v = (int64_t)x[1] - (x[0] == 0 /* ITIMER_REAL */ ? down : 0);
		int64_t tv[4] = { x[2] / 1000000000, x[2] % 1000000000 / 1000 };
		long r;

		v = v < 1000 ? 1 : (v + 999) / 1000;	/* microseconds */
		tv[2] = v / 1000000;
		tv[3] = v % 1000000;
		r = SYS(__NR_setitimer, x[0], tv, 0, 0, 0, 0);
		if (bad(r))
			fail(a, RST_STEP_TIMERS, r, x[0]);
	}
	if (a->ntimers && !a->timer_ids_linear)
		ids = SYS(__NR_prctl, PR_TIMER_CREATE_RESTORE_IDS, 1, 0, 0, 0, 0);
	for (uint64_t i = 0; i < a->ntimers; i++) {
		/* struct sigevent: value, signo, notify, tid, padding */
		uint64_t sev[8] = { p[i].sigval,
			(uint32_t)p[i].signo | (uint64_t)p[i].notify << 32,
			(uint32_t)p[i].tid };
		int64_t ts[4], at;	/* struct itimerspec: interval, value */
		int32_t id;
		long r;

		for (;;) {	/* without the prctl: ids come in turn */
			id = (int32_t)p[i].id;
			r = SYS(__NR_timer_create, p[i].clock, sev, &id, 0, 0, 0);
			if (bad(r))
				fail(a, RST_STEP_TIMERS, r, p[i].id);
			if (id == p[i].id)
				break;
			if (!bad(ids) || id > p[i].id)
				fail(a, RST_STEP_TIMERS, -17 /* EEXIST */, p[i].id);
			SYS(__NR_timer_delete, id, 0, 0, 0, 0, 0);
		}
		if (!p[i].armed)
			continue;
		r = SYS(__NR_clock_gettime, p[i].clock, &ts[2], 0, 0, 0, 0);
		if (bad(r))
			fail(a, RST_STEP_TIMERS, r, p[i].id);
		at = ts[2] * 1000000000 + ts[3] + p[i].delta_ns -
		     (p[i].wall ? down : 0);
		if (at <= 0)
			at = 1;
		ts[0] = p[i].interval_ns / 1000000000;
		ts[1] = p[i].interval_ns % 1000000000;
		ts[2] = at / 1000000000;
		ts[3] = at % 1000000000;
		r = SYS(__NR_timer_settime, id, 1 /* TIMER_ABSTIME */, ts, 0, 0, 0);
		if (bad(r))
			fail(a, RST_STEP_TIMERS, r, p[i].id);
	}
	if (!bad(ids))
		SYS(__NR_prctl, PR_TIMER_CREATE_RESTORE_IDS, 0, 0, 0, 0, 0);
}

static void cred_call(struct rst_args *a, long r, uint64_t what)
{
	if (bad(r))
		fail(a, RST_STEP_CREDS, r, what);
}

static long capset(uint64_t eff, uint64_t prm, uint64_t inh)
{
	volatile uint32_t head[2];	/* volatile: no constant in .rodata */
	uint32_t data[6] = { (uint32_t)eff, (uint32_t)prm, (uint32_t)inh,
		(uint32_t)(eff >> 32), (uint32_t)(prm >> 32),
		(uint32_t)(inh >> 32) };

	head[0] = CAP_VERSION_3;
	head[1] = 0;
	return SYS(__NR_capset, head, data, 0, 0, 0, 0);
}

/* Filters [from, to) of thread ti's stack, oldest first. */
static void add_filters(struct rst_args *a, uint64_t ti, uint64_t from,
			uint64_t to)
{
	struct rst_seccomp *sc = (struct rst_seccomp *)a->seccomp;
	struct rst_filter *f;

	if (!sc || sc[ti].mode != 2)
		return;
	f = (struct rst_filter *)sc[ti].filters;
	for (uint64_t i = from; i < to && i < sc[ti].nfilters; i++) {
		uint64_t prog[2] = { f[i].len, f[i].prog };	/* sock_fprog */
		long r = SYS(__NR_seccomp, SECCOMP_SET_MODE_FILTER, f[i].flags,
			     prog, 0, 0, 0);

		if (bad(r))
			fail(a, RST_STEP_SECCOMP, r, i);
	}
}

/*
 * The filters every thread has alike go on the main thread before it
 * creates the others, which inherit them: shared, as they were (a later
 * SECCOMP_FILTER_FLAG_TSYNC works as it would have).  Each thread adds
 * the rest of its own stack itself.
 */
static void set_seccomp(struct rst_args *a, uint64_t ti)
{
	step(a, RST_STEP_SECCOMP);
	add_filters(a, ti, a->seccomp_common, -1);
}

static void set_creds(struct rst_args *a, struct rst_thread *t)
{
	struct rst_creds *c = (struct rst_creds *)a->creds;
	struct rst_seccomp *sc = (struct rst_seccomp *)a->seccomp;
	uint64_t ti = t - (struct rst_thread *)a->threads, todo = c ? c->todo : 0;

	step(a, RST_STEP_CREDS);
	if (todo & RST_CRED_SECBITS_TMP)
		cred_call(a, SYS(__NR_prctl, PR_SET_SECUREBITS, SECBIT_KEEP_CAPS |
				 SECBIT_NO_SETUID_FIXUP, 0, 0, 0, 0), 1);
	if (todo & RST_CRED_INH)
		cred_call(a, capset(c->cur_eff, c->cur_prm, c->inh), 2);
	if (todo & RST_CRED_AMB) {
		cred_call(a, SYS(__NR_prctl, PR_CAP_AMBIENT,
				 PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0), 3);
		for (int cap = 0; cap < 64; cap++)
			if (c->amb >> cap & 1)
				cred_call(a, SYS(__NR_prctl, PR_CAP_AMBIENT,
						 PR_CAP_AMBIENT_RAISE, cap, 0, 0, 0),
					  3);
	}
	for (int cap = 0; cap < 64 && (todo & RST_CRED_BND); cap++)
		if (c->bnd_drop >> cap & 1)
			cred_call(a, SYS(__NR_prctl, PR_CAPBSET_DROP, cap, 0, 0,
					 0, 0), 4);
	if (todo & RST_CRED_GROUPS)
		cred_call(a, SYS(__NR_setgroups, c->ngroups, c->groups, 0, 0,
				 0, 0), 5);
	if (todo & RST_CRED_IDS) {
		cred_call(a, SYS(__NR_setresgid, c->gid, c->egid, c->sgid, 0,
				 0, 0), 6);
		cred_call(a, SYS(__NR_setresuid, c->uid, c->euid, c->suid, 0,
				 0, 0), 6);
		SYS(__NR_setfsgid, c->fsgid, 0, 0, 0, 0, 0);
		SYS(__NR_setfsuid, c->fsuid, 0, 0, 0, 0, 0);
		if ((uint64_t)SYS(__NR_setfsgid, -1, 0, 0, 0, 0, 0) != c->fsgid ||
		    (uint64_t)SYS(__NR_setfsuid, -1, 0, 0, 0, 0, 0) != c->fsuid)
			fail(a, RST_STEP_CREDS, -1 /* EPERM */, 7);
	}
	if (todo & RST_CRED_SECBITS)
		cred_call(a, SYS(__NR_prctl, PR_SET_SECUREBITS, c->securebits,
				 0, 0, 0, 0), 8);
	if (todo & RST_CRED_NNP)
		cred_call(a, SYS(__NR_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0,
				 0), 9);
	set_seccomp(a, ti);
	if (todo & RST_CRED_CAPS)
		cred_call(a, capset(c->eff, c->prm, c->inh), 10);
	if ((todo & (RST_CRED_IDS | RST_CRED_CAPS)) && a->dumpable)
		/* a change of ids or fewer capabilities reset it */
		cred_call(a, SYS(__NR_prctl, PR_SET_DUMPABLE, a->dumpable - 1,
				 0, 0, 0, 0), 11);
	if (sc && sc[ti].mode == SECCOMP_MODE_STRICT) {
		long r = SYS(__NR_seccomp, SECCOMP_SET_MODE_STRICT, 0, 0, 0, 0, 0);

		if (r)
			fail(a, RST_STEP_SECCOMP, r, 0);
	}
}

/*
 * Section 5b: protection keys, madvise and mlock state of each mapping, then
 * the mm-wide prctls.  All after every mapping is final: MADV_DONTFORK and
 * friends live in the VMA, and MDWE forbids any later PROT_EXEC gain.  A
 * fresh process has only key 0, and pkey_alloc hands out the lowest free
 * key, so allocating up to the highest key wanted and freeing the others
 * gives every key its number back.
 */
/* TLV_ADV_* bit n as MADV_*, packed a byte each into an immediate (a
 * table or a switch would become a data section) */
#define ADV_MADV ((uint64_t)MADV_DONTFORK | (uint64_t)MADV_WIPEONFORK << 8 | \
	(uint64_t)MADV_HUGEPAGE << 16 | (uint64_t)MADV_NOHUGEPAGE << 24 | \
	(uint64_t)MADV_DONTDUMP << 32 | (uint64_t)MADV_MERGEABLE << 40)
#define ADV_NMADV 6

static void alloc_pkeys(struct rst_args *a)
{
	uint64_t want = a->pkeys, got = 0;
	long r;

	while (want & ~got & ~1ULL) {
		r = SYS(__NR_pkey_alloc, 0, 0, 0, 0, 0, 0);
		if (bad(r) || r >= 64 || (got & (1ULL << r)))
			fail(a, RST_STEP_PKEY, bad(r) ? r : -22, r);
		got |= 1ULL << r;
	}
	for (int k = 1; k < 64; k++)
		if ((got & ~want) & (1ULL << k)) {
			r = SYS(__NR_pkey_free, k, 0, 0, 0, 0, 0);
			if (bad(r))
				fail(a, RST_STEP_PKEY, r, k);
		}
}

static void advise_vmas(struct rst_args *a)
{
	struct rst_adv *v = (struct rst_adv *)a->advs;
	long r;

	step(a, RST_STEP_PKEY);
	if (a->pkeys)
		alloc_pkeys(a);
	step(a, RST_STEP_ADVISE);
	for (uint64_t i = 0; i < a->nadvs; i++) {
		if (v[i].pkey) {
			r = SYS(__NR_pkey_mprotect, v[i].start, v[i].len,
				v[i].prot, v[i].pkey, 0, 0);
			if (bad(r))
				fail(a, RST_STEP_ADVISE, r, v[i].start);
		}
		for (unsigned b = 0; b < ADV_NMADV; b++) {
			if (!(v[i].advice & (1ULL << b)))
				continue;
			r = SYS(__NR_madvise, v[i].start, v[i].len,
				(ADV_MADV >> (8 * b)) & 0xff, 0, 0, 0);
			if (bad(r))
				fail(a, RST_STEP_ADVISE, r, v[i].start);
		}
		if (v[i].advice & TLV_ADV_LOCKED) {
			/* PROT_NONE (a guard page under mlockall): the lock is
			 * set, only populating it fails */
			r = SYS(__NR_mlock2, v[i].start, v[i].len,
				v[i].advice & TLV_ADV_ONFAULT ? MLOCK_ONFAULT : 0,
				0, 0, 0);
			if (bad(r) && v[i].prot != PROT_NONE)
				fail(a, RST_STEP_ADVISE, r, v[i].start);
		}
	}
}

static void mm_prctls(struct rst_args *a)
{
	long r = 0;

	step(a, RST_STEP_PRCTL);
	if (a->mlockall)
		r = SYS(__NR_mlockall, a->mlockall, 0, 0, 0, 0, 0);
	if (!bad(r) && a->dumpable)
		r = SYS(__NR_prctl, PR_SET_DUMPABLE, a->dumpable - 1, 0, 0, 0, 0);
	if (!bad(r) && a->mdwe)
		r = SYS(__NR_prctl, 65 /* PR_SET_MDWE */, a->mdwe, 0, 0, 0, 0);
	if (bad(r))
		fail(a, RST_STEP_PRCTL, r, 0);
}

/*
 * Per-thread state, in the thread itself: most of it can only be set by
 * the thread (rseq, robust list, tid address, name, its own pending
 * signals), and its registers come back by its own rt_sigreturn.
 */
static void __attribute__((noreturn)) thread_finish(struct rst_args *a,
						    struct rst_thread *t)
{
	struct rst_sig *s = (struct rst_sig *)t->sigs;
	long r;

	step(a, RST_STEP_TLS);
	r = rst_set_tls(t->tls);
	if (bad(r))
		fail(a, RST_STEP_TLS, r, t->tid);
	step(a, RST_STEP_RSEQ);
	if (t->rseq_addr) {
		r = SYS(__NR_rseq, t->rseq_addr, t->rseq_len, 0, t->rseq_sig, 0, 0);
		if (bad(r))
			fail(a, RST_STEP_RSEQ, r, t->rseq_addr);
	}
	if (t->robust_head) {
		r = SYS(__NR_set_robust_list, t->robust_head, t->robust_len,
			0, 0, 0, 0);
		if (bad(r))
			fail(a, RST_STEP_THREAD, r, t->tid);
	}
	step(a, RST_STEP_THREAD);
	SYS(__NR_set_tid_address, t->tid_addr, 0, 0, 0, 0, 0);
	r = SYS(__NR_prctl, PR_SET_NAME, t->comm, 0, 0, 0, 0);
	if (bad(r))
		fail(a, RST_STEP_THREAD, r, t->tid);
	step(a, RST_STEP_SIGNAL);
	for (uint64_t i = 0; i < t->nsig; i++) {
		int sig = *(int32_t *)s[i].info;

		r = s[i].shared ?
			SYS(__NR_rt_sigqueueinfo, a->pid, sig, s[i].info, 0, 0, 0) :
			SYS(__NR_rt_tgsigqueueinfo, a->pid, t->tid, sig,
			    s[i].info, 0, 0);
		if (bad(r))
			fail(a, RST_STEP_SIGNAL, r, sig);
	}
	set_creds(a, t);
	step(a, RST_STEP_SIGRETURN);
	SYS(__NR_tgkill, a->pid, t->tid, SIGSTOP, 0, 0, 0);
	rst_sigreturn(t->sigframe);
}

static void __attribute__((noreturn)) thread_main(struct rst_args *a,
						  struct rst_thread *t)
{
	thread_finish(a, t);
}

static void start_threads(struct rst_args *a)
{
	struct rst_thread *t = (struct rst_thread *)a->threads;

	step(a, RST_STEP_CLONE);
	for (uint64_t i = 1; i < a->nthreads; i++) {
		struct clone_args ca = {
			.flags = a->clone_flags,
			.stack = t[i].stack_top - RST_THREAD_STACK,
			.stack_size = RST_THREAD_STACK,
			.set_tid = (uint64_t)&t[i].tid,
			.set_tid_size = 1,
		};
		long r = rst_clone3(&ca, sizeof(ca), thread_main, a, &t[i]);

		if (r != (long)t[i].tid)
			fail(a, RST_STEP_CLONE, r, t[i].tid);
	}
}

/*
 * File locks are taken once cr's descriptors are closed: closing any fd
 * of a file drops the process's POSIX locks on it.  The status fd goes
 * last, so that a lock that cannot be taken is still told.
 */
static void take_locks(struct rst_args *a)
{
	struct rst_lock *l = (struct rst_lock *)a->locks;

	step(a, RST_STEP_LOCK);
	for (uint64_t i = 0; i < a->nlocks; i++) {
		long r = l[i].cmd ?
			SYS(__NR_fcntl, l[i].fd, l[i].cmd, &l[i].type, 0, 0, 0) :
			SYS(__NR_flock, l[i].fd, l[i].type, 0, 0, 0, 0);

		if (bad(r))
			fail(a, RST_STEP_LOCK, r, l[i].fd);
	}
}

static void close_fds(struct rst_args *a)
{
	int64_t *fds = (int64_t *)a->close_fds;
	int status = 0;

	step(a, RST_STEP_CLOSE);
	for (uint64_t i = 0; i < a->nclose; i++) {
		long r;

		if (fds[i] == a->status_fd) {
			status = 1;
			continue;
		}
		r = SYS(__NR_close, fds[i], 0, 0, 0, 0, 0);
		if (bad(r))
			fail(a, RST_STEP_CLOSE, r, fds[i]);
	}
	take_locks(a);
	if (status)
		SYS(__NR_close, a->status_fd, 0, 0, 0, 0, 0);
}

/*
 * Entered from the arch entry code on the main thread's stack in the
 * area, with signals blocked (cr did that); never returns.
 */
HIDDEN __attribute__((noreturn, used)) void rst_main(struct rst_args *a)
{
	step(a, RST_STEP_ARGS);
	if (a->size != sizeof(*a))
		fail(a, RST_STEP_ARGS, 0, a->size);
	move_premaps(a);
	unmap_rest(a);
	build_vmas(a);
	register_lazy(a);
	advise_vmas(a);
	mm_prctls(a);
	add_filters(a, 0, 0, a->seccomp_common);
	start_threads(a);
	make_timers(a);
	close_fds(a);	/* the status fd too: no more messages */
	thread_finish(a, (struct rst_thread *)a->threads);
}
