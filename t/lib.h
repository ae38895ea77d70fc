/* Header-only library shared by the cr test programs (musl and glibc). */
#ifndef CR_TEST_LIB_H
#define CR_TEST_LIB_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * Protocol with t/run: the test sets up its state, calls test_ready()
 * ("ready\n" on fd 1), and is checkpointed/restored some time later.
 * Then it gets SIGTERM, checks the real state and ends with pass() or
 * fail().  Everything is written with write(2): no stdio buffers.
 */

#define T_MAX_FD 1024

static volatile sig_atomic_t test_sigterm;
static pid_t test_pid;
static bool test_checked;
static unsigned char test_fds[T_MAX_FD / 8];

static inline void t_write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= n;
	}
}

static inline void t_puts(const char *s)
{
	t_write_all(1, s, strlen(s));
}

__attribute__((noreturn, format(printf, 1, 2)))
static inline void fail(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	memcpy(buf, "FAIL: ", 6);
	va_start(ap, fmt);
	n = vsnprintf(buf + 6, sizeof(buf) - 7, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	n += 6;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	t_write_all(1, buf, n);
	exit(1);
}

__attribute__((noreturn))
static inline void skip(const char *why)
{
	t_puts("SKIP ");
	t_puts(why);
	t_puts("\n");
	exit(0);
}

__attribute__((noreturn))
static inline void pass(void)
{
	if (getpid() != test_pid)
		fail("pid changed: %d, was %d", (int)getpid(), (int)test_pid);
	t_puts("PASS\n");
	exit(0);
}

static inline void test_sigterm_handler(int sig)
{
	(void)sig;
	test_sigterm = 1;
}

/* Record the pid and catch SIGTERM (no SA_RESTART: syscalls get EINTR). */
static inline void test_init(int argc, char **argv)
{
	struct sigaction sa;

	(void)argc;
	(void)argv;
	test_pid = getpid();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = test_sigterm_handler;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL))
		fail("sigaction(SIGTERM): %s", strerror(errno));
}

static inline void t_fd_snapshot(unsigned char *map)
{
	int fd;

	memset(map, 0, T_MAX_FD / 8);
	for (fd = 0; fd < T_MAX_FD; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			map[fd / 8] |= 1 << (fd % 8);
}

/* Snapshot the open fds and tell the runner we can be dumped. */
static inline void test_ready(void)
{
	t_fd_snapshot(test_fds);
	t_write_all(1, "ready\n", 6);
}

/* Checks common to all tests once SIGTERM arrived (i.e. after restore). */
static inline void test_after(void)
{
	unsigned char now[T_MAX_FD / 8];
	int fd;

	if (test_checked)
		return;
	test_checked = true;
	if (getpid() != test_pid)
		fail("pid changed: %d, was %d", (int)getpid(), (int)test_pid);
	t_fd_snapshot(now);
	for (fd = 0; fd < T_MAX_FD; fd++) {
		int a = test_fds[fd / 8] >> (fd % 8) & 1;
		int b = now[fd / 8] >> (fd % 8) & 1;

		if (a != b)
			fail("fd %d %s after restore", fd,
			     a ? "missing" : "appeared");
	}
}

/* For spinning tests: has SIGTERM arrived?  Runs the common checks once. */
static inline bool test_done(void)
{
	if (!test_sigterm)
		return false;
	test_after();
	return true;
}

/* Sleep until SIGTERM (race-free), then run the common checks. */
static inline void test_wait(void)
{
	sigset_t term, old, wait;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &old);
	wait = old;
	sigdelset(&wait, SIGTERM);
	while (!test_sigterm)
		sigsuspend(&wait);
	sigprocmask(SIG_SETMASK, &old, NULL);
	test_after();
}

/* ---- data patterns ---- */

