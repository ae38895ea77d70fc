/*
 * cr - checkpoint/restore of Linux processes, in one static binary.
 *
 * `cr dump -t PID` freezes an unmodified process with ptrace, reads its
 * state from /proc, ptrace and a few syscalls run inside it, and writes one
 * image stream (tlv.h).  `cr restore` reads the stream, validates all of it,
 * forks a process with the same PID, sets up what can be set from C, and
 * jumps into the restorer blob (restorer.c) that replaces cr's memory with
 * the image's and returns into the saved registers.
 *
 * Dump and restore mirror each other: collect -> check -> write, and
 * read -> check -> build.  The target is only seized and asked a few
 * questions until everything is collected and checked; restore validates
 * the whole image before its first fork.
 *
 * Sections, in data-flow order:
 *   1. basics: errors, the undo stack, x* wrappers, buffers
 *   2. image I/O: crc32c, the record writer and reader
 *   3. /proc parsing
 *   4. ptrace freezer and remote syscalls
 *   5. collect: a process's state into plain structs (memory, tracking)
 *   5a. descriptors: terminals, special files, sockets; threads
 *   5b. kernel state: prctl, scheduling, cgroup, memory advice
 *   6. check and write the image
 *   6b. transport: page server, migrate, restore --listen
 *   7. read and validate an image
 *   8. restore: fork with the PID, files and process state
 *   9. the restorer area and the hand-off to the blob
 *  10. architecture sections (x86-64, aarch64)
 *  11. show and check
 *  12. command line and main
 * Sections 4-9 call the arch_* functions declared at the end of section 1.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <sys/fanotify.h>
#ifndef FAN_MARK_EVICTABLE	/* 5.19, 6.0: newer than musl's header */
#define FAN_MARK_EVICTABLE	0x200
#define FAN_MARK_IGNORE		0x400
#endif
#include <sys/file.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/if_packet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <linux/unix_diag.h>
#include <linux/ptrace.h>
#include <linux/sched.h>
#include <linux/userfaultfd.h>
#include "tlv.h"

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)	/* not in musl's headers */
#endif
#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON (1 << 14)	/* 6.6 */
struct uffdio_poison {
	struct uffdio_range range;
	uint64_t mode;
	int64_t updated;
};
#define UFFDIO_POISON _IOWR(UFFDIO, 0x08, struct uffdio_poison)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)	/* 6.7; newer than Debian 12's headers */
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23		/* 5.14; not in musl's headers */
#endif
#define PAGE		4096UL
#define PAGE_ROUND(x)	(((x) + PAGE - 1) & ~(PAGE - 1))
#define ROUND_UP(x, a)	(((x) + (a) - 1) & ~((uint64_t)(a) - 1))	/* a: power of 2 */
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define NSIG_MAX	64
#define MAX_META	(64u << 20)	/* largest metadata record we accept */
#define MAX_PATH_LEN	4096

/* ==== 1. basics ==========================================================
 * Every error goes through die()/die_errno(): one line on stderr,
 * "cr: <phase>: pid N: <what>[: strerror]", copied to the -o log.  Before
 * exiting they run the undo stack in reverse: a failed dump detaches and
 * leaves the target running, a failed restore kills what it created.
 * Expected failures (a process vanished, a kernel lacks a feature) are
 * returned as -errno for the caller to decide.
 */
static struct {
	const char *phase;	/* "dump", "restore", ... */
	int pid;		/* object of the current step, 0 = none */
	int verbose;
	FILE *log;
	int report_fd;		/* restore child: errors go here, to cr */
	int err_fd;		/* cr's stderr (a restore child's fd 2 is not) */
	void (*on_die)(const char *msg);	/* also tell a peer (6b) */
} ctx = { "cr", 0, 0, NULL, -1, 2, NULL };

struct undo {
	void (*fn)(void *);
	void *arg;
};
static struct undo undo_stack[16];
static int undo_n;

static void undo_push(void (*fn)(void *), void *arg)
{
	if (undo_n == ARRAY_SIZE(undo_stack))
		abort();
	undo_stack[undo_n++] = (struct undo){ fn, arg };
}

static void undo_pop(void)
{
	undo_n--;
}

static void undo_run(void)
{
	while (undo_n > 0) {
		struct undo u = undo_stack[--undo_n];
		u.fn(u.arg);
	}
}

static void vmsg(FILE *f, const char *fmt, va_list ap, const char *err)
{
	fprintf(f, "cr: %s: ", ctx.phase);
	if (ctx.pid)
		fprintf(f, "pid %d: ", ctx.pid);
	vfprintf(f, fmt, ap);
	if (err)
		fprintf(f, ": %s", err);
	fputc('\n', f);
	fflush(f);
}

/* The same line into msg (empty if it cannot be formatted). */
static void vmsg_str(char *msg, size_t n, const char *fmt, va_list ap,
		     const char *err)
{
	FILE *f = fmemopen(msg, n, "w");

	msg[0] = 0;
	if (!f)
		return;
	vmsg(f, fmt, ap, err);
	fclose(f);
	msg[n - 1] = 0;
}

#ifdef CR_FUZZ
#include <setjmp.h>
static jmp_buf fuzz_out;	/* fuzz/: die() returns here */
#endif

static void __attribute__((noreturn)) vdie(const char *fmt, va_list ap,
					   const char *err)
{
	va_list aq;

#ifdef CR_FUZZ
	(void)fmt, (void)ap, (void)err, (void)aq;
	longjmp(fuzz_out, 1);
#endif
	if (ctx.report_fd >= 0) {	/* in a restore child: tell cr */
		char msg[1024];

		vmsg_str(msg, sizeof(msg), fmt, ap, err);
		if (write(ctx.report_fd, msg, strlen(msg)) < 0)
			_exit(2);
		_exit(1);
	}
	if (ctx.on_die) {	/* a sender waits for our answer (6b) */
		void (*tell)(const char *) = ctx.on_die;
		char msg[1024];

		ctx.on_die = NULL;
		va_copy(aq, ap);
		vmsg_str(msg, sizeof(msg), fmt, aq, err);
		va_end(aq);
		msg[strcspn(msg, "\n")] = 0;
		tell(msg);
	}
	va_copy(aq, ap);
	vmsg(stderr, fmt, ap, err);
	if (ctx.log)
		vmsg(ctx.log, fmt, aq, err);
	va_end(aq);
	undo_run();
	exit(1);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdie(fmt, ap, NULL);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
die_errno(const char *fmt, ...)
{
	const char *err = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	vdie(fmt, ap, err);
}

/*
 * Something cr cannot restore.  Normally fatal like die(); under
 * `cr check -t PID` each is reported and counted, and collection goes on
 * so that one run lists them all.
 */
static int refusals = -1;	/* -1: fatal; else how many so far */

static void __attribute__((format(printf, 1, 2))) refuse(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (refusals < 0)
		vdie(fmt, ap, NULL);
	vmsg(stdout, fmt, ap, NULL);
	va_end(ap);
	refusals++;
}

/*
 * Fault injection, for the tests: CR_FAULT=NAME makes the step named NAME
 * fail like an error would; CR_FAULT=NAME:kill kills cr (or the restoring
 * process) with SIGKILL there instead.  CR_FAULT=list prints each point
 * as it is passed, so a test can sweep them all.
 */
static void fault(const char *name)
{
	const char *f = getenv("CR_FAULT");
	size_t n = strlen(name);

	if (!f)
		return;
	if (!strcmp(f, "list")) {
		fflush(stderr);
		dprintf(ctx.err_fd, "cr: fault point %s\n", name);
		return;
	}
	if (strncmp(f, name, n) || (f[n] && f[n] != ':'))
		return;
	if (!strcmp(f + n, ":kill"))
		kill(getpid(), SIGKILL);
	die("fault injected at %s", name);
}

/* cr's own effective capabilities (bit = CAP_*). */
static uint64_t cr_cap_eff(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		die_errno("capget");
	return d[0].effective | (uint64_t)d[1].effective << 32;
}

/*
 * Without root, cr needs CAP_CHECKPOINT_RESTORE (or CAP_SYS_ADMIN): a dump
 * reads /proc/PID/map_files, a restore creates exact PIDs (clone3
 * set_tid) and sets the executable link (PR_SET_MM_MAP); see README.
 * Checked first, so that nothing is created or touched without it.
 */
static void need_cr_capability(void)
{
	uint64_t eff = cr_cap_eff();

	if (!(eff >> CAP_CHECKPOINT_RESTORE & 1) && !(eff >> CAP_SYS_ADMIN & 1))
		die("cr runs as uid %u without CAP_CHECKPOINT_RESTORE, which %s needs: run it as root or give it that capability (setcap cap_checkpoint_restore+ep cr)",
		    (unsigned)geteuid(), ctx.phase);
}

/* Detail for -v (stderr) and -o LOG. */
static void __attribute__((format(printf, 1, 2))) info(const char *fmt, ...)
{
	va_list ap;

	if (ctx.log) {
		va_start(ap, fmt);
		vmsg(ctx.log, fmt, ap, NULL);
		va_end(ap);
	} else if (ctx.verbose) {
		va_start(ap, fmt);
		vmsg(stderr, fmt, ap, NULL);
		va_end(ap);
	}
}

/* Something the user should know although cr goes on: always said. */
static void __attribute__((format(printf, 1, 2))) warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(stderr, fmt, ap, NULL);
	va_end(ap);
	if (ctx.log) {
		va_start(ap, fmt);
		vmsg(ctx.log, fmt, ap, NULL);
		va_end(ap);
	}
}

#ifdef CR_FUZZ
/*
 * fuzz/: die() longjmps out of a half-read image, so every block the
 * x*alloc helpers hand out is listed, free() takes it off the list, and
 * the fuzz target frees what is left after each input.
 */
static void **fuzz_blocks;
static size_t fuzz_nblocks, fuzz_cap;

static void fuzz_forget(void *p)
{
	for (size_t i = fuzz_nblocks; p && i--;)
		if (fuzz_blocks[i] == p) {
			fuzz_blocks[i] = fuzz_blocks[--fuzz_nblocks];
			return;
		}
}

static void *fuzz_track(void *p)
{
	if (p && fuzz_nblocks == fuzz_cap) {
		fuzz_cap = fuzz_cap ? fuzz_cap * 2 : 256;
		fuzz_blocks = realloc(fuzz_blocks, fuzz_cap * sizeof(void *));
		if (!fuzz_blocks)
			abort();
	}
	if (p)
		fuzz_blocks[fuzz_nblocks++] = p;
	return p;
}

static void fuzz_free(void *p)
{
	fuzz_forget(p);
	(free)(p);
}
#define free(p) fuzz_free(p)

static void fuzz_free_all(void)
{
	while (fuzz_nblocks)
		(free)(fuzz_blocks[--fuzz_nblocks]);
}
#else
#define fuzz_track(p) (p)
#define fuzz_forget(p) ((void)(p))
#endif

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void *xmalloc(size_t n)
{
	void *p = fuzz_track(malloc(n ? n : 1));

	if (!p)
		die("out of memory (%zu bytes)", n);
	return p;
}

static void *xzalloc(size_t n)
{
	return memset(xmalloc(n), 0, n);
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		die("out of memory (%zu bytes)", n);
	fuzz_forget(p);
	return fuzz_track(q);
}

static char *xstrdup(const char *s)
{
	return strcpy(xmalloc(strlen(s) + 1), s);
}

/* Make room for one more element in a growing array; returns it zeroed. */
static void *vec_add(void *arrp, size_t *n, size_t size)
{
	void **arr = arrp;

	if ((*n & (*n - 1)) == 0)	/* 0, 1, 2, 4, ...: double */
		*arr = xrealloc(*arr, (*n ? *n * 2 : 1) * size);
	return memset((char *)*arr + (*n)++ * size, 0, size);
}

/*
 * Sorting: a natural merge sort.  It finds the ascending runs and merges
 * them pairwise through a buffer, so the lists cr sorts, most of them
 * sorted already or made of a few sorted pieces, cost one or a few passes
 * (musl's qsort took 2.5 ms for 4,600 such runs of a lazy restore).
 * Stable; v may be NULL when n is 0.
 */
static void xsort(void *v, size_t n, size_t size,
		  int (*cmp)(const void *, const void *))
{
	char *src = v, *dst, *buf;
	size_t *run, nrun = 0;

	if (n < 2)
		return;
	run = xmalloc((n + 1) * sizeof(*run));	/* run k: [run[k], run[k + 1]) */
	run[nrun++] = 0;
	for (size_t i = 1; i < n; i++)
		if (cmp(src + (i - 1) * size, src + i * size) > 0)
			run[nrun++] = i;
	run[nrun] = n;
	dst = buf = nrun > 1 ? xmalloc(n * size) : NULL;
	while (nrun > 1) {
		size_t m = 0;

		for (size_t k = 0; k < nrun; k += 2) {
			size_t lo = run[k], mid = run[k + 1];
			size_t hi = k + 2 <= nrun ? run[k + 2] : mid;
			size_t i = lo, j = mid, o = lo;

			while (i < mid && j < hi) {
				size_t from = cmp(src + j * size, src + i * size) < 0 ?
					      j++ : i++;

				memcpy(dst + o++ * size, src + from * size, size);
			}
			memcpy(dst + o * size, src + i * size, (mid - i) * size);
			o += mid - i;
			memcpy(dst + o * size, src + j * size, (hi - j) * size);
			run[m++] = lo;
		}
		run[m] = n;
		nrun = m;
		dst = src;
		src = src == (char *)v ? buf : v;
	}
	if (src != (char *)v)
		memcpy(v, src, n * size);
	free(buf);
	free(run);
}

static int xopen(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0600);

	if (fd < 0)
		die_errno("open %s", path);
	return fd;
}

static void xwrite_all(int fd, const void *p, size_t n, const char *what)
{
	while (n) {
		ssize_t r = write(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die_errno("write %s", what);
		p = (const char *)p + r;
		n -= r;
	}
}

/* Read up to n bytes, fewer only at end of file; -errno on error. */
static ssize_t read_full(int fd, void *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = read(fd, (char *)p + done, n - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		done += r;
	}
	return done;
}

/* A growing byte buffer. */
struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void buf_put(struct buf *b, const void *p, size_t n)
{
	if (!n)
		return;
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 4096;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void buf_free(struct buf *b)
{
	free(b->p);
	*b = (struct buf){ 0 };
}

/* Parse an unsigned number in base (0 = auto); false unless all of s. */
static bool parse_u64(const char *s, int base, uint64_t *v)
{
	char *end;

	if (!*s || *s == '-')
		return false;
	errno = 0;
	*v = strtoull(s, &end, base);
	return !errno && !*end;
}

/* "64", "4K", "1M", "2G": bytes. */
static bool parse_size(const char *s, uint64_t *v)
{
	char *end;
	unsigned shift = 0;

	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return false;
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	else if (*end == 'G' || *end == 'g')
		shift = 30;
	if (shift)
		end++;
	if (*end || *v > (~0ULL >> shift))
		return false;
	*v <<= shift;
	return true;
}

/* --- arch interface (section 10 implements it per architecture) ---
 * Registers are kept as arch_nregs u64s in the layout of the arch's REGS
 * tag; the FPU state as the bytes of its FPU tag.
 */
#define MAX_REGS 40
struct thread;
static const uint32_t arch_tlv, arch_regs_tag, arch_fpu_tag;
static const uint32_t arch_xtra_tag;		/* per-thread extra state, 0 = none */
static const unsigned arch_nregs;
static const uint8_t arch_syscall_insn[4];	/* traps into the kernel */
static const size_t arch_syscall_insn_len;
/* End of the user address space. */
static uint64_t arch_task_size(void);
/* Read/write a stopped thread's general registers; -errno on failure. */
static int arch_get_regs(int tid, uint64_t *regs);
static int arch_set_regs(int tid, const uint64_t *regs);
/* Read a stopped thread's FPU/vector state into a malloc'd buffer. */
static int arch_get_fpu(int tid, uint8_t **buf, size_t *len);
/* Extra state only ptrace can set (aarch64 PAC keys); *len 0 if none. */
static int arch_get_xtra(int tid, uint8_t **buf, size_t *len);
static int arch_set_xtra(int tid, const uint8_t *buf, size_t len);
static uint64_t arch_ip(const uint64_t *regs);
static void arch_set_ip(uint64_t *regs, uint64_t ip);
/*
 * Code for remote syscalls: a syscall instruction, then rt_sigreturn.
 * arch_set_frame_sp() points the stack at a sigreturn frame.
 */
static const uint8_t arch_safe_code[16];
static const size_t arch_safe_code_len;
static void arch_set_frame_sp(uint64_t *regs, uint64_t frame);
/*
 * A thread let go after a dump -R or pre-dump, stopped in a syscall the
 * kernel would resume with restart_syscall: make it run the syscall
 * again instead (true if regs changed).  A later dump could not restore
 * restart_syscall, whose state (the restart block) stays in the kernel.
 */
static bool arch_release_restart(uint64_t *regs);
/* After that, at the stop the release goes through: the same, for arm64. */
static void arch_release_restart2(int tid, const uint64_t *regs);
/* Point regs at a syscall instruction at ip with number nr, args a[6]. */
static void arch_syscall_regs(uint64_t *regs, uint64_t ip, long nr,
			      const long *a);
static long arch_syscall_ret(const uint64_t *regs);
/* The thread-pointer values the blob sets (fs/gs base, tpidr_el0). */
static void arch_tls(const uint64_t *regs, uint64_t tls[2]);
/* cr's own thread pointer, and the signature glibc registers rseq with. */
static uint64_t arch_self_tp(void);
static const uint32_t arch_glibc_rseq_sig;
/* Refuse FPU state this CPU/kernel cannot restore; die with the reason. */
static void arch_check_fpu(const struct thread *th);
/* Bytes of the rt_sigreturn frame, and building it for address addr. */
static size_t arch_sigframe_size(const struct thread *th);
static void arch_build_sigframe(uint8_t *buf, uint64_t addr,
				const struct thread *th);
static uint32_t arch_crc32c(uint32_t crc, const uint8_t *p, size_t n);
/* CRC32C of the three blocks p, p+blk, p+2*blk at once, st[i] the CRC so
 * far of each; false (st untouched) where the CPU has no crc instruction. */
static bool arch_crc32c_x3(uint32_t st[3], const uint8_t *p, size_t blk);

/* ==== 2. image I/O =======================================================
 * The writer appends records to a stream that may be a pipe: it never
 * seeks, keeps the running CRC32C and the offset (to pad PAGES to a page
 * boundary).  Metadata is serialised into struct buf first (a nest's length
 * must be known before its header), pages are streamed.  The reader is the
 * mirror: it reads sequentially, checks every length against what is left,
 * and keeps the CRC to compare with END.
 */
static uint32_t crc_table[256];

/*
 * One crc instruction takes three cycles but a new one can start every
 * cycle, so a serial CRC uses a third of the unit.  Large buffers are cut
 * into chunks of three blocks whose CRCs run interleaved (arch_crc32c_x3)
 * and are then joined: over GF(2) modulo the polynomial, the CRC of A
 * followed by B is crc(A) * x^(8|B|) + crc(B), with the usual pre- and
 * post-inversion of both (the identity zlib's crc32_combine rests on).
 * Bits are reflected: bit 31 is x^0, so multiplying by x shifts right.
 */
#define CRC_POLY 0x82f63b78u
#define CRC_BLK 8192			/* bytes per stream of a chunk */
static uint32_t crc_x2k[64];		/* x^(2^k) mod P */
static uint32_t crc_xblk;		/* x^(8 * CRC_BLK) mod P */

static uint32_t crc_times_x(uint32_t v)
{
	return v & 1 ? (v >> 1) ^ CRC_POLY : v >> 1;
}

static uint32_t crc_mulmod(uint32_t a, uint32_t b)
{
	uint32_t p = 0;

	for (uint32_t m = 1u << 31; m; m >>= 1, b = crc_times_x(b))
		if (a & m)
			p ^= b;
	return p;
}

/* x^(8n) mod P: n bytes of shift, by the binary digits of 8n. */
static uint32_t crc_xbytes(uint64_t n)
{
	uint32_t v = 1u << 31;			/* 1 */

	for (int k = 3; n && k < 64; k++, n >>= 1)
		if (n & 1)
			v = crc_mulmod(v, crc_x2k[k]);
	return v;
}

/* The CRC of A followed by B, from crc(A), crc(B) and B's length. */
static uint32_t crc_join(uint32_t a, uint32_t b, uint64_t blen)
{
	return crc_mulmod(a, crc_xbytes(blen)) ^ b;
}

static void crc_init(void)
{
	tlv_crc32c_table(crc_table);
	crc_x2k[0] = 1u << 30;			/* x */
	for (int k = 1; k < 64; k++)
		crc_x2k[k] = crc_mulmod(crc_x2k[k - 1], crc_x2k[k - 1]);
	crc_xblk = crc_xbytes(CRC_BLK);
}

static uint32_t crc32c(uint32_t crc, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	for (; n >= 3 * CRC_BLK; p += 3 * CRC_BLK, n -= 3 * CRC_BLK) {
		uint32_t st[3] = { crc, 0, 0 };

		if (!arch_crc32c_x3(st, p, CRC_BLK))
			break;
		crc = crc_mulmod(crc_mulmod(st[0], crc_xblk) ^ st[1], crc_xblk) ^
		      st[2];
	}
	return arch_crc32c(crc, p, n);
}

/* Append one record to a buffer. */
static void buf_rec(struct buf *b, uint32_t tag, const void *v, size_t n)
{
	struct tlv_rec r = { tag, 0, n };

	buf_put(b, &r, sizeof(r));
	buf_put(b, v, n);
}

static void buf_str(struct buf *b, uint32_t tag, const char *s)
{
	buf_rec(b, tag, s, strlen(s) + 1);
}

static void buf_nest(struct buf *b, uint32_t tag, struct buf *inner)
{
	buf_rec(b, tag, inner->p, inner->len);
	buf_free(inner);
}

/*
 * SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104) for --sign/--verify:
 * the MAC record (tlv.h).  The round constants are computed, not typed:
 * the first 32 fraction bits of the square roots (initial hash) and cube
 * roots (K) of the first primes, as integer roots.  `cr selftest` checks
 * the result against the standards' test vectors.
 */
struct sha256 {
	uint32_t h[8];
	uint64_t len;		/* bytes hashed so far */
	uint8_t buf[64];	/* len % 64 bytes of the next block */
};

static uint32_t sha256_k[64], sha256_h0[8];

/* floor(n^(1/root) * 2^32) mod 2^32, by bisection on 128-bit integers. */
static uint32_t frac_root(uint32_t n, int root)
{
	unsigned __int128 want = (unsigned __int128)n << (32 * root);
	unsigned __int128 lo = 0, hi = (unsigned __int128)1 << 40;

	while (hi - lo > 1) {
		unsigned __int128 mid = (lo + hi) / 2, p = mid * mid;

		if (root == 3)
			p *= mid;
		if (p <= want)
			lo = mid;
		else
			hi = mid;
	}
	return (uint32_t)lo;
}

static void sha256_init(struct sha256 *c)
{
	if (!sha256_k[0]) {
		uint32_t n = 0;

		for (uint32_t p = 2; n < 64; p++) {
			bool prime = true;

			for (uint32_t d = 2; d * d <= p; d++)
				prime = prime && p % d;
			if (!prime)
				continue;
			if (n < 8)
				sha256_h0[n] = frac_root(p, 2);
			sha256_k[n++] = frac_root(p, 3);
		}
	}
	memcpy(c->h, sha256_h0, sizeof(c->h));
	c->len = 0;
}

static uint32_t ror32(uint32_t x, int n)
{
	return x >> n | x << (32 - n);
}

static void sha256_block(struct sha256 *c, const uint8_t *b)
{
	uint32_t w[64], a = c->h[0], b1 = c->h[1], c1 = c->h[2], d = c->h[3];
	uint32_t e = c->h[4], f = c->h[5], g = c->h[6], h = c->h[7];

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
		       (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
	for (int i = 16; i < 64; i++)
		w[i] = w[i - 16] + w[i - 7] +
		       (ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ w[i - 15] >> 3) +
		       (ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ w[i - 2] >> 10);
	for (int i = 0; i < 64; i++) {	/* the eight working variables */
		uint32_t t1 = h + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) +
			      ((e & f) ^ (~e & g)) + sha256_k[i] + w[i];
		uint32_t t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) +
			      ((a & b1) ^ (a & c1) ^ (b1 & c1));

		h = g, g = f, f = e, e = d + t1;
		d = c1, c1 = b1, b1 = a, a = t1 + t2;
	}
	c->h[0] += a, c->h[1] += b1, c->h[2] += c1, c->h[3] += d;
	c->h[4] += e, c->h[5] += f, c->h[6] += g, c->h[7] += h;
}

static void sha256_update(struct sha256 *c, const void *data, size_t n)
{
	const uint8_t *p = data;
	size_t have = c->len % 64;

	c->len += n;
	if (have) {
		size_t k = n < 64 - have ? n : 64 - have;

		memcpy(c->buf + have, p, k);
		p += k, n -= k;
		if (have + k < 64)
			return;
		sha256_block(c, c->buf);
	}
	for (; n >= 64; p += 64, n -= 64)
		sha256_block(c, p);
	memcpy(c->buf, p, n);
}

static void sha256_final(struct sha256 *c, uint8_t out[32])
{
	uint64_t bits = c->len * 8;
	uint8_t pad[72] = { 0x80 };
	size_t n = (c->len % 64 < 56 ? 56 : 120) - c->len % 64;

	for (int i = 0; i < 8; i++)
		pad[n + i] = bits >> (56 - 8 * i);
	sha256_update(c, pad, n + 8);
	for (int i = 0; i < 32; i++)
		out[i] = c->h[i / 4] >> (24 - 8 * (i % 4));
}

struct hmac {
	struct sha256 inner;	/* running over the message */
	uint8_t key[64];	/* the key, hashed if longer, zero padded */
};

static void hmac_init(struct hmac *m, const uint8_t *key, size_t n)
{
	uint8_t pad[64];

	memset(m->key, 0, sizeof(m->key));
	if (n > 64) {
		sha256_init(&m->inner);
		sha256_update(&m->inner, key, n);
		sha256_final(&m->inner, m->key);
	} else {
		memcpy(m->key, key, n);
	}
	for (int i = 0; i < 64; i++)
		pad[i] = m->key[i] ^ 0x36;
	sha256_init(&m->inner);
	sha256_update(&m->inner, pad, sizeof(pad));
}

/* The MAC of what inner has seen so far (m itself is left as it was). */
static void hmac_result(const struct hmac *m, uint8_t out[32])
{
	struct sha256 in = m->inner, outer;
	uint8_t pad[64], ih[32];

	sha256_final(&in, ih);
	for (int i = 0; i < 64; i++)
		pad[i] = m->key[i] ^ 0x5c;
	sha256_init(&outer);
	sha256_update(&outer, pad, sizeof(pad));
	sha256_update(&outer, ih, sizeof(ih));
	sha256_final(&outer, out);
}

/* The key of --sign/--verify: the whole file, 1 byte to 64 KiB. */
static void hmac_key_file(struct hmac *m, const char *path)
{
	static uint8_t key[65536];
	int fd = xopen(path, O_RDONLY);
	ssize_t n = read_full(fd, key, sizeof(key));
	uint8_t more;

	if (n < 0) {
		errno = -n;
		die_errno("reading key file %s", path);
	}
	if (n == 0 || read(fd, &more, 1) != 0)
		die("key file %s: must hold 1 byte to 64 KiB", path);
	close(fd);
	hmac_init(m, key, n);
	memset(key, 0, sizeof(key));
}

struct img_out {
	int fd;
	const char *name;	/* for messages */
	uint64_t off;		/* bytes written so far */
	uint32_t crc;
	struct hmac *mac;	/* --sign: running over every byte */
	bool file;		/* a regular file: start its writeback early */
	uint64_t flushed;	/* writeback started up to here */
	void (*fail)(struct img_out *);	/* a write failed: may die first */
	/* the page writer thread (out_async), while dump_pages runs */
	bool threaded, busy;
	const void *job;	/* buffer it writes, NULL: stop */
	size_t job_len;
	int err;		/* its errno, 0 if all went well */
	sem_t go, done;
	pthread_t th;
};

/*
 * An image file is fsync'ed before it replaces the old one, and on a disk
 * that fsync would otherwise wait for the whole image at the end.  Every
 * WB_STEP bytes the kernel is asked to start writing back what was just
 * written (sync_file_range without waiting), so the disk works while cr
 * copies the next pages and the final fsync has little left to do.
 */
#define WB_STEP (8u << 20)

/* Checksum, write and count n bytes; -errno instead of dying (the
 * page writer thread uses it too). */
static int out_put(struct img_out *o, const void *p, size_t n)
{
	o->crc = crc32c(o->crc, p, n);
	if (o->mac)
		sha256_update(&o->mac->inner, p, n);
	while (n) {
		ssize_t r = write(o->fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		p = (const char *)p + r;
		n -= r;
		o->off += r;
	}
	if (o->file && o->off - o->flushed >= WB_STEP) {
		sync_file_range(o->fd, o->flushed, o->off - o->flushed,
				SYNC_FILE_RANGE_WRITE);
		o->flushed = o->off;
	}
	return 0;
}

/*
 * Page data is written by a second thread while the main thread reads the
 * next batch out of the target: copying out of the target and copying into
 * the page cache then take one core each instead of taking turns.  One
 * buffer is in flight at a time (out_async waits for the previous one), and
 * every other write waits for it first, so the stream keeps its order and
 * o->off and o->crc are only touched by one thread at a time.  Errors are
 * the main thread's to report, at the next wait.
 */
static void out_wait(struct img_out *o)
{
	if (!o->busy)
		return;
	while (sem_wait(&o->done) && errno == EINTR)
		;
	o->busy = false;
	if (o->err) {
		if (o->fail)
			o->fail(o);
		errno = o->err;
		die_errno("write %s", o->name);
	}
}

static void *out_writer(void *arg)
{
	struct img_out *o = arg;

	for (;;) {
		while (sem_wait(&o->go) && errno == EINTR)
			;
		if (!o->job)
			return NULL;
		o->err = -out_put(o, o->job, o->job_len);
		sem_post(&o->done);
		if (o->err)
			return NULL;
	}
}

static void out_async(struct img_out *o, const void *p, size_t n)
{
	out_wait(o);
	if (!o->threaded) {
		int e = out_put(o, p, n);

		if (e && o->fail)
			o->fail(o);
		if (e) {
			errno = -e;
			die_errno("write %s", o->name);
		}
		return;
	}
	o->job = p, o->job_len = n, o->busy = true;
	sem_post(&o->go);
}

/* Start the writer thread; without one, out_async writes in place. */
static void out_thread_start(struct img_out *o)
{
	if (sem_init(&o->go, 0, 0) || sem_init(&o->done, 0, 0))
		return;
	o->threaded = !pthread_create(&o->th, NULL, out_writer, o);
}

static void out_thread_stop(struct img_out *o)
{
	out_wait(o);
	if (!o->threaded)
		return;
	o->job = NULL;
	sem_post(&o->go);
	pthread_join(o->th, NULL);
	o->threaded = false;
}

static void out_write(struct img_out *o, const void *p, size_t n)
{
	out_async(o, p, n);
	out_wait(o);
}

static void out_hdr(struct img_out *o, uint32_t tag, uint64_t len)
{
	struct tlv_rec r = { tag, 0, len };

	out_write(o, &r, sizeof(r));
}

static void out_rec(struct img_out *o, uint32_t tag, const void *v, size_t n)
{
	out_hdr(o, tag, n);
	out_write(o, v, n);
}

/* Write a PAD record so that a value following a record header is aligned. */
static void out_align(struct img_out *o)
{
	static const uint8_t zero[PAGE];
	uint64_t at, pad;

	out_wait(o);
	at = o->off + 2 * sizeof(struct tlv_rec);
	pad = (PAGE - at % PAGE) % PAGE;
	out_rec(o, TLV_PAD, zero, pad);
}

struct img_in {
	int fd;
	const char *name;
	char *kernel;		/* the dumping kernel's release */
	uint64_t off;		/* stream offset of the next byte */
	uint64_t size;		/* file size (the stream is a file by now) */
	uint32_t crc;
	struct hmac *mac;	/* --verify: running over every byte */
	bool spooled;		/* a pipe, copied into a memfd */
	bool checked;		/* its CRC was checked as it came (6b) */
	bool defer;		/* restore --lazy-pages: see in_defer_pages */
	uint32_t blob_crc;	/* the last PAGES value's CRC (PAGES_CRC) */
	bool blob_known;	/* ... and a PAGES_CRC may come now */
};

/* Read exactly n bytes of the stream, or die naming what was expected. */
static void in_read(struct img_in *in, void *p, size_t n, const char *what)
{
	ssize_t r = read_full(in->fd, p, n);

	if (r < 0) {
		errno = -r;
		die_errno("%s: reading %s", in->name, what);
	}
	if ((size_t)r != n)
		die("%s: truncated image: %s at offset %llu", in->name, what,
		    (unsigned long long)in->off);
	in->crc = crc32c(in->crc, p, n);
	if (in->mac)
		sha256_update(&in->mac->inner, p, n);
	in->off += n;
}

/*
 * Checksum len bytes of page data without copying them: they are mapped
 * from the (page cache of the) image, whose restore reads them again.
 * Page data starts page aligned, so the mappings are too.
 */
/*
 * The pages' CRC is the one pass a restore makes over the whole image
 * before its first fork.  With a second core it takes about half as long:
 * a thread checksums the back half of each chunk while this one does the
 * front half, and crc_join puts the two together.
 */
struct crc_job {
	const uint8_t *p;
	size_t n;
	uint32_t crc;
};

static void *crc_worker(void *arg)
{
	struct crc_job *j = arg;

	j->crc = crc32c(0, j->p, j->n);
	return NULL;
}

static uint32_t crc32c_2(uint32_t crc, const uint8_t *p, size_t n)
{
	size_t half = n / 2 & ~(PAGE - 1);
	struct crc_job j = { p + half, n - half, 0 };
	pthread_t th;

	if (n < (8u << 20) || pthread_create(&th, NULL, crc_worker, &j))
		return crc32c(crc, p, n);
	crc = crc32c(crc, p, half);
	pthread_join(th, NULL);
	return crc_join(crc, j.crc, j.n);
}

/* The CRC of len bytes of page data at off in fd (and the MAC's too). */
static uint32_t crc_pages(int fd, uint64_t off, uint64_t len, uint32_t crc,
			  struct hmac *mac, const char *name)
{
	const uint64_t chunk = 64 << 20;

	for (uint64_t done = 0; done < len;) {
		uint64_t n = len - done < chunk ? len - done : chunk;
		void *p = mmap(NULL, n, PROT_READ, MAP_PRIVATE | MAP_POPULATE,
			       fd, off + done);

		if (p == MAP_FAILED)
			die_errno("%s: mapping page data", name);
		crc = crc32c_2(crc, p, n);
		if (mac)
			sha256_update(&mac->inner, p, n);
		munmap(p, n);
		done += n;
	}
	return crc;
}

static void in_skip_pages(struct img_in *in, uint64_t len)
{
	uint32_t before = in->crc;

	if (in->checked && !in->mac) {	/* no second pass over the pages */
		in->off += len;
		in->blob_known = true;	/* its PAGES_CRC is not checked */
		if (lseek(in->fd, in->off, SEEK_SET) != (off_t)in->off)
			die_errno("%s: lseek", in->name);
		return;
	}
	in->crc = crc_pages(in->fd, in->off, len, in->crc, in->mac, in->name);
	in->blob_crc = in->crc ^ crc_mulmod(before, crc_xbytes(len));
	in->blob_known = true;
	in->off += len;
	if (lseek(in->fd, in->off, SEEK_SET) != (off_t)in->off)
		die_errno("%s: lseek", in->name);
}

/*
 * restore --lazy-pages: a process's PAGES value followed by its PAGES_CRC
 * is not read now; the CRC goes on from the CRC that PAGES_CRC claims,
 * so END still checks every other byte, and the page server checks the
 * pages against it while the process runs (lazy_check).  False if there
 * is no PAGES_CRC (an older image): then the pages are read here; and if
 * restore --listen checked them as they came: then nobody reads them.
 * Every image of a chain may defer its pages; each blob names its file.
 */
struct lz_blob {
	int fd;			/* the image (of a chain: any of it) */
	uint64_t off, len;
	uint32_t crc;
	uint64_t pid;
};

static struct lz_blob *lz_blobs;
static size_t nlz_blobs;

static bool in_defer_pages(struct img_in *in, uint64_t len, uint64_t pid)
{
	struct {
		struct tlv_rec r;
		struct tlv_pages_crc c;
	} next;
	struct lz_blob *b;

	if (!in->defer || in->mac || in->checked || !pid ||
	    pread(in->fd, &next, sizeof(next), in->off + len) != sizeof(next) ||
	    next.r.tag != (TLV_PAGES_CRC | TLV_OPTIONAL) || next.r.zero ||
	    next.r.len != sizeof(next.c))
		return false;
	b = vec_add(&lz_blobs, &nlz_blobs, sizeof(*b));
	*b = (struct lz_blob){ in->fd, in->off, len, (uint32_t)next.c.crc, pid };
	in->crc = crc_join(in->crc, (uint32_t)next.c.crc, len);
	in->blob_crc = (uint32_t)next.c.crc;
	in->blob_known = true;
	in->off += len;
	if (lseek(in->fd, in->off, SEEK_SET) != (off_t)in->off)
		die_errno("%s: lseek", in->name);
	return true;
}

/* The image fd the blobs name moved from fd from to fd to; returns to. */
static int lz_blobs_moved(int from, int to)
{
	for (size_t i = 0; i < nlz_blobs; i++)
		if (lz_blobs[i].fd == from)
			lz_blobs[i].fd = to;
	return to;
}

/* Walk the records inside a nest held in memory. */
struct tlv_it {
	const uint8_t *p, *end;
	uint32_t tag;
	const uint8_t *val;
	uint64_t len;
};

static struct tlv_it tlv_iter(const uint8_t *p, uint64_t len)
{
	return (struct tlv_it){ .p = p, .end = p + len };
}

static bool tlv_next(struct tlv_it *it, const char *where)
{
	struct tlv_rec r;

	if (it->p == it->end)
		return false;
	if ((size_t)(it->end - it->p) < sizeof(r))
		die("corrupt image: %s: record header cut short", where);
	memcpy(&r, it->p, sizeof(r));
	it->p += sizeof(r);
	if (r.zero || r.len > (uint64_t)(it->end - it->p))
		die("corrupt image: %s: record 0x%x claims %llu bytes, %zu left",
		    where, r.tag, (unsigned long long)r.len,
		    (size_t)(it->end - it->p));
	it->tag = r.tag;
	it->val = it->p;
	it->len = r.len;
	it->p += r.len;
	return true;
}

static const char *tlv_name(uint32_t tag)
{
	switch (tag & ~TLV_OPTIONAL) {
#define TLV_NAME(name, num, kind, fields, doc) case num: return #name;
	TLV_TAGS(TLV_NAME)
#undef TLV_NAME
	}
	return NULL;
}

/* ==== 3. /proc parsing ===================================================
 * Most of a process's state is in /proc/PID text files.  They have no
 * size, so they are read whole into a NUL-terminated buffer.  The parsers
 * accept exactly the format they know and report anything else.
 */
static char *proc_path(char *dst, int pid, const char *name)
{
	if (pid)
		snprintf(dst, PATH_MAX, "/proc/%d/%s", pid, name);
	else
		snprintf(dst, PATH_MAX, "/proc/self/%s", name);
	return dst;
}

/* Read /proc/PID/name whole; NULL with errno set on failure. */
static char *proc_read(int pid, const char *name, size_t *lenp)
{
	char path[PATH_MAX];
	size_t len = 0, cap = 8192;
	char *s;
	int fd = open(proc_path(path, pid, name), O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	s = xmalloc(cap);
	for (;;) {
		ssize_t r = read(fd, s + len, cap - len - 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;

			close(fd);
			free(s);
			errno = e;
			return NULL;
		}
		if (r == 0)
			break;
		len += r;
		if (cap - len < 4096)
			s = xrealloc(s, cap *= 2);
	}
	close(fd);
	s[len] = 0;
	if (lenp)
		*lenp = len;
	return s;
}

static char *proc_xread(int pid, const char *name, size_t *lenp)
{
	char *s = proc_read(pid, name, lenp);

	if (!s)
		die_errno("/proc/%d/%s", pid, name);
	return s;
}

/* readlink /proc/PID/name into a malloc'd string, or die. */
static char *proc_link(int pid, const char *name)
{
	char path[PATH_MAX], buf[MAX_PATH_LEN + 1];
	ssize_t n = readlink(proc_path(path, pid, name), buf, sizeof(buf) - 1);

	if (n < 0)
		die_errno("readlink %s", path);
	if (n >= MAX_PATH_LEN)
		die("%s: link target too long", path);
	buf[n] = 0;
	return xstrdup(buf);
}

/*
 * /proc/PID/stat fields as numbers, f[1] = pid ... f[52]; the comm field
 * (2) is skipped: it may hold spaces and parentheses, so parsing starts
 * after the last ')'.
 */
#define STAT_FIELDS 53
static bool proc_read_stat(int pid, uint64_t *f)
{
	char *s = proc_read(pid, "stat", NULL), *p, *tok;
	int i = 3;

	if (!s)
		return false;
	p = strrchr(s, ')');
	memset(f, 0, STAT_FIELDS * sizeof(*f));
	if (!p || p[1] != ' ')
		die("/proc/%d/stat: unexpected format", pid);
	f[3] = p[2];	/* state letter */
	for (tok = strtok(p + 3, " \n"); tok && i + 1 < STAT_FIELDS;
	     tok = strtok(NULL, " \n"))
		f[++i] = strtoll(tok, NULL, 10);
	if (i < 52)
		die("/proc/%d/stat: only %d fields", pid, i);
	free(s);
	return true;
}

static void proc_stat(int pid, uint64_t *f)
{
	if (!proc_read_stat(pid, f))
		die_errno("/proc/%d/stat", pid);
}

/* The value after "key:" in a "key:\tvalue" file such as status. */
static const char *proc_field(const char *text, const char *key)
{
	size_t n = strlen(key);

	for (const char *p = text; p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (!strncmp(p, key, n) && p[n] == ':')
			return p + n + 1 + strspn(p + n + 1, " \t");
	}
	return NULL;
}

static uint64_t proc_field_u64(const char *text, const char *key, int base,
			       const char *file)
{
	const char *v = proc_field(text, key);
	char *end;
	uint64_t x;

	if (!v)
		die("%s: no %s field", file, key);
	x = strtoull(v, &end, base);
	if (end == v)
		die("%s: bad %s field", file, key);
	return x;
}

/* Parse "a\tb\tc\td" (Uid:, Gid:) into four numbers. */
static void proc_field_ids(const char *text, const char *key, uint64_t *ids,
			   const char *file)
{
	const char *v = proc_field(text, key);

	if (!v || sscanf(v, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
			 &ids[0], &ids[1], &ids[2], &ids[3]) != 4)
		die("%s: bad %s field", file, key);
}

/*
 * /proc/PID/limits: one line per resource, in RLIMIT_* order, with the
 * soft and hard value in fixed columns (26 and 47).  Read from /proc
 * because prlimit() on another user's process needs CAP_SYS_RESOURCE.
 */
static size_t proc_limits(int pid, struct tlv_rlimit *r, size_t max)
{
	char *s = proc_xread(pid, "limits", NULL), *line, *save;
	size_t n = 0;

	strtok_r(s, "\n", &save);	/* header */
	while ((line = strtok_r(NULL, "\n", &save)) && n < max) {
		char soft[32], hard[32];

		if (strlen(line) < 47 ||
		    sscanf(line + 26, "%31s %31s", soft, hard) != 2)
			die("/proc/%d/limits: unexpected line \"%s\"", pid, line);
		r[n].res = n;
		r[n].cur = strcmp(soft, "unlimited") ? strtoull(soft, NULL, 10)
						     : RLIM_INFINITY;
		r[n].max = strcmp(hard, "unlimited") ? strtoull(hard, NULL, 10)
						     : RLIM_INFINITY;
		n++;
	}
	free(s);
	return n;
}

/* One mapping as /proc/PID/smaps shows it. */
struct map_line {
	uint64_t start, end, pgoff;
	char perms[5];
	char *path;			/* "" for plain anonymous memory */
	char vmflags[128];		/* VmFlags: two-letter codes */
	uint64_t pkey;			/* ProtectionKey, 0 if none shown */
	uint64_t kpagesize;		/* KernelPageSize in bytes */
};

/* Parse one smaps header line; false if it is not a header line. */
static bool proc_map_header(const char *line, struct map_line *m)
{
	unsigned long long s, e, off;
	int pos = 0;

	if (sscanf(line, "%llx-%llx %4s %llx %*x:%*x %*u %n", &s, &e, m->perms,
		   &off, &pos) < 4 || !pos)
		return false;
	m->start = s;
	m->end = e;
	m->pgoff = off;
	m->path = xstrdup(line + pos);
	m->vmflags[0] = 0;
	m->pkey = 0;
	m->kpagesize = 0;
	return true;
}

static bool vmflag(const struct map_line *m, const char *code)
{
	for (const char *p = m->vmflags; *p; p += 3)
		if (p[0] == code[0] && p[1] == code[1])
			return true;
	return false;
}

/*
 * All mappings of pid (0 = self) from file: "smaps", which also gives
 * VmFlags, page size and protection key but costs a walk of every present
 * page (~25 ms a GiB), or "maps", which gives only the mapping lines.
 */
static size_t proc_maps_from(int pid, const char *file, struct map_line **out)
{
	char *s = proc_xread(pid, file, NULL), *line, *save;
	struct map_line *m = NULL, tmp;
	size_t n = 0;

	for (line = strtok_r(s, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (proc_map_header(line, &tmp)) {
			*(struct map_line *)vec_add(&m, &n, sizeof(*m)) = tmp;
		} else if (n && !strncmp(line, "KernelPageSize:", 15)) {
			m[n - 1].kpagesize = strtoull(line + 15, NULL, 10) << 10;
		} else if (n && !strncmp(line, "ProtectionKey:", 14)) {
			m[n - 1].pkey = strtoull(line + 14, NULL, 10);
		} else if (n && !strncmp(line, "VmFlags:", 8)) {
			snprintf(m[n - 1].vmflags, sizeof(m->vmflags), "%s",
				 line + 8 + strspn(line + 8, " "));
		}
	}
	free(s);
	*out = m;
	return n;
}

static size_t proc_maps(int pid, struct map_line **out)
{
	return proc_maps_from(pid, "smaps", out);
}

static void maps_free(struct map_line *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(m[i].path);
	free(m);
}

/* ==== 4. ptrace freezer and remote syscalls ==============================
 * A target is frozen with PTRACE_SEIZE + PTRACE_INTERRUPT, thread by
 * thread: each stops in a ptrace event stop and never sees a SIGSTOP.
 * Some state is only readable from inside (sigactions, brk, sigaltstack),
 * so cr makes a thread run single syscalls: it points the registers at a
 * syscall instruction that is already in its memory (in the vDSO, so no
 * code is written), resumes with PTRACE_SYSCALL and takes the result at
 * the syscall-exit stop.  Signals are blocked meanwhile with
 * PTRACE_SETSIGMASK so no handler runs on borrowed registers.
 *
 * Putting a thread back: registers and mask are restored, then a
 * PTRACE_INTERRUPT + PTRACE_CONT brings it into an event stop again, from
 * where the kernel's normal exit path restarts an interrupted syscall
 * (that restart logic is skipped on the way out of a syscall-exit stop).
 */
struct pt {
	int pid;		/* the thread */
	bool seized;
	bool dirty;		/* registers or mask changed by cr */
	bool masked;		/* all signals blocked, for remote syscalls */
	bool have_regs;		/* regs were read (the freeze, or restore) */
	uint64_t regs[MAX_REGS];	/* as found at the freeze */
	uint64_t sigmask;	/* as found at the freeze */
	uint64_t insn;		/* the syscall instruction remote syscalls use */
	uint64_t frame;		/* its self-restoring sigreturn frame, or 0 */
	uint64_t insn0;		/* one found in the process's own code */
	uint64_t scratch, scratch_len;	/* main thread: cr's area, or 0 */
};

/* Wait for a stop of tid; false if it exited instead. */
static bool pt_try_wait(int tid, int *st)
{
	while (waitpid(tid, st, __WALL) < 0)
		if (errno != EINTR)
			return false;
	return WIFSTOPPED(*st);
}

/*
 * Wait until tid is in a ptrace event stop; false if it exited.  Signals
 * that arrive first are delivered as they would have been without cr.
 */
static bool pt_wait_event_stop(int tid)
{
	for (;;) {
		int st, sig;

		if (!pt_try_wait(tid, &st))
			return false;
		sig = WSTOPSIG(st);
		if (st >> 16 == PTRACE_EVENT_STOP) {
			if (sig == SIGSTOP || sig == SIGTSTP ||
			    sig == SIGTTIN || sig == SIGTTOU)
				die("process is stopped by job control (signal %d): not supported yet",
				    sig);
			return true;
		}
		if (st >> 8 == (SIGTRAP | 0x80) || st >> 16)
			sig = 0;	/* a syscall or event stop of ours */
		if (ptrace(PTRACE_CONT, tid, 0, sig))
			return false;
	}
}

/* Resume to the next syscall stop; -errno (never dies: used by undo). */
static int pt_try_resume_syscall(int tid)
{
	int st;

	if (ptrace(PTRACE_SYSCALL, tid, 0, 0))
		return -errno;
	if (!pt_try_wait(tid, &st))
		return -ESRCH;
	return st >> 8 == (SIGTRAP | 0x80) ? 0 : -EINTR;
}

/*
 * Give a thread its own registers and mask back as soon as cr is done
 * asking it things.  It stays stopped; were cr to die now, the kernel's
 * detach wakes it with a signal check, which restarts an interrupted
 * syscall just as the release below does.
 */
static void pt_restore(struct pt *t)
{
	if (t->dirty && (arch_set_regs(t->pid, t->regs) ||
			 ptrace(PTRACE_SETSIGMASK, t->pid, sizeof(t->sigmask),
				&t->sigmask)))
		die_errno("thread %d: putting its registers back", t->pid);
	t->masked = false;
}

/*
 * Run one syscall inside the stopped thread, result in *ret; -errno if
 * ptrace failed.  Never dies, so that the undo path can use it.
 */
static int pt_try_syscall(struct pt *t, long nr, const long *a, long *ret)
{
	uint64_t regs[MAX_REGS];
	uint64_t all = ~0ULL;
	int r;

	if (!t->insn)
		return -ENOEXEC;
	t->dirty = true;
	if (!t->masked) {
		if (ptrace(PTRACE_SETSIGMASK, t->pid, sizeof(all), &all))
			return -errno;
		t->masked = true;
	}
	memcpy(regs, t->regs, sizeof(regs));
	arch_syscall_regs(regs, t->insn, nr, a);
	if (t->frame)
		arch_set_frame_sp(regs, t->frame);
	if (arch_set_regs(t->pid, regs))
		return -errno;
	if ((r = pt_try_resume_syscall(t->pid)) ||	/* entry */
	    (r = pt_try_resume_syscall(t->pid)))	/* exit */
		return r;
	if (arch_get_regs(t->pid, regs))
		return -errno;
	*ret = arch_syscall_ret(regs);
	/*
	 * Not from cr's area (mapping and unmapping it): nothing brings the
	 * thread back by itself should cr die, so its own registers and
	 * mask go back at once, and the unsafe window is this syscall only.
	 */
	if (!t->frame) {
		if (arch_set_regs(t->pid, t->regs) ||
		    ptrace(PTRACE_SETSIGMASK, t->pid, sizeof(t->sigmask),
			   &t->sigmask))
			return -errno;
		t->masked = false;
	}
	return 0;
}

/* Put the thread back as it was and let it go (or leave it dead). */
static void pt_release(struct pt *t)
{
	const long unmap[6] = { (long)t->scratch, (long)t->scratch_len };
	long ret;

	if (!t->seized)
		return;
	t->seized = false;
	t->insn = t->insn0;	/* the area is about to go */
	t->frame = 0;
	if (t->scratch && !pt_try_syscall(t, __NR_munmap, unmap, &ret))
		t->scratch = 0;
	if (t->have_regs && arch_release_restart(t->regs))
		t->dirty = true;
	if (t->dirty) {
		if (arch_set_regs(t->pid, t->regs) ||
		    ptrace(PTRACE_SETSIGMASK, t->pid, sizeof(t->sigmask),
			   &t->sigmask) ||
		    ptrace(PTRACE_INTERRUPT, t->pid, 0, 0) ||
		    ptrace(PTRACE_CONT, t->pid, 0, 0) ||
		    !pt_wait_event_stop(t->pid))
			fprintf(stderr, "cr: thread %d: putting it back failed: %s\n",
				t->pid, strerror(errno));
		else if (t->have_regs)
			arch_release_restart2(t->pid, t->regs);
	}
	if (ptrace(PTRACE_DETACH, t->pid, 0, 0) && errno != ESRCH)
		fprintf(stderr, "cr: thread %d: detach failed: %s\n", t->pid,
			strerror(errno));
}

/*
 * Seize one thread and ask it to stop; false if it is gone (exited
 * meanwhile).  pt_stopped() then waits for the stop: seizing a whole
 * thread group first and waiting after keeps the freeze short when many
 * threads compete for few CPUs.
 */
static bool pt_seize(struct pt *t, int tid)
{
	t->pid = tid;
	/* seccomp filters must not see cr's remote syscalls (needs root) */
	if (ptrace(PTRACE_SEIZE, tid, 0, PTRACE_O_TRACESYSGOOD |
		   PTRACE_O_SUSPEND_SECCOMP) &&
	    ptrace(PTRACE_SEIZE, tid, 0, PTRACE_O_TRACESYSGOOD)) {
		if (errno == ESRCH || errno == EPERM)
			return false;
		die_errno("cannot trace thread %d", tid);
	}
	t->seized = true;
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0)) {
		t->seized = false;
		return false;
	}
	return true;
}

/* Wait for a seized thread's stop and read its state; false if it exited. */
static bool pt_stopped(struct pt *t)
{
	int tid = t->pid;

	if (!pt_wait_event_stop(tid)) {
		t->seized = false;
		return false;
	}
	if (arch_get_regs(tid, t->regs))
		die_errno("thread %d: reading registers", tid);
	if (ptrace(PTRACE_GETSIGMASK, tid, sizeof(t->sigmask), &t->sigmask))
		die_errno("thread %d: PTRACE_GETSIGMASK", tid);
	t->have_regs = true;
	return true;
}

/* Run one syscall inside the stopped thread and return its result. */
static long pt_syscall(struct pt *t, long nr, long a0, long a1, long a2,
		       long a3, long a4, long a5)
{
	const long a[6] = { a0, a1, a2, a3, a4, a5 };
	long ret;
	int r = pt_try_syscall(t, nr, a, &ret);

	if (r == -ENOEXEC)
		die("no syscall instruction found in the process's memory");
	if (r) {
		errno = -r;
		die_errno("thread %d: running syscall %ld", t->pid, nr);
	}
	return ret;
}

/* Read target memory; -errno if any of it is unreadable. */
static int pt_read(int pid, uint64_t addr, void *dst, size_t len)
{
	struct iovec l = { dst, len }, r = { (void *)addr, len };
	ssize_t n = process_vm_readv(pid, &l, 1, &r, 1, 0);

	if (n == (ssize_t)len)
		return 0;
	return n < 0 ? -errno : -EFAULT;
}

/* Find a syscall instruction in [start, end) of pid's memory; 0 if none. */
static uint64_t pt_find_insn(int pid, uint64_t start, uint64_t end)
{
	size_t len = end - start, step = arch_syscall_insn_len == 4 ? 4 : 1;
	uint8_t *b = xmalloc(len);
	uint64_t found = 0;

	if (!pt_read(pid, start, b, len))
		for (size_t i = 0; i + arch_syscall_insn_len <= len; i += step)
			if (!memcmp(b + i, arch_syscall_insn,
				    arch_syscall_insn_len)) {
				found = start + i;
				break;
			}
	free(b);
	return found;
}

/* Find a syscall instruction to borrow, preferably in the vDSO. */
static uint64_t pt_find_any_insn(int pid)
{
	struct map_line *m;
	size_t n = proc_maps_from(pid, "maps", &m);
	uint64_t insn = 0;

	for (int pass = 0; pass < 2 && !insn; pass++)
		for (size_t i = 0; i < n && !insn; i++)
			if (m[i].perms[2] == 'x' && m[i].perms[0] == 'r' &&
			    (pass || !strcmp(m[i].path, "[vdso]")))
				insn = pt_find_insn(pid, m[i].start, m[i].end);
	maps_free(m, n);
	return insn;
}

/* Write target memory (a writable mapping); -errno on failure. */
static int pt_write(int pid, uint64_t addr, const void *src, size_t len)
{
	struct iovec l = { (void *)src, len }, r = { (void *)addr, len };
	ssize_t n = process_vm_writev(pid, &l, 1, &r, 1, 0);

	if (n == (ssize_t)len)
		return 0;
	return n < 0 ? -errno : -EFAULT;
}

/* Write target memory through /proc/PID/mem: read-only pages too. */
static int pt_write_mem(int pid, uint64_t addr, const void *src, size_t len)
{
	char path[64];
	int fd, r = 0;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || pwrite(fd, src, len, addr) != (ssize_t)len)
		r = -errno;
	if (fd >= 0)
		close(fd);
	return r;
}

/* Unmap cr's area in the process (col_scratch made it). */
static void pt_scratch_free(struct pt *t)
{
	long r;

	if (!t->scratch)
		return;
	t->insn = t->insn0;
	t->frame = 0;
	r = pt_syscall(t, __NR_munmap, t->scratch, t->scratch_len, 0, 0, 0, 0);
	if (r) {
		errno = -r;
		die_errno("unmapping cr's area in the process");
	}
	t->scratch = 0;
}

/* Run a syscall that writes *out (an int or u64) into the scratch page. */
static long pt_query(struct pt *t, uint64_t scratch, long nr, long a0,
		     long a1, uint64_t *out)
{
	long r = pt_syscall(t, nr, a0, a1, 0, 0, 0, 0);

	*out = 0;
	if (r >= 0 && pt_read(t->pid, scratch, out, 8))
		die("thread %d: reading back a syscall result", t->pid);
	return r;
}

/* ==== 5. collect =========================================================
 * A process tree goes into struct image: plain structs that mirror the
 * image records, filled from /proc, ptrace and remote syscalls.  The tree
 * is frozen top-down (a frozen process can neither fork nor reap, so its
 * children can be listed once), every thread of every process is seized.
 * Anything cr cannot restore is refused here, naming pid, fd or mapping
 * and kind, before anything is written or any target changed.  Restore
 * reads an image back into the same structs.
 */
struct vma {
	struct tlv_vma v;
	bool tracked;		/* dump: registered with the tracker (5b) */
	char *path;		/* TLV_VMA_FILE: the mapped file */
	char *name;		/* SPECIAL: "[vdso]"...; ANON: its name or NULL */
	struct tlv_fstat st;	/* TLV_VMA_FILE */
	uint64_t premap;	/* restore: where cr builds it */
	struct tlv_vma_adv adv;	/* madvise, mlock, pkey (5b); 0 = none */
	bool sysv;		/* a SysV shm attachment: SHMAT */
	struct tlv_shmat shmat;
};

struct watch {			/* one inotify watch */
	struct tlv_watch w;
	char *path;
};

struct fan_mark {		/* one fanotify mark */
	struct tlv_fan_mark m;
	char *path;
};

struct fd {
	struct tlv_fd f;
	char *path;		/* REG, DIR, CHR, FIFO */
	struct tlv_fstat st;
	struct tlv_eventfd ev;	/* kind-specific state */
	struct tlv_signalfd sig;
	struct tlv_timerfd tmr;
	struct tlv_timerfd_at tmr_at;	/* realtime_ns 0: an older image */
	struct tlv_epoll_tfd *epoll;
	size_t nepoll;
	struct watch *watches;
	size_t nwatches;
	struct tlv_fanotify fan;
	struct fan_mark *marks;
	size_t nmarks;
	struct tlv_fown own;	/* F_SETOWN_EX, F_SETSIG; pid 0: none */
	struct tlv_lock *locks;	/* file locks held through it */
	size_t nlocks;
	uint64_t dev, ino;	/* dump: the file, to find shared ones */
	struct sock_state *sk;	/* INET, NETLINK, PACKET */
};

struct thread {
	struct tlv_thread t;
	char *comm;
	uint64_t regs[MAX_REGS];	/* arch_nregs of them */
	uint8_t *fpu;
	size_t fpu_len;
	uint8_t *xtra;		/* arch_xtra_tag's bytes, if any */
	size_t xtra_len;
	struct tlv_siginfo *sig;	/* pending: private, and shared in [0] */
	size_t nsig;
	struct pt pt;		/* dump: ptrace state */
	/* seccomp */
	struct tlv_seccomp sc;
	struct tlv_sc_filter *scf;	/* sc.nfilters of them */
	size_t nscf;		/* restore: SC_FILTER rows read */
	uint8_t *scprog;	/* their programs, concatenated */
	size_t scprog_len;
	/* timer slack, ioprio, affinity (section 5b) */
	bool has_kt;		/* restore: the image had KTHREAD */
	struct tlv_kthread kt;
	struct tlv_cpus *cpus;
	size_t ncpus;
};

struct psrc {			/* restore: pages found in a parent image */
	uint64_t addr, npages, off;
	const struct image *img;
};

struct lz_run {			/* restore --lazy-pages: pages still to copy */
	uint64_t addr, npages;	/* where they go now, in the process */
	uint64_t off;		/* where they are in the image file fd */
	int fd;
	bool wipe;		/* MADV_WIPEONFORK: a forked child has none */
};

struct runs {			/* page runs, ascending */
	struct tlv_run *v;
	size_t n;
	uint64_t npages;
};

#define TRK_FDS 16	/* trackers take the lowest free of the top 16 fds */

struct task {
	struct tlv_proc proc;
	struct tlv_creds creds;
	struct tlv_group *groups;
	size_t ngroups;
	char *cwd, *root;
	char *comm;		/* zombies: the name they died with */
	struct tlv_mm mm;
	struct tlv_auxv *auxv;
	size_t nauxv;
	struct tlv_rlimit rlim[RLIM_NLIMITS];
	size_t nrlim;
	struct tlv_sigact act[NSIG_MAX];
	size_t nact;
	char *exe;
	struct tlv_fstat exe_st;
	struct vma *vmas;
	size_t nvmas;
	struct fd *fds;
	size_t nfds;
	struct thread *th;	/* th[0] is the main thread */
	size_t nth;
	struct runs own, inh;	/* pages saved; pages kept from the parent */
	struct runs written;	/* dump: tracked pages written since (5b) */
	bool written_known;	/* ... found by col_pages's own walk */
	struct runs prun;	/* pages unchanged since the parent image */
	struct psrc *src;	/* restore: where the prun pages are */
	size_t nsrc;
	struct lz_run *lz;	/* restore --lazy-pages: left to the server */
	size_t nlz;
	int lz_fd;		/* the fd number its userfaultfd will have */
	int trk_fd;		/* dump: its tracker's fd in it, -1 if none */
	int uffd;		/* dump: cr's copy of that tracker, or -1 */
	uint64_t trk_ino;	/* its inode; soft-dirty: the start time */
	bool trk_sd;		/* dump: tracked by soft-dirty bits instead */
	int trk_new_fd;		/* dump: the tracker made for the next round */
	int uffd_new;		/* ... cr's copy of it */
	uint64_t trk_new_ino;
	int trk_next_fd;	/* ... the fd TRACK names: it takes trk_fd's */
	int stale_fd[TRK_FDS], nstale;	/* trackers no image names */
	uint64_t stale_ino[TRK_FDS];
	uint64_t pages_off;	/* restore: stream offset of the page data */
	long parent;		/* index of the parent task, -1 for the root */
	long via;		/* tree_helper that forks it instead, or -1 */
	struct tlv_share share;	/* fd table, fs struct shared with the parent */
	uint64_t area;		/* restore: its restorer area (section 9) */
	struct rst_args *args;
	/* timers, credentials */
	struct tlv_times times;
	struct tlv_itimer itimer[3];
	size_t nitimer;
	struct tlv_ptimer *ptimers;
	size_t nptimers;
	uint64_t itimer_at[3], *ptimer_at;	/* dump: CLOCK_REALTIME when read */
	struct tlv_priv priv;
	/* prctl state, speculation, cgroup (section 5b) */
	bool has_ks;		/* restore: the image had KSTATE */
	struct tlv_kstate ks;
	struct tlv_spec *spec;
	size_t nspec;
	char *cgroup;		/* cgroup v2 path, NULL if not known */
};

struct pipe_obj {		/* a pipe, or a FIFO by path */
	struct tlv_pipe p;
	char *path;		/* FIFO: its path */
	uint8_t *data;
	size_t len;
	uint64_t dev, ino;	/* dump: its inode */
	int fd[2];		/* restore: read and write end */
};

struct fobj {			/* shmem, unlinked file, memfd */
	struct tlv_obj s;
	char *path;		/* GHOST: where it was */
	char *name;		/* MEMFD: its name */
	struct runs runs;	/* "addr" is the offset in the object */
	uint64_t pages_off;
	uint64_t dev, ino;	/* dump: its inode */
	int fd;			/* dump: open on it; restore: helper fd */
	bool tmpfile;		/* restore: made by O_TMPFILE, fd is that ofd */
	struct tlv_sysv_shm shm;	/* SYSV */
	uint64_t huge;		/* on hugetlbfs: its page size (HUGETLB), else 0 */
	uint64_t nattch;	/* dump, SYSV: attachments the kernel counts */
};

struct tree_helper {		/* restore: stands in for an exited leader */
	uint64_t pid, sid;	/* a session's (pid == sid) or a group's */
	long forker;		/* index of the task that forks it */
};

struct tty_obj {		/* a pseudo-terminal (section 5a) */
	struct tlv_tty y;
	struct tlv_termios tio;	/* PTY (the master's is fixed raw) */
	uint8_t *in, *out;	/* queued for the slave's, the master's reader */
	size_t nin, nout;
	int mpid, mfd;		/* dump: a master fd of the tree */
	int m, s;		/* cr's master and slave fds, or -1 */
};

struct usk {			/* a unix socket */
	struct tlv_usk u;
	uint8_t *name;		/* bound: sun_path bytes (abstract: NUL first) */
	size_t namelen;		/* 0: not bound */
	char *dir;		/* a relative name: the directory it is in */
	uint8_t *data;		/* queued for reading, oldest first */
	size_t len;
	struct tlv_usk_msg *msgs;	/* DGRAM, SEQPACKET: message lengths */
	size_t nmsgs;
	uint8_t *from;		/* DGRAM: the messages' senders' addresses */
	size_t fromlen;
	struct tlv_usk_icon *icons;	/* listening: queued connections */
	size_t nicons;
	uint8_t *pname;		/* PEER_EXT: the outside peer's address */
	size_t pnamelen;
	uint8_t *filter;	/* classic BPF filter, 8 bytes an instruction */
	size_t filterlen;
	uint64_t ino, peer_ino;	/* dump: its inode, its peer's */
	uint64_t wq;		/* dump: bytes it sent not yet read */
	int fd, tmp;		/* restore: the socket, a stand-in peer */
};

struct image {
	struct task *t;		/* parents before children, [0] the root */
	size_t nt;
	/* chains (section 5b): */
	bool predump;		/* PREDUMP: pages copied while running */
	char *parent;		/* PARENT, as written */
	struct tlv_end parent_id, end;	/* PARENT_ID; this image's END */
	struct tlv_track *track;	/* TRACK rows */
	size_t ntrack;
	struct image *prev;	/* the parent image, read */
	unsigned slot;		/* sent to a receiver (6b): its number there */
	int fd;			/* restore: a parent image's data, spooled */
	bool keep_track;	/* dump: leave trackers for a next dump */
	bool streamed;		/* read from a pipe, not a file */
	size_t ntrk_undo;	/* dump: undo entries closing new trackers */
	uint64_t chain_seen;	/* read: which of those records came */
	uint64_t netlock;	/* NETLOCK: the dump's network lock, 0 if none */
	struct tree_helper *helpers;	/* from img_check_tree */
	size_t nhelpers;
	struct pipe_obj *pipes;
	size_t npipes;
	struct fobj *objs;
	size_t nobjs;
	struct tty_obj *ttys;
	size_t nttys;
	struct usk *usks;
	size_t nusks;
	bool ext_unix;		/* dump: --ext-unix-sk */
	uint64_t nofds;		/* ofd ids are 1..nofds */
	uint64_t ghost_limit;	/* dump: --ghost-limit */
	int tcp_mode;		/* dump: 'E' --tcp-established, 'C' --tcp-close */
	bool file_locks;	/* dump: --file-locks */
	struct { uint64_t dev, ino; } stdio[3];	/* dump -j: the root's */
};

static bool task_zombie(const struct task *t)
{
	return t->proc.flags & TLV_PROC_ZOMBIE;
}

static const char *const special_names[] = {
	"[vdso]", "[vvar]", "[vvar_vclock]",
};

static bool is_special_name(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(special_names); i++)
		if (!strcmp(s, special_names[i]))
			return true;
	return false;
}

static void fstat_to_tlv(const struct stat *st, struct tlv_fstat *t)
{
	t->mode = st->st_mode;
	t->size = st->st_size;
	t->mtime_ns = st->st_mtim.tv_sec * 1000000000ULL + st->st_mtim.tv_nsec;
	t->rdev = st->st_rdev;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

/* Undo of a dump: let every seized thread go, in reverse order. */
static void frz_release(void *arg)
{
	struct image *im = arg;

	for (size_t i = im->nt; i-- > 0;)
		for (size_t k = im->t[i].nth; k-- > 0;)
			pt_release(&im->t[i].th[k].pt);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The numeric entries of a /proc directory, sorted. */
static size_t proc_list(int pid, const char *dir, uint64_t **out)
{
	char path[PATH_MAX];
	DIR *d = opendir(proc_path(path, pid, dir));
	struct dirent *e;
	uint64_t *v = NULL;
	size_t n = 0;

	if (!d)
		die_errno("%s", path);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			*(uint64_t *)vec_add(&v, &n, sizeof(*v)) =
				strtoull(e->d_name, NULL, 10);
	closedir(d);
	xsort(v, n, sizeof(*v), cmp_u64);
	*out = v;
	return n;
}

/*
 * Seize every thread of t, listing /proc/PID/task again until no new one
 * appears: a thread not yet seized may create more.  Threads that exit
 * meanwhile are left out; the main thread must be there.
 */
static void frz_threads(struct task *t, int timeout_ms)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (bool added = true; added;) {
		uint64_t *tids;
		size_t n = proc_list(t->proc.pid, "task", &tids), first = t->nth;
		struct timespec now;

		added = false;
		for (size_t i = 0; i < n; i++) {
			size_t k = 0;
			struct thread *th;

			while (k < t->nth && t->th[k].t.tid != tids[i])
				k++;
			if (k < t->nth)
				continue;
			th = vec_add(&t->th, &t->nth, sizeof(*th));
			th->t.tid = tids[i];
			if (!pt_seize(&th->pt, tids[i]))
				t->nth--;
		}
		for (size_t k = first; k < t->nth;) {	/* now wait for them */
			if (pt_stopped(&t->th[k].pt)) {
				k++;
				added = true;
				continue;
			}
			memmove(&t->th[k], &t->th[k + 1],
				(t->nth - k - 1) * sizeof(*t->th));
			t->nth--;
		}
		free(tids);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) * 1000 +
		    (now.tv_nsec - t0.tv_nsec) / 1000000 > timeout_ms)
			die("threads keep appearing: could not freeze them within --timeout");
	}
	for (size_t k = 1; k < t->nth; k++)	/* pids wrap: main may not be lowest */
		if (t->th[k].t.tid == t->proc.pid) {
			struct thread x = t->th[0];

			t->th[0] = t->th[k];
			t->th[k] = x;
		}
	if (!t->nth || t->th[0].t.tid != t->proc.pid)
		die("the main thread has exited: not supported");
}

static struct task *img_add_task(struct image *im, int pid, long parent)
{
	struct task *t = vec_add(&im->t, &im->nt, sizeof(*t));

	t->proc.pid = pid;
	t->parent = parent;
	t->trk_fd = t->uffd = t->trk_new_fd = t->uffd_new = t->trk_next_fd = -1;
	return t;
}

/*
 * Freeze the tree under root, top-down.  A child that already exited and
 * was not waited for is a zombie: it is recorded, not seized.
 */
static void freeze(struct image *im, int root, int timeout_ms)
{
	undo_push(frz_release, im);
	img_add_task(im, root, -1);
	for (size_t i = 0; i < im->nt; i++) {
		struct task *t = &im->t[i];
		uint64_t f[STAT_FIELDS];

		ctx.pid = t->proc.pid;
		if (!proc_read_stat(t->proc.pid, f))
			die("no such process");
		if (f[3] == 'Z' || f[3] == 'X') {
			if (i == 0)
				die("the process is a zombie");
			t->proc.flags |= TLV_PROC_ZOMBIE;
			t->comm = proc_xread(t->proc.pid, "comm", NULL);
			t->comm[strcspn(t->comm, "\n")] = 0;
			t->proc.ppid = f[4], t->proc.pgid = f[5];
			t->proc.sid = f[6], t->proc.exit_signal = f[38];
			t->proc.exit_status = f[52];
			continue;
		}
		frz_threads(t, timeout_ms);
		t = &im->t[i];
		for (size_t k = 0; k < t->nth; k++) {
			char name[64], *s, *tok, *save;

			snprintf(name, sizeof(name), "task/%llu/children",
				 (unsigned long long)t->th[k].t.tid);
			s = proc_xread(t->proc.pid, name, NULL);
			for (tok = strtok_r(s, " \n", &save); tok;
			     tok = strtok_r(NULL, " \n", &save))
				img_add_task(im, atoi(tok), i);
			free(s);
			t = &im->t[i];
		}
	}
	ctx.pid = 0;
}

/* Ids, credentials, directories, limits, auxv, mm fields of a process. */
static void col_proc(struct task *t)
{
	int pid = t->proc.pid;
	uint64_t f[STAT_FIELDS], ids[4];
	char *st = proc_xread(pid, "status", NULL), *s, *tok, *save;
	struct stat sb;
	size_t len;

	proc_stat(pid, f);
	t->proc.ppid = f[4], t->proc.pgid = f[5], t->proc.sid = f[6];
	t->proc.exit_signal = f[38];
	t->proc.umask = proc_field_u64(st, "Umask", 8, "status");
	proc_field_ids(st, "Uid", ids, "status");
	t->creds.uid = ids[0], t->creds.euid = ids[1];
	t->creds.suid = ids[2], t->creds.fsuid = ids[3];
	proc_field_ids(st, "Gid", ids, "status");
	t->creds.gid = ids[0], t->creds.egid = ids[1];
	t->creds.sgid = ids[2], t->creds.fsgid = ids[3];
	s = xstrdup(proc_field(st, "Groups") ? proc_field(st, "Groups") : "");
	s[strcspn(s, "\n")] = 0;
	for (tok = strtok_r(s, " \t", &save); tok;
	     tok = strtok_r(NULL, " \t", &save))
		((struct tlv_group *)vec_add(&t->groups, &t->ngroups,
					     sizeof(*t->groups)))->gid =
			strtoull(tok, NULL, 10);
	free(s);
	free(st);

	t->cwd = proc_link(pid, "cwd");
	t->root = proc_link(pid, "root");
	t->exe = proc_link(pid, "exe");
	if (ends_with(t->cwd, " (deleted)"))
		refuse("working directory %s was deleted: not supported yet", t->cwd);
	if (ends_with(t->exe, " (deleted)"))
		refuse("executable %s was deleted: not supported yet", t->exe);
	else if (stat(t->exe, &sb))
		die_errno("executable %s", t->exe);
	fstat_to_tlv(&sb, &t->exe_st);
	s = proc_xread(pid, "personality", NULL);
	t->proc.personality = strtoull(s, NULL, 16);
	free(s);
	t->nrlim = proc_limits(pid, t->rlim, RLIM_NLIMITS);
	s = proc_xread(pid, "auxv", &len);
	if (len % sizeof(struct tlv_auxv))
		die("/proc/%d/auxv: odd size %zu", pid, len);
	t->auxv = (struct tlv_auxv *)s;
	t->nauxv = len / sizeof(struct tlv_auxv);
	t->mm = (struct tlv_mm){ .start_code = f[26], .end_code = f[27],
		.start_stack = f[28], .start_data = f[45], .end_data = f[46],
		.start_brk = f[47], .arg_start = f[48], .arg_end = f[49],
		.env_start = f[50], .env_end = f[51] };
}

/*
 * hugetlb memory comes in huge pages of one size (2 MiB, 1 GiB...) from a
 * pool the administrator reserves (/proc/sys/vm/nr_hugepages, or per size
 * in /sys/kernel/mm/hugepages/hugepages-NkB/).  A mapping keeps its page
 * size in its VMA flags as mmap(2) takes it, MAP_HUGETLB | log2(size) <<
 * MAP_HUGE_SHIFT; a file object on hugetlbfs (shared MAP_HUGETLB memory,
 * a SHM_HUGETLB segment, an MFD_HUGETLB memfd) has a HUGETLB record.
 * Their bounds, offsets and sizes are all multiples of the page size.
 */
#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC	0x958458f6
#endif
#ifndef MFD_HUGE_SHIFT
#define MFD_HUGE_SHIFT	26	/* as MAP_HUGE_SHIFT and SHM_HUGE_SHIFT */
#endif
#ifndef SHM_HUGE_SHIFT
#define SHM_HUGE_SHIFT	26
#endif
#define HUGE_BITS	(MAP_HUGETLB | (uint64_t)MAP_HUGE_MASK << MAP_HUGE_SHIFT)
#define HUGE_MIN	(64ULL << 10)	/* page sizes cr accepts: 64 KiB */
#define HUGE_MAX	(16ULL << 30)	/* .. 16 GiB (arm64 has both) */

static bool huge_size_ok(uint64_t size)
{
	return size >= HUGE_MIN && size <= HUGE_MAX && !(size & (size - 1));
}

/* MAP_* bits of hugetlb memory with this page size. */
static uint64_t huge_flags(uint64_t size)
{
	return MAP_HUGETLB | (uint64_t)__builtin_ctzll(size) << MAP_HUGE_SHIFT;
}

/* A mapping's huge page size from its flags, 0 if it is not hugetlb. */
static uint64_t flags_huge(uint64_t flags)
{
	return flags & MAP_HUGETLB ?
	       1ULL << (flags >> MAP_HUGE_SHIFT & MAP_HUGE_MASK) : 0;
}

/* The page size of the hugetlbfs fd is on, 0 if it is on another fs. */
static uint64_t fd_huge(int fd, const char *what)
{
	struct statfs sf;

	if (fstatfs(fd, &sf))
		die_errno("statfs %s", what);
	return sf.f_type == HUGETLBFS_MAGIC ? (uint64_t)sf.f_bsize : 0;
}

/*
 * A file object the image carries whole: shared anonymous memory, an
 * unlinked file still open or mapped, a memfd.  link is a /proc path
 * (fd/N or map_files/RANGE) that opens it; name is what /proc shows.
 */
static struct fobj *col_fobj(struct image *im, const char *link,
			     const char *name, uint64_t ghost_limit)
{
	struct stat sb;
	struct fobj *o;

	if (stat(link, &sb))
		die_errno("%s", link);
	for (size_t i = 0; i < im->nobjs; i++)
		if (im->objs[i].dev == sb.st_dev && im->objs[i].ino == sb.st_ino)
			return &im->objs[i];
	o = vec_add(&im->objs, &im->nobjs, sizeof(*o));
	o->s.id = im->nobjs;
	o->s.size = sb.st_size;
	o->s.mode = sb.st_mode;
	o->dev = sb.st_dev, o->ino = sb.st_ino;
	o->fd = xopen(link, O_RDONLY);
	o->huge = fd_huge(o->fd, name);
	if (o->huge && !huge_size_ok(o->huge))
		refuse("%s: hugetlbfs with %llu-byte pages: not supported", name,
		       (unsigned long long)o->huge);
	if (!strcmp(name, "/dev/zero (deleted)") ||
	    (o->huge && !strcmp(name, "/anon_hugepage (deleted)"))) {
		o->s.kind = TLV_OBJ_SHMEM;
		o->s.size = ROUND_UP(sb.st_size, o->huge ? o->huge : PAGE);
	} else if (!strncmp(name, "/SYSV", 5)) {
		o->s.kind = TLV_OBJ_SYSV;	/* col_sysv fills in the rest */
	} else if (!strncmp(name, "/memfd:", 7)) {
		long seals = fcntl(o->fd, F_GET_SEALS);

		if (seals < 0)
			die_errno("%s: F_GET_SEALS", name);
		o->s.kind = TLV_OBJ_MEMFD;
		o->s.seals = seals;
		o->name = xstrdup(name + 7);
		o->name[strlen(o->name) - strlen(" (deleted)")] = 0;
	} else {
		if (!S_ISREG(sb.st_mode))
			refuse("%s: an unlinked file that is not a regular file: not supported",
			       name);
		if (o->huge)
			refuse("%s: an unlinked file on hugetlbfs: not supported",
			       name);
		if ((uint64_t)sb.st_size > ghost_limit)
			refuse("file %s was unlinked and is %lld bytes, above --ghost-limit (%llu)",
			    name, (long long)sb.st_size,
			    (unsigned long long)ghost_limit);
		o->s.kind = TLV_OBJ_GHOST;
		o->path = xstrdup(name);
		o->path[strlen(o->path) - strlen(" (deleted)")] = 0;
	}
	return o;
}

/* Refuse a mapping; false: it is left out (under cr check). */
static bool __attribute__((format(printf, 3, 4)))
refuse_vma(unsigned long long s, unsigned long long e, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	refuse("mapping %llx-%llx: %s", s, e, msg);
	return false;
}

/*
 * A System V shm attachment.  Its inode number is the segment's id, which
 * cr reads the segment by: so cr must be in the process's IPC namespace
 * (a private one would have to be recreated whole: not supported).  Only
 * whole attachments, as shmat() makes them, are supported.
 */
static bool col_sysv(struct image *im, int pid, const struct map_line *m,
		     struct vma *v, const char *link)
{
	unsigned long long s = m->start, e = m->end;
	char ns[64];
	struct stat a, b;
	struct shmid_ds ds;
	key_t key;
	struct fobj *o;

	snprintf(ns, sizeof(ns), "/proc/%d/ns/ipc", pid);
	if (stat(ns, &a) || stat("/proc/self/ns/ipc", &b))
		die_errno("%s", ns);
	if (a.st_ino != b.st_ino)
		return refuse_vma(s, e, "System V shared memory in another IPC namespace: not supported");
	if (stat(link, &a))
		die_errno("%s", link);
	if (a.st_ino > INT_MAX || shmctl(a.st_ino, IPC_STAT, &ds))
		die_errno("System V shm segment %llu",
			  (unsigned long long)a.st_ino);
	memcpy(&key, &ds.shm_perm, sizeof(key));	/* first in every libc */
	if (m->pgoff || e - s != ROUND_UP(ds.shm_segsz, m->kpagesize))
		return refuse_vma(s, e, "part of System V shm segment %llu (unmapped in part): not supported",
				  (unsigned long long)a.st_ino);
	if (ds.shm_perm.mode & SHM_LOCKED)
		return refuse_vma(s, e, "System V shm segment locked with SHM_LOCK: not supported yet");
	o = col_fobj(im, link, m->path, 0);
	o->shm = (struct tlv_sysv_shm){ .shmid = a.st_ino, .key = (uint32_t)key,
		.mode = ds.shm_perm.mode & 0777, .uid = ds.shm_perm.uid,
		.gid = ds.shm_perm.gid,
		.removed = !!(ds.shm_perm.mode & SHM_DEST) };
	o->nattch = ds.shm_nattch;
	v->sysv = true;		/* "may write" is off only for SHM_RDONLY */
	v->shmat.flags = vmflag(m, "mw") ? 0 : SHM_RDONLY;
	v->v.kind = TLV_VMA_OBJ;
	v->v.obj = o->s.id;
	return true;
}

/*
 * Attachments of a segment outside the tree would be cut off from it
 * after restore: the kernel's count must be the tree's.
 */
static void col_check_sysv(const struct image *im)
{
	for (size_t i = 0; i < im->nobjs; i++) {
		size_t n = 0;

		if (im->objs[i].s.kind != TLV_OBJ_SYSV)
			continue;
		for (size_t k = 0; k < im->nt; k++)
			for (size_t j = 0; j < im->t[k].nvmas; j++)
				n += im->t[k].vmas[j].v.kind == TLV_VMA_OBJ &&
				     im->t[k].vmas[j].v.obj == im->objs[i].s.id;
		if (n != im->objs[i].nattch)
			refuse("System V shm segment %llu is attached %llu times, %zu of them in the dumped tree: not supported",
			    (unsigned long long)im->objs[i].shm.shmid,
			    (unsigned long long)im->objs[i].nattch, n);
	}
}

/* Classify one mapping; false if it is left out of the image. */
static bool col_vma(struct image *im, int pid, const struct map_line *m,
		    struct vma *v, bool trk)
{
	const char *p = m->path;
	bool shared = m->perms[3] == 's';
	unsigned long long s = m->start, e = m->end;
	char link[80];
	struct stat sa, sb;

	v->v = (struct tlv_vma){ .start = s, .end = e, .pgoff = m->pgoff,
		.prot = (m->perms[0] == 'r' ? PROT_READ : 0) |
			(m->perms[1] == 'w' ? PROT_WRITE : 0) |
			(m->perms[2] == 'x' ? PROT_EXEC : 0),
		.flags = shared ? MAP_SHARED : MAP_PRIVATE };
	if (!strcmp(p, "[vsyscall]") || !strcmp(p, "[uprobes]"))
		return false;	/* not a VMA of the mm, or recreated on demand */
	if (is_special_name(p)) {	/* before the VM_IO check: [vvar] has it */
		v->v.kind = TLV_VMA_SPECIAL;
		v->name = xstrdup(p);
		return true;
	}
	if (vmflag(m, "ht")) {
		if (!huge_size_ok(m->kpagesize) || s % m->kpagesize ||
		    e % m->kpagesize)
			return refuse_vma(s, e, "hugetlb memory with %llu-byte pages: not supported",
					  (unsigned long long)m->kpagesize);
		v->v.flags |= huge_flags(m->kpagesize);
	}
	if (vmflag(m, "um"))	/* what a lazy restore leaves until it is done */
		return refuse_vma(s, e, "registered with userfaultfd (by the program, or by a lazy restore whose pages are still coming in): not supported");
	if (vmflag(m, "ui") || (vmflag(m, "uw") && !trk))
		return refuse_vma(s, e, "registered with userfaultfd: not supported");
	v->tracked = vmflag(m, "uw");	/* by cr's tracker (section 5b) */
	if (vmflag(m, "ss"))
		return refuse_vma(s, e, "shadow stack: not supported yet");
	if (vmflag(m, "io") || vmflag(m, "pf"))
		return refuse_vma(s, e, "device memory (%s): not supported", p);
	if (vmflag(m, "gd"))
		v->v.flags |= MAP_GROWSDOWN;
	snprintf(link, sizeof(link), "/proc/%d/map_files/%llx-%llx", pid, s, e);
	if ((v->v.flags & MAP_HUGETLB) && !strcmp(p, "/anon_hugepage (deleted)")) {
		if (shared) {	/* hugetlbfs memory, shared like shmem */
			v->v.kind = TLV_VMA_OBJ;
			v->v.obj = col_fobj(im, link, p, 0)->s.id;
			return true;
		}
		v->v.kind = TLV_VMA_ANON;
		v->v.flags |= MAP_ANONYMOUS;
		v->v.pgoff = 0;
		return true;
	}
	if (!*p || !strcmp(p, "[heap]") || !strcmp(p, "[stack]") ||
	    !strncmp(p, "[anon:", 6)) {
		if (shared)
			return refuse_vma(s, e, "unexpected shared anonymous mapping");
		v->v.kind = TLV_VMA_ANON;
		v->v.flags |= MAP_ANONYMOUS;
		v->v.pgoff = 0;
		if (!strncmp(p, "[anon:", 6) && ends_with(p, "]")) {
			v->name = xstrdup(p + 6);
			v->name[strlen(v->name) - 1] = 0;
		}
		return true;
	}
	if (*p != '/')
		return refuse_vma(s, e, "unsupported kernel mapping %s", p);
	if (!strncmp(p, "/SYSV", 5))
		return col_sysv(im, pid, m, v, link);
	if (ends_with(p, " (deleted)") && stat(link, &sa) == 0 && !sa.st_nlink) {
		v->v.kind = TLV_VMA_OBJ;
		v->v.obj = col_fobj(im, link, p, im->ghost_limit)->s.id;
		return true;
	}
	if (stat(link, &sa))
		die_errno("%s", link);
	if (stat(p, &sb) || sa.st_dev != sb.st_dev || sa.st_ino != sb.st_ino)
		return refuse_vma(s, e, "file %s was replaced or removed since it was mapped", p);
	v->v.kind = TLV_VMA_FILE;
	v->path = xstrdup(p);
	fstat_to_tlv(&sa, &v->st);
	return true;
}

static void kst_col_vma(const struct map_line *m, struct vma *v);

static void col_vmas(struct image *im, struct task *t)
{
	struct map_line *m;
	size_t n = proc_maps(t->proc.pid, &m);

	for (size_t i = 0; i < n; i++) {
		struct vma v = { 0 };

		if (!col_vma(im, t->proc.pid, &m[i], &v, t->uffd >= 0))
			continue;
		if (t->trk_sd)	/* "sd": made since the bits were cleared */
			v.tracked = !vmflag(&m[i], "sd");
		kst_col_vma(&m[i], &v);
		*(struct vma *)vec_add(&t->vmas, &t->nvmas, sizeof(v)) = v;
	}
	maps_free(m, n);
}

/* Does this mapping hold page contents of its own (not just a file's)? */
static bool vma_private(const struct vma *v)
{
	return (v->v.kind == TLV_VMA_ANON || v->v.kind == TLV_VMA_FILE ||
		v->v.kind == TLV_VMA_OBJ) && (v->v.flags & MAP_PRIVATE);
}

/* Append a run; it joins the last one only if both lie past floor. */
static void runs_add(struct runs *r, size_t floor, uint64_t addr,
		     uint64_t npages)
{
	struct tlv_run *last = r->n > floor ? &r->v[r->n - 1] : NULL;

	if (!npages)
		return;
	if (last && last->addr + last->npages * PAGE == addr) {
		last->npages += npages;
	} else {
		struct tlv_run *x = vec_add(&r->v, &r->n, sizeof(*x));

		x->addr = addr;
		x->npages = npages;
	}
	r->npages += npages;
}

/*
 * Which pages to save: present or swapped pages of private mappings,
 * except pages still shared with the file (an untouched text page) and
 * the shared zero page.  PAGEMAP_SCAN (6.7+) asks the kernel for exactly
 * that in ranges; older kernels get /proc/PID/pagemap, 8 bytes a page.
 */
#define PM_SCAN_IOCTL		_IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_FILE		(1 << 2)
#define PAGE_IS_PRESENT		(1 << 3)
#define PAGE_IS_SWAPPED		(1 << 4)
#define PAGE_IS_PFNZERO		(1 << 5)
#define PAGE_IS_WPALLOWED	(1 << 0)
#define PAGE_IS_WRITTEN		(1 << 1)
#define PM_SCAN_WP_MATCHING	(1 << 0)
#define PM_SCAN_CHECK_WPASYNC	(1 << 1)
struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask;
	uint64_t return_mask;
};
struct page_region {
	uint64_t start, end, categories;
};

static bool keep_page(uint64_t cat)
{
	if (cat & PAGE_IS_SWAPPED)
		return true;
	return (cat & PAGE_IS_PRESENT) &&
	       !(cat & (PAGE_IS_FILE | PAGE_IS_PFNZERO));
}

/*
 * Runs of one mapping by PAGEMAP_SCAN; -errno if the ioctl is missing.
 * written (if not NULL): the pages among them written since the tracker
 * protected them (5b), from the same walk.  PAGE_IS_FILE costs the kernel
 * a look at every page's struct page (three quarters of the walk, ~9 ms a
 * GiB here): asked only where a page can be the file's, not in anonymous
 * memory, whose pages are the process's own or the zero page.
 */
static int col_pages_scan(struct runs *own, int fd, const struct vma *v,
			  struct runs *written)
{
	struct page_region reg[512];
	uint64_t at = v->v.start, done = v->v.start;
	size_t floor = own->n, wfloor = written ? written->n : 0;
	uint64_t file = v->v.kind == TLV_VMA_ANON &&
			!(v->v.flags & MAP_HUGETLB) ? 0 : PAGE_IS_FILE;

	while (at < v->v.end) {
		struct pm_scan_arg a = { .size = sizeof(a), .start = at,
			.end = v->v.end, .vec = (uintptr_t)reg,
			.vec_len = ARRAY_SIZE(reg),
			.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED |
				       file | PAGE_IS_PFNZERO |
				       (written ? PAGE_IS_WRITTEN : 0) };
		long n = ioctl(fd, PM_SCAN_IOCTL, &a);

		if (n < 0)
			return -errno;
		for (long i = 0; i < n; i++) {
			/* a resumed walk may report the tail again */
			uint64_t s = reg[i].start < done ? done : reg[i].start;

			if (reg[i].end <= s)
				continue;
			if (keep_page(reg[i].categories))
				runs_add(own, floor, s, (reg[i].end - s) / PAGE);
			if (written && (reg[i].categories & PAGE_IS_WRITTEN))
				runs_add(written, wfloor, s,
					 (reg[i].end - s) / PAGE);
			done = reg[i].end;
		}
		if (a.walk_end <= at)
			die("PAGEMAP_SCAN made no progress at %llx",
			    (unsigned long long)at);
		at = a.walk_end;
	}
	return 0;
}

#define PM_PRESENT	(1ULL << 63)
#define PM_SWAP		(1ULL << 62)
#define PM_FILE		(1ULL << 61)
#define PM_PFN		((1ULL << 55) - 1)

/*
 * Runs of one mapping by /proc/PID/pagemap.  With the parent's pagemap
 * (pfd >= 0, same range mapped in the parent), a present page with the
 * parent's frame number is the parent's page, shared since fork: it goes
 * into inh, not own, and restore keeps it shared.  Frame numbers need
 * CAP_SYS_ADMIN; without, they read as 0 and nothing counts as shared.
 */
static void col_pages_pagemap(struct runs *own, struct runs *inh, int fd,
			      int pfd, const struct vma *v, int pid)
{
	enum { CHUNK = 32768 };
	uint64_t *e = xmalloc(CHUNK * 8), *pe = xmalloc(CHUNK * 8);
	size_t ofloor = own->n, ifloor = inh ? inh->n : 0;

	for (uint64_t a = v->v.start; a < v->v.end;) {
		size_t n = (v->v.end - a) / PAGE;

		if (n > CHUNK)
			n = CHUNK;
		if (pread(fd, e, n * 8, a / PAGE * 8) != (ssize_t)(n * 8) ||
		    (pfd >= 0 && pread(pfd, pe, n * 8, a / PAGE * 8) !=
					 (ssize_t)(n * 8)))
			die_errno("reading /proc/%d/pagemap", pid);
		for (size_t i = 0; i < n; i++) {
			uint64_t x = e[i];

			if (pfd >= 0 && (x & PM_PRESENT) && !(x & PM_FILE) &&
			    (x & PM_PFN) && (x & PM_PFN) == (pe[i] & PM_PFN) &&
			    (pe[i] & PM_PRESENT))
				runs_add(inh, ifloor, a + i * PAGE, 1);
			else if ((x & PM_SWAP) ||
				 ((x & PM_PRESENT) && !(x & PM_FILE)))
				runs_add(own, ofloor, a + i * PAGE, 1);
		}
		a += n * PAGE;
	}
	free(e);
	free(pe);
}

static int open_pagemap(int pid)
{
	char path[PATH_MAX];

	return xopen(proc_path(path, pid, "pagemap"), O_RDONLY);
}

/* The parent's mapping this one was inherited from at fork, if any. */
static const struct vma *vma_in_parent(const struct task *p,
				       const struct vma *v)
{
	for (size_t i = 0; p && i < p->nvmas; i++) {
		const struct vma *w = &p->vmas[i];

		if (w->v.start == v->v.start && w->v.end == v->v.end &&
		    w->v.kind == v->v.kind && w->v.flags == v->v.flags &&
		    w->v.pgoff == v->v.pgoff && w->v.obj == v->v.obj &&
		    vma_private(w) && !(w->v.flags & MAP_HUGETLB) &&
		    (!w->path) == (!v->path) &&
		    (!w->path || !strcmp(w->path, v->path)))
			return w;
	}
	return NULL;
}

static void col_pages(struct image *im, struct task *t)
{
	struct task *p = t->parent >= 0 ? &im->t[t->parent] : NULL;
	int fd = open_pagemap(t->proc.pid), pfd = -1;
	bool scan = !getenv("CR_NO_PAGEMAP_SCAN");

	if (p)
		pfd = open_pagemap(p->proc.pid);
	for (size_t i = 0; i < t->nvmas; i++) {
		struct vma *v = &t->vmas[i];

		if (!vma_private(v))
			continue;
		if (p && vma_in_parent(p, v)) {
			v->v.inherit = 1;
			col_pages_pagemap(&t->own, &t->inh, fd, pfd, v,
					  t->proc.pid);
			continue;
		}
		if (scan && col_pages_scan(&t->own, fd, v,
					   t->uffd >= 0 && v->tracked ?
					   &t->written : NULL) < 0) {
			if (errno != ENOTTY && errno != EINVAL)
				die_errno("PAGEMAP_SCAN");
			scan = false;
			info("no PAGEMAP_SCAN, reading /proc/%llu/pagemap",
			     (unsigned long long)t->proc.pid);
		}
		if (!scan)
			col_pages_pagemap(&t->own, NULL, fd, -1, v, t->proc.pid);
	}
	t->written_known = scan;
	close(fd);
	if (pfd >= 0)
		close(pfd);
}

/*
 * A file object's populated ranges (for shmem, swapped ones too) come from
 * SEEK_DATA/SEEK_HOLE, its contents from pread, without touching any
 * process's page tables.
 */
static void col_fobj_pages(struct fobj *o)
{
	off_t at = 0, end;

	while (at < (off_t)o->s.size) {
		at = lseek(o->fd, at, SEEK_DATA);
		if (at < 0) {
			if (errno == ENXIO)
				break;
			die_errno("SEEK_DATA in shared memory");
		}
		end = lseek(o->fd, at, SEEK_HOLE);
		if (end < 0)
			die_errno("SEEK_HOLE in shared memory");
		if (end > (off_t)o->s.size)
			end = o->s.size;
		at &= ~(off_t)(PAGE - 1);
		runs_add(&o->runs, 0, at, PAGE_ROUND(end - at) / PAGE);
		at = PAGE_ROUND(end);
	}
}

/*
 * ---- memory-change tracking, for pre-copy chains ----
 * `cr pre-dump` copies a tree's memory while it runs; a later pre-dump or
 * dump saves only the pages written since.  The kernel says which: cr
 * registers each private mapping with a userfaultfd in asynchronous
 * write-protect mode (6.7+) and write-protects its pages; a write then only
 * clears the page's protection (no fault reaches anyone) and PAGEMAP_SCAN
 * lists the pages without it (PAGE_IS_WRITTEN), protecting them again in
 * the same walk.  The userfaultfd has to outlive cr between two runs, so
 * it stays in the process as one close-on-exec descriptor near the top of
 * its fd limit (TRACK says which); that fd, the "uw" VmFlag on its
 * mappings and one cheap fault on the first write to a page after each
 * pre-dump are all a process can notice, and the final dump (or dump -R
 * without --track-mem) takes them away.  A mapping without the
 * registration (new, or moved by mremap, which drops it) counts as
 * written in full, as does every page the parent image does not hold.
 *
 * Older kernels (before 6.7) have no asynchronous write-protect; where
 * they have soft-dirty bits (CONFIG_MEM_SOFT_DIRTY, x86 and a few more),
 * those track instead: writing "4" to /proc/PID/clear_refs clears them,
 * pagemap bit 55 is set again on each page written since, and a mapping
 * made since carries the "sd" VmFlag (all of it counts as written).  No
 * fd is left in the process; the start time in TRACK recognises it.
 * Neither there: each image holds all the memory, and cr says so.
 */

/*
 * Set operations on page runs, ascending and disjoint.  Output runs are
 * never joined, so none spans two mappings when no input run does.
 */

/* out = a and b. */
static void runs_and(const struct runs *a, const struct runs *b,
		     struct runs *out)
{
	size_t i = 0, k = 0;

	while (i < a->n && k < b->n) {
		uint64_t as = a->v[i].addr, ae = as + a->v[i].npages * PAGE;
		uint64_t bs = b->v[k].addr, be = bs + b->v[k].npages * PAGE;
		uint64_t s = as > bs ? as : bs, e = ae < be ? ae : be;

		if (s < e)
			runs_add(out, out->n, s, (e - s) / PAGE);
		if (ae < be)
			i++;
		else
			k++;
	}
}

/* out = a without b. */
static void runs_minus(const struct runs *a, const struct runs *b,
		       struct runs *out)
{
	size_t k = 0;

	for (size_t i = 0; i < a->n; i++) {
		uint64_t s = a->v[i].addr, e = s + a->v[i].npages * PAGE;

		while (k < b->n && b->v[k].addr + b->v[k].npages * PAGE <= s)
			k++;
		for (size_t j = k; j < b->n && b->v[j].addr < e && s < e; j++) {
			uint64_t bs = b->v[j].addr;
			uint64_t be = bs + b->v[j].npages * PAGE;

			if (bs > s)
				runs_add(out, out->n, s, (bs - s) / PAGE);
			if (be > s)
				s = be;
		}
		if (s < e)
			runs_add(out, out->n, s, (e - s) / PAGE);
	}
}

/* out = a or b, which do not overlap. */
static void runs_or(const struct runs *a, const struct runs *b,
		    struct runs *out)
{
	size_t i = 0, k = 0;

	while (i < a->n || k < b->n) {
		const struct tlv_run *x = k == b->n ||
			(i < a->n && a->v[i].addr < b->v[k].addr) ?
			&a->v[i++] : &b->v[k++];

		runs_add(out, out->n, x->addr, x->npages);
	}
}

/* Has t's tracker been there since the parent image was made? */
static bool trk_continued(const struct image *im, const struct task *t)
{
	for (size_t i = 0; im->prev && i < im->prev->ntrack; i++)
		if (im->prev->track[i].pid == t->proc.pid &&
		    im->prev->track[i].ino == t->trk_ino && t->trk_ino)
			return true;
	return false;
}

/* The inode number of pid's fd if it is a userfaultfd, else 0. */
static uint64_t trk_ino(int pid, int fd)
{
	char path[64], link[64];
	struct stat sb;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0 || stat(path, &sb))
		return 0;
	link[n] = 0;
	return strcmp(link, "anon_inode:[userfaultfd]") ? 0 : sb.st_ino;
}

/* Is fd one of the trackers the parent image left or this dump made, or
 * a copy of one a child got by fork?  Those are cr's, not the process's. */
static bool trk_is_tracker(const struct image *im, int pid, int fd)
{
	uint64_t ino;

	if (!(ino = trk_ino(pid, fd)))
		return false;
	for (size_t i = 0; im->prev && i < im->prev->ntrack; i++)
		if (im->prev->track[i].ino == ino &&
		    im->prev->track[i].fd != TLV_TRACK_SOFT_DIRTY)
			return true;
	for (size_t i = 0; i < im->nt; i++) {	/* found or made by this dump */
		const struct task *t = &im->t[i];

		if ((t->trk_fd >= 0 && t->trk_ino == ino) ||
		    (t->trk_new_fd >= 0 && t->trk_new_ino == ino))
			return true;
		for (int k = 0; k < t->nstale; k++)
			if (t->stale_ino[k] == ino)
				return true;
	}
	return false;
}

/* When pid started (clock ticks after boot): who it is, beyond its pid. */
static uint64_t trk_start_time(int pid)
{
	uint64_t f[STAT_FIELDS];

	proc_stat(pid, f);
	return f[22];
}

static long trk_slot(const struct task *t);

/*
 * Is pid's fd a tracker cr left but no image names (from a dump that
 * failed after it reset the tracking, or was killed)?  cr's trackers are
 * the only userfaultfds with exactly the features async write-protect
 * implies, close-on-exec and non-blocking, near the fd limit.
 */
static uint64_t trk_stale(int pid, int fd)
{
	char name[64], *s;
	uint64_t ino = trk_ino(pid, fd);
	bool ours;

	if (!ino)
		return 0;
	snprintf(name, sizeof(name), "fdinfo/%d", fd);
	s = proc_read(pid, name, NULL);
	ours = s && strstr(s, "\nAPI:\taa:8000a000:") &&
	       proc_field_u64(s, "flags", 8, name) == (O_CLOEXEC | O_NONBLOCK);
	free(s);
	return ours ? ino : 0;
}

/*
 * Before the fds are collected: is the parent image's tracker still in t?
 * Stale ones of cr's (trk_stale, in t's fd table, which it may share with
 * others of the tree) are noted, to be closed: with them around, nothing
 * t's trackers saw counts, as no image goes with it.
 */
static void trk_find(const struct image *im, struct task *t)
{
	long slot = trk_slot(t);

	for (size_t i = 0; im->prev && i < im->prev->ntrack; i++) {
		const struct tlv_track *r = &im->prev->track[i];

		if (r->pid != t->proc.pid)
			continue;
		if (r->fd == TLV_TRACK_SOFT_DIRTY &&
		    trk_start_time(t->proc.pid) == r->ino) {
			t->trk_sd = true;
			t->trk_ino = r->ino;
		} else if (r->fd < INT_MAX &&
			   trk_ino(t->proc.pid, r->fd) == r->ino) {
			t->trk_fd = r->fd;
			t->trk_ino = r->ino;
		} else {
			info("the tracker of the parent image is gone: all pages are saved");
		}
	}
	for (long fd = slot; fd > slot - TRK_FDS && fd >= 0; fd--) {
		uint64_t ino;

		if (trk_is_tracker(im, t->proc.pid, fd) ||
		    !(ino = trk_stale(t->proc.pid, fd)))
			continue;
		t->stale_fd[t->nstale] = fd;
		t->stale_ino[t->nstale++] = ino;
		info("fd %ld is a tracker of a dump that did not finish: all pages are saved",
		     fd);
		if (t->trk_fd >= 0 || t->trk_sd)	/* trust none */
			t->trk_fd = -1, t->trk_ino = 0, t->trk_sd = false;
	}
}

/* pid's fd, duplicated into cr; -1 with errno set on failure. */
static int pidfd_take(int pid, int fd)
{
	int pfd = syscall(SYS_pidfd_open, pid, 0), r, e;

	if (pfd < 0)
		return -1;
	r = syscall(SYS_pidfd_getfd, pfd, fd, 0);
	e = errno;
	close(pfd);
	errno = e;
	return r;
}

/* Undo of a failed dump: the tracker it put into the process goes. */
static void trk_undo(void *arg)
{
	struct task *t = arg;
	const long a[6] = { t->trk_new_fd };
	long ret;

	if (t->trk_new_fd >= 0)
		pt_try_syscall(&t->th[0].pt, __NR_close, a, &ret);
}

/* The highest fd number the process may have: its soft fd limit - 1. */
static long trk_slot(const struct task *t)
{
	for (size_t i = 0; i < t->nrlim; i++)
		if (t->rlim[i].res == RLIMIT_NOFILE && t->rlim[i].cur > 64 &&
		    t->rlim[i].cur <= INT_MAX)
			return t->rlim[i].cur - 1;
	return 1023;
}

static bool probe_soft_dirty(void);	/* 11 */

/*
 * No write-protect tracking for t (why): soft-dirty bits if the kernel
 * has them, else every image of the chain holds all of t's memory.
 */
static void trk_fallback(struct task *t, const char *why)
{
	static int sd = -1;

	if (sd < 0)
		sd = probe_soft_dirty();
	if (sd) {
		info("pid %llu: %s: tracking by soft-dirty bits",
		     (unsigned long long)t->proc.pid, why);
		t->trk_sd = true;
		t->trk_ino = trk_start_time(t->proc.pid);
		return;
	}
	warn("no memory-change tracking on this kernel (%s, and no soft-dirty bits): the next dump saves all its memory again",
	     why);
}

/*
 * While cr may still run syscalls in t (its scratch area is mapped, so
 * they are safe to interrupt): take the tracker t has into cr, to read
 * it; if this dump leaves tracking behind, make a new one for the next
 * round (trk_switch puts it in place); if not, close the old one in t.
 * Each round's tracker is new, so that a round that fails after its
 * reset (cr killed while the memory is copied) cannot pass for the image
 * before it: that image's tracker is gone, and the next dump saves all.
 * CR_NO_UFFD_WP=1 (for tests) acts as a kernel without write-protect.
 */
static void trk_setup(struct image *im, struct task *t)
{
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_WP_ASYNC };
	struct pt *p = &t->th[0].pt;
	int pid = t->proc.pid;
	struct stat sb;
	long u, h, slot = trk_slot(t);

	for (int k = 0; k < t->nstale; k++)	/* unless a sharer did it */
		if (trk_ino(pid, t->stale_fd[k]) == t->stale_ino[k])
			pt_syscall(p, __NR_close, t->stale_fd[k], 0, 0, 0, 0, 0);
	if (t->trk_fd >= 0) {
		t->uffd = pidfd_take(pid, t->trk_fd);
		if (t->uffd < 0)
			die_errno("taking its tracker (fd %d) into cr", t->trk_fd);
		if (!im->keep_track) {
			pt_syscall(p, __NR_close, t->trk_fd, 0, 0, 0, 0, 0);
			t->trk_fd = -1;
		}
	}
	if (!im->keep_track || t->trk_sd)
		return;
	if (getenv("CR_NO_UFFD_WP")) {
		trk_fallback(t, "CR_NO_UFFD_WP is set");
		return;
	}
	u = pt_syscall(p, __NR_userfaultfd, O_CLOEXEC | O_NONBLOCK, 0, 0, 0,
		       0, 0);
	if (u < 0) {
		trk_fallback(t, strerror(-u));
		return;
	}
	h = pt_syscall(p, __NR_fcntl, u, F_DUPFD_CLOEXEC, slot - TRK_FDS + 1,
		       0, 0, 0);
	if (h >= 0)
		pt_syscall(p, __NR_close, u, 0, 0, 0, 0, 0);
	t->trk_new_fd = h >= 0 ? h : u;
	t->trk_next_fd = t->trk_fd >= 0 ? t->trk_fd : t->trk_new_fd;
	undo_push(trk_undo, t);
	im->ntrk_undo++;
	t->uffd_new = pidfd_take(pid, t->trk_new_fd);
	if (t->uffd_new < 0)
		die_errno("taking its new tracker (fd %d) into cr",
			  t->trk_new_fd);
	if (ioctl(t->uffd_new, UFFDIO_API, &api) || fstat(t->uffd_new, &sb)) {
		info("pid %d: no asynchronous write-protect: %s", pid,
		     strerror(errno));
		close(t->uffd_new);
		t->uffd_new = -1;
		pt_syscall(p, __NR_close, t->trk_new_fd, 0, 0, 0, 0, 0);
		t->trk_new_fd = t->trk_next_fd = -1;
		trk_fallback(t, "no userfaultfd write-protect (6.7+)");
		return;
	}
	t->trk_new_ino = sb.st_ino;
}

/*
 * The written pages of a registered mapping since its last protection,
 * into out (if not NULL); protect: protect them again in the same walk.
 * A walk that stopped because reg[] filled may report its last region
 * again when resumed from walk_end, hence done.
 */
static void trk_scan(int fd, const struct vma *v, bool protect,
		     struct runs *out)
{
	struct page_region reg[512];
	uint64_t at = v->v.start, done = at;
	size_t floor = out ? out->n : 0;

	while (at < v->v.end) {
		struct pm_scan_arg a = { .size = sizeof(a),
			.flags = protect ? PM_SCAN_WP_MATCHING |
					   PM_SCAN_CHECK_WPASYNC : 0,
			.start = at, .end = v->v.end, .vec = (uintptr_t)reg,
			.vec_len = ARRAY_SIZE(reg),
			.category_mask = PAGE_IS_WRITTEN,
			.return_mask = PAGE_IS_WRITTEN };
		long n = ioctl(fd, PM_SCAN_IOCTL, &a);

		if (n < 0)
			die_errno("PAGEMAP_SCAN for written pages of %llx-%llx",
				  (unsigned long long)v->v.start,
				  (unsigned long long)v->v.end);
		for (long i = 0; i < n; i++) {
			uint64_t s = reg[i].start < done ? done : reg[i].start;

			if (reg[i].end <= s)
				continue;
			if (out)
				runs_add(out, floor, s, (reg[i].end - s) / PAGE);
			done = reg[i].end;
		}
		if (a.walk_end <= at)
			die("PAGEMAP_SCAN made no progress at %llx",
			    (unsigned long long)at);
		at = a.walk_end;
	}
}

/* The soft-dirty pages of mapping v, from pagemap fd, into out. */
static void trk_sd_scan(int fd, const struct vma *v, struct runs *out, int pid)
{
	enum { CHUNK = 32768 };
	uint64_t *e = xmalloc(CHUNK * 8);
	size_t floor = out->n;

	for (uint64_t a = v->v.start; a < v->v.end;) {
		size_t n = (v->v.end - a) / PAGE;

		if (n > CHUNK)
			n = CHUNK;
		if (pread(fd, e, n * 8, a / PAGE * 8) != (ssize_t)(n * 8))
			die_errno("reading /proc/%d/pagemap", pid);
		for (size_t i = 0; i < n; i++)
			if (e[i] >> 55 & 1)
				runs_add(out, floor, a + i * PAGE, 1);
		a += n * PAGE;
	}
	free(e);
}

/* Soft-dirty tracking starts again from here: clear every bit of t's. */
static void trk_sd_clear(const struct task *t)
{
	char path[PATH_MAX];
	int fd = xopen(proc_path(path, t->proc.pid, "clear_refs"), O_WRONLY);

	if (write(fd, "4", 1) != 1)
		die_errno("%s", path);
	close(fd);
}

/*
 * After col_pages, still frozen: which of t's pages the parent image
 * already holds unchanged (t->prun, left out of t->own), and the
 * protection reset for the next round when tracking goes on.
 */
static void trk_pages(struct image *im, struct task *t)
{
	struct runs written = { 0 }, tracked = { 0 }, avail = { 0 },
		    a = { 0 }, b = { 0 }, own = { 0 };
	const struct task *q = NULL;
	int fd;

	if (t->uffd < 0 && !t->trk_sd)
		return;
	if (t->uffd >= 0 && t->written_known) {	/* col_pages's walk */
		written = t->written;
		t->written = (struct runs){ 0 };
	}
	fd = open_pagemap(t->proc.pid);
	for (size_t i = 0; i < t->nvmas; i++) {
		struct vma *v = &t->vmas[i];

		if (!vma_private(v) || v->v.inherit || !v->tracked)
			continue;
		runs_add(&tracked, 0, v->v.start,
			 (v->v.end - v->v.start) / PAGE);
		if (t->trk_sd)
			trk_sd_scan(fd, v, &written, t->proc.pid);
		else if (!t->written_known)
			trk_scan(fd, v, false, &written);
	}
	close(fd);
	if (t->trk_sd && im->keep_track)
		trk_sd_clear(t);
	for (size_t i = 0; im->prev && i < im->prev->nt; i++)
		if (im->prev->t[i].proc.pid == t->proc.pid)
			q = &im->prev->t[i];
	if (q && trk_continued(im, t)) {
		runs_or(&q->own, &q->prun, &avail);
		runs_and(&t->own, &tracked, &a);
		runs_and(&a, &avail, &b);
		runs_minus(&b, &written, &t->prun);
		runs_minus(&t->own, &t->prun, &own);
		info("%llu pages present, %llu tracked, %llu in the parent, %llu written since: %llu left to the parent",
		     (unsigned long long)t->own.npages,
		     (unsigned long long)tracked.npages,
		     (unsigned long long)avail.npages,
		     (unsigned long long)written.npages,
		     (unsigned long long)t->prun.npages);
		free(t->own.v);
		t->own = own;
	}
	free(written.v), free(tracked.v), free(avail.v), free(a.v), free(b.v);
}

/*
 * The image is written up to its pages; the tree is still frozen.  Each
 * new tracker takes over: the old one lets go of every mapping, the new
 * one registers them all and protects every page, and in the process it
 * takes the old one's fd (TRACK says so already).
 */
static void trk_switch(struct image *im)
{
	for (size_t i = 0; i < im->nt; i++) {
		struct task *t = &im->t[i];
		struct pt *p;
		int fd;

		if (t->uffd_new < 0)	/* zombies too: no threads */
			continue;
		p = &t->th[0].pt;
		ctx.pid = t->proc.pid;
		fd = open_pagemap(t->proc.pid);
		for (size_t k = 0; k < t->nvmas; k++) {
			const struct vma *v = &t->vmas[k];
			struct uffdio_range r = { v->v.start,
						  v->v.end - v->v.start };
			struct uffdio_register reg = { .range = r,
				.mode = UFFDIO_REGISTER_MODE_WP };

			if (!vma_private(v) || v->v.inherit)
				continue;
			if (t->uffd >= 0 && v->tracked &&
			    ioctl(t->uffd, UFFDIO_UNREGISTER, &r))
				info("%llx-%llx: unregistering the old tracker: %s",
				     (unsigned long long)r.start,
				     (unsigned long long)(r.start + r.len),
				     strerror(errno));
			if (ioctl(t->uffd_new, UFFDIO_REGISTER, &reg))
				info("%llx-%llx cannot be tracked (%s)",
				     (unsigned long long)r.start,
				     (unsigned long long)(r.start + r.len),
				     strerror(errno));
			else
				trk_scan(fd, v, true, NULL);
		}
		close(fd);
		close(t->uffd_new);
		t->uffd_new = -1;
		if (t->uffd >= 0)
			close(t->uffd);
		t->uffd = -1;
		if (t->trk_fd >= 0) {	/* dup3 closes the old one */
			pt_syscall(p, __NR_dup3, t->trk_new_fd, t->trk_fd,
				   O_CLOEXEC, 0, 0, 0);
			pt_syscall(p, __NR_close, t->trk_new_fd, 0, 0, 0, 0, 0);
			t->trk_new_fd = t->trk_fd;	/* for trk_undo */
		}
	}
	ctx.pid = 0;
}

/*
 * cr's copies of trackers that go: the last reference, whose release
 * clears the write-protection of every page (some ms per GiB), so only
 * once the tree runs again or is killed.
 */
static void trk_close(struct image *im)
{
	for (size_t i = 0; i < im->nt; i++)
		if (im->t[i].uffd >= 0) {
			close(im->t[i].uffd);
			im->t[i].uffd = -1;
		}
}

/* The release of a tree whose memory is copied after it goes on. */
static void trk_keep(struct image *im)
{
	while (im->ntrk_undo) {
		undo_pop();
		im->ntrk_undo--;
	}
}

/* The fdinfo "key:" value of one descriptor. */
static uint64_t col_fdinfo(int pid, int fd, const char *key, int base)
{
	char name[64], *s;
	uint64_t v;

	snprintf(name, sizeof(name), "fdinfo/%d", fd);
	s = proc_xread(pid, name, NULL);
	v = proc_field_u64(s, key, base, name);
	free(s);
	return v;
}

static bool chr_supported(dev_t rdev)
{
	/* /dev/null, zero, full, random, urandom */
	return major(rdev) == 1 && (minor(rdev) == 3 || minor(rdev) == 5 ||
				    minor(rdev) == 7 || minor(rdev) == 8 ||
				    minor(rdev) == 9);
}

/* Name a descriptor kind the way users know it: "socket", "eventfd"... */
static const char *anon_kind(const char *link);

static const char *fd_kind_name(const char *link, const struct stat *sb)
{
	if (anon_kind(link))
		return anon_kind(link);
	if (S_ISSOCK(sb->st_mode))
		return "socket";
	if (S_ISFIFO(sb->st_mode))
		return strncmp(link, "pipe:", 5) ? "fifo" : "pipe";
	if (S_ISCHR(sb->st_mode))
		return major(sb->st_rdev) == 136 || major(sb->st_rdev) == 4 ||
		       major(sb->st_rdev) == 5 ? "terminal" : "character device";
	if (S_ISBLK(sb->st_mode))
		return "block device";
	return "unknown";
}

/*
 * A pipe's queued bytes are copied with tee(), which duplicates pipe
 * buffers without consuming them, into a pipe of cr's, and read there.
 * The pipe is reached by opening /proc/PID/fd/N (non-blocking, so that
 * a missing writer does not block the open).
 */
static void col_pipe_data(struct pipe_obj *o, const char *path)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC), tmp[2];
	ssize_t n;

	if (fd < 0)
		die_errno("opening %s", path);
	o->p.size = fcntl(fd, F_GETPIPE_SZ);
	if ((long)o->p.size <= 0 || pipe2(tmp, O_CLOEXEC | O_NONBLOCK))
		die_errno("pipe %s", path);
	if (fcntl(tmp[1], F_SETPIPE_SZ, (int)o->p.size) < (int)o->p.size)
		die_errno("pipe %s: making a copy pipe of %llu bytes", path,
			  (unsigned long long)o->p.size);
	n = tee(fd, tmp[1], o->p.size, SPLICE_F_NONBLOCK);
	if (n < 0 && errno != EAGAIN)
		die_errno("tee from %s", path);
	o->len = n > 0 ? n : 0;
	o->data = xmalloc(o->len);
	if (o->len && read_full(tmp[0], o->data, o->len) != (ssize_t)o->len)
		die_errno("reading the copy of %s", path);
	close(fd);
	close(tmp[0]);
	close(tmp[1]);
}

static struct pipe_obj *col_pipe(struct image *im, int pid, int fd,
				 uint64_t dev, uint64_t ino, const char *link)
{
	char path[64];
	struct pipe_obj *o;

	for (size_t i = 0; i < im->npipes; i++)
		if (im->pipes[i].dev == dev && im->pipes[i].ino == ino)
			return &im->pipes[i];
	o = vec_add(&im->pipes, &im->npipes, sizeof(*o));
	o->p.id = im->npipes;
	o->dev = dev, o->ino = ino;
	if (link[0] == '/')
		o->path = xstrdup(link);
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	col_pipe_data(o, path);
	return o;
}

/*
 * With --shell-job, the root's fds 0-2 on a terminal or pipe belong to the
 * shell: restore hands over its own.  The same file anywhere else in the
 * tree is that fd of cr's too.  Returns which of cr's fds, or 3 if none.
 */
static uint64_t col_stdio(struct image *im, const struct task *t, int fd,
			  const struct stat *sb, bool shell_job)
{
	if (!shell_job)
		return 3;
	if (t->parent < 0 && fd <= 2) {
		im->stdio[fd].dev = sb->st_dev;
		im->stdio[fd].ino = sb->st_ino;
		return fd;
	}
	for (int k = 0; k < 3; k++)
		if (im->stdio[k].ino && im->stdio[k].dev == sb->st_dev &&
		    im->stdio[k].ino == sb->st_ino)
			return k;
	return 3;
}

/* ==== 5a. descriptors: terminals, special files, sockets; threads =======
 * -- terminals --
 * Unix98 pseudo-terminals.  A pty whose master (/dev/ptmx) is held in the
 * tree is made anew at restore under the same number N (/dev/pts/N): the
 * kernel hands out the lowest free number, so cr opens /dev/ptmx until it
 * gets N, holding the lower ones meanwhile (N must be free on the
 * restoring host; a private devpts instance would not do, processes see
 * the host's /dev/pts).  Its state is in the image: both sides' termios,
 * window size, packet mode, lock, exclusive mode, the session it is the
 * controlling terminal of and that session's foreground group, and the
 * bytes queued in both directions.  A tty queue cannot be read without
 * consuming it, so, the tree frozen, cr reads both dry through its own
 * copies of the two ends (pidfd_getfd, TIOCGPTPEER): the master as long
 * as poll says it has bytes (its termios is fixed raw: termios ioctls on
 * a master act on the slave), the slave switched to raw, non-waiting
 * reads; then at once the bytes go back in and the termios is put back,
 * as at restore, so that a dump that fails later, -R, even cr killed by
 * SIGKILL, leave the tree as it was (only the reading itself is exposed).
 * At restore (and for that putting back) output not yet read from the
 * master is written into the slave with output processing off, and input
 * not yet read from the slave is pushed into its queue with TIOCSTI, one
 * byte at a time, with echo, signals and input mapping off; in canonical
 * mode editing characters are escaped with VLNEXT so that the same lines
 * come out, and a NUL (how the kernel queues an end-of-file) becomes
 * VEOF.  Not kept: packet-mode status bytes not yet read, a stopped
 * output (^S), the echo column.
 *
 * A pty whose master is outside the tree (a tmux pane, an ssh session)
 * lives on without the tree: its slave is reopened by path, and it must
 * be the same pty then (same ctime of /dev/pts/N).  /dev/tty is reopened
 * by the process once its controlling terminal is back.  A session leader
 * takes its terminal back (TIOCSCTTY) before it forks, so that its
 * children inherit it, and sets the foreground group once every group
 * exists.  With --shell-job the job's terminal is the restoring shell's:
 * the job is in cr's session, its fds 0-2 are cr's and /dev/tty is cr's.
 */
struct ktermios2 {	/* UAPI struct termios2 (asm/termbits.h clashes with termios.h) */
	uint32_t iflag, oflag, cflag, lflag;
	uint8_t line, cc[19];
	uint32_t ispeed, ospeed;
};
#define CR_TCGETS2 _IOR('T', 0x2A, struct ktermios2)
#define CR_TCSETS2 _IOW('T', 0x2B, struct ktermios2)
_Static_assert(sizeof(struct ktermios2) == 44 && CR_TCGETS2 == 0x802c542a &&
	       CR_TCSETS2 == 0x402c542b, "struct termios2 as x86-64 and arm64 have it");
#define TTY_MAX_QUEUED (1u << 20)	/* bytes of one queue */
#define TTY_MAX_INPUT 4000	/* what TIOCSTI can put back (N_TTY_BUF_SIZE) */

static bool tty_is_master(const char *path)
{
	return !strcmp(path, "/dev/ptmx") || !strcmp(path, "/dev/pts/ptmx");
}

/* A pty slave's device number (136:N, N < 2^20) to its N. */
static bool tty_pty_index(dev_t dev, uint64_t *index)
{
	if (major(dev) != 136)
		return false;
	*index = minor(dev);
	return true;
}

static char *tty_path(char buf[32], uint64_t index)
{
	snprintf(buf, 32, "/dev/pts/%llu", (unsigned long long)index);
	return buf;
}

static void tty_to_tlv(const struct ktermios2 *k, struct tlv_termios *t)
{
	uint64_t cc[3] = { 0 };

	for (int i = 0; i < 19; i++)
		cc[i / 8] |= (uint64_t)k->cc[i] << (i % 8 * 8);
	*t = (struct tlv_termios){ k->iflag, k->oflag, k->cflag, k->lflag,
		k->line, cc[0], cc[1], cc[2], k->ispeed, k->ospeed };
}

static void tty_from_tlv(const struct tlv_termios *t, struct ktermios2 *k)
{
	const uint64_t cc[3] = { t->cc0, t->cc1, t->cc2 };

	memset(k, 0, sizeof(*k));
	k->iflag = t->iflag, k->oflag = t->oflag;
	k->cflag = t->cflag, k->lflag = t->lflag;
	k->line = t->line;
	for (int i = 0; i < 19; i++)
		k->cc[i] = cc[i / 8] >> (i % 8 * 8);
	k->ispeed = t->ispeed, k->ospeed = t->ospeed;
}

static void tty_set(int fd, const struct ktermios2 *k, uint64_t index)
{
	if (ioctl(fd, CR_TCSETS2, k))
		die_errno("pty %llu: setting termios", (unsigned long long)index);
}

/* No input mapping, echo or signals; with min, reads return at once. */
static struct ktermios2 tty_quiet(struct ktermios2 k, bool min)
{
	k.iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL |
		     IXON | IXOFF | IUCLC | IMAXBEL);
	k.lflag &= ~(ECHO | ECHOE | ECHOK | ECHONL | ECHOCTL | ECHOPRT |
		     ECHOKE | ISIG);
	if (min) {
		k.oflag &= ~OPOST;
		k.lflag &= ~(ICANON | IEXTEN);
		k.cc[VMIN] = k.cc[VTIME] = 0;
	}
	return k;
}

/* Append what fd has queued to *b, *n: read while poll says there is more. */
static void tty_read_dry(int fd, uint8_t **b, size_t *n, uint64_t index)
{
	for (size_t cap = 0;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t r;

		if (poll(&p, 1, 0) != 1 || !(p.revents & POLLIN))
			return;
		if (*n == cap) {
			if (cap >= TTY_MAX_QUEUED)
				die("pty %llu: more than %u bytes queued",
				    (unsigned long long)index, TTY_MAX_QUEUED);
			cap = cap ? cap * 2 : 4096;
			*b = xrealloc(*b, cap);
		}
		r = read(fd, *b + *n, cap - *n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno != EAGAIN && errno != EIO)
			die_errno("pty %llu: reading what is queued",
				  (unsigned long long)index);
		if (r <= 0)
			return;
		*n += r;
	}
}

/*
 * Put the queued bytes of y in through its ends y->m and y->s (see the
 * section's comment), then its termios and packet mode as they were.
 */
static void tty_inject(const struct tty_obj *y)
{
	unsigned long long n = y->y.index;
	struct ktermios2 k, t;
	bool canon;
	int one = 1;

	tty_from_tlv(&y->tio, &k);
	canon = k.lflag & ICANON;
	if (y->nout) {
		t = k;
		t.oflag &= ~OPOST;
		tty_set(y->s, &t, n);
		for (size_t done = 0; done < y->nout;) {	/* as the master takes it */
			struct pollfd p = { y->s, POLLOUT, 0 };
			ssize_t r = write(y->s, y->out + done, y->nout - done);

			if (r < 0 && errno != EAGAIN && errno != EINTR)
				die_errno("pty %llu: putting back output", n);
			if (r > 0)
				done += r;
			else if (poll(&p, 1, 2000) != 1)
				die("pty %llu: could not put back %zu bytes of output",
				    n, y->nout - done);
		}
	}
	t = tty_quiet(k, !canon);
	if (canon) {
		t.lflag |= IEXTEN;
		if (!t.cc[VLNEXT])
			t.cc[VLNEXT] = 026;	/* ^V */
	}
	tty_set(y->s, &t, n);
	for (size_t i = 0; i < y->nin; i++) {
		char c = y->in[i], esc = t.cc[VLNEXT];

		if (canon && !c && k.cc[VEOF])
			c = k.cc[VEOF];
		else if (canon && c && (c == t.cc[VERASE] || c == t.cc[VKILL] ||
					c == t.cc[VWERASE] || c == t.cc[VLNEXT] ||
					c == t.cc[VREPRINT] || c == t.cc[VEOF]) &&
			 ioctl(y->s, TIOCSTI, &esc))
			die_errno("pty %llu: TIOCSTI", n);
		if (ioctl(y->s, TIOCSTI, &c))
			die_errno("pty %llu: putting back input (TIOCSTI)", n);
	}
	tty_set(y->s, &k, n);
	if ((y->y.flags & TLV_TTYF_PKT) && ioctl(y->m, TIOCPKT, &one))
		die_errno("pty %llu: packet mode", n);
}

/* The tty object of pty number index, added if new. */
static struct tty_obj *col_tty_obj(struct image *im, uint64_t index)
{
	struct tty_obj *y;

	for (size_t i = 0; i < im->nttys; i++)
		if (im->ttys[i].y.index == index)
			return &im->ttys[i];
	y = vec_add(&im->ttys, &im->nttys, sizeof(*y));
	y->y.id = im->nttys;
	y->y.index = index;
	y->m = y->s = -1;
	return y;
}

/*
 * A terminal fd: a pty's master or slave, or /dev/tty (the process's
 * controlling terminal).  With --shell-job, in the job's session, the
 * shell's terminal (/dev/tty, or the controlling terminal by any name)
 * is obj 0: cr's controlling terminal at restore.  False if fd is none
 * of these.
 */
static bool col_tty_fd(struct image *im, struct task *t, struct fd *d,
		       const char *link, const struct stat *sb, bool shell_job)
{
	unsigned maj = major(sb->st_rdev), min = minor(sb->st_rdev);
	int pid = t->proc.pid, fd = d->f.fd;
	bool job = shell_job && t->proc.sid == im->t[0].proc.sid &&
		   im->t[0].proc.sid != im->t[0].proc.pid;
	struct tty_obj *y = NULL;
	uint64_t index, f[STAT_FIELDS];
	char p[32];

	if (!S_ISCHR(sb->st_mode) || link[0] != '/')
		return false;
	if (!proc_read_stat(pid, f))
		die("no such process");
	if (job && f[7] && (f[7] == sb->st_rdev || (maj == 5 && min == 0))) {
		y = NULL;	/* the shell's terminal: cr's at restore */
	} else if (maj == 5 && min == 2 && tty_is_master(link)) {
		char name[32], *s;

		snprintf(name, sizeof(name), "fdinfo/%d", fd);
		s = proc_xread(pid, name, NULL);
		if (!proc_field(s, "tty-index"))
			die("fd %d: %s: no tty-index in its fdinfo (an older kernel?)",
			    fd, link);
		y = col_tty_obj(im, proc_field_u64(s, "tty-index", 10, name));
		free(s);
		if (!y->mpid)
			y->mpid = pid, y->mfd = fd;
	} else if (tty_pty_index(sb->st_rdev, &index)) {
		if (strcmp(link, tty_path(p, index)))
			refuse("fd %d: terminal %s is not /dev/pts/%llu: another devpts instance is not supported",
			       fd, link, (unsigned long long)index);
		y = col_tty_obj(im, index);
	} else if (maj == 5 && min == 0 && !strcmp(link, "/dev/tty")) {
		if (tty_pty_index(f[7], &index))
			y = col_tty_obj(im, index);
		else
			refuse("fd %d: /dev/tty on a controlling terminal that is %s: not supported",
			       fd, f[7] ? "not a pseudo-terminal" : "gone");
	} else {
		return false;
	}
	d->f.kind = TLV_FD_TTY;
	d->f.obj = y ? y->y.id : 0;
	return true;
}

/* Is process group pgrp one of session sid's in the tree? */
static bool tty_pgrp_in(const struct image *im, uint64_t pgrp, uint64_t sid)
{
	for (size_t k = 0; k < im->nt; k++)
		if (im->t[k].proc.pgid == pgrp && im->t[k].proc.sid == sid)
			return true;
	return false;
}

/* Each session led in the tree: its controlling terminal and foreground. */
static void col_cttys(struct image *im)
{
	for (size_t i = 0; i < im->nt; i++) {
		struct task *t = &im->t[i];
		uint64_t f[STAT_FIELDS], index;
		struct tty_obj *y;

		ctx.pid = t->proc.pid;
		if (task_zombie(t) || t->proc.sid != t->proc.pid)
			continue;
		if (!proc_read_stat(t->proc.pid, f))
			die("no such process");
		if (!f[7])
			continue;
		if (!tty_pty_index(f[7], &index)) {
			refuse("the session's controlling terminal (device %u:%u) is not a pseudo-terminal: not supported",
			       major(f[7]), minor(f[7]));
			continue;
		}
		y = col_tty_obj(im, index);
		y->y.sid = t->proc.pid;
		y->y.pgrp = (int64_t)f[8] > 0 ? f[8] : 0;
		if (y->y.pgrp && !tty_pgrp_in(im, y->y.pgrp, t->proc.pid))
			refuse("the foreground process group %llu of /dev/pts/%llu is not in the tree: not supported",
			       (unsigned long long)y->y.pgrp,
			       (unsigned long long)index);
	}
	ctx.pid = 0;
}

/* Put what was read from y's queues back (and its modes), let y go. */
static void tty_undo_one(struct tty_obj *y)
{
	if (y->y.kind != TLV_TTY_PTY || y->m < 0 || y->s < 0)
		return;
	ctx.pid = y->mpid;
	tty_inject(y);
	close(y->m);
	close(y->s);
	y->m = y->s = -1;
}

/* A pty whose master is in the tree: its modes, and its queues read dry. */
static void col_tty_state(struct tty_obj *y)
{
	unsigned long long n = y->y.index;
	int pfd = syscall(SYS_pidfd_open, y->mpid, 0), lck = 0, pkt = 0;
	int excl = 0, inq = 0, zero = 0, one = 1;
	struct ktermios2 k, q;
	struct winsize ws;

	ctx.pid = y->mpid;
	y->m = pfd < 0 ? -1 : syscall(SYS_pidfd_getfd, pfd, y->mfd, 0);
	if (pfd >= 0)
		close(pfd);
	if (y->m < 0 || ioctl(y->m, TIOCGPTLCK, &lck) ||
	    ioctl(y->m, TIOCGPKT, &pkt))
		die_errno("pty %llu: its master (pidfd_getfd, Linux 5.6+)", n);
	if (lck && ioctl(y->m, TIOCSPTLCK, &zero))
		die_errno("pty %llu: unlocking", n);
	y->s = ioctl(y->m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if ((lck && ioctl(y->m, TIOCSPTLCK, &one)) || y->s < 0 ||
	    ioctl(y->s, CR_TCGETS2, &k) ||
	    ioctl(y->s, TIOCGEXCL, &excl) || ioctl(y->s, TIOCGWINSZ, &ws) ||
	    ioctl(y->s, TIOCINQ, &inq))
		die_errno("pty %llu: reading its modes (TIOCGPTPEER, Linux 4.13+)", n);
	tty_to_tlv(&k, &y->tio);
	y->y.kind = TLV_TTY_PTY;	/* from here the undo puts things back */
	y->y.flags = (lck ? TLV_TTYF_LOCKED : 0) | (excl ? TLV_TTYF_EXCL : 0) |
		     (pkt ? TLV_TTYF_PKT : 0);
	y->y.rows = ws.ws_row, y->y.cols = ws.ws_col;
	y->y.xpixel = ws.ws_xpixel, y->y.ypixel = ws.ws_ypixel;
	if (k.line) {
		refuse("pty %llu: line discipline %u: not supported", n, k.line);
		return;
	}
	if (inq >= TTY_MAX_INPUT) {
		refuse("pty %llu: %d bytes of input queued, more than cr can put back (%d)",
		       n, inq, TTY_MAX_INPUT);
		return;
	}
	if (pkt && ioctl(y->m, TIOCPKT, &zero))
		die_errno("pty %llu: packet mode", n);
	q = tty_quiet(k, true);
	tty_set(y->s, &q, n);
	tty_read_dry(y->m, &y->out, &y->nout, n);
	tty_read_dry(y->s, &y->in, &y->nin, n);
	if (y->nin > TTY_MAX_INPUT)
		refuse("pty %llu: %zu bytes of input queued, more than cr can put back (%d)",
		       n, y->nin, TTY_MAX_INPUT);
	tty_undo_one(y);	/* at once: a SIGKILLed cr loses nothing after */
	info("pty %llu: %zu bytes of input, %zu of output queued", n, y->nin,
	     y->nout);
}

/* A pty whose master is outside: it must be there, the same, at restore. */
static void col_tty_extern(struct tty_obj *y)
{
	struct stat sb;
	char p[32];

	y->y.kind = TLV_TTY_EXTERN;
	if (stat(tty_path(p, y->y.index), &sb) || !S_ISCHR(sb.st_mode))
		die_errno("%s", p);
	y->y.ctime_ns = sb.st_ctim.tv_sec * 1000000000ULL + sb.st_ctim.tv_nsec;
}

/*
 * --shell-job: the modes the job left its terminal in (raw, for an
 * editor) from the root's first terminal among fds 0-2; restore sets
 * them on cr's terminal, which the job gets.
 */
static void col_tty_job(struct image *im)
{
	const struct task *r = &im->t[0];
	int pfd = syscall(SYS_pidfd_open, r->proc.pid, 0);

	for (size_t i = 0; pfd >= 0 && i < r->nfds; i++) {
		struct ktermios2 k;
		int fd;

		if (r->fds[i].f.fd > 2 || r->fds[i].f.kind != TLV_FD_STDIO)
			continue;
		fd = syscall(SYS_pidfd_getfd, pfd, (int)r->fds[i].f.fd, 0);
		if (fd >= 0 && !ioctl(fd, CR_TCGETS2, &k) && !k.line) {
			struct tty_obj *y = vec_add(&im->ttys, &im->nttys,
						    sizeof(*y));

			y->y.id = im->nttys;
			y->y.kind = TLV_TTY_JOB;
			y->m = y->s = -1;
			tty_to_tlv(&k, &y->tio);
			close(fd);
			break;
		}
		if (fd >= 0)
			close(fd);
	}
	if (pfd >= 0)
		close(pfd);
}

/* Collection failed while a pty's queues were read: put them back. */
static void tty_undo(void *arg)
{
	struct image *im = arg;

	for (size_t i = 0; i < im->nttys; i++)
		tty_undo_one(&im->ttys[i]);
	ctx.pid = 0;
}

static void col_ttys(struct image *im)
{
	col_cttys(im);
	undo_push(tty_undo, im);	/* only while queues are being read */
	for (size_t i = 0; i < im->nttys; i++) {
		if (im->ttys[i].mpid)
			col_tty_state(&im->ttys[i]);
		else
			col_tty_extern(&im->ttys[i]);
	}
	undo_pop();
	ctx.pid = 0;
	if ((im->t[0].proc.flags & TLV_PROC_SHELL_JOB) &&
	    im->t[0].proc.sid != im->t[0].proc.pid)
		col_tty_job(im);
}

/*
 * Restore: the kernel hands out the lowest free pty number; open
 * /dev/ptmx until it gives index.  A pty of a tree just killed may take
 * a moment to free its number.
 */
static int tty_open_index(const char *ptmx, uint64_t index)
{
	for (int tries = 0;; tries++) {
		int *held = NULL, m, got = -1;
		size_t n = 0;

		for (;;) {
			m = open(ptmx, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
			if (m < 0 || ioctl(m, TIOCGPTN, &got))
				die_errno("opening %s for pty %llu", ptmx,
					  (unsigned long long)index);
			if ((uint64_t)got >= index)
				break;
			*(int *)vec_add(&held, &n, sizeof(int)) = m;
		}
		for (size_t i = 0; i < n; i++)
			close(held[i]);
		free(held);
		if ((uint64_t)got == index)
			return m;
		close(m);
		if (tries == 300)
			die("pty %llu (/dev/pts/%llu) is in use on this host",
			    (unsigned long long)index, (unsigned long long)index);
		usleep(10000);
	}
}

/* The path the master of pty y was opened by (/dev/ptmx or /dev/pts/ptmx). */
static const char *tty_master_path(const struct image *im,
				   const struct tty_obj *y)
{
	for (size_t i = 0; i < im->nt; i++)
		for (size_t k = 0; k < im->t[i].nfds; k++) {
			const struct fd *d = &im->t[i].fds[k];

			if (d->f.kind == TLV_FD_TTY && d->f.obj == y->y.id &&
			    tty_is_master(d->path))
				return d->path;
		}
	return "/dev/ptmx";
}

/* Each pty of the tree made anew, with its modes and queued bytes. */
static void rst_make_ttys(struct image *im)
{
	for (size_t i = 0; i < im->nttys; i++) {
		struct tty_obj *y = &im->ttys[i];
		struct winsize ws = { y->y.rows, y->y.cols, y->y.xpixel,
				      y->y.ypixel };
		int zero = 0;

		if (y->y.kind != TLV_TTY_PTY)
			continue;
		y->m = tty_open_index(tty_master_path(im, y), y->y.index);
		if (ioctl(y->m, TIOCSPTLCK, &zero))
			die_errno("pty %llu: unlocking", (unsigned long long)y->y.index);
		y->s = ioctl(y->m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK |
						 O_CLOEXEC);
		if (y->s < 0 || ioctl(y->s, TIOCSWINSZ, &ws))
			die_errno("pty %llu: its slave", (unsigned long long)y->y.index);
		tty_inject(y);
	}
}

/*
 * A shell job: cr's terminal takes the modes the job left its own in;
 * cr's are put back when the job is done (after a foreground restore).
 */
static struct ktermios2 tty_cr_modes;
static bool tty_cr_saved;

static void rst_tty_job(const struct image *im, bool fg)
{
	for (size_t i = 0; i < im->nttys; i++) {
		struct ktermios2 k;

		if (im->ttys[i].y.kind != TLV_TTY_JOB || ioctl(0, CR_TCGETS2,
							      &tty_cr_modes))
			continue;
		tty_cr_saved = fg;
		tty_from_tlv(&im->ttys[i].tio, &k);
		signal(SIGTTOU, SIG_IGN);
		if (ioctl(0, CR_TCSETS2, &k))
			info("could not set the job's terminal modes: %s",
			     strerror(errno));
	}
}

static void rst_tty_job_back(void)
{
	if (tty_cr_saved && ioctl(0, CR_TCSETS2, &tty_cr_modes))
		info("could not set the terminal's modes back: %s",
		     strerror(errno));
}

/* Once every process has its fds: locks and exclusive mode. */
static void rst_tty_modes(const struct image *im)
{
	for (size_t i = 0; i < im->nttys; i++) {
		const struct tty_obj *y = &im->ttys[i];
		int one = 1;

		if (y->y.kind == TLV_TTY_PTY &&
		    (((y->y.flags & TLV_TTYF_LOCKED) &&
		      ioctl(y->m, TIOCSPTLCK, &one)) ||
		     ((y->y.flags & TLV_TTYF_EXCL) && ioctl(y->s, TIOCEXCL))))
			die_errno("pty %llu: lock or exclusive mode",
				  (unsigned long long)y->y.index);
	}
}

/*
 * A terminal fd: the master is the pty cr made (a dup: one pty, one open
 * file description); a slave is opened by path, never as a controlling
 * terminal by accident; /dev/tty in the process, which has its terminal
 * back by then (cr opens the pty's slave instead for a /dev/tty shared by
 * processes, and its own /dev/tty for a shell job's).
 */
static int rst_tty_open(const struct image *im, const struct fd *d)
{
	const struct tty_obj *y = d->f.obj ? &im->ttys[d->f.obj - 1] : NULL;
	const char *path = d->path;
	char p[32];
	int fd;

	if (tty_is_master(d->path)) {
		fd = fcntl(y->m, F_DUPFD_CLOEXEC, 0);
		if (fd < 0 || fcntl(fd, F_SETFL, (int)d->f.flags) < 0)
			die_errno("fd %llu: pty %llu", (unsigned long long)d->f.fd,
				  (unsigned long long)y->y.index);
		return fd;
	}
	if (!y)			/* a shell job's terminal: cr's */
		path = "/dev/tty";
	else if (ctx.report_fd < 0)	/* in cr */
		path = tty_path(p, y->y.index);
	fd = open(path, (d->f.flags | O_NOCTTY) & ~(O_CREAT | O_EXCL | O_TRUNC));
	if (fd < 0)
		die_errno("fd %llu: open %s", (unsigned long long)d->f.fd, path);
	return fd;
}

/* A session leader: its controlling terminal, before it forks. */
static void rst_ctty(const struct image *im, const struct task *t)
{
	for (size_t i = 0; i < im->nttys; i++) {
		char p[32];
		int fd;

		if (im->ttys[i].y.sid != t->proc.pid)
			continue;
		fd = open(tty_path(p, im->ttys[i].y.index), O_RDWR | O_NOCTTY |
							    O_CLOEXEC);
		if (fd < 0 || ioctl(fd, TIOCSCTTY, 0))
			die_errno("taking %s as controlling terminal", p);
		close(fd);
	}
}

/* A session leader, once every group exists: the terminal's foreground. */
static void rst_tty_fg(const struct image *im, const struct task *t)
{
	for (size_t i = 0; i < im->nttys; i++) {
		pid_t pg = im->ttys[i].y.pgrp;
		char p[32];
		int fd;

		if (im->ttys[i].y.sid != t->proc.pid || !pg)
			continue;
		fd = open(tty_path(p, im->ttys[i].y.index), O_RDWR | O_NOCTTY |
							    O_CLOEXEC);
		if (fd < 0 || ioctl(fd, TIOCSPGRP, &pg))
			die_errno("%s: foreground process group %d", p, (int)pg);
		close(fd);
	}
}

/* -- inotify, fanotify, timerfd, eventfd, signalfd, epoll ----------------- */

/*
 * The mount point of the mount with id mnt_id, or (mnt_id < 0) of the
 * first mount of the filesystem sdev (the kernel's dev_t as fdinfo shows
 * it: major << 20 | minor), from cr's mountinfo; NULL if none.
 */
static char *mount_point(unsigned long sdev, long mnt_id)
{
	char *mi = proc_xread(0, "mountinfo", NULL), *line, *save, want[32];
	char mnt[MAX_PATH_LEN], *res = NULL;

	snprintf(want, sizeof(want), "%lu:%lu", sdev >> 20, sdev & 0xfffff);
	for (line = strtok_r(mi, "\n", &save); line && !res;
	     line = strtok_r(NULL, "\n", &save)) {
		char dev[32];
		long id;

		if (sscanf(line, "%ld %*d %31s %*s %4095s", &id, dev, mnt) == 3 &&
		    (mnt_id >= 0 ? id == mnt_id : !strcmp(dev, want)))
			res = xstrdup(mnt);
	}
	free(mi);
	return res;
}

/*
 * inotify watches and fanotify inode marks name their inode by a file
 * handle (fdinfo "fhandle-bytes:N fhandle-type:T f_handle:HEX") on the
 * filesystem sdev; the path comes back from open_by_handle_at() on a
 * mount of it.  NULL if the line has no handle or it leads nowhere.
 */
static char *col_handle_path(unsigned long sdev, const char *line)
{
	const char *h = strstr(line, "fhandle-bytes:");
	char hex[2 * MAX_HANDLE_SZ + 1], path[64], *mnt, *res = NULL;
	struct file_handle *fh;
	unsigned nb, type;
	int mfd = -1, pfd;

	if (!h || sscanf(h, "fhandle-bytes:%x fhandle-type:%x f_handle:%256s",
			 &nb, &type, hex) != 3 ||
	    nb > MAX_HANDLE_SZ || strlen(hex) != 2 * nb)
		return NULL;
	fh = xzalloc(sizeof(*fh) + nb);
	fh->handle_bytes = nb;
	fh->handle_type = type;
	for (unsigned i = 0; i < nb; i++)
		sscanf(hex + 2 * i, "%2hhx", &fh->f_handle[i]);
	if ((mnt = mount_point(sdev, -1)))
		mfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(mnt);
	pfd = mfd < 0 ? -1 : syscall(SYS_open_by_handle_at, mfd, fh,
				     O_PATH | O_CLOEXEC);
	free(fh);
	if (mfd >= 0)
		close(mfd);
	if (pfd < 0)
		return NULL;
	snprintf(path, sizeof(path), "fd/%d", pfd);
	res = proc_link(0, path);
	close(pfd);
	if (ends_with(res, " (deleted)")) {
		free(res);
		res = NULL;
	}
	return res;
}

static void col_inotify_watch(struct fd *d, const char *line, int fd)
{
	unsigned wd, mask, ign;
	unsigned long ino, sdev;
	struct watch *w;

	if (sscanf(line, "inotify wd:%x ino:%lx sdev:%lx mask:%x ignored_mask:%x",
		   &wd, &ino, &sdev, &mask, &ign) != 5)
		die("fd %d: unexpected inotify fdinfo", fd);
	w = vec_add(&d->watches, &d->nwatches, sizeof(*w));
	w->w.wd = wd;
	w->w.mask = mask;
	w->path = col_handle_path(sdev, line);
	if (!w->path)
		refuse("fd %d: inotify watch %u is on a file that cannot be found again (inode %lx)",
		       fd, wd, ino);
}

/*
 * A fanotify mark, one fdinfo line each:
 *	fanotify ino:I sdev:S mflags:F mask:M ignored_mask:G fhandle-...
 *	fanotify mnt_id:N mflags:F mask:M ignored_mask:G
 *	fanotify sdev:S mflags:F mask:M ignored_mask:G
 * (an inode, a mount, a filesystem); restore marks it again by path.
 */
static void col_fan_mark(struct fd *d, const char *line, int fd)
{
	unsigned long ino, sdev, id;
	unsigned fl, mask, ign;
	struct fan_mark *m;
	char *path = NULL;
	uint64_t type;

	if (sscanf(line, "fanotify ino:%lx sdev:%lx mflags:%x mask:%x ignored_mask:%x",
		   &ino, &sdev, &fl, &mask, &ign) == 5) {
		type = TLV_FAN_INODE;
		path = col_handle_path(sdev, line);
	} else if (sscanf(line, "fanotify mnt_id:%lx mflags:%x mask:%x ignored_mask:%x",
			  &id, &fl, &mask, &ign) == 4) {
		type = TLV_FAN_MOUNT;
		path = mount_point(0, id);
	} else if (sscanf(line, "fanotify sdev:%lx mflags:%x mask:%x ignored_mask:%x",
			  &sdev, &fl, &mask, &ign) == 4) {
		type = TLV_FAN_FS;
		path = mount_point(sdev, -1);
	} else {
		refuse("fd %d: a fanotify mark cr does not know: %s", fd, line);
		return;
	}
	if (!mask && !ign) {	/* its ignore mask was cleared: it does nothing */
		info("fd %d: empty fanotify mark left out: %s", fd, line);
		free(path);
		return;
	}
	if (!path) {
		refuse("fd %d: fanotify mark on something that cannot be found again: %s",
		       fd, line);
		return;
	}
	m = vec_add(&d->marks, &d->nmarks, sizeof(*m));
	m->m = (struct tlv_fan_mark){ type, fl, mask, ign };
	m->path = path;
}

/* "anon_inode:[eventfd]" -> "eventfd"; NULL if not an anon inode. */
static const char *anon_kind(const char *link)
{
	static char kind[64];

	if (strncmp(link, "anon_inode:", 11))
		return NULL;
	snprintf(kind, sizeof(kind), "%s", link + 11 + (link[11] == '['));
	kind[strcspn(kind, "]")] = 0;
	return kind;
}

/*
 * fdinfo shows a periodic timer as it was last forwarded: one that expired
 * unread reads 0 left and too few ticks.  timerfd_gettime() forwards it
 * (counting the expirations); cr calls it on its own copy of the fd
 * (pidfd_getfd, 5.6+) before reading fdinfo.
 */
static void col_timerfd_forward(int pid, int fd)
{
	int tfd = pidfd_take(pid, fd);
	struct itimerspec its;

	if (tfd < 0)
		return;
	timerfd_gettime(tfd, &its);
	close(tfd);
}

/*
 * A timerfd's fdinfo, forwarded just before, and the CLOCK_REALTIME it
 * was read at (restore counts the time since).  Read again if cr was held
 * up around the read (the stamp would be off by that much), or if a
 * periodic timer expired between the forward and the read: it shows 0
 * left until forwarded again, as if disarmed.  After 50 tries the read
 * with the tightest stamp is taken (a slow machine), a spent-looking one
 * only if every read was (it is disarmed).
 */
static char *col_timerfd_read(int pid, int fd, const char *name, uint64_t *at)
{
	char *best = NULL, *s = NULL;
	uint64_t best_dt = ~0ULL, best_at = 0;

	for (int tries = 0; tries < 50; tries++) {
		uint64_t t0, t1;
		bool spent;

		free(s);
		col_timerfd_forward(pid, fd);
		t0 = realtime_ns();
		s = proc_xread(pid, name, NULL);
		t1 = realtime_ns();
		*at = t0 + (t1 - t0) / 2;
		spent = strstr(s, "it_value: (0, 0)") &&
			!strstr(s, "it_interval: (0, 0)");
		if (!spent && t1 - t0 < 100000) {
			free(best);
			return s;
		}
		if (!spent && t1 - t0 < best_dt) {
			free(best);
			best = s;
			s = NULL;
			best_dt = t1 - t0;
			best_at = *at;
		}
	}
	if (!best)
		return s;
	free(s);
	*at = best_at;
	return best;
}

/* Events queued in a fanotify group are not carried: refuse them. */
static void col_fan_queue(int pid, int fd)
{
	int n = 0, f = pidfd_take(pid, fd);

	if (f >= 0 && !ioctl(f, FIONREAD, &n) && n > 0)
		refuse("fd %d: fanotify group with %d bytes of unread events: not supported",
		       fd, n);
	if (f >= 0)
		close(f);
}

/*
 * eventfd, signalfd, timerfd, epoll and inotify are described by their
 * fdinfo; restore builds them anew from it.
 */
static void col_anon_fd(struct task *t, struct fd *d, const char *kind)
{
	int pid = t->proc.pid, fd = d->f.fd;
	char name[64], *s, *line, *save;

	snprintf(name, sizeof(name), "fdinfo/%d", fd);
	s = strcmp(kind, "timerfd") ? proc_xread(pid, name, NULL) :
	    col_timerfd_read(pid, fd, name, &d->tmr_at.realtime_ns);
	if (!strcmp(kind, "eventfd")) {
		d->f.kind = TLV_FD_EVENTFD;
		d->ev.count = proc_field_u64(s, "eventfd-count", 16, name);
		d->ev.semaphore = proc_field(s, "eventfd-semaphore") &&
				  proc_field_u64(s, "eventfd-semaphore", 10, name);
	} else if (!strcmp(kind, "signalfd")) {
		d->f.kind = TLV_FD_SIGNALFD;
		d->sig.mask = proc_field_u64(s, "sigmask", 16, name);
	} else if (!strcmp(kind, "timerfd")) {
		unsigned long long vs, vn, is, in;

		d->f.kind = TLV_FD_TIMERFD;
		d->tmr.clockid = proc_field_u64(s, "clockid", 10, name);
		d->tmr.ticks = proc_field_u64(s, "ticks", 10, name);
		d->tmr.settime_flags = proc_field_u64(s, "settime flags", 8, name);
		if (sscanf(proc_field(s, "it_value") ? proc_field(s, "it_value") : "",
			   "(%llu, %llu)", &vs, &vn) != 2 ||
		    sscanf(proc_field(s, "it_interval") ? proc_field(s, "it_interval") : "",
			   "(%llu, %llu)", &is, &in) != 2)
			die("fd %d: unexpected timerfd fdinfo", fd);
		d->tmr.value_ns = vs * 1000000000ULL + vn;
		d->tmr.interval_ns = is * 1000000000ULL + in;
	} else if (!strcmp(kind, "eventpoll")) {
		d->f.kind = TLV_FD_EPOLL;
		for (line = strtok_r(s, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			struct tlv_epoll_tfd *e;
			unsigned long long tfd, ev, data;

			if (sscanf(line, "tfd: %llu events: %llx data: %llx",
				   &tfd, &ev, &data) != 3)
				continue;
			e = vec_add(&d->epoll, &d->nepoll, sizeof(*e));
			*e = (struct tlv_epoll_tfd){ tfd, ev, data };
		}
	} else if (!strcmp(kind, "fanotify")) {
		unsigned fl, ef;

		d->f.kind = TLV_FD_FANOTIFY;
		col_fan_queue(pid, fd);
		for (line = strtok_r(s, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save))
			if (sscanf(line, "fanotify flags:%x event-flags:%x", &fl,
				   &ef) == 2)
				d->fan = (struct tlv_fanotify){ fl, ef };
			else if (!strncmp(line, "fanotify ", 9))
				col_fan_mark(d, line, fd);
	} else if (!strcmp(kind, "inotify")) {
		d->f.kind = TLV_FD_INOTIFY;
		for (line = strtok_r(s, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save))
			if (!strncmp(line, "inotify wd:", 11))
				col_inotify_watch(d, line, fd);
		xsort(d->watches, d->nwatches, sizeof(*d->watches), cmp_u64);
	} else {
		refuse("fd %d: unsupported fd type \"%s\"", fd, kind);
		t->nfds--;
	}
	free(s);
}

/* -- inet, netlink and packet sockets -------------------------------------
 * A socket is read on cr's own copy of it (pidfd_getfd): its addresses,
 * TCP_INFO, and the options in sk_opts that differ from those of a fresh
 * socket of the same kind.  Restore (rst_sock) makes it anew: options in
 * table order, then bind, listen or connect.
 *
 * An established TCP connection needs --tcp-established (or --tcp-close:
 * it comes back as a fresh unconnected socket, as CRIU does).  It is
 * taken with TCP_REPAIR on cr's copy: a drop-all socket filter first, so
 * that nothing the peer sends changes the state being read, then the
 * sequence numbers and both queues (read with MSG_PEEK, the send queue's
 * unacknowledged bytes included), MSS, window scales, SACK, timestamps
 * and the window.  The original stays in repair mode: when the dump kills
 * the tree it closes without a RST (with -R, or when the dump fails, the
 * filter goes and repair mode ends).  Restore connects a new socket in
 * repair mode (no SYN), refills its queues, and cr ends repair mode only
 * once every process of the tree exists (rst_finish), so that the two
 * ends of a connection inside the tree both exist before either talks.
 */
#define TCP_NO_QUEUE	0
#define TCP_RECV_QUEUE	1
#define TCP_SEND_QUEUE	2

struct sock_state {		/* an fd of kind INET, NETLINK or PACKET */
	struct tlv_sock s;
	struct tlv_sockopt *opt;
	size_t nopt;
	char *ifname;		/* SO_BINDTODEVICE */
	struct tlv_tcp tcp;	/* TLV_SOCK_REPAIR */
	uint8_t *sndq, *rcvq;
	size_t nsndq, nrcvq;	/* their lengths as read from an image */
	struct tlv_netlink nl;
	struct tlv_nl_group *grp;
	size_t ngrp;
	struct tlv_packet pk;
	struct tlv_mcast *mc;
	size_t nmc;
	uint8_t *dg;		/* DGRAMS */
	size_t ndg;
	bool has_sock, has_tcp, has_nl, has_pk, has_sndq, has_rcvq;
	bool connected;		/* dump: TCP, neither closed nor listening */
};

enum {
	SKO_INT, SKO_BUF, SKO_LINGER, SKO_TIMEO,
	SKO_TCP_CLOSED,		/* only on a TCP listener or unconnected socket */
	SKO_DGRAM,		/* not on stream sockets (multicast) */
};

/* Readable options worth keeping, in the order restore sets them. */
static const struct sk_opt {
	int level, name, kind;
	const char *what;
} sk_opts[] = {
	{ SOL_SOCKET, SO_REUSEADDR, SKO_INT, "SO_REUSEADDR" },
	{ SOL_SOCKET, SO_REUSEPORT, SKO_INT, "SO_REUSEPORT" },
	{ SOL_SOCKET, SO_KEEPALIVE, SKO_INT, "SO_KEEPALIVE" },
	{ SOL_SOCKET, SO_BROADCAST, SKO_INT, "SO_BROADCAST" },
	{ SOL_SOCKET, SO_OOBINLINE, SKO_INT, "SO_OOBINLINE" },
	{ SOL_SOCKET, SO_DONTROUTE, SKO_INT, "SO_DONTROUTE" },
	{ SOL_SOCKET, SO_PRIORITY, SKO_INT, "SO_PRIORITY" },
	{ SOL_SOCKET, SO_RCVLOWAT, SKO_INT, "SO_RCVLOWAT" },
	{ SOL_SOCKET, SO_MARK, SKO_INT, "SO_MARK" },
	{ SOL_SOCKET, SO_PASSCRED, SKO_INT, "SO_PASSCRED" },
	{ SOL_SOCKET, SO_TIMESTAMP, SKO_INT, "SO_TIMESTAMP" },
	{ SOL_SOCKET, SO_PEEK_OFF, SKO_INT, "SO_PEEK_OFF" },
	{ SOL_SOCKET, SO_RCVBUF, SKO_BUF, "SO_RCVBUF" },
	{ SOL_SOCKET, SO_SNDBUF, SKO_BUF, "SO_SNDBUF" },
	{ SOL_SOCKET, SO_LINGER, SKO_LINGER, "SO_LINGER" },
	{ SOL_SOCKET, SO_RCVTIMEO, SKO_TIMEO, "SO_RCVTIMEO" },
	{ SOL_SOCKET, SO_SNDTIMEO, SKO_TIMEO, "SO_SNDTIMEO" },
	{ IPPROTO_TCP, TCP_NODELAY, SKO_INT, "TCP_NODELAY" },
	{ IPPROTO_TCP, TCP_KEEPIDLE, SKO_INT, "TCP_KEEPIDLE" },
	{ IPPROTO_TCP, TCP_KEEPINTVL, SKO_INT, "TCP_KEEPINTVL" },
	{ IPPROTO_TCP, TCP_KEEPCNT, SKO_INT, "TCP_KEEPCNT" },
	{ IPPROTO_TCP, TCP_CORK, SKO_INT, "TCP_CORK" },
	{ IPPROTO_TCP, TCP_USER_TIMEOUT, SKO_INT, "TCP_USER_TIMEOUT" },
	{ IPPROTO_TCP, TCP_NOTSENT_LOWAT, SKO_INT, "TCP_NOTSENT_LOWAT" },
	{ IPPROTO_TCP, TCP_DEFER_ACCEPT, SKO_INT, "TCP_DEFER_ACCEPT" },
	{ IPPROTO_TCP, TCP_SYNCNT, SKO_INT, "TCP_SYNCNT" },
	{ IPPROTO_TCP, TCP_LINGER2, SKO_INT, "TCP_LINGER2" },
	{ IPPROTO_TCP, TCP_THIN_LINEAR_TIMEOUTS, SKO_INT, "TCP_THIN_LINEAR_TIMEOUTS" },
	{ IPPROTO_TCP, TCP_INQ, SKO_INT, "TCP_INQ" },
	{ IPPROTO_TCP, TCP_MAXSEG, SKO_TCP_CLOSED, "TCP_MAXSEG" },
	{ IPPROTO_TCP, TCP_FASTOPEN, SKO_TCP_CLOSED, "TCP_FASTOPEN" },
	{ IPPROTO_IP, IP_TOS, SKO_INT, "IP_TOS" },
	{ IPPROTO_IP, IP_TTL, SKO_INT, "IP_TTL" },
	{ IPPROTO_IP, IP_MULTICAST_TTL, SKO_DGRAM, "IP_MULTICAST_TTL" },
	{ IPPROTO_IP, IP_MULTICAST_LOOP, SKO_DGRAM, "IP_MULTICAST_LOOP" },
	{ IPPROTO_IP, IP_MULTICAST_IF, SKO_DGRAM, "IP_MULTICAST_IF" },
	{ IPPROTO_IP, IP_RECVERR, SKO_INT, "IP_RECVERR" },
	{ IPPROTO_IP, IP_PKTINFO, SKO_INT, "IP_PKTINFO" },
	{ IPPROTO_IP, IP_RECVTOS, SKO_INT, "IP_RECVTOS" },
	{ IPPROTO_IP, IP_RECVTTL, SKO_INT, "IP_RECVTTL" },
	{ IPPROTO_IP, IP_FREEBIND, SKO_INT, "IP_FREEBIND" },
	{ IPPROTO_IP, IP_TRANSPARENT, SKO_INT, "IP_TRANSPARENT" },
	{ IPPROTO_IP, IP_MTU_DISCOVER, SKO_INT, "IP_MTU_DISCOVER" },
	{ IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, SKO_INT, "IP_BIND_ADDRESS_NO_PORT" },
	{ IPPROTO_IPV6, IPV6_V6ONLY, SKO_INT, "IPV6_V6ONLY" },
	{ IPPROTO_IPV6, IPV6_UNICAST_HOPS, SKO_INT, "IPV6_UNICAST_HOPS" },
	{ IPPROTO_IPV6, IPV6_MULTICAST_HOPS, SKO_DGRAM, "IPV6_MULTICAST_HOPS" },
	{ IPPROTO_IPV6, IPV6_MULTICAST_LOOP, SKO_DGRAM, "IPV6_MULTICAST_LOOP" },
	{ IPPROTO_IPV6, IPV6_MULTICAST_IF, SKO_DGRAM, "IPV6_MULTICAST_IF" },
	{ IPPROTO_IPV6, IPV6_TCLASS, SKO_INT, "IPV6_TCLASS" },
	{ IPPROTO_IPV6, IPV6_RECVPKTINFO, SKO_INT, "IPV6_RECVPKTINFO" },
	{ IPPROTO_IPV6, IPV6_RECVERR, SKO_INT, "IPV6_RECVERR" },
	{ IPPROTO_IPV6, IPV6_RECVTCLASS, SKO_INT, "IPV6_RECVTCLASS" },
	{ IPPROTO_IPV6, IPV6_MTU_DISCOVER, SKO_INT, "IPV6_MTU_DISCOVER" },
	{ IPPROTO_IPV6, IPV6_FREEBIND, SKO_INT, "IPV6_FREEBIND" },
	{ IPPROTO_IPV6, IPV6_TRANSPARENT, SKO_INT, "IPV6_TRANSPARENT" },
	{ SOL_NETLINK, NETLINK_PKTINFO, SKO_INT, "NETLINK_PKTINFO" },
	{ SOL_NETLINK, NETLINK_BROADCAST_ERROR, SKO_INT, "NETLINK_BROADCAST_ERROR" },
	{ SOL_NETLINK, NETLINK_NO_ENOBUFS, SKO_INT, "NETLINK_NO_ENOBUFS" },
	{ SOL_NETLINK, NETLINK_CAP_ACK, SKO_INT, "NETLINK_CAP_ACK" },
	{ SOL_NETLINK, NETLINK_EXT_ACK, SKO_INT, "NETLINK_EXT_ACK" },
	{ SOL_NETLINK, NETLINK_GET_STRICT_CHK, SKO_INT, "NETLINK_GET_STRICT_CHK" },
	{ SOL_PACKET, PACKET_VERSION, SKO_INT, "PACKET_VERSION" },
	{ SOL_PACKET, PACKET_RESERVE, SKO_INT, "PACKET_RESERVE" },
	{ SOL_PACKET, PACKET_AUXDATA, SKO_INT, "PACKET_AUXDATA" },
	{ SOL_PACKET, PACKET_ORIGDEV, SKO_INT, "PACKET_ORIGDEV" },
	{ SOL_PACKET, PACKET_TIMESTAMP, SKO_INT, "PACKET_TIMESTAMP" },
	{ SOL_PACKET, PACKET_QDISC_BYPASS, SKO_INT, "PACKET_QDISC_BYPASS" },
};

static const struct sk_opt *sk_opt_find(uint64_t level, uint64_t name)
{
	for (size_t i = 0; i < ARRAY_SIZE(sk_opts); i++)
		if ((uint64_t)sk_opts[i].level == level &&
		    (uint64_t)sk_opts[i].name == name)
			return &sk_opts[i];
	return NULL;
}

/* An option as one u64; false if the socket has no such option. */
static bool sk_opt_get(int s, const struct sk_opt *o, uint64_t *v)
{
	union { int i; struct linger l; struct timeval tv; } u = { 0 };
	socklen_t len = sizeof(u);

	if (getsockopt(s, o->level, o->name, &u, &len))
		return false;
	if (o->kind == SKO_LINGER)
		*v = (uint64_t)(uint32_t)u.l.l_onoff |
		     (uint64_t)(uint32_t)u.l.l_linger << 32;
	else if (o->kind == SKO_TIMEO)
		*v = u.tv.tv_sec * 1000000ULL + u.tv.tv_usec;
	else
		*v = (uint64_t)(uint32_t)u.i;
	return true;
}

static int sk_opt_set(int s, const struct tlv_sockopt *so)
{
	const struct sk_opt *o = sk_opt_find(so->level, so->name);
	struct linger l = { (int)(uint32_t)so->val, (int)(so->val >> 32) };
	struct timeval tv = { so->val / 1000000, so->val % 1000000 };
	int i = (int)(uint32_t)so->val;

	if (o->kind == SKO_LINGER)
		return setsockopt(s, o->level, o->name, &l, sizeof(l));
	if (o->kind == SKO_TIMEO)
		return setsockopt(s, o->level, o->name, &tv, sizeof(tv));
	if (o->kind == SKO_BUF) {	/* the kernel doubles what it is given */
		i /= 2;
		return setsockopt(s, o->level, o->name == SO_RCVBUF ?
				  SO_RCVBUFFORCE : SO_SNDBUFFORCE, &i, sizeof(i));
	}
	return setsockopt(s, o->level, o->name, &i, sizeof(i));
}

/* Options of s that differ from those of fresh, a new socket of its kind. */
static void col_sk_opts(struct sock_state *k, int s, int fresh, bool closed)
{
	for (size_t i = 0; i < ARRAY_SIZE(sk_opts); i++) {
		const struct sk_opt *o = &sk_opts[i];
		uint64_t a, b;

		if ((o->kind == SKO_TCP_CLOSED && !closed) ||
		    (o->kind == SKO_DGRAM && k->s.type == SOCK_STREAM) ||
		    (o->level == IPPROTO_IP && k->s.family != AF_INET) ||
		    (o->level == IPPROTO_IPV6 && k->s.family != AF_INET6) ||
		    !sk_opt_get(s, o, &a) || !sk_opt_get(fresh, o, &b) || a == b)
			continue;
		*(struct tlv_sockopt *)vec_add(&k->opt, &k->nopt,
					       sizeof(*k->opt)) =
			(struct tlv_sockopt){ o->level, o->name, a };
	}
}

union sk_addr {
	struct sockaddr sa;
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
	struct sockaddr_nl nl;
	struct sockaddr_ll ll;
	struct sockaddr_storage ss;
};

/* An inet address into two u64 words, its port and IPv6 scope/flow. */
static void sk_addr_split(const union sk_addr *a, uint64_t *w0, uint64_t *w1,
			  uint64_t *port, uint64_t *scope, uint64_t *flow)
{
	uint8_t b[16] = { 0 };

	if (a->sa.sa_family == AF_INET6) {
		memcpy(b, &a->v6.sin6_addr, 16);
		*port = ntohs(a->v6.sin6_port);
		*scope = a->v6.sin6_scope_id;
		if (flow)
			*flow = ntohl(a->v6.sin6_flowinfo);
	} else {
		memcpy(b, &a->v4.sin_addr, 4);
		*port = ntohs(a->v4.sin_port);
	}
	memcpy(w0, b, 8);
	memcpy(w1, b + 8, 8);
}

static socklen_t sk_addr_join(union sk_addr *a, uint64_t family,
			      uint64_t w0, uint64_t w1, uint64_t port,
			      uint64_t scope, uint64_t flow)
{
	uint8_t b[16];

	memcpy(b, &w0, 8);
	memcpy(b + 8, &w1, 8);
	memset(a, 0, sizeof(*a));
	a->sa.sa_family = family;
	if (family == AF_INET6) {
		memcpy(&a->v6.sin6_addr, b, 16);
		a->v6.sin6_port = htons(port);
		a->v6.sin6_scope_id = scope;
		a->v6.sin6_flowinfo = htonl(flow);
		return sizeof(a->v6);
	}
	memcpy(&a->v4.sin_addr, b, 4);
	a->v4.sin_port = htons(port);
	return sizeof(a->v4);
}

/* "127.0.0.1:80" or "[::1]:80", for messages. */
static const char *sk_addr_str(char *buf, size_t len, uint64_t family,
			       uint64_t w0, uint64_t w1, uint64_t port)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	uint64_t w[2] = { w0, w1 };

	inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, w, ip, sizeof(ip));
	snprintf(buf, len, family == AF_INET6 ? "[%s]:%llu" : "%s:%llu", ip,
		 (unsigned long long)port);
	return buf;
}

/*
 * cr's copies of the connections taken during a dump (sk_release).  Each
 * is in repair mode only while it is read (col_tcp_repair): the tree may
 * run again at any moment if cr is killed, and a program must not find its
 * socket in repair mode (recv fails with EPERM, send goes to the wrong
 * queue).  From then on a drop-all filter keeps the peer's packets out, and
 * net_lock sets SO_LINGER 0 so that the kill closes the original without
 * a FIN (its RST is dropped by the lock) and frees its address pair at once.
 */
static struct sk_held {
	int fd;
	int pid, tfd;		/* whose fd it is (the first found, if shared) */
	uint64_t ino;		/* the socket's inode: one entry per socket */
	int reuse;		/* SO_REUSEADDR, which repair mode clears */
	struct linger linger;	/* the program's */
} *sk_held;
static size_t nsk_held;
static uint64_t sk_lock_id;	/* this dump's network lock (nonzero) */
static bool sk_locked;		/* and it is in place */
static int net_unlock(uint64_t id);

/* Out of repair mode (no window probe), SO_REUSEADDR as it was. */
static void sk_repair_off(int s, int reuse)
{
	int off = TCP_REPAIR_OFF_NO_WP;

	setsockopt(s, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off));
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof(reuse));
}

/* A connection taken back to how the program had it. */
static void sk_giveback(int s, int reuse, const struct linger *l)
{
	int off = 0;

	sk_repair_off(s, reuse);
	setsockopt(s, SOL_SOCKET, SO_LINGER, l, sizeof(*l));
	setsockopt(s, SOL_SOCKET, SO_DETACH_FILTER, &off, sizeof(off));
}

/*
 * cr may be killed mid-dump (or mid-restore), and then no undo runs.  A
 * guardian process, forked at the first connection taken, is told each
 * one ("s PID FD REUSEADDR LINGER-ON LINGER-SECS") and the lock ("l ID");
 * if cr goes without saying "done", it gives those sockets back and
 * removes the lock.
 */
static int sk_guard = -1;

static void __attribute__((format(printf, 1, 2))) sk_guard_tell(const char *fmt, ...)
{
	char line[96];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (sk_guard >= 0 && write(sk_guard, line, n) != n)
		die_errno("telling the socket guardian");
}

static void __attribute__((noreturn)) sk_guardian(int in)
{
	static char buf[1 << 20];
	size_t len = 0;
	ssize_t n;
	char *line, *save;

	struct sched_param sp = { .sched_priority = 1 };

	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	setsid();
	/* first to run when cr dies, before its tracees go on */
	if (sched_setscheduler(0, SCHED_FIFO, &sp))
		setpriority(PRIO_PROCESS, 0, -20);
	while (len < sizeof(buf) - 1 &&
	       (n = read(in, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	buf[len] = 0;
	if (len >= 5 && !strcmp(buf + len - 5, "done\n"))
		_exit(0);
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long long a, b;
		struct linger l;
		int s, reuse;

		if (sscanf(line, "l %llx", &a) == 1) {
			net_unlock(a);
		} else if (sscanf(line, "s %llu %llu %d %d %d", &a, &b, &reuse,
				  &l.l_onoff, &l.l_linger) == 5 &&
			   (s = pidfd_take((int)a, (int)b)) >= 0) {
			sk_giveback(s, reuse, &l);
			close(s);
		}
	}
	_exit(0);
}

/*
 * The guardian; its pid must not be one of avoid[] (a restore forks the
 * tree with its own pids later).
 */
static void sk_guard_start(const pid_t *avoid, size_t navoid)
{
	int p[2];
	pid_t g;

	if (sk_guard >= 0)
		return;
	if (pipe2(p, O_CLOEXEC))
		die_errno("starting the socket guardian");
again:
	if ((g = fork()) < 0)
		die_errno("starting the socket guardian");
	if (!g) {
		ctx.log = NULL;
		for (int fd = 0; fd < 1024; fd++)	/* not the image pipe */
			if (fd != p[0])
				close(fd);
		sk_guardian(p[0]);
	}
	for (size_t i = 0; i < navoid; i++)
		if (avoid[i] == g) {	/* it reads EOF: nothing to do */
			kill(g, SIGKILL);
			waitpid(g, NULL, 0);
			goto again;
		}
	close(p[0]);
	sk_guard = p[1];
}

/* The dump is over (or undone): the guardian may go. */
static void sk_guard_done(void)
{
	sk_guard_tell("done\n");
	if (sk_guard >= 0)
		close(sk_guard);
	sk_guard = -1;
}

/* Undo of a dump: the connections taken go back to normal. */
static void sk_release(void *arg)
{
	(void)arg;
	for (size_t i = 0; i < nsk_held; i++) {
		struct sk_held *h = &sk_held[i];

		sk_giveback(h->fd, h->reuse, &h->linger);
		close(h->fd);
	}
	nsk_held = 0;
	if (sk_locked)
		net_unlock(sk_lock_id);
	sk_locked = false;
	sk_guard_done();
}

/*
 * A dump with -R is over: the program goes on, but its dumped connections
 * stay locked (the image has them; the peer must not see the original go
 * on) until the image is restored.  SO_LINGER 0 stays too, so that killing
 * the original frees each address pair without a word to the peer.
 */
static void sk_keep(void)
{
	int off = 0;

	for (size_t i = 0; i < nsk_held; i++) {
		setsockopt(sk_held[i].fd, SOL_SOCKET, SO_DETACH_FILTER, &off,
			   sizeof(off));
		close(sk_held[i].fd);
	}
	nsk_held = 0;
	if (sk_locked)
		info("the dumped connections stay locked until the restore: nftables table inet cr_lock_%llx",
		     (unsigned long long)sk_lock_id);
	sk_locked = false;
	sk_guard_done();
}

/* This dump's network lock id, made once. */
static void sk_lock_new(void)
{
	struct timespec ts;

	if (sk_lock_id)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	sk_lock_id = ((uint64_t)getpid() << 40 ^ ts.tv_sec << 30 ^
		      ts.tv_nsec) | 1;
}

static int sk_int(int s, int level, int name, const char *what, int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (getsockopt(s, level, name, &v, &len))
		die_errno("fd %d: reading %s", fd, what);
	return v;
}

/* Peek len bytes of the selected queue of a socket under repair. */
static uint8_t *col_tcp_queue(int s, int q, uint64_t len, int fd)
{
	uint8_t *buf = xmalloc(len + 1);
	ssize_t n = 0;

	if (setsockopt(s, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)))
		die_errno("fd %d: TCP_REPAIR_QUEUE", fd);
	if (len)
		n = recv(s, buf, len, MSG_PEEK | MSG_DONTWAIT);
	if (n != (ssize_t)len)
		die_errno("fd %d: reading the TCP %s queue (%zd of %llu bytes)",
			  fd, q == TCP_SEND_QUEUE ? "send" : "receive", n,
			  (unsigned long long)len);
	return buf;
}

/*
 * Connections half or fully shut down are taken as established ones plus
 * the FINs: ours is sent again after the data once repair mode ends (the
 * peer acknowledges it again), the peer's becomes shutdown(SHUT_RD), so
 * that reads see the end after the queued data (a peer in the tree sends
 * its FIN again anyway).  tcp_fin_out: 0 none, 1 sent and acknowledged,
 * 2 not acknowledged yet.
 */
static int tcp_fin_out(uint64_t state)
{
	return state == TCP_FIN_WAIT2 ? 1 : state == TCP_FIN_WAIT1 ||
	       state == TCP_LAST_ACK || state == TCP_CLOSING ? 2 : 0;
}

static bool tcp_fin_in(uint64_t state)
{
	return state == TCP_CLOSE_WAIT || state == TCP_LAST_ACK ||
	       state == TCP_CLOSING;
}

/* The program's own socket filter (refused on a connection yet). */
static bool sk_filtered(int s)
{
	socklen_t len = 0;

	return getsockopt(s, SOL_SOCKET, SO_GET_FILTER, NULL, &len) == 0 && len;
}

/* The inode of cr's copy s of the socket at fd of the process. */
static uint64_t sk_ino(int s, int fd)
{
	struct stat sb;

	if (fstat(s, &sb))
		die_errno("fd %d: fstat", fd);
	return sb.st_ino;
}

/*
 * The held connection of socket inode ino: fds of several processes of
 * the tree (fork) or of one (dup) may be one socket, taken once.
 */
static struct sk_held *sk_find(uint64_t ino)
{
	for (size_t i = 0; i < nsk_held; i++)
		if (sk_held[i].ino == ino)
			return &sk_held[i];
	return NULL;
}

/*
 * A connection taken: what the program had (told the guardian too), then
 * the drop-all filter.  Once per connection: sk_take_all took them all
 * before any was read, and the copy made for reading replaces its own.
 */
static struct sk_held *sk_take(int s, int pid, int fd)
{
	struct sock_filter drop = BPF_STMT(BPF_RET | BPF_K, 0);
	struct sock_fprog prog = { 1, &drop };
	uint64_t ino = sk_ino(s, fd);
	struct sk_held *h;
	socklen_t len;

	if ((h = sk_find(ino))) {
		close(h->fd);
		h->fd = s;
		return h;
	}
	sk_guard_start(NULL, 0);
	h = vec_add(&sk_held, &nsk_held, sizeof(*sk_held));
	memset(h, 0, sizeof(*h));
	h->fd = s;
	h->pid = pid;
	h->tfd = fd;
	h->ino = ino;
	h->reuse = sk_int(s, SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR", fd);
	len = sizeof(h->linger);
	if (getsockopt(s, SOL_SOCKET, SO_LINGER, &h->linger, &len))
		die_errno("fd %d: SO_LINGER", fd);
	sk_guard_tell("s %d %d %d %d %d\n", pid, fd, h->reuse,
		      h->linger.l_onoff, h->linger.l_linger);
	if (setsockopt(s, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)))
		die_errno("fd %d: locking the connection (SO_ATTACH_FILTER)", fd);
	return h;
}

/*
 * --tcp-established, right after the freeze: every connection of the
 * tree gets its filter before any is read.  Read one by one, a connection
 * read first could otherwise still reach a peer in the tree read later
 * (a retransmission, a probe): the peer's image would then have seen
 * more of it than its own image says it sent.
 */
static void sk_take_all(const struct image *im)
{
	char path[64], link[64];

	for (size_t i = 0; i < im->nt; i++) {
		int pid = im->t[i].proc.pid;
		struct dirent *e;
		DIR *d;

		snprintf(path, sizeof(path), "/proc/%d/fd", pid);
		if (task_zombie(&im->t[i]) || !(d = opendir(path)))
			continue;
		while ((e = readdir(d))) {
			char fdp[96];
			struct tcp_info ti;
			socklen_t len = sizeof(ti);
			ssize_t n;
			int s, fd = atoi(e->d_name);

			snprintf(fdp, sizeof(fdp), "%s/%.16s", path, e->d_name);
			n = readlink(fdp, link, sizeof(link) - 1);
			link[n > 0 ? n : 0] = 0;
			if (strncmp(link, "socket:", 7) ||
			    (s = pidfd_take(pid, fd)) < 0)
				continue;
			memset(&ti, 0, sizeof(ti));
			len = sizeof(ti);
			if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &len) ||
			    ti.tcpi_state == TCP_LISTEN ||
			    ti.tcpi_state == TCP_CLOSE || sk_filtered(s)) {
				close(s);	/* not a connection, or refused */
				continue;
			}
			sk_take(s, pid, fd);
		}
		closedir(d);
	}
}

/* An established connection, by TCP_REPAIR on cr's copy s of it. */
static void col_tcp_repair(struct sock_state *k, int s, int fd)
{
	struct tcp_repair_window w;
	struct tcp_info ti;
	struct sk_held *h;
	socklen_t len = 0;
	int on = 1, v, fin;

	if (!sk_find(sk_ino(s, fd)) && sk_filtered(s)) {
		refuse("fd %d: a TCP connection with a socket filter (SO_ATTACH_FILTER): not supported yet",
		       fd);
		return;
	}
	h = sk_take(s, ctx.pid, fd);
	if (setsockopt(s, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)))
		die_errno("fd %d: TCP_REPAIR", fd);
	k->s.flags |= TLV_SOCK_REPAIR;
	k->has_tcp = true;
	sk_lock_new();
	k->tcp.lock = sk_lock_id;
	if (ioctl(s, SIOCOUTQ, &v) || (k->tcp.sndq = v, ioctl(s, SIOCOUTQNSD, &v)) ||
	    (k->tcp.unsent = v, ioctl(s, SIOCINQ, &v)))
		die_errno("fd %d: reading the TCP queue lengths", fd);
	k->tcp.rcvq = v;
	/* the FINs take a sequence number each: the seqs and queues go without */
	fin = tcp_fin_out(k->s.state);
	if (tcp_fin_out(k->s.state) > 1) {	/* ours is queued, unacked */
		k->tcp.sndq--;
		k->tcp.unsent -= k->tcp.unsent > 0;	/* it is last */
	}
	k->sndq = col_tcp_queue(s, TCP_SEND_QUEUE, k->tcp.sndq, fd);
	k->tcp.snd_seq = (uint32_t)(sk_int(s, IPPROTO_TCP, TCP_QUEUE_SEQ,
					   "TCP_QUEUE_SEQ", fd) - !!fin);
	k->rcvq = col_tcp_queue(s, TCP_RECV_QUEUE, k->tcp.rcvq, fd);
	k->tcp.rcv_seq = (uint32_t)(sk_int(s, IPPROTO_TCP, TCP_QUEUE_SEQ,
					   "TCP_QUEUE_SEQ", fd) -
				    tcp_fin_in(k->s.state));
	k->has_sndq = k->has_rcvq = true;
	k->nsndq = k->tcp.sndq;
	k->nrcvq = k->tcp.rcvq;
	v = TCP_NO_QUEUE;
	setsockopt(s, IPPROTO_TCP, TCP_REPAIR_QUEUE, &v, sizeof(v));
	k->tcp.mss = sk_int(s, IPPROTO_TCP, TCP_MAXSEG, "TCP_MAXSEG", fd);
	k->tcp.timestamp = (uint32_t)sk_int(s, IPPROTO_TCP, TCP_TIMESTAMP,
					    "TCP_TIMESTAMP", fd);
	len = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &len))
		die_errno("fd %d: TCP_INFO", fd);
	k->tcp.opts = ti.tcpi_options;
	k->tcp.snd_wscale = ti.tcpi_snd_wscale;
	k->tcp.rcv_wscale = ti.tcpi_rcv_wscale;
	len = sizeof(w);
	if (getsockopt(s, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, &len))
		die_errno("fd %d: TCP_REPAIR_WINDOW", fd);
	k->tcp.snd_wl1 = w.snd_wl1;
	k->tcp.snd_wnd = w.snd_wnd;
	k->tcp.max_window = w.max_window;
	k->tcp.rcv_wnd = w.rcv_wnd;
	k->tcp.rcv_wup = w.rcv_wup;
	if ((int32_t)(w.rcv_wup - (uint32_t)k->tcp.rcv_seq) > 0)
		k->tcp.rcv_wup = k->tcp.rcv_seq;	/* it counted the FIN */
	sk_repair_off(s, h->reuse);	/* read: the filter keeps it so */
}

static const char *const tcp_state_names[] = {
	"?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
	"TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING",
};

/*
 * Multicast memberships cannot be listed per socket, but the groups joined
 * on each interface can (/proc/net/igmp, igmp6), and MCAST_MSFILTER on a
 * socket answers for a group only if the socket joined it.
 */
static void col_mcast(struct sock_state *k, int s, int fd)
{
	bool v6 = k->s.family == AF_INET6;
	char *txt = proc_xread(0, v6 ? "net/igmp6" : "net/igmp", NULL);
	char *line, *save;
	unsigned idx = 0;

	for (line = strtok_r(txt, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct { struct group_filter f; struct sockaddr_storage more[8]; } gf;
		socklen_t len = sizeof(gf);
		uint8_t g[16] = { 0 };
		char hex[33];
		unsigned v;

		memset(&gf, 0, sizeof(gf));
		if (v6) {
			if (sscanf(line, "%u %*s %32s", &idx, hex) != 2 ||
			    strlen(hex) != 32)
				continue;
			for (int i = 0; i < 16; i++)
				sscanf(hex + 2 * i, "%2hhx", &g[i]);
			((struct sockaddr_in6 *)&gf.f.gf_group)->sin6_family = AF_INET6;
			memcpy(&((struct sockaddr_in6 *)&gf.f.gf_group)->sin6_addr, g, 16);
		} else {
			if (line[0] != '\t') {
				sscanf(line, "%u", &idx);
				continue;
			}
			if (sscanf(line, "%x", &v) != 1)
				continue;
			memcpy(g, &v, 4);	/* printed as the __be32 in memory */
			((struct sockaddr_in *)&gf.f.gf_group)->sin_family = AF_INET;
			memcpy(&((struct sockaddr_in *)&gf.f.gf_group)->sin_addr, g, 4);
		}
		gf.f.gf_interface = idx;
		if (!idx || getsockopt(s, v6 ? IPPROTO_IPV6 : IPPROTO_IP,
				       MCAST_MSFILTER, &gf, &len))
			continue;	/* not a member */
		if (gf.f.gf_fmode != MCAST_EXCLUDE || gf.f.gf_numsrc) {
			refuse("fd %d: multicast membership with a source filter: not supported yet",
			       fd);
			continue;
		}
		{
			struct tlv_mcast *m = vec_add(&k->mc, &k->nmc, sizeof(*k->mc));

			m->ifindex = idx;
			memcpy(&m->group0, g, 8);
			memcpy(&m->group1, g + 8, 8);
		}
	}
	free(txt);
}

/*
 * Datagrams queued on a UDP socket, peeked one by one with their sources:
 * with SO_PEEK_OFF each MSG_PEEK moves on to the next (the socket's own
 * peek offset is put back).  Restore sends them again (rst_dgrams).
 */
static bool col_dgrams(struct sock_state *k, int s, int fd, const char *l)
{
	static uint8_t data[65536];
	int old = sk_int(s, SOL_SOCKET, SO_PEEK_OFF, "SO_PEEK_OFF", fd), zero = 0;
	size_t cap = 0;
	bool ok = true;

	if (setsockopt(s, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)))
		die_errno("fd %d: SO_PEEK_OFF", fd);
	for (;;) {
		union sk_addr a;
		struct iovec iov = { data, sizeof(data) };
		struct msghdr m = { .msg_name = &a, .msg_namelen = sizeof(a),
				    .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n = recvmsg(s, &m, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
		uint64_t h[5], scope;

		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			die_errno("fd %d: peeking at the datagrams queued", fd);
		if (n == 0 || n > (ssize_t)sizeof(data) || k->ndg > (64u << 20)) {
			refuse("fd %d: socket %s has empty or too many datagrams queued: not supported yet",
			       fd, l);
			ok = false;
			break;
		}
		h[0] = a.sa.sa_family;
		sk_addr_split(&a, &h[2], &h[3], &h[1], &scope, NULL);
		h[4] = n;
		if (k->ndg + sizeof(h) + n + 8 > cap) {
			cap = (k->ndg + sizeof(h) + n + 8) * 2;
			k->dg = xrealloc(k->dg, cap);
		}
		memcpy(k->dg + k->ndg, h, sizeof(h));
		memcpy(k->dg + k->ndg + sizeof(h), data, n);
		memset(k->dg + k->ndg + sizeof(h) + n, 0, (8 - n % 8) % 8);
		k->ndg += sizeof(h) + (n + 7) / 8 * 8;
	}
	setsockopt(s, SOL_SOCKET, SO_PEEK_OFF, &old, sizeof(old));
	return ok;
}

/* Shut down for reading: only poll tells (POLLRDHUP). */
static void col_shut_rd(struct sock_state *k, int s)
{
	struct pollfd p = { s, POLLRDHUP, 0 };

	if (poll(&p, 1, 0) == 1 && (p.revents & POLLRDHUP))
		k->s.flags |= TLV_SOCK_SHUT_RD;
}

/* A TCP, UDP or raw socket; false if refused. */
static bool col_inet(struct image *im, struct sock_state *k, int s, int fd)
{
	union sk_addr a;
	socklen_t len = sizeof(a);
	char l[80], r[80];
	struct tcp_info ti;
	bool tcp = k->s.type == SOCK_STREAM;

	if (!(tcp && k->s.proto == IPPROTO_TCP) &&
	    !(k->s.type == SOCK_DGRAM && k->s.proto == IPPROTO_UDP) &&
	    k->s.type != SOCK_RAW) {
		refuse("fd %d: unsupported socket (family %llu, type %llu, protocol %llu)",
		       fd, (unsigned long long)k->s.family,
		       (unsigned long long)k->s.type,
		       (unsigned long long)k->s.proto);
		return false;
	}
	if (getsockname(s, &a.sa, &len))
		die_errno("fd %d: getsockname", fd);
	sk_addr_split(&a, &k->s.laddr0, &k->s.laddr1, &k->s.lport, &k->s.lscope, NULL);
	if (k->s.lport || k->s.laddr0 || k->s.laddr1)
		k->s.flags |= TLV_SOCK_BOUND;
	len = sizeof(a);
	if (!getpeername(s, &a.sa, &len)) {
		k->s.flags |= TLV_SOCK_CONNECTED;
		sk_addr_split(&a, &k->s.raddr0, &k->s.raddr1, &k->s.rport, &k->s.rscope,
			      &k->s.rflow);
	}
	sk_addr_str(l, sizeof(l), k->s.family, k->s.laddr0, k->s.laddr1, k->s.lport);
	sk_addr_str(r, sizeof(r), k->s.family, k->s.raddr0, k->s.raddr1, k->s.rport);
	k->s.state = TCP_CLOSE;
	if (!tcp) {
		col_shut_rd(k, s);
		col_mcast(k, s, fd);
		/* raw: packets come and go */
		return k->s.type != SOCK_DGRAM || col_dgrams(k, s, fd, l);
	}
	len = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &len))
		die_errno("fd %d: TCP_INFO", fd);
	k->s.state = ti.tcpi_state;
	if (ti.tcpi_state == TCP_LISTEN) {
		k->s.flags |= TLV_SOCK_LISTEN;
		k->s.backlog = ti.tcpi_sacked;	/* for a listener: the backlog */
		if (ti.tcpi_unacked) {		/* and connections not accepted */
			refuse("fd %d: listening TCP socket %s has %u connections not accepted yet: cr cannot put a connection back into a listener's queue",
			       fd, l, ti.tcpi_unacked);
			return false;
		}
		return true;
	}
	if (ti.tcpi_state == TCP_CLOSE)
		return true;
	k->connected = true;
	if (im->tcp_mode == 0) {
		refuse("fd %d: established TCP connection %s -> %s: dump with --tcp-established (or --tcp-close to restore it closed)",
		       fd, l, r);
		return false;
	}
	if (im->tcp_mode == 'C') {	/* a fresh socket, neither bound nor connected */
		k->s.state = TCP_CLOSE;
		k->s.flags = 0;
		k->s.lport = k->s.rport = k->s.laddr0 = k->s.laddr1 = 0;
		k->s.raddr0 = k->s.raddr1 = k->s.lscope = k->s.rscope = 0;
		k->s.rflow = 0;
		return true;
	}
	if (ti.tcpi_state != TCP_ESTABLISHED && !tcp_fin_out(ti.tcpi_state) &&
	    !tcp_fin_in(ti.tcpi_state)) {
		refuse("fd %d: TCP connection %s -> %s in state %s: only established or shut down connections can be dumped yet",
		       fd, l, r, ti.tcpi_state < ARRAY_SIZE(tcp_state_names) ?
		       tcp_state_names[ti.tcpi_state] : "?");
		return false;
	}
	col_tcp_repair(k, s, fd);
	col_shut_rd(k, s);
	return true;
}

static bool col_netlink(struct sock_state *k, int s, int fd)
{
	union sk_addr a;
	socklen_t len = sizeof(a);
	uint32_t g[64];
	char c;

	k->has_nl = true;
	k->nl.proto = k->s.proto;
	k->nl.type = k->s.type;
	if (getsockname(s, &a.sa, &len))
		die_errno("fd %d: getsockname", fd);
	k->nl.portid = a.nl.nl_pid;
	len = sizeof(a);
	if (!getpeername(s, &a.sa, &len)) {
		k->nl.dst_portid = a.nl.nl_pid;
		k->nl.dst_group = a.nl.nl_groups;
	}
	len = sizeof(g);
	if (getsockopt(s, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, g, &len))
		die_errno("fd %d: NETLINK_LIST_MEMBERSHIPS", fd);
	if (len > sizeof(g)) {
		refuse("fd %d: netlink socket in more than %zu groups: not supported yet",
		       fd, sizeof(g) * 8);
		return false;
	}
	for (size_t i = 0; i < len / 4 * 32; i++)
		if (g[i / 32] >> (i % 32) & 1)
			((struct tlv_nl_group *)vec_add(&k->grp, &k->ngrp,
							sizeof(*k->grp)))->group = i + 1;
	if (recv(s, &c, 1, MSG_PEEK | MSG_DONTWAIT) >= 0) {
		refuse("fd %d: netlink socket (protocol %llu) has messages queued, not read yet: not supported yet",
		       fd, (unsigned long long)k->nl.proto);
		return false;
	}
	return true;
}

static bool col_packet(struct sock_state *k, int s, int fd)
{
	union sk_addr a;
	socklen_t len = sizeof(a);

	k->has_pk = true;
	k->pk.type = k->s.type;
	if (getsockname(s, &a.sa, &len))
		die_errno("fd %d: getsockname", fd);
	k->pk.proto = a.ll.sll_protocol;
	k->pk.ifindex = a.ll.sll_ifindex;
	if (sk_int(s, SOL_PACKET, PACKET_FANOUT, "PACKET_FANOUT", fd)) {
		refuse("fd %d: packet socket in a fanout group: not supported yet", fd);
		return false;
	}
	return true;
}

/*
 * An inet, netlink or packet socket; false if it is another family (the
 * caller goes on).  On a refusal the fd keeps kind 0.
 */
static bool col_socket(struct image *im, struct task *t, struct fd *d)
{
	int fd = d->f.fd, s, fresh;
	struct sock_state *k;
	char ifname[IFNAMSIZ + 1] = "";
	socklen_t len = IFNAMSIZ;
	bool ok;

	s = pidfd_take(t->proc.pid, fd);
	if (s < 0)
		die_errno("fd %d: taking a copy of the socket (pidfd_getfd)", fd);
	k = xzalloc(sizeof(*k));
	k->has_sock = true;
	k->s.family = sk_int(s, SOL_SOCKET, SO_DOMAIN, "SO_DOMAIN", fd);
	k->s.type = sk_int(s, SOL_SOCKET, SO_TYPE, "SO_TYPE", fd);
	k->s.proto = sk_int(s, SOL_SOCKET, SO_PROTOCOL, "SO_PROTOCOL", fd);
	if (k->s.family == AF_INET || k->s.family == AF_INET6) {
		d->f.kind = TLV_FD_INET;
		ok = col_inet(im, k, s, fd);
	} else if (k->s.family == AF_NETLINK) {
		d->f.kind = TLV_FD_NETLINK;
		ok = col_netlink(k, s, fd);
	} else if (k->s.family == AF_PACKET) {
		d->f.kind = TLV_FD_PACKET;
		ok = col_packet(k, s, fd);
	} else {
		close(s);
		free(k);
		return false;
	}
	d->sk = k;
	if (!ok)
		d->f.kind = 0;
	if (ok && !getsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, ifname, &len) &&
	    ifname[0])
		k->ifname = xstrdup(ifname);
	fresh = ok ? socket(k->s.family, k->s.type | SOCK_CLOEXEC,
			    k->s.family == AF_PACKET ? (int)k->pk.proto
						     : (int)k->s.proto) : -1;
	if (ok && fresh < 0)
		die_errno("fd %d: making a socket to compare options with", fd);
	if (ok) {
		col_sk_opts(k, s, fresh, !k->connected);
		close(fresh);
	}
	if (!(k->s.flags & TLV_SOCK_REPAIR))
		close(s);	/* else kept open in sk_held */
	k->has_sock = d->f.kind == TLV_FD_INET;
	return true;
}

/* The records of a socket fd, after its FD_INFO. */
static void dump_sock(struct buf *n, const struct sock_state *k)
{
	if (k->has_sock)
		buf_rec(n, TLV_SOCK, &k->s, sizeof(k->s));
	if (k->has_nl)
		buf_rec(n, TLV_NETLINK, &k->nl, sizeof(k->nl));
	if (k->ngrp)
		buf_rec(n, TLV_NL_GROUPS, k->grp, k->ngrp * sizeof(*k->grp));
	if (k->has_pk)
		buf_rec(n, TLV_PACKET, &k->pk, sizeof(k->pk));
	if (k->nopt)
		buf_rec(n, TLV_SOCKOPT, k->opt, k->nopt * sizeof(*k->opt));
	if (k->ifname)
		buf_str(n, TLV_IFNAME, k->ifname);
	if (k->nmc)
		buf_rec(n, TLV_MCAST, k->mc, k->nmc * sizeof(*k->mc));
	if (k->ndg)
		buf_rec(n, TLV_DGRAMS, k->dg, k->ndg);
	if (k->has_tcp) {
		buf_rec(n, TLV_TCP, &k->tcp, sizeof(k->tcp));
		buf_rec(n, TLV_SNDQ, k->sndq, k->tcp.sndq);
		buf_rec(n, TLV_RCVQ, k->rcvq, k->tcp.rcvq);
	}
}

/* Image check of a socket fd: every field rst_sock uses. */
static void img_check_sock(const struct fd *d)
{
	const struct sock_state *k = d->sk;
	const struct tlv_sock *s = &k->s;
	unsigned long long fd = d->f.fd;
	bool tcp = s->type == SOCK_STREAM, v4 = s->family == AF_INET;

	for (size_t i = 0; i < k->nopt; i++)
		if (!sk_opt_find(k->opt[i].level, k->opt[i].name) ||
		    (sk_opt_find(k->opt[i].level, k->opt[i].name)->kind !=
		     SKO_LINGER && k->opt[i].val > 0xffffffffULL))
			die("corrupt image: fd %llu: bad socket option", fd);
	if (k->ifname && strlen(k->ifname) >= IFNAMSIZ)
		die("corrupt image: fd %llu: bad interface name", fd);
	for (size_t off = 0; off < k->ndg;) {
		uint64_t h[5];

		if (k->ndg - off < sizeof(h))
			die("corrupt image: fd %llu: bad datagram queue", fd);
		memcpy(h, k->dg + off, sizeof(h));
		if (d->f.kind != TLV_FD_INET || s->proto != IPPROTO_UDP ||
		    (h[0] != AF_INET && h[0] != AF_INET6) || h[1] > 65535 ||
		    !h[4] || h[4] > 65507 || (h[0] == AF_INET &&
					       (h[2] >> 32 || h[3])) ||
		    k->ndg - off - sizeof(h) < (h[4] + 7) / 8 * 8)
			die("corrupt image: fd %llu: bad datagram queue", fd);
		off += sizeof(h) + (h[4] + 7) / 8 * 8;
	}
	for (size_t i = 0; i < k->nmc; i++)
		if (d->f.kind != TLV_FD_INET || s->type == SOCK_STREAM ||
		    !k->mc[i].ifindex || k->mc[i].ifindex > INT_MAX ||
		    (v4 && (k->mc[i].group0 >> 32 || k->mc[i].group1)))
			die("corrupt image: fd %llu: bad multicast group", fd);
	if (d->f.kind == TLV_FD_NETLINK) {
		if (!k->has_nl || k->has_sock || k->has_pk || k->has_tcp ||
		    k->nl.proto >= 32 || (k->nl.type != SOCK_RAW &&
					  k->nl.type != SOCK_DGRAM) ||
		    k->nl.portid > 0xffffffffULL ||
		    k->nl.dst_portid > 0xffffffffULL ||
		    k->nl.dst_group > 0xffffffffULL)
			die("corrupt image: fd %llu: bad netlink socket", fd);
		for (size_t i = 0; i < k->ngrp; i++)
			if (!k->grp[i].group || k->grp[i].group > 0xffffffffULL)
				die("corrupt image: fd %llu: bad netlink group", fd);
		return;
	}
	if (d->f.kind == TLV_FD_PACKET) {
		if (!k->has_pk || k->has_sock || k->has_nl || k->has_tcp ||
		    k->ngrp || (k->pk.type != SOCK_RAW &&
				k->pk.type != SOCK_DGRAM) ||
		    k->pk.proto > 0xffff || k->pk.ifindex > INT_MAX)
			die("corrupt image: fd %llu: bad packet socket", fd);
		return;
	}
	if (!k->has_sock || k->has_nl || k->has_pk || k->ngrp ||
	    (!v4 && s->family != AF_INET6) ||
	    !((tcp && s->proto == IPPROTO_TCP) ||
	      (s->type == SOCK_DGRAM && s->proto == IPPROTO_UDP) ||
	      (s->type == SOCK_RAW && s->proto < 256)) ||
	    s->flags > 31 || s->lport > 65535 || s->rport > 65535 ||
	    (v4 && (s->laddr0 >> 32 || s->laddr1 || s->raddr0 >> 32 ||
		    s->raddr1 || s->lscope || s->rscope || s->rflow)) ||
	    s->lscope > 0xffffffffULL || s->rscope > 0xffffffffULL ||
	    s->rflow > 0xfffff || s->backlog > 65535 ||
	    (s->state != TCP_CLOSE && s->state != TCP_LISTEN &&
	     s->state != TCP_ESTABLISHED && !tcp_fin_out(s->state) &&
	     !tcp_fin_in(s->state)) ||
	    (!tcp && s->state != TCP_CLOSE) ||
	    !(s->flags & TLV_SOCK_LISTEN) != (s->state != TCP_LISTEN) ||
	    !(s->flags & TLV_SOCK_REPAIR) !=
	    (s->state == TCP_CLOSE || s->state == TCP_LISTEN) ||
	    !(s->flags & TLV_SOCK_REPAIR) != !k->has_tcp ||
	    (tcp && !(s->flags & TLV_SOCK_REPAIR) &&
	     (s->flags & TLV_SOCK_CONNECTED)) ||
	    ((s->flags & TLV_SOCK_REPAIR) && (s->flags & 3) != 3))
		die("corrupt image: fd %llu: bad inet socket", fd);
	if (k->has_tcp &&
	    (!k->has_sndq || !k->has_rcvq || k->tcp.unsent > k->tcp.sndq ||
	     k->nsndq != k->tcp.sndq || k->nrcvq != k->tcp.rcvq ||
	     k->tcp.snd_seq > 0xffffffffULL || k->tcp.rcv_seq > 0xffffffffULL ||
	     k->tcp.mss > 65535 || k->tcp.opts > 0xff ||
	     k->tcp.snd_wscale > 14 || k->tcp.rcv_wscale > 14 ||
	     k->tcp.timestamp > 0xffffffffULL ||
	     k->tcp.snd_wl1 > 0xffffffffULL || k->tcp.snd_wnd > 0xffffffffULL ||
	     k->tcp.max_window > 0xffffffffULL ||
	     k->tcp.rcv_wnd > 0xffffffffULL || k->tcp.rcv_wup > 0xffffffffULL))
		die("corrupt image: fd %llu: bad TCP connection state", fd);
}

/*
 * The network lock.  From the moment the dump kills the tree until the
 * restore ends repair mode, no socket holds a dumped connection's address
 * pair, and the kernel would answer the peer's packets with a RST.  So
 * before the kill, cr adds an nftables table "cr_lock_PID" (PID: the
 * tree's root) whose input chain drops every packet of those connections
 * coming in; the peer retransmits until the restored socket takes them.
 * restore deletes the table just before ending repair mode.  The rules go
 * to the kernel over NETLINK_NETFILTER, built here by hand: no nft or
 * iptables program, no library.
 */
struct nl_batch {
	uint8_t buf[65536];
	size_t len;
	size_t msg;		/* offset of the message being built */
	unsigned nmsg;		/* messages that want an ack */
};

static void nlb_grow(struct nl_batch *b, size_t n)
{
	if (b->len + NLA_ALIGN(n) > sizeof(b->buf))
		die("network lock: too many connections for one batch");
	memset(b->buf + b->len, 0, NLA_ALIGN(n));
	b->len += NLA_ALIGN(n);
	((struct nlmsghdr *)(b->buf + b->msg))->nlmsg_len = b->len - b->msg;
}

static void nlb_msg(struct nl_batch *b, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *h = (void *)(b->buf + b->len);
	struct nfgenmsg *g;
	bool batch = type == NFNL_MSG_BATCH_BEGIN || type == NFNL_MSG_BATCH_END;

	b->msg = b->len;
	nlb_grow(b, NLMSG_HDRLEN + sizeof(*g));
	h->nlmsg_type = batch ? type : NFNL_SUBSYS_NFTABLES << 8 | type;
	h->nlmsg_flags = NLM_F_REQUEST | (batch ? 0 : NLM_F_ACK | flags);
	h->nlmsg_seq = b->nmsg + 1;
	g = NLMSG_DATA(h);
	g->nfgen_family = batch ? AF_UNSPEC : NFPROTO_INET;
	g->version = NFNETLINK_V0;
	g->res_id = batch ? htons(NFNL_SUBSYS_NFTABLES) : 0;
	b->nmsg += !batch;
}

static void nlb_attr(struct nl_batch *b, uint16_t type, const void *v,
		     size_t n)
{
	struct nlattr *a = (void *)(b->buf + b->len);

	nlb_grow(b, NLA_HDRLEN + n);
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + n;
	if (n)
		memcpy(a + 1, v, n);
}

static void nlb_u32(struct nl_batch *b, uint16_t type, uint32_t v)
{
	v = htonl(v);
	nlb_attr(b, type, &v, 4);
}

static size_t nlb_nest(struct nl_batch *b, uint16_t type)
{
	size_t off = b->len;

	nlb_attr(b, type | NLA_F_NESTED, NULL, 0);
	return off;
}

static void nlb_end(struct nl_batch *b, size_t off)
{
	((struct nlattr *)(b->buf + off))->nla_len = b->len - off;
}

/* Load len bytes (meta key, or payload at base/offset) and compare them. */
static void nlb_match(struct nl_batch *b, int base, uint32_t off,
		      const void *v, uint32_t len)
{
	size_t e, d;

	e = nlb_nest(b, NFTA_LIST_ELEM);
	nlb_attr(b, NFTA_EXPR_NAME, base < 0 ? "meta" : "payload",
		 base < 0 ? 5 : 8);
	d = nlb_nest(b, NFTA_EXPR_DATA);
	if (base < 0) {
		nlb_u32(b, NFTA_META_DREG, NFT_REG_1);
		nlb_u32(b, NFTA_META_KEY, off);
	} else {
		nlb_u32(b, NFTA_PAYLOAD_DREG, NFT_REG_1);
		nlb_u32(b, NFTA_PAYLOAD_BASE, base);
		nlb_u32(b, NFTA_PAYLOAD_OFFSET, off);
		nlb_u32(b, NFTA_PAYLOAD_LEN, len);
	}
	nlb_end(b, d);
	nlb_end(b, e);
	e = nlb_nest(b, NFTA_LIST_ELEM);
	nlb_attr(b, NFTA_EXPR_NAME, "cmp", 4);
	d = nlb_nest(b, NFTA_EXPR_DATA);
	nlb_u32(b, NFTA_CMP_SREG, NFT_REG_1);
	nlb_u32(b, NFTA_CMP_OP, NFT_CMP_EQ);
	{
		size_t v1 = nlb_nest(b, NFTA_CMP_DATA);

		nlb_attr(b, NFTA_DATA_VALUE, v, len);
		nlb_end(b, v1);
	}
	nlb_end(b, d);
	nlb_end(b, e);
}

/* The verdict of a rule: drop. */
static void nlb_drop(struct nl_batch *b)
{
	size_t e, d, v, vd;

	e = nlb_nest(b, NFTA_LIST_ELEM);
	nlb_attr(b, NFTA_EXPR_NAME, "immediate", 10);
	d = nlb_nest(b, NFTA_EXPR_DATA);
	nlb_u32(b, NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT);
	v = nlb_nest(b, NFTA_IMMEDIATE_DATA);
	vd = nlb_nest(b, NFTA_DATA_VERDICT);
	nlb_u32(b, NFTA_VERDICT_CODE, NF_DROP);
	nlb_end(b, vd);
	nlb_end(b, v);
	nlb_end(b, d);
	nlb_end(b, e);
}

/*
 * A rule dropping what the peer of connection k sends to it (chain "in"),
 * or what it sends to the peer (chain "out").
 */
static void nlb_lock_rule(struct nl_batch *b, const char *table,
			  const struct tlv_sock *s, bool out)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	uint8_t la[16], ra[16], nfproto, tcp = IPPROTO_TCP;
	uint16_t ports[2] = { htons(s->rport), htons(s->lport) };
	uint32_t alen = 16, src = 8, dst = 24;
	size_t l;

	if (out) {
		ports[0] = htons(s->lport);
		ports[1] = htons(s->rport);
	}

	memcpy(la, &s->laddr0, 8);
	memcpy(la + 8, &s->laddr1, 8);
	memcpy(ra, &s->raddr0, 8);
	memcpy(ra + 8, &s->raddr1, 8);
	nfproto = NFPROTO_IPV6;
	if (s->family == AF_INET || !memcmp(ra, mapped, 12)) {
		if (s->family != AF_INET) {	/* IPv4 on a dual-stack socket */
			memmove(la, la + 12, 4);
			memmove(ra, ra + 12, 4);
		}
		nfproto = NFPROTO_IPV4;
		alen = 4, src = 12, dst = 16;
	}
	nlb_msg(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
	nlb_attr(b, NFTA_RULE_TABLE, table, strlen(table) + 1);
	nlb_attr(b, NFTA_RULE_CHAIN, out ? "out" : "in", out ? 4 : 3);
	l = nlb_nest(b, NFTA_RULE_EXPRESSIONS);
	nlb_match(b, -1, NFT_META_NFPROTO, &nfproto, 1);
	nlb_match(b, -1, NFT_META_L4PROTO, &tcp, 1);
	nlb_match(b, NFT_PAYLOAD_NETWORK_HEADER, src, out ? la : ra, alen);
	nlb_match(b, NFT_PAYLOAD_NETWORK_HEADER, dst, out ? ra : la, alen);
	nlb_match(b, NFT_PAYLOAD_TRANSPORT_HEADER, 0, ports, 4);
	nlb_drop(b);
	nlb_end(b, l);
}

/*
 * A rule dropping new connections' SYNs (flags: SYN, or SYN with ECN's
 * ECE and CWR) to a listener: addr of alen bytes (none: any address) and
 * port.  Clients retransmit them until the restored listener answers.
 */
static void nlb_syn_rule(struct nl_batch *b, const char *table,
			 uint8_t nfproto, const uint8_t *addr, uint32_t alen,
			 uint16_t port, uint8_t flags)
{
	uint8_t tcp = IPPROTO_TCP;
	size_t l;

	port = htons(port);
	nlb_msg(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
	nlb_attr(b, NFTA_RULE_TABLE, table, strlen(table) + 1);
	nlb_attr(b, NFTA_RULE_CHAIN, "in", 3);
	l = nlb_nest(b, NFTA_RULE_EXPRESSIONS);
	nlb_match(b, -1, NFT_META_NFPROTO, &nfproto, 1);
	nlb_match(b, -1, NFT_META_L4PROTO, &tcp, 1);
	if (addr)
		nlb_match(b, NFT_PAYLOAD_NETWORK_HEADER, alen == 4 ? 16 : 24,
			  addr, alen);
	nlb_match(b, NFT_PAYLOAD_TRANSPORT_HEADER, 2, &port, 2);
	nlb_match(b, NFT_PAYLOAD_TRANSPORT_HEADER, 13, &flags, 1);
	nlb_drop(b);
	nlb_end(b, l);
}

/* Send a batch and wait for every ack; -errno of the first failure. */
static int nlb_send(struct nl_batch *b)
{
	struct sockaddr_nl a = { .nl_family = AF_NETLINK };
	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	unsigned acks = 0;
	int err = 0;

	nlb_msg(b, NFNL_MSG_BATCH_END, 0);
	if (s < 0)
		return -errno;
	if (sendto(s, b->buf, b->len, 0, (struct sockaddr *)&a, sizeof(a)) !=
	    (ssize_t)b->len) {
		err = -errno;
		close(s);
		return err;
	}
	while (acks < b->nmsg && !err) {
		uint8_t buf[8192];
		ssize_t n;

		if (poll(&(struct pollfd){ s, POLLIN, 0 }, 1, 5000) != 1 ||
		    (n = recv(s, buf, sizeof(buf), 0)) <= 0) {
			err = -ETIMEDOUT;
			break;
		}
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n))
			if (h->nlmsg_type == NLMSG_ERROR) {
				acks++;
				if (((struct nlmsgerr *)NLMSG_DATA(h))->error)
					err = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
			}
	}
	close(s);
	return err;
}

static void lock_name(char *buf, size_t len, uint64_t id)
{
	snprintf(buf, len, "cr_lock_%llx", (unsigned long long)id);
}

/* A lock table with its two chains, input and output. */
static void nlb_table(struct nl_batch *b, const char *table)
{
	size_t h;

	nlb_msg(b, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL);
	nlb_attr(b, NFTA_TABLE_NAME, table, strlen(table) + 1);
	for (int out = 0; out < 2; out++) {
		nlb_msg(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE);
		nlb_attr(b, NFTA_CHAIN_TABLE, table, strlen(table) + 1);
		nlb_attr(b, NFTA_CHAIN_NAME, out ? "out" : "in", out ? 4 : 3);
		nlb_attr(b, NFTA_CHAIN_TYPE, "filter", 7);
		h = nlb_nest(b, NFTA_CHAIN_HOOK);
		nlb_u32(b, NFTA_HOOK_HOOKNUM, out ? NF_INET_LOCAL_OUT
						  : NF_INET_LOCAL_IN);
		nlb_u32(b, NFTA_HOOK_PRIORITY, (uint32_t)-300);
		nlb_end(b, h);
	}
}

/* The rules of the dumped connections, both ways; false if none. */
static bool nlb_conn_rules(struct nl_batch *b, const char *table,
			   const struct image *im)
{
	bool any = false;

	for (size_t i = 0; i < im->nt; i++)
		for (size_t j = 0; j < im->t[i].nfds; j++) {
			const struct fd *d = &im->t[i].fds[j];

			if (d->f.kind == TLV_FD_INET &&
			    (d->sk->s.flags & TLV_SOCK_REPAIR)) {
				nlb_lock_rule(b, table, &d->sk->s, false);
				nlb_lock_rule(b, table, &d->sk->s, true);
				any = true;
			}
		}
	return any;
}

/*
 * --tcp-established, before the freeze: the listeners of the tree (their
 * sockets' inodes in /proc/PID/fd, found in /proc/PID/net/tcp*) stop
 * taking new connections.  A connection the kernel completes while the
 * tree is frozen would wait in the listener's queue, which cr cannot
 * restore (README); instead the client's SYN is dropped and sent again
 * until the restored listener answers.  net_lock adds the connections to
 * the same table.
 */
static bool sk_prelocked;

static void tree_pids(int pid, int **v, size_t *n)
{
	char path[64], *txt, *p, *save;
	DIR *d;
	struct dirent *e;

	*(int *)vec_add(v, n, sizeof(**v)) = pid;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if (!(d = opendir(path)))
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "task/%.16s/children", e->d_name);
		txt = proc_xread(pid, path, NULL);
		for (p = strtok_r(txt, " \n", &save); p;
		     p = strtok_r(NULL, " \n", &save))
			if (*n < 65536)
				tree_pids(atoi(p), v, n);
		free(txt);
	}
	closedir(d);
}

static void net_prelock(int root)
{
	static struct nl_batch b;
	char table[32], path[64], link[64], *txt, *line, *save;
	int *pids = NULL, err;
	size_t npids = 0, nino = 0;
	unsigned long *inos = NULL;
	bool any = false;

	tree_pids(root, &pids, &npids);
	for (size_t i = 0; i < npids; i++) {
		DIR *d;
		struct dirent *e;

		snprintf(path, sizeof(path), "/proc/%d/fd", pids[i]);
		if (!(d = opendir(path)))
			continue;
		while ((e = readdir(d))) {
			char fdp[300];
			unsigned long ino;
			ssize_t n;

			snprintf(fdp, sizeof(fdp), "%s/%.16s", path, e->d_name);
			n = readlink(fdp, link, sizeof(link) - 1);
			link[n > 0 ? n : 0] = 0;
			if (sscanf(link, "socket:[%lu]", &ino) == 1)
				*(unsigned long *)vec_add(&inos, &nino,
							  sizeof(*inos)) = ino;
		}
		closedir(d);
	}
	free(pids);
	sk_lock_new();
	lock_name(table, sizeof(table), sk_lock_id);
	b.len = b.nmsg = 0;
	nlb_msg(&b, NFNL_MSG_BATCH_BEGIN, 0);
	nlb_table(&b, table);
	for (int v6 = 0; v6 < 2; v6++) {
		txt = proc_xread(root, v6 ? "net/tcp6" : "net/tcp", NULL);
		for (line = strtok_r(txt, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			char hex[33];
			unsigned port, st, w[4];
			unsigned long ino;
			uint8_t a[16];
			bool found = false, zero;

			if (sscanf(line, " %*d: %32[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*s %*s %lu",
				   hex, &port, &st, &ino) != 4 || st != TCP_LISTEN)
				continue;
			for (size_t i = 0; i < nino && !found; i++)
				found = inos[i] == ino;
			if (!found)
				continue;
			for (int k = 0; k < (v6 ? 4 : 1); k++) {
				sscanf(hex + 8 * k, "%8x", &w[k]);
				memcpy(a + 4 * k, &w[k], 4);
			}
			zero = !memcmp(a, (uint8_t[16]){ 0 }, v6 ? 16 : 4);
			for (int f = 0; f < 2; f++) {	/* SYN, SYN+ECE+CWR */
				uint8_t fl = f ? 0xc2 : 0x02;

				if (!v6 || zero)	/* any: IPv4 too */
					nlb_syn_rule(&b, table, NFPROTO_IPV4,
						     zero ? NULL : a, 4, port, fl);
				if (v6)
					nlb_syn_rule(&b, table, NFPROTO_IPV6,
						     zero ? NULL : a, 16, port, fl);
			}
			any = true;
			info("no new connections to port %u while dumped", port);
		}
		free(txt);
	}
	free(inos);
	if (!any)
		return;
	sk_guard_start(NULL, 0);
	sk_guard_tell("l %llx\n", (unsigned long long)sk_lock_id);
	if ((err = nlb_send(&b))) {	/* a help, not a must: go on */
		info("listeners not locked: adding nftables table %s: %s",
		     table, strerror(-err));
		return;
	}
	undo_push(sk_release, NULL);
	sk_locked = sk_prelocked = true;
	info("listeners locked: nftables table inet %s", table);
}

/* Dump: drop what the peers of the dumped connections send, until restore. */
static void net_lock(const struct image *im)
{
	static struct nl_batch b;
	char table[32];
	int err;

	lock_name(table, sizeof(table), sk_lock_id);
	b.len = b.nmsg = 0;
	nlb_msg(&b, NFNL_MSG_BATCH_BEGIN, 0);
	if (!sk_prelocked)
		nlb_table(&b, table);
	if (!nlb_conn_rules(&b, table, im))
		return;
	fault("dump-lock");
	sk_guard_tell("l %llx\n", (unsigned long long)sk_lock_id);
	if ((err = nlb_send(&b)))
		die("network lock: adding nftables table %s: %s", table,
		    strerror(-err));
	sk_locked = true;	/* sk_release unlocks on failure */
	info("network locked: nftables table inet %s", table);
	/* a kill now closes each original with a RST, which the lock drops */
	for (size_t i = 0; i < nsk_held; i++)
		if (setsockopt(sk_held[i].fd, SOL_SOCKET, SO_LINGER,
			       &(struct linger){ 1, 0 }, sizeof(struct linger)))
			die_errno("network lock: SO_LINGER");
}

/*
 * After dump -R the listeners take connections again: the table is made
 * anew (in one transaction) with the connections' rules only, or goes.
 */
static void net_lock_listeners_off(const struct image *im)
{
	static struct nl_batch b;
	char table[32];
	int err;

	if (!sk_prelocked || !sk_locked)
		return;
	lock_name(table, sizeof(table), sk_lock_id);
	b.len = b.nmsg = 0;
	nlb_msg(&b, NFNL_MSG_BATCH_BEGIN, 0);
	nlb_msg(&b, NFT_MSG_DELTABLE, 0);
	nlb_attr(&b, NFTA_TABLE_NAME, table, strlen(table) + 1);
	nlb_table(&b, table);
	if (!nlb_conn_rules(&b, table, im)) {
		sk_locked = false;
		err = net_unlock(sk_lock_id);
	} else {
		err = nlb_send(&b);
	}
	if (err)
		die("network lock: remaking nftables table %s: %s", table,
		    strerror(-err));
}

/* The lock goes (if it is here); -errno if it could not. */
static int net_unlock(uint64_t id)
{
	static struct nl_batch b;
	char table[32];
	int err;

	lock_name(table, sizeof(table), id);
	b.len = b.nmsg = 0;
	nlb_msg(&b, NFNL_MSG_BATCH_BEGIN, 0);
	nlb_msg(&b, NFT_MSG_DELTABLE, 0);
	nlb_attr(&b, NFTA_TABLE_NAME, table, strlen(table) + 1);
	err = nlb_send(&b);
	if (!err)
		info("network unlocked: nftables table inet %s deleted", table);
	return err == -ENOENT ? 0 : err;
}

/* -- file locks and signal-driven I/O ------------------------------------- */

/*
 * File locks, from the fd's fdinfo "lock:" lines (as /proc/locks has them):
 *	lock:	1: POSIX  ADVISORY  WRITE 123 fe:00:4567 0 EOF
 * The kernel lists there the locks taken through this open file
 * description: flock and OFD locks belong to it, a POSIX lock to the
 * process that took it (the pid column), which may be another one sharing
 * the description (fork): that one lists it too, and takes it back.
 * Only with --file-locks; without, a lock is refused as CRIU does.
 */
static void col_locks(struct image *im, struct task *t, struct fd *d)
{
	char name[64], *s, *line, *save;
	int fd = d->f.fd;

	snprintf(name, sizeof(name), "fdinfo/%d", fd);
	s = proc_xread(t->proc.pid, name, NULL);
	for (line = strtok_r(s, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char kind[16], adv[16], type[16], end[32];
		long long pid, start;
		struct tlv_lock *l;

		if (strncmp(line, "lock:", 5))
			continue;
		if (sscanf(line, "lock: %*d: %15s %15s %15s %lld %*s %lld %31s",
			   kind, adv, type, &pid, &start, end) != 6 ||
		    strcmp(adv, "ADVISORY") ||
		    (strcmp(type, "READ") && strcmp(type, "WRITE")) ||
		    (strcmp(kind, "FLOCK") && strcmp(kind, "POSIX") &&
		     strcmp(kind, "OFDLCK"))) {
			refuse("fd %d: a file lock or lease cr cannot take again: %s",
			       fd, line + 6);
			continue;
		}
		if (!im->file_locks) {
			refuse("fd %d: holds a file lock (%s %s): dump with --file-locks to take it along",
			       fd, kind, type);
			continue;
		}
		if (!strcmp(kind, "POSIX") && pid != (long long)t->proc.pid)
			continue;	/* another process's, through a shared fd */
		if (d->f.kind != TLV_FD_REG && d->f.kind != TLV_FD_DIR &&
		    d->f.kind != TLV_FD_OBJ) {
			refuse("fd %d: a file lock on a pipe, device or kernel object: not supported",
			       fd);
			continue;
		}
		l = vec_add(&d->locks, &d->nlocks, sizeof(*l));
		l->kind = !strcmp(kind, "FLOCK") ? TLV_LOCK_FLOCK :
			  !strcmp(kind, "POSIX") ? TLV_LOCK_POSIX : TLV_LOCK_OFD;
		l->write = !strcmp(type, "WRITE");
		if (l->kind != TLV_LOCK_FLOCK) {
			l->start = start;
			if (strcmp(end, "EOF"))
				l->len = strtoull(end, NULL, 10) - start + 1;
		}
	}
	free(s);
}

/*
 * Signal-driven I/O: the owner (F_GETOWN_EX) and signal (F_GETSIG) of the
 * open file description, asked of cr's own copy of it (pidfd_getfd).
 * Closing that copy runs the file's ->flush (FUSE and NFS talk to their
 * server then): files on a filesystem are asked only when O_ASYNC is on.
 */
static void col_fown(struct task *t, struct fd *d)
{
	struct f_owner_ex o = { 0 };
	int f, sig;

	if (d->f.kind == TLV_FD_STDIO || (d->f.flags & O_PATH) ||
	    (d->f.kind == TLV_FD_TTY && !d->f.obj))
		return;		/* the shell's; or no file to signal about */
	if ((d->f.kind == TLV_FD_REG || d->f.kind == TLV_FD_DIR ||
	     d->f.kind == TLV_FD_CHR || d->f.kind == TLV_FD_OBJ) &&
	    !(d->f.flags & O_ASYNC))
		return;
	f = pidfd_take(t->proc.pid, d->f.fd);
	if (f < 0) {
		info("fd %llu: no SIGIO owner: pidfd_getfd: %s",
		     (unsigned long long)d->f.fd, strerror(errno));
		return;
	}
	sig = fcntl(f, F_GETSIG);
	if (fcntl(f, F_GETOWN_EX, &o) || sig < 0)
		die_errno("fd %llu: F_GETOWN_EX", (unsigned long long)d->f.fd);
	close(f);
	if (o.pid || sig)
		d->own = (struct tlv_fown){ o.type, o.pid, sig };
}

/* The F_SETOWN_EX owner must be a thread, process or group of the image. */
static bool fown_in_image(const struct image *im, const struct tlv_fown *o)
{
	if (!o->pid)
		return true;
	for (size_t i = 0; i < im->nt; i++) {
		const struct task *t = &im->t[i];

		if ((o->type == F_OWNER_PID && o->pid == t->proc.pid) ||
		    (o->type == F_OWNER_PGRP && o->pid == t->proc.pgid))
			return !task_zombie(t) || o->type == F_OWNER_PGRP;
		for (size_t k = 0; o->type == F_OWNER_TID && k < t->nth; k++)
			if (t->th[k].t.tid == o->pid)
				return true;
	}
	return false;
}

static void col_check_fown(const struct image *im)
{
	for (size_t i = 0; i < im->nt; i++)
		for (size_t k = 0; k < im->t[i].nfds; k++)
			if (!fown_in_image(im, &im->t[i].fds[k].own)) {
				ctx.pid = im->t[i].proc.pid;
				refuse("fd %llu: sends SIGIO to %s %llu, outside the tree: not supported",
				       (unsigned long long)im->t[i].fds[k].f.fd,
				       im->t[i].fds[k].own.type == F_OWNER_PGRP ?
				       "process group" : "pid",
				       (unsigned long long)im->t[i].fds[k].own.pid);
			}
	ctx.pid = 0;
}

/*
 * ---- unix sockets ----
 * What the kernel knows about every unix socket of this network namespace
 * comes from sock_diag (NETLINK_SOCK_DIAG, unix_diag, asked by hand): inode,
 * type, state, bound name and file, peer inode, the clients of the
 * connections waiting in a listener's queue (not accepted yet), queue
 * lengths, shutdown.  A peer is found by inode: in the image, gone (closed:
 * the socket stays connected to nothing), or outside the tree (refused but
 * for datagrams with --ext-unix-sk, reconnected by name at restore).
 * The socket itself is taken into cr with pidfd_getfd for its options and
 * its queued data, read with MSG_PEEK from offset 0 (SO_PEEK_OFF, put back
 * afterwards), one message at a time for datagram and seqpacket.
 */
#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD	76
#endif
#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS	83	/* 6.16+ */
#endif
#define USK_MAX_MSG	(8u << 20)	/* largest datagram cr reads */

struct udiag {			/* one socket as unix_diag shows it */
	uint64_t ino, peer, vfs_ino, vfs_dev;
	uint32_t rq, wq, *icons;
	size_t nicons, namelen;
	uint8_t type, state, shut, name[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static struct udiag *udiags;
static size_t nudiags;

static void udiag_msg(const struct nlmsghdr *h)
{
	const struct unix_diag_msg *m = NLMSG_DATA(h);
	const uint8_t *p = (const uint8_t *)(m + 1), *end = (const uint8_t *)h + h->nlmsg_len;
	struct udiag *u;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		die("sock_diag: short message");
	u = vec_add(&udiags, &nudiags, sizeof(*u));
	u->ino = m->udiag_ino;
	u->type = m->udiag_type;
	u->state = m->udiag_state;
	while (p + sizeof(struct nlattr) <= end) {
		const struct nlattr *a = (const void *)p;
		const uint8_t *v = p + NLA_HDRLEN;
		size_t n = a->nla_len - NLA_HDRLEN;

		if (a->nla_len < NLA_HDRLEN || p + a->nla_len > end)
			break;
		switch (a->nla_type) {
		case UNIX_DIAG_NAME:
			u->namelen = n < sizeof(u->name) ? n : sizeof(u->name);
			memcpy(u->name, v, u->namelen);
			break;
		case UNIX_DIAG_VFS:
			if (n >= sizeof(struct unix_diag_vfs)) {
				const struct unix_diag_vfs *f = (const void *)v;

				u->vfs_ino = f->udiag_vfs_ino;
				u->vfs_dev = f->udiag_vfs_dev;
			}
			break;
		case UNIX_DIAG_PEER:
			if (n >= 4)
				u->peer = *(const uint32_t *)v;
			break;
		case UNIX_DIAG_ICONS:
			u->nicons = n / 4;
			u->icons = xmalloc(n + 1);
			memcpy(u->icons, v, u->nicons * 4);
			break;
		case UNIX_DIAG_RQLEN:
			if (n >= sizeof(struct unix_diag_rqlen)) {
				const struct unix_diag_rqlen *q = (const void *)v;

				u->rq = q->udiag_rqueue;
				u->wq = q->udiag_wqueue;
			}
			break;
		case UNIX_DIAG_SHUTDOWN:
			if (n >= 1)
				u->shut = *v;
			break;
		}
		p += NLA_ALIGN(a->nla_len);
	}
}

/* A sock_diag socket that was asked for all unix sockets; -1 on failure. */
static int udiag_ask(uint32_t show)
{
	struct {
		struct nlmsghdr h;
		struct unix_diag_req r;
	} req = {
		.h = { sizeof(req), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, 0 },
		.r = { .sdiag_family = AF_UNIX, .udiag_states = ~0u, .udiag_show = show },
	};
	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

	if (s >= 0 && send(s, &req, sizeof(req), 0) != sizeof(req)) {
		close(s);
		s = -1;
	}
	return s;
}

/* Every unix socket of cr's network namespace, once per run. */
static void udiag_load(void)
{
	static uint32_t buf[8192];
	bool done = false;
	int s;

	for (size_t i = 0; i < nudiags; i++)
		free(udiags[i].icons);
	free(udiags);
	udiags = NULL;
	nudiags = 0;
	s = udiag_ask(UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_PEER |
		      UDIAG_SHOW_ICONS | UDIAG_SHOW_RQLEN);
	if (s < 0)
		die_errno("sock_diag (unix sockets)");
	while (!done) {
		ssize_t n = recv(s, buf, sizeof(buf), 0);
		const struct nlmsghdr *h = (const void *)buf;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die_errno("reading sock_diag");
		for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				errno = -e->error;
				die_errno("sock_diag (unix sockets)");
			}
			udiag_msg(h);
		}
	}
	close(s);
}

static const struct udiag *udiag_find(uint64_t ino)
{
	for (size_t i = 0; i < nudiags; i++)
		if (udiags[i].ino == ino)
			return &udiags[i];
	return NULL;
}

/* A socket address for a name: its length for bind/connect. */
static socklen_t usk_addr(struct sockaddr_un *a, const uint8_t *name, size_t len)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path, name, len);
	return offsetof(struct sockaddr_un, sun_path) + len;
}

/* A name for messages: "/run/x.sock" or "@abstract". */
static const char *usk_name_str(const uint8_t *name, size_t len)
{
	static char s[sizeof(((struct sockaddr_un *)0)->sun_path) + 2];

	if (!len)
		return "(unnamed)";
	snprintf(s, sizeof(s), "%s%.*s", name[0] ? "" : "@",
		 (int)(len - !name[0] - (name[len - 1] == 0 && name[0])),
		 (const char *)name + !name[0]);
	return s;
}

/* Is the file at path the socket's bound inode? */
static bool usk_file_is(const char *path, const struct udiag *g, struct stat *sb)
{
	return !stat(path, sb) && S_ISSOCK(sb->st_mode) && sb->st_ino == g->vfs_ino &&
	       ((uint64_t)major(sb->st_dev) << 20 | minor(sb->st_dev)) == g->vfs_dev;
}

/* The bound name; a path name's file, mode and owner. */
static void col_usk_name(const struct task *t, struct usk *k, const struct udiag *g,
			 int fd)
{
	char path[PATH_MAX + sizeof(g->name) + 2];
	struct stat sb;

	k->namelen = g->namelen;
	k->name = xmalloc(g->namelen + 1);
	memcpy(k->name, g->name, g->namelen);
	if (!g->namelen || !g->name[0])
		return;		/* unnamed, or abstract */
	if (g->name[0] == '/') {
		snprintf(path, sizeof(path), "%.*s", (int)g->namelen, (const char *)g->name);
	} else {
		snprintf(path, sizeof(path), "%s/%.*s", t->cwd, (int)g->namelen,
			 (const char *)g->name);
		k->dir = xstrdup(t->cwd);
	}
	if (usk_file_is(path, g, &sb)) {
		k->u.mode = sb.st_mode & 07777;
		k->u.uid = sb.st_uid;
		k->u.gid = sb.st_gid;
	} else if (k->dir) {
		refuse("fd %d: unix socket bound to relative path \"%s\", not found from the working directory %s",
		       fd, usk_name_str(k->name, k->namelen), t->cwd);
	} else {
		k->u.flags |= TLV_USK_F_DELETED;	/* rebind, then unlink */
		k->u.mode = 0777 & ~t->proc.umask;
	}
}

/* An int option; def if this kernel does not have it. */
static int usk_getopt_or(int s, int opt, int def)
{
	int v = 0;
	socklen_t l = sizeof(v);

	if (getsockopt(s, SOL_SOCKET, opt, &v, &l))
		return def;
	return v;
}

static int usk_getopt(int s, int opt)
{
	return usk_getopt_or(s, opt, 0);
}

static uint64_t usk_gettimeo(int s, int opt)
{
	struct timeval tv = { 0 };
	socklen_t l = sizeof(tv);

	if (getsockopt(s, SOL_SOCKET, opt, &tv, &l))
		die_errno("getsockopt of a unix socket");
	return tv.tv_sec * 1000000ULL + tv.tv_usec;
}

/*
 * The queue, read without consuming it: with SO_PEEK_OFF at 0 every
 * MSG_PEEK starts where the last one ended (a whole message each for
 * datagram and seqpacket).  A message carrying descriptors (SCM_RIGHTS)
 * is refused: cr would have to restore files in flight.
 */
static void col_usk_queue(struct usk *k, int s, int fd)
{
	int off = usk_getopt(s, SO_PEEK_OFF), zero = 0, err = 0;
	uint8_t *buf = mmap(NULL, USK_MAX_MSG, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	const char *why = NULL;	/* a refusal, told once SO_PEEK_OFF is back */
	struct buf q = { 0 }, senders = { 0 };

	if (buf == MAP_FAILED)
		die_errno("a buffer for socket data");
	if (setsockopt(s, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)))
		die_errno("fd %d: SO_PEEK_OFF", fd);
	while (!why && !err) {
		union {
			struct cmsghdr h;
			uint8_t b[CMSG_SPACE(64 * sizeof(int))];
		} c;
		struct iovec iov = { buf, USK_MAX_MSG };
		struct sockaddr_un from;
		struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof(from),
				    .msg_iov = &iov, .msg_iovlen = 1,
				    .msg_control = &c, .msg_controllen = sizeof(c) };
		bool fds = false;
		ssize_t n = recvmsg(s, &m, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			err = errno;
			break;
		}
		for (size_t at = 0; at + sizeof(struct cmsghdr) <= m.msg_controllen;
		     at += CMSG_ALIGN(((struct cmsghdr *)(c.b + at))->cmsg_len)) {
			struct cmsghdr *h = (struct cmsghdr *)(c.b + at);

			if (h->cmsg_len < sizeof(*h) || at + h->cmsg_len > m.msg_controllen)
				break;
			if (h->cmsg_level != SOL_SOCKET || (h->cmsg_type != SCM_RIGHTS &&
							    h->cmsg_type != 0x4f /* SCM_PIDFD */))
				continue;
			fds |= h->cmsg_type == SCM_RIGHTS;
			for (size_t i = 0; i < (h->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
				close(((int *)CMSG_DATA(h))[i]);
		}
		if (fds || (m.msg_flags & MSG_CTRUNC))
			why = "descriptors in flight (SCM_RIGHTS) in its queue";
		else if (m.msg_flags & MSG_TRUNC)
			why = "a message too large to read";
		else if (q.len + n > MAX_META / 2)
			why = "too much data queued";
		if (why || (k->u.type != SOCK_DGRAM && !n &&
			    (k->u.type == SOCK_STREAM || q.len >= k->len)))
			break;	/* (0: end of data of a shut down socket) */
		buf_put(&q, buf, n);
		if (k->u.type != SOCK_STREAM) {
			struct tlv_usk_msg *g = vec_add(&k->msgs, &k->nmsgs,
							sizeof(*k->msgs));

			g->len = n;
			if (k->u.type == SOCK_DGRAM &&
			    m.msg_namelen > offsetof(struct sockaddr_un, sun_path) &&
			    m.msg_namelen <= sizeof(from)) {
				g->from = m.msg_namelen - offsetof(struct sockaddr_un, sun_path);
				buf_put(&senders, from.sun_path, g->from);
			}
		}
	}
	munmap(buf, USK_MAX_MSG);
	if (setsockopt(s, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off)))
		die_errno("fd %d: putting SO_PEEK_OFF back", fd);
	errno = err;
	if (err)
		die_errno("fd %d: peeking at a unix socket's queue", fd);
	if (why)
		refuse("fd %d: unix socket with %s: not supported", fd, why);
	k->data = q.p;
	k->len = q.len;
	k->from = senders.p;
	k->fromlen = senders.len;
}

/* A socket filter: a classic one is kept, an eBPF one refused. */
static void col_usk_filter(struct usk *k, int s, int fd)
{
	socklen_t n = 0;

	if (getsockopt(s, SOL_SOCKET, SO_GET_FILTER, NULL, &n)) {
		if (errno == EACCES)
			refuse("fd %d: unix socket with an eBPF socket filter: not supported",
			       fd);
		return;
	}
	if (!n)
		return;
	k->filterlen = n * sizeof(struct sock_filter);
	k->filter = xmalloc(k->filterlen);
	if (getsockopt(s, SOL_SOCKET, SO_GET_FILTER, k->filter, &n) ||
	    n * sizeof(struct sock_filter) != k->filterlen)
		die_errno("fd %d: reading a socket filter", fd);
	if (usk_getopt(s, SO_LOCK_FILTER))
		k->u.flags |= TLV_USK_F_LOCKFILTER;
}

/* A socket fd: false if it is not a unix socket (the caller refuses). */
static bool col_usk(struct image *im, struct task *t, struct fd *d,
		    const struct stat *sb)
{
	int fd = d->f.fd, pfd, s;
	const struct udiag *g;
	struct usk *k;
	char name[32], *fi;

	for (size_t i = 0; i < im->nusks; i++)
		if (im->usks[i].ino == sb->st_ino) {
			d->f.kind = TLV_FD_UNIX;
			d->f.obj = im->usks[i].u.id;
			return true;
		}
	if (!udiags)
		udiag_load();
	if (!(g = udiag_find(sb->st_ino)))
		return false;
	if (g->type != SOCK_STREAM && g->type != SOCK_DGRAM &&
	    g->type != SOCK_SEQPACKET) {
		refuse("fd %d: unix socket of type %u: not supported", fd, g->type);
		return true;
	}
	k = vec_add(&im->usks, &im->nusks, sizeof(*k));
	k->u.id = im->nusks;
	k->u.type = g->type;
	k->ino = g->ino;
	k->peer_ino = g->peer;
	k->u.shutdown = g->shut & 3;
	/*
	 * A peer closed (or an embryo) shows as inode 0, the state staying
	 * TCP_ESTABLISHED.  A datagram socket is also marked so when another
	 * connects to it: only an unnamed one (a socketpair's) is surely
	 * connected.
	 */
	k->u.state = g->state == 10 /* TCP_LISTEN */ ? TLV_USK_LISTEN :
		     g->peer || (g->state == 1 /* TCP_ESTABLISHED */ &&
				 (g->type != SOCK_DGRAM || !g->namelen)) ?
		     TLV_USK_CONN : TLV_USK_UNCONN;
	k->wq = g->wq;
	if (k->u.state == TLV_USK_LISTEN)
		k->u.backlog = g->wq;
	d->f.kind = TLV_FD_UNIX;
	d->f.obj = k->u.id;
	col_usk_name(t, k, g, fd);
	snprintf(name, sizeof(name), "fdinfo/%d", fd);
	fi = proc_xread(t->proc.pid, name, NULL);
	if (proc_field(fi, "scm_fds") && proc_field_u64(fi, "scm_fds", 10, name))
		refuse("fd %d: unix socket with descriptors in flight (SCM_RIGHTS) in its queue: not supported",
		       fd);
	free(fi);
	pfd = syscall(SYS_pidfd_open, t->proc.pid, 0);
	s = pfd < 0 ? -1 : syscall(SYS_pidfd_getfd, pfd, fd, 0);
	if (s < 0)
		die_errno("fd %d: taking the unix socket into cr (pidfd_getfd)", fd);
	close(pfd);
	k->u.flags |= (usk_getopt(s, SO_PASSCRED) ? TLV_USK_F_PASSCRED : 0) |
		      (usk_getopt(s, SO_PASSSEC) ? TLV_USK_F_PASSSEC : 0) |
		      (usk_getopt(s, SO_PASSPIDFD) ? TLV_USK_F_PASSPIDFD : 0) |
		      (usk_getopt_or(s, SO_PASSRIGHTS, 1) ? 0 : TLV_USK_F_NORIGHTS);
	k->u.rcvlowat = usk_getopt(s, SO_RCVLOWAT);
	col_usk_filter(k, s, fd);
	k->u.rcvbuf = usk_getopt(s, SO_RCVBUF);
	k->u.sndbuf = usk_getopt(s, SO_SNDBUF);
	k->u.peek_off = (uint64_t)(int64_t)usk_getopt(s, SO_PEEK_OFF);
	k->u.rcvtimeo_us = usk_gettimeo(s, SO_RCVTIMEO);
	k->u.sndtimeo_us = usk_gettimeo(s, SO_SNDTIMEO);
	if (k->u.state != TLV_USK_LISTEN) {
		char oob;

		if (k->u.type == SOCK_STREAM &&
		    recv(s, &oob, 1, MSG_OOB | MSG_PEEK | MSG_DONTWAIT) == 1)
			refuse("fd %d: unix socket with an out-of-band byte (MSG_OOB) pending: not supported",
			       fd);
		k->len = g->rq;	/* seqpacket: where the data ends */
		col_usk_queue(k, s, fd);
	}
	close(s);
	return true;
}

static struct usk *usk_by_ino(const struct image *im, uint64_t ino)
{
	for (size_t i = 0; i < im->nusks; i++)
		if (im->usks[i].ino == ino)
			return &im->usks[i];
	return NULL;
}

/* The fd of the tree a socket is, for messages. */
static unsigned long long usk_fd(const struct image *im, const struct usk *k)
{
	for (size_t i = 0; i < im->nt; i++)
		for (size_t j = 0; j < im->t[i].nfds; j++)
			if (im->t[i].fds[j].f.kind == TLV_FD_UNIX &&
			    im->t[i].fds[j].f.obj == k->u.id) {
				ctx.pid = im->t[i].proc.pid;
				return im->t[i].fds[j].f.fd;
			}
	return ~0ULL;
}

/*
 * A listener's queue.  An embryo (the socket accept will return) has no
 * inode yet: unix_diag names each by its client's inode instead (0 once
 * the client closed), and the client shows as connected to inode 0.
 * What a client sent is still charged to it (its write queue length).
 */
static void col_usk_icons(struct image *im, struct usk *l, const struct udiag *g)
{
	for (size_t j = 0; j < g->nicons; j++) {
		struct tlv_usk_icon *c = vec_add(&l->icons, &l->nicons, sizeof(*c));
		struct usk *cl = g->icons[j] ? usk_by_ino(im, g->icons[j]) : NULL;

		if (!cl) {
			refuse("fd %llu: unix socket %s has a connection not accepted yet from %s: not supported",
			       usk_fd(im, l), usk_name_str(l->name, l->namelen),
			       g->icons[j] ? "a socket outside the dumped tree" :
			       "a socket closed since (its data cannot be read)");
			continue;
		}
		if (cl->wq)
			refuse("fd %llu: unix socket %s has a connection not accepted yet with data queued: not supported",
			       usk_fd(im, l), usk_name_str(l->name, l->namelen));
		c->client = cl->u.id;
		cl->u.peer_kind = TLV_USK_PEER_QUEUED;
		cl->u.listener = l->u.id;
	}
}

/* A connected socket's peer is outside the tree. */
static void col_usk_ext(struct image *im, struct usk *k, const struct udiag *p)
{
	unsigned long long fd = usk_fd(im, k);

	if (!im->ext_unix)
		refuse("fd %llu: unix socket connected to a unix socket outside the dumped tree (%s, inode %llu): dump with --ext-unix-sk to allow it",
		       fd, usk_name_str(p->name, p->namelen), (unsigned long long)p->ino);
	else if (k->u.type != SOCK_DGRAM || !p->namelen)
		refuse("fd %llu: unix %s socket connected to a%s socket outside the dumped tree (inode %llu): not supported even with --ext-unix-sk",
		       fd, k->u.type == SOCK_DGRAM ? "datagram" : "stream or seqpacket",
		       p->namelen ? "" : "n unnamed", (unsigned long long)p->ino);
	k->u.peer_kind = TLV_USK_PEER_EXT;
	k->pnamelen = p->namelen;
	k->pname = xmalloc(p->namelen + 1);
	memcpy(k->pname, p->name, p->namelen);
}

/*
 * Once every fd is collected: peers by inode, listeners' queues, and the
 * sockets accepted from a listener of the image (they share its name and
 * are rebuilt by connecting through it).
 */
static void col_usks_link(struct image *im)
{
	for (size_t i = 0; i < im->nusks; i++) {
		const struct udiag *g = udiag_find(im->usks[i].ino);

		if (im->usks[i].u.state == TLV_USK_LISTEN && g)
			col_usk_icons(im, &im->usks[i], g);
	}
	for (size_t i = 0; i < im->nusks; i++) {
		struct usk *k = &im->usks[i], *p;
		const struct udiag *pg;

		if (k->u.state != TLV_USK_CONN || k->u.peer_kind)
			continue;
		if ((p = usk_by_ino(im, k->peer_ino))) {
			k->u.peer_kind = TLV_USK_PEER_TREE;
			k->u.peer = p->u.id;
		} else if (k->peer_ino && (pg = udiag_find(k->peer_ino))) {
			col_usk_ext(im, k, pg);
		} else {	/* the peer was closed, or waits in a queue outside */
			k->u.peer_kind = TLV_USK_PEER_DEAD;
			for (size_t j = 0; j < nudiags; j++)
				for (size_t c = 0; c < udiags[j].nicons; c++)
					if (udiags[j].icons[c] == k->ino)
						refuse("fd %llu: unix socket waits to be accepted by %s outside the dumped tree: not supported",
						       usk_fd(im, k), usk_name_str(udiags[j].name,
										   udiags[j].namelen));
		}
	}
	for (size_t i = 0; i < im->nusks; i++) {
		struct usk *k = &im->usks[i];
		bool mutual = k->u.peer_kind == TLV_USK_PEER_TREE &&
			      im->usks[k->u.peer - 1].u.peer == k->u.id, shared = false;

		if (k->u.type != SOCK_DGRAM && k->u.peer_kind == TLV_USK_PEER_TREE &&
		    !mutual)
			refuse("fd %llu: unix socket connected one way only: not supported",
			       usk_fd(im, k));
		if (k->u.type == SOCK_DGRAM && k->u.peer_kind == TLV_USK_PEER_TREE &&
		    !mutual && !im->usks[k->u.peer - 1].namelen)
			refuse("fd %llu: unix datagram socket connected to an unnamed socket it is not paired with: not supported",
			       usk_fd(im, k));
		if (k->u.type == SOCK_DGRAM && k->len && !k->namelen && !mutual &&
		    k->u.peer_kind != TLV_USK_PEER_DEAD)
			refuse("fd %llu: unnamed unix datagram socket holds messages from a sender cr cannot stand in for: not supported",
			       usk_fd(im, k));
		if (k->u.state != TLV_USK_CONN || k->u.type == SOCK_DGRAM ||
		    !k->namelen)
			continue;
		/*
		 * A connected stream socket shares its name with others only
		 * when accepted: through a listener of the image it is made
		 * so again; else (its listener closed, or outside) unnamed.
		 */
		for (size_t j = 0; j < nudiags; j++) {
			const struct udiag *l = &udiags[j];
			struct usk *lk;

			if (l->ino == k->ino || l->namelen != k->namelen ||
			    memcmp(l->name, k->name, k->namelen))
				continue;
			shared = true;
			if (l->state == 10 && mutual && (lk = usk_by_ino(im, l->ino)))
				k->u.listener = lk->u.id;
		}
		if (shared && !k->u.listener) {
			info("fd %llu: unix socket accepted from %s, whose listener is not in the tree: restored unnamed",
			     usk_fd(im, k), usk_name_str(k->name, k->namelen));
			free(k->dir);
			k->dir = NULL;
			k->namelen = 0;
			k->u.flags &= ~TLV_USK_F_DELETED;
			k->u.mode = k->u.uid = k->u.gid = 0;
		}
	}
	ctx.pid = 0;
}

static void col_fd(struct image *im, struct task *t, int fd, bool shell_job)
{
	int pid = t->proc.pid;
	char path[PATH_MAX], name[32];
	const char *anon;
	struct stat sb;
	struct fd *d;
	uint64_t k;
	char *link;

	snprintf(name, sizeof(name), "fd/%d", fd);
	link = proc_link(pid, name);
	if (stat(proc_path(path, pid, name), &sb))
		die_errno("fd %d: stat %s", fd, path);
	d = vec_add(&t->fds, &t->nfds, sizeof(*d));
	d->f.fd = fd;
	d->f.flags = col_fdinfo(pid, fd, "flags", 8);
	d->f.cloexec = !!(d->f.flags & O_CLOEXEC);
	d->f.flags &= ~O_CLOEXEC;
	d->f.pos = col_fdinfo(pid, fd, "pos", 10);
	d->dev = sb.st_dev, d->ino = sb.st_ino;
	fstat_to_tlv(&sb, &d->st);
	if (link[0] == '/' && ends_with(link, " (deleted)") && !sb.st_nlink) {
		d->f.kind = TLV_FD_OBJ;
		d->f.obj = col_fobj(im, path, link, im->ghost_limit)->s.id;
	} else if (link[0] == '/' && (S_ISREG(sb.st_mode) ||
		   ((d->f.flags & O_PATH) && !S_ISDIR(sb.st_mode)))) {
		/* O_PATH on a symlink, FIFO, socket or device: only the
		 * inode is referred to, reopened by path as a file */
		d->f.kind = TLV_FD_REG;
	} else if (link[0] == '/' && S_ISDIR(sb.st_mode)) {
		d->f.kind = TLV_FD_DIR;
	} else if (link[0] == '/' && S_ISCHR(sb.st_mode) &&
		   chr_supported(sb.st_rdev)) {
		d->f.kind = TLV_FD_CHR;
	} else if ((S_ISCHR(sb.st_mode) || S_ISFIFO(sb.st_mode)) &&
		   (k = col_stdio(im, t, fd, &sb, shell_job)) < 3) {
		d->f.kind = TLV_FD_STDIO;
		d->f.obj = k;
	} else if (col_tty_fd(im, t, d, link, &sb, shell_job)) {
		/* a terminal: section 5a */
	} else if (S_ISFIFO(sb.st_mode)) {
		if (d->f.flags & O_DIRECT)
			refuse("fd %d: packet-mode pipe (O_DIRECT): not supported yet",
			       fd);
		d->f.kind = strncmp(link, "pipe:", 5) ? TLV_FD_FIFO : TLV_FD_PIPE;
		d->f.obj = col_pipe(im, pid, fd, sb.st_dev, sb.st_ino, link)->p.id;
	} else if ((anon = anon_kind(link))) {
		col_anon_fd(t, d, anon);
	} else if (S_ISSOCK(sb.st_mode) && !strncmp(link, "socket:", 7) &&
		   col_usk(im, t, d, &sb)) {
		if (!d->f.kind) {	/* refused */
			t->nfds--;
			free(link);
			return;
		}
	} else if (S_ISSOCK(sb.st_mode) && col_socket(im, t, d)) {
		if (!d->f.kind) {	/* refused */
			t->nfds--;
			free(link);
			return;
		}
	} else if (fd <= 2 && t->parent < 0 && S_ISCHR(sb.st_mode)) {
		refuse("fd %d: %s (%s) is outside the process: dump with --shell-job to hand it over at restore",
		       fd, link, fd_kind_name(link, &sb));
		t->nfds--;
		return;
	} else {
		refuse("fd %d: unsupported fd type \"%s\" (%s)", fd,
		       fd_kind_name(link, &sb), link);
		t->nfds--;
		return;
	}
	if (d->f.kind != TLV_FD_REG && d->f.kind != TLV_FD_DIR &&
	    d->f.kind != TLV_FD_OBJ)
		d->f.pos = 0;
	if (d->f.kind == TLV_FD_REG || d->f.kind == TLV_FD_DIR ||
	    d->f.kind == TLV_FD_CHR || d->f.kind == TLV_FD_FIFO ||
	    d->f.kind == TLV_FD_TTY)
		d->path = link;
	else
		free(link);
	col_locks(im, t, d);
	col_fown(t, d);
}

static void col_fds(struct image *im, struct task *t, bool shell_job)
{
	uint64_t *fds;
	size_t n = proc_list(t->proc.pid, "fd", &fds);

	for (size_t i = 0; i < n; i++)
		if (!trk_is_tracker(im, t->proc.pid, fds[i]))
			col_fd(im, t, fds[i], shell_job);
	free(fds);
}

/* kcmp(2): 0 if the two objects are the same, else non-zero. */
static long kcmp_obj(int pid1, int pid2, int type, long a, long b);

/* -- across fds: epoll targets, shared open files and tables -------------- */

/*
 * An epoll registration names a file by the fd it was added with; after
 * a close (or a reuse of the number) it names nothing restore could add.
 */
static void col_check_epoll(const struct task *t)
{
	for (size_t i = 0; i < t->nfds; i++) {
		const struct fd *d = &t->fds[i];

		for (size_t k = 0; d->f.kind == TLV_FD_EPOLL && k < d->nepoll; k++) {
			struct { uint32_t efd, tfd, toff; } slot = {
				d->f.fd, d->epoll[k].tfd, 0 };
			size_t j = 0;

			while (j < t->nfds && t->fds[j].f.fd != d->epoll[k].tfd)
				j++;
			if (j == t->nfds || syscall(SYS_kcmp, t->proc.pid,
						    t->proc.pid, 7 /* KCMP_EPOLL_TFD */,
						    (long)d->epoll[k].tfd, &slot))
				refuse("fd %llu: epoll watches fd %llu, which was closed or replaced since: not supported",
				    (unsigned long long)d->f.fd,
				    (unsigned long long)d->epoll[k].tfd);
		}
	}
}

/* kcmp(2): 0 if the two objects are the same, else non-zero. */
static long kcmp_obj(int pid1, int pid2, int type, long a, long b)
{
	long r = syscall(SYS_kcmp, pid1, pid2, type, a, b);

	if (r < 0)
		die_errno("kcmp between pids %d and %d", pid1, pid2);
	return r;
}

/*
 * fds made by dup() or inherited by fork share one open file description
 * (offset, flags): number them, the same number for the same description,
 * found with kcmp(KCMP_FILE) among fds on the same file.
 */
static void col_ofds(struct image *im)
{
	for (size_t i = 0; i < im->nt; i++)
		for (size_t k = 0; k < im->t[i].nfds; k++) {
			struct fd *d = &im->t[i].fds[k];

			for (size_t j = 0; j <= i && !d->f.ofd; j++)
				for (size_t l = 0; l < im->t[j].nfds; l++) {
					struct fd *e = &im->t[j].fds[l];

					if (e == d)
						break;
					if (!e->f.ofd || e->dev != d->dev ||
					    e->ino != d->ino ||
					    kcmp_obj(im->t[j].proc.pid,
						     im->t[i].proc.pid,
						     0 /* KCMP_FILE */,
						     e->f.fd, d->f.fd))
						continue;
					d->f.ofd = e->f.ofd;
					break;
				}
			if (!d->f.ofd)
				d->f.ofd = ++im->nofds;
			else if (d->f.kind == TLV_FD_EPOLL)
				for (size_t j = 0; j < i; j++)
					for (size_t l = 0; l < im->t[j].nfds; l++)
						if (im->t[j].fds[l].f.ofd == d->f.ofd)
							refuse("fd %llu: an epoll instance shared with pid %llu: not supported yet",
							       (unsigned long long)d->f.fd,
							       (unsigned long long)im->t[j].proc.pid);
		}
}

/*
 * Processes that share what clone() lets them share without being
 * threads: an fd table (CLONE_FILES) or a cwd/root/umask (CLONE_FS) is
 * rebuilt by cloning with the flag, so each process sharing one must share
 * it with its parent (the process that cloned it, or one that shares it
 * too); memory and signal handlers (CLONE_VM, CLONE_SIGHAND, as vfork()
 * children have until they exec) are refused.  kcmp() orders the objects,
 * so sorting the processes by it puts the sharers side by side.
 */
static const struct image *share_im;
static int share_type;

static int cmp_shared(const void *a, const void *b)
{
	long r = kcmp_obj(share_im->t[*(const size_t *)a].proc.pid,
			  share_im->t[*(const size_t *)b].proc.pid, share_type,
			  0, 0);

	if (r < 0 || r > 2)
		die_errno("kcmp");
	return r == 0 ? 0 : r == 1 ? -1 : 1;
}

static void col_clone_sharing(struct image *im)
{
	static const struct { int type; const char *what; } k[] = {
		{ 1, "memory (CLONE_VM)" }, { 2, "fd table (CLONE_FILES)" },
		{ 3, "filesystem info (CLONE_FS)" },
		{ 4, "signal handlers (CLONE_SIGHAND)" },
	};
	size_t *ix = xmalloc(im->nt * sizeof(*ix)), n = 0;

	for (size_t i = 0; i < im->nt; i++)
		if (!task_zombie(&im->t[i]))
			ix[n++] = i;
	share_im = im;
	for (size_t j = 0; j < ARRAY_SIZE(k); j++) {
		share_type = k[j].type;
		xsort(ix, n, sizeof(*ix), cmp_shared);
		for (size_t a = 0, b; a < n; a = b) {
			for (b = a + 1; b < n && !cmp_shared(&ix[a], &ix[b]); b++)
				;
			for (size_t m = a, tops = 0; m < b && b - a > 1; m++) {
				struct task *t = &im->t[ix[m]];
				bool with_parent = false;

				for (size_t q = a; q < b; q++)
					with_parent |= (long)ix[q] == t->parent;
				if (!with_parent && !tops++)
					continue;	/* the one that shares first */
				ctx.pid = t->proc.pid;
				if (j == 0 || j == 3 || !with_parent)
					refuse("shares one %s with pid %llu without being its thread%s: not supported",
					    k[j].what,
					    (unsigned long long)im->t[ix[m == a ? a + 1 : a]].proc.pid,
					    with_parent ? "" : " or its child");
				else if (j == 1)
					t->share.files = 1;
				else if (strcmp(t->root, "/"))
					refuse("shares its filesystem info (CLONE_FS) under a changed root %s: not supported",
					    t->root);
				else
					t->share.fs = 1;
			}
		}
	}
	ctx.pid = 0;
	free(ix);
}

/* Pending signals of the thread (private) or process (shared). */
static void col_siginfo(struct thread *th, int tid, bool shared)
{
	for (uint64_t off = 0;; off++) {
		struct ptrace_peeksiginfo_args a = { off,
			shared ? PTRACE_PEEKSIGINFO_SHARED : 0, 1 };
		uint64_t si[16];
		struct tlv_siginfo *s;
		long n = ptrace(PTRACE_PEEKSIGINFO, tid, &a, si);

		if (n < 0)
			die_errno("thread %d: PTRACE_PEEKSIGINFO", tid);
		if (n == 0)
			break;
		s = vec_add(&th->sig, &th->nsig, sizeof(*s));
		s->shared = shared;
		memcpy(&s->w0, si, sizeof(si));
	}
}

/* -- threads: registers, rseq, cr's area in the process ------------------- */

/*
 * If the thread stopped inside an rseq critical section, the kernel would
 * have sent it to the abort handler on its next return to user space;
 * the restored registers must say the same.
 */
static void col_rseq_fixup(struct thread *th, int tid)
{
	uint64_t cs_ptr, cs[4], ip = arch_ip(th->regs);	/* cs: see struct rseq_cs */

	if (!th->t.rseq_addr ||
	    pt_read(tid, th->t.rseq_addr + 8, &cs_ptr, 8) || !cs_ptr ||
	    pt_read(tid, cs_ptr, cs, sizeof(cs)))
		return;
	if (ip >= cs[1] && ip - cs[1] < cs[2]) {
		info("thread %d stopped in an rseq critical section: restarting at abort_ip %llx",
		     tid, (unsigned long long)cs[3]);
		arch_set_ip(th->regs, cs[3]);
	}
}

/*
 * One thread's state: from ptrace, /proc, a few syscalls cr may make on
 * another thread, and what only the thread can tell (sigaltstack, the
 * clear_child_tid address), asked by remote syscalls that write into the
 * scratch page.
 */
static void col_thread(struct task *t, struct thread *th, uint64_t scratch)
{
	struct pt *p = &th->pt;
	int tid = p->pid;
	struct ptrace_rseq_configuration rc;
	struct sched_param sp;
	uint64_t ss[3], x;
	char name[64];
	size_t len;
	long r;

	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, tid, sizeof(rc), &rc) ==
	    sizeof(rc)) {
		th->t.rseq_addr = rc.rseq_abi_pointer;
		th->t.rseq_len = rc.rseq_abi_size;
		th->t.rseq_sig = rc.signature;
	} else if (errno != EIO && errno != EINVAL) {
		die_errno("thread %d: PTRACE_GET_RSEQ_CONFIGURATION", tid);
	}
	col_rseq_fixup(th, tid);
	if (syscall(SYS_get_robust_list, tid, &th->t.robust_head,
		    &th->t.robust_len))
		die_errno("thread %d: get_robust_list", tid);
	/* raw syscalls: musl's wrappers refuse per-thread scheduling */
	r = syscall(SYS_sched_getscheduler, tid);
	if (r < 0 || syscall(SYS_sched_getparam, tid, &sp))
		die_errno("thread %d: scheduling policy", tid);
	th->t.policy = r;
	th->t.rt_prio = sp.sched_priority;
	errno = 0;
	r = getpriority(PRIO_PROCESS, tid);
	if (r == -1 && errno)
		die_errno("thread %d: getpriority", tid);
	th->t.nice = r + 20;
	snprintf(name, sizeof(name), "task/%d/comm", tid);
	th->comm = proc_xread(t->proc.pid, name, &len);
	th->comm[strcspn(th->comm, "\n")] = 0;

	r = pt_syscall(p, __NR_sigaltstack, 0, scratch, 0, 0, 0, 0);
	if (r || pt_read(tid, scratch, ss, sizeof(ss)))
		die("thread %d: reading the signal stack failed (%ld)", tid, r);
	th->t.ss_sp = ss[0], th->t.ss_flags = (uint32_t)ss[1];
	th->t.ss_size = ss[2];
	if (pt_query(p, scratch, __NR_prctl, PR_GET_TID_ADDRESS, scratch, &x))
		die("thread %d: PR_GET_TID_ADDRESS failed", tid);
	th->t.tid_addr = x;
}

/* Process-wide state only the process can tell: sigactions, brk, prctls. */
static void col_process_inside(struct task *t, uint64_t scratch)
{
	struct pt *p = &t->th[0].pt;
	uint64_t act[4], x;
	long r;

	for (int sig = 1; sig <= NSIG_MAX; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		r = pt_syscall(p, __NR_rt_sigaction, sig, 0, scratch, 8, 0, 0);
		if (r || pt_read(p->pid, scratch, act, sizeof(act)))
			die("reading the action of signal %d failed (%ld)", sig, r);
		t->act[t->nact++] = (struct tlv_sigact){ sig, act[0], act[1],
							 act[2], act[3] };
	}
	t->mm.brk = pt_syscall(p, __NR_brk, 0, 0, 0, 0, 0, 0);
	if (pt_query(p, scratch, __NR_prctl, PR_GET_PDEATHSIG, scratch, &x))
		die("PR_GET_PDEATHSIG failed");
	t->proc.pdeath_signal = (uint32_t)x;
	if (pt_query(p, scratch, __NR_prctl, PR_GET_CHILD_SUBREAPER, scratch, &x))
		die("PR_GET_CHILD_SUBREAPER failed");
	t->proc.subreaper = (uint32_t)x;
}

/*
 * Remote syscalls run from cr's own area in the process: the syscall
 * instruction there is followed by an rt_sigreturn, with each thread's
 * stack pointed at a frame of its own saved state.  Should cr die while a
 * thread runs one (even by SIGKILL), the thread returns into itself as
 * it was.  Only mapping and unmapping the area use an instruction found
 * in the process (its vDSO): two windows of one syscall each, in which a
 * killed cr leaves the thread in the vDSO with cr's registers (the
 * thread gets its own back right after each, see pt_try_syscall).  A cr
 * killed between the two leaves the area itself behind: it is marked (a
 * struct area_mark at AREA_MARK in it, after cr's code on the first
 * page), and the next dump of the process removes it.
 */
#define AREA_MARK (2 * PAGE - 64)
struct area_mark {
	char magic[16];		/* "cr dump area" */
	uint64_t start, len;	/* the whole area */
};

/*
 * A thread frozen inside such an area is on its way back into itself
 * (the killed cr's last syscall had just returned): the area stays, in
 * the image too, and the thread leaves it when it runs on.
 */
static bool in_area(const struct task *t, uint64_t start, uint64_t len)
{
	for (size_t i = 0; i < t->nth; i++)
		if (arch_ip(t->th[i].pt.regs) - start < len) {
			info("thread %llu is still in an area a killed cr left: it stays",
			     (unsigned long long)t->th[i].t.tid);
			return true;
		}
	return false;
}

/* Unmap areas an earlier, killed cr left in the process (safe syscalls). */
static void col_old_areas(struct task *t)
{
	struct pt *p = &t->th[0].pt;
	struct map_line *m;
	size_t n = proc_maps_from(t->proc.pid, "maps", &m);

	for (size_t i = 0; i < n; i++) {
		struct area_mark k;
		uint8_t code[sizeof(arch_safe_code)];
		long r;

		if (m[i].path[0] || strcmp(m[i].perms, "r-xp") ||
		    m[i].end - m[i].start != PAGE || m[i].start == p->scratch ||
		    pt_read(t->proc.pid, m[i].start, code, arch_safe_code_len) ||
		    memcmp(code, arch_safe_code, arch_safe_code_len) ||
		    pt_read(t->proc.pid, m[i].start + AREA_MARK, &k, sizeof(k)) ||
		    memcmp(k.magic, "cr dump area", 13) || k.start != m[i].start ||
		    k.len < 2 * PAGE || k.len > arch_task_size() - k.start ||
		    in_area(t, k.start, k.len))
			continue;
		info("removing %llx-%llx, an area a killed cr left",
		     (unsigned long long)k.start,
		     (unsigned long long)(k.start + k.len));
		r = pt_syscall(p, __NR_munmap, k.start, k.len, 0, 0, 0, 0);
		if (r) {
			errno = -r;
			die_errno("unmapping an area left by a killed cr");
		}
	}
	free(m);
}

static uint64_t col_scratch(struct task *t)
{
	struct pt *p = &t->th[0].pt;
	size_t fsz = (arch_sigframe_size(t->th) + 63) & ~63UL;
	uint64_t len = 2 * PAGE + PAGE_ROUND(t->nth * fsz), a;
	uint8_t *frame = xzalloc(fsz);
	struct area_mark mark = { "cr dump area", 0, 0 };
	long r;

	bool wx = true;

	p->insn = p->insn0 = pt_find_any_insn(t->proc.pid);
	r = pt_syscall(p, __NR_mmap, 0, len, PROT_READ | PROT_WRITE | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r == -EPERM || r == -EACCES) {
		/* MDWE: no W+X, and no gaining X later; map R+X, drop X from
		 * the rest, and write the code through /proc/PID/mem */
		wx = false;
		r = pt_syscall(p, __NR_mmap, 0, len, PROT_READ | PROT_EXEC,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	}
	if (r < 0 && r > -4096) {
		errno = -r;
		die_errno("mapping cr's area in the process");
	}
	a = p->scratch = r;
	p->scratch_len = len;
	mark.start = a, mark.len = len;
	if (!wx && (r = pt_syscall(p, __NR_mprotect, a + PAGE, len - PAGE,
				   PROT_READ | PROT_WRITE, 0, 0, 0)))
		die("mprotect of cr's area in the process failed (%ld)", r);
	if ((wx ? pt_write(p->pid, a, arch_safe_code, arch_safe_code_len) :
		  pt_write_mem(p->pid, a, arch_safe_code, arch_safe_code_len)) ||
	    pt_write(p->pid, a + AREA_MARK, &mark, sizeof(mark)))
		die("writing cr's code into the process");
	for (size_t k = 0; k < t->nth; k++) {
		struct thread th = t->th[k];
		uint64_t at = a + 2 * PAGE + k * fsz;

		th.t.ss_flags = 0x7770;	/* invalid: sigreturn leaves it alone */
		arch_build_sigframe(frame, at, &th);
		if (pt_write(p->pid, at, frame, fsz))
			die("writing a frame into the process");
		t->th[k].pt.insn0 = p->insn0;
		t->th[k].pt.insn = a;
		t->th[k].pt.frame = at;
	}
	free(frame);
	/* from here every remote syscall is a safe one: make the code R+X */
	if (wx && (r = pt_syscall(p, __NR_mprotect, a, PAGE,
				  PROT_READ | PROT_EXEC, 0, 0, 0)))
		die("mprotect of cr's code in the process failed (%ld)", r);
	col_old_areas(t);
	return a + PAGE;	/* room for syscall results */
}

/*
 * ---- timers, credentials, seccomp (collect) ----
 * Interval timers and POSIX timers are asked from inside (getitimer,
 * timer_gettime, timer_getoverrun on the ids /proc/PID/timers lists); a
 * timer signal still queued is taken out of the pending signals and
 * recorded on its timer, whose restore queues it again.  Credentials and
 * capability sets come from /proc/PID/task/TID/status, which must agree
 * for every thread (setxid in libc keeps them so); securebits from a
 * remote prctl.  Seccomp filters are read per thread with ptrace.
 */
#ifndef PTRACE_SECCOMP_GET_METADATA
#define PTRACE_SECCOMP_GET_METADATA 0x420d
#endif
#define SI_TIMER_CODE	(-2)	/* si_code of a POSIX timer's signal */
#ifndef PR_TIMER_CREATE_RESTORE_IDS
#define PR_TIMER_CREATE_RESTORE_IDS 77	/* Linux 6.18, see restorer.c */
#endif
#define SECCOMP_FILTER_FLAG_LOG_ 2	/* <linux/seccomp.h> would clash with musl */

/* Does the clock run while the process is frozen (not a CPU-time one)? */
static bool clock_wall(uint64_t c)
{
	return c != CLOCK_PROCESS_CPUTIME_ID && c != CLOCK_THREAD_CPUTIME_ID;
}

static void col_itimers(struct task *t, uint64_t scratch)
{
	struct pt *p = &t->th[0].pt;

	for (int which = 0; which < 3; which++) {
		uint64_t v[4];	/* struct itimerval: interval, value (timeval) */
		long r = pt_syscall(p, __NR_getitimer, which, scratch, 0, 0, 0, 0);

		if (r || pt_read(p->pid, scratch, v, sizeof(v)))
			die("getitimer %d failed (%ld)", which, r);
		t->itimer_at[t->nitimer] = realtime_ns();
		if (v[2] || v[3])
			t->itimer[t->nitimer++] = (struct tlv_itimer){ which,
				v[2] * 1000000000 + v[3] * 1000,
				v[0] * 1000000000 + v[1] * 1000 };
	}
}

/* Take a timer's queued signal out of the pending ones; true if found. */
static bool col_timer_signal(struct task *t, const struct tlv_ptimer *pt)
{
	for (size_t k = 0; k < t->nth; k++) {
		struct thread *th = &t->th[k];

		for (size_t i = 0; i < th->nsig; i++)
			if ((uint32_t)th->sig[i].w0 == pt->signo &&
			    (int32_t)th->sig[i].w1 == SI_TIMER_CODE &&
			    (int32_t)th->sig[i].w2 == (int32_t)pt->id) {
				memmove(&th->sig[i], &th->sig[i + 1],
					(th->nsig - i - 1) * sizeof(*th->sig));
				th->nsig--;
				return true;
			}
	}
	return false;
}

static void col_ptimers(struct task *t, uint64_t scratch)
{
	struct pt *p = &t->th[0].pt;
	char *s = proc_xread(t->proc.pid, "timers", NULL), *line, *save;
	struct tlv_ptimer *pt = NULL;

	for (line = strtok_r(s, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char how[16], who[8];
		long long x;

		if (sscanf(line, "ID: %lld", &x) == 1) {
			pt = vec_add(&t->ptimers, &t->nptimers, sizeof(*pt));
			pt->id = (uint64_t)x;
		} else if (!pt) {
			die("/proc/%llu/timers: unexpected line \"%s\"",
			    (unsigned long long)t->proc.pid, line);
		} else if (sscanf(line, "signal: %lld/%" SCNx64, &x,
				  &pt->sigval) == 2) {
			pt->signo = x;
		} else if (sscanf(line, "notify: %15[a-z]/%7[a-z].%lld", how,
				  who, &x) == 3) {
			pt->notify = !strcmp(how, "none") ? SIGEV_NONE : SIGEV_SIGNAL;
			if (!strcmp(who, "tid")) {
				pt->notify |= SIGEV_THREAD_ID;
				pt->tid = x;
			}
			if (strcmp(how, "none") && strcmp(how, "signal"))
				refuse("POSIX timer %llu: notification \"%s\" is not supported",
				       (unsigned long long)pt->id, how);
		} else if (sscanf(line, "ClockID: %lld", &x) == 1) {
			pt->clock = (uint64_t)x;
			if (x < 0)
				refuse("POSIX timer %llu on another process's CPU clock: not supported",
				       (unsigned long long)pt->id);
		}
	}
	free(s);
	xsort(t->ptimers, t->nptimers, sizeof(*t->ptimers), cmp_u64); /* by id */
	for (size_t i = 0; i < t->nptimers; i++) {
		uint64_t v[4];	/* struct itimerspec: interval, value */
		long r;

		pt = &t->ptimers[i];
		r = pt_syscall(p, __NR_timer_gettime, pt->id, scratch, 0, 0, 0, 0);
		t->ptimer_at = xrealloc(t->ptimer_at, (i + 1) * sizeof(uint64_t));
		t->ptimer_at[i] = realtime_ns();
		if (r || pt_read(p->pid, scratch, v, sizeof(v)))
			die("timer_gettime of timer %llu failed (%ld)",
			    (unsigned long long)pt->id, r);
		pt->interval_ns = v[0] * 1000000000 + v[1];
		pt->value_ns = v[2] * 1000000000 + v[3];
		r = pt_syscall(p, __NR_timer_getoverrun, pt->id, 0, 0, 0, 0, 0);
		if (r < 0)
			die("timer_getoverrun of timer %llu failed (%ld)",
			    (unsigned long long)pt->id, r);
		pt->overrun = r;
	}
}

/* Did interval timer x go off between reads a (n of them) and t's? */
static bool itimer_fired(const struct tlv_itimer *a, size_t n,
			 const struct task *t, uint64_t which)
{
	const struct tlv_itimer *x = NULL, *y = NULL;

	for (size_t i = 0; i < n; i++)
		x = a[i].which == which ? &a[i] : x;
	for (size_t i = 0; i < t->nitimer; i++)
		y = t->itimer[i].which == which ? &t->itimer[i] : y;
	/* a one-shot disarmed, or a new period began */
	return x && (!y || y->value_ns > x->value_ns);
}

/* Did POSIX timer y go off since it read as x? */
static bool ptimer_fired(const struct tlv_ptimer *x, const struct tlv_ptimer *y)
{
	return x->overrun != y->overrun || (x->value_ns && !y->value_ns) ||
	       y->value_ns > x->value_ns;
}

static bool has_signal(const struct task *t, uint64_t sig)
{
	for (size_t k = 0; k < t->nth; k++)
		for (size_t i = 0; i < t->th[k].nsig; i++)
			if ((uint32_t)t->th[k].sig[i].w0 == sig)
				return true;
	return false;
}

/*
 * The pending signals and the timers, as of one moment.  A timer that
 * goes off while cr reads the frozen process queues its signal: read
 * only before the signals, it would be saved armed with its signal
 * queued too (two at restore); read only after, a signal queued in
 * between would be in neither.  So the timers are read before and after
 * the signals, the later state is kept, and a timer that went off in
 * between has its signal pending for sure: a POSIX timer's is recorded
 * on it (restore queues it again), ITIMER_REAL's SIGALRM added if the
 * signals read lack it.  (The virtual and profiling timers count the
 * process's CPU time, which does not run while it is frozen.)
 */
static void col_signals_timers(struct task *t, uint64_t scratch)
{
	struct tlv_itimer it[3];
	struct tlv_ptimer *pt;
	size_t nit, npt;

	col_itimers(t, scratch);
	col_ptimers(t, scratch);
	memcpy(it, t->itimer, sizeof(it));
	nit = t->nitimer;
	pt = t->ptimers;
	npt = t->nptimers;
	t->nitimer = 0;
	t->ptimers = NULL;
	t->nptimers = 0;
	for (size_t k = 0; k < t->nth; k++) {
		col_siginfo(&t->th[k], t->th[k].pt.pid, false);
		if (!k)
			col_siginfo(t->th, t->th[0].pt.pid, true);
	}
	if (getenv("CR_TEST_TIMER_GAP_MS"))	/* tests: widen the gap */
		usleep(atoi(getenv("CR_TEST_TIMER_GAP_MS")) * 1000);
	col_itimers(t, scratch);
	col_ptimers(t, scratch);
	if (itimer_fired(it, nit, t, ITIMER_REAL) && !has_signal(t, SIGALRM)) {
		struct tlv_siginfo *x = vec_add(&t->th[0].sig, &t->th[0].nsig,
						sizeof(*x));

		info("ITIMER_REAL went off while cr read the signals");
		x->shared = 1;
		x->w0 = SIGALRM;
		x->w1 = 0x80;	/* si_code SI_KERNEL, as the kernel sends it */
	}
	for (size_t i = 0; i < t->nptimers; i++) {
		struct tlv_ptimer *y = &t->ptimers[i];
		bool fired = false;

		for (size_t k = 0; k < npt; k++)
			fired |= pt[k].id == y->id && ptimer_fired(&pt[k], y);
		/* its signal, if it was read, is taken out: the timer has it */
		y->pending = (y->notify & 3) == SIGEV_SIGNAL &&
			     (col_timer_signal(t, y) || fired);
	}
	free(pt);
}

static uint64_t status_hex(const char *st, const char *key)
{
	return proc_field_u64(st, key, 16, "status");
}

static void col_creds(struct task *t)
{
	static const char *const keys[] = { "Uid", "Gid", "Groups", "CapInh",
		"CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs" };
	char name[64], *main_st = NULL;
	struct pt *p = &t->th[0].pt;
	long r;

	for (size_t k = 0; k < t->nth; k++) {
		char *st;

		snprintf(name, sizeof(name), "task/%llu/status",
			 (unsigned long long)t->th[k].t.tid);
		st = proc_xread(t->proc.pid, name, NULL);
		for (size_t i = 0; k && i < ARRAY_SIZE(keys); i++) {
			const char *a = proc_field(main_st, keys[i]);
			const char *b = proc_field(st, keys[i]);

			if (!a || !b || strcspn(a, "\n") != strcspn(b, "\n") ||
			    strncmp(a, b, strcspn(a, "\n")))
				refuse("thread %llu: %s differs from the main thread's: not supported",
				       (unsigned long long)t->th[k].t.tid, keys[i]);
		}
		if (k)
			free(st);
		else
			main_st = st;
	}
	t->priv = (struct tlv_priv){ status_hex(main_st, "CapInh"),
		status_hex(main_st, "CapPrm"), status_hex(main_st, "CapEff"),
		status_hex(main_st, "CapBnd"), status_hex(main_st, "CapAmb"), 0,
		proc_field_u64(main_st, "NoNewPrivs", 10, "status") };
	free(main_st);
	r = pt_syscall(p, __NR_prctl, PR_GET_SECUREBITS, 0, 0, 0, 0, 0);
	if (r < 0)
		die("PR_GET_SECUREBITS failed (%ld)", r);
	t->priv.securebits = r;
}

static void col_seccomp(struct task *t, struct thread *th)
{
	char name[64], *st;
	int tid = th->t.tid;

	snprintf(name, sizeof(name), "task/%d/status", tid);
	st = proc_xread(t->proc.pid, name, NULL);
	th->sc.mode = proc_field(st, "Seccomp") ?
		      proc_field_u64(st, "Seccomp", 10, "status") : 0;
	free(st);
	if (th->sc.mode != 2)
		return;
	for (uint64_t i = 0;; i++) {
		struct { uint64_t off, flags; } md = { i, 0 };
		struct tlv_sc_filter *f;
		long n = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, i, NULL);

		if (n < 0 && errno == ENOENT && i)
			break;
		if (n <= 0) {
			refuse("thread %d: reading its seccomp filter %llu: %s",
			       tid, (unsigned long long)i,
			       n ? strerror(errno) : "empty");
			return;
		}
		th->scprog = xrealloc(th->scprog, th->scprog_len + n * 8);
		if (ptrace(PTRACE_SECCOMP_GET_FILTER, tid, i,
			   th->scprog + th->scprog_len) != n)
			die_errno("thread %d: PTRACE_SECCOMP_GET_FILTER", tid);
		if (ptrace(PTRACE_SECCOMP_GET_METADATA, tid, sizeof(md), &md) < 0)
			md.flags = 0;	/* before 4.16: no metadata */
		th->scprog_len += n * 8;
		f = vec_add(&th->scf, &th->nscf, sizeof(*f));
		th->sc.nfilters = th->nscf;
		f->flags = md.flags;
		f->ninsn = n;
	}
}

/* The time namespace offsets of pid (/proc/PID/timens_offsets), in ns. */
static void col_timens_offsets(int pid, int64_t *mono, int64_t *boot)
{
	char *s = proc_read(pid, "timens_offsets", NULL), *line, *save;

	*mono = *boot = 0;
	for (line = s ? strtok_r(s, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[16];
		long long sec, nsec;

		if (sscanf(line, "%15s %lld %lld", name, &sec, &nsec) != 3)
			continue;
		if (!strcmp(name, "monotonic"))
			*mono = sec * 1000000000LL + nsec;
		else if (!strcmp(name, "boottime"))
			*boot = sec * 1000000000LL + nsec;
	}
	free(s);
}

static uint64_t ns_inode(int pid, const char *ns)
{
	char path[64];
	struct stat sb;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, ns);
	return stat(path, &sb) ? 0 : sb.st_ino;
}

/* The clocks as the process sees them, and whether it has its own. */
static void col_times(struct task *t, int root)
{
	struct timespec ts[3];
	uint64_t ns = ns_inode(t->proc.pid, "time");
	int64_t mono = 0, boot = 0;

	if (ns != ns_inode(root, "time"))
		refuse("in another time namespace than pid %d: not supported", root);
	t->times.timens = ns && ns != ns_inode(getpid(), "time");
	if (t->times.timens)
		col_timens_offsets(t->proc.pid, &mono, &boot);
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	clock_gettime(CLOCK_MONOTONIC, &ts[1]);
	clock_gettime(CLOCK_BOOTTIME, &ts[2]);
	t->times.realtime_ns = ts[0].tv_sec * 1000000000ULL + ts[0].tv_nsec;
	t->times.monotonic_ns = ts[1].tv_sec * 1000000000ULL + ts[1].tv_nsec + mono;
	t->times.boottime_ns = ts[2].tv_sec * 1000000000ULL + ts[2].tv_nsec + boot;
}

/*
 * Restore counts the time since TIMES off what a timer had left; each was
 * read a little before, so its time left is made as of TIMES (a slow
 * read, as under qemu, would make it fire late, or miss periods).  CPU
 * clocks stand still while the process is frozen.
 */
static void col_timers_age(struct task *t)
{
	uint64_t now = t->times.realtime_ns;

	for (size_t i = 0; i < t->nitimer; i++) {
		struct tlv_itimer *x = &t->itimer[i];
		uint64_t d = now > t->itimer_at[i] ? now - t->itimer_at[i] : 0;

		if (x->which == ITIMER_REAL)
			x->value_ns = x->value_ns > d ? x->value_ns - d : 1;
	}
	for (size_t i = 0; i < t->nptimers; i++) {
		struct tlv_ptimer *x = &t->ptimers[i];
		uint64_t d = now > t->ptimer_at[i] ? now - t->ptimer_at[i] : 0;

		if (x->value_ns && clock_wall(x->clock))
			x->value_ns = x->value_ns > d ? x->value_ns - d : 1;
	}
}

static void col_kstate(struct task *t, uint64_t scratch, int root)
{
	col_signals_timers(t, scratch);
	col_times(t, root);
	col_timers_age(t);
	col_creds(t);
	for (size_t k = 0; k < t->nth; k++)
		col_seccomp(t, &t->th[k]);
}

/* ==== 5b. kernel state: prctl, scheduling, cgroup, memory advice =========
 * What a process sets on itself beyond memory, files and signals: prctl
 * switches (dumpable, THP, MDWE, KSM, speculation controls), per thread
 * timer slack, io priority and CPU affinity, oom_score_adj, its cgroup v2,
 * and per mapping the madvise/mlock state and protection key smaps shows.
 * The prctls only the process can answer are asked while cr's scratch
 * area is in it.  Restore sets them in three places (section 8 and the
 * blob): cr's child before the jump (process-wide prctls, cgroup,
 * oom_score_adj), the blob once every mapping is final (advice, pkeys,
 * mlockall, then MDWE and dumpable), and cr per thread by tid at the end
 * (slack, ioprio, affinity: a thread the blob clones inherits the main
 * thread's).  A record an older image lacks leaves that state alone.
 */
#ifndef PR_GET_MDWE
#define PR_SET_MDWE 65
#define PR_GET_MDWE 66
#endif
#ifndef PR_GET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#define PR_GET_MEMORY_MERGE 68
#endif
#define KST_MDWE_ALL	3	/* PR_MDWE_REFUSE_EXEC_GAIN | PR_MDWE_NO_INHERIT */
#define KST_NSPEC	3	/* PR_SPEC_STORE_BYPASS .. PR_SPEC_L1D_FLUSH */
#define KST_MAX_CPUS	8192	/* affinity masks cr handles */
#define KST_IOPRIO_WHO	1	/* IOPRIO_WHO_PROCESS */

static const struct { char code[3]; uint64_t bit; } kst_vmflags[] = {
	{ "dc", TLV_ADV_DONTFORK }, { "wf", TLV_ADV_WIPEONFORK },
	{ "hg", TLV_ADV_HUGEPAGE }, { "nh", TLV_ADV_NOHUGEPAGE },
	{ "dd", TLV_ADV_DONTDUMP }, { "mg", TLV_ADV_MERGEABLE },
	{ "lo", TLV_ADV_LOCKED }, { "lf", TLV_ADV_ONFAULT },
};

/* A mapping's advice from its VmFlags, and its protection key. */
static void kst_col_vma(const struct map_line *m, struct vma *v)
{
	if (v->v.kind == TLV_VMA_SPECIAL)
		return;		/* the kernel's own flags ([vvar] is "dd") */
	for (size_t i = 0; i < ARRAY_SIZE(kst_vmflags); i++)
		if (vmflag(m, kst_vmflags[i].code))
			v->adv.advice |= kst_vmflags[i].bit;
	v->adv.pkey = m->pkey;
}

/* The path of a "0::PATH" line in /proc/.../cgroup text, or NULL. */
static char *kst_cgroup_v2(const char *text)
{
	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : l)
		if (!strncmp(l, "0::", 3))
			return strndup(l + 3, strcspn(l + 3, "\n"));
	return NULL;
}

/* The line of v1 hierarchy id (the "N:" prefix) in cgroup text. */
static const char *kst_cgroup_line(const char *text, const char *id, size_t n)
{
	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : l)
		if (!strncmp(l, id, n))
			return l;
	return "";
}

/*
 * The cgroup v2 the process is in; every thread must be in it too.  v1
 * hierarchies are not restored: the restored tree stays in cr's, so a
 * process elsewhere in one with controllers is refused (a named one
 * without, such as systemd's, only said with -v).
 */
static void kst_col_cgroup(struct task *t)
{
	char *text = proc_xread(t->proc.pid, "cgroup", NULL);
	char *mine = proc_xread(0, "cgroup", NULL), name[64];

	t->cgroup = kst_cgroup_v2(text);
	for (const char *l = text; *l; l += strcspn(l, "\n"), l += !!*l) {
		size_t n = strcspn(l, ":") + 1, len = strcspn(l, "\n");
		const char *o = kst_cgroup_line(mine, l, n);

		if (!strncmp(l, "0::", 3) ||
		    (!strncmp(o, l, len) && (!o[len] || o[len] == '\n')))
			continue;
		if (!strncmp(l + n, "name=", 5))
			info("cgroup v1 hierarchy \"%.*s\" differs from cr's own: not restored",
			     (int)len, l);
		else
			refuse("cgroup v1 hierarchy \"%.*s\" differs from cr's own: not supported",
			       (int)len, l);
	}
	for (size_t k = 1; k < t->nth; k++) {
		char *s, *p;

		snprintf(name, sizeof(name), "task/%llu/cgroup",
			 (unsigned long long)t->th[k].t.tid);
		s = proc_xread(t->proc.pid, name, NULL);
		p = kst_cgroup_v2(s);
		if ((p || t->cgroup) && (!p || !t->cgroup || strcmp(p, t->cgroup)))
			refuse("thread %llu is in cgroup %s, not in its process's %s: not supported",
			       (unsigned long long)t->th[k].t.tid, p ? p : "?",
			       t->cgroup ? t->cgroup : "?");
		free(p);
		free(s);
	}
	free(mine);
	free(text);
}

/* A prctl only the process can answer; an unknown option (old kernel) is 0. */
static uint64_t kst_prctl(struct pt *p, long opt, long arg, const char *what)
{
	long r = pt_syscall(p, __NR_prctl, opt, arg, 0, 0, 0, 0);

	if (r == -EINVAL)
		return 0;
	if (r < 0) {
		errno = -r;
		die_errno("thread %d: %s", p->pid, what);
	}
	return r;
}

/*
 * MCL_FUTURE is not shown anywhere, but every new mapping then comes
 * locked: cr's scratch area, mapped just now, tells.  Only if anything is
 * locked at all (VmLck) is smaps read.
 */
static uint64_t kst_col_mlockall(struct task *t)
{
	const struct pt *p = &t->th[0].pt;
	char *st = proc_xread(t->proc.pid, "status", NULL);
	uint64_t f = 0, locked = proc_field(st, "VmLck") ?
				 proc_field_u64(st, "VmLck", 10, "status") : 0;
	struct map_line *m;
	size_t n;

	free(st);
	if (!locked)
		return 0;
	n = proc_maps(t->proc.pid, &m);
	for (size_t i = 0; i < n; i++)
		if (m[i].start <= p->scratch && p->scratch < m[i].end &&
		    vmflag(&m[i], "lo"))
			f = MCL_FUTURE | (vmflag(&m[i], "lf") ? MCL_ONFAULT : 0);
	maps_free(m, n);
	return f;
}

/* Do two status texts agree on field key (both may lack it)? */
static bool kst_same_field(const char *a, const char *b, const char *key)
{
	const char *x = proc_field(a, key), *y = proc_field(b, key);
	size_t n = x ? strcspn(x, "\n") : 0;

	return !x == !y && (!x || (strcspn(y, "\n") == n && !strncmp(x, y, n)));
}

/*
 * One thread: timer slack, io priority, affinity, no shadow stack, and
 * the speculation controls status shows as the main thread's (main_st).
 */
static void kst_col_thread(struct task *t, struct thread *th,
			   const char *main_st)
{
	int tid = th->t.tid;
	uint64_t mask[KST_MAX_CPUS / 64];
	char name[64], *st;
	const char *f;
	long r;

	th->kt.timerslack = kst_prctl(&th->pt, PR_GET_TIMERSLACK, 0,
				      "PR_GET_TIMERSLACK");
	errno = 0;
	r = syscall(SYS_ioprio_get, KST_IOPRIO_WHO, tid);
	if (r < 0)
		die_errno("thread %d: ioprio_get", tid);
	th->kt.ioprio = r;
	r = syscall(SYS_sched_getaffinity, tid, sizeof(mask), mask);
	if (r <= 0)
		die_errno("thread %d: sched_getaffinity", tid);
	for (th->ncpus = r / 8; th->ncpus > 1 && !mask[th->ncpus - 1];)
		th->ncpus--;	/* the kernel's mask size: drop zero words */
	th->cpus = xmalloc(r);
	memcpy(th->cpus, mask, r);
	snprintf(name, sizeof(name), "task/%d/status", tid);
	st = proc_xread(t->proc.pid, name, NULL);
	f = proc_field(st, "x86_Thread_features");
	if (f && memmem(f, strcspn(f, "\n"), "shstk", 5))
		refuse("thread %d has the x86 shadow stack enabled: not supported", tid);
	if (main_st && (!kst_same_field(st, main_st, "Speculation_Store_Bypass") ||
			!kst_same_field(st, main_st, "SpeculationIndirectBranch")))
		refuse("thread %d has other speculation controls than the main thread: not supported",
		       tid);
	free(st);
}

/* Process-wide state, with the scratch area mapped in the process. */
static void kst_col_task(struct task *t)
{
	struct pt *p = &t->th[0].pt;
	char *s, name[64];

	t->ks.dumpable = kst_prctl(p, PR_GET_DUMPABLE, 0, "PR_GET_DUMPABLE");
	if (t->ks.dumpable > 1)
		refuse("dumpable is %llu (set by the kernel for a setuid program): only 0 and 1 can be restored",
		       (unsigned long long)t->ks.dumpable);
	t->ks.thp_disable = kst_prctl(p, PR_GET_THP_DISABLE, 0, "PR_GET_THP_DISABLE");
	t->ks.mdwe = kst_prctl(p, PR_GET_MDWE, 0, "PR_GET_MDWE");
	t->ks.memory_merge = kst_prctl(p, PR_GET_MEMORY_MERGE, 0,
				       "PR_GET_MEMORY_MERGE");
	t->ks.mlockall = kst_col_mlockall(t);
	s = proc_xread(t->proc.pid, "oom_score_adj", NULL);
	t->ks.oom_score_adj = strtoll(s, NULL, 10) + 1000;
	free(s);
	for (long which = 0; which < KST_NSPEC; which++) {
		long v = pt_syscall(p, __NR_prctl, PR_GET_SPECULATION_CTRL,
				    which, 0, 0, 0, 0);

		if (v < 0)
			continue;	/* not known to this kernel */
		/* per thread: status shows store bypass and indirect branch */
		for (size_t k = 1; which > 1 && (v & PR_SPEC_PRCTL) && k < t->nth; k++)
			if (pt_syscall(&t->th[k].pt, __NR_prctl,
				       PR_GET_SPECULATION_CTRL, which, 0, 0, 0,
				       0) != v)
				refuse("thread %llu has another speculation control %ld than the main thread: not supported",
				       (unsigned long long)t->th[k].t.tid, which);
		*(struct tlv_spec *)vec_add(&t->spec, &t->nspec,
					    sizeof(*t->spec)) =
			(struct tlv_spec){ which, v };
	}
	kst_col_cgroup(t);
	snprintf(name, sizeof(name), "task/%llu/status",
		 (unsigned long long)t->proc.pid);
	s = proc_xread(t->proc.pid, name, NULL);
	for (size_t k = 0; k < t->nth; k++)
		kst_col_thread(t, &t->th[k], k ? s : NULL);
	free(s);
}

/* The records of this section in a TASK, a THREAD nest. */
static void kst_dump_task(struct buf *b, const struct task *t)
{
	buf_rec(b, TLV_KSTATE, &t->ks, sizeof(t->ks));
	if (t->nspec)
		buf_rec(b, TLV_SPEC, t->spec, t->nspec * sizeof(*t->spec));
	if (t->cgroup)
		buf_str(b, TLV_CGROUP, t->cgroup);
}

static void kst_dump_thread(struct buf *n, const struct thread *th)
{
	buf_rec(n, TLV_KTHREAD, &th->kt, sizeof(th->kt));
	buf_rec(n, TLV_CPUS, th->cpus, th->ncpus * sizeof(*th->cpus));
}

static void col_task(struct image *im, struct task *t, bool shell_job)
{
	struct pt *p = &t->th[0].pt;
	uint64_t scratch;
	char *st;

	ctx.pid = t->proc.pid;
	st = proc_xread(t->proc.pid, "status", NULL);
	if (proc_field_u64(st, "TracerPid", 10, "status") != (uint64_t)getpid())
		die("the process is traced by another process");
	free(st);
	col_proc(t);
	if (shell_job && t->parent < 0)
		t->proc.flags |= TLV_PROC_SHELL_JOB;
	trk_find(im, t);
	if (!im->predump) {	/* a pre-dump is memory only */
		col_fds(im, t, shell_job);
		col_check_epoll(t);
	}
	for (size_t k = 0; k < t->nth; k++) {
		struct thread *th = &t->th[k];

		if (arch_get_fpu(th->t.tid, &th->fpu, &th->fpu_len) ||
		    arch_get_xtra(th->t.tid, &th->xtra, &th->xtra_len))
			die_errno("thread %llu: reading FPU state",
				  (unsigned long long)th->t.tid);
		th->t.sigmask = th->pt.sigmask;
		memcpy(th->regs, th->pt.regs, sizeof(th->regs));
		arch_check_fpu(th);
	}
	scratch = col_scratch(t);
	fault("dump-inject");	/* registers borrowed: a remote syscall ran */
	for (size_t k = 0; k < t->nth; k++)
		col_thread(t, &t->th[k], scratch);
	col_process_inside(t, scratch);
	col_kstate(t, scratch, im->t[0].proc.pid);
	trk_setup(im, t);
	kst_col_task(t);
	pt_scratch_free(p);
	for (size_t k = 0; k < t->nth; k++)
		pt_restore(&t->th[k].pt);
	col_vmas(im, t);
	ctx.pid = 0;
}

/*
 * A pipe with only readers or only writers in the tree has its other end
 * outside: restoring it would cut that connection.
 */
static void col_check_pipes(const struct image *im)
{
	for (size_t i = 0; i < im->npipes; i++) {
		const struct fd *any = NULL;
		int ends = 0;

		if (im->pipes[i].path)
			continue;	/* a FIFO: anyone may open it by path */
		for (size_t k = 0; k < im->nt; k++)
			for (size_t j = 0; j < im->t[k].nfds; j++) {
				const struct fd *d = &im->t[k].fds[j];

				if (d->f.kind != TLV_FD_PIPE ||
				    d->f.obj != im->pipes[i].p.id)
					continue;
				ends |= (d->f.flags & O_ACCMODE) == O_WRONLY ? 2 : 1;
				if (!any) {
					any = d;
					ctx.pid = im->t[k].proc.pid;
				}
			}
		if (ends != 3)
			refuse("fd %llu: pipe:[%llu] has its other end outside the dumped tree%s",
			    (unsigned long long)any->f.fd,
			    (unsigned long long)im->pipes[i].ino,
			    any->f.fd <= 2 ? " (for a shell's pipe, dump with --shell-job)" : "");
	}
	ctx.pid = 0;
}

static void img_check_tree(struct image *im);

/* Freeze the tree under pid and collect its state; it stays frozen. */
static void collect(struct image *im, int pid, bool shell_job, int timeout_ms)
{
	freeze(im, pid, timeout_ms);
	undo_push(sk_release, NULL);	/* runs before frz_release */
	if (im->tcp_mode == 'E' && !im->predump)
		sk_take_all(im);
	fault("dump-freeze");
	for (size_t i = 0; i < im->nt; i++)
		if (!task_zombie(&im->t[i]))
			col_task(im, &im->t[i], shell_job);
	col_clone_sharing(im);
	col_check_pipes(im);
	col_usks_link(im);
	col_check_sysv(im);
	col_ofds(im);
	col_check_fown(im);
	if (!im->predump)
		col_ttys(im);
	fault("dump-ttys");	/* terminal queues read: the undo puts them back */
	img_check_tree(im);	/* what restore would refuse, refused now */
}

/* The pages to save, after collect(): the tree is still frozen. */
static void collect_pages(struct image *im)
{
	for (size_t i = 0; i < im->nt; i++) {
		ctx.pid = im->t[i].proc.pid;
		if (!task_zombie(&im->t[i])) {
			col_pages(im, &im->t[i]);
			trk_pages(im, &im->t[i]);
		}
	}
	for (size_t i = 0; i < im->nobjs; i++)
		col_fobj_pages(&im->objs[i]);
	ctx.pid = 0;
}

static char *chain_path(const char *image, const char *parent);	/* 7 */
static struct image *chain_read(const char *path, const char *key,
				 bool defer);
static void *get_rows(const struct tlv_it *it, size_t *n, const char *where);
static void check_dir(const char *what, const char *path);

/* ==== 6. check and write the image =======================================
 * The image is written front to back: header, the TASK nests, pipes and
 * shared memory, then each TASK's (and SHMEM's) PAGEMAP, padding, and the
 * page data streamed straight from the frozen processes, and the END
 * trailer.  Into a file it goes as NAME.part, fsync'ed and renamed only
 * when complete, so a failed dump never leaves a valid-looking image;
 * only then is the tree killed (or, with -R, let go).
 */
static void dump_head(struct img_out *o)
{
	struct tlv_head h = { .version = TLV_VERSION, .arch = arch_tlv,
		.page_size = PAGE, .head_size = sizeof(h) };
	struct utsname u;

	memcpy(h.magic, TLV_MAGIC, sizeof(h.magic));
	if (!uname(&u))
		memcpy(h.kernel, u.release, strnlen(u.release, sizeof(h.kernel) - 1));
	out_write(o, &h, sizeof(h));
}

/* The TRACK rows of the trackers a dump leaves in its processes. */
static void track_rows(const struct image *im, struct buf *b)
{
	for (size_t i = 0; i < im->nt; i++) {
		const struct task *t = &im->t[i];
		struct tlv_track r = { t->proc.pid, t->trk_next_fd,
				       t->trk_new_ino };

		if (t->trk_sd)
			r = (struct tlv_track){ t->proc.pid,
				TLV_TRACK_SOFT_DIRTY, t->trk_ino };
		if (t->trk_next_fd >= 0 || t->trk_sd)
			buf_put(b, &r, sizeof(r));
	}
}

/* The image-level records of a chain (section 5b). */
static void dump_chain(struct img_out *o, const struct image *im)
{
	struct buf b = { 0 };

	if (im->predump) {
		struct tlv_predump p = { 1 };

		out_rec(o, TLV_PREDUMP, &p, sizeof(p));
	}
	if (im->prev) {
		out_rec(o, TLV_PARENT, im->parent, strlen(im->parent) + 1);
		out_rec(o, TLV_PARENT_ID, &im->prev->end, sizeof(im->prev->end));
	}
	if (im->keep_track)
		track_rows(im, &b);
	if (b.len)
		out_rec(o, TLV_TRACK, b.p, b.len);
	buf_free(&b);
	if (sk_locked) {
		struct tlv_netlock l = { sk_lock_id };

		out_rec(o, TLV_NETLOCK, &l, sizeof(l));
	}
}

static void put_file(struct buf *b, const char *path,
		     const struct tlv_fstat *st)
{
	buf_rec(b, TLV_FSTAT, st, sizeof(*st));
	buf_str(b, TLV_PATH, path);
}

/* A nest of one row and a PATH: an inotify watch, a fanotify mark. */
static void put_row_path(struct buf *n, uint32_t nest, uint32_t info,
			 const void *row, size_t size, const char *path)
{
	struct buf w = { 0 };

	buf_rec(&w, info, row, size);
	buf_str(&w, TLV_PATH, path);
	buf_nest(n, nest, &w);
}

/* What an fd of a kernel object kind is, beyond its FD_INFO. */
static void dump_fd_state(struct buf *n, const struct fd *d)
{
	if (d->nlocks)
		buf_rec(n, TLV_LOCK, d->locks, d->nlocks * sizeof(*d->locks));
	if (d->own.pid || d->own.sig)
		buf_rec(n, TLV_FOWN, &d->own, sizeof(d->own));
	switch (d->f.kind) {
	case TLV_FD_EVENTFD:
		buf_rec(n, TLV_EVENTFD, &d->ev, sizeof(d->ev));
		break;
	case TLV_FD_SIGNALFD:
		buf_rec(n, TLV_SIGNALFD, &d->sig, sizeof(d->sig));
		break;
	case TLV_FD_TIMERFD:
		buf_rec(n, TLV_TIMERFD, &d->tmr, sizeof(d->tmr));
		buf_rec(n, TLV_TIMERFD_AT, &d->tmr_at, sizeof(d->tmr_at));
		break;
	case TLV_FD_EPOLL:
		buf_rec(n, TLV_EPOLL_TFD, d->epoll, d->nepoll * sizeof(*d->epoll));
		break;
	case TLV_FD_INET:
	case TLV_FD_NETLINK:
	case TLV_FD_PACKET:
		dump_sock(n, d->sk);
		break;
	case TLV_FD_FANOTIFY:
		buf_rec(n, TLV_FANOTIFY, &d->fan, sizeof(d->fan));
		for (size_t i = 0; i < d->nmarks; i++)
			put_row_path(n, TLV_FAN_MARK, TLV_FAN_MARK_INFO,
				     &d->marks[i].m, sizeof(d->marks[i].m),
				     d->marks[i].path);
		break;
	case TLV_FD_INOTIFY:
		for (size_t i = 0; i < d->nwatches; i++)
			put_row_path(n, TLV_WATCH, TLV_WATCH_INFO, &d->watches[i].w,
				     sizeof(d->watches[i].w), d->watches[i].path);
		break;
	}
}

static void dump_thread(struct buf *b, const struct thread *th)
{
	struct buf n = { 0 };

	buf_rec(&n, TLV_THREAD_INFO, &th->t, sizeof(th->t));
	buf_str(&n, TLV_COMM, th->comm);
	buf_rec(&n, arch_regs_tag, th->regs, arch_nregs * sizeof(uint64_t));
	buf_rec(&n, arch_fpu_tag, th->fpu, th->fpu_len);
	if (th->xtra_len)
		buf_rec(&n, arch_xtra_tag, th->xtra, th->xtra_len);
	if (th->nsig)
		buf_rec(&n, TLV_SIGINFO, th->sig, th->nsig * sizeof(*th->sig));
	buf_rec(&n, TLV_SECCOMP, &th->sc, sizeof(th->sc));
	if (th->sc.nfilters) {
		buf_rec(&n, TLV_SC_FILTER, th->scf, th->sc.nfilters * sizeof(*th->scf));
		buf_rec(&n, TLV_SC_PROG, th->scprog, th->scprog_len);
	}
	kst_dump_thread(&n, th);
	buf_nest(b, TLV_THREAD, &n);
}

static void dump_task(struct img_out *o, const struct task *t)
{
	struct buf b = { 0 }, n = { 0 };

	buf_rec(&b, TLV_PROC, &t->proc, sizeof(t->proc));
	if (task_zombie(t)) {
		buf_str(&b, TLV_COMM, t->comm);
		out_rec(o, TLV_TASK, b.p, b.len);
		buf_free(&b);
		return;
	}
	buf_rec(&b, TLV_CREDS, &t->creds, sizeof(t->creds));
	if (t->ngroups)
		buf_rec(&b, TLV_GROUPS, t->groups, t->ngroups * sizeof(*t->groups));
	buf_str(&b, TLV_CWD, t->cwd);
	buf_str(&b, TLV_ROOT, t->root);
	buf_rec(&b, TLV_MM, &t->mm, sizeof(t->mm));
	buf_rec(&b, TLV_AUXV, t->auxv, t->nauxv * sizeof(*t->auxv));
	buf_rec(&b, TLV_RLIMIT, t->rlim, t->nrlim * sizeof(*t->rlim));
	buf_rec(&b, TLV_SIGACT, t->act, t->nact * sizeof(*t->act));
	kst_dump_task(&b, t);
	put_file(&n, t->exe, &t->exe_st);
	buf_nest(&b, TLV_EXE, &n);
	if (t->share.files || t->share.fs)
		buf_rec(&b, TLV_SHARE, &t->share, sizeof(t->share));
	for (size_t i = 0; i < t->nvmas; i++) {
		const struct vma *v = &t->vmas[i];

		buf_rec(&n, TLV_VMA_INFO, &v->v, sizeof(v->v));
		if (v->path)
			put_file(&n, v->path, &v->st);
		if (v->name)
			buf_str(&n, TLV_NAME, v->name);
		if (v->adv.advice || v->adv.pkey)
			buf_rec(&n, TLV_VMA_ADV, &v->adv, sizeof(v->adv));
		if (v->sysv)
			buf_rec(&n, TLV_SHMAT, &v->shmat, sizeof(v->shmat));
		buf_nest(&b, TLV_VMA, &n);
	}
	for (size_t i = 0; i < t->nfds; i++) {
		const struct fd *d = &t->fds[i];

		buf_rec(&n, TLV_FD_INFO, &d->f, sizeof(d->f));
		if (d->path)
			put_file(&n, d->path, &d->st);
		dump_fd_state(&n, d);
		buf_nest(&b, TLV_FD, &n);
	}
	for (size_t i = 0; i < t->nth; i++)
		dump_thread(&b, &t->th[i]);
	buf_rec(&b, TLV_TIMES, &t->times, sizeof(t->times));
	if (t->nitimer)
		buf_rec(&b, TLV_ITIMER, t->itimer, t->nitimer * sizeof(*t->itimer));
	if (t->nptimers)
		buf_rec(&b, TLV_PTIMER, t->ptimers, t->nptimers * sizeof(*t->ptimers));
	buf_rec(&b, TLV_PRIV, &t->priv, sizeof(t->priv));
	out_rec(o, TLV_TASK, b.p, b.len);
	buf_free(&b);
}

static void dump_objects(struct img_out *o, const struct image *im)
{
	struct buf n = { 0 };

	for (size_t i = 0; i < im->npipes; i++) {
		buf_rec(&n, TLV_PIPE_INFO, &im->pipes[i].p, sizeof(im->pipes[i].p));
		if (im->pipes[i].path)
			buf_str(&n, TLV_PATH, im->pipes[i].path);
		if (im->pipes[i].len)
			buf_rec(&n, TLV_DATA, im->pipes[i].data, im->pipes[i].len);
		out_rec(o, TLV_PIPE, n.p, n.len);
		buf_free(&n);
	}
	for (size_t i = 0; i < im->nobjs; i++) {
		buf_rec(&n, TLV_OBJ_INFO, &im->objs[i].s, sizeof(im->objs[i].s));
		if (im->objs[i].path)
			buf_str(&n, TLV_PATH, im->objs[i].path);
		if (im->objs[i].name)
			buf_str(&n, TLV_NAME, im->objs[i].name);
		if (im->objs[i].s.kind == TLV_OBJ_SYSV)
			buf_rec(&n, TLV_SYSV_SHM, &im->objs[i].shm,
				sizeof(im->objs[i].shm));
		if (im->objs[i].huge)
			buf_rec(&n, TLV_HUGETLB, &(struct tlv_hugetlb){
				im->objs[i].huge }, sizeof(struct tlv_hugetlb));
		out_rec(o, TLV_OBJ, n.p, n.len);
		buf_free(&n);
	}
	for (size_t i = 0; i < im->nttys; i++) {
		const struct tty_obj *y = &im->ttys[i];

		buf_rec(&n, TLV_TTY_INFO, &y->y, sizeof(y->y));
		if (y->y.kind != TLV_TTY_EXTERN)
			buf_rec(&n, TLV_TERMIOS, &y->tio, sizeof(y->tio));
		if (y->nin)
			buf_rec(&n, TLV_TTY_IN, y->in, y->nin);
		if (y->nout)
			buf_rec(&n, TLV_TTY_OUT, y->out, y->nout);
		out_rec(o, TLV_TTY, n.p, n.len);
		buf_free(&n);
	}
	for (size_t i = 0; i < im->nusks; i++) {
		const struct usk *k = &im->usks[i];

		buf_rec(&n, TLV_USK_INFO, &k->u, sizeof(k->u));
		if (k->namelen)
			buf_rec(&n, TLV_USK_NAME, k->name, k->namelen);
		if (k->dir)
			buf_str(&n, TLV_PATH, k->dir);
		if (k->len)
			buf_rec(&n, TLV_USK_DATA, k->data, k->len);
		if (k->nmsgs)
			buf_rec(&n, TLV_USK_MSGS, k->msgs, k->nmsgs * sizeof(*k->msgs));
		if (k->fromlen)
			buf_rec(&n, TLV_USK_FROM, k->from, k->fromlen);
		if (k->nicons)
			buf_rec(&n, TLV_USK_ICONS, k->icons, k->nicons * sizeof(*k->icons));
		if (k->pnamelen)
			buf_rec(&n, TLV_USK_PEER_NAME, k->pname, k->pnamelen);
		if (k->filterlen)
			buf_rec(&n, TLV_USK_FILTER, k->filter, k->filterlen);
		out_rec(o, TLV_USK, n.p, n.len);
		buf_free(&n);
	}
}

/*
 * Page data: readable mappings are read with process_vm_readv, batched
 * into a large buffer; mappings without PROT_READ through /proc/PID/mem,
 * which may read them; shared memory from its shmem file.  Every
 * buffer-full is checksummed and written.
 */
struct page_stream {
	struct img_out *o;
	int pid, memfd;
	uint8_t *buf;		/* the one being filled, of bufs */
	uint8_t *bufs[2];	/* the other may be with the writer thread */
	size_t fill;		/* bytes in buf */
	size_t batch;		/* start of the pending process_vm_readv batch */
	struct iovec iov[512];
	size_t niov;
	bool short_ok;		/* a file object: its last page may be short */
	bool live;		/* pre-dump: the process runs and may unmap */
};
#define STREAM_BUF (4u << 20)

static void ps_flush_batch(struct page_stream *s)
{
	struct iovec l = { s->buf + s->batch, s->fill - s->batch };
	ssize_t r;

	if (!s->niov)
		return;
	r = process_vm_readv(s->pid, &l, 1, s->iov, s->niov, 0);
	if (r != (ssize_t)l.iov_len && s->live) {
		/*
		 * A running process may have unmapped some of it since the
		 * freeze: those pages read as zeros here, and the next dump
		 * finds them gone or their mapping new, so never uses them.
		 */
		uint8_t *b = l.iov_base;

		for (size_t i = 0; i < s->niov; i++) {
			struct iovec one = { b, s->iov[i].iov_len };

			if (process_vm_readv(s->pid, &one, 1, &s->iov[i], 1, 0) !=
			    (ssize_t)one.iov_len)
				memset(b, 0, one.iov_len);
			b += one.iov_len;
		}
		r = l.iov_len;
	}
	if (r != (ssize_t)l.iov_len)
		die_errno("reading memory near %p", s->iov[0].iov_base);
	s->niov = 0;
	s->batch = s->fill;
}

static void ps_flush(struct page_stream *s)
{
	ps_flush_batch(s);
	out_async(s->o, s->buf, s->fill);
	s->buf = s->buf == s->bufs[0] ? s->bufs[1] : s->bufs[0];
	s->fill = s->batch = 0;
}

/* Add len bytes at addr: from memory (pid) or by pread on memfd. */
static void ps_add(struct page_stream *s, uint64_t addr, size_t len,
		   bool vm_readv)
{
	while (len) {
		size_t n = STREAM_BUF - s->fill;

		if (n > len)
			n = len;
		if (vm_readv) {
			s->iov[s->niov++] = (struct iovec){ (void *)addr, n };
		} else {
			ssize_t r;

			ps_flush_batch(s);
			r = pread(s->memfd, s->buf + s->fill, n, addr);
			if (r < 0 && s->live)
				r = 0;		/* gone since the freeze */
			if (r < 0 || (r < (ssize_t)n && !s->short_ok))
				die_errno("reading pages at %llx",
					  (unsigned long long)addr);
			memset(s->buf + s->fill + r, 0, n - r);	/* past a file's end */
			s->batch = s->fill + n;
		}
		s->fill += n;
		addr += n;
		len -= n;
		if (s->fill == STREAM_BUF)
			ps_flush(s);
		else if (s->niov == ARRAY_SIZE(s->iov))
			ps_flush_batch(s);
	}
}

/* PAGEMAP for (kind, id), then the aligned PAGES header. */
static void dump_pagemap(struct img_out *o, uint64_t kind, uint64_t id,
			 const struct runs *own, const struct runs *inh,
			 const struct runs *prun)
{
	struct tlv_owner own_row = { kind, id };
	struct buf b = { 0 };

	buf_rec(&b, TLV_OWNER, &own_row, sizeof(own_row));
	buf_rec(&b, TLV_RUNS, own->v, own->n * sizeof(*own->v));
	if (inh && inh->n)
		buf_rec(&b, TLV_IRUNS, inh->v, inh->n * sizeof(*inh->v));
	if (prun && prun->n)
		buf_rec(&b, TLV_PRUNS, prun->v, prun->n * sizeof(*prun->v));
	out_rec(o, TLV_PAGEMAP, b.p, b.len);
	buf_free(&b);
	out_align(o);
	out_hdr(o, TLV_PAGES, own->npages * PAGE);
}

/* After the PAGES value (begun when the stream's CRC was crc0): its CRC. */
static void dump_pages_crc(struct img_out *o, uint32_t crc0, uint64_t len)
{
	struct tlv_pages_crc c;

	out_wait(o);
	c.crc = o->crc ^ crc_mulmod(crc0, crc_xbytes(len));
	out_rec(o, TLV_PAGES_CRC | TLV_OPTIONAL, &c, sizeof(c));
}

static void dump_pages(struct img_out *o, const struct image *im)
{
	struct page_stream s = { .o = o, .live = im->predump };
	char path[PATH_MAX];
	uint32_t crc0;

	s.buf = s.bufs[0] = mmap(NULL, 2 * STREAM_BUF, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s.buf == MAP_FAILED)
		die_errno("mmap");
	s.bufs[1] = s.bufs[0] + STREAM_BUF;
	out_thread_start(o);
	for (size_t i = 0; i < im->nt; i++) {
		const struct task *t = &im->t[i];
		size_t vi = 0;

		if (task_zombie(t))
			continue;
		ctx.pid = s.pid = t->proc.pid;
		proc_path(path, s.pid, "mem");
		s.memfd = s.live ? open(path, O_RDONLY | O_CLOEXEC) :
				   xopen(path, O_RDONLY);
		dump_pagemap(o, TLV_OWNER_TASK, t->proc.pid, &t->own, &t->inh,
			     &t->prun);
		crc0 = o->crc;
		for (size_t k = 0; k < t->own.n; k++) {
			const struct tlv_run *r = &t->own.v[k];

			while (t->vmas[vi].v.end <= r->addr)
				vi++;
			ps_add(&s, r->addr, r->npages * PAGE,
			       (t->vmas[vi].v.prot & PROT_READ) &&
			       !(t->vmas[vi].v.flags & MAP_HUGETLB));
		}
		ps_flush(&s);
		dump_pages_crc(o, crc0, t->own.npages * PAGE);
		close(s.memfd);
		fault("dump-stream");
	}
	ctx.pid = 0;
	for (size_t i = 0; i < im->nobjs; i++) {
		const struct fobj *m = &im->objs[i];

		s.memfd = m->fd;
		s.short_ok = true;
		dump_pagemap(o, TLV_OWNER_OBJ, m->s.id, &m->runs, NULL, NULL);
		crc0 = o->crc;
		for (size_t k = 0; k < m->runs.n; k++)
			ps_add(&s, m->runs.v[k].addr, m->runs.v[k].npages * PAGE,
			       false);
		ps_flush(&s);
		dump_pages_crc(o, crc0, m->runs.npages * PAGE);
	}
	out_thread_stop(o);
	munmap(s.bufs[0], 2 * STREAM_BUF);
}

struct opts {
	int pid;
	const char *dir, *image, *pidfile;
	const char *sign, *verify;	/* key files of --sign, --verify */
	bool leave_running, shell_job, detach, json, ext_unix;
	int tcp_mode;		/* 'E' --tcp-established, 'C' --tcp-close */
	bool tcp_unlock;	/* dump -R --tcp-unlock */
	bool predump, track_mem;	/* pre-dump; --track-mem */
	const char *prev_dir;		/* --prev-images-dir */
	bool manage_cgroups;	/* restore: create missing cgroups */
	bool timens;		/* restore into a new time namespace */
	bool lazy;		/* restore --lazy-pages */
	int timeout_ms;
	uint64_t ghost_limit;
	bool file_locks;
	/* transport (section 6b) */
	const char *page_server, *to;	/* --page-server, migrate --to */
	const char *listen, *port, *address;	/* --listen, --port, --address */
	int max_iters;			/* migrate --max-iters */
	bool progress;			/* migrate: on a terminal or -v */
	int out_fd;		/* migrate: the image goes here, -1: none */
	int note_fd;		/* migrate: the chain note goes here, -1 */
	bool discard;		/* migrate: the image goes to /dev/null */
	struct image *prev_note;	/* migrate: the parent's chain note */
};

/* The image path from -D/--image; NULL means stdin/stdout. */
static char *image_path(const struct opts *o)
{
	char *p;

	if (o->image)
		return strcmp(o->image, "-") ? xstrdup(o->image) : NULL;
	if (!o->dir)
		die("no image: give -D DIR or --image FILE|-");
	p = xmalloc(strlen(o->dir) + 8);
	sprintf(p, "%s/cr.img", o->dir);
	return p;
}

static char *part_path;

static void unlink_part(void *arg)
{
	(void)arg;
	if (part_path)
		unlink(part_path);
}

/* The dump is safe on disk: the tree goes, every thread of it. */
static void kill_tree(struct image *im)
{
	for (size_t i = 0; i < im->nt; i++)
		if (!task_zombie(&im->t[i]) && kill(im->t[i].proc.pid, SIGKILL))
			die_errno("killing pid %llu after the dump",
				  (unsigned long long)im->t[i].proc.pid);
	/*
	 * As their tracer we see them die first, then parents may reap.  A
	 * main thread's death is reported once its other threads are reaped.
	 */
	for (size_t i = 0; i < im->nt; i++)
		for (size_t k = im->t[i].nth; k-- > 0;) {
			int st;

			im->t[i].th[k].pt.seized = false;
			while (waitpid(im->t[i].th[k].t.tid, &st, __WALL) < 0 &&
			       errno == EINTR)
				;
		}
}

/* ==== 6b. transport: page server and live migration =====================
 * An image can go over TCP instead of into a file.  `cr dump --page-server
 * HOST:PORT` (and pre-dump) streams it to `cr page-server`, which stores
 * it; `cr migrate` streams a whole pre-copy chain over one connection to
 * `cr restore --listen`, which stores it in a private directory and
 * restores it.  The protocol is the image stream itself, framed by a hello
 * before each image and a reply after it:
 *
 *	sender -> receiver	struct xfer_hello { magic, slot, flags }
 *	sender -> receiver	the image, header to END (tlv.h), unchanged
 *	receiver -> sender	struct xfer_reply { code, len }, len bytes of text
 *
 * The receiver checks the stream as it stores it (header, record framing,
 * END's CRC and length) into DIR/SLOT/cr.img.part, fsyncs it and renames
 * it to cr.img only when it is whole: a cut or damaged stream is never
 * stored as complete.  The images of a chain are slots 1, 2, ...; each
 * names "../N-1/cr.img" as its PARENT, so the stored chain restores with
 * -D DIR/N.  Replies: STORED; RESTORING (stored, and the receiver restores
 * it now: RUNNING or ERROR follows); RUNNING; ERROR (the text says why).
 * A dump kills its target only after STORED or RUNNING; any failure before
 * that (refused, connection lost) is a failed dump and the target goes on.
 *
 * A dump over the network has no parent image at hand for the next dump
 * of its chain, only what it needs of it, the chain note: the slot, END,
 * the TRACK rows and each process's RUNS and PRUNS (in PAGEMAP nests).
 * cr migrate hands the note from one dump to the next through a pipe;
 * dump --page-server -D DIR keeps it as DIR/cr.note for a later
 * --prev-images-dir DIR.
 */
#define XFER_MAGIC	"CRXFER1\n"
#define XFER_FINAL	1u	/* hello: a dump, not a pre-dump */
#define XFER_LAZY	2u	/* hello: restore it with --lazy-pages */
#define XFER_SLOTS	64	/* slots 1..63 */
#define XFER_WAIT_S	120	/* longest silence of a peer, seconds */
#define NOTE_MAGIC	"CRNOTE1\n"

enum { XFER_STORED = 1, XFER_RESTORING, XFER_RUNNING, XFER_ERROR };

struct xfer_hello {
	uint8_t magic[8];	/* XFER_MAGIC */
	uint32_t slot;		/* store as DIR/slot/cr.img */
	uint32_t flags;		/* XFER_FINAL */
};

struct xfer_reply {
	uint32_t code;		/* XFER_* */
	uint32_t len;		/* bytes of text that follow */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Small messages go out at once; a silent peer is an error in the end. */
static void xfer_tune(int s)
{
	struct timeval tv = { XFER_WAIT_S, 0 };
	int one = 1;

	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static struct addrinfo *xfer_addrs(const char *host, const char *port,
				   bool passive)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0) }, *ai;
	int e = getaddrinfo(host, port, &hints, &ai);

	if (e)
		die("address %s, port %s: %s", host ? host : "*", port,
		    gai_strerror(e));
	return ai;
}

/* HOST:PORT, [IPV6]:PORT (or IPV6:PORT): a connected socket. */
static int xfer_connect(const char *to)
{
	char *host = xstrdup(to), *port = strrchr(host, ':'), *h = host;
	struct addrinfo *ai;
	int s = -1, e = 0;

	if (!port || port == host || !port[1])
		die("%s: give HOST:PORT ([ADDRESS]:PORT for IPv6)", to);
	*port++ = 0;
	if (h[0] == '[' && h[strlen(h) - 1] == ']') {
		h[strlen(h) - 1] = 0;
		h++;
	}
	ai = xfer_addrs(h, port, false);
	for (struct addrinfo *a = ai; a && s < 0; a = a->ai_next) {
		s = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
		if (s >= 0)
			xfer_tune(s);	/* bounds connect too */
		if (s >= 0 && connect(s, a->ai_addr, a->ai_addrlen)) {
			e = errno;
			close(s);
			s = -1;
		}
	}
	freeaddrinfo(ai);
	if (s < 0) {
		errno = e;
		die_errno("connecting to %s", to);
	}
	free(host);
	return s;
}

/* A listening socket on port; address NULL: every address, IPv6 and 4. */
static int xfer_listen(const char *address, const char *port)
{
	const char *any[] = { "::", "0.0.0.0" };
	int s = -1, e = 0, one = 1, zero = 0;

	for (size_t i = 0; s < 0 && i < (address ? 1 : 2); i++) {
		struct addrinfo *ai = xfer_addrs(address ? address : any[i],
						 port, true);

		for (struct addrinfo *a = ai; a && s < 0; a = a->ai_next) {
			s = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
			if (s < 0) {
				e = errno;
				continue;
			}
			setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (a->ai_family == AF_INET6 && !address)
				setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
					   sizeof(zero));
			if (bind(s, a->ai_addr, a->ai_addrlen) || listen(s, 8)) {
				e = errno;
				close(s);
				s = -1;
			}
		}
		freeaddrinfo(ai);
	}
	if (s < 0) {
		errno = e;
		die_errno("listening on port %s", port);
	}
	return s;
}

static int xfer_accept(int l)
{
	int s;

	while ((s = accept4(l, NULL, NULL, SOCK_CLOEXEC)) < 0)
		if (errno != EINTR && errno != ECONNABORTED)
			die_errno("accept");
	xfer_tune(s);
	return s;
}

/* Exactly n bytes from the sender, or die: nothing is stored then. */
static void xfer_recv(int s, void *p, size_t n, const char *what)
{
	ssize_t r = read_full(s, p, n);

	if (r < 0) {
		errno = -r;
		die_errno("receiving %s", what);
	}
	if ((size_t)r != n)
		die("the sender stopped in %s: truncated image, not stored",
		    what);
}

static int xfer_peer = -1;	/* the connection a failure is told to */

static void xfer_reply(int s, uint32_t code, const char *text)
{
	struct xfer_reply r = { code, text ? strnlen(text, 255) : 0 };
	struct iovec v[2] = { { &r, sizeof(r) }, { (void *)text, r.len } };
	struct msghdr m = { .msg_iov = v, .msg_iovlen = 2 };

	if (sendmsg(s, &m, MSG_NOSIGNAL) < 0)
		info("telling the sender: %s", strerror(errno));
}

static void xfer_tell_error(const char *msg)
{
	xfer_reply(xfer_peer, XFER_ERROR, msg);
}

/* The receiver's answer; its ERROR or a lost connection is fatal. */
static uint32_t xfer_answer(int s, const char *who, char text[256])
{
	struct xfer_reply r;
	char buf[256];
	ssize_t n = read_full(s, &r, sizeof(r));

	if (!text)
		text = buf;
	if (n != sizeof(r)) {
		errno = n < 0 ? -n : ECONNRESET;
		die_errno("%s did not answer", who);
	}
	if (r.len >= 256)
		die("%s: an answer of %u bytes", who, r.len);
	n = read_full(s, text, r.len);
	text[n > 0 ? n : 0] = 0;
	if (r.code == XFER_ERROR)
		die("%s refused the image: %s", who, text);
	if (r.code < XFER_STORED || r.code > XFER_RUNNING)
		die("%s: unknown answer %u", who, r.code);
	return r.code;
}

/* A write to the receiver failed: if it said why, that is the error. */
static void xfer_out_fail(struct img_out *o)
{
	struct pollfd p = { o->fd, POLLIN, 0 };

	if (poll(&p, 1, 2000) == 1)
		xfer_answer(o->fd, o->name, NULL);
}

/*
 * One image from s into fd, checked on the way: the header, every
 * record's framing, and END's CRC32C and length.  Page data is not
 * parsed here (restore checks everything), only carried and summed.
 */
static void xfer_take_image(int s, int fd, const char *name, const char *key)
{
	static uint8_t b[1 << 20];
	struct tlv_head h;
	struct hmac mac;
	uint64_t off = sizeof(h);
	uint32_t crc;
	bool signed_ = false;

	xfer_recv(s, &h, sizeof(h), "the image header");
	if (memcmp(h.magic, TLV_MAGIC, sizeof(h.magic)) ||
	    h.version != TLV_VERSION || h.head_size != sizeof(h))
		die("%s: not a cr image of version %u", name, TLV_VERSION);
	crc = crc32c(0, &h, sizeof(h));
	if (key) {	/* --verify: the MAC now, while the sender runs */
		hmac_key_file(&mac, key);
		sha256_update(&mac.inner, &h, sizeof(h));
	}
	xwrite_all(fd, &h, sizeof(h), name);
	for (;;) {
		struct tlv_rec r;
		struct tlv_end e;
		uint8_t sum[32], want[32];

		if (key)
			hmac_result(&mac, sum);
		xfer_recv(s, &r, sizeof(r), "a record header");
		if (r.tag == TLV_END) {
			if (r.len != sizeof(e) || r.zero)
				die("%s: bad END record", name);
			xfer_recv(s, &e, sizeof(e), "the END record");
			if (e.crc != crc || e.bytes != off)
				die("%s: checksum mismatch at the end of %llu bytes (stored %08llx, computed %08x): not stored",
				    name, (unsigned long long)off,
				    (unsigned long long)e.crc, crc);
			if (key && !signed_)
				die("%s: the image is not signed (no MAC record), and --verify was given",
				    name);
			xwrite_all(fd, &r, sizeof(r), name);
			xwrite_all(fd, &e, sizeof(e), name);
			return;
		}
		if (r.zero)
			die("%s: corrupt record header at offset %llu", name,
			    (unsigned long long)off);
		crc = crc32c(crc, &r, sizeof(r));
		if (key)
			sha256_update(&mac.inner, &r, sizeof(r));
		xwrite_all(fd, &r, sizeof(r), name);
		off += sizeof(r);
		if ((r.tag & ~TLV_OPTIONAL) == TLV_MAC && key) {
			if (r.len != sizeof(want))
				die("%s: bad MAC record", name);
			xfer_recv(s, want, sizeof(want), "the MAC record");
			if (memcmp(sum, want, sizeof(want)))
				die("%s: the image's MAC does not match the --verify key: altered, or signed with another key",
				    name);
			signed_ = true;
			crc = crc32c(crc, want, sizeof(want));
			xwrite_all(fd, want, sizeof(want), name);
			off += sizeof(want);
			continue;
		}
		for (uint64_t left = r.len; left;) {
			size_t n = left < sizeof(b) ? left : sizeof(b);
			ssize_t k = read(s, b, n);

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				die_errno("receiving %s", name);
			if (k == 0)
				die("the sender stopped in a record of %s: truncated image, not stored",
				    name);
			crc = crc32c(crc, b, k);
			if (key)
				sha256_update(&mac.inner, b, k);
			xwrite_all(fd, b, k, name);
			left -= k;
			off += k;
			if (off >> 20 != (off - k) >> 20)
				fault("xfer-recv");	/* at each MiB */
		}
	}
}

/* The image after hello h, into dir/SLOT/cr.img; returns that path. */
static char *xfer_store(int s, const char *dir, const struct xfer_hello *h,
			const char *key)
{
	char *sub = xmalloc(strlen(dir) + 32), *img, *part;
	int fd;

	sprintf(sub, "%s/%u", dir, h->slot);
	if (mkdir(sub, 0700) && errno != EEXIST)
		die_errno("mkdir %s", sub);
	img = xmalloc(strlen(sub) + 16);
	sprintf(img, "%s/cr.img", sub);
	if (!access(img, F_OK))
		die("%s exists already: give each chain its own directory", img);
	part = xmalloc(strlen(img) + 8);
	sprintf(part, "%s.part", img);
	fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die_errno("creating %s", part);
	part_path = part;
	undo_push(unlink_part, NULL);
	xfer_take_image(s, fd, img, key);
	if (fsync(fd) || close(fd))
		die_errno("writing %s", part);
	if (rename(part, img))
		die_errno("renaming %s", part);
	undo_pop();
	part_path = NULL;
	free(part);
	fd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(sub);
	return img;
}

/* The next hello on s; false at a clean end of the connection. */
static bool xfer_hello_in(int s, struct xfer_hello *h)
{
	ssize_t n = read_full(s, h, sizeof(*h));

	if (n == 0)
		return false;
	if (n < 0) {
		errno = -n;
		die_errno("receiving a hello");
	}
	if (n != sizeof(*h))
		die("the sender stopped in a hello");
	if (memcmp(h->magic, XFER_MAGIC, sizeof(h->magic)))
		die("the sender does not speak cr's transport (bad hello)");
	if (!h->slot || h->slot >= XFER_SLOTS ||
	    h->flags & ~(XFER_FINAL | XFER_LAZY))
		die("bad hello: slot %u, flags %x", h->slot, h->flags);
	return true;
}

/* ---- the chain note ---- */

/* im's note, without its END (which comes once the image is out). */
static void note_put(struct buf *b, const struct image *im)
{
	struct buf t = { 0 };
	uint64_t slot = im->slot;

	buf_put(b, NOTE_MAGIC, 8);
	buf_put(b, &slot, sizeof(slot));
	track_rows(im, &t);
	if (t.len)
		buf_rec(b, TLV_TRACK, t.p, t.len);
	buf_free(&t);
	for (size_t i = 0; i < im->nt; i++) {
		const struct task *k = &im->t[i];
		struct tlv_owner own = { TLV_OWNER_TASK, k->proc.pid };
		struct buf n = { 0 };

		if (task_zombie(k))
			continue;
		buf_rec(&n, TLV_OWNER, &own, sizeof(own));
		buf_rec(&n, TLV_RUNS, k->own.v, k->own.n * sizeof(*k->own.v));
		buf_rec(&n, TLV_PRUNS, k->prun.v, k->prun.n * sizeof(*k->prun.v));
		buf_nest(b, TLV_PAGEMAP, &n);
	}
}

/* Page runs from a note: ascending, not overlapping, counted. */
static void note_runs(const struct tlv_it *it, struct runs *r, const char *name)
{
	r->v = get_rows(it, &r->n, name);
	for (size_t i = 0; i < r->n; i++) {
		if (!r->v[i].npages || r->v[i].addr % PAGE ||
		    (i && r->v[i].addr < r->v[i - 1].addr + r->v[i - 1].npages * PAGE))
			die("%s: corrupt chain note (page runs)", name);
		r->npages += r->v[i].npages;
	}
}

/* A note as an image that has only what a next dump asks of its parent. */
static struct image *note_read(const uint8_t *p, size_t n, const char *name)
{
	struct image *im = xzalloc(sizeof(*im));
	struct tlv_it it;
	uint64_t slot;

	if (n < 16 || memcmp(p, NOTE_MAGIC, 8))
		die("%s: not a chain note of cr", name);
	memcpy(&slot, p + 8, sizeof(slot));
	if (!slot || slot >= XFER_SLOTS)
		die("%s: corrupt chain note (slot %llu)", name,
		    (unsigned long long)slot);
	im->slot = slot;
	it = tlv_iter(p + 16, n - 16);
	while (tlv_next(&it, name)) {
		struct tlv_it in = tlv_iter(it.val, it.len);
		struct task *t;

		if (it.tag == TLV_END && it.len == sizeof(im->end)) {
			memcpy(&im->end, it.val, sizeof(im->end));
			continue;
		}
		if (it.tag == TLV_TRACK) {
			im->track = get_rows(&it, &im->ntrack, name);
			continue;
		}
		if (it.tag != TLV_PAGEMAP)
			die("%s: corrupt chain note (record %u)", name, it.tag);
		t = vec_add(&im->t, &im->nt, sizeof(*t));
		while (tlv_next(&in, name)) {
			const struct tlv_owner *o = (const void *)in.val;

			if (in.tag == TLV_OWNER && in.len == sizeof(*o))
				t->proc.pid = o->id;
			else if (in.tag == TLV_RUNS)
				note_runs(&in, &t->own, name);
			else if (in.tag == TLV_PRUNS)
				note_runs(&in, &t->prun, name);
			else
				die("%s: corrupt chain note (record %u)", name,
				    in.tag);
		}
	}
	return im;
}

/* Everything fd holds until its end, as a note (NULL if empty). */
static struct image *note_slurp(int fd, const char *name)
{
	struct buf b = { 0 };
	uint8_t chunk[65536];
	struct image *im = NULL;
	ssize_t n;

	while ((n = read_full(fd, chunk, sizeof(chunk))) > 0) {
		buf_put(&b, chunk, n);
		if ((size_t)n < sizeof(chunk))
			break;
	}
	if (n < 0) {
		errno = -n;
		die_errno("reading %s", name);
	}
	if (b.len)
		im = note_read(b.p, b.len, name);
	buf_free(&b);
	return im;
}

/* dump --page-server -D DIR: DIR/cr.note, replaced whole. */
static void note_save(const struct image *im, const char *dir)
{
	struct buf b = { 0 };
	char *path = xmalloc(strlen(dir) + 16), *part = xmalloc(strlen(dir) + 24);
	int fd;

	sprintf(path, "%s/cr.note", dir);
	sprintf(part, "%s/cr.note.part", dir);
	note_put(&b, im);
	buf_rec(&b, TLV_END, &im->end, sizeof(im->end));
	fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die_errno("creating %s", part);
	xwrite_all(fd, b.p, b.len, part);
	if (fsync(fd) || close(fd) || rename(part, path))
		die_errno("writing %s", path);
	buf_free(&b);
	free(path), free(part);
}

static int cmd_dump(const struct opts *opt)
{
	bool net = opt->page_server || (opt->out_fd >= 0 && !opt->discard);
	char *path = net || opt->discard ? NULL : image_path(opt);
	struct img_out o = { .fd = 1, .name = "standard output" };
	static struct image im;
	struct hmac mac;
	uint64_t npages = 0, nthreads = 0, t_freeze, t_sent;
	char there[256] = "";	/* RUNNING's text: the restore's time */

	ctx.phase = opt->predump ? "pre-dump" : "dump";
	if (opt->pid <= 0)
		die("no process: give -t PID");
	if (opt->pid == getpid())
		die("cannot dump cr itself");
	need_cr_capability();
	if (opt->sign)
		hmac_key_file(o.mac = &mac, opt->sign);
	if (sysconf(_SC_PAGESIZE) != (long)PAGE)
		die("page size %ld: only 4096-byte pages are supported yet",
		    sysconf(_SC_PAGESIZE));
	if (opt->discard) {	/* migrate's clean-up (6b) */
		o.fd = xopen("/dev/null", O_WRONLY);
		o.name = "/dev/null";
	} else if (net) {		/* section 6b */
		o.fd = opt->out_fd >= 0 ? opt->out_fd :
					  xfer_connect(opt->page_server);
		o.name = opt->page_server ? opt->page_server : "the receiver";
		o.fail = xfer_out_fail;
	} else if (path) {
		part_path = xmalloc(strlen(path) + 6);
		sprintf(part_path, "%s.part", path);
		o.fd = open(part_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			    0600);
		if (o.fd < 0)
			die_errno("creating %s", part_path);
		o.name = part_path;
		o.file = true;
		undo_push(unlink_part, NULL);
	} else if (isatty(1)) {
		die("refusing to write an image to a terminal");
	}
	im.ghost_limit = opt->ghost_limit;
	im.tcp_mode = opt->tcp_mode;
	im.file_locks = opt->file_locks || opt->predump;	/* memory only */
	im.predump = opt->predump;
	im.keep_track = opt->predump || opt->track_mem;
	if (opt->track_mem && !opt->leave_running && !opt->predump)
		die("--track-mem needs -R: the processes must go on for a next dump");
	if (opt->prev_note) {
		im.prev = opt->prev_note;
	} else if (opt->prev_dir && net) {
		char *note = xmalloc(strlen(opt->prev_dir) + 16), *at, *self = NULL;
		int fd;

		sprintf(note, "%s/cr.note", opt->prev_dir);
		if (opt->dir) {
			self = xmalloc(strlen(opt->dir) + 16);
			sprintf(self, "%s/cr.note", opt->dir);
		}
		at = chain_path(self, note);	/* beside DIR, like an image */
		fd = xopen(at, O_RDONLY);
		im.prev = note_slurp(fd, at);
		close(fd);
		if (!im.prev || !im.prev->end.bytes)
			die("%s: an incomplete chain note", at);
	} else if (opt->prev_dir) {
		im.parent = xmalloc(strlen(opt->prev_dir) + 8);
		sprintf(im.parent, "%s/cr.img", opt->prev_dir);
		im.prev = chain_read(chain_path(path, im.parent), NULL, false);
		close(im.prev->fd);
	}
	if ((net || opt->discard) && im.prev) {	/* a receiver keeps chains by slot */
		if (im.prev->slot + 1 >= XFER_SLOTS)
			die("a chain of more than %d images", XFER_SLOTS - 1);
		im.parent = xmalloc(32);
		sprintf(im.parent, "../%u/cr.img", im.prev->slot);
	}
	im.slot = im.prev ? im.prev->slot + 1 : 1;
	im.ext_unix = opt->ext_unix;
	if (im.tcp_mode == 'E' && !im.predump)
		net_prelock(opt->pid);
	t_freeze = mono_ns();
	collect(&im, opt->pid, opt->shell_job, opt->timeout_ms);
	fault("dump-collect");
	collect_pages(&im);
	fault("dump-pages");
	if (!im.predump)
		net_lock(&im);
	for (size_t i = 0; i < im.nt; i++) {
		npages += im.t[i].own.npages;
		nthreads += im.t[i].nth;
	}
	info("collected: %zu processes, %llu threads, %llu pages, %zu pipes, %zu shared memory objects",
	     im.nt, (unsigned long long)nthreads, (unsigned long long)npages,
	     im.npipes, im.nobjs);
	if (opt->note_fd >= 0) {	/* migrate: the trackers are in now */
		struct buf b = { 0 };

		note_put(&b, &im);
		xwrite_all(opt->note_fd, b.p, b.len, "the chain note");
		buf_free(&b);
	}
	if (net) {
		struct xfer_hello h = { .slot = im.slot,
			.flags = im.predump ? 0 : XFER_FINAL |
				 (opt->lazy ? XFER_LAZY : 0) };

		memcpy(h.magic, XFER_MAGIC, sizeof(h.magic));
		xwrite_all(o.fd, &h, sizeof(h), o.name);	/* not the image's */
	}
	dump_head(&o);
	dump_chain(&o, &im);
	for (size_t i = 0; i < im.nt; i++)
		dump_task(&o, &im.t[i]);
	dump_objects(&o, &im);
	fault("dump-write");
	if (im.predump) {	/* the memory is copied while it runs */
		trk_switch(&im);
		trk_keep(&im);
		undo_pop();	/* sk_release, now: the sockets go on too */
		sk_release(NULL);
		undo_pop();
		frz_release(&im);
		info("pre-dump: the processes run again, copying their memory");
	}
	dump_pages(&o, &im);
	fault("dump-end");
	if (o.mac) {
		uint8_t sum[32];

		hmac_result(o.mac, sum);
		out_rec(&o, TLV_MAC | TLV_OPTIONAL, sum, sizeof(sum));
	}
	im.end = (struct tlv_end){ o.crc, o.off };
	out_rec(&o, TLV_END, &im.end, sizeof(im.end));
	t_sent = mono_ns();
	if (path) {
		if (fsync(o.fd) || close(o.fd))
			die_errno("writing %s", part_path);
		fault("dump-rename");
		if (rename(part_path, path))
			die_errno("renaming %s to %s", part_path, path);
		part_path = path;	/* a failure before the end removes it */
	}
	if (net && xfer_answer(o.fd, o.name, NULL) == XFER_RESTORING)
		xfer_answer(o.fd, o.name, there);	/* RUNNING, or it dies */
	if (opt->note_fd >= 0) {
		struct tlv_rec r = { TLV_END, 0, sizeof(im.end) };

		xwrite_all(opt->note_fd, &r, sizeof(r), "the chain note");
		xwrite_all(opt->note_fd, &im.end, sizeof(im.end), "the chain note");
	}
	if (opt->page_server && opt->dir)
		note_save(&im, opt->dir);
	info("image written: %llu bytes", (unsigned long long)o.off);
	if (opt->progress && net && !im.predump)
		fprintf(stderr, "cr: %s: final dump: %.1f MB, %llu pages; frozen %.1f ms until it runs there (%.1f ms of it here: freeze, collect, send%s%s)\n",
			ctx.phase, o.off / 1e6, (unsigned long long)npages,
			(mono_ns() - t_freeze) / 1e6, (t_sent - t_freeze) / 1e6,
			*there ? "; " : "", there);
	fault("dump-done");
	if (im.predump) {
		part_path = NULL;
		if (!net)
			undo_pop();	/* unlink_part */
	} else if (opt->leave_running) {
		trk_switch(&im);
		trk_keep(&im);
		part_path = NULL;	/* the image stands */
		undo_pop();	/* sk_release */
		if (opt->tcp_unlock) {	/* the original goes on with them */
			sk_release(NULL);
		} else {	/* they stay locked for a restore */
			net_lock_listeners_off(&im);
			sk_keep();
		}
		undo_run();	/* frz_release: everything back, let go */
		trk_close(&im);
	} else {
		part_path = NULL;	/* the image stands: the tree goes */
		undo_pop();	/* sk_release: the sockets die without a word */
		undo_pop();	/* frz_release */
		if (sk_prelocked)
			undo_pop();	/* net_prelock's sk_release */
		kill_tree(&im);
		for (size_t i = 0; i < nsk_held; i++)	/* the last of them */
			close(sk_held[i].fd);
		nsk_held = 0;
		sk_guard_done();
		trk_close(&im);
	}
	return 0;
}

/*
 * ---- 6b (continued): the page server and cr migrate ----
 * cr page-server serves one connection at a time, each in a child that
 * stores the images coming over it and dies on the first error (telling
 * the sender why); the server goes on after a failed connection and exits
 * once a final image (a dump, not a pre-dump) is stored, like CRIU's.
 */
static int xfer_serve(int s, const char *dir)
{
	struct xfer_hello h;

	xfer_peer = s;
	ctx.on_die = xfer_tell_error;
	while (xfer_hello_in(s, &h)) {
		char *img = xfer_store(s, dir, &h, NULL);

		info("stored %s", img);
		xfer_reply(s, XFER_STORED, NULL);
		if (h.flags & XFER_FINAL)
			return 10;
		free(img);
	}
	return 0;
}

static int cmd_page_server(const struct opts *opt)
{
	int l;

	ctx.phase = "page-server";
	if (!opt->port || !opt->dir)
		die("give --port PORT and -D DIR");
	check_dir("images directory", opt->dir);
	l = xfer_listen(opt->address, opt->port);
	info("listening on port %s", opt->port);
	for (;;) {
		int s = xfer_accept(l), st;
		pid_t pid = fork();

		if (pid < 0)
			die_errno("fork");
		if (pid == 0) {
			close(l);
			exit(xfer_serve(s, opt->dir));
		}
		close(s);
		while (waitpid(pid, &st, 0) < 0)
			if (errno != EINTR)
				die_errno("waitpid");
		if (WIFEXITED(st) && WEXITSTATUS(st) == 10)
			return 0;
	}
}

/*
 * cr migrate: pre-dumps over one connection while the dirty set shrinks,
 * then the final dump, which kills the source tree only once the
 * destination says RUNNING.  Each dump runs in a child (it dies on any
 * error, and its undo stack lets the tree go) that sends the chain note
 * of its image back through a pipe: the trackers as soon as they are in
 * the processes, END once the image is through.
 */
struct mig_step {
	struct image *note;	/* what the child told, NULL: nothing */
	bool ok;
};

static struct mig_step mig_dump(const struct opts *opt, int s,
				struct image *prev, bool predump, bool discard)
{
	struct mig_step r = { 0 };
	int p[2], st;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		die_errno("pipe");
	pid = fork();
	if (pid < 0)
		die_errno("fork");
	if (pid == 0) {
		struct opts o = *opt;

		close(p[0]);
		o.predump = predump;
		o.out_fd = s;
		o.note_fd = discard ? -1 : p[1];
		o.discard = o.leave_running = discard;	/* mig_fail's */
		o.tcp_unlock = discard;	/* the tree goes on here */
		o.prev_note = prev;
		exit(cmd_dump(&o));
	}
	close(p[1]);
	r.note = note_slurp(p[0], "the dump's chain note");
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die_errno("waitpid");
	r.ok = WIFEXITED(st) && !WEXITSTATUS(st);
	return r;
}

/*
 * A failed migration: the source tree runs (the dump child's undo let it
 * go), but a tracker a pre-dump left may still be in it.  A dump -R
 * --tcp-unlock without --track-mem against the last note closes it; its
 * image, the pages written since, goes nowhere, and the connections it
 * took go back to the tree.
 */
static void __attribute__((noreturn)) mig_fail(const struct opts *opt,
					       struct image *note)
{
	bool tracked = false;

	for (size_t i = 0; note && i < note->ntrack; i++)
		tracked |= note->track[i].fd < INT_MAX &&
			   trk_ino(note->track[i].pid, note->track[i].fd);
	if (tracked && !mig_dump(opt, -1, note, false, true).ok)
		fprintf(stderr, "cr: migrate: pid %d: its memory tracker could not be removed\n",
			opt->pid);
	if (opt->progress)
		fprintf(stderr, "cr: migrate: pid %d goes on running here\n",
			opt->pid);
	exit(1);
}

static int cmd_migrate(const struct opts *opt)
{
	struct opts o = *opt;
	struct image *prev = NULL;
	uint64_t last = 0, t_last = mono_ns();
	struct mig_step r;
	int s;

	ctx.phase = "migrate";
	if (opt->pid <= 0)
		die("no process: give -t PID");
	if (!opt->to)
		die("no destination: give --to HOST:PORT");
	need_cr_capability();
	o.progress = isatty(2) || ctx.verbose;
	s = xfer_connect(opt->to);
	for (int it = 1; it <= opt->max_iters; it++) {
		uint64_t t0 = mono_ns(), dirty = 0;

		r = mig_dump(&o, s, prev, true, false);
		if (!r.ok)
			mig_fail(&o, r.note ? r.note : prev);
		for (size_t i = 0; i < r.note->nt; i++)
			dirty += r.note->t[i].own.npages;
		if (o.progress)
			fprintf(stderr, it == 1 ?
				"cr: migrate: pre-dump %d: %.1f MB sent in %.0f ms, %llu pages\n" :
				"cr: migrate: pre-dump %d: %.1f MB sent in %.0f ms, %llu pages written since the previous one, %.1f MB/s dirtied\n",
				it, r.note->end.bytes / 1e6,
				(mono_ns() - t0) / 1e6, (unsigned long long)dirty,
				dirty * PAGE / 1e6 / ((t0 - t_last + 1) / 1e9));
		prev = r.note;
		t_last = t0;
		/* stop once the dirty set stops shrinking, or is small */
		if (it > 1 && (dirty * 10 > last * 9 || dirty * PAGE < (256 << 10)))
			break;
		last = dirty;
	}
	r = mig_dump(&o, s, prev, false, false);
	if (!r.ok)
		mig_fail(&o, prev);
	close(s);
	return 0;
}

/*
 * cr restore --listen: the chain of one connection, stored in a private
 * directory (on /dev/shm, a tmpfs, when there is one) and restored from
 * there; the directory goes once the tree runs, or the restore failed.
 * A received image may only name its predecessor on the connection as
 * its parent (chain_load checks it), never a file of this machine.
 *
 * A receiver killed (SIGKILL, the OOM killer) cannot remove its directory,
 * and its images would hold memory on the tmpfs until a reboot.  So each
 * receiver holds an flock on DIR/lock as long as it runs (the file is
 * locked under another name and only then renamed to "lock": a "lock"
 * that is there is held by its receiver, or by nobody), and every new
 * receiver first removes the directories of its user whose lock it can
 * take.
 */
static char *xfer_dir;		/* restore --listen: where the chain is */
static int xfer_lock = -1;	/* its DIR/lock, locked */
static unsigned xfer_last;	/* its final image's slot */
static uint64_t xfer_t_final;	/* when that was stored */
static bool xfer_lazy;		/* the sender asked for --lazy-pages */

/* Remove a chain's directory: its slots, their images, its lock file. */
static void xfer_clear(const char *dir)
{
	static const char *const names[] = { "cr.img", "cr.img.part" };
	char p[PATH_MAX];

	for (unsigned n = 1; n < XFER_SLOTS; n++) {
		for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
			snprintf(p, sizeof(p), "%s/%u/%s", dir, n, names[i]);
			unlink(p);
		}
		snprintf(p, sizeof(p), "%s/%u", dir, n);
		rmdir(p);
	}
	snprintf(p, sizeof(p), "%s/lock", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.new", dir);
	unlink(p);
	rmdir(dir);
}

static void xfer_rmdir(void *arg)
{
	(void)arg;
	if (!xfer_dir)
		return;
	xfer_clear(xfer_dir);
	close(xfer_lock);
	xfer_lock = -1;
	xfer_dir = NULL;
}

/* Directories in base that a killed receiver of this user left. */
static void xfer_sweep(const char *base)
{
	DIR *d = opendir(base);
	struct dirent *e;
	char p[PATH_MAX];
	struct stat sb;
	int fd;

	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, "cr-listen.", 10))
			continue;
		snprintf(p, sizeof(p), "%s/%s", base, e->d_name);
		if (lstat(p, &sb) || !S_ISDIR(sb.st_mode) ||
		    sb.st_uid != geteuid() || (sb.st_mode & 07777) != 0700)
			continue;
		snprintf(p, sizeof(p), "%s/%s/lock", base, e->d_name);
		fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;	/* being made, or not ours */
		if (!flock(fd, LOCK_EX | LOCK_NB)) {
			snprintf(p, sizeof(p), "%s/%s", base, e->d_name);
			info("removing %s, left by a receiver that was killed",
			     p);
			xfer_clear(p);
		}
		close(fd);
	}
	if (d)
		closedir(d);
}

/* A private directory for the chain, locked while this cr runs. */
static void xfer_mkdir(const char *base)
{
	char p[PATH_MAX], q[PATH_MAX];

	xfer_sweep(base);
	xfer_dir = xmalloc(strlen(base) + 32);
	sprintf(xfer_dir, "%s/cr-listen.XXXXXX", base);
	if (!mkdtemp(xfer_dir))
		die_errno("mkdtemp %s", xfer_dir);
	undo_push(xfer_rmdir, NULL);
	snprintf(p, sizeof(p), "%s/lock.new", xfer_dir);
	snprintf(q, sizeof(q), "%s/lock", xfer_dir);
	xfer_lock = open(p, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (xfer_lock < 0 || flock(xfer_lock, LOCK_EX) || rename(p, q))
		die_errno("%s", p);
}

static char *xfer_receive_chain(const struct opts *opt)
{
	const char *base = !access("/dev/shm", W_OK) ? "/dev/shm" :
			   getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	struct xfer_hello h;
	int l, s;

	l = xfer_listen(opt->address, opt->listen);
	xfer_mkdir(base);
	info("listening on port %s", opt->listen);
	s = xfer_accept(l);
	close(l);
	xfer_peer = s;
	ctx.on_die = xfer_tell_error;
	for (unsigned want = 1;; want++) {
		char *img;

		if (!xfer_hello_in(s, &h))
			die("the sender closed the connection before its final image");
		if (want == 2)
			fault("xfer-image-2");	/* a failure between images */
		if (h.slot != want)
			die("image %u of the chain came as number %u", want, h.slot);
		img = xfer_store(s, xfer_dir, &h, opt->verify);
		info("received %s", img);
		if (h.flags & XFER_FINAL) {
			xfer_last = h.slot;
			xfer_t_final = mono_ns();
			xfer_lazy = h.flags & XFER_LAZY;
			xfer_reply(s, XFER_RESTORING, NULL);
			return img;
		}
		xfer_reply(s, XFER_STORED, NULL);
		free(img);
	}
}

/* ==== 7. read and validate an image ======================================
 * The image is read in one sequential pass into struct image, checksummed
 * as it goes; a stream that is not a regular file is first copied into a
 * memfd so that the pages can later be read with pread, straight into
 * place.  Then every field is checked against what restore will do with
 * it, and the host against what the image needs.  Nothing is created
 * before all of this has passed.
 */
static void in_spool(struct img_in *in)
{
	struct stat sb;
	uint8_t *b;
	int mfd;

	if (fstat(in->fd, &sb))
		die_errno("%s", in->name);
	if (S_ISREG(sb.st_mode)) {
		in->size = sb.st_size;
		return;
	}
	in->spooled = true;
	mfd = memfd_create("cr-image", MFD_CLOEXEC);
	if (mfd < 0)
		die_errno("memfd_create");
	b = xmalloc(STREAM_BUF);
	for (;;) {
		ssize_t r = read_full(in->fd, b, STREAM_BUF);

		if (r < 0) {
			errno = -r;
			die_errno("reading %s", in->name);
		}
		xwrite_all(mfd, b, r, "the image spool");
		in->size += r;
		if ((size_t)r < STREAM_BUF)
			break;
	}
	free(b);
	if (lseek(mfd, 0, SEEK_SET))
		die_errno("lseek");
	in->fd = mfd;
}

/* A record's value as rows of u64: checks the size and returns the count. */
static size_t rows(const struct tlv_it *it, size_t *n, const char *where)
{
	size_t row = tlv_nfields(it->tag) * 8;

	if (!row || it->len % row)
		die("corrupt image: %s: %s is %llu bytes, not whole rows of %zu",
		    where, tlv_name(it->tag), (unsigned long long)it->len, row);
	if (n)
		*n = it->len / row;
	return it->len / row;
}

/* Copy a single-row record into dst (of exactly one row's size). */
static void get_row(const struct tlv_it *it, void *dst, size_t size,
		    const char *where)
{
	if (rows(it, NULL, where) != 1 || it->len != size)
		die("corrupt image: %s: %s must hold one row", where,
		    tlv_name(it->tag));
	memcpy(dst, it->val, size);
}

static void *get_rows(const struct tlv_it *it, size_t *n, const char *where)
{
	void *p;

	rows(it, n, where);
	p = xmalloc(it->len);
	memcpy(p, it->val, it->len);
	return p;
}

/* A STR value: NUL-terminated, no NUL inside, not empty, bounded. */
static char *get_str(const struct tlv_it *it, const char *where)
{
	if (!it->len || it->len > MAX_PATH_LEN || it->val[it->len - 1] ||
	    strlen((const char *)it->val) != it->len - 1)
		die("corrupt image: %s: bad %s string", where,
		    tlv_name(it->tag));
	return xstrdup((const char *)it->val);
}

/* An unknown tag is fine only if marked optional. */
static void skip_unknown(const struct tlv_it *it, const char *where)
{
	if (!(it->tag & TLV_OPTIONAL))
		die("image has record 0x%x in %s that this cr does not know (made by a newer cr?)",
		    it->tag, where);
}

static void once(uint64_t *seen, uint32_t tag, const char *where)
{
	uint64_t bit = 1ULL << (tag % 64);

	if (*seen & bit)
		die("corrupt image: %s: %s appears twice", where, tlv_name(tag));
	*seen |= bit;
}

static void need(uint64_t seen, uint32_t tag, const char *where)
{
	if (!(seen & (1ULL << (tag % 64))))
		die("corrupt image: %s: no %s record", where, tlv_name(tag));
}

/* FSTAT + PATH inside EXE, VMA and FD nests. */
static bool get_file(const struct tlv_it *it, char **path,
		     struct tlv_fstat *st, uint64_t *seen, const char *where)
{
	if (it->tag == TLV_PATH) {
		once(seen, it->tag, where);
		*path = get_str(it, where);
	} else if (it->tag == TLV_FSTAT) {
		once(seen, it->tag, where);
		get_row(it, st, sizeof(*st), where);
	} else {
		return false;
	}
	return true;
}

/* Kernel-state records (section 5b) in a TASK or THREAD; false: not one. */
static bool kst_read_task(struct task *t, const struct tlv_it *it,
			  uint64_t *seen)
{
	if (it->tag != TLV_KSTATE && it->tag != TLV_SPEC && it->tag != TLV_CGROUP)
		return false;
	once(seen, it->tag, "TASK");
	if (it->tag == TLV_KSTATE) {
		get_row(it, &t->ks, sizeof(t->ks), "TASK");
		t->has_ks = true;
	} else if (it->tag == TLV_SPEC) {
		t->spec = get_rows(it, &t->nspec, "TASK");
	} else {
		t->cgroup = get_str(it, "TASK");
	}
	return true;
}

static bool kst_read_thread(struct thread *th, const struct tlv_it *it,
			    uint64_t *seen)
{
	if (it->tag != TLV_KTHREAD && it->tag != TLV_CPUS)
		return false;
	once(seen, it->tag, "THREAD");
	if (it->tag == TLV_KTHREAD) {
		get_row(it, &th->kt, sizeof(th->kt), "THREAD");
		th->has_kt = true;
	} else {
		th->cpus = get_rows(it, &th->ncpus, "THREAD");
	}
	return true;
}

static void read_exe(struct task *t, const struct tlv_it *nest)
{
	struct tlv_it it = tlv_iter(nest->val, nest->len);
	uint64_t seen = 0;

	while (tlv_next(&it, "EXE"))
		if (!get_file(&it, &t->exe, &t->exe_st, &seen, "EXE"))
			skip_unknown(&it, "EXE");
	need(seen, TLV_PATH, "EXE");
	need(seen, TLV_FSTAT, "EXE");
}

static void read_vma(struct task *t, const struct tlv_it *nest)
{
	struct tlv_it it = tlv_iter(nest->val, nest->len);
	struct vma *v = vec_add(&t->vmas, &t->nvmas, sizeof(*v));
	uint64_t seen = 0;

	while (tlv_next(&it, "VMA")) {
		if (get_file(&it, &v->path, &v->st, &seen, "VMA"))
			continue;
		if (it.tag == TLV_VMA_INFO) {
			once(&seen, it.tag, "VMA");
			get_row(&it, &v->v, sizeof(v->v), "VMA");
		} else if (it.tag == TLV_NAME) {
			once(&seen, it.tag, "VMA");
			v->name = get_str(&it, "VMA");
		} else if (it.tag == TLV_VMA_ADV) {
			once(&seen, it.tag, "VMA");
			get_row(&it, &v->adv, sizeof(v->adv), "VMA");
		} else if (it.tag == TLV_SHMAT) {
			once(&seen, it.tag, "VMA");
			get_row(&it, &v->shmat, sizeof(v->shmat), "VMA");
			v->sysv = true;
		} else {
			skip_unknown(&it, "VMA");
		}
	}
	need(seen, TLV_VMA_INFO, "VMA");
}

/* A nest of one row (info tag) and a PATH: inotify watches, fanotify marks. */
static void read_row_path(const struct tlv_it *nest, uint32_t info, void *row,
			  size_t size, char **path)
{
	struct tlv_it it = tlv_iter(nest->val, nest->len);
	const char *where = tlv_name(nest->tag);
	uint64_t seen = 0;

	while (tlv_next(&it, where)) {
		if (it.tag == info) {
			once(&seen, it.tag, where);
			get_row(&it, row, size, where);
		} else if (it.tag == TLV_PATH) {
			once(&seen, it.tag, where);
			*path = get_str(&it, where);
		} else {
			skip_unknown(&it, where);
		}
	}
	need(seen, info, where);
	need(seen, TLV_PATH, where);
}

static uint8_t *get_bytes(const struct tlv_it *it, size_t *len);

/* The records of a socket fd; false if it.tag is not one of them. */
static bool read_sock_rec(struct fd *d, const struct tlv_it *it)
{
	struct sock_state *k = d->sk;

	if (it->tag < TLV_SOCK || it->tag > TLV_DGRAMS)
		return false;
	if (!k)
		k = d->sk = xzalloc(sizeof(*k));
	switch (it->tag) {
	case TLV_SOCK:
		get_row(it, &k->s, sizeof(k->s), "FD");
		k->has_sock = true;
		break;
	case TLV_SOCKOPT:
		k->opt = get_rows(it, &k->nopt, "FD");
		break;
	case TLV_IFNAME:
		k->ifname = get_str(it, "FD");
		break;
	case TLV_TCP:
		get_row(it, &k->tcp, sizeof(k->tcp), "FD");
		k->has_tcp = true;
		break;
	case TLV_SNDQ:
		k->sndq = get_bytes(it, &k->nsndq);
		k->has_sndq = true;
		break;
	case TLV_RCVQ:
		k->rcvq = get_bytes(it, &k->nrcvq);
		k->has_rcvq = true;
		break;
	case TLV_NETLINK:
		get_row(it, &k->nl, sizeof(k->nl), "FD");
		k->has_nl = true;
		break;
	case TLV_NL_GROUPS:
		k->grp = get_rows(it, &k->ngrp, "FD");
		break;
	case TLV_MCAST:
		k->mc = get_rows(it, &k->nmc, "FD");
		break;
	case TLV_DGRAMS:
		k->dg = get_bytes(it, &k->ndg);
		break;
	case TLV_PACKET:
		get_row(it, &k->pk, sizeof(k->pk), "FD");
		k->has_pk = true;
		break;
	}
	return true;
}

static void read_fd(struct task *t, const struct tlv_it *nest)
{
	struct tlv_it it = tlv_iter(nest->val, nest->len);
	struct fd *d = vec_add(&t->fds, &t->nfds, sizeof(*d));
	uint64_t seen = 0;

	while (tlv_next(&it, "FD")) {
		if (get_file(&it, &d->path, &d->st, &seen, "FD"))
			continue;
		if (it.tag != TLV_WATCH && it.tag != TLV_FAN_MARK)
			once(&seen, it.tag, "FD");
		if (read_sock_rec(d, &it))
			continue;
		if (it.tag == TLV_FD_INFO)
			get_row(&it, &d->f, sizeof(d->f), "FD");
		else if (it.tag == TLV_EVENTFD)
			get_row(&it, &d->ev, sizeof(d->ev), "FD");
		else if (it.tag == TLV_SIGNALFD)
			get_row(&it, &d->sig, sizeof(d->sig), "FD");
		else if (it.tag == TLV_TIMERFD)
			get_row(&it, &d->tmr, sizeof(d->tmr), "FD");
		else if (it.tag == TLV_TIMERFD_AT)
			get_row(&it, &d->tmr_at, sizeof(d->tmr_at), "FD");
		else if (it.tag == TLV_LOCK)
			d->locks = get_rows(&it, &d->nlocks, "FD");
		else if (it.tag == TLV_FOWN)
			get_row(&it, &d->own, sizeof(d->own), "FD");
		else if (it.tag == TLV_FANOTIFY)
			get_row(&it, &d->fan, sizeof(d->fan), "FD");
		else if (it.tag == TLV_EPOLL_TFD)
			d->epoll = get_rows(&it, &d->nepoll, "FD");
		else if (it.tag == TLV_WATCH) {
			struct watch *w = vec_add(&d->watches, &d->nwatches,
						  sizeof(*w));

			read_row_path(&it, TLV_WATCH_INFO, &w->w, sizeof(w->w),
				      &w->path);
		} else if (it.tag == TLV_FAN_MARK) {
			struct fan_mark *m = vec_add(&d->marks, &d->nmarks,
						     sizeof(*m));

			read_row_path(&it, TLV_FAN_MARK_INFO, &m->m, sizeof(m->m),
				      &m->path);
		} else {
			skip_unknown(&it, "FD");
		}
	}
	need(seen, TLV_FD_INFO, "FD");
	if (d->f.kind == TLV_FD_EVENTFD)
		need(seen, TLV_EVENTFD, "FD");
	if (d->f.kind == TLV_FD_SIGNALFD)
		need(seen, TLV_SIGNALFD, "FD");
	if (d->f.kind == TLV_FD_TIMERFD)
		need(seen, TLV_TIMERFD, "FD");
	if (d->f.kind == TLV_FD_EPOLL)
		need(seen, TLV_EPOLL_TFD, "FD");
	if (d->f.kind == TLV_FD_FANOTIFY)
		need(seen, TLV_FANOTIFY, "FD");
}

static uint8_t *get_bytes(const struct tlv_it *it, size_t *len)
{
	uint8_t *p = xmalloc(it->len);

	memcpy(p, it->val, it->len);
	*len = it->len;
	return p;
}

/* ---- timers, credentials, seccomp (read) ---- */
static bool read_thread_kstate(struct thread *th, const struct tlv_it *it,
			       uint64_t *seen)
{
	switch (it->tag) {
	case TLV_SECCOMP:
	case TLV_SC_FILTER:
	case TLV_SC_PROG:
		once(seen, it->tag, "THREAD");
		break;
	default:
		return false;
	}
	if (it->tag == TLV_SECCOMP)
		get_row(it, &th->sc, sizeof(th->sc), "THREAD");
	else if (it->tag == TLV_SC_FILTER)
		th->scf = get_rows(it, &th->nscf, "THREAD");
	else
		th->scprog = get_bytes(it, &th->scprog_len);
	return true;
}

static bool read_task_kstate(struct task *t, const struct tlv_it *it,
			     uint64_t *seen)
{
	size_t n;

	switch (it->tag) {
	case TLV_TIMES:
		once(seen, it->tag, "TASK");
		get_row(it, &t->times, sizeof(t->times), "TASK");
		return true;
	case TLV_ITIMER:
		once(seen, it->tag, "TASK");
		if (rows(it, &n, "TASK") > 3)
			die("corrupt image: %zu interval timers", n);
		memcpy(t->itimer, it->val, it->len);
		t->nitimer = n;
		return true;
	case TLV_PTIMER:
		once(seen, it->tag, "TASK");
		t->ptimers = get_rows(it, &t->nptimers, "TASK");
		return true;
	case TLV_PRIV:
		once(seen, it->tag, "TASK");
		get_row(it, &t->priv, sizeof(t->priv), "TASK");
		return true;
	}
	return false;
}

static void read_thread(struct task *t, const struct tlv_it *nest)
{
	struct tlv_it it = tlv_iter(nest->val, nest->len);
	struct thread *th = vec_add(&t->th, &t->nth, sizeof(*th));
	uint64_t seen = 0, kseen = 0;

	while (tlv_next(&it, "THREAD")) {
		uint32_t tag = it.tag;

		if (tag == TLV_THREAD_INFO || tag == TLV_COMM ||
		    tag == arch_regs_tag || tag == arch_fpu_tag ||
		    (arch_xtra_tag && tag == arch_xtra_tag) || tag == TLV_SIGINFO)
			once(&seen, tag, "THREAD");
		if (tag == TLV_THREAD_INFO)
			get_row(&it, &th->t, sizeof(th->t), "THREAD");
		else if (tag == TLV_COMM)
			th->comm = get_str(&it, "THREAD");
		else if (tag == arch_regs_tag)
			get_row(&it, th->regs, arch_nregs * 8, "THREAD");
		else if (tag == arch_fpu_tag)
			th->fpu = get_bytes(&it, &th->fpu_len);
		else if (arch_xtra_tag && tag == arch_xtra_tag)
			th->xtra = get_bytes(&it, &th->xtra_len);
		else if (tag == TLV_SIGINFO)
			th->sig = get_rows(&it, &th->nsig, "THREAD");
		else if (read_thread_kstate(th, &it, &kseen))
			;
		else if (tag == TLV_REGS_X86_64 || tag == TLV_REGS_AARCH64)
			die("the image holds registers of another architecture");
		else if (!kst_read_thread(th, &it, &seen))
			skip_unknown(&it, "THREAD");
	}
	need(seen, TLV_THREAD_INFO, "THREAD");
	need(seen, TLV_COMM, "THREAD");
	need(seen, arch_regs_tag, "THREAD");
	need(seen, arch_fpu_tag, "THREAD");
	need(kseen, TLV_SECCOMP, "THREAD");
}

static void read_task(struct image *im, const uint8_t *val, uint64_t len)
{
	struct tlv_it it = tlv_iter(val, len);
	struct task *t = vec_add(&im->t, &im->nt, sizeof(*t));
	uint64_t seen = 0, kseen = 0;
	size_t n;

	while (tlv_next(&it, "TASK")) {
		switch (it.tag) {
		case TLV_PROC:
		case TLV_CREDS:
		case TLV_MM:
		case TLV_CWD:
		case TLV_ROOT:
		case TLV_GROUPS:
		case TLV_AUXV:
		case TLV_RLIMIT:
		case TLV_SIGACT:
		case TLV_EXE:
		case TLV_COMM:
		case TLV_SHARE:
			once(&seen, it.tag, "TASK");
			break;
		}
		switch (it.tag) {
		case TLV_PROC:
			get_row(&it, &t->proc, sizeof(t->proc), "TASK");
			break;
		case TLV_CREDS:
			get_row(&it, &t->creds, sizeof(t->creds), "TASK");
			break;
		case TLV_MM:
			get_row(&it, &t->mm, sizeof(t->mm), "TASK");
			break;
		case TLV_CWD:
			t->cwd = get_str(&it, "TASK");
			break;
		case TLV_ROOT:
			t->root = get_str(&it, "TASK");
			break;
		case TLV_COMM:
			t->comm = get_str(&it, "TASK");
			break;
		case TLV_SHARE:
			get_row(&it, &t->share, sizeof(t->share), "TASK");
			break;
		case TLV_GROUPS:
			t->groups = get_rows(&it, &t->ngroups, "TASK");
			break;
		case TLV_AUXV:
			t->auxv = get_rows(&it, &t->nauxv, "TASK");
			break;
		case TLV_RLIMIT:
			if (rows(&it, &n, "TASK") > RLIM_NLIMITS)
				die("corrupt image: %zu rlimits", n);
			memcpy(t->rlim, it.val, it.len);
			t->nrlim = n;
			break;
		case TLV_SIGACT:
			if (rows(&it, &n, "TASK") > NSIG_MAX)
				die("corrupt image: %zu sigactions", n);
			memcpy(t->act, it.val, it.len);
			t->nact = n;
			break;
		case TLV_EXE:
			read_exe(t, &it);
			break;
		case TLV_VMA:
			read_vma(t, &it);
			break;
		case TLV_FD:
			read_fd(t, &it);
			break;
		case TLV_THREAD:
			read_thread(t, &it);
			break;
		default:
			if (!read_task_kstate(t, &it, &kseen) &&
			    !kst_read_task(t, &it, &seen))
				skip_unknown(&it, "TASK");
		}
	}
	need(seen, TLV_PROC, "TASK");
	if (task_zombie(t)) {
		if (seen != (1ULL << TLV_PROC | 1ULL << TLV_COMM) || kseen || t->nvmas ||
		    t->nfds || t->nth || strlen(t->comm) > 15)
			die("corrupt image: zombie %llu with more than its PROC and COMM",
			    (unsigned long long)t->proc.pid);
		return;
	}
	need(seen, TLV_CREDS, "TASK");
	need(seen, TLV_MM, "TASK");
	need(seen, TLV_CWD, "TASK");
	need(seen, TLV_ROOT, "TASK");
	need(seen, TLV_AUXV, "TASK");
	need(seen, TLV_RLIMIT, "TASK");
	need(seen, TLV_SIGACT, "TASK");
	need(seen, TLV_EXE, "TASK");
	need(kseen, TLV_TIMES, "TASK");
	need(kseen, TLV_PRIV, "TASK");
	if (!t->nth)
		die("corrupt image: process %llu without threads",
		    (unsigned long long)t->proc.pid);
}

static void read_pipe(struct image *im, const uint8_t *val, uint64_t len)
{
	struct tlv_it it = tlv_iter(val, len);
	struct pipe_obj *o = vec_add(&im->pipes, &im->npipes, sizeof(*o));
	uint64_t seen = 0;

	while (tlv_next(&it, "PIPE")) {
		if (it.tag == TLV_PIPE_INFO) {
			once(&seen, it.tag, "PIPE");
			get_row(&it, &o->p, sizeof(o->p), "PIPE");
		} else if (it.tag == TLV_DATA) {
			once(&seen, it.tag, "PIPE");
			o->data = get_bytes(&it, &o->len);
		} else if (it.tag == TLV_PATH) {
			once(&seen, it.tag, "PIPE");
			o->path = get_str(&it, "PIPE");
		} else {
			skip_unknown(&it, "PIPE");
		}
	}
	need(seen, TLV_PIPE_INFO, "PIPE");
	if (o->p.id != im->npipes || o->p.size < PAGE || o->p.size > (1 << 30) ||
	    o->len > o->p.size)
		die("corrupt image: bad pipe %zu", im->npipes);
}

static void read_obj(struct image *im, const uint8_t *val, uint64_t len)
{
	struct tlv_it it = tlv_iter(val, len);
	struct fobj *o = vec_add(&im->objs, &im->nobjs, sizeof(*o));
	uint64_t seen = 0;

	while (tlv_next(&it, "OBJ")) {
		if (it.tag == TLV_OBJ_INFO) {
			once(&seen, it.tag, "OBJ");
			get_row(&it, &o->s, sizeof(o->s), "OBJ");
		} else if (it.tag == TLV_PATH) {
			once(&seen, it.tag, "OBJ");
			o->path = get_str(&it, "OBJ");
		} else if (it.tag == TLV_NAME) {
			once(&seen, it.tag, "OBJ");
			o->name = get_str(&it, "OBJ");
		} else if (it.tag == TLV_SYSV_SHM) {
			once(&seen, it.tag, "OBJ");
			get_row(&it, &o->shm, sizeof(o->shm), "OBJ");
		} else if (it.tag == TLV_HUGETLB) {
			once(&seen, it.tag, "OBJ");
			get_row(&it, &o->huge, sizeof(o->huge), "OBJ");
			if (!huge_size_ok(o->huge) || o->s.kind == TLV_OBJ_GHOST ||
			    (o->s.kind != TLV_OBJ_SYSV && o->s.size % o->huge))
				die("corrupt image: bad huge page size of file object %zu",
				    im->nobjs);
		} else {
			skip_unknown(&it, "OBJ");
		}
	}
	need(seen, TLV_OBJ_INFO, "OBJ");
	if ((o->s.kind == TLV_OBJ_SYSV) !=
	    !!(seen & (1ULL << (TLV_SYSV_SHM % 64))) ||
	    (o->s.kind == TLV_OBJ_SYSV &&
	     (o->path || o->name || !o->s.size || o->shm.shmid > INT_MAX ||
	      o->shm.key > UINT32_MAX || o->shm.mode > 0777 ||
	      o->shm.uid >= UINT32_MAX || o->shm.gid >= UINT32_MAX ||
	      o->shm.removed > 1 || (o->shm.removed && o->shm.key))))
		die("corrupt image: bad System V shm segment %zu", im->nobjs);
	if (o->s.id != im->nobjs || o->s.size > (1ULL << 46) ||
	    (o->s.kind == TLV_OBJ_SHMEM && (o->s.size % PAGE || !o->s.size)) ||
	    (o->s.kind == TLV_OBJ_GHOST && (!o->path || o->path[0] != '/' ||
					    !S_ISREG(o->s.mode))) ||
	    (o->s.kind == TLV_OBJ_MEMFD && (!o->name || strlen(o->name) > 249)) ||
	    ((o->s.kind < TLV_OBJ_SHMEM || o->s.kind > TLV_OBJ_MEMFD) &&
	     o->s.kind != TLV_OBJ_SYSV))
		die("corrupt image: bad file object %zu", im->nobjs);
}

static void read_tty(struct image *im, const uint8_t *val, uint64_t len)
{
	struct tlv_it it = tlv_iter(val, len);
	struct tty_obj *y = vec_add(&im->ttys, &im->nttys, sizeof(*y));
	uint64_t seen = 0;

	y->m = y->s = -1;
	while (tlv_next(&it, "TTY")) {
		if (it.tag == TLV_TTY_INFO || it.tag == TLV_TERMIOS ||
		    it.tag == TLV_TTY_IN || it.tag == TLV_TTY_OUT)
			once(&seen, it.tag, "TTY");
		if (it.tag == TLV_TTY_INFO)
			get_row(&it, &y->y, sizeof(y->y), "TTY");
		else if (it.tag == TLV_TERMIOS)
			get_row(&it, &y->tio, sizeof(y->tio), "TTY");
		else if (it.tag == TLV_TTY_IN)
			y->in = get_bytes(&it, &y->nin);
		else if (it.tag == TLV_TTY_OUT)
			y->out = get_bytes(&it, &y->nout);
		else
			skip_unknown(&it, "TTY");
	}
	need(seen, TLV_TTY_INFO, "TTY");
	if (y->y.id != im->nttys ||
	    (y->y.kind != TLV_TTY_EXTERN) != !!(seen & 1ULL << (TLV_TERMIOS % 64)))
		die("corrupt image: bad tty %zu", im->nttys);
}

static void read_usk(struct image *im, const uint8_t *val, uint64_t len)
{
	struct tlv_it it = tlv_iter(val, len);
	struct usk *k = vec_add(&im->usks, &im->nusks, sizeof(*k));
	uint64_t seen = 0;

	while (tlv_next(&it, "USK")) {
		switch (it.tag) {
		case TLV_USK_INFO:
		case TLV_USK_NAME:
		case TLV_PATH:
		case TLV_USK_DATA:
		case TLV_USK_MSGS:
		case TLV_USK_ICONS:
		case TLV_USK_PEER_NAME:
		case TLV_USK_FILTER:
		case TLV_USK_FROM:
			once(&seen, it.tag, "USK");
			break;
		}
		switch (it.tag) {
		case TLV_USK_INFO:
			get_row(&it, &k->u, sizeof(k->u), "USK");
			break;
		case TLV_USK_NAME:
			k->name = get_bytes(&it, &k->namelen);
			break;
		case TLV_PATH:
			k->dir = get_str(&it, "USK");
			break;
		case TLV_USK_DATA:
			k->data = get_bytes(&it, &k->len);
			break;
		case TLV_USK_MSGS:
			k->msgs = get_rows(&it, &k->nmsgs, "USK");
			break;
		case TLV_USK_ICONS:
			k->icons = get_rows(&it, &k->nicons, "USK");
			break;
		case TLV_USK_PEER_NAME:
			k->pname = get_bytes(&it, &k->pnamelen);
			break;
		case TLV_USK_FILTER:
			k->filter = get_bytes(&it, &k->filterlen);
			break;
		case TLV_USK_FROM:
			k->from = get_bytes(&it, &k->fromlen);
			break;
		default:
			skip_unknown(&it, "USK");
		}
	}
	need(seen, TLV_USK_INFO, "USK");
	k->fd = k->tmp = -1;
}

static void get_runs(const struct tlv_it *it, struct runs *r,
		     const char *where)
{
	r->v = get_rows(it, &r->n, where);
	for (size_t i = 0; i < r->n; i++) {
		if (r->v[i].npages > (1ULL << 40) ||
		    r->npages + r->v[i].npages < r->npages)
			die("corrupt image: page run %zu too long", i);
		r->npages += r->v[i].npages;
	}
}

/* The image-level records of a chain (5b), before the first TASK. */
static void read_chain_rec(struct image *im, uint32_t tag, const uint8_t *v,
			   uint64_t len)
{
	struct tlv_it it = { .tag = tag, .val = v, .len = len };

	once(&im->chain_seen, tag, "the image");
	if (tag == TLV_PREDUMP) {
		struct tlv_predump p;

		get_row(&it, &p, sizeof(p), "the image");
		im->predump = true;
	} else if (tag == TLV_PARENT) {
		im->parent = get_str(&it, "the image");
	} else if (tag == TLV_PARENT_ID) {
		get_row(&it, &im->parent_id, sizeof(im->parent_id), "the image");
	} else if (tag == TLV_NETLOCK) {
		struct tlv_netlock l;

		get_row(&it, &l, sizeof(l), "the image");
		if (!l.id)
			die("corrupt image: network lock 0");
		im->netlock = l.id;
	} else {
		im->track = get_rows(&it, &im->ntrack, "the image");
	}
}

/* A PAGEMAP: whose pages, and the runs of the PAGES that follow. */
static struct runs *read_pagemap(struct image *im, const uint8_t *val,
				 uint64_t len, uint64_t **pages_off)
{
	struct tlv_it it = tlv_iter(val, len);
	struct tlv_owner own = { 0 };
	struct runs r = { 0 }, ir = { 0 }, pr = { 0 };
	uint64_t seen = 0;

	while (tlv_next(&it, "PAGEMAP")) {
		if (it.tag == TLV_OWNER) {
			once(&seen, it.tag, "PAGEMAP");
			get_row(&it, &own, sizeof(own), "PAGEMAP");
		} else if (it.tag == TLV_RUNS) {
			once(&seen, it.tag, "PAGEMAP");
			get_runs(&it, &r, "PAGEMAP");
		} else if (it.tag == TLV_IRUNS) {
			once(&seen, it.tag, "PAGEMAP");
			get_runs(&it, &ir, "PAGEMAP");
		} else if (it.tag == TLV_PRUNS) {
			once(&seen, it.tag, "PAGEMAP");
			get_runs(&it, &pr, "PAGEMAP");
		} else {
			skip_unknown(&it, "PAGEMAP");
		}
	}
	need(seen, TLV_OWNER, "PAGEMAP");
	need(seen, TLV_RUNS, "PAGEMAP");
	if (own.kind == TLV_OWNER_OBJ && own.id >= 1 && own.id <= im->nobjs &&
	    !ir.n && !pr.n && !im->objs[own.id - 1].runs.v) {
		struct fobj *o = &im->objs[own.id - 1];

		o->runs = r;
		*pages_off = &o->pages_off;
		return &o->runs;
	}
	for (size_t i = 0; own.kind == TLV_OWNER_TASK && i < im->nt; i++) {
		struct task *t = &im->t[i];

		if (t->proc.pid != own.id || task_zombie(t) || t->own.v)
			continue;
		t->own = r;
		t->inh = ir;
		t->prun = pr;
		*pages_off = &t->pages_off;
		return &t->own;
	}
	die("corrupt image: pages of an unknown or repeated owner (%llu %llu)",
	    (unsigned long long)own.kind, (unsigned long long)own.id);
}

/* --verify: the MAC must be the key's MAC of everything before it. */
static void mac_check(const struct img_in *in, const uint8_t sum[32],
		      const uint8_t want[32])
{
	uint8_t diff = 0;

	if (!in->mac)
		return;
	for (int i = 0; i < 32; i++)
		diff |= sum[i] ^ want[i];
	if (diff)
		die("%s: the image's MAC does not match the --verify key: altered, or signed with another key",
		    in->name);
}

static void read_head(struct img_in *in)
{
	struct tlv_head h;

	in_read(in, &h, sizeof(h), "the header");
	if (memcmp(h.magic, TLV_MAGIC, sizeof(h.magic)))
		die("%s: not a cr image (bad magic)", in->name);
	if (h.version != TLV_VERSION)
		die("%s: image format version %u, this cr reads version %u",
		    in->name, h.version, TLV_VERSION);
	if (h.head_size != sizeof(h) || h.flags)
		die("%s: corrupt image header", in->name);
	if (h.arch != arch_tlv)
		die("%s: the image is for another architecture (%s)", in->name,
		    h.arch == TLV_ARCH_X86_64 ? "x86_64" :
		    h.arch == TLV_ARCH_AARCH64 ? "aarch64" : "unknown");
	if (h.page_size != PAGE || sysconf(_SC_PAGESIZE) != (long)PAGE)
		die("%s: page size %u: only 4096-byte pages are supported",
		    in->name, h.page_size);
	h.kernel[sizeof(h.kernel) - 1] = 0;
	in->kernel = xstrdup(h.kernel);
}

/*
 * Read the whole stream; returns with every PAGES offset recorded and the
 * CRC verified.  in->fd stays open: pages are read from it later.
 */
/* The pid whose pages these are, 0 for an object's (never deferred). */
static uint64_t pending_task(const struct image *im, const struct runs *pending)
{
	for (size_t i = 0; i < im->nt; i++)
		if (pending == &im->t[i].own)
			return im->t[i].proc.pid;
	return 0;
}

static void img_read(struct img_in *in, struct image *im)
{
	struct runs *pending = NULL;	/* PAGEMAP waiting for its PAGES */
	uint64_t *pending_off = NULL;
	int section = 0;		/* 0 tasks, 1 objects, 2 pages */

	in_spool(in);
	im->streamed = in->spooled;
	read_head(in);
	for (bool mac = false;;) {
		uint32_t crc = in->crc;
		uint64_t at = in->off;
		uint8_t sum[32];
		struct tlv_rec r;
		uint8_t *v;

		if (in->mac)
			hmac_result(in->mac, sum);
		in_read(in, &r, sizeof(r), "a record header");
		if (r.zero || r.len > in->size - in->off)
			die("corrupt image: record at offset %llu claims %llu bytes",
			    (unsigned long long)at, (unsigned long long)r.len);
		if (mac && r.tag != TLV_END)
			die("corrupt image: MAC is not right before END");
		if ((r.tag & ~TLV_OPTIONAL) == TLV_MAC) {
			uint8_t want[32];

			if (r.len != sizeof(want) || pending)
				die("corrupt image: bad MAC record");
			in_read(in, want, sizeof(want), "the MAC record");
			mac_check(in, sum, want);
			mac = true;
			continue;
		}
		if (r.tag == TLV_END) {
			struct tlv_end e;
			uint8_t extra;

			if (in->mac && !mac)
				die("%s: the image is not signed (no MAC record), and --verify was given",
				    in->name);
			if (r.len != sizeof(e) || pending)
				die("corrupt image: bad END record");
			in_read(in, &e, sizeof(e), "the END record");
			if ((e.crc != crc && !(in->checked && !in->mac)) ||
			    e.bytes != at)
				die("corrupt image: checksum mismatch (stored %08llx, computed %08x)",
				    (unsigned long long)e.crc, crc);
			if (read(in->fd, &extra, 1) != 0)
				die("corrupt image: data after the END record");
			im->end = e;
			break;
		}
		if (r.tag == TLV_PAGES) {
			if (!pending)
				die("corrupt image: PAGES without PAGEMAP");
			if (in->off % PAGE || r.len != pending->npages * PAGE)
				die("corrupt image: PAGES misaligned or of the wrong size");
			*pending_off = in->off;
			if (!in_defer_pages(in, r.len, pending_task(im, pending)))
				in_skip_pages(in, r.len);
			pending = NULL;
			continue;
		}
		if (r.tag == (TLV_PAGES_CRC | TLV_OPTIONAL)) {
			struct tlv_pages_crc c;

			if (r.len != sizeof(c) || !in->blob_known)
				die("corrupt image: PAGES_CRC not right after PAGES");
			in_read(in, &c, sizeof(c), "PAGES_CRC");
			if (c.crc != in->blob_crc && !(in->checked && !in->mac))
				die("corrupt image: checksum mismatch in page data at offset %llu",
				    (unsigned long long)at);
			in->blob_known = false;
			continue;
		}
		in->blob_known = false;
		if (r.len > MAX_META)
			die("corrupt image: record 0x%x of %llu bytes", r.tag,
			    (unsigned long long)r.len);
		v = xmalloc(r.len);
		in_read(in, v, r.len, tlv_name(r.tag) ? tlv_name(r.tag) : "a record");
		if (pending && r.tag != TLV_PAD)
			die("corrupt image: PAGEMAP without its PAGES");
		if ((r.tag == TLV_PREDUMP || r.tag == TLV_PARENT ||
		     r.tag == TLV_PARENT_ID || r.tag == TLV_TRACK ||
		     r.tag == TLV_NETLOCK) && section == 0 && !im->nt) {
			read_chain_rec(im, r.tag, v, r.len);
		} else if (r.tag == TLV_TASK && section == 0) {
			read_task(im, v, r.len);
		} else if (r.tag == TLV_PIPE && section <= 1) {
			section = 1;
			read_pipe(im, v, r.len);
		} else if (r.tag == TLV_OBJ && section <= 1) {
			section = 1;
			read_obj(im, v, r.len);
		} else if (r.tag == TLV_TTY && section <= 1) {
			section = 1;
			read_tty(im, v, r.len);
		} else if (r.tag == TLV_USK && section <= 1) {
			section = 1;
			read_usk(im, v, r.len);
		} else if (r.tag == TLV_PAGEMAP) {
			section = 2;
			pending = read_pagemap(im, v, r.len, &pending_off);
		} else if (r.tag == TLV_TASK || r.tag == TLV_PIPE ||
			   r.tag == TLV_OBJ || r.tag == TLV_TTY ||
			   r.tag == TLV_PREDUMP || r.tag == TLV_PARENT ||
			   r.tag == TLV_PARENT_ID || r.tag == TLV_TRACK ||
			   r.tag == TLV_NETLOCK || r.tag == TLV_USK) {
			die("corrupt image: %s out of order", tlv_name(r.tag));
		} else if (r.tag != TLV_PAD) {
			struct tlv_it it = { .tag = r.tag };

			skip_unknown(&it, "the image");
		}
		free(v);
	}
	if (!im->nt)
		die("corrupt image: no process in it");
	for (size_t i = 0; i < im->nt; i++)
		if (!task_zombie(&im->t[i]) && !im->t[i].own.v && !im->t[i].pages_off)
			die("corrupt image: no pages for pid %llu",
			    (unsigned long long)im->t[i].proc.pid);
}

/* Parents from ppid: each must come before its children in the image. */
static void img_link_tree(struct image *im)
{
	im->t[0].parent = -1;
	for (size_t i = 1; i < im->nt; i++) {
		struct task *t = &im->t[i];

		t->parent = -1;
		for (size_t j = 0; j < i; j++)
			if (im->t[j].proc.pid == t->proc.ppid)
				t->parent = j;
		if (t->parent < 0)
			die("corrupt image: the parent of pid %llu is not before it",
			    (unsigned long long)t->proc.pid);
	}
}

static const struct task *task_by_pid(const struct image *im, uint64_t pid)
{
	for (size_t i = 0; i < im->nt; i++)
		if (im->t[i].proc.pid == pid)
			return &im->t[i];
	return NULL;
}

/*
 * Sessions and process groups must be rebuildable by fork, setsid and
 * setpgid: a process is its session's leader, or in its parent's session;
 * it leads its group, or is in its parent's group, or joins a group whose
 * leader is in the tree, in its session.  Dump checks this too, so that
 * what restore cannot do is refused before anything is written.
 *
 * A leader that exited while its session or group lives on is stood in
 * for at restore, as CRIU does, by a helper process with its pid: for a
 * session, the helper is forked by the subreaper that adopted the
 * session's processes, calls setsid() and forks them; for a group, it is
 * forked by a member's parent and calls setpgid(0, 0) so that the members
 * can join.  Once every process has joined its group the helpers exit and
 * are reaped, which hands a session helper's children back to the
 * subreaper: the pid is free again, as at dump time.
 */
static long tree_helper(struct image *im, uint64_t pid, uint64_t sid)
{
	struct tree_helper *h;

	for (size_t i = 0; i < im->nhelpers; i++)
		if (im->helpers[i].pid == pid) {
			if (im->helpers[i].sid != sid)
				refuse("process group %llu spans two sessions",
				    (unsigned long long)pid);
			return i;
		}
	if (!pid || pid >= (1 << 22))
		die("corrupt image: bad session or group id %llu",
		    (unsigned long long)pid);
	h = vec_add(&im->helpers, &im->nhelpers, sizeof(*h));
	h->pid = pid, h->sid = sid, h->forker = -1;
	return h - im->helpers;
}

/* The group a process has when it is forked: its forker's. */
static uint64_t forker_pgid(const struct image *im, const struct task *t)
{
	return t->via >= 0 ? im->helpers[t->via].pid :
	       t->parent >= 0 ? im->t[t->parent].proc.pgid : 0;
}

static void img_check_tree(struct image *im)
{
	const struct task *root = &im->t[0];
	bool sj = root->proc.flags & TLV_PROC_SHELL_JOB;

	free(im->helpers);
	im->helpers = NULL, im->nhelpers = 0;
	for (size_t i = 0; i < im->nt; i++) {	/* sessions */
		struct task *t = &im->t[i];
		const struct task *p = t->parent >= 0 ? &im->t[t->parent] : NULL;
		unsigned long long pid = t->proc.pid, sid = t->proc.sid;

		ctx.pid = pid;
		t->via = -1;
		if (!pid || pid >= (1 << 22) || (p && task_zombie(p)) ||
		    (p && p->proc.pid != t->proc.ppid))
			die("corrupt image: bad pid or parent");
		for (size_t j = 0; j < i; j++)
			if (im->t[j].proc.pid == pid)
				die("corrupt image: pid appears twice");
		if (sid == pid) {
			if (t->proc.pgid != pid)
				refuse("session leader that does not lead its process group: not supported");
		} else if (!p) {
			if (!sj)
				refuse("not a session leader (session %llu): dump with --shell-job, or start it with setsid",
				    sid);
		} else if (sid != p->proc.sid) {
			struct tree_helper *h;

			if (task_by_pid(im, sid) || (sj && sid == root->proc.sid))
				refuse("session %llu is neither its own nor its parent's, and its leader is alive: not supported",
				    sid);
			if (!p->proc.subreaper)
				refuse("session %llu lost its leader, and its process was adopted by pid %llu, not a subreaper: not supported",
				    sid, (unsigned long long)p->proc.pid);
			if (t->proc.pdeath_signal)
				refuse("parent-death signal set in a process whose session leader exited: not supported yet");
			if (t->share.files || t->share.fs)
				refuse("shares its fd table or fs struct with the subreaper that adopted it: not supported");
			t->via = tree_helper(im, sid, sid);
			h = &im->helpers[t->via];
			if (h->forker >= 0 && h->forker != t->parent)
				refuse("session %llu lost its leader, and its processes were adopted by different processes: not supported",
				    sid);
			h->forker = t->parent;
		}
	}
	for (size_t i = 1; i < im->nt; i++) {	/* groups */
		struct task *t = &im->t[i];
		const struct task *g;
		unsigned long long pid = t->proc.pid, sid = t->proc.sid,
				   pgid = t->proc.pgid;
		long h;

		ctx.pid = pid;
		if (pgid == pid || pgid == forker_pgid(im, t))
			continue;
		g = task_by_pid(im, pgid);
		if (g) {
			if (g->proc.pgid != pgid || g->proc.sid != sid)
				refuse("process group %llu is not led by pid %llu, in this session: not supported",
				    pgid, pgid);
			continue;
		}
		if (sj && pgid == root->proc.pgid)
			refuse("process group %llu has no leader in the tree: not supported",
			    pgid);
		h = tree_helper(im, pgid, sid);
		if (im->helpers[h].forker < 0 && t->via < 0)
			im->helpers[h].forker = t->parent;
	}
	for (size_t i = 0; i < im->nhelpers; i++)
		if (im->helpers[i].forker < 0) {
			ctx.pid = 0;
			refuse("process group %llu lost its leader, and no member's parent is in its session: not supported",
			    (unsigned long long)im->helpers[i].pid);
		}
	ctx.pid = 0;
}

/* Image self-consistency of one process: every field restore will use. */
static void img_check_vmas(const struct image *im, const struct task *t)
{
	const struct task *p = t->parent >= 0 ? &im->t[t->parent] : NULL;
	uint64_t prev = PAGE;	/* nothing maps page 0 */

	for (size_t i = 0; i < t->nvmas; i++) {
		const struct vma *vm = &t->vmas[i];
		const struct tlv_vma *v = &vm->v;
		uint64_t mflags = v->flags & ~(uint64_t)(MAP_ANONYMOUS |
							  MAP_GROWSDOWN | HUGE_BITS);
		uint64_t huge = flags_huge(v->flags);
		const struct fobj *o = v->kind == TLV_VMA_OBJ && v->obj &&
				       v->obj <= im->nobjs ? &im->objs[v->obj - 1] : NULL;

		if (v->start % PAGE || v->end % PAGE || v->start < prev ||
		    v->end <= v->start || v->end > arch_task_size())
			die("corrupt image: mapping %zu (%llx-%llx) misaligned, overlapping or out of range",
			    i, (unsigned long long)v->start,
			    (unsigned long long)v->end);
		prev = v->end;
		if (v->prot & ~(uint64_t)(PROT_READ | PROT_WRITE | PROT_EXEC) ||
		    (mflags != MAP_PRIVATE && mflags != MAP_SHARED) ||
		    v->pgoff % PAGE || v->pgoff > (1ULL << 52) || v->inherit > 1)
			die("corrupt image: mapping %zu has bad protection, flags or offset",
			    i);
		if (v->inherit && (!p || !vma_private(vm) || !vma_in_parent(p, vm)))
			die("corrupt image: mapping %zu inherits nothing", i);
		if ((v->flags & HUGE_BITS) &&
		    (!huge_size_ok(huge) || v->start % huge || v->end % huge ||
		     v->pgoff % huge || (v->flags & MAP_GROWSDOWN) ||
		     v->kind == TLV_VMA_SPECIAL || (o && o->huge != huge)))
			die("corrupt image: mapping %zu: bad hugetlb mapping", i);
		if (o && o->huge && !huge)
			die("corrupt image: mapping %zu: a hugetlbfs object mapped without its page size", i);
		if (vm->sysv && v->kind != TLV_VMA_OBJ)
			die("corrupt image: mapping %zu: SHMAT in a mapping of no segment", i);
		switch (v->kind) {
		case TLV_VMA_ANON:
			if (mflags != MAP_PRIVATE || !(v->flags & MAP_ANONYMOUS) ||
			    vm->path)
				die("corrupt image: mapping %zu: bad anonymous mapping", i);
			break;
		case TLV_VMA_FILE:
			if (!vm->path || vm->path[0] != '/' ||
			    (v->flags & MAP_ANONYMOUS) || vm->name)
				die("corrupt image: mapping %zu: bad file mapping", i);
			break;
		case TLV_VMA_SPECIAL:
			if (!vm->name || !is_special_name(vm->name))
				die("corrupt image: mapping %zu: unknown kernel mapping", i);
			break;
		case TLV_VMA_OBJ:
			if (!v->obj || v->obj > im->nobjs || vm->path || vm->name ||
			    (v->flags & MAP_ANONYMOUS))
				die("corrupt image: mapping %zu: bad file object", i);
			if ((im->objs[v->obj - 1].s.kind == TLV_OBJ_SYSV) != vm->sysv ||
			    (vm->sysv &&
			     (mflags != MAP_SHARED || v->pgoff || v->inherit ||
			      v->end - v->start != ROUND_UP(im->objs[v->obj - 1].s.size,
							    huge ? huge : PAGE) ||
			      (vm->shmat.flags & ~(uint64_t)SHM_RDONLY) ||
			      ((vm->shmat.flags & SHM_RDONLY) && (v->prot & PROT_WRITE)))))
				die("corrupt image: mapping %zu: not a whole System V shm attachment", i);
			break;
		default:
			die("corrupt image: mapping %zu: unknown kind %llu", i,
			    (unsigned long long)v->kind);
		}
	}
}

/* Runs ascending, each inside one mapping that may hold it. */
static void img_check_runs(const struct task *t, const struct runs *r)
{
	uint64_t prev = 0;
	size_t vi = 0;

	for (size_t i = 0; i < r->n; i++) {
		const struct tlv_run *x = &r->v[i];
		uint64_t end = x->addr + x->npages * PAGE;

		if (x->addr % PAGE || !x->npages || x->addr < prev ||
		    end <= x->addr)
			die("corrupt image: page run %zu misaligned or out of order", i);
		prev = end;
		while (vi < t->nvmas && t->vmas[vi].v.end <= x->addr)
			vi++;
		if (vi == t->nvmas || x->addr < t->vmas[vi].v.start ||
		    end > t->vmas[vi].v.end || !vma_private(&t->vmas[vi]) ||
		    (r == &t->inh && !t->vmas[vi].v.inherit) ||
		    (r == &t->prun && t->vmas[vi].v.inherit))
			die("corrupt image: page run %zu (%llx) is not inside one private mapping",
			    i, (unsigned long long)x->addr);
	}
}

/* A unix socket address: abstract (NUL first) or a NUL-terminated path. */
static bool usk_name_ok(const uint8_t *name, size_t len)
{
	if (!len || len > sizeof(((struct sockaddr_un *)0)->sun_path))
		return false;
	if (!name[0])
		return true;
	return name[len - 1] == 0 && strlen((const char *)name) == len - 1;
}

static bool usk_same_name(const struct usk *a, const struct usk *b)
{
	return a->namelen && a->namelen == b->namelen &&
	       !memcmp(a->name, b->name, a->namelen) &&
	       !a->dir == !b->dir && (!a->dir || !strcmp(a->dir, b->dir));
}

/* How many times socket id appears in listener l's queue. */
static size_t usk_queued(const struct usk *l, uint64_t id)
{
	size_t n = 0;

	for (size_t i = 0; i < l->nicons; i++)
		n += l->icons[i].client == id;
	return n;
}

static bool usk_accepted(const struct usk *k)
{
	return k->u.listener && k->u.peer_kind == TLV_USK_PEER_TREE;
}

/* A path name's file: dir/name; NULL for an abstract or no name. */
static const char *usk_path(const struct usk *k, char *buf, size_t size)
{
	if (!k->namelen || !k->name[0])
		return NULL;
	snprintf(buf, size, "%s%s%s", k->dir ? k->dir : "", k->dir ? "/" : "",
		 (const char *)k->name);
	return buf;
}

/* Every unix socket: its fields, and its links to the others. */
static void img_check_usks(const struct image *im)
{
	size_t n = im->nusks;

	for (size_t i = 0; i < n; i++) {
		const struct usk *k = &im->usks[i], *p = NULL, *l = NULL;
		const struct tlv_usk *u = &k->u;
		uint64_t sum = 0, fsum = 0;
		bool mutual;

		if (u->id != i + 1 || (u->type != SOCK_STREAM && u->type != SOCK_DGRAM &&
				       u->type != SOCK_SEQPACKET) ||
		    u->state < TLV_USK_UNCONN || u->state > TLV_USK_CONN ||
		    u->shutdown > 3 || u->flags > 63 || u->rcvbuf > INT_MAX ||
		    k->filterlen % sizeof(struct sock_filter) ||
		    k->filterlen > BPF_MAXINSNS * sizeof(struct sock_filter) ||
		    ((u->flags & TLV_USK_F_LOCKFILTER) && !k->filterlen) ||
		    u->rcvlowat > INT_MAX ||
		    u->sndbuf > INT_MAX || (u->peek_off > INT_MAX && u->peek_off != ~0ULL) ||
		    u->rcvtimeo_us > (1ULL << 50) || u->sndtimeo_us > (1ULL << 50) ||
		    u->mode > 07777 || u->uid >= 0xffffffffULL || u->gid >= 0xffffffffULL ||
		    u->backlog > INT_MAX || (u->backlog && u->state != TLV_USK_LISTEN) ||
		    u->peer > n || u->listener > n || u->peer == u->id)
			die("corrupt image: unix socket %zu: bad type, state or options", i + 1);
		if ((k->namelen && !usk_name_ok(k->name, k->namelen)) ||
		    (k->dir && (!k->namelen || !k->name[0] || k->name[0] == '/' ||
				k->dir[0] != '/')) ||
		    (!k->dir && k->namelen && k->name[0] && k->name[0] != '/') ||
		    ((u->flags & TLV_USK_F_DELETED) && (!k->namelen || !k->name[0])) ||
		    (k->pnamelen && (u->peer_kind != TLV_USK_PEER_EXT ||
				     !usk_name_ok(k->pname, k->pnamelen))))
			die("corrupt image: unix socket %zu: bad name", i + 1);
		if (u->peer)
			p = &im->usks[u->peer - 1];
		if (u->listener)
			l = &im->usks[u->listener - 1];
		mutual = p && p->u.peer == u->id;
		for (size_t m = 0, at = 0; m < k->nmsgs; m++) {
			uint64_t f = k->msgs[m].from;

			sum += k->msgs[m].len;
			if (f && (u->type != SOCK_DGRAM || f > k->fromlen - at ||
				  !usk_name_ok(k->from + at, f)))
				die("corrupt image: unix socket %zu: bad sender", i + 1);
			at += f;
			fsum += f;
		}
		if ((u->type == SOCK_STREAM ? k->nmsgs != 0 : sum != k->len) ||
		    fsum != k->fromlen ||
		    (k->len && u->state == TLV_USK_LISTEN) ||
		    (k->nicons && u->state != TLV_USK_LISTEN))
			die("corrupt image: unix socket %zu: bad queue", i + 1);
		switch (u->peer_kind) {
		case TLV_USK_PEER_NONE:
			if (u->state == TLV_USK_CONN || p || l)
				die("corrupt image: unix socket %zu: bad peer", i + 1);
			break;
		case TLV_USK_PEER_TREE:
			if (u->state != TLV_USK_CONN || !p || p->u.type != u->type ||
			    (u->type != SOCK_DGRAM && !mutual) ||
			    (!mutual && !p->namelen) ||
			    (l && (u->type == SOCK_DGRAM || l->u.state != TLV_USK_LISTEN ||
				   l->u.type != u->type || !usk_same_name(k, l) ||
				   p->u.listener)))
				die("corrupt image: unix socket %zu: bad peer", i + 1);
			break;
		case TLV_USK_PEER_DEAD:
		case TLV_USK_PEER_EXT:
			if (u->state != TLV_USK_CONN || p || l ||
			    (u->peer_kind == TLV_USK_PEER_EXT &&
			     (u->type != SOCK_DGRAM || !k->pnamelen)))
				die("corrupt image: unix socket %zu: bad peer", i + 1);
			break;
		case TLV_USK_PEER_QUEUED:
			if (u->state != TLV_USK_CONN || p || !l || k->len ||
			    l->u.state != TLV_USK_LISTEN || l->u.type != u->type ||
			    usk_queued(l, u->id) != 1)
				die("corrupt image: unix socket %zu: bad queued connection", i + 1);
			break;
		default:
			die("corrupt image: unix socket %zu: bad peer", i + 1);
		}
		if (k->len && !(mutual || u->peer_kind == TLV_USK_PEER_DEAD ||
				(u->type == SOCK_DGRAM && k->namelen)))
			die("corrupt image: unix socket %zu: data without a sender", i + 1);
		for (size_t c = 0; c < k->nicons; c++) {
			uint64_t id = k->icons[c].client;

			if (id > n || (id && (im->usks[id - 1].u.peer_kind != TLV_USK_PEER_QUEUED ||
					      im->usks[id - 1].u.listener != u->id ||
					      usk_queued(k, id) != 1)))
				die("corrupt image: unix socket %zu: bad connection queue", i + 1);
		}
		for (size_t j = 0; j < i; j++)
			if (usk_same_name(k, &im->usks[j]) &&
			    !(u->listener == j + 1 || im->usks[j].u.listener == i + 1 ||
			      (u->listener && u->listener == im->usks[j].u.listener)))
				die("corrupt image: unix sockets %zu and %zu bound to one name",
				    j + 1, i + 1);
	}
}

static void img_check_fd_state(const struct task *t, const struct fd *d)
{
	unsigned long long fd = d->f.fd;
	uint64_t c = d->tmr.clockid;

	if ((d->f.kind != TLV_FD_TIMERFD && d->tmr_at.realtime_ns) ||
	    (d->f.kind != TLV_FD_FANOTIFY && d->nmarks) ||
	    (d->f.kind != TLV_FD_INOTIFY && d->nwatches))
		die("corrupt image: fd %llu: state of another kind of fd", fd);
	for (size_t k = 0; k < d->nmarks; k++) {
		const struct tlv_fan_mark *m = &d->marks[k].m;

		if (!m->type || m->type > TLV_FAN_FS ||
		    (m->mflags & ~(uint64_t)(FAN_MARK_IGNORED_SURV_MODIFY |
					     FAN_MARK_EVICTABLE | FAN_MARK_IGNORE)) ||
		    m->mask > 0xffffffffULL || m->ignored_mask > 0xffffffffULL ||
		    (!m->mask && !m->ignored_mask) ||
		    d->marks[k].path[0] != '/')
			die("corrupt image: fd %llu: bad fanotify mark", fd);
	}
	if (d->fan.flags > 0xffffffffULL || d->fan.event_flags > 0xffffffffULL)
		die("corrupt image: fd %llu: bad fanotify flags", fd);
	for (size_t k = 0; k < d->nlocks; k++) {
		const struct tlv_lock *l = &d->locks[k];
		uint64_t acc = d->f.flags & O_ACCMODE;

		if (!l->kind || l->kind > TLV_LOCK_OFD || l->write > 1 ||
		    l->start > (1ULL << 62) || l->len > (1ULL << 62) ||
		    (l->kind == TLV_LOCK_FLOCK && (l->start || l->len)) ||
		    (d->f.kind != TLV_FD_REG && d->f.kind != TLV_FD_DIR &&
		     d->f.kind != TLV_FD_OBJ) || (d->f.flags & O_PATH) ||
		    (l->kind != TLV_LOCK_FLOCK &&
		     (l->write ? acc == O_RDONLY : acc == O_WRONLY)))
			die("corrupt image: fd %llu: bad file lock", fd);
	}
	switch (d->f.kind) {
	case TLV_FD_EVENTFD:
		if (d->ev.semaphore > 1 || d->ev.count == ~0ULL)
			die("corrupt image: fd %llu: bad eventfd", fd);
		break;
	case TLV_FD_TIMERFD:
		if ((c != CLOCK_REALTIME && c != CLOCK_MONOTONIC &&
		     c != CLOCK_BOOTTIME && c != CLOCK_REALTIME_ALARM &&
		     c != CLOCK_BOOTTIME_ALARM) || d->tmr.settime_flags > 3 ||
		    d->tmr.value_ns > (1ULL << 62) || d->tmr.interval_ns > (1ULL << 62) ||
		    d->tmr.ticks > (1ULL << 62) || d->tmr_at.realtime_ns > (1ULL << 62))
			die("corrupt image: fd %llu: bad timerfd", fd);
		break;
	case TLV_FD_EPOLL:
		for (size_t k = 0; k < d->nepoll; k++) {
			size_t j = 0;

			while (j < t->nfds && t->fds[j].f.fd != d->epoll[k].tfd)
				j++;
			if (j == t->nfds || d->epoll[k].events > 0xffffffffULL)
				die("corrupt image: fd %llu: epoll watches no fd %llu",
				    fd, (unsigned long long)d->epoll[k].tfd);
		}
		break;
	case TLV_FD_INOTIFY:
		for (size_t k = 0; k < d->nwatches; k++)
			if (!d->watches[k].w.wd || d->watches[k].w.wd > INT_MAX ||
			    (k && d->watches[k].w.wd <= d->watches[k - 1].w.wd) ||
			    d->watches[k].path[0] != '/' ||
			    d->watches[k].w.mask > 0xffffffffULL)
				die("corrupt image: fd %llu: bad inotify watch", fd);
		break;
	}
}

/* A terminal fd: an end of a pty of the image, or /dev/tty of its session's. */
static void img_check_tty_fd(const struct image *im, const struct task *t,
			     const struct fd *d)
{
	const struct tty_obj *y = d->f.obj && d->f.obj <= im->nttys ?
				  &im->ttys[d->f.obj - 1] : NULL;
	bool job = (im->t[0].proc.flags & TLV_PROC_SHELL_JOB) &&
		   t->proc.sid == im->t[0].proc.sid;
	char p[32];

	if (!d->path || (d->f.obj && (!y || y->y.kind == TLV_TTY_JOB)) ||
	    (tty_is_master(d->path) ? !y || y->y.kind != TLV_TTY_PTY :
	     !y ? !job : !strcmp(d->path, "/dev/tty") ? y->y.sid != t->proc.sid :
	     strcmp(d->path, tty_path(p, y->y.index))))
		die("corrupt image: fd %llu: bad terminal",
		    (unsigned long long)d->f.fd);
}

/*
 * Terminals: numbers unique, modes in range, the session a leader's of
 * the tree and its foreground group one of the session's, one open file
 * of the master exactly for a pty made anew, none for one outside.
 */
static void img_check_ttys(const struct image *im)
{
	for (size_t i = 0; i < im->nttys; i++) {
		const struct tty_obj *y = &im->ttys[i];
		const struct task *s = task_by_pid(im, y->y.sid);
		bool bad = y->y.index >= (1 << 20) || y->y.flags > 7 ||
			   (y->y.rows | y->y.cols | y->y.xpixel | y->y.ypixel) > 0xffff ||
			   y->y.kind < TLV_TTY_PTY || y->y.kind > TLV_TTY_JOB ||
			   (y->y.kind != TLV_TTY_PTY && (y->y.flags || y->nin || y->nout)) ||
			   (y->y.kind == TLV_TTY_JOB && (y->y.index || y->y.sid || i + 1 != im->nttys ||
							 !(im->t[0].proc.flags & TLV_PROC_SHELL_JOB))) ||
			   y->nin > TTY_MAX_INPUT || y->nout > TTY_MAX_QUEUED ||
			   (y->y.sid && (!s || task_zombie(s) || s->proc.sid != s->proc.pid)) ||
			   (!y->y.sid && y->y.pgrp);
		uint64_t ofd = 0;

		for (size_t k = 0; k < i && y->y.kind != TLV_TTY_JOB; k++)
			bad |= im->ttys[k].y.index == y->y.index ||
			       (y->y.sid && im->ttys[k].y.sid == y->y.sid);
		if (y->y.kind != TLV_TTY_EXTERN) {
			const struct tlv_termios *o = &y->tio;

			bad |= o->line || (o->iflag | o->oflag | o->cflag | o->lflag |
					   o->ispeed | o->ospeed) > 0xffffffffULL ||
			       o->cc2 >> 24;
		}
		bad |= y->y.pgrp && !task_by_pid(im, y->y.pgrp);
		for (size_t k = 0; k < im->nt; k++)
			for (size_t j = 0; j < im->t[k].nfds; j++) {
				const struct fd *d = &im->t[k].fds[j];

				if (d->f.kind != TLV_FD_TTY || d->f.obj != y->y.id ||
				    !tty_is_master(d->path))
					continue;
				bad |= ofd && ofd != d->f.ofd;
				ofd = d->f.ofd;
			}
		if (bad || !ofd != (y->y.kind != TLV_TTY_PTY))
			die("corrupt image: bad terminal %zu (pty %llu)", i + 1,
			    (unsigned long long)y->y.index);
		if (y->y.pgrp && !tty_pgrp_in(im, y->y.pgrp, y->y.sid))
			die("corrupt image: pty %llu: foreground group %llu is not in its session",
			    (unsigned long long)y->y.index,
			    (unsigned long long)y->y.pgrp);
	}
}

static void img_check_fds(const struct image *im, const struct task *t)
{
	for (size_t i = 0; i < t->nfds; i++) {
		const struct fd *d = &t->fds[i];
		unsigned long long fd = d->f.fd;
		bool path = false, pipe = false;

		if (d->f.fd > (1 << 20) || (i && d->f.fd <= t->fds[i - 1].f.fd) ||
		    !d->f.ofd || d->f.ofd > im->nofds || d->f.cloexec > 1 ||
		    d->f.pos > (1ULL << 62))
			die("corrupt image: fd %llu: bad number, order, flags or position", fd);
		switch (d->f.kind) {
		case TLV_FD_STDIO:
			if (d->f.obj > 2 || !(im->t[0].proc.flags & TLV_PROC_SHELL_JOB))
				die("corrupt image: fd %llu: bad inherited descriptor", fd);
			break;
		case TLV_FD_FIFO:
			path = true;
			/* fall through */
		case TLV_FD_PIPE:
			pipe = true;
			if (!d->f.obj || d->f.obj > im->npipes ||
			    !im->pipes[d->f.obj - 1].path != !path ||
			    ((d->f.flags & O_ACCMODE) == O_RDWR && !path))
				die("corrupt image: fd %llu: bad pipe", fd);
			break;
		case TLV_FD_REG:
			if (!S_ISREG(d->st.mode) && !(d->f.flags & O_PATH))
				die("corrupt image: fd %llu: a file that is not regular, not O_PATH", fd);
			/* fall through */
		case TLV_FD_DIR:
		case TLV_FD_CHR:
			path = true;
			break;
		case TLV_FD_OBJ:
			if (!d->f.obj || d->f.obj > im->nobjs ||
			    im->objs[d->f.obj - 1].s.kind == TLV_OBJ_SYSV)
				die("corrupt image: fd %llu: bad file object", fd);
			break;
		case TLV_FD_TTY:
			path = true;
			img_check_tty_fd(im, t, d);
			break;
		case TLV_FD_UNIX:
			if (!d->f.obj || d->f.obj > im->nusks)
				die("corrupt image: fd %llu: bad unix socket", fd);
			break;
		case TLV_FD_EVENTFD:
		case TLV_FD_SIGNALFD:
		case TLV_FD_TIMERFD:
		case TLV_FD_EPOLL:
		case TLV_FD_INOTIFY:
		case TLV_FD_FANOTIFY:
			break;
		case TLV_FD_INET:
		case TLV_FD_NETLINK:
		case TLV_FD_PACKET:
			if (!d->sk)
				die("corrupt image: fd %llu: socket without its state", fd);
			img_check_sock(d);
			break;
		default:
			die("corrupt image: fd %llu: unknown kind", fd);
		}
		if (d->sk && d->f.kind != TLV_FD_INET &&
		    d->f.kind != TLV_FD_NETLINK && d->f.kind != TLV_FD_PACKET)
			die("corrupt image: fd %llu: socket state on another kind", fd);
		if (!d->path != !path || (path && d->path[0] != '/') ||
		    (d->f.obj && d->f.kind != TLV_FD_STDIO && !pipe &&
		     d->f.kind != TLV_FD_OBJ && d->f.kind != TLV_FD_TTY &&
		     d->f.kind != TLV_FD_UNIX))
			die("corrupt image: fd %llu: bad path or object", fd);
		img_check_fd_state(t, d);
	}
}

/* All fds of one open file description must describe the same file. */
static void img_check_ofds(const struct image *im)
{
	const struct fd **first = xzalloc((im->nofds + 1) * sizeof(*first));
	size_t *owner = xzalloc((im->nofds + 1) * sizeof(*owner));

	for (size_t i = 0; i < im->nt; i++)
		for (size_t k = 0; k < im->t[i].nfds; k++) {
			const struct fd *d = &im->t[i].fds[k], *e = first[d->f.ofd];

			if (!e) {
				first[d->f.ofd] = d;
				owner[d->f.ofd] = i;
				continue;
			}
			if (d->f.kind == TLV_FD_EPOLL && owner[d->f.ofd] != i)
				die("an epoll instance shared by two processes: not supported yet");
			if (e->f.kind != d->f.kind ||
			    (e->f.obj != d->f.obj && d->f.kind != TLV_FD_STDIO) ||
			    e->f.flags != d->f.flags || e->f.pos != d->f.pos ||
			    (!e->path) != (!d->path) ||
			    (e->path && strcmp(e->path, d->path)))
				die("corrupt image: open file %llu described two ways",
				    (unsigned long long)d->f.ofd);
		}
	free(first);
	free(owner);
}

static void img_check_thread(const struct image *im, const struct task *t,
			     const struct thread *th)
{
	ctx.pid = th->t.tid;
	if (!th->t.tid || th->t.tid >= (1 << 22) || strlen(th->comm) > 15 ||
	    th->t.sigmask & (1ULL << (SIGKILL - 1) | 1ULL << (SIGSTOP - 1)))
		die("corrupt image: bad thread id, name or mask");
	for (size_t i = 0; i < im->nt; i++) {
		if (im->t[i].proc.pid == th->t.tid && &im->t[i] != t)
			die("corrupt image: thread id is another process's pid");
		for (size_t k = 0; k < im->t[i].nth; k++)
			if (&im->t[i].th[k] != th &&
			    im->t[i].th[k].t.tid == th->t.tid)
				die("corrupt image: thread id appears twice");
	}
	for (size_t i = 0; i < th->nsig; i++) {
		uint32_t signo = (uint32_t)th->sig[i].w0;

		if (!signo || signo > NSIG_MAX || signo == SIGKILL ||
		    signo == SIGSTOP || th->sig[i].shared > 1 ||
		    (th->sig[i].shared && th != t->th))
			die("corrupt image: bad pending signal %u", signo);
	}
	if (th->t.rseq_addr && (th->t.rseq_addr % 32 ||
				th->t.rseq_addr >= arch_task_size() ||
				th->t.rseq_len < 32 || th->t.rseq_len > 4096))
		die("corrupt image: bad rseq registration");
	if (th->t.ss_sp >= arch_task_size() || th->t.ss_size > (1ULL << 40) ||
	    th->t.robust_head >= arch_task_size() || th->t.robust_len > 4096 ||
	    th->t.tid_addr >= arch_task_size() || th->t.nice > 39 ||
	    th->t.policy > 7 || th->t.rt_prio > 99)
		die("corrupt image: bad signal stack, robust list, tid address or scheduling");
	arch_check_fpu(th);
}

/* ---- timers, credentials, seccomp (validate) ---- */
#define MAX_TIME_NS	(1ULL << 62)	/* ~146 years: no overflow in sums */

static bool clock_known(uint64_t c)
{
	return c <= 3 || (c >= 7 && c <= 9) || c == 11;	/* not 4-6, 10 */
}

static void img_check_seccomp(const struct thread *th)
{
	uint64_t insns = 0;

	if (th->sc.mode > 2 || (th->sc.mode == 2) != (th->sc.nfilters > 0) ||
	    th->sc.nfilters != th->nscf || th->sc.nfilters > 1024 ||
	    (th->sc.nfilters && !th->scprog))
		die("corrupt image: bad seccomp mode or filter count");
	for (size_t i = 0; i < th->nscf; i++) {
		if (!th->scf[i].ninsn || th->scf[i].ninsn > 4096 ||
		    th->scf[i].flags & ~(uint64_t)SECCOMP_FILTER_FLAG_LOG_)
			die("corrupt image: bad seccomp filter %zu", i);
		insns += th->scf[i].ninsn;
	}
	if (insns * 8 != th->scprog_len)
		die("corrupt image: seccomp programs of the wrong size");
}

static void img_check_kstate(const struct task *t)
{
	const struct tlv_priv *c = &t->priv;

	for (size_t i = 0; i < t->nitimer; i++)
		if (t->itimer[i].which > 2 ||
		    (i && t->itimer[i].which <= t->itimer[i - 1].which) ||
		    !t->itimer[i].value_ns || t->itimer[i].value_ns > MAX_TIME_NS ||
		    t->itimer[i].interval_ns > MAX_TIME_NS)
			die("corrupt image: bad interval timer row %zu", i);
	for (size_t i = 0; i < t->nptimers; i++) {
		const struct tlv_ptimer *p = &t->ptimers[i];
		bool tid_ok = !p->tid;

		for (size_t k = 0; k < t->nth && !tid_ok; k++)
			tid_ok = p->notify == (SIGEV_SIGNAL | SIGEV_THREAD_ID) &&
				 p->tid == t->th[k].t.tid;
		if (p->id > INT32_MAX || (i && p->id <= t->ptimers[i - 1].id) ||
		    !clock_known(p->clock) ||
		    (p->notify != SIGEV_SIGNAL && p->notify != SIGEV_NONE &&
		     p->notify != (SIGEV_SIGNAL | SIGEV_THREAD_ID)) ||
		    (p->notify != SIGEV_NONE && (!p->signo || p->signo > NSIG_MAX)) ||
		    p->signo > UINT32_MAX || !tid_ok ||
		    (p->notify == (SIGEV_SIGNAL | SIGEV_THREAD_ID) && !p->tid) ||
		    p->value_ns > MAX_TIME_NS || p->interval_ns > MAX_TIME_NS ||
		    p->overrun > INT32_MAX || p->pending > 1 ||
		    (p->pending && p->notify == SIGEV_NONE))
			die("corrupt image: bad POSIX timer row %zu", i);
	}
	if (t->times.timens > 1 || t->times.monotonic_ns > MAX_TIME_NS ||
	    t->times.boottime_ns > MAX_TIME_NS || t->times.realtime_ns > MAX_TIME_NS)
		die("corrupt image: bad TIMES");
	if ((c->eff & ~c->prm) || (c->amb & ~(c->prm & c->inh)) ||
	    c->securebits > 0xfff || c->no_new_privs > 1)
		die("corrupt image: bad capability sets, securebits or no_new_privs");
	for (size_t k = 0; k < t->nth; k++)
		img_check_seccomp(&t->th[k]);
}

/* Kernel-state records (section 5b): values the kernel could have given. */
static void kst_check_task(const struct task *t)
{
	const struct tlv_kstate *k = &t->ks;
	uint64_t which = 0;

	if (k->dumpable > 1 || k->thp_disable > 3 || k->thp_disable == 2 ||
	    k->mdwe > KST_MDWE_ALL || k->mdwe == 2 || k->memory_merge > 1 ||
	    k->mlockall & ~(uint64_t)(MCL_FUTURE | MCL_ONFAULT) ||
	    k->mlockall == MCL_ONFAULT || k->oom_score_adj > 2000)
		die("corrupt image: bad prctl state (KSTATE)");
	for (size_t i = 0; i < t->nspec; i++) {
		if (t->spec[i].which >= KST_NSPEC || t->spec[i].value > 31 ||
		    which & (1ULL << t->spec[i].which))
			die("corrupt image: bad speculation control row %zu", i);
		which |= 1ULL << t->spec[i].which;
	}
	if (t->cgroup && (t->cgroup[0] != '/' || strstr(t->cgroup, "//") ||
			  strstr(t->cgroup, "/../") || ends_with(t->cgroup, "/..") ||
			  strstr(t->cgroup, "/./") || ends_with(t->cgroup, "/.") ||
			  strchr(t->cgroup, '\n')))
		die("corrupt image: bad cgroup path");
	for (size_t i = 0; i < t->nvmas; i++) {
		const struct vma *v = &t->vmas[i];
		uint64_t a = v->adv.advice;

		if (!a && !v->adv.pkey)
			continue;
		if (a & ~(uint64_t)TLV_ADV_ALL || v->adv.pkey > 15 ||
		    ((a & TLV_ADV_ONFAULT) && !(a & TLV_ADV_LOCKED)) ||
		    ((a & TLV_ADV_HUGEPAGE) && (a & TLV_ADV_NOHUGEPAGE)) ||
		    ((a & TLV_ADV_WIPEONFORK) && (v->v.kind != TLV_VMA_ANON)) ||
		    v->v.kind == TLV_VMA_SPECIAL)
			die("corrupt image: mapping %llx: bad advice or protection key",
			    (unsigned long long)v->v.start);
	}
	for (size_t i = 0; i < t->nth; i++) {
		const struct thread *th = &t->th[i];
		uint64_t any = 0;

		for (size_t c = 0; c < th->ncpus; c++)
			any |= th->cpus[c].bits;
		if (th->kt.ioprio >= 1 << 16 || th->kt.ioprio >> 13 > 3 ||
		    th->kt.timerslack > (1ULL << 40) ||
		    (th->cpus && (!any || th->ncpus > KST_MAX_CPUS / 64)))
			die("corrupt image: thread %llu: bad io priority, timer slack or CPU mask",
			    (unsigned long long)th->t.tid);
	}
}

/*
 * A process sharing its parent's fd table has the parent's fds, exactly;
 * one sharing its fs struct has the parent's cwd, root and umask.  Only
 * the parent sets them at restore (and only with root "/": a chroot in
 * one would move the other's paths while it still opens files).
 */
static void img_check_share(const struct image *im, const struct task *t)
{
	const struct task *p = t->parent >= 0 ? &im->t[t->parent] : NULL;

	if (!t->share.files && !t->share.fs)
		return;
	if (!p || t->via >= 0 || t->share.files > 1 || t->share.fs > 1)
		die("corrupt image: bad SHARE record");
	if (t->share.fs && (strcmp(t->cwd, p->cwd) || strcmp(t->root, "/") ||
			    strcmp(p->root, "/") || t->proc.umask != p->proc.umask))
		die("corrupt image: a shared fs struct differs, or has a root other than /");
	if (t->share.files && t->nfds != p->nfds)
		die("corrupt image: a shared fd table differs");
	for (size_t i = 0; t->share.files && i < t->nfds; i++)
		if (t->fds[i].f.fd != p->fds[i].f.fd ||
		    t->fds[i].f.ofd != p->fds[i].f.ofd ||
		    t->fds[i].f.cloexec != p->fds[i].f.cloexec)
			die("corrupt image: a shared fd table differs");
}

/* Does a child of task i share its fd table (so i restores it for both)? */
static bool files_shared(const struct image *im, size_t i)
{
	if (im->t[i].share.files)
		return true;
	for (size_t k = i + 1; k < im->nt; k++)
		if (im->t[k].parent == (long)i && im->t[k].share.files)
			return true;
	return false;
}

static void img_check_task(const struct image *im, const struct task *t)
{
	uint64_t sigs = 0;

	ctx.pid = t->proc.pid;
	if (t->proc.exit_signal > NSIG_MAX || t->proc.umask > 0777 ||
	    t->proc.pdeath_signal > NSIG_MAX || t->proc.subreaper > 1)
		die("corrupt image: bad exit signal, umask, pdeath signal or subreaper");
	if (task_zombie(t))
		return;
	if (t->th[0].t.tid != t->proc.pid)
		die("corrupt image: the first thread is not the main thread");
	if (t->cwd[0] != '/' || t->root[0] != '/' || t->exe[0] != '/')
		die("corrupt image: bad cwd, root or exe");
	{
		uint64_t f[sizeof(t->mm) / 8];

		memcpy(f, &t->mm, sizeof(f));
		for (size_t i = 0; i < ARRAY_SIZE(f); i++)
			if (f[i] > arch_task_size())
				die("corrupt image: memory layout field out of range");
	}
	if (!t->nauxv || t->nauxv > 64 || t->auxv[t->nauxv - 1].key != AT_NULL)
		die("corrupt image: bad auxiliary vector");
	for (size_t i = 0; i < t->nrlim; i++)
		if (t->rlim[i].res >= RLIM_NLIMITS ||
		    (i && t->rlim[i].res <= t->rlim[i - 1].res) ||
		    t->rlim[i].cur > t->rlim[i].max)
			die("corrupt image: bad rlimit row %zu", i);
	for (size_t i = 0; i < t->nact; i++) {
		const struct tlv_sigact *a = &t->act[i];

		if (!a->sig || a->sig > NSIG_MAX || a->sig == SIGKILL ||
		    a->sig == SIGSTOP || (sigs & (1ULL << (a->sig - 1))) ||
		    a->handler >= arch_task_size() ||
		    a->restorer >= arch_task_size())
			die("corrupt image: bad action for signal %llu",
			    (unsigned long long)a->sig);
		sigs |= 1ULL << (a->sig - 1);
	}
	img_check_vmas(im, t);
	kst_check_task(t);
	img_check_runs(t, &t->own);
	img_check_runs(t, &t->prun);
	if (t->prun.n) {
		struct runs both = { 0 };

		if (!im->parent)
			die("corrupt image: pages kept in a parent image, but no parent");
		runs_and(&t->own, &t->prun, &both);
		if (both.n)
			die("corrupt image: page %llx both saved and in the parent image",
			    (unsigned long long)both.v[0].addr);
	}
	img_check_runs(t, &t->inh);
	img_check_fds(im, t);
	img_check_share(im, t);
	for (size_t i = 0; i < t->nth; i++)
		img_check_thread(im, t, &t->th[i]);
	ctx.pid = t->proc.pid;
	img_check_kstate(t);
}

static void img_check(struct image *im)
{
	size_t nfds = 0;

	for (size_t i = 0; i < im->nt; i++)
		for (size_t k = 0; k < im->t[i].nfds; k++) {
			nfds++;
			if (im->t[i].fds[k].f.ofd > im->nofds)
				im->nofds = im->t[i].fds[k].f.ofd;
		}
	if (im->nofds > nfds)
		die("corrupt image: open file numbers out of range");
	if (!im->parent != !im->parent_id.bytes)
		die("corrupt image: PARENT and PARENT_ID go together");
	for (size_t i = 0; i < im->ntrack; i++)
		if (!task_by_pid(im, im->track[i].pid) ||
		    (im->track[i].fd > INT_MAX &&
		     im->track[i].fd != TLV_TRACK_SOFT_DIRTY))
			die("corrupt image: tracker of an unknown process");
	img_link_tree(im);
	img_check_tree(im);
	for (size_t i = 0; i < im->nt; i++)
		img_check_task(im, &im->t[i]);
	img_check_ofds(im);
	for (size_t i = 0; i < im->nt; i++)
		for (size_t k = 0; k < im->t[i].nfds; k++) {
			const struct tlv_fown *o = &im->t[i].fds[k].own;

			if (o->type > F_OWNER_PGRP || o->sig >= NSIG_MAX ||
			    !fown_in_image(im, o) ||
			    ((o->pid || o->sig) &&
			     im->t[i].fds[k].f.kind == TLV_FD_STDIO))
				die("corrupt image: pid %llu fd %llu: bad SIGIO owner",
				    (unsigned long long)im->t[i].proc.pid,
				    (unsigned long long)im->t[i].fds[k].f.fd);
		}
	img_check_ttys(im);
	img_check_usks(im);
	{	/* a socket is one open file description, used somewhere */
		uint64_t *ofd = xzalloc((im->nusks + 1) * sizeof(*ofd));

		for (size_t i = 0; i < im->nt; i++)
			for (size_t k = 0; k < im->t[i].nfds; k++) {
				const struct fd *d = &im->t[i].fds[k];

				if (d->f.kind != TLV_FD_UNIX)
					continue;
				if (ofd[d->f.obj] && ofd[d->f.obj] != d->f.ofd)
					die("corrupt image: unix socket %llu opened twice",
					    (unsigned long long)d->f.obj);
				ofd[d->f.obj] = d->f.ofd;
			}
		for (size_t i = 1; i <= im->nusks; i++)
			if (!ofd[i])
				die("corrupt image: unix socket %zu in no process", i);
		free(ofd);
	}
	for (size_t i = 0; i < im->nobjs; i++) {
		const struct runs *r = &im->objs[i].runs;
		uint64_t prev = 0;

		for (size_t k = 0; k < i; k++)
			if (im->objs[i].s.kind == TLV_OBJ_SYSV &&
			    im->objs[k].s.kind == TLV_OBJ_SYSV &&
			    (im->objs[k].shm.shmid == im->objs[i].shm.shmid ||
			     (im->objs[i].shm.key &&
			      im->objs[k].shm.key == im->objs[i].shm.key)))
				die("corrupt image: two System V shm segments with one id or key");

		for (size_t k = 0; k < r->n; k++) {
			if (r->v[k].addr % PAGE || r->v[k].addr < prev ||
			    r->v[k].addr + r->v[k].npages * PAGE >
				    PAGE_ROUND(im->objs[i].s.size))
				die("corrupt image: file object run out of range");
			prev = r->v[k].addr + r->v[k].npages * PAGE;
		}
	}
	ctx.pid = 0;
}

/*
 * An image chain (section 5b): each PARENT is read and checked like any
 * image, and must be the very image its child was dumped against (its END
 * record, kept in PARENT_ID).  Restore reads the chain to its first image
 * and finds, for every page a process keeps in a parent, the image and
 * offset that hold it; a page found nowhere is an error, before any fork.
 */
#define CHAIN_MAX 64

/* parent's path: as written if absolute, else beside the image. */
static char *chain_path(const char *image, const char *parent)
{
	const char *slash = image ? strrchr(image, '/') : NULL;
	size_t dl = slash ? (size_t)(slash - image) + 1 : 0;
	char *p;

	if (parent[0] == '/' || !dl)
		return xstrdup(parent);
	p = xmalloc(dl + strlen(parent) + 1);
	memcpy(p, image, dl);
	strcpy(p + dl, parent);
	return p;
}

/* A parent image, read and checked; key: --verify its MAC too. */
static struct image *chain_read(const char *path, const char *key,
				 bool defer)
{
	struct img_in in = { .name = path, .checked = xfer_last,
			     .defer = defer };
	struct image *p = xzalloc(sizeof(*p));

	if (key)
		hmac_key_file(in.mac = xzalloc(sizeof(*in.mac)), key);
	in.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (in.fd < 0)
		die_errno("parent image %s", path);
	img_read(&in, p);
	img_check(p);
	p->fd = in.fd;
	return p;
}

/* The places in image img (task q there) of the pages of got. */
static void chain_sources(struct task *t, const struct runs *got,
			  const struct task *q, const struct image *img)
{
	uint64_t off = q->pages_off;
	size_t k = 0;

	for (size_t i = 0; i < got->n; i++) {
		const struct tlv_run *g = &got->v[i];
		struct psrc *x;

		while (q->own.v[k].addr + q->own.v[k].npages * PAGE <= g->addr)
			off += q->own.v[k++].npages * PAGE;
		x = vec_add(&t->src, &t->nsrc, sizeof(*x));
		x->addr = g->addr;
		x->npages = g->npages;
		x->off = off + (g->addr - q->own.v[k].addr);
		x->img = img;
	}
}

static void chain_resolve(struct task *t, const struct image *im)
{
	struct runs need = { 0 }, none = { 0 };

	runs_or(&t->prun, &none, &need);
	for (const struct image *p = im->prev; need.n; p = p->prev) {
		const struct task *q = p ? task_by_pid(p, t->proc.pid) : NULL;
		struct runs got = { 0 }, left = { 0 }, lost = { 0 };

		if (!q || task_zombie(q))
			die("image chain: the pages pid %llu keeps in its parent images are not there",
			    (unsigned long long)t->proc.pid);
		runs_and(&need, &q->own, &got);
		chain_sources(t, &got, q, p);
		runs_minus(&need, &q->own, &left);
		runs_minus(&left, &q->prun, &lost);
		if (lost.n)
			die("image chain: page %llx of pid %llu is in no image of the chain",
			    (unsigned long long)lost.v[0].addr,
			    (unsigned long long)t->proc.pid);
		free(got.v), free(lost.v), free(need.v);
		need = left;
	}
	free(need.v);
}

/* Restore: the whole chain under im (read from path, NULL: stdin);
 * with --verify every image of it must carry the key's MAC. */
static void chain_load(struct image *im, const char *path, const char *key,
		       bool defer)
{
	const char *at = path;
	int depth = 0;

	for (struct image *c = im; c->parent; c = c->prev) {
		char *pp = chain_path(at, c->parent);

		if (++depth > CHAIN_MAX)
			die("image chain: more than %d images (a loop?)", CHAIN_MAX);
		if (xfer_last) {	/* received (6b): the slot before only */
			char want[32];

			snprintf(want, sizeof(want), "../%d/cr.img",
				 (int)xfer_last - depth);
			if (strcmp(c->parent, want))
				die("image chain: a received image names %s as its parent, not %s",
				    c->parent, want);
		}
		c->prev = chain_read(pp, key, defer);
		if (memcmp(&c->prev->end, &c->parent_id, sizeof(c->parent_id)))
			die("image chain: %s is not the image %s was dumped against",
			    pp, at ? at : "standard input");
		at = pp;
	}
	for (size_t i = 0; i < im->nt; i++)
		if (im->t[i].prun.n)
			chain_resolve(&im->t[i], im);
}

/* A file the image refers to must still be what it was at dump time. */
static void check_file(const char *what, const char *path,
		       const struct tlv_fstat *want, bool mtime)
{
	struct stat sb;

	if ((S_ISLNK(want->mode) ? lstat(path, &sb) : stat(path, &sb)))
		die_errno("%s %s", what, path);
	if ((sb.st_mode & S_IFMT) != (want->mode & S_IFMT))
		die("%s %s: is no longer the same kind of file", what, path);
	if (S_ISREG(sb.st_mode) && (uint64_t)sb.st_size != want->size)
		die("%s %s: size is %lld, was %llu at dump time", what, path,
		    (long long)sb.st_size, (unsigned long long)want->size);
	if (S_ISCHR(sb.st_mode) && sb.st_rdev != want->rdev)
		die("%s %s: is another device now", what, path);
	if (mtime && (uint64_t)(sb.st_mtim.tv_sec * 1000000000ULL +
				sb.st_mtim.tv_nsec) != want->mtime_ns)
		die("%s %s: was modified since the dump", what, path);
}

static void check_dir(const char *what, const char *path)
{
	struct stat sb;

	if (stat(path, &sb))
		die_errno("%s %s", what, path);
	if (!S_ISDIR(sb.st_mode))
		die("%s %s: not a directory", what, path);
}

/* Killed, and not dead yet: SIGKILL pending. */
static bool pid_dying(int pid)
{
	char *st = proc_read(pid, "status", NULL);
	uint64_t mask = 0;

	if (!st)
		return true;
	if (proc_field(st, "ShdPnd"))
		mask |= strtoull(proc_field(st, "ShdPnd"), NULL, 16);
	if (proc_field(st, "SigPnd"))
		mask |= strtoull(proc_field(st, "SigPnd"), NULL, 16);
	free(st);
	return mask & (1ULL << (SIGKILL - 1));
}

/*
 * A PID must be free.  A zombie holding it, or a process still dying
 * (typically one cr dump just killed, whose parent has not reaped it yet:
 * init may take a second or two), is waited for, a few seconds at most.
 */
/*
 * The pid must be free; a zombie or a dying process is waited for.  So is
 * a live one, for a while, when the image came down a pipe: the dump at
 * the other end kills its tree only once the whole image is written.
 */
static void host_wait_pid_free(int pid, bool streamed)
{
	for (int ms = 0; kill(pid, 0) == 0 || errno != ESRCH; ms += 10) {
		uint64_t f[STAT_FIELDS];

		if (!proc_read_stat(pid, f))
			continue;	/* gone meanwhile */
		if (f[3] != 'Z' && f[3] != 'X' && !(f[9] & 4 /* PF_EXITING */) &&
		    !pid_dying(pid) && (!streamed || ms >= 5000))
			die("pid %d is in use by another process", pid);
		if (ms >= 5000)
			die("pid %d is held by a zombie its parent (pid %llu) does not reap",
			    pid, (unsigned long long)f[4]);
		if (ms == 0)
			info("waiting for the zombie with pid %d to be reaped", pid);
		usleep(10000);
	}
}

/*
 * ---- credentials and seccomp (host check) ----
 * Root restores any credentials; otherwise the kernel only lets a
 * process keep or lower what cr itself has, and cr says so up front.
 * Seccomp filters need PTRACE_O_SUSPEND_SECCOMP (CAP_SYS_ADMIN) so that
 * they cannot block the end of the restore.
 */
struct own_creds {		/* cr's, as the restored processes start */
	uint64_t ids[8];	/* as TLV_F_CREDS */
	gid_t groups[NGROUPS_MAX];
	int ngroups;
	struct tlv_priv caps;
};

static const struct own_creds *own_creds(void)
{
	static struct own_creds o;
	static bool done;
	uid_t u[3];
	gid_t g[3];
	char *st;

	if (done)
		return &o;
	done = true;
	if (getresuid(&u[0], &u[1], &u[2]) || getresgid(&g[0], &g[1], &g[2]) ||
	    (o.ngroups = getgroups(NGROUPS_MAX, o.groups)) < 0)
		die_errno("reading cr's credentials");
	st = proc_xread(0, "status", NULL);
	o.ids[0] = u[0], o.ids[1] = u[1], o.ids[2] = u[2];
	o.ids[3] = setfsuid(-1);
	o.ids[4] = g[0], o.ids[5] = g[1], o.ids[6] = g[2];
	o.ids[7] = setfsgid(-1);
	o.caps = (struct tlv_priv){ status_hex(st, "CapInh"),
		status_hex(st, "CapPrm"), status_hex(st, "CapEff"),
		status_hex(st, "CapBnd"), status_hex(st, "CapAmb"),
		prctl(PR_GET_SECUREBITS, 0, 0, 0, 0),
		proc_field_u64(st, "NoNewPrivs", 10, "status") };
	free(st);
	return &o;
}

static bool own_cap(int cap)
{
	return own_creds()->caps.eff >> cap & 1;
}

static bool creds_ids_differ(const struct task *t)
{
	const struct own_creds *o = own_creds();

	return memcmp(&t->creds, o->ids, sizeof(o->ids)) != 0;
}

static bool creds_groups_differ(const struct task *t)
{
	const struct own_creds *o = own_creds();

	if ((size_t)o->ngroups != t->ngroups)
		return true;
	for (int i = 0; i < o->ngroups; i++)
		if (o->groups[i] != t->groups[i].gid)
			return true;
	return false;
}

static bool task_seccomp(const struct task *t)
{
	for (size_t k = 0; k < t->nth; k++)
		if (t->th[k].sc.mode)
			return true;
	return false;
}

static void host_check_creds(const struct task *t)
{
	const struct own_creds *o = own_creds();
	const struct tlv_priv *c = &t->priv, *m = &o->caps;
	uint64_t lock = m->securebits & 0xaa;	/* the *_LOCKED bits */

	if (creds_ids_differ(t) && (!own_cap(CAP_SETUID) || !own_cap(CAP_SETGID)))
		die("the process ran as uid %llu gid %llu, cr runs as uid %llu gid %llu: restoring other ids needs root",
		    (unsigned long long)t->creds.uid,
		    (unsigned long long)t->creds.gid,
		    (unsigned long long)o->ids[0], (unsigned long long)o->ids[4]);
	if (creds_groups_differ(t) && !own_cap(CAP_SETGID))
		die("supplementary groups differ from cr's: restoring them needs root");
	if ((c->prm & ~m->prm) || (c->inh & ~(m->inh | m->prm)) ||
	    (c->inh & ~(m->inh | m->bnd)) || (c->bnd & ~m->bnd))
		die("the process had capabilities cr does not have (permitted %llx, bounding %llx; cr: %llx, %llx)",
		    (unsigned long long)c->prm, (unsigned long long)c->bnd,
		    (unsigned long long)m->prm, (unsigned long long)m->bnd);
	if ((c->bnd != m->bnd || c->securebits != m->securebits ||
	     creds_ids_differ(t)) && !own_cap(CAP_SETPCAP))
		die("restoring the bounding set or securebits needs CAP_SETPCAP");
	if (((m->securebits ^ c->securebits) & (lock | lock >> 1)) ||
	    (m->no_new_privs && !c->no_new_privs))
		die("cr runs with locked securebits or no_new_privs the process did not have");
	if (task_seccomp(t) && (!own_cap(CAP_SYS_ADMIN) || prctl(PR_GET_SECCOMP)))
		die("restoring seccomp needs CAP_SYS_ADMIN and cr not in seccomp mode itself");
}

/* Resource limits can only be raised up to cr's own hard limits. */
static void host_check_rlimits(const struct task *t)
{
	for (size_t i = 0; i < t->nrlim; i++) {
		struct rlimit rl;

		if (getrlimit(t->rlim[i].res, &rl))
			die_errno("getrlimit %llu", (unsigned long long)t->rlim[i].res);
		if (t->rlim[i].max > rl.rlim_max)
			die("resource limit %llu: hard limit %llu is above cr's own (%llu)",
			    (unsigned long long)t->rlim[i].res,
			    (unsigned long long)t->rlim[i].max,
			    (unsigned long long)rl.rlim_max);
	}
}

/*
 * Section 5b: the cgroup v2 directory of a path, from cgroup2's
 * mount in cr's mount namespace; NULL if there is no cgroup2 mount.
 */
static char *kst_cgroup_dir(const char *path)
{
	char *mi = proc_xread(0, "mountinfo", NULL), *line, *save, *dir = NULL;

	for (line = strtok_r(mi, "\n", &save); line && !dir;
	     line = strtok_r(NULL, "\n", &save)) {
		char root[PATH_MAX], mnt[PATH_MAX], *sep = strstr(line, " - ");
		size_t rl;

		if (!sep || strncmp(sep, " - cgroup2 ", 11) ||
		    sscanf(line, "%*u %*u %*s %4095s %4095s", root, mnt) != 2)
			continue;
		rl = strcmp(root, "/") ? strlen(root) : 0;
		if (strncmp(path, root, rl) || (path[rl] && path[rl] != '/'))
			continue;
		dir = xmalloc(strlen(mnt) + strlen(path) + 2);
		sprintf(dir, "%s%s", mnt, path + rl);
	}
	free(mi);
	return dir;
}

/* Is t to be moved into another cgroup than cr's own?  Its directory. */
static char *kst_cgroup_target(const struct task *t)
{
	char *text, *mine;
	bool same;

	if (!t->cgroup || task_zombie(t))
		return NULL;
	text = proc_xread(0, "cgroup", NULL);
	mine = kst_cgroup_v2(text);
	same = mine && !strcmp(mine, t->cgroup);
	free(mine);
	free(text);
	if (same)
		return NULL;
	if (!(mine = kst_cgroup_dir(t->cgroup)))
		die("the process was in cgroup %s, but cgroup v2 is not mounted here",
		    t->cgroup);
	return mine;
}

static void kst_rmdir(void *arg)
{
	rmdir(arg);
}

/*
 * Every cgroup the tree goes back into must exist; with --manage-cgroups
 * cr creates the missing ones (and removes them again if restore fails).
 */
static void kst_host_cgroups(const struct image *im, bool create)
{
	struct stat sb;

	for (size_t i = 0; i < im->nt; i++) {
		char *dir = kst_cgroup_target(&im->t[i]), *p;

		if (!dir || !stat(dir, &sb)) {
			free(dir);
			continue;
		}
		ctx.pid = im->t[i].proc.pid;
		if (!create)
			die("cgroup %s does not exist (%s): create it, or restore with --manage-cgroups",
			    im->t[i].cgroup, dir);
		for (p = strchr(dir + 1, '/');; p = strchr(p + 1, '/')) {
			if (p)
				*p = 0;
			if (!mkdir(dir, 0755))
				undo_push(kst_rmdir, xstrdup(dir));
			else if (errno != EEXIST)
				die_errno("creating cgroup %s", dir);
			if (!p)
				break;
			*p = '/';
		}
		info("created cgroup %s", dir);
		free(dir);
	}
	ctx.pid = 0;
}

/* Protection keys need the CPU's and kernel's support. */
static void kst_host_pkeys(const struct task *t)
{
	long k;

	for (size_t i = 0; i < t->nvmas; i++)
		if (t->vmas[i].adv.pkey) {
			k = syscall(SYS_pkey_alloc, 0, 0);
			if (k < 0)
				die_errno("mapping %llx has protection key %llu, but this host has no protection keys",
					  (unsigned long long)t->vmas[i].v.start,
					  (unsigned long long)t->vmas[i].adv.pkey);
			syscall(SYS_pkey_free, k);
			return;
		}
}

/*
 * A unix socket's name must be free: an abstract name bound by no live
 * socket, a path that is absent or a socket file no live socket holds
 * (the dumped socket's, left behind: restore replaces it).  An outside
 * peer (--ext-unix-sk) must be there.
 */
static void host_check_usks(const struct image *im)
{
	char path[PATH_MAX + 128];

	if (!im->nusks)
		return;
	udiag_load();
	for (size_t i = 0; i < im->nusks; i++) {
		const struct usk *k = &im->usks[i];
		const char *file = usk_path(k, path, sizeof(path));
		bool found = false;
		struct stat sb;

		for (size_t j = 0; j < nudiags; j++) {
			const struct udiag *g = &udiags[j];

			if (k->namelen && !k->name[0] && !usk_accepted(k) &&
			    g->namelen == k->namelen && !memcmp(g->name, k->name, k->namelen))
				die("unix socket @%s: the abstract name is in use",
				    usk_name_str(k->name, k->namelen) + 1);
			found |= k->pnamelen && g->namelen == k->pnamelen &&
				 !memcmp(g->name, k->pname, k->pnamelen);
		}
		if (k->pnamelen && !found)
			die("unix socket %s outside the tree (--ext-unix-sk) is gone",
			    usk_name_str(k->pname, k->pnamelen));
		if (!file || usk_accepted(k) || lstat(file, &sb))
			continue;
		if (!S_ISSOCK(sb.st_mode) || (k->u.flags & TLV_USK_F_DELETED))
			die("unix socket %s: the path exists%s", file,
			    S_ISSOCK(sb.st_mode) ? " (it was unlinked at dump)" :
			    " and is not a socket");
		for (size_t j = 0; j < nudiags; j++)
			if (udiags[j].vfs_ino == sb.st_ino &&
			    udiags[j].vfs_dev == ((uint64_t)major(sb.st_dev) << 20 |
						  minor(sb.st_dev)))
				die("unix socket %s: the path is in use by a live socket",
				    file);
	}
}

/*
 * A System V shm segment gets its id back (rst_make_sysv): the id must be
 * free, or held by the segment the dump left behind (same id, key and
 * size, attached nowhere: dumped processes were killed, the segment was
 * not removed), which is taken back, its contents replaced.  Another
 * segment with the id or key stops the restore.  True if left behind.
 */
static bool sysv_left_behind(const struct fobj *o)
{
	struct shmid_ds ds;
	key_t key;

	if (shmctl(o->shm.shmid, IPC_STAT, &ds)) {
		if (errno != EINVAL && errno != EIDRM)
			die_errno("System V shm segment %llu",
				  (unsigned long long)o->shm.shmid);
		if (o->shm.key && shmget(o->shm.key, 0, 0) >= 0)
			die("System V shm key %#llx is taken by another segment",
			    (unsigned long long)o->shm.key);
		return false;
	}
	memcpy(&key, &ds.shm_perm, sizeof(key));	/* first in every libc */
	if ((uint32_t)key != o->shm.key || ds.shm_segsz != o->s.size ||
	    ds.shm_nattch)
		die("System V shm id %llu is taken by another segment",
		    (unsigned long long)o->shm.shmid);
	return true;
}

/* Can this host, and this cr, restore the image? */
/*
 * A file lock of the image must be free to take: a process outside
 * holding a conflicting one is told now, before anything is made (the
 * image's own locks never conflict: they were held together).  flock is
 * tried on a file description of cr's own, and let go at once.
 */
static void host_check_locks(const struct fd *d)
{
	for (size_t k = 0; d->path && k < d->nlocks; k++) {
		const struct tlv_lock *l = &d->locks[k];
		struct flock f = { .l_type = l->write ? F_WRLCK : F_RDLCK,
				   .l_whence = SEEK_SET, .l_start = l->start,
				   .l_len = l->len };
		int fd = open(d->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC), busy;

		if (fd < 0)
			die_errno("file %s: checking its locks", d->path);
		if (l->kind == TLV_LOCK_FLOCK)
			busy = flock(fd, (l->write ? LOCK_EX : LOCK_SH) | LOCK_NB) &&
			       errno == EWOULDBLOCK;
		else
			busy = !fcntl(fd, F_OFD_GETLK, &f) && f.l_type != F_UNLCK;
		close(fd);
		if (busy && l->kind == TLV_LOCK_FLOCK)
			die("file %s: another process holds a flock lock: fd %llu's cannot be taken",
			    d->path, (unsigned long long)d->f.fd);
		if (busy)
			die("file %s: bytes %lld+%lld are locked by pid %d: fd %llu's lock cannot be taken",
			    d->path, (long long)f.l_start, (long long)f.l_len,
			    (int)f.l_pid, (unsigned long long)d->f.fd);
	}
}

/*
 * hugetlb memory needs free huge pages of its size, which only the
 * administrator can add: count what the restore will take, per size, and
 * compare with the pool before anything is made.  Private mappings are
 * made fresh (a child never inherits them: hugetlb copy-on-write may take
 * a child's pages away when the pool runs dry); a shared mapping of a
 * hugetlbfs file takes nothing new, its pages are the file's.
 */
struct huge_need {
	uint64_t size, pages;
};

static void huge_add(struct huge_need *n, size_t *nn, uint64_t size,
		     uint64_t bytes)
{
	size_t i = 0;

	while (i < *nn && n[i].size != size)
		i++;
	if (i == *nn)
		n[(*nn)++] = (struct huge_need){ size, 0 };
	n[i].pages += ROUND_UP(bytes, size) / size;
}

static uint64_t huge_pool(uint64_t size, const char *what)
{
	char path[128], buf[32];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%llukB/%s",
		 (unsigned long long)(size >> 10), what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die_errno("hugetlb memory with %llu kB pages: %s",
			  (unsigned long long)(size >> 10), path);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		die_errno("reading %s", path);
	buf[n] = 0;
	return strtoull(buf, NULL, 10);
}

static void host_check_hugetlb(const struct image *im)
{
	struct huge_need need[8];
	size_t nn = 0;

	for (size_t i = 0; i < im->nt; i++)
		for (size_t k = 0; k < im->t[i].nvmas; k++) {
			const struct vma *v = &im->t[i].vmas[k];
			uint64_t h = flags_huge(v->v.flags);
			struct statfs sf;

			if (!h || nn == ARRAY_SIZE(need))
				continue;
			if (v->v.kind == TLV_VMA_FILE &&
			    (statfs(v->path, &sf) || sf.f_type != HUGETLBFS_MAGIC ||
			     (uint64_t)sf.f_bsize != h))
				die("mapped file %s: not on hugetlbfs with %llu kB pages",
				    v->path, (unsigned long long)(h >> 10));
			if (vma_private(v))
				huge_add(need, &nn, h, v->v.end - v->v.start);
		}
	for (size_t i = 0; i < im->nobjs && nn < ARRAY_SIZE(need); i++)
		if (im->objs[i].huge && (im->objs[i].s.kind != TLV_OBJ_SYSV ||
					 !sysv_left_behind(&im->objs[i])))
			huge_add(need, &nn, im->objs[i].huge, im->objs[i].s.size);
	for (size_t i = 0; i < nn; i++) {
		/* the reserved count can read below 0 for a while after the
		 * pool was shrunk under pages in use: then nothing is free */
		uint64_t free_ = huge_pool(need[i].size, "free_hugepages"),
			 resv = huge_pool(need[i].size, "resv_hugepages");
		uint64_t have = free_ > resv ? free_ - resv : 0;

		info("hugetlb: %llu pages of %llu kB needed, %llu free",
		     (unsigned long long)need[i].pages,
		     (unsigned long long)(need[i].size >> 10),
		     (unsigned long long)have);
		if (need[i].pages > have)
			die("hugetlb: the image needs %llu huge pages of %llu kB, %llu are free (raise /sys/kernel/mm/hugepages/hugepages-%llukB/nr_hugepages)",
			    (unsigned long long)need[i].pages,
			    (unsigned long long)(need[i].size >> 10),
			    (unsigned long long)have,
			    (unsigned long long)(need[i].size >> 10));
	}
}

static void host_check(const struct image *im, const struct opts *opt)
{
	if ((im->t[0].proc.flags & TLV_PROC_SHELL_JOB) && !opt->shell_job)
		die("the image was dumped with --shell-job: restore it with -j");
	for (size_t i = 0; i < im->nt; i++) {
		const struct task *t = &im->t[i];

		ctx.pid = t->proc.pid;
		host_wait_pid_free(t->proc.pid, im->streamed);
		for (size_t k = 0; k < im->nhelpers; k++)
			if (im->helpers[k].forker == (long)i)
				host_wait_pid_free(im->helpers[k].pid, im->streamed);
		if (task_zombie(t))
			continue;
		for (size_t k = 1; k < t->nth; k++)
			host_wait_pid_free(t->th[k].t.tid, im->streamed);
		host_check_creds(t);
		host_check_rlimits(t);
		kst_host_pkeys(t);
		for (size_t k = 0; k < t->nvmas; k++)
			if (t->vmas[k].v.kind == TLV_VMA_OBJ &&
			    im->objs[t->vmas[k].v.obj - 1].s.kind == TLV_OBJ_SYSV)
				sysv_left_behind(&im->objs[t->vmas[k].v.obj - 1]);
		check_dir("working directory", t->cwd);
		check_dir("root directory", t->root);
		check_file("executable", t->exe, &t->exe_st, true);
		for (size_t k = 0; k < t->nvmas; k++)
			if (t->vmas[k].path)
				check_file("mapped file", t->vmas[k].path,
					   &t->vmas[k].st, true);
		for (size_t k = 0; k < t->nfds; k++)
			if (t->fds[k].path && t->fds[k].f.kind != TLV_FD_TTY) {
				check_file("file", t->fds[k].path,
					   &t->fds[k].st, false);
				host_check_locks(&t->fds[k]);
			}
	}
	ctx.pid = 0;
	for (size_t i = 0; i < im->nttys; i++) {
		const struct tty_obj *y = &im->ttys[i];
		struct stat sb;
		char p[32];

		if (y->y.kind != TLV_TTY_EXTERN)
			continue;	/* its number: when it is made */
		if (stat(tty_path(p, y->y.index), &sb))
			die_errno("terminal %s (its master is outside the image)", p);
		if (!S_ISCHR(sb.st_mode) ||
		    sb.st_rdev != makedev(136, y->y.index) ||
		    (uint64_t)(sb.st_ctim.tv_sec * 1000000000ULL +
			       sb.st_ctim.tv_nsec) != y->y.ctime_ns)
			die("terminal %s is another one now (its master outside the image was closed)",
			    p);
	}
	host_check_usks(im);
	host_check_hugetlb(im);
}

/* ==== 8. restore: the process tree =======================================
 * cr creates, before the first fork, everything several processes share:
 * pipes (with their data), open files shared through fork, shared
 * memory, the files to map; all of them as "helper" fds numbered above
 * every fd of the image, so that fork hands them to every process.
 *
 * Each process is forked by its parent with its PID (clone3 set_tid, or
 * ns_last_pid before 5.5) and, in cr's code: takes its session or group,
 * builds its private memory at its premap addresses (keeping what its
 * parent's copy already has, copy-on-write, and reading the rest from the
 * image), then forks its own children.  Once all exist, cr traces them
 * all (PTRACE_O_EXITKILL: they die with cr) and lets them go on: groups
 * are joined, fds, directories, limits and signal state set, and each
 * jumps into its restorer area (section 9).  Until cr traces them,
 * PR_SET_PDEATHSIG ties each to its parent.  Errors in a process go to cr
 * as text through the status pipe; cr prints them and kills the tree.
 */
extern const uint8_t restorer_blob[];
extern const uint64_t restorer_blob_size, restorer_entry_off;

struct ctl {			/* shared by cr and the tree (MAP_SHARED) */
	uint32_t created;	/* processes forked so far */
	uint32_t go;		/* futex: 1 once cr traces them all */
	uint32_t joined;	/* futex: processes in their final group */
	uint32_t fds_set;	/* futex: processes past their rst_files */
};

struct rst_file {		/* a file to map, opened once */
	const char *path;
	bool rw;
	int fd;
};

struct rst {
	struct image *im;
	const struct opts *opt;
	struct ctl *ctl;
	int img_fd;
	int status[2];		/* tree -> cr: error text or rst_status */
	int hi;			/* helper fds are >= hi > every image fd */
	int stdio[3];		/* cr's own fds 0-2, as helpers */
	int *ofd_fd;		/* ofd id -> helper fd if shared, else -1 */
	struct rst_file *files;
	size_t nfiles;
	int *helpers;		/* every helper fd */
	size_t nhelpers;
	int lz_sk[2];		/* --lazy-pages: the tree hands cr its uffds */
	uint64_t lz_features;	/* ... and asks for these features */
};

static long sys_futex(uint32_t *uaddr, int op, uint32_t val, long ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000 };

	return syscall(SYS_futex, uaddr, op, val, ms >= 0 ? &ts : NULL, 0, 0);
}

/*
 * A process sharing its parent's fd table (CLONE_FILES) opens nothing
 * (its cgroup file, say) until every process has its final fds: the
 * table owner's rst_files closes whatever it does not keep, and a dup2
 * onto a number being opened meanwhile fails with EBUSY.
 */
static void rst_fds_barrier(struct rst *r)
{
	uint32_t n, live = 0;
	bool shared = false;

	for (size_t i = 0; i < r->im->nt; i++) {
		live += !task_zombie(&r->im->t[i]);
		shared |= r->im->t[i].share.files;
	}
	if (!shared)
		return;
	__atomic_add_fetch(&r->ctl->fds_set, 1, __ATOMIC_RELEASE);
	sys_futex(&r->ctl->fds_set, FUTEX_WAKE, INT_MAX, -1);
	while ((n = __atomic_load_n(&r->ctl->fds_set, __ATOMIC_ACQUIRE)) < live)
		sys_futex(&r->ctl->fds_set, FUTEX_WAIT, n, -1);
}

/* Undo of a restore: kill every process of the image, reap what comes. */
static void rst_kill_all(void *arg)
{
	struct rst *r = arg;
	int st;

	for (int round = 0; round < 200; round++) {
		size_t alive = 0;

		for (size_t i = 0; i < r->im->nt; i++) {
			uint64_t f[STAT_FIELDS];
			int pid = r->im->t[i].proc.pid;

			if (kill(pid, SIGKILL) && errno == ESRCH)
				continue;
			if (proc_read_stat(pid, f) && f[4] != (uint64_t)getpid() &&
			    f[3] == 'Z')
				continue;	/* someone else's zombie now */
			alive++;
		}
		while (waitpid(-1, &st, __WALL | WNOHANG) > 0)
			;
		if (!alive)
			return;
		usleep(10000);
	}
	fprintf(stderr, "cr: restore: could not clean up all processes\n");
}

/*
 * Fork with exactly this PID; returns 0 in the child like fork().  flags:
 * CLONE_FILES, CLONE_FS for a process that shares them with its parent.
 */
static int rst_fork_pid(pid_t pid, int exit_signal, uint64_t flags)
{
	struct clone_args ca = { .flags = flags, .exit_signal = exit_signal,
		.set_tid = (uintptr_t)&pid, .set_tid_size = 1 };
	long r = syscall(SYS_clone3, &ca, sizeof(ca));
	char buf[32];
	int fd;

	/*
	 * host_check saw the pid free; a process just reaped can hold its
	 * number a moment longer (seen under load): retry for a while
	 * while no process with it can be seen.
	 */
	for (int ms = 0; r < 0 && errno == EEXIST && ms < 2000; ms += 10) {
		bool seen = kill(pid, 0) == 0 || errno != ESRCH;

		errno = EEXIST;
		if (seen)
			break;
		usleep(10000);
		r = syscall(SYS_clone3, &ca, sizeof(ca));
	}
	if (r >= 0)
		return r;
	if (errno == EEXIST)
		die("pid %d is in use by another process", pid);
	if (errno != ENOSYS && errno != EPERM && errno != EINVAL)
		die_errno("clone3 with pid %d", pid);
	/* older kernels: ask for pid - 1 as the last one handed out */
	fd = xopen("/proc/sys/kernel/ns_last_pid", O_RDWR);
	if (flock(fd, LOCK_EX))
		die_errno("locking ns_last_pid");
	snprintf(buf, sizeof(buf), "%d", pid - 1);
	if (write(fd, buf, strlen(buf)) < 0)
		die_errno("writing ns_last_pid");
	r = syscall(SYS_clone, flags | exit_signal, 0, 0, 0, 0);
	if (r < 0)
		die_errno("fork");
	if (r == 0)
		return 0;
	close(fd);
	if (r != pid) {
		kill(r, SIGKILL);
		die("pid %d was taken while forking (got %ld)", pid, r);
	}
	return r;
}

/* Move fd to a number >= lo and remember it as a helper. */
static int rst_helper(struct rst *r, int fd)
{
	int n = fd;

	if (fd < r->hi) {
		n = fcntl(fd, F_DUPFD_CLOEXEC, r->hi);
		if (n < 0)
			die_errno("moving fd %d", fd);
		close(fd);
	}
	*(int *)vec_add(&r->helpers, &r->nhelpers, sizeof(int)) = n;
	return n;
}

static int rst_file_fd(struct rst *r, const char *path, bool rw)
{
	struct rst_file *f;

	for (size_t i = 0; i < r->nfiles; i++)
		if (!strcmp(r->files[i].path, path) && r->files[i].rw == rw)
			return r->files[i].fd;
	f = vec_add(&r->files, &r->nfiles, sizeof(*f));
	f->path = path;
	f->rw = rw;
	f->fd = rst_helper(r, xopen(path, rw ? O_RDWR : O_RDONLY));
	return f->fd;
}


/*
 * Pipes: created here with their capacity and queued data; every open
 * file description of one is a reopen of /proc/self/fd/N of an end, with
 * its own flags (O_NONBLOCK is per description).
 */
static void rst_make_pipes(struct rst *r)
{
	struct image *im = r->im;

	for (size_t i = 0; i < im->npipes; i++) {
		struct pipe_obj *o = &im->pipes[i];

		if (o->path) {	/* a FIFO: read-write never blocks */
			o->fd[0] = o->fd[1] = open(o->path, O_RDWR | O_NONBLOCK |
						   O_CLOEXEC);
			if (o->fd[0] < 0)
				die_errno("opening FIFO %s", o->path);
		} else if (pipe2(o->fd, O_CLOEXEC | O_NONBLOCK)) {
			die_errno("pipe");
		}
		if (fcntl(o->fd[1], F_SETPIPE_SZ, (int)o->p.size) < 0)
			die_errno("setting a pipe's capacity to %llu bytes",
				  (unsigned long long)o->p.size);
		if (o->len && write(o->fd[1], o->data, o->len) != (ssize_t)o->len)
			die_errno("refilling a pipe");
	}
}

/*
 * A new open file description of a file cr holds open as fd: pipes,
 * FIFOs, unlinked files and memfds are reached through /proc/self/fd.
 */
static int rst_reopen(int fd, uint64_t flags, const char *what)
{
	char path[64];
	int n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = open(path, (flags | O_CLOEXEC | O_NONBLOCK) &
		       ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY));
	if (n < 0 || fcntl(n, F_SETFL, (int)flags) < 0)
		die_errno("reopening %s", what);
	return n;
}

/* Read a file object's saved pages into its contents mapped at p. */
static void rst_read_obj_pages(struct rst *r, const struct fobj *o, uint8_t *p)
{
	uint64_t off = o->pages_off;

	for (size_t k = 0; k < o->runs.n; k++) {
		size_t n = o->runs.v[k].npages * PAGE;

		if (pread(r->img_fd, p + o->runs.v[k].addr, n, off) != (ssize_t)n)
			die_errno("reading the pages of a file object");
		off += n;
	}
}

/*
 * Shared anonymous memory is made with mmap(MAP_SHARED|MAP_ANONYMOUS),
 * filled from the image, and kept as its /proc/self/map_files fd: mapped
 * from that, it is still "/dev/zero (deleted)" in every process's maps
 * (or "/anon_hugepage (deleted)": MAP_HUGETLB with its page size).
 */
static int rst_make_shmem(struct rst *r, const struct fobj *o)
{
	char link[80];
	int fd;
	uint8_t *p = mmap(NULL, o->s.size, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS |
			  (o->huge ? huge_flags(o->huge) : 0), -1, 0);

	if (p == MAP_FAILED)
		die_errno("creating shared memory of %llu bytes",
			  (unsigned long long)o->s.size);
	rst_read_obj_pages(r, o, p);
	snprintf(link, sizeof(link), "/proc/self/map_files/%lx-%lx",
		 (unsigned long)p, (unsigned long)(p + o->s.size));
	fd = open(link, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die_errno("opening %s", link);
	munmap(p, o->s.size);
	return fd;
}

/*
 * An unlinked file comes back where it was (or, if that name is taken or
 * its directory gone, in the nearest directory that still exists), is
 * filled, and unlinked again: its fds show the same "(deleted)" name.
 */
static int rst_make_ghost(const struct fobj *o, char **made)
{
	char *path = xstrdup(o->path), *slash;
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	/* taken, or its directory gone: a new name, up the tree if need be */
	while (fd < 0 && (errno == EEXIST || errno == ENOENT)) {
		char *dir = xstrdup(path), *alt;

		if (!strcmp(dir, "/"))
			break;
		slash = strrchr(dir, '/');
		*slash = 0;
		alt = xmalloc(strlen(dir) + 64);
		sprintf(alt, "%s/.cr-ghost-%d-%llu", dir, getpid(),
			(unsigned long long)o->s.id);
		free(path);
		path = dir;	/* next round starts one level up */
		fd = open(alt, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			free(path);
			path = alt;
		} else {
			free(alt);
		}
	}
	if (fd < 0)
		die_errno("recreating unlinked file %s", o->path);
	*made = path;
	return fd;
}

/*
 * A file made with O_TMPFILE keeps that flag in its open file description
 * (F_GETFL shows it), which no reopen can give: it is made again the same
 * way in its directory ("DIR/#INODE"), and that very description is the
 * process's.  -1 if the object is not such a file or the directory is gone.
 */
#define O_TMPFILE_ONLY (O_TMPFILE & ~O_DIRECTORY)
static int rst_make_tmpfile(const struct image *im, struct fobj *o)
{
	char *dir = xstrdup(o->path), *slash = strrchr(dir, '/');
	bool want = false;
	int fd = -1;

	for (size_t i = 0; i < im->nt; i++)
		for (size_t k = 0; k < im->t[i].nfds; k++)
			want |= im->t[i].fds[k].f.kind == TLV_FD_OBJ &&
				im->t[i].fds[k].f.obj == o->s.id &&
				(im->t[i].fds[k].f.flags & O_TMPFILE_ONLY);
	if (want && slash && slash[1] == '#') {
		*slash = 0;
		fd = open(slash == dir ? "/" : dir, O_TMPFILE | O_RDWR | O_CLOEXEC,
			  0600);
		info("O_TMPFILE file in %s: %s", dir, fd < 0 ? strerror(errno) : "made");
	}
	free(dir);
	o->tmpfile = fd >= 0;
	return fd;
}

/* Write a file object's saved pages into fd, then set its exact size. */
static void rst_fill_file(struct rst *r, const struct fobj *o, int fd)
{
	uint64_t off = o->pages_off;
	uint8_t *b;

	if (o->huge) {	/* hugetlbfs has no write(): through a mapping */
		uint8_t *p;

		if (ftruncate(fd, o->s.size))
			die_errno("ftruncate");
		p = o->s.size ? mmap(NULL, o->s.size, PROT_READ | PROT_WRITE,
				     MAP_SHARED, fd, 0) : NULL;
		if (p == MAP_FAILED)
			die_errno("mapping a hugetlbfs file object");
		rst_read_obj_pages(r, o, p);
		if (p)
			munmap(p, o->s.size);
		return;
	}
	b = xmalloc(STREAM_BUF);

	for (size_t k = 0; k < o->runs.n; k++)
		for (uint64_t done = 0; done < o->runs.v[k].npages * PAGE;) {
			uint64_t n = o->runs.v[k].npages * PAGE - done;

			if (n > STREAM_BUF)
				n = STREAM_BUF;
			if (pread(r->img_fd, b, n, off) != (ssize_t)n ||
			    pwrite(fd, b, n, o->runs.v[k].addr + done) != (ssize_t)n)
				die_errno("refilling a file object");
			off += n;
			done += n;
		}
	free(b);
	if (ftruncate(fd, o->s.size))
		die_errno("ftruncate");
}

/*
 * shm_next_id names the id the next shmget() hands out; restore sets it
 * before each segment it creates.
 */
static int *sysv_made;		/* segments this restore created */
static size_t nsysv_made;

static void rst_sysv_undo(void *arg)
{
	(void)arg;
	for (size_t i = 0; i < nsysv_made; i++)
		shmctl(sysv_made[i], IPC_RMID, NULL);
}

static void rst_make_sysv(struct rst *r, const struct fobj *o)
{
	uint64_t len = ROUND_UP(o->s.size, o->huge ? o->huge : PAGE);
	int id = o->shm.shmid;
	struct shmid_ds ds;
	uint8_t *p;

	if (!sysv_left_behind(o)) {
		int fd = xopen("/proc/sys/kernel/shm_next_id", O_WRONLY), got;

		if (dprintf(fd, "%d", id) < 0)
			die_errno("writing shm_next_id");
		close(fd);
		got = shmget(o->shm.key, o->s.size,
			     IPC_CREAT | IPC_EXCL | (int)o->shm.mode |
			     (o->huge ? SHM_HUGETLB |
			      __builtin_ctzll(o->huge) << SHM_HUGE_SHIFT : 0));
		if (got < 0)
			die_errno("recreating System V shm segment %d", id);
		if (got != id) {
			shmctl(got, IPC_RMID, NULL);
			die("System V shm segment %d came back as %d", id, got);
		}
		*(int *)vec_add(&sysv_made, &nsysv_made, sizeof(int)) = id;
		fault("restore-sysv");
	}
	p = shmat(id, NULL, 0);
	if (p == (void *)-1)
		die_errno("attaching System V shm segment %d", id);
	if (madvise(p, len, MADV_REMOVE))	/* left behind: old contents */
		die_errno("madvise");
	rst_read_obj_pages(r, o, p);
	shmdt(p);
	if (shmctl(id, IPC_STAT, &ds))
		die_errno("System V shm segment %d", id);
	ds.shm_perm.uid = o->shm.uid;
	ds.shm_perm.gid = o->shm.gid;
	ds.shm_perm.mode = o->shm.mode;
	if (shmctl(id, IPC_SET, &ds))
		die_errno("setting System V shm segment %d's owner", id);
}

/* Once every process attached: segments removed at dump time go again. */
static void rst_sysv_done(const struct image *im)
{
	for (size_t i = 0; i < im->nobjs; i++)
		if (im->objs[i].s.kind == TLV_OBJ_SYSV && im->objs[i].shm.removed &&
		    shmctl(im->objs[i].shm.shmid, IPC_RMID, NULL))
			die_errno("removing System V shm segment %llu",
				  (unsigned long long)im->objs[i].shm.shmid);
}

static void rst_make_objs(struct rst *r)
{
	for (size_t i = 0; i < r->im->nobjs; i++) {
		struct fobj *o = &r->im->objs[i];
		char *made = NULL;
		int fd;

		switch (o->s.kind) {
		case TLV_OBJ_SYSV:
			rst_make_sysv(r, o);
			o->fd = -1;
			continue;
		case TLV_OBJ_SHMEM:
			fd = rst_make_shmem(r, o);
			break;
		case TLV_OBJ_GHOST:
			fd = rst_make_tmpfile(r->im, o);
			if (fd < 0)
				fd = rst_make_ghost(o, &made);
			rst_fill_file(r, o, fd);
			if (fchmod(fd, o->s.mode & 07777) || (made && unlink(made)))
				die_errno("unlinked file %s", o->path);
			free(made);
			break;
		default:	/* TLV_OBJ_MEMFD */
			fd = memfd_create(o->name, MFD_CLOEXEC | MFD_ALLOW_SEALING |
					  (o->huge ? MFD_HUGETLB |
					   __builtin_ctzll(o->huge) << MFD_HUGE_SHIFT : 0));
			if (fd < 0)
				die_errno("memfd_create %s", o->name);
			rst_fill_file(r, o, fd);
			if (fchmod(fd, o->s.mode & 07777))
				die_errno("memfd %s: mode", o->name);
			if (o->s.seals && fcntl(fd, F_ADD_SEALS, (int)o->s.seals))
				die_errno("sealing memfd %s", o->name);
		}
		o->fd = rst_helper(r, fd);
	}
}

/* A directory none of an inotify fd's watches is on. */
static const char *rst_spare_dir(const struct fd *d)
{
	static const char *const dirs[] = { "/", "/dev", "/proc", "/tmp", "/sys" };

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		size_t k = 0;

		while (k < d->nwatches && strcmp(d->watches[k].path, dirs[i]))
			k++;
		if (k == d->nwatches)
			return dirs[i];
	}
	die("inotify: no spare directory to number watches with");
}

static void rst_add_watches(int fd, const struct fd *d)
{
	const char *spare = rst_spare_dir(d);
	uint64_t next = 1;
	char ev[4096];

	for (size_t k = 0; k < d->nwatches; k++) {
		const struct watch *w = &d->watches[k];
		int wd;

		/* watch descriptors are handed out in turn: burn the gaps */
		for (; next < w->w.wd; next++) {
			wd = inotify_add_watch(fd, spare, IN_ACCESS);
			if (wd < 0 || inotify_rm_watch(fd, wd))
				die_errno("inotify watch %llu",
					  (unsigned long long)w->w.wd);
		}
		wd = inotify_add_watch(fd, w->path, (uint32_t)w->w.mask);
		if (wd < 0)
			die_errno("inotify watch on %s", w->path);
		if ((uint64_t)wd != w->w.wd)
			die("inotify watch on %s came back as %d, not %llu",
			    w->path, wd, (unsigned long long)w->w.wd);
		next = w->w.wd + 1;
	}
	/* the burnt watches left IN_IGNORED events: not the process's */
	while (read(fd, ev, sizeof(ev)) > 0)
		;
}

/* -- inet, netlink and packet sockets: restore ----------------------------
 * Each socket is made anew (see "inet, netlink and packet sockets" in
 * section 5): options first, then bind, listen, connect.  An established
 * connection is connected in repair mode, its queues refilled, and left in
 * repair mode; rst_sk_finish ends it once the whole tree exists.
 */
struct tcp_repair_opt_row {	/* struct tcp_repair_opt, not in musl */
	uint32_t code, val;
};

static void sk_send_all(int s, const uint8_t *p, size_t len, int fd,
			const char *what)
{
	while (len) {
		ssize_t n = send(s, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n <= 0)
			die_errno("fd %d: refilling the TCP %s (%zu bytes left)",
				  fd, what, len);
		p += n;
		len -= n;
	}
}

/*
 * Room for len queued bytes: a buffer the size the original had (or the
 * default) may not hold them as the refill cuts them (the original's grew
 * by autotuning, or its packets took less room), and a refill does not
 * wait for room.  The dumped size comes back after the refill.
 */
static void sk_make_room(int s, const struct sock_state *k, int name,
			 int force, size_t len, bool after)
{
	int cur = 0, want = len > (1u << 29) ? 1 << 30 : (int)len * 2 + 65536;
	socklen_t n = sizeof(cur);

	if (after) {
		for (size_t o = 0; o < k->nopt; o++)
			if (k->opt[o].level == SOL_SOCKET &&
			    k->opt[o].name == (uint64_t)name)
				sk_opt_set(s, &k->opt[o]);
		return;
	}
	if (!getsockopt(s, SOL_SOCKET, name, &cur, &n) && cur >= want)
		return;
	want /= 2;	/* the kernel doubles it */
	setsockopt(s, SOL_SOCKET, force, &want, sizeof(want));
}

/* Seqs, connect, options, queues, window: TCP_REPAIR as the kernel wants. */
static void rst_tcp_repair(int s, const struct sock_state *k, int fd,
			   const union sk_addr *peer, socklen_t plen)
{
	const struct tlv_tcp *t = &k->tcp;
	struct tcp_repair_opt_row o[4];
	struct tcp_repair_window w = { t->snd_wl1, t->snd_wnd, t->max_window,
				       t->rcv_wnd, t->rcv_wup };
	int q, n = 0, v;

	q = TCP_RECV_QUEUE;
	v = t->rcv_seq - t->rcvq;
	if (setsockopt(s, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) ||
	    setsockopt(s, IPPROTO_TCP, TCP_QUEUE_SEQ, &v, sizeof(v)))
		die_errno("fd %d: TCP_QUEUE_SEQ (receive)", fd);
	q = TCP_SEND_QUEUE;
	v = t->snd_seq - t->sndq;
	if (setsockopt(s, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) ||
	    setsockopt(s, IPPROTO_TCP, TCP_QUEUE_SEQ, &v, sizeof(v)))
		die_errno("fd %d: TCP_QUEUE_SEQ (send)", fd);
	if (connect(s, &peer->sa, plen))
		die_errno("fd %d: connecting in repair mode", fd);
	o[n++] = (struct tcp_repair_opt_row){ TCPOPT_MAXSEG, t->mss };
	if (t->opts & TCPI_OPT_WSCALE)
		o[n++] = (struct tcp_repair_opt_row){ TCPOPT_WINDOW,
			t->snd_wscale | t->rcv_wscale << 16 };
	if (t->opts & TCPI_OPT_SACK)
		o[n++] = (struct tcp_repair_opt_row){ TCPOPT_SACK_PERMITTED, 0 };
	if (t->opts & TCPI_OPT_TIMESTAMPS)
		o[n++] = (struct tcp_repair_opt_row){ TCPOPT_TIMESTAMP, 0 };
	v = t->timestamp;
	if (setsockopt(s, IPPROTO_TCP, TCP_REPAIR_OPTIONS, o, n * sizeof(*o)))
		die_errno("fd %d: TCP_REPAIR_OPTIONS", fd);
	if ((t->opts & TCPI_OPT_TIMESTAMPS) &&
	    setsockopt(s, IPPROTO_TCP, TCP_TIMESTAMP, &v, sizeof(v)))
		die_errno("fd %d: TCP_TIMESTAMP", fd);
	q = TCP_RECV_QUEUE;
	if (setsockopt(s, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)))
		die_errno("fd %d: TCP_REPAIR_QUEUE", fd);
	sk_make_room(s, k, SO_RCVBUF, SO_RCVBUFFORCE, t->rcvq, false);
	sk_send_all(s, k->rcvq, t->rcvq, fd, "receive queue");
	sk_make_room(s, k, SO_RCVBUF, SO_RCVBUFFORCE, t->rcvq, true);
	q = TCP_SEND_QUEUE;	/* sent before: sent again on timeout */
	if (setsockopt(s, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)))
		die_errno("fd %d: TCP_REPAIR_QUEUE", fd);
	sk_make_room(s, k, SO_SNDBUF, SO_SNDBUFFORCE, t->sndq, false);
	sk_send_all(s, k->sndq, t->sndq - t->unsent, fd, "send queue");
	q = TCP_NO_QUEUE;
	if (setsockopt(s, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) ||
	    setsockopt(s, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof(w)))
		die_errno("fd %d: TCP_REPAIR_WINDOW", fd);
}

/* One's complement sum of 16-bit words, for the UDP checksum. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	return sum;
}

/*
 * The datagrams that were queued, sent again from their sources by raw IP
 * (the kernel routes them to the new socket, bound and connected by now):
 * dst is the socket's own address, or loopback if it is bound to any.
 */
static void rst_dgrams(int s, const struct sock_state *k, int fd)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	static uint8_t pkt[65536 + 48];
	const struct tlv_sock *t = &k->s;
	int raw4 = -1, raw6 = -1;

	for (size_t off = 0; off < k->ndg;) {
		uint64_t h[5];
		uint8_t src[16], dst[16];
		bool v4;
		union sk_addr to;
		size_t hl, n;
		uint32_t sum;
		int r;

		memcpy(h, k->dg + off, sizeof(h));
		n = h[4];
		memcpy(src, &h[2], 8);
		memcpy(src + 8, &h[3], 8);
		memcpy(dst, &t->laddr0, 8);
		memcpy(dst + 8, &t->laddr1, 8);
		v4 = h[0] == AF_INET || !memcmp(src, mapped, 12);
		if (v4 && h[0] == AF_INET6) {
			memmove(src, src + 12, 4);
			memmove(dst, dst + 12, 4);
		}
		if (v4 && !dst[0] && !dst[1] && !dst[2] && !dst[3])
			memcpy(dst, "\x7f\0\0\x01", 4);
		if (!v4 && !memcmp(dst, (uint8_t[16]){ 0 }, 16))
			dst[15] = 1;
		hl = v4 ? 20 : 40;
		memset(pkt, 0, hl + 8);
		if (v4) {
			pkt[0] = 0x45;
			pkt[2] = (hl + 8 + n) >> 8, pkt[3] = hl + 8 + n;
			pkt[8] = 64, pkt[9] = IPPROTO_UDP;
			memcpy(pkt + 12, src, 4);
			memcpy(pkt + 16, dst, 4);
		} else {
			pkt[0] = 0x60;
			pkt[4] = (8 + n) >> 8, pkt[5] = 8 + n;
			pkt[6] = IPPROTO_UDP, pkt[7] = 64;
			memcpy(pkt + 8, src, 16);
			memcpy(pkt + 24, dst, 16);
		}
		pkt[hl] = h[1] >> 8, pkt[hl + 1] = h[1];
		pkt[hl + 2] = t->lport >> 8, pkt[hl + 3] = t->lport;
		pkt[hl + 4] = (8 + n) >> 8, pkt[hl + 5] = 8 + n;
		memcpy(pkt + hl + 8, k->dg + off + sizeof(h), n);
		if (!v4) {	/* IPv6 needs the checksum: pseudo header too */
			sum = csum_add(0, pkt + 8, 32) + 8 + n + IPPROTO_UDP;
			sum = csum_add(sum, pkt + hl, 8 + n);
			while (sum >> 16)
				sum = (sum & 0xffff) + (sum >> 16);
			sum = ~sum & 0xffff;
			if (!sum)
				sum = 0xffff;
			pkt[hl + 6] = sum >> 8, pkt[hl + 7] = sum;
		}
		memset(&to, 0, sizeof(to));
		if (v4) {
			if (raw4 < 0)
				raw4 = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
			to.v4.sin_family = AF_INET;
			memcpy(&to.v4.sin_addr, dst, 4);
			r = raw4 < 0 ? -1 : sendto(raw4, pkt, hl + 8 + n, 0, &to.sa,
						   sizeof(to.v4));
		} else {
			if (raw6 < 0)
				raw6 = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
			to.v6.sin6_family = AF_INET6;
			memcpy(&to.v6.sin6_addr, dst, 16);
			r = raw6 < 0 ? -1 : sendto(raw6, pkt, hl + 8 + n, 0, &to.sa,
						   sizeof(to.v6));
		}
		if (r != (int)(hl + 8 + n))
			die_errno("fd %d: putting back a queued datagram (raw IP)", fd);
		off += sizeof(h) + (n + 7) / 8 * 8;
	}
	if (raw4 >= 0)
		close(raw4);
	if (raw6 >= 0)
		close(raw6);
	if (k->ndg && poll(&(struct pollfd){ s, POLLIN, 0 }, 1, 1000) != 1)
		die("fd %d: the queued datagrams did not come back", fd);
}

static int rst_sock(const struct fd *d)
{
	const struct sock_state *k = d->sk;
	const struct tlv_sock *t = &k->s;
	int fd = d->f.fd, on = 1, s, proto;
	int fl = SOCK_CLOEXEC | (d->f.flags & O_NONBLOCK ? SOCK_NONBLOCK : 0);
	union sk_addr a, p;
	socklen_t alen, plen;

	fault("restore-socket");
	if (d->f.kind == TLV_FD_NETLINK)
		s = socket(AF_NETLINK, k->nl.type | fl, k->nl.proto);
	else if (d->f.kind == TLV_FD_PACKET)
		s = socket(AF_PACKET, k->pk.type | fl, k->pk.proto);
	else
		s = socket(t->family, t->type | fl, t->proto);
	if (s < 0)
		die_errno("fd %d: socket", fd);
	for (size_t i = 0; i < k->nopt; i++)
		if (sk_opt_set(s, &k->opt[i]))
			die_errno("fd %d: setting %s", fd,
				  sk_opt_find(k->opt[i].level, k->opt[i].name)->what);
	if (k->ifname && setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, k->ifname,
				    strlen(k->ifname) + 1))
		die_errno("fd %d: SO_BINDTODEVICE %s", fd, k->ifname);
	if (d->f.kind == TLV_FD_NETLINK) {
		memset(&a, 0, sizeof(a));
		a.nl.nl_family = AF_NETLINK;
		a.nl.nl_pid = k->nl.portid;
		if (k->nl.portid && bind(s, &a.sa, sizeof(a.nl)))
			die_errno("fd %d: binding netlink port id %llu", fd,
				  (unsigned long long)k->nl.portid);
		for (size_t i = 0; i < k->ngrp; i++) {
			proto = k->grp[i].group;
			if (setsockopt(s, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP,
				       &proto, sizeof(proto)))
				die_errno("fd %d: joining netlink group %d", fd,
					  proto);
		}
		a.nl.nl_pid = k->nl.dst_portid;
		a.nl.nl_groups = k->nl.dst_group;
		if ((k->nl.dst_portid || k->nl.dst_group) &&
		    connect(s, &a.sa, sizeof(a.nl)))
			die_errno("fd %d: connecting the netlink socket", fd);
		return s;
	}
	if (d->f.kind == TLV_FD_PACKET) {
		memset(&a, 0, sizeof(a));
		a.ll.sll_family = AF_PACKET;
		a.ll.sll_protocol = k->pk.proto;
		a.ll.sll_ifindex = k->pk.ifindex;
		if (k->pk.ifindex && bind(s, &a.sa, sizeof(a.ll)))
			die_errno("fd %d: binding the packet socket to interface %llu",
				  fd, (unsigned long long)k->pk.ifindex);
		return s;
	}
	alen = sk_addr_join(&a, t->family, t->laddr0, t->laddr1, t->lport, t->lscope, 0);
	plen = sk_addr_join(&p, t->family, t->raddr0, t->raddr1, t->rport, t->rscope,
			    t->rflow);
	if ((t->flags & TLV_SOCK_REPAIR) &&
	    setsockopt(s, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)))
		die_errno("fd %d: TCP_REPAIR", fd);
	/*
	 * A listener may come after a connection of its port made in repair
	 * mode (which binds with force): SO_REUSEADDR for the bind, then as
	 * it was.
	 */
	if ((t->flags & TLV_SOCK_BOUND) && t->type == SOCK_STREAM &&
	    !(t->flags & TLV_SOCK_REPAIR) &&
	    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)))
		die_errno("fd %d: SO_REUSEADDR", fd);
	if ((t->flags & TLV_SOCK_BOUND) && bind(s, &a.sa, alen)) {
		char b[80];

		die_errno("fd %d: bind %s", fd, sk_addr_str(b, sizeof(b),
			  t->family, t->laddr0, t->laddr1, t->lport));
	}
	if ((t->flags & TLV_SOCK_BOUND) && t->type == SOCK_STREAM &&
	    !(t->flags & TLV_SOCK_REPAIR)) {
		int reuse = 0;

		for (size_t i = 0; i < k->nopt; i++)
			if (k->opt[i].level == SOL_SOCKET &&
			    k->opt[i].name == SO_REUSEADDR)
				reuse = (int)k->opt[i].val;
		if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof(reuse)))
			die_errno("fd %d: SO_REUSEADDR", fd);
	}
	for (size_t i = 0; i < k->nmc; i++) {
		struct group_req gr = { .gr_interface = k->mc[i].ifindex };

		sk_addr_join((union sk_addr *)&gr.gr_group, t->family,
			     k->mc[i].group0, k->mc[i].group1, 0, 0, 0);
		if (setsockopt(s, t->family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP,
			       MCAST_JOIN_GROUP, &gr, sizeof(gr)))
			die_errno("fd %d: joining a multicast group on interface %llu",
				  fd, (unsigned long long)k->mc[i].ifindex);
	}
	if ((t->flags & TLV_SOCK_LISTEN) && listen(s, t->backlog))
		die_errno("fd %d: listen", fd);
	if (t->flags & TLV_SOCK_REPAIR)
		rst_tcp_repair(s, k, fd, &p, plen);
	else if ((t->flags & TLV_SOCK_CONNECTED) && connect(s, &p.sa, plen))
		die_errno("fd %d: connect", fd);
	rst_dgrams(s, k, fd);
	if ((t->flags & (TLV_SOCK_SHUT_RD | TLV_SOCK_REPAIR)) == TLV_SOCK_SHUT_RD &&
	    shutdown(s, SHUT_RD) && errno != ENOTCONN)	/* repair: later */
		die_errno("fd %d: shutdown", fd);
	return s;
}

/*
 * The network locks of the image's connections (one per dump, so one
 * here) go at the end of a restore, or when it fails.  A failed restore
 * leaves nothing: without the lock the peer's next segment meets no socket
 * and gets a RST from the kernel, so the connection dies cleanly instead
 * of hanging; the image's connections cannot be taken up again.  A
 * guardian (sk_guardian) does it if cr is killed.
 */
static int rst_unlock(const struct image *im, bool guard)
{
	uint64_t unlocked = 0;
	int err, first = 0;

	if (im->netlock && guard)
		sk_guard_tell("l %llx\n", (unsigned long long)im->netlock);
	else if (im->netlock)
		first = net_unlock(im->netlock);
	for (size_t i = 0; i < im->nt; i++)
		for (size_t j = 0; j < im->t[i].nfds; j++) {
			const struct fd *d = &im->t[i].fds[j];

			if (d->f.kind != TLV_FD_INET || !d->sk->has_tcp ||
			    !d->sk->tcp.lock || d->sk->tcp.lock == unlocked)
				continue;
			unlocked = d->sk->tcp.lock;
			if (guard)
				sk_guard_tell("l %llx\n",
					      (unsigned long long)unlocked);
			else if ((err = net_unlock(unlocked)) && !first)
				first = err;
		}
	return first;
}

static void rst_unlock_undo(void *arg)
{
	rst_unlock(arg, false);
	sk_guard_done();
}

/* Before the first fork: the guardian, told the locks, and the undo. */
static void rst_lock_guard(const struct image *im)
{
	pid_t *avoid = NULL;
	size_t n = 0;
	bool any = im->netlock;

	for (size_t i = 0; i < im->nt; i++)
		for (size_t j = 0; j < im->t[i].nfds; j++)
			any |= im->t[i].fds[j].f.kind == TLV_FD_INET &&
			       im->t[i].fds[j].sk->has_tcp &&
			       im->t[i].fds[j].sk->tcp.lock;
	if (!any)
		return;
	for (size_t i = 0; i < im->nt; i++)
		for (size_t k = 0; k < im->t[i].nth; k++)
			*(pid_t *)vec_add(&avoid, &n, sizeof(*avoid)) =
				im->t[i].th[k].t.tid;
	sk_guard_start(avoid, n);
	free(avoid);
	rst_unlock(im, true);
	undo_push(rst_unlock_undo, (void *)im);
}

/*
 * Every process exists and is stopped: connections leave repair mode (a
 * window probe tells the peer to go on), SO_REUSEADDR that repair mode
 * cleared comes back, and what was never sent is sent now.
 */
static void rst_sk_finish(const struct image *im)
{
	bool *done = xzalloc((im->nofds + 1) * sizeof(*done));
	int err;

	ctx.pid = 0;
	if ((err = rst_unlock(im, false)))	/* the lock first: see net_lock */
		die("network unlock: deleting an nftables table cr_lock_*: %s",
		    strerror(-err));

	for (size_t i = 0; i < im->nt; i++)
		for (size_t j = 0; j < im->t[i].nfds; j++) {
			const struct fd *d = &im->t[i].fds[j];
			const struct sock_state *k = d->sk;
			int off = TCP_REPAIR_OFF, s;

			if (d->f.kind != TLV_FD_INET ||
			    !(k->s.flags & TLV_SOCK_REPAIR) || done[d->f.ofd])
				continue;
			done[d->f.ofd] = true;
			ctx.pid = im->t[i].proc.pid;
			s = pidfd_take(im->t[i].proc.pid, (int)d->f.fd);
			if (s < 0 || setsockopt(s, IPPROTO_TCP, TCP_REPAIR, &off,
						sizeof(off)))
				die_errno("fd %llu: ending TCP repair mode",
					  (unsigned long long)d->f.fd);
			for (size_t o = 0; o < k->nopt; o++)
				if (k->opt[o].level == SOL_SOCKET &&
				    k->opt[o].name == SO_REUSEADDR &&
				    sk_opt_set(s, &k->opt[o]))
					die_errno("fd %llu: SO_REUSEADDR",
						  (unsigned long long)d->f.fd);
			sk_send_all(s, k->sndq + k->tcp.sndq - k->tcp.unsent,
				    k->tcp.unsent, d->f.fd, "send queue (unsent)");
			sk_make_room(s, k, SO_SNDBUF, SO_SNDBUFFORCE, 0, true);
			/* our FIN again after all data; the peer's FIN */
			if ((tcp_fin_out(k->s.state) && shutdown(s, SHUT_WR)) ||
			    ((k->s.flags & TLV_SOCK_SHUT_RD) &&
			     shutdown(s, SHUT_RD)))
				die_errno("fd %llu: shutdown",
					  (unsigned long long)d->f.fd);
			close(s);
		}
	ctx.pid = 0;
	free(done);
}

/*
 * ---- the downtime ----
 * Timers on wall clocks ran on while the process was dumped: what they
 * had left is less the time since the dump (CLOCK_REALTIME), so that one
 * due meanwhile fires at once, as after a long SIGSTOP.  Interval and
 * POSIX timers are set by the blob (restorer.c); timerfds: below.
 */
static uint64_t downtime_ns(const struct task *t)
{
	struct timespec now;
	uint64_t n;

	clock_gettime(CLOCK_REALTIME, &now);
	n = now.tv_sec * 1000000000ULL + now.tv_nsec;
	return n > t->times.realtime_ns ? n - t->times.realtime_ns : 0;
}

/*
 * A timerfd is armed for the time it had left, less the time since the
 * dump (CLOCK_REALTIME, the one clock that means the same on both sides):
 * the downtime counts as if the process had been stopped that long.  What
 * was due meanwhile is counted into the unread expirations, as the kernel
 * would have (one for a one-shot, one per period for an interval timer),
 * and the timer armed for its next expiration.
 */
static int rst_timerfd(const struct fd *d, int fl)
{
	uint64_t ticks = d->tmr.ticks, left = d->tmr.value_ns, down = 0;
	uint64_t iv = d->tmr.interval_ns, now_rt;
	struct itimerspec its = { 0 };
	int fd = timerfd_create(d->tmr.clockid, TFD_CLOEXEC | fl);

	if (fd < 0)
		die_errno("timerfd_create");
	now_rt = realtime_ns();	/* from here to the settime: nothing slow */
	if (d->tmr_at.realtime_ns && now_rt > d->tmr_at.realtime_ns)
		down = now_rt - d->tmr_at.realtime_ns;
	if (left && down >= left) {
		uint64_t over = down - left;

		ticks += 1 + (iv ? over / iv : 0);
		left = iv ? iv - over % iv : 0;
	} else if (left) {
		left -= down;
	}
	/* absolute: from now; a spent one (0 left) is not armed again */
	if (left && (d->tmr.settime_flags & TFD_TIMER_ABSTIME)) {
		struct timespec now;

		clock_gettime(d->tmr.clockid == CLOCK_REALTIME_ALARM ?
			      CLOCK_REALTIME : d->tmr.clockid ==
			      CLOCK_BOOTTIME_ALARM ? CLOCK_BOOTTIME :
			      d->tmr.clockid, &now);
		left += now.tv_sec * 1000000000ULL + now.tv_nsec;
	}
	its.it_value.tv_sec = left / 1000000000;
	its.it_value.tv_nsec = left % 1000000000;
	its.it_interval.tv_sec = iv / 1000000000;
	its.it_interval.tv_nsec = iv % 1000000000;
	/* a spent or disarmed one still gets its flags and interval (fdinfo
	 * and timerfd_gettime show them), with 0 left: not armed */
	if (((left || iv || d->tmr.settime_flags) &&
	     timerfd_settime(fd, d->tmr.settime_flags, &its, NULL)) ||
	    (ticks && ioctl(fd, TFD_IOC_SET_TICKS, &ticks)))
		die_errno("timerfd");
	info("timerfd %llu: %llu ns since the dump, %llu ns left, %llu expirations",
	     (unsigned long long)d->f.fd, (unsigned long long)down,
	     (unsigned long long)left, (unsigned long long)ticks);
	return fd;
}

/*
 * A fanotify group made anew with its flags, and each mark added again by
 * path: its events, then its ignored events (the kind of ignore mask and
 * whether it survives a modification as the mark had them).
 */
static int rst_fanotify(const struct fd *d, int fl)
{
	static const unsigned type[] = { 0, FAN_MARK_INODE | FAN_MARK_DONT_FOLLOW,
					 FAN_MARK_MOUNT, FAN_MARK_FILESYSTEM };
	/* the group keeps its init flags (fdinfo shows them), FAN_CLOEXEC
	 * and FAN_NONBLOCK too; the fd's own are set after */
	unsigned flags = d->fan.flags;
	int fd = fanotify_init(flags, (unsigned)d->fan.event_flags);

	if (fd < 0 || fcntl(fd, F_SETFL, fl) || fcntl(fd, F_SETFD, FD_CLOEXEC))
		die_errno("fanotify_init(%#x, %#llx)", flags,
			  (unsigned long long)d->fan.event_flags);
	for (size_t k = 0; k < d->nmarks; k++) {
		const struct tlv_fan_mark *m = &d->marks[k].m;
		unsigned t = type[m->type];

		if ((m->mask && fanotify_mark(fd, FAN_MARK_ADD | t |
					      (m->mflags & FAN_MARK_EVICTABLE),
					      m->mask, AT_FDCWD,
					      d->marks[k].path)) ||
		    (m->ignored_mask &&
		     fanotify_mark(fd, FAN_MARK_ADD | t |
				   (m->mflags & (FAN_MARK_IGNORE |
						 FAN_MARK_IGNORED_SURV_MODIFY)) |
				   (m->mflags & FAN_MARK_IGNORE ? 0 :
				    FAN_MARK_IGNORED_MASK),
				   m->ignored_mask, AT_FDCWD, d->marks[k].path)))
			die_errno("fanotify mark on %s", d->marks[k].path);
	}
	return fd;
}

/*
 * Open a file description as the image has it (not stdio).  Kernel
 * objects are made anew from their saved state; an epoll gets its
 * registrations later (rst_epolls), once every fd of its process exists.
 */
static int rst_open_ofd(const struct image *im, const struct fd *d)
{
	int fl = d->f.flags & O_NONBLOCK, fd;

	switch (d->f.kind) {
	case TLV_FD_PIPE:
	case TLV_FD_FIFO:
		return rst_reopen(im->pipes[d->f.obj - 1].fd[(d->f.flags & O_ACCMODE) ==
							     O_WRONLY],
				  d->f.flags & ~O_ASYNC, "a pipe");
	case TLV_FD_OBJ:
		if ((d->f.flags & O_TMPFILE_ONLY) && im->objs[d->f.obj - 1].tmpfile) {
			fd = fcntl(im->objs[d->f.obj - 1].fd, F_DUPFD_CLOEXEC, 0);
			if (fd < 0 || fcntl(fd, F_SETFL, (int)d->f.flags) < 0)
				die_errno("an O_TMPFILE file");
			break;
		}
		fd = rst_reopen(im->objs[d->f.obj - 1].fd, d->f.flags &
				~((d->f.flags & O_TMPFILE_ONLY) ? O_TMPFILE : 0),
				"a file object");
		break;
	case TLV_FD_UNIX:
		fd = fcntl(im->usks[d->f.obj - 1].fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0 || fcntl(fd, F_SETFL, (int)d->f.flags) < 0)
			die_errno("fd %llu: a unix socket", (unsigned long long)d->f.fd);
		return fd;
	case TLV_FD_EVENTFD:
		fd = eventfd(0, EFD_CLOEXEC | fl | (d->ev.semaphore ? EFD_SEMAPHORE : 0));
		if (fd < 0 || (d->ev.count &&
			       write(fd, &d->ev.count, 8) != 8))
			die_errno("eventfd");
		return fd;
	case TLV_FD_SIGNALFD:
		fd = syscall(SYS_signalfd4, -1, &d->sig.mask, 8, SFD_CLOEXEC | fl);
		if (fd < 0)
			die_errno("signalfd");
		return fd;
	case TLV_FD_TIMERFD:
		return rst_timerfd(d, fl);
	case TLV_FD_EPOLL:
		fd = epoll_create1(EPOLL_CLOEXEC);
		if (fd < 0)
			die_errno("epoll_create1");
		return fd;
	case TLV_FD_INET:
	case TLV_FD_NETLINK:
	case TLV_FD_PACKET:
		return rst_sock(d);
	case TLV_FD_FANOTIFY:
		return rst_fanotify(d, fl);
	case TLV_FD_TTY:
		return rst_tty_open(im, d);
	case TLV_FD_INOTIFY:
		fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
		if (fd < 0)
			die_errno("inotify_init1");
		rst_add_watches(fd, d);
		if (fcntl(fd, F_SETFL, fl))
			die_errno("inotify flags");
		return fd;
	default:
		fd = open(d->path, d->f.flags & ~(O_CREAT | O_EXCL | O_TRUNC |
						   O_NOCTTY | (d->f.kind ==
						   TLV_FD_CHR ? O_ASYNC : 0)));
		if (fd < 0)
			die_errno("fd %llu: open %s", (unsigned long long)d->f.fd,
				  d->path);
	}
	if ((d->f.kind == TLV_FD_REG || d->f.kind == TLV_FD_DIR ||
	     d->f.kind == TLV_FD_OBJ) && !(d->f.flags & O_PATH) &&
	    lseek(fd, d->f.pos, SEEK_SET) != (off_t)d->f.pos)
		die_errno("fd %llu: seeking to %llu", (unsigned long long)d->f.fd,
			  (unsigned long long)d->f.pos);
	return fd;
}

/*
 * Register each epoll's fds, by number, once all of them are in place.
 * A one-shot registration that fired is left with no event bits (fdinfo
 * shows only EPOLLONESHOT and such), but EPOLL_CTL_ADD always adds
 * EPOLLHUP|EPOLLERR: such a spent one is added first, alone, for what its
 * file reports now, and fired by an epoll_wait, which leaves it spent as
 * it was.  If its file reports nothing yet, it stays armed for a hang-up
 * or error only.  So spent ones go in a first pass, the others after.
 */
#define EP_PRIVATE (EPOLLONESHOT | EPOLLET | EPOLLWAKEUP | EPOLLEXCLUSIVE)
static bool ep_spent(uint64_t events)
{
	return (events & EPOLLONESHOT) && !(events & ~EP_PRIVATE);
}

static void rst_epoll(const struct fd *d, bool spent)
{
	struct epoll_event got[64];
	bool fire = false;

	for (size_t k = 0; k < d->nepoll; k++) {
		struct epoll_event ev = { .events = d->epoll[k].events,
					  .data.u64 = d->epoll[k].data };
		struct pollfd p = { (int)d->epoll[k].tfd, 0x7fff, 0 };

		if (ep_spent(ev.events) != spent)
			continue;
		if (spent && poll(&p, 1, 0) == 1) {
			ev.events |= (uint16_t)p.revents;
			fire = true;
		}
		if (epoll_ctl(d->f.fd, EPOLL_CTL_ADD, d->epoll[k].tfd, &ev))
			die_errno("fd %llu: registering fd %llu with epoll",
				  (unsigned long long)d->f.fd,
				  (unsigned long long)d->epoll[k].tfd);
	}
	while (fire && epoll_wait(d->f.fd, got, 64, 0) == 64)
		;
}

static void rst_epolls(const struct task *t)
{
	for (int spent = 1; spent >= 0; spent--)
		for (size_t i = 0; i < t->nfds; i++) {
			const struct fd *d = &t->fds[i];
			bool first = d->f.kind == TLV_FD_EPOLL;

			for (size_t j = 0; j < i; j++)
				first &= t->fds[j].f.ofd != d->f.ofd;
			if (first)
				rst_epoll(d, spent);
		}
}

/*
 * Unix sockets, made in cr before the first fork like pipes: each is one
 * open file description, handed to its processes as a helper fd.  In
 * order: pairs (socketpair, also with a stand-in for a closed peer),
 * names (a stale socket file of the dumped socket is unlinked first,
 * host_check made sure no live socket holds it), listeners, connections
 * accepted from a listener of the image (connect through it, accept),
 * queued data (written by the peer, or by a stand-in to a named datagram
 * socket), connections waiting in a listener's queue (the clients connect
 * in queue order), datagram connections by name, then the files unlinked
 * at dump go again, shutdown, options.
 */
enum { USK_BIND, USK_CONNECT, USK_SEND };

/*
 * bind(), connect() or send (a datagram of n bytes at p) s to k's name; a
 * relative one from k's directory.
 */
static void usk_name_op(int s, const struct usk *k, int op, const void *p, size_t n)
{
	static const char *const what[] = { "binding", "connecting", "sending" };
	struct sockaddr_un a;
	socklen_t l = usk_addr(&a, k->name, k->namelen);
	int here = -1, r, e;

	if (k->dir && ((here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
		       chdir(k->dir)))
		die_errno("unix socket %s: entering %s",
			  usk_name_str(k->name, k->namelen), k->dir);
	r = op == USK_BIND ? bind(s, (struct sockaddr *)&a, l) :
	    op == USK_CONNECT ? connect(s, (struct sockaddr *)&a, l) :
	    sendto(s, p, n, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&a, l) ==
	    (ssize_t)n ? 0 : -1;
	e = errno;
	if (here >= 0 && (fchdir(here) || close(here)))
		die_errno("returning from %s", k->dir);
	errno = e;
	if (r)
		die_errno("%s a unix socket to %s", what[op],
			  usk_name_str(k->name, k->namelen));
}

/* The socket of the image bound to this name, if any. */
static const struct usk *usk_named(const struct image *im, const uint8_t *name,
				   size_t len)
{
	for (size_t i = 0; i < im->nusks; i++)
		if (im->usks[i].namelen == len && !usk_accepted(&im->usks[i]) &&
		    !memcmp(im->usks[i].name, name, len))
			return &im->usks[i];
	return NULL;
}

static int usk_socket(const struct usk *k)
{
	int s = socket(AF_UNIX, (int)k->u.type | SOCK_CLOEXEC, 0);

	if (s < 0)
		die_errno("creating a unix socket");
	return s;
}

static void usk_setopt(int s, int opt, int v, int force)
{
	if ((!force || setsockopt(s, SOL_SOCKET, force, &v, sizeof(v))) &&
	    setsockopt(s, SOL_SOCKET, opt, &v, sizeof(v)))
		die_errno("setting option %d of a unix socket", opt);
}

/* Queued data, in order, as the reader will get it. */
static void rst_usk_fill(struct image *im, struct usk *k)
{
	struct usk *p = k->u.peer ? &im->usks[k->u.peer - 1] : NULL;
	bool stand_in = false;	/* an unnamed socket of cr's sends */
	size_t off = 0;
	int s, big;

	big = k->len * 2 + (1 << 16) < INT_MAX / 2 ? (int)(k->len * 2 + (1 << 16)) : INT_MAX / 2;
	if (p && p->u.peer == k->u.id)
		s = p->fd;
	else if (k->u.peer_kind == TLV_USK_PEER_DEAD)
		s = k->tmp;
	else
		usk_name_op(s = usk_socket(k), k, USK_CONNECT, NULL, 0), stand_in = true;
	usk_setopt(s, SO_SNDBUF, big, SO_SNDBUFFORCE);
	for (size_t m = 0, at = 0; off < k->len || m < k->nmsgs; m++) {
		size_t n = k->nmsgs ? k->msgs[m].len : k->len - off;
		const struct usk *from = stand_in && k->nmsgs && k->msgs[m].from ?
			usk_named(im, k->from + at, k->msgs[m].from) : NULL;

		if (from) {	/* its sender is in the image: from there */
			usk_setopt(from->fd, SO_SNDBUF, big, SO_SNDBUFFORCE);
			usk_name_op(from->fd, k, USK_SEND, k->data + off, n);
		} else if (send(s, k->data + off, n, MSG_DONTWAIT | MSG_NOSIGNAL) !=
			   (ssize_t)n) {
			die_errno("refilling a unix socket's queue (%zu of %zu bytes in)",
				  off, k->len);
		}
		off += n;
		at += k->nmsgs ? k->msgs[m].from : 0;
	}
	if (stand_in)
		close(s);
}

/* Shutdown and the options, the last steps. */
static void rst_usk_opts(const struct usk *k)
{
	static const int how[] = { 0, SHUT_RD, SHUT_WR, SHUT_RDWR };
	int s = k->fd;
	struct timeval tv;

	if (k->u.shutdown && shutdown(s, how[k->u.shutdown]))
		die_errno("shutdown of a unix socket");
	usk_setopt(s, SO_PASSCRED, !!(k->u.flags & TLV_USK_F_PASSCRED), 0);
	if (k->u.flags & TLV_USK_F_PASSSEC)
		usk_setopt(s, SO_PASSSEC, 1, 0);
	if (k->u.flags & TLV_USK_F_PASSPIDFD)
		usk_setopt(s, SO_PASSPIDFD, 1, 0);
	if (k->u.flags & TLV_USK_F_NORIGHTS)
		usk_setopt(s, SO_PASSRIGHTS, 0, 0);
	if (k->u.rcvlowat > 1)
		usk_setopt(s, SO_RCVLOWAT, (int)k->u.rcvlowat, 0);
	if (k->u.rcvbuf != (uint64_t)usk_getopt(s, SO_RCVBUF))
		usk_setopt(s, SO_RCVBUF, (int)k->u.rcvbuf / 2, SO_RCVBUFFORCE);
	if (k->u.sndbuf != (uint64_t)usk_getopt(s, SO_SNDBUF))
		usk_setopt(s, SO_SNDBUF, (int)k->u.sndbuf / 2, SO_SNDBUFFORCE);
	if (k->u.peek_off != ~0ULL)
		usk_setopt(s, SO_PEEK_OFF, (int)k->u.peek_off, 0);
	if (k->filterlen) {	/* after the refill: it saw those already */
		struct sock_fprog f = { k->filterlen / sizeof(struct sock_filter),
					(struct sock_filter *)k->filter };

		if (setsockopt(s, SOL_SOCKET, SO_ATTACH_FILTER, &f, sizeof(f)))
			die_errno("attaching a socket filter");
		if (k->u.flags & TLV_USK_F_LOCKFILTER)
			usk_setopt(s, SO_LOCK_FILTER, 1, 0);
	}
	tv.tv_sec = k->u.rcvtimeo_us / 1000000;
	tv.tv_usec = k->u.rcvtimeo_us % 1000000;
	if (k->u.rcvtimeo_us && setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		die_errno("SO_RCVTIMEO of a unix socket");
	tv.tv_sec = k->u.sndtimeo_us / 1000000;
	tv.tv_usec = k->u.sndtimeo_us % 1000000;
	if (k->u.sndtimeo_us && setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
		die_errno("SO_SNDTIMEO of a unix socket");
}

static void rst_make_usks(struct rst *r)
{
	struct image *im = r->im;
	int *tmps = NULL, sv[2];
	size_t ntmps = 0;
	char path[PATH_MAX + 128];

	fault("restore-unix");
	for (size_t i = 0; i < im->nusks; i++) {	/* sockets, pairs */
		struct usk *k = &im->usks[i], *p = k->u.peer ? &im->usks[k->u.peer - 1] : NULL;

		if (k->fd >= 0 || usk_accepted(k))
			continue;
		if ((p && p->u.peer == k->u.id && !p->u.listener) ||
		    k->u.peer_kind == TLV_USK_PEER_DEAD) {
			if (socketpair(AF_UNIX, (int)k->u.type | SOCK_CLOEXEC, 0, sv))
				die_errno("socketpair");
			k->fd = sv[0];
			*(p ? &p->fd : &k->tmp) = sv[1];
		} else {
			k->fd = usk_socket(k);
		}
	}
	for (size_t i = 0; i < im->nusks; i++) {	/* names, listeners */
		struct usk *k = &im->usks[i];
		const char *file = usk_path(k, path, sizeof(path));
		struct stat sb;

		if (k->namelen && !usk_accepted(k)) {
			if (file && !lstat(file, &sb) && S_ISSOCK(sb.st_mode) &&
			    !(k->u.flags & TLV_USK_F_DELETED) && unlink(file))
				die_errno("removing the stale socket file %s", file);
			usk_name_op(k->fd, k, USK_BIND, NULL, 0);
			if (file && (chmod(file, k->u.mode) ||
				     lchown(file, k->u.uid, k->u.gid)))
				die_errno("unix socket file %s", file);
		}
		if (k->u.state == TLV_USK_LISTEN && listen(k->fd, (int)k->u.backlog))
			die_errno("listen on unix socket %s",
				  usk_name_str(k->name, k->namelen));
	}
	for (size_t i = 0; i < im->nusks; i++) {	/* accepted connections */
		struct usk *k = &im->usks[i];

		if (!usk_accepted(k))
			continue;
		usk_name_op(im->usks[k->u.peer - 1].fd, &im->usks[k->u.listener - 1],
			    USK_CONNECT, NULL, 0);
		k->fd = accept4(im->usks[k->u.listener - 1].fd, NULL, NULL, SOCK_CLOEXEC);
		if (k->fd < 0)
			die_errno("accepting a unix connection");
	}
	for (size_t i = 0; i < im->nusks; i++)
		if (im->usks[i].len || im->usks[i].nmsgs)
			rst_usk_fill(im, &im->usks[i]);
	for (size_t i = 0; i < im->nusks; i++) {	/* waiting connections */
		struct usk *l = &im->usks[i];

		for (size_t c = 0; c < l->nicons; c++) {
			int s = l->icons[c].client ? im->usks[l->icons[c].client - 1].fd :
				(*(int *)vec_add(&tmps, &ntmps, sizeof(int)) = usk_socket(l));

			usk_name_op(s, l, USK_CONNECT, NULL, 0);
		}
	}
	for (size_t i = 0; i < im->nusks; i++) {	/* datagram, by name */
		struct usk *k = &im->usks[i], *p = k->u.peer ? &im->usks[k->u.peer - 1] : NULL;
		struct sockaddr_un a;
		socklen_t l;

		if (p && p->u.peer != k->u.id) {
			usk_name_op(k->fd, p, USK_CONNECT, NULL, 0);
		} else if (k->u.peer_kind == TLV_USK_PEER_EXT) {
			l = usk_addr(&a, k->pname, k->pnamelen);
			if (connect(k->fd, (struct sockaddr *)&a, l))
				die_errno("reconnecting a unix socket to %s outside the tree",
					  usk_name_str(k->pname, k->pnamelen));
		}
	}
	for (size_t i = 0; i < im->nusks; i++) {	/* files unlinked at dump */
		const char *file = usk_path(&im->usks[i], path, sizeof(path));

		if ((im->usks[i].u.flags & TLV_USK_F_DELETED) && unlink(file))
			die_errno("unlinking %s again", file);
	}
	for (size_t i = 0; i < ntmps; i++)
		close(tmps[i]);
	free(tmps);
	for (size_t i = 0; i < im->nusks; i++)
		if (im->usks[i].tmp >= 0)
			close(im->usks[i].tmp);
	for (size_t i = 0; i < im->nusks; i++)
		rst_usk_opts(&im->usks[i]);
}

/* Everything shared, as helper fds above every fd of the image. */
static void rst_make_shared(struct rst *r)
{
	struct image *im = r->im;
	struct rlimit rl;
	int *users;

	r->hi = 3;
	for (size_t i = 0; i < im->nt; i++)
		for (size_t k = 0; k < im->t[i].nfds; k++)
			if ((int)im->t[i].fds[k].f.fd >= r->hi)
				r->hi = im->t[i].fds[k].f.fd + 1;
	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	r->img_fd = lz_blobs_moved(r->img_fd, rst_helper(r, r->img_fd));
	for (struct image *p = r->im->prev; p; p = p->prev)
		p->fd = lz_blobs_moved(p->fd, rst_helper(r, p->fd));
	r->status[0] = rst_helper(r, r->status[0]);
	r->status[1] = rst_helper(r, r->status[1]);
	if (ctx.log && fileno(ctx.log) >= r->hi)	/* else closed by rst_files */
		*(int *)vec_add(&r->helpers, &r->nhelpers, sizeof(int)) =
			fileno(ctx.log);
	for (int i = 0; i < 3; i++)
		r->stdio[i] = rst_helper(r, fcntl(i, F_DUPFD_CLOEXEC, r->hi));
	rst_make_pipes(r);
	rst_make_objs(r);
	rst_make_ttys(im);
	for (size_t i = 0; i < im->nttys; i++)
		if (im->ttys[i].m >= 0) {
			im->ttys[i].m = rst_helper(r, im->ttys[i].m);
			im->ttys[i].s = rst_helper(r, im->ttys[i].s);
		}
	fault("restore-ttys");
	rst_make_usks(r);
	/* an ofd used by two processes, or any pipe end, is opened here */
	users = xzalloc((im->nofds + 1) * sizeof(int));
	r->ofd_fd = xmalloc((im->nofds + 1) * sizeof(int));
	for (size_t i = 0; i <= im->nofds; i++)
		r->ofd_fd[i] = -1;
	for (size_t i = 0; i < im->nt; i++) {
		int *seen = xzalloc((im->nofds + 1) * sizeof(int));

		for (size_t k = 0; k < im->t[i].nfds; k++)
			if (!seen[im->t[i].fds[k].f.ofd]++)
				users[im->t[i].fds[k].f.ofd]++;
		free(seen);
	}
	for (size_t i = 0; i < im->nt; i++)
		for (size_t k = 0; k < im->t[i].nfds; k++) {
			const struct fd *d = &im->t[i].fds[k];

			if (r->ofd_fd[d->f.ofd] >= 0 || d->f.kind == TLV_FD_STDIO ||
			    (users[d->f.ofd] < 2 && d->f.kind != TLV_FD_PIPE &&
			     d->f.kind != TLV_FD_FIFO && d->f.kind != TLV_FD_UNIX))
				continue;
			r->ofd_fd[d->f.ofd] = rst_helper(r, rst_open_ofd(im, d));
		}
	free(users);
	for (size_t i = 0; i < im->nusks; i++)
		close(im->usks[i].fd);
	for (size_t i = 0; i < im->npipes; i++) {
		close(im->pipes[i].fd[0]);
		if (im->pipes[i].fd[1] != im->pipes[i].fd[0])
			close(im->pipes[i].fd[1]);
	}
	for (size_t i = 0; i < im->nt; i++) {
		struct task *t = &im->t[i];

		if (task_zombie(t))
			continue;
		rst_file_fd(r, t->exe, false);
		for (size_t k = 0; k < t->nvmas; k++)
			if (t->vmas[k].v.kind == TLV_VMA_FILE)
				rst_file_fd(r, t->vmas[k].path,
					    (t->vmas[k].v.flags & MAP_SHARED) &&
					    (t->vmas[k].v.prot & PROT_WRITE));
	}
}

/* Session and group as far as a process can take them alone. */
static void rst_session(const struct task *t)
{
	if (t->proc.sid == t->proc.pid) {
		if (setsid() < 0)
			die_errno("setsid");
	} else if (t->proc.pgid == t->proc.pid && setpgid(0, 0)) {
		die_errno("setpgid");
	}
}

/*
 * A group led by another process of the tree (or by a helper), joined once
 * all exist; then the helpers may go.  A process a session helper forked
 * drops its parent-death signal first: the helper's exit must not kill it.
 */
static void rst_join_group(struct rst *r, const struct task *t)
{
	const struct image *im = r->im;

	if (t->parent >= 0 && t->proc.pgid != t->proc.pid &&
	    t->proc.pgid != forker_pgid(im, t) && t->proc.sid != t->proc.pid &&
	    setpgid(0, t->proc.pgid))
		die_errno("joining process group %llu",
			  (unsigned long long)t->proc.pgid);
	if (t->via >= 0 && prctl(PR_SET_PDEATHSIG, 0))
		die_errno("prctl");
	__atomic_add_fetch(&r->ctl->joined, 1, __ATOMIC_RELEASE);
	sys_futex(&r->ctl->joined, FUTEX_WAKE, INT_MAX, -1);
}

/* Counted as created, for cr's rst_wait_created. */
static void rst_created(struct rst *r)
{
	__atomic_add_fetch(&r->ctl->created, 1, __ATOMIC_RELEASE);
	sys_futex(&r->ctl->created, FUTEX_WAKE, 1, -1);
}

static void rst_wait_go(struct rst *r)
{
	while (!__atomic_load_n(&r->ctl->go, __ATOMIC_ACQUIRE))
		sys_futex(&r->ctl->go, FUTEX_WAIT, 0, -1);
}

/* A zombie: take the session and group, then end as it ended. */
static void __attribute__((noreturn)) rst_zombie(struct rst *r,
						 const struct task *t)
{
	int st = t->proc.exit_status;
	struct rlimit no_core = { 0, 0 };

	rst_session(t);
	prctl(PR_SET_NAME, t->comm);
	rst_created(r);
	rst_wait_go(r);
	rst_join_group(r, t);
	if (WIFSIGNALED(st)) {
		uint64_t none = 0;

		setrlimit(RLIMIT_CORE, &no_core);
		signal(WTERMSIG(st), SIG_DFL);
		syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);
		kill(getpid(), WTERMSIG(st));
	}
	syscall(SYS_exit_group, WEXITSTATUS(st));
	for (;;)
		pause();
}

/*
 * Give back, in an inherited premapped copy, the pages neither saved nor
 * kept: they were not present in this process (zero, or the file's).
 */
static void rst_drop_gaps(const struct task *t, const struct vma *v)
{
	uint64_t at = v->v.start;
	size_t i = 0, j = 0;

	for (;;) {
		const struct tlv_run *a = NULL, *b;

		while (i < t->own.n && t->own.v[i].addr + t->own.v[i].npages * PAGE <= at)
			i++;
		while (j < t->inh.n && t->inh.v[j].addr + t->inh.v[j].npages * PAGE <= at)
			j++;
		if (i < t->own.n && t->own.v[i].addr < v->v.end)
			a = &t->own.v[i];
		b = j < t->inh.n && t->inh.v[j].addr < v->v.end ? &t->inh.v[j] : NULL;
		if (b && (!a || b->addr < a->addr))
			a = b;
		if (!a) {
			if (at < v->v.end &&
			    madvise((void *)(v->premap + at - v->v.start),
				    v->v.end - at, MADV_DONTNEED))
				die_errno("madvise");
			return;
		}
		if (a->addr > at &&
		    madvise((void *)(v->premap + at - v->v.start), a->addr - at,
			    MADV_DONTNEED))
			die_errno("madvise");
		at = a->addr + a->npages * PAGE;
	}
}

/* restore --lazy-pages leaves these to the page server (below); hugetlb
 * memory would want huge-page copies: it is loaded before, as files are. */
static bool lazy_vma(const struct opts *o, const struct vma *v)
{
	return o->lazy && v->v.kind == TLV_VMA_ANON &&
	       (v->v.flags & MAP_PRIVATE) && !(v->v.flags & MAP_HUGETLB);
}

/* The mapping of t that holds addr (t's mappings are sorted, disjoint). */
static struct vma *task_vma_at(struct task *t, uint64_t addr)
{
	size_t lo = 0, hi = t->nvmas;

	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (t->vmas[mid].v.start <= addr)
			lo = mid;
		else
			hi = mid;
	}
	return &t->vmas[lo];
}

/*
 * Private memory at its premap addresses: a mapping inherited at fork is
 * the parent's copy already (copy-on-write: pages equal to the parent's
 * stay shared); others are mapped fresh.  Then the saved pages are read
 * in with large preads, straight from the image.
 */
/* Read len bytes of pages at addr (in mapping v, premapped) from fd. */
static void rst_load(const struct vma *v, uint64_t addr, size_t len, int fd,
		     uint64_t off)
{
	uint8_t *dst = (uint8_t *)(v->premap + addr - v->v.start);
	size_t done = 0;

	/* Fault the run in with one call rather than a fault per page
	 * inside pread (5.14+; without it pread faults them itself). */
	madvise(dst, len, MADV_POPULATE_WRITE);
	while (done < len) {
		ssize_t n = pread(fd, dst + done, len - done, off + done);

		if (n <= 0)
			die_errno("reading pages of %llx",
				  (unsigned long long)addr);
		done += n;
	}
}

static void rst_memory(struct rst *r, struct task *t)
{
	uint64_t off = t->pages_off;
	size_t vi = 0;

	for (size_t i = 0; i < t->nvmas; i++) {
		struct vma *v = &t->vmas[i];
		size_t len = v->v.end - v->v.start;
		int fd = -1, fl = MAP_PRIVATE | MAP_FIXED_NOREPLACE |
				  (v->v.flags & MAP_GROWSDOWN);

		if (!vma_private(v) || v->v.inherit)
			continue;
		if (v->v.kind == TLV_VMA_FILE)
			fd = rst_file_fd(r, v->path, false);
		else if (v->v.kind == TLV_VMA_OBJ)
			fd = r->im->objs[v->v.obj - 1].fd;
		else
			fl |= MAP_ANONYMOUS | (v->v.flags & HUGE_BITS);
		if (mmap((void *)v->premap, len, PROT_READ | PROT_WRITE, fl, fd,
			 fd < 0 ? 0 : v->v.pgoff) != (void *)v->premap)
			die_errno("premapping %llx-%llx",
				  (unsigned long long)v->v.start,
				  (unsigned long long)v->v.end);
	}
	for (size_t i = 0; i < t->own.n; i++) {
		const struct tlv_run *x = &t->own.v[i];

		while (t->vmas[vi].v.end <= x->addr)
			vi++;
		if (!lazy_vma(r->opt, &t->vmas[vi]))
			rst_load(&t->vmas[vi], x->addr, x->npages * PAGE,
				 r->img_fd, off);
		off += x->npages * PAGE;
	}
	for (size_t i = 0; i < t->nsrc; i++) {	/* from parent images */
		const struct psrc *x = &t->src[i];
		const struct vma *v = task_vma_at(t, x->addr);

		if (!lazy_vma(r->opt, v))
			rst_load(v, x->addr, x->npages * PAGE, x->img->fd,
				 x->off);
	}
	for (size_t i = 0; i < t->nvmas; i++)
		if (t->vmas[i].v.inherit)
			rst_drop_gaps(t, &t->vmas[i]);
}

/* Close every fd of this process that is not in keep[]. */
static void close_all_but(const int *keep, size_t nkeep)
{
	uint64_t *fds;
	size_t n = proc_list(0, "fd", &fds);

	for (size_t i = 0; i < n; i++) {
		size_t k = 0;

		while (k < nkeep && keep[k] != (int)fds[i])
			k++;
		if (k == nkeep)
			close(fds[i]);
	}
	free(fds);
}

/*
 * ---- lazy pages: restore --lazy-pages (post-copy) ----
 * The private anonymous mappings are premapped empty.  Each process,
 * once it forked its children, makes a userfaultfd of its own (missing
 * mode; fork, remap, remove and unmap events) at a fd number cr kept for
 * it and hands cr a copy over a socket (SCM_RIGHTS); the blob registers
 * the mappings with it once it moved them into place and closes it with
 * cr's fds, so the restored process never holds it.  A server process
 * forked by cr owns them all, its lists at the pages' final addresses
 * from the start; a fault gets its
 * page and a few after it at once (UFFDIO_COPY), an address the image
 * has no page for a zero page; between faults the server copies the
 * rest in the background.  A page freed (MADV_DONTNEED, munmap) before
 * it came is forgotten, a moved one (mremap) follows, and a child forked
 * meanwhile gets its own userfaultfd (FORK event) with a copy of what
 * its parent still lacked.  When a process has every page its
 * userfaultfd is closed (which unregisters its mappings: what is not
 * there now is zero); when none is left the server exits.  The server
 * has a guardian, its parent, holding a copy of every userfaultfd: if
 * the server dies before it is done, the guardian answers every later
 * fault with UFFDIO_POISON (the process gets SIGBUS at that access,
 * never a page of zeros).
 */
#define LZ_WINDOW 16		/* pages copied for one fault */
#define LZ_CHUNK 256		/* pages copied at a time in the background */
#define LZ_MIN(a, b) ((a) < (b) ? (a) : (b))
#define LZ_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Add pages [addr, addr + n pages) of mapping v, found at fd:off. */
static void lz_add(struct task *t, const struct vma *v, uint64_t addr,
		   uint64_t n, int fd, uint64_t off)
{
	struct lz_run *x = vec_add(&t->lz, &t->nlz, sizeof(*x));

	*x = (struct lz_run){ addr, n, off, fd,
			      (v->adv.advice & TLV_ADV_WIPEONFORK) != 0 };
}

static int lz_cmp(const void *a, const void *b)
{
	const struct lz_run *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/*
 * The pages the server will copy into each process, at their addresses
 * there (the blob registers the mappings once in place): its own saved
 * pages, those in parent images of a chain, and those kept
 * from its parent at fork, which its parent's premapped copy did not
 * have yet (they are wherever the parent's come from).
 */
static void lazy_plan(struct rst *r)
{
	struct image *im = r->im;

	for (size_t i = 0; i < im->nt; i++) {
		struct task *t = &im->t[i];
		uint64_t off = t->pages_off;

		if (task_zombie(t))
			continue;
		for (size_t k = 0; k < t->own.n; k++) {
			const struct tlv_run *x = &t->own.v[k];
			const struct vma *v = task_vma_at(t, x->addr);

			if (lazy_vma(r->opt, v))
				lz_add(t, v, x->addr, x->npages, r->img_fd, off);
			off += x->npages * PAGE;
		}
		for (size_t k = 0; k < t->nsrc; k++) {
			const struct psrc *x = &t->src[k];
			const struct vma *v = task_vma_at(t, x->addr);

			if (lazy_vma(r->opt, v))
				lz_add(t, v, x->addr, x->npages, x->img->fd,
				       x->off);
		}
		for (size_t k = 0; t->parent >= 0 && k < t->inh.n; k++) {
			const struct task *p = &im->t[t->parent];
			const struct tlv_run *x = &t->inh.v[k];
			const struct vma *v = task_vma_at(t, x->addr);
			uint64_t lo = x->addr, hi = lo + x->npages * PAGE;

			if (!lazy_vma(r->opt, v) || !v->v.inherit)
				continue;
			for (size_t j = 0; j < p->nlz; j++) {
				const struct lz_run *y = &p->lz[j];
				uint64_t a = LZ_MAX(lo, y->addr);
				uint64_t b = LZ_MIN(hi, y->addr + y->npages * PAGE);

				if (a < b)
					lz_add(t, v, a, (b - a) / PAGE, y->fd,
					       y->off + a - y->addr);
			}
		}
		xsort(t->lz, t->nlz, sizeof(*t->lz), lz_cmp);
	}
}

#define LZ_FEATURES (UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP | \
		     UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP)

/* The features this kernel's userfaultfd offers, or -errno. */
static int64_t uffd_features(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	int u = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	int64_t r;

	if (u < 0)
		return -errno;
	r = ioctl(u, UFFDIO_API, &api) ? -errno : (int64_t)api.features;
	close(u);
	return r;
}

/* The userfaultfd features --lazy-pages needs, or a clear refusal. */
static uint64_t lazy_probe(void)
{
	int64_t f = uffd_features();

	if (f < 0) {
		errno = -f;
		die_errno("--lazy-pages: userfaultfd (faults in the kernel need CAP_SYS_PTRACE or vm.unprivileged_userfaultfd=1)");
	}
	if ((f & (LZ_FEATURES | UFFD_FEATURE_POISON)) !=
	    (LZ_FEATURES | UFFD_FEATURE_POISON))
		die("--lazy-pages: this kernel's userfaultfd lacks fork, remap, remove or unmap events or UFFDIO_POISON (6.6+; features %#llx)",
		    (unsigned long long)f);
	return LZ_FEATURES | UFFD_FEATURE_POISON;
}

/*
 * A fd number for each process's userfaultfd, kept among cr's helpers (a
 * placeholder on /dev/null until the process puts its userfaultfd there):
 * chosen before the fork, so that processes sharing a fd table do not
 * take each other's, and closed with the helpers at the end.
 */
static void lazy_reserve_fds(struct rst *r)
{
	for (size_t i = 0; i < r->im->nt; i++) {
		struct task *t = &r->im->t[i];

		t->lz_fd = -1;
		for (size_t k = 0; !task_zombie(t) && k < t->nvmas; k++)
			if (lazy_vma(r->opt, &t->vmas[k])) {
				t->lz_fd = rst_helper(r, xopen("/dev/null",
							       O_RDONLY));
				break;
			}
	}
}

/*
 * In the process: its userfaultfd, at the fd number cr kept for it, and a
 * copy for cr; the blob registers the lazy mappings with it once they are
 * in place (restorer.c register_lazy), and closes it with cr's fds.
 */
static void lazy_register(struct rst *r, size_t i)
{
	const struct task *t = &r->im->t[i];
	struct uffdio_api api = { .api = UFFD_API, .features = r->lz_features };
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	uint32_t idx = i;
	struct iovec iov = { &idx, sizeof(idx) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	int u;

	if (!t->nlz)
		return;
	fault("restore-lazy");
	u = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (u < 0 || ioctl(u, UFFDIO_API, &api))
		die_errno("userfaultfd for --lazy-pages");
	if (dup3(u, t->lz_fd, O_CLOEXEC) < 0)	/* for the blob */
		die_errno("dup3");
	close(u);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &t->lz_fd, sizeof(int));
	if (sendmsg(r->lz_sk[1], &mh, MSG_NOSIGNAL) != sizeof(idx))
		die_errno("handing the userfaultfd to cr");
}

/* Receive a u32 and maybe an fd from a unix socket: the fd, -1 if
 * none came with it, -2 at the end. */
static int lz_recv(int sk, uint32_t *val)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { val, sizeof(*val) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	ssize_t n;
	int fd = -1;

	while ((n = recvmsg(sk, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (n != sizeof(*val))
		return -2;
	cm = CMSG_FIRSTHDR(&mh);
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

struct lz_mm {			/* the server's view of one process */
	int uffd, id;
	struct lz_run *v;	/* sorted by addr, disjoint */
	size_t n, cap;		/* cap: room in v */
	uint64_t *wait;		/* faults to answer again (EAGAIN) */
	size_t nwait;
};

struct lz_srv {
	struct lz_mm *mm;
	size_t nmm;
	int go;			/* cr says (or closes) once the tree runs */
	int *pidfds;		/* the restored processes */
	size_t npidfds;
	int guard;		/* socket to the guardian */
	int next_id;
	uint8_t *buf;
	uint64_t copied;	/* pages */
};

/*
 * The server's run list is cut at every fault and every chunk copied, and
 * moved when the program mremaps its memory: a sorted array, searched by
 * bisection and changed in place, so that none of this costs more than
 * one memmove of the runs after the place.
 */

/* Room in m->v for k more runs. */
static void lz_room(struct lz_mm *m, size_t k)
{
	if (m->n + k <= m->cap)
		return;
	m->cap = (m->n + k) * 2;
	m->v = xrealloc(m->v, m->cap * sizeof(*m->v));
}

/* The index of the first run of m that ends after addr (m->n: none). */
static size_t lz_find(const struct lz_mm *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->v[mid].addr + m->v[mid].npages * PAGE <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Put runs x[0..k) in place of m->v[i..j). */
static void lz_splice(struct lz_mm *m, size_t i, size_t j,
		      const struct lz_run *x, size_t k)
{
	if (k > j - i)
		lz_room(m, k - (j - i));
	memmove(&m->v[i + k], &m->v[j], (m->n - j) * sizeof(*m->v));
	memcpy(&m->v[i], x, k * sizeof(*x));
	m->n = m->n - (j - i) + k;
}

/* Take [lo, hi) out of m's runs; what was there goes to out, if given. */
static void lz_cut(struct lz_mm *m, uint64_t lo, uint64_t hi,
		   struct lz_run **out, size_t *nout)
{
	size_t i = lz_find(m, lo), j = i, k = 0;
	struct lz_run ends[2];

	for (; j < m->n && m->v[j].addr < hi; j++) {
		struct lz_run x = m->v[j];
		uint64_t end = x.addr + x.npages * PAGE;
		uint64_t a = LZ_MAX(lo, x.addr), b = LZ_MIN(hi, end);

		if (x.addr < a) {	/* the first run only */
			ends[k] = x;
			ends[k++].npages = (a - x.addr) / PAGE;
		}
		if (out) {
			struct lz_run *y = vec_add(out, nout, sizeof(x));

			*y = x;
			y->addr = a;
			y->npages = (b - a) / PAGE;
			y->off += a - x.addr;
		}
		if (b < end) {		/* the last run only */
			ends[k] = x;
			ends[k].addr = b;
			ends[k].npages = (end - b) / PAGE;
			ends[k++].off += b - x.addr;
		}
	}
	if (j > i)
		lz_splice(m, i, j, ends, k);
}

/* Tell the guardian about a userfaultfd: op 1 keep it, 0 close it. */
static void lz_tell(struct lz_srv *s, struct lz_mm *m, uint32_t op)
{
	uint32_t msg = (uint32_t)m->id << 1 | op;
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { &msg, sizeof(msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (op) {
		struct cmsghdr *cm;

		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &m->uffd, sizeof(int));
	}
	if (sendmsg(s->guard, &mh, MSG_NOSIGNAL) != sizeof(msg))
		die_errno("telling the guardian");
}

/*
 * Copy run x (or its first len bytes) into m's process.  Returns the
 * bytes dealt with (copied, found there already, or gone from the
 * process), or -1 if the process is gone, or -2 if the kernel said
 * EAGAIN (the process is changing its mappings: events to read first).
 */
static int64_t lz_copy(struct lz_srv *s, struct lz_mm *m,
		       const struct lz_run *x, uint64_t len)
{
	uint64_t done = 0;

	for (size_t got = 0; got < len;) {
		ssize_t n = pread(x->fd, s->buf + got, len - got, x->off + got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			struct uffdio_poison p = { { x->addr, len }, 0, 0 };

			/* no page to give: a SIGBUS where it is used */
			info("reading the image at %llu: %s",
			     (unsigned long long)x->off,
			     n ? strerror(errno) : "end of file");
			if (ioctl(m->uffd, UFFDIO_POISON, &p) && errno != EEXIST)
				return -1;
			return p.updated > 0 ? p.updated : (int64_t)PAGE;
		}
		got += n;
	}
	while (done < len) {
		struct uffdio_copy c = { x->addr + done, (uintptr_t)s->buf + done,
					 len - done, 0, 0 };

		if (!ioctl(m->uffd, UFFDIO_COPY, &c)) {
			s->copied += (len - done) / PAGE;
			return len;
		}
		if (c.copy > 0) {
			done += c.copy;
			s->copied += c.copy / PAGE;
		}
		if (errno == EEXIST)
			done += PAGE;	/* there already: faulted, or written */
		else if (errno == EAGAIN)
			return done ? (int64_t)done : -2;
		else if (errno == ENOENT || errno == EINVAL)
			return len;	/* not mapped there any more */
		else if (errno == ESRCH)
			return -1;
		else if (c.copy <= 0)
			die_errno("lazy-pages: UFFDIO_COPY at %llx",
				  (unsigned long long)(x->addr + done));
	}
	return len;
}

static void lz_drop(struct lz_srv *s, size_t i)
{
	struct lz_mm *m = &s->mm[i];

	lz_tell(s, m, 0);
	close(m->uffd);
	free(m->v);
	free(m->wait);
	s->mm[i] = s->mm[--s->nmm];
}

/* Answer a fault at addr: its page and a few after it, or zeros. */
static bool lz_fault(struct lz_srv *s, struct lz_mm *m, uint64_t addr)
{
	uint64_t pg = addr & ~(uint64_t)(PAGE - 1);
	size_t i = lz_find(m, pg);

	if (i < m->n && m->v[i].addr <= pg) {	/* a page of the image */
		struct lz_run x = m->v[i];
		uint64_t lo, fwd;
		int64_t n;

		/* the window: pages after it, or before it near the run's
		 * end (a program going down through its memory) */
		fwd = LZ_MIN(x.npages - (pg - x.addr) / PAGE, LZ_WINDOW);
		lo = pg - LZ_MIN((pg - x.addr) / PAGE, LZ_WINDOW - fwd) * PAGE;
		x.off += lo - x.addr;
		x.npages = (pg - lo) / PAGE + fwd;
		x.addr = lo;
		n = lz_copy(s, m, &x, x.npages * PAGE);
		if (n == -2) {
			*(uint64_t *)vec_add(&m->wait, &m->nwait, 8) = pg;
			return true;
		}
		if (n < 0)
			return false;
		lz_cut(m, lo, lo + n, NULL, NULL);
		if ((uint64_t)n <= pg - lo)	/* EAGAIN before it */
			*(uint64_t *)vec_add(&m->wait, &m->nwait, 8) = pg;
		{	/* the page may have been there already (EEXIST) */
			struct uffdio_range w = { pg, PAGE };

			ioctl(m->uffd, UFFDIO_WAKE, &w);
		}
		return true;
	} else {		/* none there: zeros */
		struct uffdio_zeropage z = { { pg, PAGE }, 0, 0 };

		if (!ioctl(m->uffd, UFFDIO_ZEROPAGE, &z))
			return true;
		if (errno == EAGAIN) {
			*(uint64_t *)vec_add(&m->wait, &m->nwait, 8) = pg;
			return true;
		}
		if (errno == ESRCH)
			return false;
		ioctl(m->uffd, UFFDIO_WAKE, &z.range);	/* EEXIST, ENOENT */
		return true;
	}
}

/* One event of m's process; false if the process is gone. */
static bool lz_event(struct lz_srv *s, size_t i, const struct uffd_msg *e)
{
	struct lz_mm *m = &s->mm[i];
	struct lz_run *moved = NULL;
	size_t nmoved = 0;

	switch (e->event) {
	case UFFD_EVENT_PAGEFAULT:
		return lz_fault(s, m, e->arg.pagefault.address);
	case UFFD_EVENT_FORK: {
		struct lz_mm c = { .uffd = (int)e->arg.fork.ufd,
				   .id = s->next_id++ };

		lz_room(&c, m->n);
		for (size_t k = 0; k < m->n; k++)
			if (!m->v[k].wipe)
				c.v[c.n++] = m->v[k];
		s->mm = xrealloc(s->mm, (s->nmm + 1) * sizeof(*s->mm));
		s->mm[s->nmm++] = c;
		lz_tell(s, &c, 1);
		return true;
	}
	case UFFD_EVENT_REMAP:
		lz_cut(m, e->arg.remap.to, e->arg.remap.to + e->arg.remap.len,
		       NULL, NULL);
		lz_cut(m, e->arg.remap.from,
		       e->arg.remap.from + e->arg.remap.len, &moved, &nmoved);
		for (size_t k = 0; k < nmoved; k++)
			moved[k].addr += e->arg.remap.to - e->arg.remap.from;
		if (nmoved) {	/* in order, into the hole cut at to */
			size_t at = lz_find(m, e->arg.remap.to);

			lz_splice(m, at, at, moved, nmoved);
		}
		free(moved);
		return true;
	case UFFD_EVENT_REMOVE:
	case UFFD_EVENT_UNMAP:
		lz_cut(m, e->arg.remove.start, e->arg.remove.end, NULL, NULL);
		return true;
	}
	return true;
}

/* Read and handle what m's userfaultfd has; false if the process is gone. */
static bool lz_read(struct lz_srv *s, size_t i)
{
	struct uffd_msg e[32];

	for (;;) {
		ssize_t n = read(s->mm[i].uffd, e, sizeof(e));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0)
			return false;
		for (size_t k = 0; k < (size_t)n / sizeof(*e); k++)
			if (!lz_event(s, i, &e[k]))
				return false;
	}
}

/* Faults that met EAGAIN, answered again now. */
static bool lz_retry(struct lz_srv *s, struct lz_mm *m)
{
	uint64_t *w = m->wait;
	size_t n = m->nwait;

	m->wait = NULL;
	m->nwait = 0;
	for (size_t k = 0; k < n; k++)
		if (!lz_fault(s, m, w[k])) {
			free(w);
			return false;
		}
	free(w);
	return true;
}

/*
 * The page data whose reading restore put off (in_defer_pages): checked
 * against the CRCs END vouched for, on a thread of the server while it
 * serves.  A mismatch kills the restored processes (those cr made; a
 * child one of them forked meanwhile is not known to it).
 */
static bool lazy_check_one(const struct lz_blob *b)
{
	uint32_t crc = crc_pages(b->fd, b->off, b->len, 0, NULL, "the image");

	if (crc == b->crc)
		return true;
	fprintf(stderr, "cr: lazy-pages: pid %llu: checksum mismatch in its page data at offset %llu (stored %08x, computed %08x): the restored processes are killed\n",
		(unsigned long long)b->pid, (unsigned long long)b->off,
		b->crc, crc);
	return false;
}

static void *lazy_check(void *arg)
{
	struct lz_srv *s = arg;

	for (size_t i = 0; i < nlz_blobs; i++)
		if (!lazy_check_one(&lz_blobs[i])) {
			for (size_t k = 0; k < s->npidfds; k++)
				syscall(SYS_pidfd_send_signal, s->pidfds[k],
					SIGKILL, NULL, 0);
			_exit(1);
		}
	info("the deferred page data checks out (%zu blocks)", nlz_blobs);
	return NULL;
}

static void __attribute__((noreturn)) lz_serve(struct lz_srv *s)
{
	size_t rr = 0;
	pthread_t th;

	info("page server: pid %d, serving %zu processes", (int)getpid(), s->nmm);
	if (nlz_blobs && pthread_create(&th, NULL, lazy_check, s))
		die("lazy-pages: no thread to check the page data");

	s->buf = xmalloc(LZ_CHUNK * PAGE);
	while (s->nmm) {
		struct pollfd *pf;
		bool busy = false;
		size_t i;
		char c;

		/* every page is there: read what came meanwhile, then close */
		for (i = s->nmm; i-- > 0;)
			if (!s->mm[i].n && !s->mm[i].nwait &&
			    (!lz_read(s, i) || (!s->mm[i].n && !s->mm[i].nwait)))
				lz_drop(s, i);
		if (!s->nmm)
			break;
		/* the background copy waits until cr let the tree go: on a
		 * busy machine it would slow down the end of the restore */
		pf = xzalloc((s->nmm + 1) * sizeof(*pf));
		for (i = 0; i < s->nmm; i++) {
			pf[i] = (struct pollfd){ s->mm[i].uffd, POLLIN, 0 };
			busy |= s->mm[i].n || s->mm[i].nwait;
		}
		pf[i] = (struct pollfd){ s->go, POLLIN, 0 };
		busy &= s->go < 0;
		while (poll(pf, s->nmm + (s->go >= 0), busy ? 0 : -1) < 0 &&
		       errno == EINTR)
			;
		if (s->go >= 0 && pf[s->nmm].revents &&
		    read(s->go, &c, 1) >= 0) {
			close(s->go);
			s->go = -1;
		}
		free(pf);
		for (i = s->nmm; i-- > 0;)
			if (!lz_read(s, i) || !lz_retry(s, &s->mm[i]))
				lz_drop(s, i);
		if (!s->nmm)
			break;
		/* the background: one chunk of one process, in turn */
		i = rr++ % s->nmm;
		if (s->mm[i].n && s->go < 0) {
			struct lz_mm *m = &s->mm[i];
			struct lz_run x = m->v[0];
			int64_t n = lz_copy(s, m, &x,
					    LZ_MIN(x.npages, LZ_CHUNK) * PAGE);

			if (n == -1)
				lz_drop(s, i);
			else if (n > 0)
				lz_cut(m, x.addr, x.addr + n, NULL, NULL);
			else if (n == -2)
				usleep(100);
		}
	}
	info("all %llu pages in, done",
	     (unsigned long long)s->copied);
	_exit(0);
}

/*
 * The guardian: holds a copy of every userfaultfd the server has.  When
 * the server ends without having closed them all (killed, or it failed),
 * every later fault of those processes is answered with UFFDIO_POISON:
 * a SIGBUS at the access instead of a page of zeros.  It ends once the
 * processes it started with (pidfds) have all exited.
 */
static void __attribute__((noreturn)) lz_guard(int sk, int *fds, size_t n,
					       const int *pidfds, size_t npid,
					       pid_t server)
{
	size_t left = 0;
	uint32_t msg;
	int st, fd;

	while ((fd = lz_recv(sk, &msg)) != -2) {
		size_t id = msg >> 1;

		if (fd < 0 && id < n && fds[id] >= 0) {
			close(fds[id]);
			fds[id] = -1;
		} else if (fd >= 0) {
			fds = xrealloc(fds, (LZ_MAX(n, id + 1)) * sizeof(int));
			while (n <= id)
				fds[n++] = -1;
			fds[id] = fd;
		}
	}
	while (waitpid(server, &st, 0) < 0 && errno == EINTR)
		;
	for (size_t i = 0; i < n; i++)
		left += fds[i] >= 0;
	if (!left)
		_exit(0);
	fprintf(stderr, "cr: lazy-pages: the page server %s before %zu processes had all their pages: a missing page now gives SIGBUS\n",
		WIFSIGNALED(st) ? "was killed" : "failed", left);
	for (;;) {
		struct pollfd *pf = xzalloc((n + npid) * sizeof(*pf));
		size_t alive = 0;

		for (size_t i = 0; i < n; i++)
			pf[i] = (struct pollfd){ fds[i], POLLIN, 0 };
		for (size_t i = 0; i < npid; i++)
			pf[n + i] = (struct pollfd){ pidfds[i], POLLIN, 0 };
		poll(pf, n + npid, 1000);
		for (size_t i = 0; i < npid; i++)
			alive += !(pf[n + i].revents & POLLIN);
		free(pf);
		if (!alive)
			_exit(0);
		for (size_t i = 0; i < n; i++) {
			struct uffd_msg e[16];
			ssize_t r;

			while (fds[i] >= 0 &&
			       (r = read(fds[i], e, sizeof(e))) > 0)
				for (size_t k = 0; k < (size_t)r / sizeof(*e); k++) {
					struct uffdio_poison p = { { e[k].arg.pagefault.address &
						~(uint64_t)(PAGE - 1), PAGE }, 0, 0 };

					if (e[k].event == UFFD_EVENT_PAGEFAULT &&
					    ioctl(fds[i], UFFDIO_POISON, &p))
						ioctl(fds[i], UFFDIO_WAKE, &p.range);
					else if (e[k].event == UFFD_EVENT_FORK)
						close((int)e[k].arg.fork.ufd);
				}
		}
	}
}

static int lazy_go = -1;	/* cr's end of the server's go pipe */

/*
 * cr, once every process exists: take their userfaultfds and fork the
 * guardian, which forks the server.  Returns the guardian's pid.
 */
static pid_t lazy_start(struct rst *r)
{
	struct image *im = r->im;
	struct lz_srv s = { 0 };
	size_t want = 0;
	int gsk[2], go[2], *keep, *pidfds;
	pid_t *pids;
	size_t nkeep = 0;
	pid_t g, srv;

	for (size_t i = 0; i < im->nt; i++)
		want += !task_zombie(&im->t[i]) && im->t[i].nlz;
	if (!want) {	/* nothing to serve: check the pages now */
		for (size_t i = 0; i < nlz_blobs; i++)
			if (!lazy_check_one(&lz_blobs[i]))
				die("checksum mismatch in page data");
		return 0;
	}
	s.mm = xzalloc(want * sizeof(*s.mm));
	pids = xmalloc(want * sizeof(*pids));
	for (; s.nmm < want; s.nmm++) {
		uint32_t idx;
		int fd = lz_recv(r->lz_sk[0], &idx);

		if (fd < 0 || idx >= im->nt || !im->t[idx].nlz)
			die("a process did not hand over its userfaultfd");
		s.mm[s.nmm] = (struct lz_mm){ .uffd = fd, .id = (int)s.nmm };
		pids[s.nmm] = im->t[idx].proc.pid;
		s.mm[s.nmm].v = xmalloc(im->t[idx].nlz * sizeof(struct lz_run));
		memcpy(s.mm[s.nmm].v, im->t[idx].lz,
		       im->t[idx].nlz * sizeof(struct lz_run));
		s.mm[s.nmm].n = s.mm[s.nmm].cap = im->t[idx].nlz;
	}
	s.next_id = s.nmm;
	fault("restore-lazy-server");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, gsk) ||
	    pipe2(go, O_CLOEXEC))
		die_errno("socketpair");
	pidfds = xmalloc(s.nmm * sizeof(int));
	for (size_t i = 0; i < s.nmm; i++) {
		pidfds[i] = syscall(SYS_pidfd_open, pids[i], 0);
		if (pidfds[i] < 0)
			die_errno("pidfd_open %d", (int)pids[i]);
	}
	g = fork();
	if (g < 0)
		die_errno("fork");
	if (g == 0) {
		int *fds = xmalloc(s.nmm * sizeof(int));

		undo_n = 0;
		ctx.phase = "lazy-pages";
		ctx.log = NULL;
		ctx.on_die = NULL;	/* restore --listen's peer is not ours */
		setsid();
		keep = xmalloc((2 * s.nmm + CHAIN_MAX + 8) * sizeof(int));
		keep[nkeep++] = 2;
		keep[nkeep++] = s.go = go[0];
		for (size_t i = 0; i < s.nmm; i++)
			keep[nkeep++] = pidfds[i];
		keep[nkeep++] = gsk[0];
		keep[nkeep++] = gsk[1];
		for (size_t i = 0; i < s.nmm; i++)
			keep[nkeep++] = s.mm[i].uffd;
		keep[nkeep++] = r->img_fd;	/* every image of the chain */
		for (const struct image *p = im->prev; p; p = p->prev)
			keep[nkeep++] = p->fd;
		close_all_but(keep, nkeep);
		srv = fork();
		if (srv < 0)
			die_errno("fork");
		if (srv == 0) {
			close(gsk[0]);
			s.pidfds = pidfds;
			s.npidfds = s.nmm;
			s.guard = gsk[1];
			lz_serve(&s);
		}
		close(gsk[1]);
		close(go[0]);
		for (size_t i = 0; i < s.nmm; i++)
			fds[i] = s.mm[i].uffd;
		/* the images: the server's, not the guardian's */
		close(r->img_fd);
		for (const struct image *p = im->prev; p; p = p->prev)
			close(p->fd);
		lz_guard(gsk[0], fds, s.nmm, pidfds, s.nmm, srv);
	}
	for (size_t i = 0; i < s.nmm; i++)
		close(pidfds[i]);
	free(pidfds);
	free(pids);
	info("lazy-pages: page server's guardian is pid %d", (int)g);
	close(go[0]);
	lazy_go = go[1];
	close(gsk[0]);
	close(gsk[1]);
	for (size_t i = 0; i < s.nmm; i++) {
		close(s.mm[i].uffd);
		free(s.mm[i].v);
	}
	free(s.mm);
	return g;
}

/* The image's fds at their numbers; then nothing else but helpers. */
/*
 * O_ASYNC is armed by F_SETFL only (the file's ->fasync, which notes the
 * fd number SIGIO's si_fd tells), so files that have one (pipes, devices,
 * inotify...) were opened without it: open(2) would set the flag unarmed,
 * and F_SETFL could then neither arm nor clear it.  Who gets the signal
 * is set later, once every process exists (rst_fowns).
 */
static void rst_async(const struct task *t)
{
	for (size_t i = 0; i < t->nfds; i++) {
		const struct fd *d = &t->fds[i];

		if ((d->f.flags & O_ASYNC) && d->f.kind != TLV_FD_STDIO &&
		    fcntl(d->f.fd, F_SETFL, (int)(d->f.flags & ~O_ACCMODE)))
			die_errno("fd %llu: O_ASYNC", (unsigned long long)d->f.fd);
	}
}

static void rst_files(struct rst *r, const struct task *t)
{
	int *mine = xmalloc((r->im->nofds + 1) * sizeof(int));
	int *keep = xmalloc((r->nhelpers + t->nfds + 1) * sizeof(int));
	size_t nkeep = 0;

	for (size_t i = 0; i <= r->im->nofds; i++)
		mine[i] = -1;
	for (size_t i = 0; i < r->nhelpers; i++)
		keep[nkeep++] = r->helpers[i];
	for (int fd = 0; fd < r->hi; fd++)
		close(fd);
	for (size_t i = 0; i < t->nfds; i++) {
		const struct fd *d = &t->fds[i];
		int fd = d->f.fd, src;

		if (d->f.kind == TLV_FD_STDIO)
			src = r->stdio[d->f.obj];
		else if (r->ofd_fd[d->f.ofd] >= 0)
			src = r->ofd_fd[d->f.ofd];
		else if (mine[d->f.ofd] >= 0)
			src = mine[d->f.ofd];
		else
			src = mine[d->f.ofd] = rst_open_ofd(r->im, d);
		if (src != fd && dup2(src, fd) < 0)
			die_errno("fd %d: dup2", fd);
		if (fcntl(fd, F_SETFD, d->f.cloexec ? FD_CLOEXEC : 0))
			die_errno("fd %d: F_SETFD", fd);
		if (mine[d->f.ofd] == src)
			mine[d->f.ofd] = fd;
		keep[nkeep++] = fd;
	}
	close_all_but(keep, nkeep);
	free(keep);
	free(mine);
	rst_epolls(t);
	rst_async(t);
}

static long raw_sigaction(int sig, const struct tlv_sigact *a)
{
	uint64_t k[4] = { a->handler, a->flags, a->restorer, a->mask };

	return syscall(SYS_rt_sigaction, sig, k, NULL, 8);
}

/*
 * Section 5b: cr moves each process of the tree into its cgroup (and sets
 * its oom_score_adj) once all
 * exist and before any runs its restore (threads the blob clones follow
 * it).  cr does it, by pid, rather than each process for itself: processes
 * sharing an fd table (CLONE_FILES) close each other's descriptors then.
 */
static void kst_rst_cgroups(const struct image *im)
{
	for (size_t i = 0; i < im->nt; i++) {
		const struct task *t = &im->t[i];
		char *dir = kst_cgroup_target(t), pid[24], path[PATH_MAX], *s;
		long long adj = (long long)t->ks.oom_score_adj - 1000;
		int fd;

		if (t->has_ks && !task_zombie(t)) {
			s = proc_xread(t->proc.pid, "oom_score_adj", NULL);
			if (strtoll(s, NULL, 10) != adj) {
				int n = snprintf(pid, sizeof(pid), "%lld\n", adj);

				fd = xopen(proc_path(path, t->proc.pid,
						     "oom_score_adj"),
					   O_WRONLY | O_CLOEXEC);
				if (write(fd, pid, n) != n)
					die_errno("setting oom_score_adj to %lld",
						  adj);
				close(fd);
			}
			free(s);
		}
		if (!dir)
			continue;
		dir = xrealloc(dir, strlen(dir) + 16);
		strcat(dir, "/cgroup.procs");
		fd = xopen(dir, O_WRONLY | O_CLOEXEC);
		snprintf(pid, sizeof(pid), "%llu\n",
			 (unsigned long long)t->proc.pid);
		if (write(fd, pid, strlen(pid)) != (ssize_t)strlen(pid))
			die_errno("moving pid %llu into cgroup %s",
				  (unsigned long long)t->proc.pid, t->cgroup);
		close(fd);
		free(dir);
	}
}

/*
 * Section 5b: what the process sets on itself before the blob:
 * the process-wide prctls (cgroup and oom_score_adj are cr's to set).  A
 * speculation control is only set where it differs from what this
 * process already has.
 */
static void kst_rst_process(const struct task *t)
{
	const struct tlv_kstate *k = &t->ks;
	for (size_t i = 0; i < t->nspec; i++) {
		long which = t->spec[i].which, want = t->spec[i].value & ~1L;
		long cur = prctl(PR_GET_SPECULATION_CTRL, which, 0, 0, 0);

		if (!(t->spec[i].value & PR_SPEC_PRCTL) || !want ||
		    (cur >= 0 && (cur & ~1L) == want))
			continue;
		if (prctl(PR_SET_SPECULATION_CTRL, which, want, 0, 0))
			die_errno("speculation control %ld: setting %#lx (this host has %#lx)",
				  which, want, cur);
	}
	if (!t->has_ks)
		return;
	if (k->thp_disable &&
	    prctl(PR_SET_THP_DISABLE, 1, k->thp_disable & 2, 0, 0))
		die_errno("PR_SET_THP_DISABLE");
	if (k->memory_merge && prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0))
		die_errno("PR_SET_MEMORY_MERGE");
}

/*
 * What a process sets on itself in C before the blob.  A shared fd table
 * or fs struct is set by the parent it is shared with.
 */
static void rst_process(struct rst *r, const struct task *t)
{
	uint64_t all = ~0ULL;

	rst_tty_fg(r->im, t);
	if (!t->share.files)
		rst_files(r, t);
	rst_fds_barrier(r);
	if (!t->share.fs && chdir(t->cwd))
		die_errno("chdir %s", t->cwd);
	if (!t->share.fs && strcmp(t->root, "/") && chroot(t->root))
		die_errno("chroot %s", t->root);
	if (!t->share.fs)
		umask(t->proc.umask);
	if (personality(t->proc.personality) < 0)
		die_errno("personality");
	for (size_t i = 0; i < t->nrlim; i++) {
		struct rlimit rl = { t->rlim[i].cur, t->rlim[i].max };

		if (setrlimit(t->rlim[i].res, &rl))
			die_errno("setrlimit %llu",
				  (unsigned long long)t->rlim[i].res);
	}
	if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, 8))
		die_errno("blocking signals");
	for (size_t i = 0; i < t->nact; i++)
		if (raw_sigaction(t->act[i].sig, &t->act[i]))
			die_errno("sigaction %llu",
				  (unsigned long long)t->act[i].sig);
	if (prctl(PR_SET_CHILD_SUBREAPER, (unsigned long)t->proc.subreaper) ||
	    prctl(PR_SET_PDEATHSIG, (unsigned long)t->proc.pdeath_signal))
		die_errno("prctl");
	kst_rst_process(t);	/* capabilities: the blob's CREDS step */
}

/*
 * A cr built with glibc (2.35+; the sanitizer build is one) has an rseq
 * area registered for its thread, and a forked child inherits the
 * registration: the blob would unmap the memory the kernel writes the
 * CPU number into at every preemption, and could not register the
 * image's own area.  glibc says where its area is (__rseq_offset from
 * the thread pointer) and how much of it is used (__rseq_size, 0 if it
 * did not register); the kernel wants the registered length back, which
 * is at least 32 bytes, and it checks address, length and signature,
 * so a wrong guess fails with EINVAL and changes nothing.  musl defines
 * neither symbol (weak: NULL) and registers nothing.
 */
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

static void rst_unregister_libc_rseq(void)
{
	unsigned int len[3];
	uint64_t area;

	if (!&__rseq_offset || !&__rseq_size || !__rseq_size)
		return;
	area = arch_self_tp() + __rseq_offset;
	len[0] = __rseq_size;
	len[1] = 32;
	len[2] = (__rseq_size + 31) & ~31u;
	for (size_t i = 0; i < ARRAY_SIZE(len); i++)
		if (!syscall(SYS_rseq, area, len[i], 1 /* RSEQ_FLAG_UNREGISTER */,
			     arch_glibc_rseq_sig))
			return;
	die_errno("unregistering the C library's rseq area at %llx",
		  (unsigned long long)area);
}

static void __attribute__((noreturn)) rst_task(struct rst *r, size_t i);

/*
 * A helper standing in for an exited session or group leader (see
 * img_check_tree): it takes the session or group, forks the processes
 * of the session it stands for, and exits once every process is in its
 * group; its forker reaps it.
 */
static void __attribute__((noreturn)) rst_stand_in(struct rst *r, size_t h)
{
	const struct tree_helper *s = &r->im->helpers[h];
	uint32_t n;

	ctx.pid = s->pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != (pid_t)r->im->t[s->forker].proc.pid)
		_exit(1);
	fault("restore-helper");
	if (s->pid == s->sid ? setsid() < 0 : setpgid(0, 0) < 0)
		die_errno("helper for exited leader %llu",
			  (unsigned long long)s->pid);
	for (size_t k = 0; k < r->im->nt; k++)
		if (r->im->t[k].via == (long)h &&
		    !rst_fork_pid(r->im->t[k].proc.pid, r->im->t[k].proc.exit_signal, 0))
			rst_task(r, k);
	rst_created(r);
	rst_wait_go(r);
	while ((n = __atomic_load_n(&r->ctl->joined, __ATOMIC_ACQUIRE)) <
	       r->im->nt)
		sys_futex(&r->ctl->joined, FUTEX_WAIT, n, -1);
	_exit(0);
}

/* Reap the helpers this process forked, once they are done. */
static void rst_reap_helpers(struct rst *r, size_t i)
{
	for (size_t h = 0; h < r->im->nhelpers; h++) {
		int st;

		if (r->im->helpers[h].forker != (long)i)
			continue;
		while (waitpid(r->im->helpers[h].pid, &st, __WALL) < 0)
			if (errno != EINTR)
				die_errno("reaping the helper for %llu",
				    (unsigned long long)r->im->helpers[h].pid);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			die("the helper for exited leader %llu failed",
			    (unsigned long long)r->im->helpers[h].pid);
	}
}

/* One process of the tree, from its fork to the jump into its area. */
static void __attribute__((noreturn)) rst_task(struct rst *r, size_t i)
{
	struct image *im = r->im;
	struct task *t = &im->t[i];
	pid_t parent = t->via >= 0 ? (pid_t)im->helpers[t->via].pid :
		       t->parent >= 0 ? (pid_t)im->t[t->parent].proc.pid :
		       getppid();

	undo_n = 0;	/* cr's undo entries are not ours */
	ctx.log = NULL;
	ctx.report_fd = r->status[1];
	ctx.err_fd = r->stdio[2];
	ctx.pid = t->proc.pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);	/* the parent died before PR_SET_PDEATHSIG */
	if (task_zombie(t))
		rst_zombie(r, t);
	fault("restore-task");
	rst_session(t);
	rst_ctty(im, t);
	rst_memory(r, t);
	fault("restore-memory");
	if (t->proc.subreaper && prctl(PR_SET_CHILD_SUBREAPER, 1))
		die_errno("PR_SET_CHILD_SUBREAPER");	/* before helpers exit */
	for (size_t h = 0; h < im->nhelpers; h++)
		if (im->helpers[h].forker == (long)i &&
		    !rst_fork_pid(im->helpers[h].pid, 0, 0))
			rst_stand_in(r, h);
	for (size_t k = i + 1; k < im->nt; k++)
		if (im->t[k].parent == (long)i && im->t[k].via < 0 &&
		    !rst_fork_pid(im->t[k].proc.pid, im->t[k].proc.exit_signal,
				  (im->t[k].share.files ? CLONE_FILES : 0) |
				  (im->t[k].share.fs ? CLONE_FS : 0)))
			rst_task(r, k);
	lazy_register(r, i);
	rst_created(r);
	rst_wait_go(r);
	rst_join_group(r, t);
	rst_reap_helpers(r, i);
	for (size_t k = i + 1; k < im->nt; k++) {
		siginfo_t si;

		if (im->t[k].parent == (long)i && task_zombie(&im->t[k]) &&
		    waitid(P_PID, im->t[k].proc.pid, &si, WEXITED | WNOWAIT))
			die_errno("waiting for zombie %llu",
				  (unsigned long long)im->t[k].proc.pid);
	}
	rst_process(r, t);
	rst_unregister_libc_rseq();
	fault("restore-process");
	((void (*)(struct rst_args *))(t->area + restorer_entry_off))(t->args);
	die("the restorer returned");
}

/* ==== 9. the restorer areas and the hand-off to the blob =================
 * Each process gets an area of its own, made in cr before the first fork
 * (every process inherits every area, and keeps only its own), placed
 * with the premap addresses in one zone where neither cr nor any process
 * of the image has anything:
 *
 *	[ blob | rst_args, arrays, strings, sigframes | stacks | parking ]
 *
 * The parking slots receive cr's [vvar]/[vdso] while the blob unmaps cr.
 * Every thread ends in a SIGSTOP to itself; cr, the tracer, lets each run
 * to the end of its rt_sigreturn, then unmaps the area by a remote munmap
 * and detaches: the tree runs on with nothing of cr left in it.
 */
#define AREA_STACK (64u << 10)

struct span {
	uint64_t start, end;
};

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* The highest free range of len bytes, 1 MiB clear of cr and the image. */
static uint64_t zone_place(const struct image *im, const struct map_line *own,
			   size_t nown, uint64_t len)
{
	const uint64_t margin = 1 << 20;
	struct span *s;
	size_t n = 0, cap = nown;
	uint64_t hi = arch_task_size();

	for (size_t i = 0; i < im->nt; i++)
		cap += im->t[i].nvmas;
	s = xmalloc((cap + 1) * sizeof(*s));
	for (size_t i = 0; i < nown; i++)
		if (own[i].end <= arch_task_size())
			s[n++] = (struct span){ own[i].start, own[i].end };
	for (size_t i = 0; i < im->nt; i++)
		for (size_t k = 0; k < im->t[i].nvmas; k++)
			s[n++] = (struct span){ im->t[i].vmas[k].v.start,
						im->t[i].vmas[k].v.end };
	xsort(s, n, sizeof(*s), cmp_span);
	for (size_t i = n; i-- > 0;) {
		if (s[i].end + margin <= hi && hi - s[i].end - margin >= len + margin) {
			free(s);
			return (hi - margin - len) & ~(PAGE - 1);
		}
		if (s[i].start < hi)
			hi = s[i].start;
	}
	free(s);
	die("no room in the address space for the restorer (%llu bytes)",
	    (unsigned long long)len);
}

/* Bump allocator inside the args part of an area. */
struct area_alloc {
	uint8_t *base;		/* the area in cr */
	uint64_t addr;		/* its address (the same in every process) */
	uint64_t off, end;
};

static uint64_t aa_get(struct area_alloc *aa, size_t len, size_t align)
{
	uint64_t at = (aa->off + align - 1) & ~(uint64_t)(align - 1);

	if (at + len > aa->end)
		die("internal error: restorer area too small");
	aa->off = at + len;
	return at;
}

/* Space in the area; the area is at the same address in cr as later. */
static void *aa_ptr(struct area_alloc *aa, size_t len, size_t align,
		    uint64_t *addr)
{
	uint64_t at = aa_get(aa, len, align);

	*addr = aa->addr + at;
	return aa->base + at;
}

/*
 * cr's [vdso]/[vvar] move to where the image had them.  They must be the
 * same mappings: same kernel release, names, sizes and relative places,
 * since the process's libc keeps pointers into its old vDSO.
 */
static void area_specials(struct rst_args *a, const struct task *t,
			  const struct map_line *own, size_t nown,
			  uint64_t *park_at)
{
	int64_t own_vdso = -1, img_vdso = -1;
	size_t nimg = 0;

	for (size_t i = 0; i < nown; i++)
		if (!strcmp(own[i].path, "[vdso]"))
			own_vdso = own[i].start;
	for (size_t i = 0; i < t->nvmas; i++)
		if (t->vmas[i].v.kind == TLV_VMA_SPECIAL) {
			nimg++;
			if (!strcmp(t->vmas[i].name, "[vdso]"))
				img_vdso = t->vmas[i].v.start;
		}
	for (size_t i = 0; i < nown; i++) {
		struct rst_special *s;
		size_t j;

		if (!is_special_name(own[i].path))
			continue;
		for (j = 0; j < t->nvmas; j++)
			if (t->vmas[j].name && !strcmp(t->vmas[j].name, own[i].path))
				break;
		if (a->nspecial == RST_MAX_SPECIAL)
			die("too many kernel mappings in cr");
		s = &a->special[a->nspecial++];
		s->cur = own[i].start;
		s->len = own[i].end - own[i].start;
		s->park = *park_at;
		*park_at += s->len;
		if (j == t->nvmas) {
			if (img_vdso >= 0 || nimg)
				die("kernel mapping %s is missing from the image: it was dumped on another kernel",
				    own[i].path);
			continue;	/* a process without vDSO: drop ours */
		}
		if (t->vmas[j].v.end - t->vmas[j].v.start != s->len ||
		    (int64_t)t->vmas[j].v.start - img_vdso !=
			    (int64_t)own[i].start - own_vdso)
			die("kernel mapping %s differs from this kernel's: restoring on another kernel is not supported yet",
			    own[i].path);
		s->dst = t->vmas[j].v.start;
		nimg--;
	}
	if (nimg)
		die("the image has kernel mappings this kernel lacks: restoring on another kernel is not supported yet");
}

/*
 * ---- timers, credentials, seccomp for the blob ----
 * POSIX timers go in with their remaining time as an offset from the
 * clock's "now" when the blob arms them, less the downtime for clocks
 * that ran on meanwhile; a timer whose signal was queued at dump time is
 * armed in the past so that the kernel queues it again (with the periods
 * missed as its overrun).  Credentials: only the steps that change
 * something from cr's own (a restore by a user as himself does none).
 */
static size_t area_kstate_size(const struct task *t)
{
	size_t n = t->nptimers * sizeof(struct rst_ptimer) +
		   sizeof(struct rst_creds) + t->ngroups * 4 +
		   t->nth * sizeof(struct rst_seccomp) + 256;

	for (size_t k = 0; k < t->nth; k++)
		n += t->th[k].nscf * sizeof(struct rst_filter) +
		     t->th[k].scprog_len + 64;
	return n;
}

static void area_timers(struct area_alloc *aa, struct rst_args *a,
			const struct task *t)
{
	struct rst_ptimer *p = aa_ptr(aa, t->nptimers * sizeof(*p), 8, &a->timers);

	a->ntimers = t->nptimers;
	a->dump_realtime = t->times.realtime_ns;
	a->nitimers = t->nitimer;
	for (size_t i = 0; i < t->nitimer; i++) {
		a->itimer[i][0] = t->itimer[i].which;
		a->itimer[i][1] = t->itimer[i].value_ns;
		a->itimer[i][2] = t->itimer[i].interval_ns;
	}
	a->timer_ids_linear = getenv("CR_TIMER_IDS_LINEAR") != NULL;
	for (size_t i = 0; i < t->nptimers; i++) {
		const struct tlv_ptimer *x = &t->ptimers[i];

		p[i] = (struct rst_ptimer){ .id = x->id, .clock = x->clock,
			.notify = x->notify, .signo = x->signo,
			.sigval = x->sigval, .tid = x->tid,
			.armed = x->value_ns || x->pending,
			.delta_ns = x->value_ns, .wall = clock_wall(x->clock),
			.interval_ns = x->interval_ns };
		if (x->pending)	/* the period that queued it, or just now */
			p[i].delta_ns = x->interval_ns ?
				(int64_t)x->value_ns - (int64_t)x->interval_ns : -1;
	}
}

static void area_creds(struct area_alloc *aa, struct rst_args *a,
		       const struct task *t)
{
	const struct own_creds *o = own_creds();
	const struct tlv_priv *c = &t->priv, *m = &o->caps;
	struct rst_creds *rc;
	uint32_t *g;
	uint64_t todo = 0;

	if (creds_ids_differ(t))
		todo |= RST_CRED_SECBITS_TMP | RST_CRED_IDS | RST_CRED_SECBITS;
	if (creds_groups_differ(t))
		todo |= RST_CRED_GROUPS;
	if (c->inh != m->inh)
		todo |= RST_CRED_INH;
	if (c->amb != m->amb)
		todo |= RST_CRED_AMB;
	if (c->bnd != m->bnd)
		todo |= RST_CRED_BND;
	if (c->securebits != m->securebits)
		todo |= RST_CRED_SECBITS;
	if (c->no_new_privs && !m->no_new_privs)
		todo |= RST_CRED_NNP;
	if (c->eff != m->eff || c->prm != m->prm)
		todo |= RST_CRED_CAPS;
	if (!todo)
		return;
	rc = aa_ptr(aa, sizeof(*rc), 8, &a->creds);
	*rc = (struct rst_creds){ .todo = todo,
		.uid = t->creds.uid, .euid = t->creds.euid,
		.suid = t->creds.suid, .fsuid = t->creds.fsuid,
		.gid = t->creds.gid, .egid = t->creds.egid,
		.sgid = t->creds.sgid, .fsgid = t->creds.fsgid,
		.ngroups = t->ngroups, .cur_eff = m->eff, .cur_prm = m->prm,
		.inh = c->inh, .prm = c->prm, .eff = c->eff, .amb = c->amb,
		.bnd_drop = m->bnd & ~c->bnd, .securebits = c->securebits };
	g = aa_ptr(aa, t->ngroups * 4 + 4, 8, &rc->groups);
	for (size_t i = 0; i < t->ngroups; i++)
		g[i] = t->groups[i].gid;
}

/* How many filters, oldest first, every thread of t has alike. */
static size_t common_filters(const struct task *t)
{
	const struct thread *m = t->th;
	size_t n = m->sc.mode == 2 ? m->nscf : 0;

	for (size_t k = 1; k < t->nth; k++) {
		const struct thread *th = &t->th[k];
		size_t i = 0, off = 0;

		while (i < n && th->sc.mode == 2 && i < th->nscf &&
		       !memcmp(&th->scf[i], &m->scf[i], sizeof(m->scf[i])) &&
		       !memcmp(th->scprog + off, m->scprog + off,
			       m->scf[i].ninsn * 8))
			off += m->scf[i++].ninsn * 8;
		n = i;
	}
	return n;
}

static void area_seccomp(struct area_alloc *aa, struct rst_args *a,
			 const struct task *t)
{
	struct rst_seccomp *sc;

	if (!task_seccomp(t))
		return;
	sc = aa_ptr(aa, t->nth * sizeof(*sc), 8, &a->seccomp);
	a->seccomp_common = common_filters(t);
	for (size_t k = 0; k < t->nth; k++) {
		const struct thread *th = &t->th[k];
		struct rst_filter *f = aa_ptr(aa, th->nscf * sizeof(*f), 8,
					      &sc[k].filters);
		uint64_t prog;
		uint8_t *buf = aa_ptr(aa, th->scprog_len, 8, &prog);

		sc[k].mode = th->sc.mode;
		sc[k].nfilters = th->nscf;
		memcpy(buf, th->scprog, th->scprog_len);
		for (size_t i = 0; i < th->nscf; i++) {
			f[i] = (struct rst_filter){ th->scf[i].flags,
				th->scf[i].ninsn, prog };
			prog += th->scf[i].ninsn * 8;
		}
	}
}

static size_t area_size(const struct task *t, size_t park, size_t nhelpers)
{
	size_t code = PAGE_ROUND(restorer_blob_size);
	size_t meta = sizeof(struct rst_args) +
		      t->nvmas * (sizeof(struct rst_vma) + sizeof(struct rst_adv)) +
		      sizeof(struct prctl_mm_map) + t->nauxv * 16 +
		      nhelpers * 8 + t->nth * (sizeof(struct rst_thread) + 64) + 4096;

	for (size_t i = 0; i < t->nfds; i++)
		meta += t->fds[i].nlocks * sizeof(struct rst_lock);
	for (size_t i = 0; i < t->nvmas; i++)
		meta += t->vmas[i].name ? strlen(t->vmas[i].name) + 1 : 0;
	for (size_t i = 0; i < t->nth; i++)
		meta += t->th[i].nsig * sizeof(struct rst_sig) +
			arch_sigframe_size(&t->th[i]) + 64;
	meta += area_kstate_size(t);
	return code + PAGE_ROUND(meta) + AREA_STACK +
	       t->nth * RST_THREAD_STACK + park;
}

/* The file locks the process takes in the blob, by fd. */
static void area_locks(struct area_alloc *aa, struct rst_args *a,
		       const struct task *t)
{
	struct rst_lock *l;
	size_t n = 0;

	for (size_t i = 0; i < t->nfds; i++)
		n += t->fds[i].nlocks;
	l = aa_ptr(aa, n * sizeof(*l), 8, &a->locks);
	a->nlocks = n;
	for (size_t i = 0; i < t->nfds; i++)
		for (size_t k = 0; k < t->fds[i].nlocks; k++) {
			const struct tlv_lock *x = &t->fds[i].locks[k];

			*l = (struct rst_lock){ .fd = t->fds[i].f.fd,
				.start = x->start, .len = x->len };
			if (x->kind == TLV_LOCK_FLOCK) {
				l->type = (x->write ? LOCK_EX : LOCK_SH) | LOCK_NB;
			} else {
				l->cmd = x->kind == TLV_LOCK_POSIX ? F_SETLK :
					 F_OFD_SETLK;
				l->type = x->write ? F_WRLCK : F_RDLCK;
				l->whence = SEEK_SET;
			}
			l++;
		}
}

static void area_threads(struct area_alloc *aa, struct rst_args *a,
			 const struct task *t, uint64_t *stack_at)
{
	struct rst_thread *rt = aa_ptr(aa, t->nth * sizeof(*rt), 8, &a->threads);

	a->nthreads = t->nth;
	a->clone_flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
			 CLONE_THREAD | CLONE_SYSVSEM;
	for (size_t i = 0; i < t->nth; i++) {
		const struct thread *th = &t->th[i];
		struct rst_sig *sg;
		uint64_t frame;
		uint8_t *buf;

		rt[i] = (struct rst_thread){ .tid = th->t.tid,
			.rseq_addr = th->t.rseq_addr, .rseq_len = th->t.rseq_len,
			.rseq_sig = th->t.rseq_sig,
			.robust_head = th->t.robust_head,
			.robust_len = th->t.robust_len,
			.tid_addr = th->t.tid_addr, .nsig = th->nsig };
		if (i == 0) {
			rt[i].stack_top = a->stack_top;
		} else {
			*stack_at += RST_THREAD_STACK;
			rt[i].stack_top = *stack_at;
		}
		memcpy(rt[i].comm, th->comm, strlen(th->comm) + 1);
		arch_tls(th->regs, rt[i].tls);
		sg = aa_ptr(aa, th->nsig * sizeof(*sg), 8, &rt[i].sigs);
		for (size_t k = 0; k < th->nsig; k++) {
			sg[k].shared = th->sig[k].shared;
			memcpy(sg[k].info, &th->sig[k].w0, sizeof(sg[k].info));
		}
		buf = aa_ptr(aa, arch_sigframe_size(th), 64, &frame);
		arch_build_sigframe(buf, frame, th);
		rt[i].sigframe = frame;
	}
}

/* CR_FAULT=blob-STEP: the blob fails at that step (see RST_STEPS). */
static uint64_t rst_fault_step(void)
{
	static const char *const steps[] = { "",
#define RST_STEP_NAME(n, s) #n,
		RST_STEPS(RST_STEP_NAME)
#undef RST_STEP_NAME
	};
	const char *f = getenv("CR_FAULT");

	if (f && !strcmp(f, "list")) {
		for (size_t i = 1; i < ARRAY_SIZE(steps); i++)
			fprintf(stderr, "cr: fault point blob-%s\n", steps[i]);
		return 0;
	}
	for (size_t i = 1; f && !strncmp(f, "blob-", 5) && i < ARRAY_SIZE(steps); i++)
		if (!strcmp(f + 5, steps[i]))
			return i;
	return 0;
}

/* Section 5b: advice per mapping and mm-wide prctls for the blob. */
static void kst_area(struct area_alloc *aa, struct rst_args *a,
		     const struct task *t)
{
	struct rst_adv *ad = aa_ptr(aa, t->nvmas * sizeof(*ad), 8, &a->advs);

	for (size_t i = 0; i < t->nvmas; i++) {
		const struct vma *v = &t->vmas[i];

		if (!v->adv.advice && !v->adv.pkey)
			continue;
		ad[a->nadvs++] = (struct rst_adv){ v->v.start,
			v->v.end - v->v.start, v->v.prot, v->adv.advice,
			v->adv.pkey };
		a->pkeys |= v->adv.pkey ? 1ULL << v->adv.pkey : 0;
	}
	if (!t->has_ks)
		return;
	a->mlockall = t->ks.mlockall;
	a->mdwe = t->ks.mdwe;
	a->dumpable = t->ks.dumpable + 1;
}

/*
 * Per thread, by cr from outside once every thread exists: timer slack
 * (not for real-time threads, whose slack the kernel fixes), io priority
 * where it differs from what the thread has now (an unset one follows
 * nice), and the CPU mask.
 */
static void kst_rst_thread(const struct thread *th)
{
	int tid = th->t.tid;
	char path[64], v[32];
	long cur;
	int fd, n;

	if (th->has_kt) {
		if (th->t.policy != SCHED_FIFO && th->t.policy != SCHED_RR &&
		    th->t.policy != 6 /* SCHED_DEADLINE */) {
			/* only if it differs from cr's own, which the
			 * thread inherited: writing another thread's slack
			 * needs CAP_SYS_NICE, which non-root cr lacks */
			snprintf(path, sizeof(path), "/proc/%d/timerslack_ns", tid);
			n = snprintf(v, sizeof(v), "%llu\n",
				     (unsigned long long)th->kt.timerslack);
			fd = th->kt.timerslack == (uint64_t)prctl(PR_GET_TIMERSLACK) ?
			     -1 : xopen(path, O_WRONLY | O_CLOEXEC);
			if (fd >= 0 && write(fd, v, n) != n)
				die_errno("setting the timer slack");
			if (fd >= 0)
				close(fd);
		}
		cur = syscall(SYS_ioprio_get, KST_IOPRIO_WHO, tid);
		if (cur != (long)th->kt.ioprio &&
		    syscall(SYS_ioprio_set, KST_IOPRIO_WHO, tid, th->kt.ioprio))
			die_errno("setting the io priority to %#llx",
				  (unsigned long long)th->kt.ioprio);
	}
	if (th->ncpus && syscall(SYS_sched_setaffinity, tid,
				 th->ncpus * sizeof(*th->cpus), th->cpus))
		die_errno("setting the CPU affinity");
}

/* Build a process's area in cr's memory, at its final address. */
static void area_build(struct rst *r, struct task *t, size_t len,
		       const struct map_line *own, size_t nown)
{
	size_t code = PAGE_ROUND(restorer_blob_size);
	size_t meta = len - code - AREA_STACK - t->nth * RST_THREAD_STACK;
	struct area_alloc aa;
	struct rst_args *a;
	struct rst_vma *rv;
	struct prctl_mm_map *mm;
	int64_t *cl;
	uint64_t park_at, stack_at;
	uint8_t *base = mmap((void *)t->area, len, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			     -1, 0);
	size_t nrv = 0;

	if (base != (void *)t->area)
		die_errno("mapping a restorer area at %llx",
			  (unsigned long long)t->area);
	memcpy(base, restorer_blob, restorer_blob_size);
	if (mprotect(base, code, PROT_READ | PROT_EXEC))
		die_errno("mprotect");
	for (size_t i = 0; i < nown; i++)
		if (is_special_name(own[i].path))
			meta -= own[i].end - own[i].start;
	meta = meta & ~(PAGE - 1);
	aa = (struct area_alloc){ base, t->area, code, code + meta };
	a = t->args = aa_ptr(&aa, sizeof(*a), 64, &park_at);
	a->size = sizeof(*a);
	a->area = t->area;
	a->area_len = len;
	a->stack_top = t->area + code + meta + AREA_STACK;
	a->task_size = arch_task_size();
	a->status_fd = r->status[1];
	a->pid = t->proc.pid;
	a->fault_step = rst_fault_step();
	stack_at = a->stack_top;
	park_at = a->stack_top + (t->nth - 1) * RST_THREAD_STACK;
	area_specials(a, t, own, nown, &park_at);

	rv = aa_ptr(&aa, t->nvmas * sizeof(*rv), 8, &a->vmas);
	for (size_t i = 0; i < t->nvmas; i++) {
		const struct vma *v = &t->vmas[i];
		const struct fobj *o = v->v.kind == TLV_VMA_OBJ ?
				       &r->im->objs[v->v.obj - 1] : NULL;
		struct rst_vma *x = &rv[nrv];
		int64_t fd = -1, shmid = -1;
		uint64_t shmflg = 0;

		if (v->v.kind == TLV_VMA_SPECIAL)
			continue;
		if (o && o->s.kind == TLV_OBJ_SYSV) {
			shmid = o->shm.shmid;
			shmflg = v->shmat.flags |
				 (v->v.prot & PROT_EXEC ? SHM_EXEC : 0);
		} else if (o) {
			fd = o->fd;
		}
		else if (v->v.kind == TLV_VMA_FILE && !vma_private(v))
			fd = rst_file_fd(r, v->path, v->v.prot & PROT_WRITE);
		nrv++;
		*x = (struct rst_vma){ v->v.start, v->v.end - v->v.start,
			v->v.prot, v->v.flags & ~(uint64_t)(v->v.kind == TLV_VMA_OBJ ?
							     MAP_ANONYMOUS : 0),
			v->v.pgoff, fd, vma_private(v) ? v->premap : 0, 0,
			shmid, shmflg, lazy_vma(r->opt, v) ?
			UFFDIO_REGISTER_MODE_MISSING : 0 };
		if (v->name && v->v.kind == TLV_VMA_ANON)
			strcpy(aa_ptr(&aa, strlen(v->name) + 1, 1, &x->name),
			       v->name);
	}
	a->nvmas = nrv;
	a->uffd = t->nlz ? t->lz_fd : -1;
	mm = aa_ptr(&aa, sizeof(*mm), 8, &a->mm_map);
	*mm = (struct prctl_mm_map){ t->mm.start_code, t->mm.end_code,
		t->mm.start_data, t->mm.end_data, t->mm.start_brk, t->mm.brk,
		t->mm.start_stack, t->mm.arg_start, t->mm.arg_end,
		t->mm.env_start, t->mm.env_end, NULL, t->nauxv * 16,
		rst_file_fd(r, t->exe, false) };
	memcpy(aa_ptr(&aa, t->nauxv * 16, 8, (uint64_t *)&mm->auxv), t->auxv,
	       t->nauxv * 16);
	a->mm_map_size = sizeof(*mm);
	cl = aa_ptr(&aa, r->nhelpers * 8, 8, &a->close_fds);
	for (size_t i = 0; i < r->nhelpers; i++)
		cl[i] = r->helpers[i];
	/* a shared fd table: cr closes them once all are past their blob */
	a->nclose = files_shared(r->im, t - r->im->t) ? 0 : r->nhelpers;
	area_locks(&aa, a, t);
	area_threads(&aa, a, t, &stack_at);
	area_timers(&aa, a, t);
	area_creds(&aa, a, t);
	area_seccomp(&aa, a, t);
	kst_area(&aa, a, t);
}

/*
 * Addresses for every private mapping's premapped copy (a mapping a child
 * inherits keeps its parent's) and every area, in one zone.
 */
static void rst_plan_memory(struct rst *r, const struct map_line *own,
			    size_t nown, size_t *area_len)
{
	struct image *im = r->im;
	uint64_t total = 0, at;
	size_t park = 0;

	for (size_t i = 0; i < nown; i++)
		if (is_special_name(own[i].path))
			park += own[i].end - own[i].start;
	for (size_t i = 0; i < im->nt; i++) {
		const struct task *t = &im->t[i];

		if (task_zombie(t))
			continue;
		area_len[i] = PAGE_ROUND(area_size(t, park, r->nhelpers + 64));
		total += area_len[i] + PAGE;
		for (size_t k = 0; k < t->nvmas; k++)
			if (vma_private(&t->vmas[k]) && !t->vmas[k].v.inherit)
				total += t->vmas[k].v.end - t->vmas[k].v.start + PAGE +
					 flags_huge(t->vmas[k].v.flags);
	}
	at = zone_place(im, own, nown, total);
	for (size_t i = 0; i < im->nt; i++) {
		struct task *t = &im->t[i];
		const struct task *p = t->parent >= 0 ? &im->t[t->parent] : NULL;

		if (task_zombie(t))
			continue;
		t->area = at;
		at += area_len[i] + PAGE;
		for (size_t k = 0; k < t->nvmas; k++) {
			struct vma *v = &t->vmas[k];

			if (!vma_private(v))
				continue;
			if (v->v.inherit) {
				v->premap = vma_in_parent(p, v)->premap;
				continue;
			}
			if (flags_huge(v->v.flags))	/* mremap wants it aligned */
				at = ROUND_UP(at, flags_huge(v->v.flags));
			v->premap = at;
			at += v->v.end - v->v.start + PAGE;
		}
	}
}

/* Turn what a process left in the status pipe into one error line. */
static void __attribute__((noreturn)) rst_failed(struct rst *r, const char *how)
{
	static const char *const steps[] = { "",
#define RST_STEP_NAME(n, s) s,
		RST_STEPS(RST_STEP_NAME)
#undef RST_STEP_NAME
	};
	char msg[1024];
	struct rst_status rs;
	ssize_t n;

	fcntl(r->status[0], F_SETFL, O_NONBLOCK);
	n = read(r->status[0], msg, sizeof(msg) - 1);
	if (n >= (ssize_t)sizeof(rs) && (memcpy(&rs, msg, sizeof(rs)), 1) &&
	    rs.magic == RST_STATUS_MAGIC && rs.step > 0 &&
	    rs.step < ARRAY_SIZE(steps)) {
		errno = -rs.err;
		if (rs.err)
			die_errno("restorer: %s (at %llx)", steps[rs.step],
				  (unsigned long long)rs.detail);
		die("restorer: %s (at %llx)", steps[rs.step],
		    (unsigned long long)rs.detail);
	}
	if (n > 0) {
		msg[n] = 0;
		msg[strcspn(msg, "\n")] = 0;
		ctx.pid = 0;
		fprintf(stderr, "%s\n", msg);
		if (ctx.log)
			fprintf(ctx.log, "%s\n", msg);
		undo_run();
		exit(1);
	}
	die("%s", how);
}

/* Wait until every process of the image exists, or one failed. */
static void rst_wait_created(struct rst *r, pid_t root)
{
	struct timespec t0, now;
	uint32_t n;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while ((n = __atomic_load_n(&r->ctl->created, __ATOMIC_ACQUIRE)) <
	       r->im->nt + r->im->nhelpers) {
		struct pollfd pfd = { r->status[0], POLLIN, 0 };
		int st;

		if (poll(&pfd, 1, 0) > 0)
			rst_failed(r, "a process failed");
		if (waitpid(root, &st, WNOHANG) == root)
			rst_failed(r, "the restored process ended before it ran");
		sys_futex(&r->ctl->created, FUTEX_WAIT, n, 10);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) * 1000 +
		    (now.tv_nsec - t0.tv_nsec) / 1000000 > r->opt->timeout_ms)
			rst_failed(r, "processes were not all created within --timeout");
	}
}

static struct thread *rst_find_thread(struct image *im, int tid,
				      struct task **tp)
{
	for (size_t i = 0; i < im->nt; i++)
		for (size_t k = 0; k < im->t[i].nth; k++)
			if ((int)im->t[i].th[k].t.tid == tid) {
				*tp = &im->t[i];
				return &im->t[i].th[k];
			}
	return NULL;
}

/*
 * Follow the tree until every thread reached its SIGSTOP: threads the
 * blob creates are traced from birth (PTRACE_O_TRACECLONE) and let go.
 */
static void rst_wait_stops(struct rst *r)
{
	size_t expected = 0, arrived = 0;

	for (size_t i = 0; i < r->im->nt; i++)
		expected += r->im->t[i].nth;
	while (arrived < expected) {
		struct task *t;
		struct thread *th;
		int st, sig, pid = waitpid(-1, &st, __WALL);

		if (pid < 0) {
			if (errno == EINTR)
				continue;
			die_errno("waitpid");
		}
		th = rst_find_thread(r->im, pid, &t);
		if (!th)
			continue;	/* not ours: a zombie-to-be, say */
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			ctx.pid = pid;
			rst_failed(r, WIFSIGNALED(st) ?
				   "a restored thread was killed before it ran" :
				   "a restored thread exited before it ran");
		}
		sig = WSTOPSIG(st);
		if (sig == SIGSTOP && !(st >> 16)) {
			th->pt.pid = pid;
			th->pt.seized = true;
			arrived++;
			continue;
		}
		if (st >> 16)
			sig = 0;	/* clone event, new thread's first stop */
		if (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL ||
		    sig == SIGFPE || sig == SIGSYS || sig == SIGTRAP) {
			uint64_t regs[MAX_REGS];

			arch_get_regs(pid, regs);
			ctx.pid = pid;
			die("restorer crashed with signal %d at %llx (area+%llx)",
			    sig, (unsigned long long)arch_ip(regs),
			    (unsigned long long)(arch_ip(regs) - t->area));
		}
		if (ptrace(PTRACE_CONT, pid, 0, sig))
			die_errno("PTRACE_CONT");
	}
}

/*
 * Every thread is at its SIGSTOP: set what only ptrace can set, run each
 * through its rt_sigreturn, remove each area, and let them all go.
 */
/*
 * Owners for signal-driven I/O are set once every process exists, from
 * cr, on its copy of each fd (pidfd_getfd: the same open file
 * description); O_ASYNC was armed by the process itself (rst_files).
 */
static void rst_fowns(const struct image *im)
{
	for (size_t i = 0; i < im->nt; i++)
		for (size_t k = 0; k < im->t[i].nfds; k++) {
			const struct fd *d = &im->t[i].fds[k];
			struct f_owner_ex o = { (int)d->own.type, (pid_t)d->own.pid };
			int f;

			if ((!d->own.pid && !d->own.sig) || d->f.kind == TLV_FD_STDIO)
				continue;
			ctx.pid = im->t[i].proc.pid;
			f = pidfd_take(im->t[i].proc.pid, d->f.fd);
			if (f < 0 || fcntl(f, F_SETOWN_EX, &o) ||
			    fcntl(f, F_SETSIG, (int)d->own.sig))
				die_errno("fd %llu: restoring its SIGIO owner",
					  (unsigned long long)d->f.fd);
			close(f);
		}
	ctx.pid = 0;
	fault("restore-fown");
}

/*
 * In a shared fd table cr's fds are closed only after the blobs (above),
 * which drops the table's POSIX locks the blobs took: they are taken
 * again, by a syscall in the process, from the area's rst_lock array.
 */
static void rst_relock(struct pt *p, const struct task *t)
{
	/* the area is at the same address in cr */
	const struct rst_lock *l = (const struct rst_lock *)(uintptr_t)t->args->locks;

	for (uint64_t j = 0; j < t->args->nlocks; j++)
		if (l[j].cmd == F_SETLK &&
		    pt_syscall(p, __NR_fcntl, l[j].fd, F_SETLK,
			       (long)(t->args->locks + j * sizeof(*l) +
				      offsetof(struct rst_lock, type)), 0, 0, 0))
			die("fd %lld: taking its POSIX lock again failed",
			    (long long)l[j].fd);
}

static void rst_finish(struct rst *r)
{
	struct image *im = r->im;

	rst_fowns(im);
	for (size_t i = 0; i < im->nt; i++)
		for (size_t k = 0; k < im->t[i].nth; k++) {
			struct thread *th = &im->t[i].th[k];
			struct sched_param sp = { 0 };
			struct ptrace_peeksiginfo_args pa = { 0, 0, 1 };
			uint32_t si[32];
			int tid = th->t.tid;

			ctx.pid = tid;
			sp.sched_priority = th->t.rt_prio;
			if (arch_set_xtra(tid, th->xtra, th->xtra_len))
				die_errno("setting the thread's extra state");
			if (syscall(SYS_sched_setscheduler, tid, th->t.policy, &sp) ||
			    setpriority(PRIO_PROCESS, tid, (int)th->t.nice - 20))
				die_errno("restoring the scheduling policy");
			kst_rst_thread(th);
			if (pt_try_resume_syscall(tid) || pt_try_resume_syscall(tid))
				die("thread did not reach rt_sigreturn");
			fault("restore-sigreturn");
			if (ptrace(PTRACE_PEEKSIGINFO, tid, &pa, si) == 1 &&
			    si[0] == SIGSEGV && (int)si[2] == 0x80)
				die("rt_sigreturn rejected the saved registers");
		}
	for (size_t i = 0; i < im->nt; i++) {
		struct task *t = &im->t[i];
		struct pt *p;

		if (task_zombie(t))
			continue;
		p = &t->th[0].pt;
		ctx.pid = t->proc.pid;
		if (arch_get_regs(p->pid, p->regs) ||
		    ptrace(PTRACE_GETSIGMASK, p->pid, sizeof(p->sigmask),
			   &p->sigmask))
			die_errno("reading the restored registers");
		p->have_regs = true;
		p->insn = p->insn0 = pt_find_any_insn(p->pid);
		if (files_shared(im, i) && !t->share.files &&
		    pt_syscall(p, __NR_close_range, r->hi, ~0U, 0, 0, 0, 0))
			die("closing cr's fds in a shared fd table failed");
		if (files_shared(im, i))
			rst_relock(p, t);
		if (pt_syscall(p, __NR_munmap, t->area, t->args->area_len,
			       0, 0, 0, 0))
			die("removing the restorer area failed");
	}
	rst_sk_finish(im);
	for (size_t i = 0; i < im->nt; i++)
		for (size_t k = 0; k < im->t[i].nth; k++)
			pt_release(&im->t[i].th[k].pt);
	ctx.pid = 0;
}

/*
 * A restored shell job that leads its own process group takes the
 * terminal's foreground from cr, as a shell gives it to a foreground job;
 * cr takes it back when the job ends.
 */
static pid_t tty_pgrp_before;

static void rst_tty_take(const struct task *t, const struct opts *opt)
{
	if (!opt->shell_job || opt->detach || t->proc.pgid != t->proc.pid ||
	    !isatty(0) || tcgetpgrp(0) != getpgrp())
		return;
	tty_pgrp_before = getpgrp();
	signal(SIGTTOU, SIG_IGN);
	if (tcsetpgrp(0, t->proc.pid))
		info("could not give the terminal to the job: %s", strerror(errno));
}

static void rst_tty_back(void)
{
	if (tty_pgrp_before && tcsetpgrp(0, tty_pgrp_before))
		info("could not take the terminal back: %s", strerror(errno));
}

/*
 * ---- clocks ----
 * CLOCK_MONOTONIC and CLOCK_BOOTTIME count from the machine's boot: after
 * a reboot, or on another machine, a restored process would see them
 * jump, backwards as like as not.  With --timens (automatic for a process
 * that ran in a time namespace of its own) the tree is restored into a
 * new time namespace whose offsets make both clocks go on from their dump
 * values plus the wall-clock time that passed.  cr unshares it just
 * before it forks the root: the root and everything it forks are born
 * in it, with its offsets set while it is still empty.
 */
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x80
#endif

static void rst_timens(const struct image *im, const struct opts *opt)
{
	const struct task *t = &im->t[0];
	int64_t down = downtime_ns(t), off[2];
	struct timespec mono, boot;
	char buf[128];
	int fd, n;

	if (!opt->timens && !t->times.timens)
		return;
	fault("restore-timens");
	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_BOOTTIME, &boot);
	off[0] = (int64_t)t->times.monotonic_ns + down -
		 (mono.tv_sec * 1000000000LL + mono.tv_nsec);
	off[1] = (int64_t)t->times.boottime_ns + down -
		 (boot.tv_sec * 1000000000LL + boot.tv_nsec);
	n = snprintf(buf, sizeof(buf), "monotonic %lld %lld\nboottime %lld %lld\n",
		     (long long)(off[0] / 1000000000 - (off[0] % 1000000000 < 0)),
		     (long long)((off[0] % 1000000000 + 1000000000) % 1000000000),
		     (long long)(off[1] / 1000000000 - (off[1] % 1000000000 < 0)),
		     (long long)((off[1] % 1000000000 + 1000000000) % 1000000000));
	if (unshare(CLONE_NEWTIME))
		die_errno("creating a time namespace (--timens)");
	fd = xopen("/proc/self/timens_offsets", O_WRONLY);
	if (write(fd, buf, n) != n)
		die_errno("setting the time namespace's offsets (monotonic %+lld s, boottime %+lld s)",
			  (long long)(off[0] / 1000000000),
			  (long long)(off[1] / 1000000000));
	close(fd);
	info("time namespace: monotonic %+lld ms, boottime %+lld ms",
	     (long long)(off[0] / 1000000), (long long)(off[1] / 1000000));
}

/* Undo of a lazy restore: the page server and its guardian go too. */
static pid_t lazy_pid;

static void lazy_kill(void *arg)
{
	(void)arg;
	kill(-lazy_pid, SIGKILL);	/* its session, once it made one */
	kill(lazy_pid, SIGKILL);
}

static int cmd_restore(const struct opts *opt)
{
	char *path;
	struct img_in in = { .fd = 0, .name = "standard input" };
	static struct image im;
	struct hmac mac;
	struct rst r = { .im = &im, .opt = opt };
	struct map_line *own;
	size_t nown, *area_len;
	pid_t root;
	int st;

	ctx.phase = "restore";
	need_cr_capability();
	if (opt->verify && !opt->listen)	/* --listen: checked on arrival */
		hmac_key_file(in.mac = &mac, opt->verify);
	path = opt->listen ? xfer_receive_chain(opt) : image_path(opt);
	in.checked = xfer_last;	/* received: checked on arrival */
	if (xfer_lazy && !opt->lazy) {	/* cr migrate --lazy-pages */
		static struct opts lazy;

		lazy = *opt;
		lazy.lazy = true;
		opt = r.opt = &lazy;
	}
	if (path) {
		in.fd = xopen(path, O_RDONLY);
		in.name = path;
	}
	in.defer = opt->lazy;
	img_read(&in, &im);
	img_check(&im);
	if (im.predump)
		die("%s is a pre-dump: its memory was copied while the process ran; restore the dump made with --prev-images-dir",
		    in.name);
	rst_lock_guard(&im);	/* from here a failure unlocks */
	fault("restore-read");
	chain_load(&im, path, opt->listen ? NULL : opt->verify, opt->lazy);
	if (strcmp(in.kernel, "") && !getenv("CR_ANY_KERNEL")) {
		struct utsname u;

		if (!uname(&u) && strcmp(u.release, in.kernel))
			info("the image was dumped on kernel %s, this is %s",
			     in.kernel, u.release);
	}
	host_check(&im, opt);
	if (opt->lazy)
		r.lz_features = lazy_probe();
	kst_host_cgroups(&im, opt->manage_cgroups);
	fault("restore-cgroups");
	r.img_fd = in.fd;
	undo_push(rst_sysv_undo, NULL);
	if (pipe2(r.status, O_CLOEXEC))
		die_errno("pipe");
	rst_make_shared(&r);
	fault("restore-shared");
	if (opt->lazy) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, r.lz_sk))
			die_errno("socketpair");
		r.lz_sk[0] = rst_helper(&r, r.lz_sk[0]);
		r.lz_sk[1] = rst_helper(&r, r.lz_sk[1]);
		lazy_reserve_fds(&r);
	}
	nown = proc_maps(0, &own);
	area_len = xzalloc(im.nt * sizeof(*area_len));
	rst_plan_memory(&r, own, nown, area_len);
	lazy_plan(&r);
	for (size_t i = 0; i < im.nt; i++)
		if (!task_zombie(&im.t[i]))
			area_build(&r, &im.t[i], area_len[i], own, nown);
	maps_free(own, nown);
	r.ctl = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r.ctl == MAP_FAILED)
		die_errno("mmap");
	if (prctl(PR_SET_CHILD_SUBREAPER, 1))
		die_errno("PR_SET_CHILD_SUBREAPER");
	undo_push(rst_kill_all, &r);
	rst_timens(&im, opt);
	root = rst_fork_pid(im.t[0].proc.pid, im.t[0].proc.exit_signal, 0);
	if (root == 0)
		rst_task(&r, 0);
	rst_wait_created(&r, root);
	fault("restore-created");
	lazy_pid = lazy_start(&r);
	if (lazy_pid > 0)
		undo_push(lazy_kill, NULL);
	for (size_t i = 0; i < im.nt; i++) {
		ctx.pid = im.t[i].proc.pid;
		if (!task_zombie(&im.t[i]) &&
		    ptrace(PTRACE_SEIZE, im.t[i].proc.pid, 0,
			   PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD |
			   PTRACE_O_TRACECLONE | (task_seccomp(&im.t[i]) ?
			   PTRACE_O_SUSPEND_SECCOMP : 0)))
			die_errno("tracing the new process");
	}
	ctx.pid = 0;
	kst_rst_cgroups(&im);
	__atomic_store_n(&r.ctl->go, 1, __ATOMIC_RELEASE);
	sys_futex(&r.ctl->go, FUTEX_WAKE, INT_MAX, -1);
	rst_wait_stops(&r);
	fault("restore-stops");
	rst_tty_modes(&im);
	rst_tty_job(&im, !opt->detach);
	rst_tty_take(&im.t[0], opt);
	rst_finish(&r);
	if (lazy_go >= 0) {	/* EPIPE: the server is done already */
		if (write(lazy_go, "g", 1) < 0 && errno != EPIPE)
			die_errno("starting the page server's background copy");
		close(lazy_go);
	}
	rst_sysv_done(&im);
	fault("restore-done");
	if (lazy_pid > 0)
		undo_pop();
	undo_pop();
	undo_pop();
	if (sk_guard >= 0) {	/* rst_unlock_undo: the locks went */
		undo_pop();
		sk_guard_done();
	}
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	for (size_t i = 0; i < r.nhelpers; i++)	/* the tree's pipes, files... */
		if (!ctx.log || r.helpers[i] != fileno(ctx.log))
			close(r.helpers[i]);
	info("restored %zu processes, running", im.nt);
	if (opt->pidfile) {
		FILE *f = fopen(opt->pidfile, "we");

		if (!f || fprintf(f, "%d\n", root) < 0 || fclose(f))
			die_errno("writing %s", opt->pidfile);
	}
	if (opt->listen) {	/* section 6b: the sender may let go now */
		char took[64];

		snprintf(took, sizeof(took), "%.1f ms to restore there",
			 (mono_ns() - xfer_t_final) / 1e6);
		xfer_reply(xfer_peer, XFER_RUNNING, took);
		ctx.on_die = NULL;
		close(xfer_peer);
		xfer_rmdir(NULL);
	}
	if (opt->detach)
		return 0;
	while (waitpid(root, &st, __WALL) < 0)
		if (errno != EINTR)
			die_errno("waitpid");
	rst_tty_back();
	rst_tty_job_back();
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ==== 10. architecture sections ==========================================
 * Each architecture implements the arch_* interface declared at the end
 * of section 1, in the same order.  Nothing outside this section knows
 * register layouts, instruction encodings or signal frame formats.
 */
#if defined(__x86_64__)
#include <cpuid.h>

static const uint32_t arch_tlv = TLV_ARCH_X86_64;
static const uint32_t arch_regs_tag = TLV_REGS_X86_64;
static const uint32_t arch_fpu_tag = TLV_XSAVE;
static const unsigned arch_nregs = 27;	/* struct user_regs_struct */
static const uint8_t arch_syscall_insn[4] = { 0x0f, 0x05 };	/* syscall */
static const size_t arch_syscall_insn_len = 2;
static const uint8_t arch_safe_code[16] = {
	0x0f, 0x05,			/* syscall */
	0xb8, 0x0f, 0x00, 0x00, 0x00,	/* mov $15, %eax: rt_sigreturn */
	0x0f, 0x05,			/* syscall */
	0x0f, 0x0b,			/* ud2 */
};
static const size_t arch_safe_code_len = 11;
static const uint32_t arch_xtra_tag = 0;

/* 47 bits: more only for processes that ask for it with 5-level paging. */
static uint64_t arch_task_size(void)
{
	return 0x7ffffffff000ULL;
}

enum { R15, R14, R13, R12, RBP, RBX, R11, R10, R9, R8, RAX, RCX, RDX, RSI,
       RDI, ORIG_RAX, RIP, CS, EFLAGS, RSP, SS, FS_BASE, GS_BASE };

static int arch_get_regs(int tid, uint64_t *regs)
{
	struct iovec iov = { regs, arch_nregs * 8 };

	return ptrace(PTRACE_GETREGSET, tid, NT_PRSTATUS, &iov) ? -errno : 0;
}

static int arch_set_regs(int tid, const uint64_t *regs)
{
	struct iovec iov = { (void *)regs, arch_nregs * 8 };

	return ptrace(PTRACE_SETREGSET, tid, NT_PRSTATUS, &iov) ? -errno : 0;
}

/* The XSAVE area in the kernel's user ABI layout; its size varies by CPU. */
static int arch_get_fpu(int tid, uint8_t **buf, size_t *len)
{
	struct iovec iov = { xmalloc(1 << 16), 1 << 16 };

	if (ptrace(PTRACE_GETREGSET, tid, NT_X86_XSTATE, &iov)) {
		free(iov.iov_base);
		return -errno;
	}
	*buf = iov.iov_base;
	*len = iov.iov_len;
	return 0;
}

static int arch_get_xtra(int tid, uint8_t **buf, size_t *len)
{
	(void)tid;
	*buf = NULL;
	*len = 0;
	return 0;
}

static int arch_set_xtra(int tid, const uint8_t *buf, size_t len)
{
	(void)tid, (void)buf, (void)len;
	return 0;
}

static uint64_t arch_ip(const uint64_t *regs)
{
	return regs[RIP];
}

static void arch_set_ip(uint64_t *regs, uint64_t ip)
{
	regs[RIP] = ip;
}

static void arch_syscall_regs(uint64_t *regs, uint64_t ip, long nr,
			      const long *a)
{
	regs[RAX] = nr;
	regs[RDI] = a[0], regs[RSI] = a[1], regs[RDX] = a[2];
	regs[R10] = a[3], regs[R8] = a[4], regs[R9] = a[5];
	regs[RIP] = ip;
	regs[ORIG_RAX] = -1;	/* not in a syscall: no restart on resume */
}

static long arch_syscall_ret(const uint64_t *regs)
{
	return regs[RAX];
}

/* rt_sigreturn finds its frame just below rsp, as after a handler's ret. */
static void arch_set_frame_sp(uint64_t *regs, uint64_t frame)
{
	regs[RSP] = frame + 8;
}

/*
 * Stopped in a syscall that was interrupted (-ERESTARTSYS, -ERESTARTNOINTR,
 * -ERESTARTNOHAND, -ERESTART_RESTARTBLOCK): run it again from the syscall
 * instruction, as the kernel does when no handler runs.  The kernel's
 * restart block is per task and lost, so nanosleep and friends start over
 * with their arguments: exact when the caller passed rem == req (sleep(),
 * musl's nanosleep users), otherwise they sleep at most the elapsed time
 * longer.
 */
static void arch_restart_fixup(uint64_t *regs)
{
	long ret = regs[RAX];

	if ((long)regs[ORIG_RAX] < 0)
		return;
	if (ret == -512 || ret == -513 || ret == -514 || ret == -516) {
		regs[RAX] = regs[ORIG_RAX];
		regs[RIP] -= 2;
	}
}

static bool arch_release_restart(uint64_t *regs)
{
	if ((long)regs[ORIG_RAX] < 0 || (long)regs[RAX] != -516)
		return false;
	arch_restart_fixup(regs);
	regs[ORIG_RAX] = -1;	/* so the kernel does not restart it too */
	return true;
}

static void arch_release_restart2(int tid, const uint64_t *regs)
{
	(void)tid, (void)regs;
}

static void arch_tls(const uint64_t *regs, uint64_t tls[2])
{
	tls[0] = regs[FS_BASE];
	tls[1] = regs[GS_BASE];
}

/* The TCB starts with a pointer to itself (the x86_64 TLS ABI). */
static uint64_t arch_self_tp(void)
{
	uint64_t tp;

	__asm__("mov %%fs:0, %0" : "=r"(tp));
	return tp;
}

static const uint32_t arch_glibc_rseq_sig = 0x53053053;

/*
 * rt_sigreturn takes its XSAVE image with the software bytes that the
 * kernel puts in signal frames (at offset 464: magic, sizes, features).
 * Their values for this kernel and CPU come from a real signal frame.
 */
struct x86_fx_sw {
	uint32_t magic1, extended_size;
	uint64_t xfeatures;
	uint32_t xstate_size, pad[7];
};
static struct x86_fx_sw fx_sw;

static void fx_sw_handler(int sig, siginfo_t *si, void *uc)
{
	ucontext_t *u = uc;

	(void)sig, (void)si;
	memcpy(&fx_sw, (uint8_t *)u->uc_mcontext.fpregs + 464, sizeof(fx_sw));
}

static void fx_sw_measure(void)
{
	struct sigaction sa = { .sa_sigaction = fx_sw_handler,
				.sa_flags = SA_SIGINFO }, old;

	if (fx_sw.magic1)
		return;
	sigaction(SIGUSR2, &sa, &old);
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR2);
	sigaction(SIGUSR2, &old, NULL);
	if (fx_sw.magic1 != 0x46505853 || fx_sw.xstate_size < 576 ||
	    fx_sw.xstate_size > (1 << 16))
		die("this kernel gives signal frames without XSAVE state: not supported");
}

static void arch_check_fpu(const struct thread *th)
{
	uint64_t bv;

	fx_sw_measure();
	if (th->fpu_len < 576 || th->fpu_len > (1 << 16))
		die("corrupt image: XSAVE area of %zu bytes", th->fpu_len);
	memcpy(&bv, th->fpu + 512, 8);
	if (bv & ~fx_sw.xfeatures)
		refuse("thread %llu uses CPU state (XSTATE_BV 0x%llx, e.g. AMX tiles) beyond what this kernel restores (0x%llx): not supported yet",
		    (unsigned long long)th->t.tid, (unsigned long long)bv,
		    (unsigned long long)fx_sw.xfeatures);
	if (th->fpu_len < fx_sw.xstate_size)
		die("the image's XSAVE area (%zu bytes) is smaller than this CPU's (%u): dumped on another CPU",
		    th->fpu_len, fx_sw.xstate_size);
}

/* struct rt_sigframe as the x86-64 kernel reads it, up to the fpstate. */
struct x86_sigframe {
	uint64_t pretcode;
	uint64_t uc_flags, uc_link;
	uint64_t ss_sp;
	int32_t ss_flags, pad;
	uint64_t ss_size;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;	/* struct sigcontext */
	uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2, fpstate, reserved1[8];
	uint64_t uc_sigmask;
	uint8_t info[128];
};
_Static_assert(offsetof(struct x86_sigframe, r8) == 48, "ucontext layout");
_Static_assert(offsetof(struct x86_sigframe, uc_sigmask) == 48 + 256,
	       "sigcontext is 256 bytes");
#define FPSTATE_OFF ((sizeof(struct x86_sigframe) + 63) & ~63UL)

static size_t arch_sigframe_size(const struct thread *th)
{
	(void)th;
	fx_sw_measure();
	return FPSTATE_OFF + fx_sw.xstate_size + 4;
}

static void arch_build_sigframe(uint8_t *buf, uint64_t addr,
				const struct thread *th)
{
	struct x86_sigframe *f = (struct x86_sigframe *)buf;
	uint8_t *fp = buf + FPSTATE_OFF;
	const uint32_t magic2 = 0x46505845;
	uint64_t r[MAX_REGS];

	memcpy(r, th->regs, sizeof(r));
	arch_restart_fixup(r);
	memset(f, 0, sizeof(*f));
	f->uc_flags = 1 | 2 | 4;	/* FP_XSTATE, SIGCONTEXT_SS, STRICT_RESTORE_SS */
	f->ss_sp = th->t.ss_sp;
	f->ss_flags = th->t.ss_flags & ~1;	/* SS_ONSTACK is a state, not a setting */
	f->ss_size = th->t.ss_size;
	f->r8 = r[R8], f->r9 = r[R9], f->r10 = r[R10], f->r11 = r[R11];
	f->r12 = r[R12], f->r13 = r[R13], f->r14 = r[R14], f->r15 = r[R15];
	f->rdi = r[RDI], f->rsi = r[RSI], f->rbp = r[RBP], f->rbx = r[RBX];
	f->rdx = r[RDX], f->rax = r[RAX], f->rcx = r[RCX], f->rsp = r[RSP];
	f->rip = r[RIP], f->eflags = r[EFLAGS];
	f->cs = r[CS], f->ss = r[SS];
	f->fpstate = addr + FPSTATE_OFF;
	f->uc_sigmask = th->t.sigmask;
	memcpy(fp, th->fpu, fx_sw.xstate_size);
	memset(fp + 520, 0, 8);	/* XCOMP_BV: standard format */
	memcpy(fp + 464, &fx_sw, sizeof(fx_sw));
	memcpy(fp + fx_sw.xstate_size, &magic2, 4);
}

__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const uint8_t *p, size_t n)
{
	uint64_t c = ~crc & 0xffffffffu;

	for (; n >= 8; p += 8, n -= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
	}
	while (n--)
		c = __builtin_ia32_crc32qi(c, *p++);
	return ~c;
}

static bool crc_hw(void)
{
	static int hw = -1;
	unsigned a, b, c, d;

	if (hw < 0)
		hw = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_2);
	return hw;
}

static uint32_t arch_crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
	return crc_hw() ? crc32c_sse42(crc, p, n)
			: tlv_crc32c_sw(crc, p, n, crc_table);
}

__attribute__((target("sse4.2")))
static bool arch_crc32c_x3(uint32_t st[3], const uint8_t *p, size_t blk)
{
	uint64_t a = ~st[0] & 0xffffffffu, b = ~st[1] & 0xffffffffu,
		 c = ~st[2] & 0xffffffffu;

	if (!crc_hw())
		return false;
	for (size_t i = 0; i < blk; i += 8) {
		uint64_t x, y, z;

		memcpy(&x, p + i, 8);
		memcpy(&y, p + blk + i, 8);
		memcpy(&z, p + 2 * blk + i, 8);
		a = __builtin_ia32_crc32di(a, x);
		b = __builtin_ia32_crc32di(b, y);
		c = __builtin_ia32_crc32di(c, z);
	}
	st[0] = ~a, st[1] = ~b, st[2] = ~c;
	return true;
}

#elif defined(__aarch64__)
#include <sys/auxv.h>

static const uint32_t arch_tlv = TLV_ARCH_AARCH64;
static const uint32_t arch_regs_tag = TLV_REGS_AARCH64;
static const uint32_t arch_fpu_tag = TLV_FPSIMD;
static const uint32_t arch_xtra_tag = TLV_PAC_KEYS;
static const unsigned arch_nregs = 35;	/* user_pt_regs + tpidr_el0 */
static const uint8_t arch_syscall_insn[4] = { 0x01, 0x00, 0x00, 0xd4 };	/* svc #0 */
static const size_t arch_syscall_insn_len = 4;
static const uint8_t arch_safe_code[16] = {
	0x01, 0x00, 0x00, 0xd4,		/* svc #0 */
	0x68, 0x11, 0x80, 0xd2,		/* mov x8, #139: rt_sigreturn */
	0x01, 0x00, 0x00, 0xd4,		/* svc #0 */
	0x00, 0x00, 0x20, 0xd4,		/* brk #0 */
};
static const size_t arch_safe_code_len = 16;

enum { X0, X8 = 8, SP = 31, PC, PSTATE, TLS };
#define NT_ARM_TLS_		0x401
#define NT_ARM_SYSTEM_CALL_	0x404
#define NT_ARM_SVE_		0x405
#define NT_ARM_PACA_KEYS_	0x407
#define NT_ARM_PACG_KEYS_	0x408
#define NT_ARM_PAC_ENABLED_KEYS_ 0x40a
#define NT_ARM_SSVE_		0x40b
#define NT_ARM_ZA_		0x40c

/*
 * The kernel's TASK_SIZE depends on its VA_BITS (39, 48 or 52): take the
 * power of two that holds the stack, which sits at the top.
 */
static uint64_t arch_task_size(void)
{
	static uint64_t size;
	struct map_line *m;
	size_t n;

	if (size)
		return size;
	n = proc_maps(0, &m);
	size = 1ULL << 39;
	for (size_t i = 0; i < n; i++)
		while (!strcmp(m[i].path, "[stack]") && m[i].end > size)
			size <<= 1;
	maps_free(m, n);
	return size;
}

static int regset(int tid, int req, int type, void *buf, size_t len)
{
	struct iovec iov = { buf, len };

	return ptrace(req, tid, type, &iov) ? -errno : 0;
}

static int arch_get_regs(int tid, uint64_t *regs)
{
	uint64_t tls[2] = { 0 };
	int r = regset(tid, PTRACE_GETREGSET, NT_PRSTATUS, regs, 34 * 8);

	if (!r)
		r = regset(tid, PTRACE_GETREGSET, NT_ARM_TLS_, tls, sizeof(tls));
	regs[TLS] = tls[0];
	return r;
}

/*
 * The syscall number is reset to "none" too: at a syscall-exit stop a
 * leftover number would make the kernel's restart logic look at x0.
 */
static int arch_set_regs(int tid, const uint64_t *regs)
{
	int nr = -1;
	int r = regset(tid, PTRACE_SETREGSET, NT_PRSTATUS, (void *)regs, 34 * 8);

	if (!r)
		r = regset(tid, PTRACE_SETREGSET, NT_ARM_SYSTEM_CALL_, &nr,
			   sizeof(nr));
	return r;
}

struct a64_vec_header {	/* user_sve_header and user_za_header */
	uint32_t size, max_size;
	uint16_t vl, max_vl, flags, reserved;
};

/*
 * FPSIMD state.  Live SVE or SME state (a thread stopped between vector
 * instructions; every syscall discards it) cannot be restored yet.
 */
static int arch_get_fpu(int tid, uint8_t **buf, size_t *len)
{
	struct a64_vec_header h;

	if (!regset(tid, PTRACE_GETREGSET, NT_ARM_SVE_, &h, sizeof(h)) &&
	    (h.flags & 1))
		refuse("thread %d has live SVE register state: not supported yet", tid);
	if (!regset(tid, PTRACE_GETREGSET, NT_ARM_SSVE_, &h, sizeof(h)) &&
	    (h.flags & 1))
		refuse("thread %d is in SME streaming mode: not supported yet", tid);
	if (!regset(tid, PTRACE_GETREGSET, NT_ARM_ZA_, &h, sizeof(h)) &&
	    h.size > sizeof(h))
		refuse("thread %d has SME ZA state: not supported yet", tid);
	*len = 528;	/* struct user_fpsimd_state */
	*buf = xzalloc(*len);
	return regset(tid, PTRACE_GETREGSET, NT_PRFPREG, *buf, *len);
}

/*
 * Pointer-authentication keys: a restored process starts with cr's keys,
 * and its signed return addresses would no longer check out.  Only
 * ptrace can set another thread's keys, so cr sets them at the hand-over.
 */
#define PAC_LEN (5 * 16 + 8)
static int arch_get_xtra(int tid, uint8_t **buf, size_t *len)
{
	uint8_t *b = xzalloc(PAC_LEN);
	int r = regset(tid, PTRACE_GETREGSET, NT_ARM_PACA_KEYS_, b, 64);

	*buf = NULL;
	*len = 0;
	if (r == -EINVAL || r == -ENODEV) {	/* no pointer authentication */
		free(b);
		return 0;
	}
	if (!r)
		r = regset(tid, PTRACE_GETREGSET, NT_ARM_PACG_KEYS_, b + 64, 16);
	if (!r && regset(tid, PTRACE_GETREGSET, NT_ARM_PAC_ENABLED_KEYS_,
			 b + 80, 8))
		memset(b + 80, 0xff, 8);	/* before 5.13: all keys on */
	if (r) {
		free(b);
		errno = -r;
		return -1;
	}
	*buf = b;
	*len = PAC_LEN;
	return 0;
}

static int arch_set_xtra(int tid, const uint8_t *buf, size_t len)
{
	uint64_t enabled;
	int r;

	if (!len)
		return 0;
	memcpy(&enabled, buf + 80, 8);
	r = regset(tid, PTRACE_SETREGSET, NT_ARM_PACA_KEYS_, (void *)buf, 64);
	if (!r)
		r = regset(tid, PTRACE_SETREGSET, NT_ARM_PACG_KEYS_,
			   (void *)(buf + 64), 16);
	if (!r && enabled != ~0ULL)
		r = regset(tid, PTRACE_SETREGSET, NT_ARM_PAC_ENABLED_KEYS_,
			   &enabled, 8);
	errno = -r;
	return r ? -1 : 0;
}

static uint64_t arch_ip(const uint64_t *regs)
{
	return regs[PC];
}

static void arch_set_ip(uint64_t *regs, uint64_t ip)
{
	regs[PC] = ip;
}

static void arch_syscall_regs(uint64_t *regs, uint64_t ip, long nr,
			      const long *a)
{
	for (int i = 0; i < 6; i++)
		regs[X0 + i] = a[i];
	regs[X8] = nr;
	regs[PC] = ip;
}

static long arch_syscall_ret(const uint64_t *regs)
{
	return regs[X0];
}

static void arch_set_frame_sp(uint64_t *regs, uint64_t frame)
{
	regs[SP] = frame;
}

/*
 * arm64 rewinds an interrupted syscall before the ptrace stop (x0 =
 * orig_x0, pc at the svc) but swaps in restart_syscall (x8) only after
 * it, and the stop's registers do not tell -ERESTART_RESTARTBLOCK from
 * the other restarts.  So every thread goes through a second stop
 * (pt_release), where x8 turned restart_syscall is put back to the
 * syscall the thread was in: it runs again from its arguments.
 */
static bool arch_release_restart(uint64_t *regs)
{
	(void)regs;
	return true;
}

static void arch_release_restart2(int tid, const uint64_t *regs)
{
	uint64_t now[MAX_REGS];

	if (regs[X8] == __NR_restart_syscall || arch_get_regs(tid, now) ||
	    now[X8] != __NR_restart_syscall || now[PC] != regs[PC])
		return;
	now[X8] = regs[X8];
	if (arch_set_regs(tid, now))
		fprintf(stderr, "cr: thread %d: putting its syscall back failed: %s\n",
			tid, strerror(errno));
}

static void arch_tls(const uint64_t *regs, uint64_t tls[2])
{
	tls[0] = regs[TLS];
	tls[1] = 0;
}

static uint64_t arch_self_tp(void)
{
	uint64_t tp;

	__asm__("mrs %0, tpidr_el0" : "=r"(tp));
	return tp;
}

static const uint32_t arch_glibc_rseq_sig = 0xd428bc00;	/* brk #0x45e0 */

static void arch_check_fpu(const struct thread *th)
{
	if (th->fpu_len != 528)
		die("corrupt image: FPSIMD state of %zu bytes", th->fpu_len);
	if (th->xtra_len && th->xtra_len != PAC_LEN)
		die("corrupt image: pointer-auth keys of %zu bytes", th->xtra_len);
	if (th->xtra_len && !(getauxval(AT_HWCAP) & (1UL << 30)))	/* HWCAP_PACA */
		die("the process uses pointer authentication, this CPU has none");
}

/*
 * struct rt_sigframe as arm64 reads it: siginfo, then the ucontext whose
 * sigcontext holds the registers and a list of records (fpsimd_context,
 * then a zero terminator) in __reserved.
 */
struct a64_sigframe {
	uint8_t info[128];
	uint64_t uc_flags, uc_link;
	uint64_t ss_sp;
	int32_t ss_flags, pad;
	uint64_t ss_size;
	uint64_t uc_sigmask;
	uint8_t unused[120 + 8];	/* sigset_t padding, then alignment */
	uint64_t fault_address, regs[31], sp, pc, pstate;
	uint64_t pad2;
	uint32_t fp_magic, fp_size, fpsr, fpcr;	/* fpsimd_context */
	uint8_t vregs[32][16];
	uint64_t terminator;
	uint8_t rest[4096 - 528 - 8];
};
_Static_assert(offsetof(struct a64_sigframe, fault_address) == 128 + 176,
	       "uc_mcontext offset");
_Static_assert(offsetof(struct a64_sigframe, fp_magic) == 128 + 464,
	       "__reserved offset");

static size_t arch_sigframe_size(const struct thread *th)
{
	(void)th;
	return sizeof(struct a64_sigframe);
}

/*
 * An interrupted syscall needs no fixing here: arm64 rewinds it (x0 =
 * orig_x0, pc back to the svc) before it stops for ptrace, so the saved
 * registers already run it again.
 */
static void arch_build_sigframe(uint8_t *buf, uint64_t addr,
				const struct thread *th)
{
	struct a64_sigframe *f = (struct a64_sigframe *)buf;
	const uint8_t *fp = th->fpu;	/* vregs[32], fpsr, fpcr */

	(void)addr;
	memset(f, 0, sizeof(*f));
	f->ss_sp = th->t.ss_sp;
	f->ss_flags = th->t.ss_flags & ~1;	/* SS_ONSTACK is a state */
	f->ss_size = th->t.ss_size;
	f->uc_sigmask = th->t.sigmask;
	memcpy(f->regs, th->regs, 31 * 8);
	f->sp = th->regs[SP];
	f->pc = th->regs[PC];
	f->pstate = th->regs[PSTATE];
	f->fp_magic = 0x46508001;
	f->fp_size = 528;
	memcpy(f->vregs, fp, 512);
	memcpy(&f->fpsr, fp + 512, 4);
	memcpy(&f->fpcr, fp + 516, 4);
}

/* The CRC32C instructions (ARMv8.1, optional in 8.0: HWCAP_CRC32). */
static uint32_t crc32c_arm(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	for (; n >= 8; p += 8, n -= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		__asm__(".arch_extension crc\n\tcrc32cx %w0, %w0, %x1"
			: "+r"(crc) : "r"(v));
	}
	for (; n; n--, p++)
		__asm__(".arch_extension crc\n\tcrc32cb %w0, %w0, %w1"
			: "+r"(crc) : "r"((uint32_t)*p));
	return ~crc;
}

static bool crc_hw(void)
{
	static int hw = -1;

	if (hw < 0)
		hw = !!(getauxval(AT_HWCAP) & (1UL << 7));	/* HWCAP_CRC32 */
	return hw;
}

static uint32_t arch_crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
	return crc_hw() ? crc32c_arm(crc, p, n)
			: tlv_crc32c_sw(crc, p, n, crc_table);
}

static bool arch_crc32c_x3(uint32_t st[3], const uint8_t *p, size_t blk)
{
	uint32_t a = ~st[0], b = ~st[1], c = ~st[2];

	if (!crc_hw())
		return false;
	for (size_t i = 0; i < blk; i += 8) {
		uint64_t x, y, z;

		memcpy(&x, p + i, 8);
		memcpy(&y, p + blk + i, 8);
		memcpy(&z, p + 2 * blk + i, 8);
		__asm__(".arch_extension crc\n\t"
			"crc32cx %w0, %w0, %x3\n\t"
			"crc32cx %w1, %w1, %x4\n\t"
			"crc32cx %w2, %w2, %x5"
			: "+r"(a), "+r"(b), "+r"(c) : "r"(x), "r"(y), "r"(z));
	}
	st[0] = ~a, st[1] = ~b, st[2] = ~c;
	return true;
}

#else
#error "cr supports x86_64 and aarch64"
#endif

/* ==== 11. show and check =================================================
 * `cr show` decodes any image, of any architecture, from the tag table
 * alone: rows are printed with their field names, strings quoted, bytes
 * and pages summarised.  `--json` prints the same as one JSON document.
 * `cr check` probes the kernel features cr uses and says what each is for.
 */
#define SHOW_FNAME(name, doc) #name,
#define SHOW_FIELDS(name, num, kind, fields, doc) \
	static const char *const fn_##name[] = { TLV_F_##fields(SHOW_FNAME) NULL };
TLV_TAGS(SHOW_FIELDS)
#undef SHOW_FIELDS

static const char *const *show_field_names(uint32_t tag)
{
	switch (tag) {
#define SHOW_CASE(name, num, kind, fields, doc) case num: return fn_##name;
	TLV_TAGS(SHOW_CASE)
#undef SHOW_CASE
	}
	return NULL;
}

struct show {
	bool json;
	bool first;		/* json: no comma before the next item */
};

static void show_sep(struct show *s)
{
	if (s->json && !s->first)
		putchar(',');
	s->first = false;
}

static void show_string(const uint8_t *p, size_t n)
{
	putchar('"');
	for (size_t i = 0; i < n && p[i]; i++) {
		if (p[i] == '"' || p[i] == '\\')
			printf("\\%c", p[i]);
		else if (p[i] < 0x20 || p[i] >= 0x7f)
			printf("\\u%04x", p[i]);
		else
			putchar(p[i]);
	}
	putchar('"');
}

static void show_value(uint64_t v, bool json)
{
	if (json || v < 100000)
		printf("%llu", (unsigned long long)v);
	else
		printf("0x%llx", (unsigned long long)v);
}

static void show_nest(struct show *s, const uint8_t *p, uint64_t len,
		      int depth);

static void show_rec(struct show *s, uint32_t tag, const uint8_t *val,
		     uint64_t len, int depth)
{
	const char *name = tlv_name(tag);
	const char *const *fn = show_field_names(tag & ~TLV_OPTIONAL);
	enum tlv_kind kind = tlv_kind(tag & ~TLV_OPTIONAL);
	size_t nf = tlv_nfields(tag & ~TLV_OPTIONAL);

	show_sep(s);
	if (s->json) {
		printf("{\"tag\":");
		if (name)
			printf("\"%s\"", name);
		else
			printf("%u", tag);
		printf(",\"len\":%llu", (unsigned long long)len);
	} else {
		printf("%*s%s", depth * 2, "", name ? name : "?");
		if (!name)
			printf("(0x%x)", tag);
	}
	if (kind == TLV_K_NEST) {
		printf(s->json ? ",\"records\":[" : "\n");
		s->first = true;
		show_nest(s, val, len, depth + 1);
		s->first = false;
		printf(s->json ? "]}" : "");
		return;
	}
	if (kind == TLV_K_ROWS && nf && len % (nf * 8) == 0) {
		printf(s->json ? ",\"rows\":[" : "");
		for (size_t r = 0; r < len / (nf * 8); r++) {
			printf(s->json ? "%s{" : "%s", r ? (s->json ? "," : "\n") : "");
			if (!s->json && (r || len / (nf * 8) > 1))
				printf("%*s ", depth * 2 + 1, "");
			for (size_t f = 0; f < nf; f++) {
				uint64_t v;

				memcpy(&v, val + (r * nf + f) * 8, 8);
				if (s->json)
					printf("%s\"%s\":", f ? "," : "", fn[f]);
				else
					printf(" %s=", fn[f]);
				show_value(v, s->json);
			}
			printf(s->json ? "}" : "");
		}
		printf(s->json ? "]}" : "\n");
		return;
	}
	if (kind == TLV_K_STR) {
		printf(s->json ? ",\"value\":" : " ");
		show_string(val, len);
		printf(s->json ? "}" : "\n");
		return;
	}
	printf(s->json ? "}" : " (%llu bytes)\n", (unsigned long long)len);
}

static void show_nest(struct show *s, const uint8_t *p, uint64_t len, int depth)
{
	struct tlv_it it = tlv_iter(p, len);

	while (tlv_next(&it, "nest"))
		show_rec(s, it.tag, it.val, it.len, depth);
}

static int cmd_show(const struct opts *opt)
{
	char *path = image_path(opt);
	struct img_in in = { .fd = 0, .name = "standard input" };
	struct show s = { .json = opt->json, .first = true };
	struct hmac mac;
	struct tlv_head h;
	uint8_t *chunk = xmalloc(STREAM_BUF);

	ctx.phase = "show";
	if (opt->verify)
		hmac_key_file(in.mac = &mac, opt->verify);
	if (path) {
		in.fd = xopen(path, O_RDONLY);
		in.name = path;
	}
	in_spool(&in);
	in_read(&in, &h, sizeof(h), "the header");
	if (memcmp(h.magic, TLV_MAGIC, sizeof(h.magic)))
		die("%s: not a cr image (bad magic)", in.name);
	h.kernel[sizeof(h.kernel) - 1] = 0;
	if (s.json)
		printf("{\"version\":%u,\"arch\":%u,\"page_size\":%u,\"kernel\":",
		       h.version, h.arch, h.page_size);
	else
		printf("cr image version %u, arch %s, page size %u, kernel %s\n",
		       h.version, h.arch == TLV_ARCH_X86_64 ? "x86_64" :
		       h.arch == TLV_ARCH_AARCH64 ? "aarch64" : "unknown",
		       h.page_size, h.kernel);
	if (s.json) {
		show_string((uint8_t *)h.kernel, sizeof(h.kernel));
		printf(",\"records\":[");
	}
	for (bool mac = false;;) {
		uint32_t crc = in.crc;
		uint64_t at = in.off;
		uint8_t sum[32];
		struct tlv_rec r;
		uint8_t *v;

		if (in.mac)
			hmac_result(in.mac, sum);
		in_read(&in, &r, sizeof(r), "a record header");
		if (r.zero || r.len > in.size - in.off)
			die("corrupt image: record at offset %llu claims %llu bytes",
			    (unsigned long long)at, (unsigned long long)r.len);
		if (r.tag == TLV_END && in.mac && !mac)
			die("%s: the image is not signed (no MAC record), and --verify was given",
			    in.name);
		if ((r.tag & ~TLV_OPTIONAL) == TLV_MAC && r.len == sizeof(sum)) {
			uint8_t want[32];

			in_read(&in, want, sizeof(want), "the MAC record");
			mac_check(&in, sum, want);
			show_rec(&s, r.tag, want, sizeof(want), 0);
			mac = true;
			continue;
		}
		if (r.tag == TLV_PAGES) {
			show_sep(&s);
			printf(s.json ? "{\"tag\":\"PAGES\",\"offset\":%llu,\"len\":%llu}"
				      : "PAGES at offset %llu, %llu bytes\n",
			       (unsigned long long)in.off, (unsigned long long)r.len);
			for (uint64_t left = r.len; left;) {
				size_t n = left < STREAM_BUF ? left : STREAM_BUF;

				in_read(&in, chunk, n, "page data");
				left -= n;
			}
			continue;
		}
		if (r.len > MAX_META)
			die("corrupt image: record 0x%x of %llu bytes", r.tag,
			    (unsigned long long)r.len);
		v = xmalloc(r.len);
		in_read(&in, v, r.len, "a record");
		show_rec(&s, r.tag, v, r.len, 0);
		if (r.tag == TLV_END) {
			struct tlv_end e;

			if (r.len != sizeof(e))
				die("corrupt image: bad END record");
			memcpy(&e, v, sizeof(e));
			if (e.crc != crc || e.bytes != at)
				die("corrupt image: checksum mismatch (stored %08llx, computed %08x)",
				    (unsigned long long)e.crc, crc);
			printf(s.json ? "],\"checksum\":\"ok\"}\n"
				      : "checksum ok, %llu bytes\n",
			       (unsigned long long)in.off);
			free(v);
			break;
		}
		free(v);
	}
	free(chunk);
	return 0;
}

/* One kernel feature: probe it, say what it is for. */
struct feature {
	const char *name;
	bool required;
	const char *what;
	bool (*probe)(void);
};

static bool probe_errno_not(long r, int missing)
{
	return r == 0 || errno != missing;
}

static bool probe_clone3(void)
{
	return probe_errno_not(syscall(SYS_clone3, NULL, 0), ENOSYS) ||
	       access("/proc/sys/kernel/ns_last_pid", W_OK) == 0;
}

static bool probe_mm_map(void)
{
	unsigned size = 0;

	return prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, &size, 0, 0) == 0 &&
	       size == sizeof(struct prctl_mm_map);
}

static bool probe_pagemap_scan(void)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	bool ok = fd >= 0 && ioctl(fd, PM_SCAN_IOCTL, NULL) < 0 &&
		  errno == EFAULT;

	if (fd >= 0)
		close(fd);
	return ok;
}

static bool probe_vm_readv(void)
{
	char a = 1, b = 0;
	struct iovec l = { &b, 1 }, r = { &a, 1 };

	return process_vm_readv(getpid(), &l, 1, &r, 1, 0) == 1 && b == 1;
}

static bool probe_rseq(void)
{
	return probe_errno_not(syscall(SYS_rseq, NULL, 0, 0, 0), ENOSYS);
}

static bool probe_memfd(void)
{
	int fd = memfd_create("cr-check", MFD_CLOEXEC);

	if (fd >= 0)
		close(fd);
	return fd >= 0;
}

static bool probe_vdso(void)
{
	struct map_line *m;
	size_t n = proc_maps(0, &m);
	bool found = false;

	for (size_t i = 0; i < n; i++)
		found |= !strcmp(m[i].path, "[vdso]");
	maps_free(m, n);
	return found;
}

static bool probe_userfaultfd(void)
{
	return probe_errno_not(syscall(SYS_userfaultfd, ~0), ENOSYS);
}

/* What restore --lazy-pages needs (lazy_probe, without dying). */
static bool probe_uffd_events(void)
{
	int64_t f = uffd_features();

	return f >= 0 && (f & (LZ_FEATURES | UFFD_FEATURE_POISON)) ==
			 (LZ_FEATURES | UFFD_FEATURE_POISON);
}

static bool probe_pidfd_getfd(void)
{
	return probe_errno_not(syscall(SYS_pidfd_getfd, -1, 0, 0), ENOSYS);
}

static bool probe_tcp_repair(void)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
	bool ok = s >= 0 &&
		  !setsockopt(s, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on));

	if (s >= 0)
		close(s);
	return ok;
}

static bool probe_nftables(void)
{
	return net_unlock(0) == 0;	/* no such table: nf_tables answers */
}

static bool probe_timerfd_ticks(void)
{
	uint64_t one = 1;
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	bool ok = fd >= 0 && !ioctl(fd, TFD_IOC_SET_TICKS, &one);

	if (fd >= 0)
		close(fd);
	return ok;
}

static bool probe_fanotify(void)
{
	int fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC, O_RDONLY);

	if (fd >= 0)
		close(fd);
	return fd >= 0;
}

static bool probe_file_handles(void)
{
	struct file_handle *fh = xzalloc(sizeof(*fh) + MAX_HANDLE_SZ);
	int mnt;
	bool ok;

	fh->handle_bytes = MAX_HANDLE_SZ;
	ok = !syscall(SYS_name_to_handle_at, AT_FDCWD, "/", fh, &mnt, 0);
	free(fh);
	return ok;
}

static bool probe_ptypeer(void)
{
	int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC), zero = 0, s;

	if (m < 0)
		return false;
	s = ioctl(m, TIOCSPTLCK, &zero) ? -1 :
	    ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s >= 0)
		close(s);
	close(m);
	return s >= 0;
}

/* sock_diag answers for unix sockets (CONFIG_UNIX_DIAG). */
static bool probe_unix_diag(void)
{
	uint32_t buf[1024];
	const struct nlmsghdr *h = (const void *)buf;
	int s = udiag_ask(0);
	ssize_t n = s < 0 ? -1 : recv(s, buf, sizeof(buf), 0);

	if (s >= 0)
		close(s);
	return n >= (ssize_t)sizeof(*h) && h->nlmsg_type != NLMSG_ERROR;
}

static bool probe_timens(void)
{
	return access("/proc/self/ns/time", F_OK) == 0;
}

static bool probe_timer_ids(void)
{
	return prctl(PR_TIMER_CREATE_RESTORE_IDS, 2 /* _GET */, 0, 0, 0) >= 0;
}

/* Soft-dirty bits (pagemap bit 55) only appear with CONFIG_MEM_SOFT_DIRTY. */
static bool probe_soft_dirty(void)
{
	static volatile char page[PAGE] __attribute__((aligned(PAGE)));
	int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	uint64_t e = 0;

	if (fd < 0)
		return false;
	if (write(fd, "4", 1) != 1) {
		close(fd);
		return false;
	}
	close(fd);
	page[0] = 1;
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (pread(fd, &e, 8, (uintptr_t)page / PAGE * 8) != 8)
		e = 0;
	close(fd);
	return e >> 55 & 1;
}

/* ", NAME (ok)" for a feature the tree needs n times, if n. */
static void check_need(size_t n, const char *name, bool (*probe)(void))
{
	if (n)
		printf(", %s%s", name, !probe ? "" : probe() ? " (ok)" : " (MISSING)");
}

/* Section 5b: protection keys, MDWE and cgroup v2 */
static bool probe_pkeys(void)
{
	long k = syscall(SYS_pkey_alloc, 0, 0);

	if (k < 0)
		return false;
	syscall(SYS_pkey_free, k);
	return true;
}

static bool probe_mdwe(void)
{
	return prctl(PR_GET_MDWE, 0, 0, 0, 0) >= 0;
}

static bool probe_cgroup2(void)
{
	char *dir = kst_cgroup_dir("/");

	free(dir);
	return dir != NULL;
}

/*
 * cr check -t PID: everything dump would do but write, with every problem
 * listed rather than the first one fatal; then the tree is let go.
 */
static int cmd_check_tree(const struct opts *opt)
{
	static struct image im;
	size_t nthreads = 0, nfds = 0, nvmas = 0, nrseq = 0, ntfd = 0, nfan = 0;
	size_t nlocks = 0, nmarks = 0;

	ctx.phase = "check";
	need_cr_capability();
	refusals = 0;
	im.ghost_limit = opt->ghost_limit;
	im.tcp_mode = opt->tcp_mode;
	im.file_locks = opt->file_locks;
	im.ext_unix = opt->ext_unix;
	collect(&im, opt->pid, opt->shell_job, opt->timeout_ms);
	undo_run();
	for (size_t i = 0; i < im.nt; i++) {
		nthreads += im.t[i].nth;
		nfds += im.t[i].nfds;
		nvmas += im.t[i].nvmas;
		for (size_t k = 0; k < im.t[i].nth; k++)
			nrseq += !!im.t[i].th[k].t.rseq_addr;
		for (size_t k = 0; k < im.t[i].nfds; k++) {
			const struct fd *d = &im.t[i].fds[k];

			ntfd += d->f.kind == TLV_FD_TIMERFD && d->tmr.value_ns;
			nfan += d->f.kind == TLV_FD_FANOTIFY;
			nmarks += d->nwatches + d->nmarks;
			nlocks += d->nlocks;
		}
	}
	printf("%zu processes, %zu threads, %zu mappings, %zu fds, %zu pipes, %zu file objects, %zu unix sockets\n",
	       im.nt, nthreads, nvmas, nfds, im.npipes, im.nobjs, im.nusks);
	printf("restore needs: clone3-set_tid (%s), prctl-mm-map (%s)",
	       probe_clone3() ? "ok" : "MISSING", probe_mm_map() ? "ok" : "MISSING");
	check_need(nrseq, "rseq", probe_rseq);
	check_need(ntfd, "timerfd-ticks", probe_timerfd_ticks);
	check_need(nfan, "fanotify", probe_fanotify);
	check_need(nmarks, "file-handles", probe_file_handles);
	check_need(nlocks, "file locks (dump --file-locks)", NULL);
	printf("\n");
	if (refusals)
		printf("%d problem%s: cr dump would refuse this tree\n", refusals,
		       refusals > 1 ? "s" : "");
	else
		printf("no problems found: cr dump can take this tree\n");
	return refusals ? 1 : 0;
}

static int cmd_check(const struct opts *opt)
{
	static const struct feature f[] = {
		{ "process_vm_readv", true, "copy a frozen process's memory in bulk", probe_vm_readv },
		{ "prctl-mm-map", true, "give a restored process its memory layout, auxv and exe link", probe_mm_map },
		{ "clone3-set_tid", true, "restore a process with its PID (or ns_last_pid on older kernels)", probe_clone3 },
		{ "memfd", true, "read an image from a pipe (--image -)", probe_memfd },
		{ "vdso", false, "put the vDSO back where the process had it", probe_vdso },
		{ "rseq", false, "re-register restartable sequences (glibc 2.35+ uses them)", probe_rseq },
		{ "pagemap-scan", false, "find the pages to save quickly (else /proc/PID/pagemap)", probe_pagemap_scan },
		{ "userfaultfd", false, "memory-change tracking for pre-dump (async write-protect, 6.7+)", probe_userfaultfd },
		{ "uffd events", false, "restore --lazy-pages: fork, remap, remove, unmap events and UFFDIO_POISON (6.6+)", probe_uffd_events },
		{ "pidfd_getfd", false, "read sockets (unix options and queues; inet, netlink, packet), timerfds, ptys, fanotify queues, SIGIO owners", probe_pidfd_getfd },
		{ "unix_diag", false, "find unix sockets' peers, names and listen queues", probe_unix_diag },
		{ "tiocgptpeer", false, "reach a pty's slave from its master: ptys, queued bytes (4.13+)", probe_ptypeer },
		{ "tcp-repair", false, "established TCP connections (--tcp-established)", probe_tcp_repair },
		{ "nftables", false, "the network lock while connections move (--tcp-established)", probe_nftables },
		{ "timerfd-ticks", false, "give a timerfd back its unread expirations (TFD_IOC_SET_TICKS)", probe_timerfd_ticks },
		{ "fanotify", false, "make fanotify groups again (CAP_SYS_ADMIN)", probe_fanotify },
		{ "file-handles", false, "find inotify watches and fanotify marks by file handle", probe_file_handles },
		{ "time-namespace", false, "keep CLOCK_MONOTONIC/BOOTTIME going across machines (restore --timens)", probe_timens },
		{ "timer-restore-ids", false, "POSIX timers back with their ids at once (else created in turn)", probe_timer_ids },
		{ "soft-dirty", false, "memory-change tracking for pre-dump where async write-protect is missing", probe_soft_dirty },
		{ "pkeys", false, "restore memory protection keys (x86 pku)", probe_pkeys },
		{ "mdwe", false, "restore PR_SET_MDWE (memory-deny-write-execute)", probe_mdwe },
		{ "cgroup2", false, "put a restored process back into its cgroup v2", probe_cgroup2 },
	};
	struct utsname u;
	int bad = 0;

	if (opt->pid)
		return cmd_check_tree(opt);
	ctx.phase = "check";
	if (!uname(&u))
		printf("kernel %s %s\n", u.release, u.machine);
	for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
		bool ok = f[i].probe();

		printf("%-8s %-17s %s\n", ok ? "ok" : f[i].required ? "MISSING" : "missing",
		       f[i].name, f[i].what);
		bad += !ok && f[i].required;
	}
	if (bad)
		printf("%d required feature%s missing: cr cannot work here\n", bad,
		       bad > 1 ? "s" : "");
	return bad ? 1 : 0;
}

/*
 * SHA-256 (FIPS 180-4 examples) and HMAC-SHA-256 (RFC 4231 cases 1-4, 6,
 * 7) on their published vectors.
 */
static int cmd_selftest(const struct opts *opt)
{
	static const struct {
		const char *key;	/* NULL: plain SHA-256 */
		size_t key_len;
		char key_byte;		/* key_len of these, if key is "" */
		const char *msg;
		size_t msg_len;
		char msg_byte;		/* msg_len of these, if msg is "" */
		const char *want;
	} v[] = {
		{ NULL, 0, 0, "abc", 3, 0,
		  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ NULL, 0, 0, "", 0, 0,
		  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ NULL, 0, 0, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, 0,
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
		{ NULL, 0, 0, "", 1000000, 'a',
		  "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
		{ "", 20, 0x0b, "Hi There", 8, 0,
		  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
		{ "Jefe", 4, 0, "what do ya want for nothing?", 28, 0,
		  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
		{ "", 20, (char)0xaa, "", 50, (char)0xdd,
		  "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
		{ "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e"
		  "\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19", 25, 0, "", 50, (char)0xcd,
		  "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
		{ "", 131, (char)0xaa, "Test Using Larger Than Block-Size Key - Hash Key First", 54, 0,
		  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
		{ "", 131, (char)0xaa, "This is a test using a larger than block-size key "
		  "and a larger than block-size data. The key needs to be hashed "
		  "before being used by the HMAC algorithm.", 152, 0,
		  "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
	};
	static uint8_t key[256], msg[1000000];
	int bad = 0;

	(void)opt;
	ctx.phase = "selftest";
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		uint8_t out[32];
		char hex[65];

		if (v[i].key && !*v[i].key)
			memset(key, v[i].key_byte, v[i].key_len);
		else if (v[i].key)
			memcpy(key, v[i].key, v[i].key_len);
		if (*v[i].msg)
			memcpy(msg, v[i].msg, v[i].msg_len);
		else
			memset(msg, v[i].msg_byte, v[i].msg_len);
		if (v[i].key) {
			struct hmac m;

			hmac_init(&m, key, v[i].key_len);
			/* in two parts, as a stream would come */
			sha256_update(&m.inner, msg, v[i].msg_len / 3);
			sha256_update(&m.inner, msg + v[i].msg_len / 3,
				      v[i].msg_len - v[i].msg_len / 3);
			hmac_result(&m, out);
		} else {
			struct sha256 c;

			sha256_init(&c);
			sha256_update(&c, msg, v[i].msg_len / 3);
			sha256_update(&c, msg + v[i].msg_len / 3,
				      v[i].msg_len - v[i].msg_len / 3);
			sha256_final(&c, out);
		}
		for (int k = 0; k < 32; k++)
			sprintf(hex + 2 * k, "%02x", out[k]);
		if (strcmp(hex, v[i].want)) {
			printf("%s vector %zu: got %s, want %s\n",
			       v[i].key ? "HMAC-SHA-256" : "SHA-256", i, hex,
			       v[i].want);
			bad++;
		}
	}
	printf("SHA-256 and HMAC-SHA-256: %zu of %zu test vectors right\n",
	       ARRAY_SIZE(v) - bad, ARRAY_SIZE(v));
	return bad ? 1 : 0;
}

/* ==== 12. command line and main ==========================================
 * Option names are CRIU's where CRIU has the feature.  All options go
 * through one table; each command then checks it got only its own.
 */
static const char usage_text[] =
	"usage: cr [-v] [-o LOG] COMMAND [OPTIONS]\n"
	"\n"
	"  dump     freeze a process, write its image, kill it (or -R: leave it running)\n"
	"  pre-dump copy a process's memory while it runs, for a later dump\n"
	"  restore  bring a process back from its image, with the same PID\n"
	"  migrate  move a running process to another machine (restore --listen)\n"
	"  page-server  receive and store images sent by dump --page-server\n"
	"  show     decode an image for a person (--json for tools)\n"
	"  check    list the kernel features cr uses and whether they are here\n"
	"  selftest check cr's SHA-256/HMAC (--sign, --verify) on standard vectors\n"
	"\n"
	"  cr COMMAND --help   options of one command\n";

/* pre-dump is a dump that lets the tree go before copying its memory. */
static int cmd_predump(const struct opts *opt)
{
	struct opts o = *opt;

	o.predump = true;
	return cmd_dump(&o);
}

struct cmd {
	const char *name;
	int (*run)(const struct opts *);
	const char *opts;	/* short letters and long names allowed */
	const char *help;
};

static const struct cmd cmds[] = {
	{ "dump", cmd_dump, "t D I R j T G Q K X S E C U L g", "usage: cr dump -t PID (-D DIR | --image FILE|- | --page-server HOST:PORT) [-R] [-j]\n"
	  "  -t, --tree PID          the process to dump, with its threads and children\n"
	  "  -D, --images-dir DIR    write DIR/cr.img (with --page-server: only the\n"
	  "                          chain note DIR/cr.note a next dump needs)\n"
	  "      --image FILE|-      write FILE, or standard output with -\n"
	  "      --page-server HOST:PORT  send the image to cr page-server or\n"
	  "                          cr restore --listen; the process is killed only\n"
	  "                          once it is stored there (or runs there)\n"
	  "  -R, --leave-running     leave the process running after the dump\n"
	  "  -j, --shell-job         stdio may be a terminal or pipe outside the tree;\n"
	  "                          the session may be the invoking shell's\n"
	  "      --timeout SEC       give up freezing after SEC seconds (default 10)\n"
	  "      --ghost-limit SIZE  largest unlinked file to carry in the image (1M)\n"
	  "      --tcp-established   dump established TCP connections (TCP_REPAIR)\n"
	  "      --tcp-close         restore them as closed sockets instead\n"
	  "      --tcp-unlock        with -R: give them back to the process at once\n"
	  "                          (as CRIU's -R; the image's are then stale),\n"
	  "                          instead of keeping them locked for a restore\n"
	  "      --file-locks        take flock, POSIX and OFD locks along (else refused)\n"
	  "      --prev-images-dir D save only pages changed since the pre-dump in D\n"
	  "                          (relative to the images dir); restore needs D\n"
	  "      --track-mem         with -R: keep tracking changes for a next dump\n"
	  "      --sign KEYFILE      add an HMAC-SHA-256 of the image keyed by KEYFILE\n"
	  "  -v, --verbose           more detail on stderr\n"
	  "  -o, --log-file LOG      append detail and errors to LOG\n" },
	{ "pre-dump", cmd_predump, "t D I j T G Q S g", "usage: cr pre-dump -t PID (-D DIR | --image FILE | --page-server HOST:PORT) [--prev-images-dir D]\n"
	  "  copy the memory of PID's tree while it runs (frozen only to find the\n"
	  "  pages), and track what it writes from then on; a later pre-dump or dump\n"
	  "  with --prev-images-dir saves only the pages written since\n"
	  "  -t, --tree PID          the process, with its threads and children\n"
	  "  -D, --images-dir DIR    write DIR/cr.img\n"
	  "      --prev-images-dir D the previous pre-dump (relative to DIR)\n"
	  "      --page-server HOST:PORT  send the image there; -D DIR keeps the\n"
	  "                          chain note for the next --prev-images-dir\n"
	  "      --sign KEYFILE      append an HMAC-SHA-256 (restore --verify checks\n"
	  "                          every image of the chain)\n"
	  "      --timeout SEC       give up freezing after SEC seconds (default 10)\n"
	  "      --ext-unix-sk       allow unix datagram sockets connected to a named\n"
	  "                          socket outside the tree (reconnected at restore)\n"
	  "  -v, --verbose           more detail on stderr\n"
	  "  -o, --log-file LOG      append detail and errors to LOG\n" },
	{ "restore", cmd_restore, "D I d j p T M Y N l A P", "usage: cr restore (-D DIR | --image FILE|- | --listen PORT) [-d] [-j] [--pidfile FILE]\n"
	  "  -D, --images-dir DIR    read DIR/cr.img\n"
	  "      --image FILE|-      read FILE, or standard input with -\n"
	  "      --listen PORT       receive the image chain of one cr migrate (or\n"
	  "                          dump --page-server) on TCP PORT and restore it\n"
	  "      --address ADDR      listen on ADDR only (default: all, IPv6 and 4)\n"
	  "  -d, --restore-detached  return once the process runs (else wait for it\n"
	  "                          and exit with its status, 128+N if killed by N)\n"
	  "  -j, --shell-job         give the process cr's own stdio (image from dump -j)\n"
	  "      --pidfile FILE      write the restored PID to FILE\n"
	  "      --timeout SEC       give up if the tree is not built in SEC seconds\n"
	  "      --timens            in a new time namespace whose CLOCK_MONOTONIC and\n"
	  "                          CLOCK_BOOTTIME go on from the dump's (after a reboot,\n"
	  "                          on another machine); automatic if it ran in one\n"
	  "      --verify KEYFILE    refuse the image unless its MAC is KEYFILE's\n"
	  "      --manage-cgroups    create the cgroups (v2) the tree was in if missing\n"
	  "      --lazy-pages        run before the memory is in: private anonymous\n"
	  "                          pages come on fault (userfaultfd) and in the\n"
	  "                          background, from a page server process\n"
	  "  -v, --verbose           more detail on stderr\n"
	  "  -o, --log-file LOG      append detail and errors to LOG\n" },
	{ "migrate", cmd_migrate, "t j T G X S E C L W i P", "usage: cr migrate -t PID --to HOST:PORT [--lazy-pages]\n"
	  "  move PID's tree to the cr restore --listen PORT at HOST: copy its\n"
	  "  memory while it runs, again and again while what it writes in between\n"
	  "  shrinks, then freeze it, send the rest, and kill it here once it runs\n"
	  "  there.  On any failure before that it goes on running here.\n"
	  "  -t, --tree PID          the process, with its threads and children\n"
	  "      --to HOST:PORT      the destination ([ADDRESS]:PORT for IPv6)\n"
	  "      --max-iters N       at most N copies while it runs (default 8)\n"
	  "      --sign KEYFILE      sign every image (restore --verify checks them)\n"
	  "      --lazy-pages        the destination restores with --lazy-pages: the\n"
	  "                          process runs there before its memory is in\n"
	  "  -j, --shell-job, --tcp-established, --tcp-close, --file-locks,\n"
	  "  --ext-unix-sk, --ghost-limit, --timeout   as for dump\n"
	  "  -v, --verbose           progress (also on whenever stderr is a terminal)\n" },
	{ "page-server", cmd_page_server, "D O A", "usage: cr page-server --port PORT -D DIR [--address ADDR]\n"
	  "  store the images sent by dump/pre-dump --page-server as DIR/1/cr.img,\n"
	  "  DIR/2/cr.img, ... (each checked, and complete before it is there);\n"
	  "  exits after a final image (a dump, not a pre-dump)\n"
	  "      --port PORT         TCP port to listen on\n"
	  "      --address ADDR      listen on ADDR only (default: all, IPv6 and 4)\n"
	  "  -v, --verbose           say what is stored\n" },
	{ "show", cmd_show, "D I J Y", "usage: cr show [DIR | -D DIR | --image FILE|-] [--json] [--verify KEYFILE]\n"
	  "      --json              one JSON document instead of text\n"
	  "      --verify KEYFILE    fail unless the image's MAC is KEYFILE's\n" },
	{ "selftest", cmd_selftest, "", "usage: cr selftest\n"
	  "  check SHA-256 and HMAC-SHA-256 against the standards' test vectors\n" },
	{ "check", cmd_check, "t j T G X E C L", "usage: cr check [-t PID [-j]]\n"
	  "  without -t: the kernel features cr uses, and whether they are here\n"
	  "  -t, --tree PID          freeze PID's tree for a moment and list every\n"
	  "                          reason cr dump would refuse it; it goes on\n"
	  "  -j, --shell-job         as for dump\n"
	  "      --ext-unix-sk       as for dump\n"
	  "      --file-locks        as for dump\n" },
};

static void __attribute__((noreturn)) usage(const char *why, const struct cmd *c)
{
	if (why)
		fprintf(stderr, "cr: %s\n", why);
	fputs(c ? c->help : usage_text, why ? stderr : stdout);
	exit(why ? 2 : 0);
}

static const struct option long_opts[] = {
	{ "tree", required_argument, NULL, 't' },
	{ "images-dir", required_argument, NULL, 'D' },
	{ "image", required_argument, NULL, 'I' },
	{ "leave-running", no_argument, NULL, 'R' },
	{ "restore-detached", no_argument, NULL, 'd' },
	{ "shell-job", no_argument, NULL, 'j' },
	{ "pidfile", required_argument, NULL, 'p' },
	{ "timeout", required_argument, NULL, 'T' },
	{ "ghost-limit", required_argument, NULL, 'G' },
	{ "file-locks", no_argument, NULL, 'L' },
	{ "prev-images-dir", required_argument, NULL, 'Q' },
	{ "track-mem", no_argument, NULL, 'K' },
	{ "sign", required_argument, NULL, 'S' },
	{ "verify", required_argument, NULL, 'Y' },
	{ "json", no_argument, NULL, 'J' },
	{ "tcp-established", no_argument, NULL, 'E' },
	{ "tcp-close", no_argument, NULL, 'C' },
	{ "tcp-unlock", no_argument, NULL, 'U' },
	{ "manage-cgroups", no_argument, NULL, 'M' },
	{ "ext-unix-sk", no_argument, NULL, 'X' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "log-file", required_argument, NULL, 'o' },
	{ "timens", no_argument, NULL, 'N' },
	{ "page-server", required_argument, NULL, 'g' },
	{ "to", required_argument, NULL, 'W' },
	{ "listen", required_argument, NULL, 'l' },
	{ "port", required_argument, NULL, 'O' },
	{ "address", required_argument, NULL, 'A' },
	{ "max-iters", required_argument, NULL, 'i' },
	{ "lazy-pages", no_argument, NULL, 'P' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 }
};

/*
 * Interrupting cr runs the undo stack like any other failure: a dump lets
 * its target go, a restore kills what it built.  A closed output pipe is
 * an EPIPE error from write, not a silent death.
 */
static void cli_on_signal(int sig)
{
	die("interrupted by signal %d", sig);
}

static void cli_signals(void)
{
	struct sigaction sa = { .sa_handler = cli_on_signal };

	sigfillset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Index of the command word: the first argument no option takes. */
static int find_command(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (a[0] != '-' || !a[1])
			return i;
		if (!strcmp(a, "--"))
			return i + 1 < argc ? i + 1 : -1;
		if ((a[1] != '-' && strchr("tDo", a[strlen(a) - 1]) && !a[2]) ||
		    !strcmp(a, "--tree") || !strcmp(a, "--images-dir") ||
		    !strcmp(a, "--image") || !strcmp(a, "--pidfile") ||
		    !strcmp(a, "--log-file") || !strcmp(a, "--timeout") ||
		    !strcmp(a, "--ghost-limit") || !strcmp(a, "--sign") ||
		    !strcmp(a, "--verify") || !strcmp(a, "--page-server") ||
		    !strcmp(a, "--to") || !strcmp(a, "--listen") ||
		    !strcmp(a, "--port") || !strcmp(a, "--address") ||
		    !strcmp(a, "--max-iters") ||
		    !strcmp(a, "--prev-images-dir"))
			i++;	/* skip the option's value */
	}
	return -1;
}

#ifdef CR_FUZZ
/*
 * The fuzz target (fuzz/): the image reader and validator on any bytes,
 * exactly as restore runs them before its first fork.  What they allocate
 * is freed after each input, even after a die() (fuzz_free_all).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct img_in in = { .name = "fuzz" };
	struct image im = { 0 };
	int fd = memfd_create("fuzz", MFD_CLOEXEC);

	if (!crc_table[1])
		crc_init();
	if (fd < 0 || write(fd, data, size) != (ssize_t)size ||
	    lseek(fd, 0, SEEK_SET)) {
		close(fd);
		return 0;
	}
	in.fd = fd;
	if (!setjmp(fuzz_out)) {
		img_read(&in, &im);
		img_check(&im);
	}
	close(fd);
	fuzz_free_all();
	return 0;
}
#define main cr_main	/* libFuzzer has its own */
#endif

int main(int argc, char **argv)
{
	struct opts o = { .timeout_ms = 10000, .ghost_limit = 1 << 20,
			  .max_iters = 8, .out_fd = -1, .note_fd = -1 };
	const struct cmd *c = NULL;
	const char *log = NULL;
	int ci = find_command(argc, argv), ch;
	uint64_t v;

	crc_init();
	if (ci > 0) {
		for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
			if (!strcmp(argv[ci], cmds[i].name))
				c = &cmds[i];
		if (!c) {
			fprintf(stderr, "cr: unknown command \"%s\"\n", argv[ci]);
			usage(NULL, NULL);
		}
		memmove(argv + ci, argv + ci + 1, (argc - ci) * sizeof(*argv));
		argc--;
	}
	while ((ch = getopt_long(argc, argv, "t:D:RdjvVo:h", long_opts, NULL)) != -1) {
		char letter[2] = { ch == 'V' ? 'v' : ch, 0 };

		if (ch == '?')
			usage("bad option", c);
		if (ch == 'h')
			usage(NULL, c);
		if (c && !strchr("vo", ch) && !strstr(c->opts, letter)) {
			fprintf(stderr, "cr: %s: option %s does not apply\n",
				c->name, argv[optind - 1]);
			exit(2);
		}
		switch (ch) {
		case 't':
			if (!parse_u64(optarg, 10, &v) || !v || v > INT_MAX)
				usage("-t takes a process id", c);
			o.pid = v;
			break;
		case 'D': o.dir = optarg; break;
		case 'I': o.image = optarg; break;
		case 'R': o.leave_running = true; break;
		case 'd': o.detach = true; break;
		case 'j': o.shell_job = true; break;
		case 'p': o.pidfile = optarg; break;
		case 'L':
			o.file_locks = true;
			break;
		case 'G':
			if (!parse_size(optarg, &o.ghost_limit))
				usage("--ghost-limit takes a size (e.g. 1M)", c);
			break;
		case 'T':
			if (!parse_u64(optarg, 10, &v) || !v || v > 3600)
				usage("--timeout takes seconds (1-3600)", c);
			o.timeout_ms = v * 1000;
			break;
		case 'J': o.json = true; break;
		case 'N': o.timens = true; break;
		case 'P': o.lazy = true; break;
		case 'S': o.sign = optarg; break;
		case 'Y': o.verify = optarg; break;
		case 'E':
		case 'C':
			if (o.tcp_mode && o.tcp_mode != ch)
				usage("--tcp-established and --tcp-close exclude each other", c);
			o.tcp_mode = ch;
			break;
		case 'U': o.tcp_unlock = true; break;
		case 'Q': o.prev_dir = optarg; break;
		case 'K': o.track_mem = true; break;
		case 'g': o.page_server = optarg; break;
		case 'W': o.to = optarg; break;
		case 'A': o.address = optarg; break;
		case 'l':
		case 'O':
			if (!parse_u64(optarg, 10, &v) || !v || v > 65535)
				usage("--listen and --port take a TCP port", c);
			*(ch == 'l' ? &o.listen : &o.port) = optarg;
			break;
		case 'i':
			if (!parse_u64(optarg, 10, &v) || v > XFER_SLOTS - 2)
				usage("--max-iters takes 0 to 62", c);
			o.max_iters = v;
			break;
		case 'M': o.manage_cgroups = true; break;
		case 'X': o.ext_unix = true; break;
		case 'v': ctx.verbose++; break;
		case 'o': log = optarg; break;
		}
	}
	if (!c)
		usage(ci > 0 ? NULL : "no command given", NULL);
	if (c->run == cmd_show && optind < argc && !o.dir && !o.image)
		o.dir = argv[optind++];
	if (optind < argc)
		usage("unexpected argument", c);
	if (o.dir && o.image)
		usage("-D and --image exclude each other", c);
	if (o.tcp_unlock && !o.leave_running)
		usage("--tcp-unlock goes with -R", c);
	if ((o.listen && (o.dir || o.image)) || (o.page_server && o.image))
		usage("--listen and --page-server exclude --image (and --listen -D)", c);
	if (log && !(ctx.log = fopen(log, "ae")))
		die_errno("opening log %s", log);
	cli_signals();
	return c->run(&o);
}