static inline uint64_t rnd_next(uint64_t *s)
{
	/* xorshift64*, never returns to a zero state */
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static inline void pattern_fill(void *p, size_t len, uint64_t seed)
{
	uint64_t s = seed, v = 0;
	unsigned char *c = p;
	size_t i;

	for (i = 0; i < len; i++) {
		if (i % 8 == 0)
			v = rnd_next(&s);
		c[i] = v >> (i % 8 * 8);
	}
}

/* Offset of the first byte that differs from the pattern, or -1. */
static inline long pattern_check(const void *p, size_t len, uint64_t seed)
{
	uint64_t s = seed, v = 0;
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < len; i++) {
		if (i % 8 == 0)
			v = rnd_next(&s);
		if (c[i] != (unsigned char)(v >> (i % 8 * 8)))
			return i;
	}
	return -1;
}

/* Offset of the first non-zero byte, or -1. */
static inline long zero_check(const void *p, size_t len)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (c[i])
			return i;
	return -1;
}

/* Offset of the first byte where a and b differ, or -1. */
static inline long mem_diff(const void *a, const void *b, size_t len)
{
	const unsigned char *x = a, *y = b;
	size_t i;

	for (i = 0; i < len; i++)
		if (x[i] != y[i])
			return i;
	return -1;
}

/* FNV-1a 64 */
static inline uint64_t csum(const void *p, size_t len)
{
	const unsigned char *c = p;
	uint64_t h = 0xcbf29ce484222325ull;

	while (len--) {
		h ^= *c++;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* ---- files, /proc ---- */

/* Read a whole (small) file without malloc; NUL-terminated; length or -1. */
static inline ssize_t read_file(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (len < size - 1) {
		ssize_t n = read(fd, buf + len, size - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	close(fd);
	buf[len] = 0;
	return len;
}

/* Create (truncate) a file with the given contents. */
static inline void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		fail("create %s: %s", path, strerror(errno));
	if (write(fd, buf, len) != (ssize_t)len)
		fail("write %s: %s", path, strerror(errno));
	close(fd);
}

struct vma {
	unsigned long start, end, off;
	char prot[5];
	char path[256];
};

static char t_maps[256 * 1024];

/*
 * Find the /proc/self/maps entry containing addr (name == NULL) or named
 * name (e.g. "[vdso]").  Returns 0 if found.
 */
static inline int vma_find(unsigned long addr, const char *name, struct vma *v)
{
	char *line, *next;

	if (read_file("/proc/self/maps", t_maps, sizeof(t_maps)) < 0)
		fail("read /proc/self/maps: %s", strerror(errno));
	for (line = t_maps; *line; line = next) {
		int pos = 0;

		next = strchr(line, '\n');
		if (!next)
			next = line + strlen(line);
		else
			*next++ = 0;
		memset(v, 0, sizeof(*v));
		if (sscanf(line, "%lx-%lx %4s %lx %*s %*s%n", &v->start,
			   &v->end, v->prot, &v->off, &pos) < 4)
			continue;
		while (line[pos] == ' ')
			pos++;
		snprintf(v->path, sizeof(v->path), "%s", line + pos);
		if (name ? !strcmp(v->path, name) :
			   (addr >= v->start && addr < v->end))
			return 0;
	}
	return -1;
}

/* Field n (1-based, as in proc(5)) of /proc/self/stat. */
static inline unsigned long long proc_stat_field(int n)
{
	char buf[1024], *p;
	int i;

	if (read_file("/proc/self/stat", buf, sizeof(buf)) < 0)
		fail("read /proc/self/stat: %s", strerror(errno));
	p = strrchr(buf, ')');
	if (!p || n < 3)
		fail("bad /proc/self/stat field %d", n);
	p += 2;			/* field 3 */
	for (i = 3; i < n && p; i++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p)
		fail("no field %d in /proc/self/stat", n);
	return strtoull(p, NULL, 10);
}

/* State letter of process pid (0 if there is none), and its parent. */
static inline char proc_state(pid_t pid, pid_t *ppid)
{
	char path[64], buf[1024], *p;
	int parent = 0;
	char st = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_file(path, buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')))
		return 0;
	sscanf(p + 1, " %c %d", &st, &parent);
	if (ppid)
		*ppid = parent;
	return st;
}

/* Value of a "Key:\tHEX" or "Key:\tNUM" line in /proc/self/status. */
static inline unsigned long long proc_status(const char *key, int base)
{
	static char buf[8192];
	size_t klen = strlen(key);
	char *p = buf;

	if (read_file("/proc/self/status", buf, sizeof(buf)) < 0)
		fail("read /proc/self/status: %s", strerror(errno));
	for (; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (!strncmp(p, key, klen) && p[klen] == ':')
			return strtoull(p + klen + 1, NULL, base);
	fail("no %s in /proc/self/status", key);
}

/* The 64 kernel signal bits of a sigset_t (both libcs store them first). */
static inline uint64_t sigset_bits(const sigset_t *set)
{
	uint64_t v;

	memcpy(&v, set, sizeof(v));
	return v;
}

/* ---- spinning counter (counter, refuse-*, tree-width) ---- */

static volatile unsigned long spin_global;

/*
 * Count in a register, on the stack, in a global and in an FP register,
 * checking every round that they agree.  Spins until SIGTERM, then 'extra'
 * rounds more (this part runs after the restore for sure).  Returns the
 * number of rounds done before SIGTERM.
 */
static inline unsigned long spin_counters(unsigned long extra)
{
	const unsigned long k = 0x9e3779b97f4a7c15ul;
	volatile unsigned long stack = 0;
	unsigned long reg = 0, mul = 0, before = 0, end = 0;
	double fp = 0;

	spin_global = 0;
	for (;;) {
		reg++;
		stack++;
		spin_global++;
		mul += k;
		fp += 1.0;
		if (stack != reg || spin_global != reg || mul != reg * k ||
		    fp != (double)reg)
			fail("counters diverged: reg %lu stack %lu global %lu "
			     "mul %#lx fp %.0f", reg, stack, spin_global, mul,
			     fp);
		if (!before) {
			if (!test_done())
				continue;
			before = reg;
			end = reg + extra;
		}
		if (reg == end)
			break;
	}
	return before;
}

/* ---- time ---- */

#define NS_PER_SEC 1000000000ll

static inline long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static inline void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, us % 1000000 * 1000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- futexes (private, on an int) ---- */

#define T_FUTEX_WAIT_PRIVATE 128
#define T_FUTEX_WAKE_PRIVATE 129

static inline long futex_wait(volatile int *word, int val)
{
	return syscall(SYS_futex, word, T_FUTEX_WAIT_PRIVATE, val, NULL,
		       NULL, 0);
}

/* Store val in *word and wake everybody waiting on it. */
static inline void futex_set(volatile int *word, int val)
{
	__atomic_store_n(word, val, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, word, T_FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL,
		0);
}

/* Sleep until *word is no longer 0. */
static inline void futex_await(volatile int *word)
{
	while (!__atomic_load_n(word, __ATOMIC_SEQ_CST))
		futex_wait(word, 0);
}

/* ---- threads (both libcs have pthreads in libc) ---- */

/* Block SIGTERM in this thread: threads created after inherit it, and
 * only the main thread (in test_wait()) takes it. */
static inline void block_sigterm(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static inline pthread_t thread_start(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	int err = pthread_create(&t, NULL, fn, arg);

	if (err)
		fail("pthread_create: %s", strerror(err));
	return t;
}

/* Join a thread within 10 s: without its clear_child_tid it never ends. */
static inline void thread_join(pthread_t t, const char *what)
{
	struct timespec ts;
	int err;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	err = pthread_timedjoin_np(t, NULL, &ts);
	if (err)
		fail("joining %s: %s", what, strerror(err));
}

/* /proc/self/task must list the main thread and tids[0..n-1], no more. */
static inline void check_tids(const pid_t *tids, int n)
{
	char path[64], buf[64];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/proc/self/task/%d/stat",
			 (int)tids[i]);
		if (read_file(path, buf, sizeof(buf)) <= 0)
			fail("thread %d: tid %d is not a thread of ours", i,
			     (int)tids[i]);
	}
	if (proc_status("Threads", 10) != (unsigned)n + 1)
		fail("%llu threads, want %d", proc_status("Threads", 10),
		     n + 1);
	if (gettid() != test_pid)
		fail("main thread's tid %d, want %d", (int)gettid(),
		     (int)test_pid);
}

/* ---- process trees ---- */

/*
 * Children are forked before test_ready() and inherit its SIGTERM
 * handler.  Each sets itself up, forks its own children, then calls
 * child_ready(sync); the root waits for all n descendants with
 * children_ready(sync, n).  sync is one pipe (sync_open()) for the whole
 * tree, closed everywhere before the root's test_ready().  After SIGTERM
 * (the runner only signals the root; each parent passes it on) a child
 * checks its state, ends its own children and exits with a code its
 * parent knows; fail() makes it exit 1.  Children never say PASS.
 */
static inline void sync_open(int sync[2])
{
	if (pipe2(sync, O_CLOEXEC))
		fail("pipe: %s", strerror(errno));
}

static inline pid_t xfork(void)
{
	pid_t pid = fork();

	if (pid < 0)
		fail("fork: %s", strerror(errno));
	return pid;
}

/* In a child: tell the root we are set up; from now on test_after()
 * checks this process's own pid and fds. */
static inline void child_ready(int sync[2])
{
	close(sync[0]);
	t_write_all(sync[1], "+", 1);
	close(sync[1]);
	test_pid = getpid();
	test_checked = false;
	t_fd_snapshot(test_fds);
}

/*
 * As child_ready(), for a child that shares the fd table (CLONE_FILES) or
 * must not close the pipe: one byte on fd says it is set up.
 */
static inline void child_ready_on(int fd)
{
	test_pid = getpid();
	test_checked = false;
	t_fd_snapshot(test_fds);
	if (write(fd, "r", 1) != 1)
		fail("child: write: %s", strerror(errno));
}

/* Where a process of the tree must be: checked from /proc and getpgid. */
struct proc_want {
	pid_t pid, ppid, pgid, sid;
};

static inline void check_proc(const struct proc_want *w, const char *me)
{
	pid_t ppid = 0;

	if (proc_state(w->pid, &ppid) == 0)
		fail("%s: process %d is gone", me, (int)w->pid);
	if (ppid != w->ppid || getpgid(w->pid) != w->pgid ||
	    getsid(w->pid) != w->sid)
		fail("%s: pid %d has parent %d group %d session %d, want %d %d %d",
		     me, (int)w->pid, (int)ppid, (int)getpgid(w->pid),
		     (int)getsid(w->pid), (int)w->ppid, (int)w->pgid,
		     (int)w->sid);
}

/* This process's children, from /proc: there must be exactly n (<= 8). */
static inline void my_children(pid_t *kids, int n)
{
	char path[64], buf[160] = "", *p = buf;
	int i, k, len;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children",
		 (int)getpid(), (int)getpid());
	if (read_file(path, buf, sizeof(buf)) < 0)
		fail("reading %s: %s", path, strerror(errno));
	for (i = 0; sscanf(p, "%d%n", &k, &len) == 1; i++, p += len)
		if (i < n)
			kids[i] = k;
	if (i != n)
		fail("children are \"%s\", want %d of them", buf, n);
}

/* Wait for EOF, when every descendant has closed the pipe: none holds it
 * when the root says ready. */
static inline void children_ready(int sync[2], int n)
{
	int got = 0;
	char c;

	close(sync[1]);
	while (read(sync[0], &c, 1) == 1)
		got++;
	close(sync[0]);
	if (got != n)
		fail("%d of %d children got ready", got, n);
}

static inline const char *wait_str(int st)
{
	static char buf[48];

	if (WIFEXITED(st))
		snprintf(buf, sizeof(buf), "exit %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, sizeof(buf), "signal %d", WTERMSIG(st));
	else
		snprintf(buf, sizeof(buf), "status %#x", st);
	return buf;
}

static inline int xwaitpid(pid_t pid, int flags)
{
	int st;
	pid_t got;

	while ((got = waitpid(pid, &st, flags)) < 0 && errno == EINTR)
		;
	if (got < 0 || (pid > 0 && got != pid))
		fail("waitpid(%d): %d: %s", (int)pid, (int)got,
		     got < 0 ? strerror(errno) : "another pid");
	return st;
}

/* Reap child pid (-1: any), which must exit with code. */
static inline void child_reap(pid_t pid, int code)
{
	int st = xwaitpid(pid, 0);

	if (!WIFEXITED(st) || WEXITSTATUS(st) != code)
		fail("child %d: %s, want exit %d", (int)pid, wait_str(st),
		     code);
}

/*
 * SIGTERM all n children and reap them: child i must exit codes[i].  None
 * is reaped before all have ended, so that, until then, each can still
 * look at the others (a zombie keeps its group and session).
 */
static inline void children_end(const pid_t *pids, const int *codes, int n)
{
	siginfo_t si;
	int i;

	for (i = 0; i < n; i++)
		if (kill(pids[i], SIGTERM))
			fail("kill(%d): %s", (int)pids[i], strerror(errno));
	for (i = 0; i < n; i++)
		while (waitid(P_PID, pids[i], &si, WEXITED | WNOWAIT))
			if (errno != EINTR)
				fail("waitid(%d): %s", (int)pids[i],
				     strerror(errno));
	for (i = 0; i < n; i++)
		child_reap(pids[i], codes[i]);
}

/* ---- rseq ---- */

#define RSEQ_SIG 0x53053053

struct rseq_area {
	uint32_t cpu_id_start;
	uint32_t cpu_id;
	uint64_t rseq_cs;
	uint32_t flags;
	uint32_t node_id;
	uint32_t mm_cid;
} __attribute__((aligned(32)));

/* glibc >= 2.35 exports where it registered rseq; absent under musl */
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

static __thread struct rseq_area t_rseq_own;

/* This thread's rseq area: glibc's, or our own registered now (musl). */
static inline volatile struct rseq_area *rseq_area(unsigned *len)
{
	if (&__rseq_size && __rseq_size) {
		*len = __rseq_size < 32 ? 32 : __rseq_size;
		return (void *)((char *)__builtin_thread_pointer() +
				__rseq_offset);
	}
	*len = sizeof(t_rseq_own);
	if (syscall(SYS_rseq, &t_rseq_own, *len, 0, RSEQ_SIG))
		fail("rseq: %s", strerror(errno));
	return &t_rseq_own;
}

/*
 * area must be this thread's registered rseq area (registering it again
 * says EBUSY) and the kernel must keep its cpu_id up to date.
 */
static inline void rseq_check(volatile struct rseq_area *area, unsigned len,
			      const char *when)
{
	long r = syscall(SYS_rseq, area, len, 0, RSEQ_SIG);
	unsigned cpu = 0;
	int i;

	if (r != -1 || errno != EBUSY)
		fail("%s: rseq(%p, %u) = %ld (%s), want EBUSY: not registered",
		     when, (void *)area, len, r, r ? strerror(errno) : "ok");
	for (i = 0; i < 100; i++) {
		area->cpu_id = 0xdeadbeefu;
		sleep_us(1000);
		if (syscall(SYS_getcpu, &cpu, NULL, NULL))
			fail("getcpu: %s", strerror(errno));
		if (area->cpu_id == cpu)
			return;
	}
	fail("%s: rseq cpu_id %#x, getcpu %u", when, area->cpu_id, cpu);
}

/* ---- memory shared between processes ---- */

#define PAGE 4096ul

/*
 * Write pattern 'seed' to page 'mine', then wait up to 10 s until page
 * 'theirs' holds pattern 'their_seed', written by another process that
 * does the same with the roles swapped: it proves the pages are shared.
 */
static inline void page_exchange(void *mine, uint64_t seed, const void *theirs,
				 uint64_t their_seed, const char *who)
{
	long long end = mono_ns() + 10 * NS_PER_SEC;

	pattern_fill(mine, PAGE, seed);
	while (pattern_check(theirs, PAGE, their_seed) >= 0) {
		if (mono_ns() > end)
			fail("%s: the other process's write to %p never "
			     "showed: not shared", who, theirs);
		sleep_us(500);
	}
}

/* addr must be in a shared mapping ("rw-s") of path (NULL: any). */
static inline void check_shared_map(const void *addr, const char *path,
				    const char *who)
{
	struct vma v;

	if (vma_find((unsigned long)addr, NULL, &v))
		fail("%s: %p is not mapped", who, addr);
	if (strcmp(v.prot, "rw-s") || (path && strcmp(v.path, path)))
		fail("%s: %p is in %s %s, want rw-s %s", who, addr, v.prot,
		     v.path, path ? path : "");
}

#endif
