// SPDX-License-Identifier: MIT
/*
 * bench: the benchmark harness for cr.
 *
 *   bench [-q] [-D DIR] [-o RESULTS_DIR] [-n RUNS] [--cr CR] [--target T]
 *   bench compare [OLD [NEW]]
 *
 * It measures the ceilings (what the primitives cr is built on can do on
 * this machine), then dumps and restores targets (bench/target.c) of
 * several kinds a few times each, and prints every time with its ratio to
 * the ceiling for the same bytes, measured in the same run.  Results also
 * go to RESULTS_DIR/<date>.txt as key=value lines, which `bench compare`
 * puts side by side.  The legend it prints says what each number is.
 *
 * It runs as PID 1 of a private PID namespace: cr restores a process with
 * its PID, which must be free, and the restored process is an orphan that
 * PID 1 reaps.  It has its own mount namespace, for a /proc of its own.
 *
 * The image directory is $CR_BENCH_DIR, or -D DIR, or /tmp/cr-bench.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

#define KiB		((size_t)1024)
#define MiB		(1024 * KiB)
#define GiB		(1024 * MiB)
#define MAX_RUNS	16
#define IOV_BATCH	1024		/* UIO_MAXIOV */
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* ==== options, output, small helpers ==================================== */

static struct {
	bool quick;
	int runs;			/* 0: per configuration */
	const char *only;		/* configurations to run, or all */
	bool cr_log;			/* cr -v -o DIR/cr.log */
	char dir[PATH_MAX];		/* images and scratch files */
	char cr[PATH_MAX];		/* as given */
	char crx[PATH_MAX];		/* the copy that is run */
	uint64_t cr_hash;		/* FNV-1a of its bytes */
	char target[PATH_MAX];
	char results[PATH_MAX];		/* directory of result files */
} opt;

static pid_t outer_pid;			/* our PID outside the namespace */
static char cur_ctl[PATH_MAX];		/* control file to remove on ^C */
static FILE *res;			/* the results file */
static size_t best_chunk = MiB;		/* best process_vm_readv batch */
static int failures;

#define PRINTF(a, b) __attribute__((format(printf, a, b)))

static void die(const char *fmt, ...) PRINTF(1, 2);
static void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cur_ctl[0])
		unlink(cur_ctl);
	exit(1);
}

#define die_errno(fmt, ...) die(fmt ": %s", ##__VA_ARGS__, strerror(errno))

static void say(const char *fmt, ...) PRINTF(1, 2);
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

/* key=value into the results file */
static void rkv(const char *key, const char *fmt, ...) PRINTF(2, 3);
static void rkv(const char *key, const char *fmt, ...)
{
	va_list ap;

	if (!res)
		return;
	fprintf(res, "%s=", key);
	va_start(ap, fmt);
	vfprintf(res, fmt, ap);
	va_end(ap);
	fputc('\n', res);
	fflush(res);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static double ms(uint64_t ns)
{
	return ns / 1e6;
}

static double gibps(uint64_t bytes, double msec)
{
	return msec > 0 ? bytes / (double)GiB / (msec / 1e3) : NAN;
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, us % 1000000 * 1000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static uint64_t ld(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void st(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= w;
	}
	return 0;
}

/* Read up to n bytes, until EOF; the count, or -1. */
static ssize_t read_all(int fd, void *p, size_t n)
{
	uint8_t *b = p;
	size_t got = 0;

	while (got < n) {
		size_t want = n - got > GiB ? GiB : n - got;
		ssize_t r = read(fd, b + got, want);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (!r)
			break;
		got += r;
	}
	return got;
}

static uint64_t meminfo_kib(const char *field)
{
	char line[256];
	size_t n = strlen(field);
	uint64_t v = 0;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':') {
			v = strtoull(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static void read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");

	buf[0] = 0;
	if (f) {
		if (!fgets(buf, size, f))
			buf[0] = 0;
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = 0;
}

/* The first line a command prints, or "". */
static void cmd_line(const char *cmd, char *buf, size_t size)
{
	FILE *p = popen(cmd, "re");

	buf[0] = 0;
	if (!p)
		return;
	if (!fgets(buf, size, p))
		buf[0] = 0;
	pclose(p);
	buf[strcspn(buf, "\n")] = 0;
}

static void mkdirs(const char *path)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			mkdir(p, 0755);
			*s = '/';
		}
	if (mkdir(p, 0755) && errno != EEXIST)
		die_errno("mkdir %s", p);
}

static void path_in(char *buf, const char *dir, const char *name)
{
	if ((size_t)snprintf(buf, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
		die("path too long: %s/%s", dir, name);
}

static uint64_t file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) ? 0 : (uint64_t)sb.st_size;
}

/* Copy an executable (atomically, by rename); its FNV-1a in opt.cr_hash. */
static void copy_exe(const char *from, const char *to)
{
	char tmp[PATH_MAX + 8], buf[64 * 1024];
	uint64_t h = 0xcbf29ce484222325ULL;
	int in = open(from, O_RDONLY | O_CLOEXEC), out;
	ssize_t n;

	if (in < 0)
		die_errno("%s", from);
	snprintf(tmp, sizeof(tmp), "%s.tmp", to);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (out < 0)
		die_errno("%s", tmp);
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ (uint8_t)buf[i]) * 0x100000001b3ULL;
		if (write_all(out, buf, n))
			die_errno("%s", tmp);
	}
	if (n < 0 || fchmod(out, 0755) || close(out) || rename(tmp, to))
		die_errno("copying %s to %s", from, to);
	close(in);
	opt.cr_hash = h;
}

/* Fresh anonymous memory with 4 KiB pages, not yet touched. */
static void *fresh_anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		die_errno("mmap %zu bytes", len);
	madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

static int pidfd_open(pid_t pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
}

/* ==== statistics ======================================================== */

struct st3 {
	double med, min, max;
	int n;
};

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median, min and max of the values that are not NaN. */
static struct st3 stats(const double *v, int n)
{
	double s[MAX_RUNS];
	struct st3 r = { NAN, NAN, NAN, 0 };

	for (int i = 0; i < n; i++)
		if (!isnan(v[i]))
			s[r.n++] = v[i];
	if (!r.n)
		return r;
	qsort(s, r.n, sizeof(*s), cmp_dbl);
	r.min = s[0];
	r.max = s[r.n - 1];
	r.med = r.n % 2 ? s[r.n / 2] : (s[r.n / 2 - 1] + s[r.n / 2]) / 2;
	return r;
}

static double median(const double *v, int n)
{
	return stats(v, n).med;
}

/* A number in 4 significant-ish digits, "-" for NaN. */
static const char *num(char *buf, double v)
{
	if (isnan(v))
		return strcpy(buf, "-");
	if (fabs(v) >= 100)
		sprintf(buf, "%.0f", v);
	else if (fabs(v) >= 10)
		sprintf(buf, "%.1f", v);
	else
		sprintf(buf, "%.2f", v);
	return buf;
}

/* ==== processes ========================================================== */

static void child_exec(char *const argv[], int in, int out, int err,
		       bool session)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	if (session && setsid() < 0)
		_exit(126);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(126);
	syscall(SYS_close_range, 3, ~0U, 0);
	sigaction(SIGPIPE, &dfl, NULL);
	sigaction(SIGINT, &dfl, NULL);
	sigaction(SIGTERM, &dfl, NULL);
	execv(argv[0], argv);
	_exit(127);
}

/* One run of a cr command. */
struct proc {
	char cmd[1024];			/* as a shell would say it */
	char err[PATH_MAX];		/* its stdout and stderr */
	pid_t pid;
	int pidfd;
	uint64_t t0, t1;		/* started, seen exiting */
	struct rusage ru;
	int status;
	bool done;
};

static void proc_start(struct proc *p, char *const argv0[], int in, int out,
		       const char *errname)
{
	static char log[PATH_MAX];
	char *argv[32];
	int err, k = 0;
	size_t n = 0;

	memset(p, 0, sizeof(*p));
	argv[k++] = argv0[0];
	if (opt.cr_log) {
		path_in(log, opt.dir, "cr.log");
		argv[k++] = "-v";
		argv[k++] = "-o";
		argv[k++] = log;
	}
	for (int i = 1; argv0[i] && k < 31; i++)
		argv[k++] = argv0[i];
	argv[k] = NULL;
	for (int i = 0; argv[i]; i++)
		n += snprintf(p->cmd + n, sizeof(p->cmd) - n, "%s%s",
			      i ? " " : "", argv[i]);
	path_in(p->err, opt.dir, errname);
	err = open(p->err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (err < 0)
		die_errno("%s", p->err);
	if (out < 0)
		out = err;
	p->t0 = now_ns();
	p->pid = fork();
	if (p->pid < 0)
		die_errno("fork");
	if (!p->pid)
		child_exec(argv, in, out, err, false);
	close(err);
	p->pidfd = pidfd_open(p->pid);
	if (p->pidfd < 0)
		die_errno("pidfd_open");
}

static void proc_report(const struct proc *p, const char *why)
{
	char line[512];
	FILE *f;

	say("\n  FAILED (%s): %s\n", why, p->cmd);
	f = fopen(p->err, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		say("    | %s", line);
	fclose(f);
}

static double cpu_ms(const struct rusage *ru)
{
	return ru->ru_utime.tv_sec * 1e3 + ru->ru_utime.tv_usec / 1e3 +
	       ru->ru_stime.tv_sec * 1e3 + ru->ru_stime.tv_usec / 1e3;
}

/* ==== targets ============================================================ */

struct seg {
	uint64_t addr, len;
};

struct config {
	const char *name;		/* results key */
	const char *what;		/* for people */
	uint64_t mib, nvmas, pages, threads;
	int runs, quick_runs;		/* quick_runs 0: not in -q */
	double mem_factor;		/* MemAvailable needed: factor x data */
};

struct target {
	pid_t pid;
	int pidfd;
	bool dead;
	int status;
	struct ctl *ctl;
	char ctlpath[PATH_MAX];
	struct seg *segs;
	size_t nsegs;
	uint64_t bytes;			/* sum of segs */
};

/* Reap the target if it has exited; true if it is gone. */
static bool target_gone(struct target *t, int timeout_ms)
{
	struct pollfd p = { t->pidfd, POLLIN, 0 };

	if (t->dead)
		return true;
	if (poll(&p, 1, timeout_ms) <= 0)
		return false;
	if (waitpid(t->pid, &t->status, 0) != t->pid)
		die_errno("waitpid %d", t->pid);
	t->dead = true;
	close(t->pidfd);
	t->pidfd = -1;
	return true;
}

static const char *how_died(int status, char *buf)
{
	if (WIFSIGNALED(status))
		sprintf(buf, "killed by signal %d", WTERMSIG(status));
	else
		sprintf(buf, "exited with status %d", WEXITSTATUS(status));
	return buf;
}

static void target_free(struct target *t)
{
	if (!t->ctl)
		return;
	if (!t->dead) {
		kill(t->pid, SIGKILL);
		target_gone(t, -1);
	}
	munmap(t->ctl, CTL_SIZE);
	unlink(t->ctlpath);
	cur_ctl[0] = 0;
	free(t->segs);
	memset(t, 0, sizeof(*t));
}

/* Take on the process cr restored with the target's PID. */
static int target_adopt(struct target *t)
{
	t->pidfd = pidfd_open(t->pid);
	if (t->pidfd < 0) {
		say("\n  restored pid %d: %s\n", t->pid, strerror(errno));
		return -1;
	}
	t->dead = false;
	return 0;
}

/* Wait until the target has gone round its loop n more times. */
static int target_beats(struct target *t, uint64_t n, int timeout_ms)
{
	uint64_t b0 = ld(&t->ctl->beat);
	uint64_t end = now_ns() + timeout_ms * 1000000ULL;
	char buf[64];

	while (ld(&t->ctl->beat) - b0 < n) {
		if (target_gone(t, 0)) {
			say("\n  target %d %s\n", t->pid,
			    how_died(t->status, buf));
			return -1;
		}
		if (now_ns() > end) {
			say("\n  target %d does not run (no heartbeat in %d ms)\n",
			    t->pid, timeout_ms);
			return -1;
		}
		sleep_us(100);
	}
	return 0;
}

/* Wait until the target has set *p to v. */
static int target_wait(struct target *t, const uint64_t *p, uint64_t v)
{
	uint64_t end = now_ns() + 10 * 1000000000ULL;

	while (ld(p) != v) {
		if (target_gone(t, 0) || now_ns() > end) {
			say("\n  target %d does not answer\n", t->pid);
			return -1;
		}
		sleep_us(100);
	}
	return 0;
}

/* Have the target check every word of its data; the count of bad ones. */
static int64_t target_check(struct target *t)
{
	uint64_t req = ld(&t->ctl->check) + 1;
	uint64_t end = now_ns() + 120 * 1000000000ULL;

	st(&t->ctl->check, req);
	while (ld(&t->ctl->check_ack) != req) {
		if (target_gone(t, 0) || now_ns() > end)
			return -1;
		sleep_us(1000);
	}
	return ld(&t->ctl->check_bad);
}

static int target_start(struct target *t, const struct config *c)
{
	static int seq;
	char a_mib[32], a_n[32], a_p[32], a_t[32], buf[64];
	char *argv[] = { opt.target, "-c", t->ctlpath, "-m", a_mib,
			 "-n", a_n, "-p", a_p, "-t", a_t, NULL };
	uint64_t end = now_ns() + 600 * 1000000000ULL;
	int fd, null;

	memset(t, 0, sizeof(*t));
	snprintf(t->ctlpath, sizeof(t->ctlpath), "/dev/shm/cr-bench-%d-%d",
		 outer_pid, seq++);
	fd = open(t->ctlpath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		die_errno("%s", t->ctlpath);
	strcpy(cur_ctl, t->ctlpath);
	if (ftruncate(fd, CTL_SIZE))
		die_errno("%s", t->ctlpath);
	t->ctl = mmap(NULL, CTL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      fd, 0);
	if (t->ctl == MAP_FAILED)
		die_errno("mmap %s", t->ctlpath);
	close(fd);
	/* fault the page in now: later stores must not touch the mtime */
	st(&t->ctl->spin, 0);

	sprintf(a_mib, "%llu", (unsigned long long)c->mib);
	sprintf(a_n, "%llu", (unsigned long long)c->nvmas);
	sprintf(a_p, "%llu", (unsigned long long)c->pages);
	sprintf(a_t, "%llu", (unsigned long long)c->threads);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0)
		die_errno("/dev/null");
	t->pid = fork();
	if (t->pid < 0)
		die_errno("fork");
	if (!t->pid)
		child_exec(argv, null, null, null, true);
	close(null);
	t->pidfd = pidfd_open(t->pid);
	if (t->pidfd < 0)
		die_errno("pidfd_open");

	while (ld(&t->ctl->ready) != CTL_READY) {
		if (ld(&t->ctl->ready) == CTL_FAILED) {
			say("\n  target: %.*s\n", (int)sizeof(t->ctl->err),
			    t->ctl->err);
			return -1;
		}
		if (target_gone(t, 1)) {
			say("\n  target %s %s\n", opt.target,
			    how_died(t->status, buf));
			return -1;
		}
		if (now_ns() > end) {
			say("\n  target not ready in 600 s\n");
			return -1;
		}
	}

	t->nsegs = (t->ctl->mem_len ? 1 : 0) + t->ctl->vma_count;
	t->segs = calloc(t->nsegs + 1, sizeof(*t->segs));
	if (!t->segs)
		die("out of memory");
	t->nsegs = 0;
	if (t->ctl->mem_len)
		t->segs[t->nsegs++] = (struct seg){ t->ctl->mem_addr,
						    t->ctl->mem_len };
	for (uint64_t i = 0; i < t->ctl->vma_count; i++)
		t->segs[t->nsegs++] = (struct seg){
			t->ctl->vma_base + i * t->ctl->vma_stride,
			t->ctl->vma_len };
	for (size_t i = 0; i < t->nsegs; i++)
		t->bytes += t->segs[i].len;
	return 0;
}

/* Is name in the comma-separated list? */
static bool in_list(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *s = list; *s; s += strcspn(s, ","), s += !!*s)
		if (!strncmp(s, name, n) && (s[n] == ',' || !s[n]))
			return true;
	return false;
}

/* Wait for cr processes (and reap the target if it dies meanwhile). */
static int procs_wait(struct proc **ps, int n, struct target *t,
		      int timeout_s)
{
	uint64_t end = now_ns() + timeout_s * 1000000000ULL;
	int left = n, bad = 0;

	while (left) {
		struct pollfd pfd[8];
		int np = 0, r;

		for (int i = 0; i < n; i++)
			if (!ps[i]->done)
				pfd[np++] = (struct pollfd){ ps[i]->pidfd,
							     POLLIN, 0 };
		if (t && !t->dead)
			pfd[np++] = (struct pollfd){ t->pidfd, POLLIN, 0 };
		r = poll(pfd, np, 100);
		if (r < 0 && errno != EINTR)
			die_errno("poll");
		for (int i = 0; i < n; i++) {
			struct proc *p = ps[i];
			struct pollfd q = { p->pidfd, POLLIN, 0 };

			if (p->done || poll(&q, 1, 0) <= 0)
				continue;
			p->t1 = now_ns();
			if (wait4(p->pid, &p->status, 0, &p->ru) != p->pid)
				die_errno("wait4 %d", p->pid);
			close(p->pidfd);
			p->done = true;
			left--;
		}
		if (t)
			target_gone(t, 0);
		if (left && now_ns() > end) {
			for (int i = 0; i < n; i++)
				if (!ps[i]->done) {
					kill(ps[i]->pid, SIGKILL);
					wait4(ps[i]->pid, &ps[i]->status, 0,
					      &ps[i]->ru);
					close(ps[i]->pidfd);
					ps[i]->done = true;
					proc_report(ps[i], "timed out");
					bad = -1;
				}
			return -1;
		}
	}
	for (int i = 0; i < n; i++) {
		char buf[64];

		if (WIFEXITED(ps[i]->status) && !WEXITSTATUS(ps[i]->status))
			continue;
		proc_report(ps[i], how_died(ps[i]->status, buf));
		bad = -1;
	}
	return bad;
}

static int run_cr(struct proc *p, char *const argv[], struct target *t,
		  int timeout_s)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	struct proc *ps[] = { p };
	int r;

	if (null < 0)
		die_errno("/dev/null");
	proc_start(p, argv, null, -1, "cr.out");
	close(null);
	r = procs_wait(ps, 1, t, timeout_s);
	return r;
}

/* ==== ceilings =========================================================== */

/*
 * Copy the target's data with process_vm_readv into buf, chunk bytes per
 * call (one remote iovec per mapping piece, at most IOV_BATCH), and write
 * each chunk to fd unless fd < 0.
 */
static int pvr_pass(const struct target *t, size_t chunk, uint8_t *buf,
		    int fd)
{
	struct iovec r[IOV_BATCH];
	size_t nr = 0, fill = 0, i = 0, off = 0;

	while (i < t->nsegs) {
		size_t n = t->segs[i].len - off;

		if (n > chunk - fill)
			n = chunk - fill;
		r[nr++] = (struct iovec){ (void *)(t->segs[i].addr + off), n };
		fill += n;
		off += n;
		if (off == t->segs[i].len) {
			i++;
			off = 0;
		}
		if (fill == chunk || nr == IOV_BATCH || i == t->nsegs) {
			struct iovec l = { buf, fill };

			if (process_vm_readv(t->pid, &l, 1, r, nr, 0) !=
			    (ssize_t)fill)
				die_errno("process_vm_readv of pid %d", t->pid);
			if (fd >= 0 && write_all(fd, buf, fill))
				die_errno("write");
			nr = fill = 0;
		}
	}
	return 0;
}

static uint8_t *chunk_buf(void)
{
	static uint8_t *b;

	if (!b) {
		b = fresh_anon(4 * MiB);
		memset(b, 1, 4 * MiB);
	}
	return b;
}

/* The dump ceiling: process_vm_readv + write() to a new file, + fsync. */
static void ceil_dump(const struct target *t, size_t chunk, double *w_ms,
		      double *f_ms)
{
	char path[PATH_MAX];
	uint64_t t0, t1, t2;
	int fd;

	path_in(path, opt.dir, "ceiling.img");
	unlink(path);
	t0 = now_ns();
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die_errno("%s", path);
	pvr_pass(t, chunk, chunk_buf(), fd);
	t1 = now_ns();
	if (fsync(fd))
		die_errno("fsync %s", path);
	t2 = now_ns();
	close(fd);
	unlink(path);
	*w_ms = ms(t1 - t0);
	if (f_ms)
		*f_ms = ms(t2 - t1);
}

static double ceil_pvr(const struct target *t, size_t chunk)
{
	uint64_t t0 = now_ns();

	pvr_pass(t, chunk, chunk_buf(), -1);
	return ms(now_ns() - t0);
}

/* read() of a (page-cached) file into fresh anonymous memory. */
static double ceil_read_fresh(const char *path, uint64_t bytes)
{
	uint64_t t0, t1;
	ssize_t r;
	void *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		die_errno("%s", path);
	t0 = now_ns();
	p = fresh_anon(bytes);
	r = read_all(fd, p, bytes);
	t1 = now_ns();
	if (r != (ssize_t)bytes)
		die_errno("reading %s", path);
	munmap(p, bytes);
	close(fd);
	return ms(t1 - t0);
}

/*
 * The stream ceiling: process_vm_readv + write() into a pipe, read by
 * another process into fresh anonymous memory, until it has it all.
 */
static double ceil_stream(const struct target *t, size_t chunk)
{
	uint64_t t0, t1;
	int p[2], status;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		die_errno("pipe");
	pid = fork();
	if (pid < 0)
		die_errno("fork");
	if (!pid) {
		void *m = fresh_anon(t->bytes);

		close(p[1]);
		_exit(read_all(p[0], m, t->bytes) == (ssize_t)t->bytes ? 0 : 1);
	}
	close(p[0]);
	t0 = now_ns();
	pvr_pass(t, chunk, chunk_buf(), p[1]);
	close(p[1]);
	if (waitpid(pid, &status, 0) != pid || status)
		die("stream ceiling: the reader failed");
	t1 = now_ns();
	return ms(t1 - t0);
}

/* ==== the ceilings section =============================================== */

static const size_t chunks[] = { 64 * KiB, 256 * KiB, MiB, 4 * MiB };

static void ceilings(void)
{
	uint64_t size = opt.quick ? 256 * MiB : GiB;
	uint64_t csize = opt.quick ? 64 * MiB : 256 * MiB;
	int reps = opt.quick ? 2 : 3;
	double v[MAX_RUNS], w[MAX_RUNS], f[MAX_RUNS], wf[MAX_RUNS];
	double best = INFINITY;
	struct config c = { .mib = size / MiB, .pages = 1, .threads = 1 };
	struct target t;
	char path[PATH_MAX], key[64];
	uint8_t *src, *dst;
	int fd;

	say("\n== Ceilings: what the primitives cr uses do here (one thread, "
	    "GiB/s, median of %d) ==\n", reps);

	src = fresh_anon(csize);
	dst = fresh_anon(csize);
	memset(src, 0x5a, csize);
	memset(dst, 0xa5, csize);
	for (int i = 0; i < 5; i++) {
		uint64_t t0 = now_ns();

		memcpy(dst, src, csize);
		v[i] = ms(now_ns() - t0);
		__asm__ volatile("" : : "r"(dst) : "memory");
	}
	say("  %-44s %6.2f   (%llu MiB, touched buffers)\n", "memcpy",
	    gibps(csize, median(v, 5)), (unsigned long long)(csize / MiB));
	rkv("ceil.memcpy_gibps", "%.3f", gibps(csize, median(v, 5)));
	munmap(dst, csize);

	/* write() and fsync, to a new file where the images go */
	path_in(path, opt.dir, "ceiling.img");
	for (int i = 0; i < reps; i++) {
		uint64_t t0, t1, t2;

		unlink(path);
		t0 = now_ns();
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			die_errno("%s", path);
		for (uint64_t off = 0; off < size; off += MiB)
			if (write_all(fd, src, MiB))
				die_errno("write %s", path);
		t1 = now_ns();
		if (fsync(fd))
			die_errno("fsync %s", path);
		t2 = now_ns();
		close(fd);
		w[i] = ms(t1 - t0);
		f[i] = ms(t2 - t1);
		wf[i] = ms(t2 - t0);
	}
	munmap(src, csize);
	say("  %-44s %6.2f   (%llu MiB to a new file in %s, 1 MiB writes)\n",
	    "write(), no fsync", gibps(size, median(w, reps)),
	    (unsigned long long)(size / MiB), opt.dir);
	say("  %-44s %6.2f   (the fsync alone: %.0f ms)\n", "write() + fsync",
	    gibps(size, median(wf, reps)), median(f, reps));
	rkv("ceil.write_gibps", "%.3f", gibps(size, median(w, reps)));
	rkv("ceil.write_fsync_gibps", "%.3f", gibps(size, median(wf, reps)));
	rkv("ceil.fsync_ms", "%.1f", median(f, reps));

	/* read() of the page-cached file into fresh / touched memory */
	for (int i = 0; i < reps; i++)
		v[i] = ceil_read_fresh(path, size);
	say("  %-44s %6.2f   (page-cached file into new 4 KiB pages)\n",
	    "read() into fresh anonymous memory", gibps(size, median(v, reps)));
	rkv("ceil.read_fresh_gibps", "%.3f", gibps(size, median(v, reps)));
	dst = fresh_anon(size);
	memset(dst, 1, size);
	for (int i = 0; i < reps; i++) {
		uint64_t t0 = now_ns();

		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || read_all(fd, dst, size) != (ssize_t)size)
			die_errno("reading %s", path);
		close(fd);
		v[i] = ms(now_ns() - t0);
	}
	munmap(dst, size);
	unlink(path);
	say("  %-44s %6.2f   (the same into memory already faulted in)\n",
	    "read() into touched memory", gibps(size, median(v, reps)));
	rkv("ceil.read_touched_gibps", "%.3f", gibps(size, median(v, reps)));

	/* process_vm_readv from a target, by batch size */
	if (target_start(&t, &c))
		die("the ceiling target did not start");
	for (size_t k = 0; k < ARRAY_SIZE(chunks); k++) {
		size_t ch = chunks[k];
		double pw;

		for (int i = 0; i < reps; i++)
			v[i] = ceil_pvr(&t, ch);
		ceil_dump(&t, ch, &pw, NULL);
		sprintf(key, "process_vm_readv, %4zu KiB iovecs", ch / KiB);
		say("  %-44s %6.2f   (then write() too: %.2f)%s\n", key,
		    gibps(size, median(v, reps)), gibps(size, pw),
		    ch == 4 * MiB ? ", cr's batch" : "");
		sprintf(key, "ceil.pvr_%zuk_gibps", ch >> 10);
		rkv(key, "%.3f", gibps(size, median(v, reps)));
		sprintf(key, "ceil.pvr_write_%zuk_gibps", ch >> 10);
		rkv(key, "%.3f", gibps(size, pw));
		if (pw < best) {
			best = pw;
			best_chunk = ch;
		}
	}
	rkv("ceil.best_chunk_kib", "%zu", best_chunk / KiB);
	for (int i = 0; i < reps; i++) {
		ceil_dump(&t, best_chunk, &w[i], &f[i]);
		wf[i] = w[i] + f[i];
	}
	say("  %-44s %6.2f   (process_vm_readv, %zu KiB, + write())\n",
	    "dump ceiling, no fsync", gibps(size, median(w, reps)),
	    best_chunk / KiB);
	say("  %-44s %6.2f   (what dumps are compared with)\n",
	    "dump ceiling + fsync", gibps(size, median(wf, reps)));
	rkv("ceil.dump_gibps", "%.3f", gibps(size, median(w, reps)));
	rkv("ceil.dump_fsync_gibps", "%.3f", gibps(size, median(wf, reps)));
	for (int i = 0; i < reps; i++)
		v[i] = ceil_stream(&t, best_chunk);
	say("  %-44s %6.2f   (process_vm_readv + pipe -> read() into fresh "
	    "memory)\n", "stream ceiling", gibps(size, median(v, reps)));
	rkv("ceil.stream_gibps", "%.3f", gibps(size, median(v, reps)));
	target_free(&t);
}

/* ==== one configuration ================================================== */

enum {
	M_SETUP, M_IMAGE, M_DATA,
	M_C_DUMP, M_C_DUMP_NOSYNC, M_C_REST, M_C_STREAM,
	M_DUMP, M_DUMP_CPU, M_DUMP_RSS,
	M_DUMPR, M_DUMPR_CPU, M_DUMPR_RSS, M_FROZEN, M_IDLE_GAP,
	M_REST, M_REST_CPU, M_REST_RSS,
	M_STREAM, M_STREAM_CPU, M_STREAM_RSS,
	M_SDUMP, M_SDUMP_CPU, M_SDUMP_RSS,
	M_X_DUMP, M_X_DUMPR, M_X_FROZEN, M_X_REST, M_X_STREAM,
	M_LAZY, M_LAZY_CPU, M_LAZY_RSS, M_LAZY_FILL, M_X_LAZY_FILL,
	M_LAZYC, M_LAZYC_CPU, M_LAZYC_RSS,
	NM
};

static const char *const mkey[NM] = {
	[M_SETUP] = "setup_ms", [M_IMAGE] = "image_mib", [M_DATA] = "data_mib",
	[M_C_DUMP] = "ceil_dump_ms", [M_C_DUMP_NOSYNC] = "ceil_dump_nosync_ms",
	[M_C_REST] = "ceil_restore_ms", [M_C_STREAM] = "ceil_stream_ms",
	[M_DUMP] = "dump_ms", [M_DUMP_CPU] = "dump_cpu_ms",
	[M_DUMP_RSS] = "dump_rss_mib",
	[M_DUMPR] = "dumpR_ms", [M_DUMPR_CPU] = "dumpR_cpu_ms",
	[M_DUMPR_RSS] = "dumpR_rss_mib", [M_FROZEN] = "frozenR_ms",
	[M_IDLE_GAP] = "idle_gap_ms",
	[M_REST] = "restore_ms", [M_REST_CPU] = "restore_cpu_ms",
	[M_REST_RSS] = "restore_rss_mib",
	[M_STREAM] = "stream_ms", [M_STREAM_CPU] = "stream_restore_cpu_ms",
	[M_STREAM_RSS] = "stream_restore_rss_mib",
	[M_SDUMP] = "stream_dump_ms", [M_SDUMP_CPU] = "stream_dump_cpu_ms",
	[M_SDUMP_RSS] = "stream_dump_rss_mib",
	[M_X_DUMP] = "x_dump", [M_X_DUMPR] = "x_dumpR",
	[M_X_FROZEN] = "x_frozenR", [M_X_REST] = "x_restore",
	[M_X_STREAM] = "x_stream",
	[M_LAZY] = "lazy_running_ms", [M_LAZY_CPU] = "lazy_cpu_ms",
	[M_LAZY_RSS] = "lazy_rss_mib", [M_LAZY_FILL] = "lazy_filled_ms",
	[M_X_LAZY_FILL] = "x_lazy_fill",
	[M_LAZYC] = "lazy_chain_running_ms", [M_LAZYC_CPU] = "lazy_chain_cpu_ms",
	[M_LAZYC_RSS] = "lazy_chain_rss_mib",
};

struct result {
	double v[NM][MAX_RUNS];
	int runs;
};

static void put_proc(struct result *r, int i, int m, int cpu, int rss,
		     const struct proc *p)
{
	r->v[m][i] = ms(p->t1 - p->t0);
	r->v[cpu][i] = cpu_ms(&p->ru);
	r->v[rss][i] = p->ru.ru_maxrss / 1024.0;
}

/* Has pid a mapping still registered with a userfaultfd (lazy pages)? */
static bool lazy_pending(pid_t pid)
{
	static char buf[1 << 20];
	char path[64];
	ssize_t n;
	int fd;

	sprintf(path, "/proc/%d/smaps", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read_all(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	for (char *p = buf; (p = strstr(p, "VmFlags:")); p++) {
		char *nl = strchr(p, '\n');

		if (nl)
			*nl = 0;
		if (strstr(p, " um"))
			return true;
		if (!nl)
			break;
		p = nl;
	}
	return false;
}

/*
 * cr restore --lazy-pages -d (argv) of the dead target: *p times it until
 * the target runs, *filled_ms until its pages are all in; then the target
 * is adopted again.
 */
static int lazy_restore(struct target *t, char **argv, const char *pidf,
			struct proc *p, int timeout, double *filled_ms)
{
	uint64_t end;

	unlink(pidf);
	if (run_cr(p, argv, NULL, timeout))
		return -1;
	end = now_ns() + timeout * 1000000000ULL;
	while (lazy_pending(t->pid) && now_ns() < end)
		sleep_us(200);
	*filled_ms = ms(now_ns() - p->t0);
	return target_adopt(t) || target_beats(t, 2, 10000) ? -1 : 0;
}

/*
 * One run: a fresh target, its ceilings, dump -R, dump, restore, a lazy
 * restore of the same image, a lazy restore of a pre-copy chain (pre-dump,
 * dump), stream.
 */
static int one_run(const struct config *c, struct result *rs, int i,
		   int timeout)
{
	char rdir[PATH_MAX], kdir[PATH_MAX], img[PATH_MAX], pidf[PATH_MAX];
	char pdir[PATH_MAX], cdir[PATH_MAX];
	char pidstr[32], rpid[32], buf[PATH_MAX];
	struct timespec ctl_times[2];	/* the control file's, at the dump */
	struct stat sb;
	struct target t;
	struct proc p, q;
	double (*v)[MAX_RUNS] = rs->v;
	int rc = -1;

	path_in(rdir, opt.dir, "running");
	path_in(kdir, opt.dir, "killed");
	path_in(img, kdir, "cr.img");
	path_in(pidf, opt.dir, "restored.pid");
	path_in(pdir, opt.dir, "pre");
	path_in(cdir, opt.dir, "chain");
	mkdirs(rdir);
	mkdirs(kdir);
	mkdirs(pdir);
	mkdirs(cdir);
	for (int m = 0; m < NM; m++)
		v[m][i] = NAN;

	if (target_start(&t, c))
		goto out;
	v[M_SETUP][i] = ms(t.ctl->setup_ns);
	v[M_DATA][i] = t.bytes / (double)MiB;
	sprintf(pidstr, "%d", t.pid);
	if (i == 0 && target_check(&t) != 0) {
		say("\n  the target's own check of its data failed\n");
		goto out;
	}
	if (t.bytes) {
		ceil_dump(&t, best_chunk, &v[M_C_DUMP_NOSYNC][i],
			  &v[M_C_DUMP][i]);
		v[M_C_DUMP][i] += v[M_C_DUMP_NOSYNC][i];
	}

	/* dump -R: frozen time = the longest gap the spinning thread saw */
	{
		char *argv[] = { opt.crx, "dump", "-R", "-t", pidstr, "-D",
				 rdir, NULL };
		uint64_t r;

		st(&t.ctl->spin, 1);
		while (!ld(&t.ctl->spinning))
			if (target_beats(&t, 1, 5000))
				goto out;
		r = ld(&t.ctl->reset) + 1;
		st(&t.ctl->reset, r);
		if (target_wait(&t, &t.ctl->reset_ack, r))
			goto out;
		sleep_us(20000);
		v[M_IDLE_GAP][i] = ld(&t.ctl->max_gap_ns) / 1e6;
		st(&t.ctl->reset, ++r);
		if (target_wait(&t, &t.ctl->reset_ack, r))
			goto out;
		if (run_cr(&p, argv, &t, timeout))
			goto out;
		put_proc(rs, i, M_DUMPR, M_DUMPR_CPU, M_DUMPR_RSS, &p);
		if (target_beats(&t, 2, 10000))
			goto out;
		v[M_FROZEN][i] = ld(&t.ctl->max_gap_ns) / 1e6;
		st(&t.ctl->spin, 0);
		if (target_wait(&t, &t.ctl->spinning, 0))
			goto out;
		path_in(buf, rdir, "cr.img");
		unlink(buf);
	}

	/* dump, which kills the target */
	{
		char *argv[] = { opt.crx, "dump", "-t", pidstr, "-D", kdir,
				 NULL };

		unlink(img);
		if (run_cr(&p, argv, &t, timeout))
			goto out;
		put_proc(rs, i, M_DUMP, M_DUMP_CPU, M_DUMP_RSS, &p);
		if (!target_gone(&t, 10000)) {
			say("\n  cr dump returned but pid %d lives on\n", t.pid);
			goto out;
		}
		v[M_IMAGE][i] = file_size(img) / (double)MiB;
		if (stat(t.ctlpath, &sb))
			die_errno("%s", t.ctlpath);
		ctl_times[0] = sb.st_atim;
		ctl_times[1] = sb.st_mtim;
	}

	/* restore, and its ceiling: the image file into fresh memory */
	{
		char *argv[] = { opt.crx, "restore", "-D", kdir, "-d",
				 "--pidfile", pidf, NULL };

		v[M_C_REST][i] = ceil_read_fresh(img, file_size(img));
		unlink(pidf);
		if (run_cr(&p, argv, NULL, timeout))
			goto out;
		put_proc(rs, i, M_REST, M_REST_CPU, M_REST_RSS, &p);
		read_line(pidf, rpid, sizeof(rpid));
		if (strcmp(rpid, pidstr)) {
			say("\n  restored as pid \"%s\", not %s\n", rpid, pidstr);
			goto out;
		}
		if (target_adopt(&t) || target_beats(&t, 2, 10000))
			goto out;
		if (i == 0 && target_check(&t) != 0) {
			say("\n  the restored target's data is not what it was "
			    "(%s)\n", p.cmd);
			goto out;
		}
	}

	/*
	 * restore --lazy-pages -d of the same image: the time until the
	 * target runs, then until its pages are all in (no mapping left
	 * registered with the page server's userfaultfd).
	 */
	{
		char *argv[] = { opt.crx, "restore", "-D", kdir, "-d",
				 "--lazy-pages", "--pidfile", pidf, NULL };

		kill(t.pid, SIGKILL);
		if (!target_gone(&t, 10000)) {
			say("\n  pid %d does not go away\n", t.pid);
			goto out;
		}
		/* the restored target's first store through its new mapping
		 * of the control file may have moved its mtime (6.18 does),
		 * and restore refuses a mapped file changed since the dump:
		 * the harness's own file, whose bytes do not matter here */
		if (utimensat(AT_FDCWD, t.ctlpath, ctl_times, 0))
			die_errno("%s", t.ctlpath);
		if (lazy_restore(&t, argv, pidf, &p, timeout,
				 &v[M_LAZY_FILL][i]))
			goto out;
		put_proc(rs, i, M_LAZY, M_LAZY_CPU, M_LAZY_RSS, &p);
		if (i == 0 && target_check(&t) != 0) {
			say("\n  the lazily restored target's data is not what "
			    "it was\n");
			goto out;
		}
	}

	/*
	 * The same from a pre-copy chain: pre-dump, dump against it (which
	 * kills the target), restore --lazy-pages -d: the pages are in the
	 * parent image, which must not be read before the process runs.
	 */
	{
		char *pargv[] = { opt.crx, "pre-dump", "-t", pidstr, "-D", pdir,
				  NULL };
		char *dargv[] = { opt.crx, "dump", "-t", pidstr, "-D", cdir,
				  "--prev-images-dir", pdir, NULL };
		char *rargv[] = { opt.crx, "restore", "-D", cdir, "-d",
				  "--lazy-pages", "--pidfile", pidf, NULL };
		double filled;

		if (run_cr(&p, pargv, &t, timeout) ||
		    run_cr(&p, dargv, &t, timeout))
			goto out;
		if (!target_gone(&t, 10000)) {
			say("\n  cr dump returned but pid %d lives on\n", t.pid);
			goto out;
		}
		if (lazy_restore(&t, rargv, pidf, &p, timeout, &filled))
			goto out;
		put_proc(rs, i, M_LAZYC, M_LAZYC_CPU, M_LAZYC_RSS, &p);
		if (i == 0 && target_check(&t) != 0) {
			say("\n  the target restored lazily from a chain has "
			    "other data\n");
			goto out;
		}
		path_in(buf, pdir, "cr.img");
		unlink(buf);
		path_in(buf, cdir, "cr.img");
		unlink(buf);
	}

	/* stream: cr dump --image - | cr restore --image - -d */
	{
		char *dargv[] = { opt.crx, "dump", "-t", pidstr, "--image", "-",
				  NULL };
		char *rargv[] = { opt.crx, "restore", "--image", "-", "-d",
				  "--pidfile", pidf, NULL };
		struct proc *ps[] = { &p, &q };
		int pp[2], null;

		if (t.bytes)
			v[M_C_STREAM][i] = ceil_stream(&t, best_chunk);
		unlink(pidf);
		null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null < 0 || pipe2(pp, O_CLOEXEC))
			die_errno("pipe");
		proc_start(&p, dargv, null, pp[1], "cr-dump.out");
		proc_start(&q, rargv, pp[0], -1, "cr-restore.out");
		/* the pipeline's time starts with its first process */
		q.t0 = p.t0;
		close(null);
		close(pp[0]);
		close(pp[1]);
		if (procs_wait(ps, 2, &t, timeout)) {
			say("  (the pipeline was: %s | %s)\n", p.cmd, q.cmd);
			goto out;
		}
		put_proc(rs, i, M_SDUMP, M_SDUMP_CPU, M_SDUMP_RSS, &p);
		put_proc(rs, i, M_STREAM, M_STREAM_CPU, M_STREAM_RSS, &q);
		if (!target_gone(&t, 10000)) {
			say("\n  the stream's dump returned but pid %d lives on\n",
			    t.pid);
			goto out;
		}
		read_line(pidf, rpid, sizeof(rpid));
		if (strcmp(rpid, pidstr)) {
			say("\n  stream: restored as pid \"%s\", not %s\n", rpid,
			    pidstr);
			goto out;
		}
		if (target_adopt(&t) || target_beats(&t, 2, 10000))
			goto out;
		if (i == 0 && target_check(&t) != 0) {
			say("\n  the stream-restored target's data is not what "
			    "it was\n");
			goto out;
		}
	}

	v[M_X_DUMP][i] = v[M_DUMP][i] / v[M_C_DUMP][i];
	v[M_X_DUMPR][i] = v[M_DUMPR][i] / v[M_C_DUMP][i];
	v[M_X_FROZEN][i] = v[M_FROZEN][i] / v[M_C_DUMP][i];
	v[M_X_REST][i] = v[M_REST][i] / v[M_C_REST][i];
	v[M_X_STREAM][i] = v[M_STREAM][i] / v[M_C_STREAM][i];
	/* the page server's copy, from the process running to all in */
	v[M_X_LAZY_FILL][i] = (v[M_LAZY_FILL][i] - v[M_LAZY][i]) /
			      v[M_C_REST][i];
	rc = 0;
out:
	/* after a failure, a process may hold the PID though t is "dead" */
	if (rc && t.ctl && t.dead)
		kill(t.pid, SIGKILL);
	target_free(&t);
	unlink(img);
	/* anything a failed restore left behind */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	return rc;
}

static const struct row {
	const char *label;
	int t, x, c, cpu, rss;
} rows[] = {
	{ "dump (killed)", M_DUMP, M_X_DUMP, M_C_DUMP, M_DUMP_CPU, M_DUMP_RSS },
	{ "dump -R", M_DUMPR, M_X_DUMPR, M_C_DUMP, M_DUMPR_CPU, M_DUMPR_RSS },
	{ "  frozen in -R", M_FROZEN, M_X_FROZEN, M_C_DUMP, -1, -1 },
	{ "restore", M_REST, M_X_REST, M_C_REST, M_REST_CPU, M_REST_RSS },
	{ "lazy: running", M_LAZY, -1, -1, M_LAZY_CPU, M_LAZY_RSS },
	{ "  all pages in", M_LAZY_FILL, M_X_LAZY_FILL, M_C_REST, -1, -1 },
	{ "lazy chain: running", M_LAZYC, -1, -1, M_LAZYC_CPU, M_LAZYC_RSS },
	{ "stream dump|restore", M_STREAM, M_X_STREAM, M_C_STREAM,
	  M_STREAM_CPU, M_STREAM_RSS },
	{ "  its dump exits", M_SDUMP, -1, -1, M_SDUMP_CPU, M_SDUMP_RSS },
};

static const char *span(char *buf, const struct st3 *s)
{
	char a[32], b[32], c[32];

	sprintf(buf, "%6s [%s..%s]", num(a, s->med), num(b, s->min),
		num(c, s->max));
	return buf;
}

static void print_result(const struct config *c, const struct result *r)
{
	double img = median(r->v[M_IMAGE], r->runs);
	char s1[96], s2[96], a[32], b[32], d[32], e[32];

	say("  %-20s %-24s %-21s %10s %6s %8s %7s\n", "", "time ms",
	    "x ceiling", "ceiling", "GiB/s", "cr CPU", "cr RSS");
	say("  %-20s %-24s %-21s %10s %6s %8s %7s\n", "", "median [min..max]",
	    "median [min..max]", "ms", "", "ms", "MiB");
	for (size_t k = 0; k < ARRAY_SIZE(rows); k++) {
		const struct row *w = &rows[k];
		struct st3 t = stats(r->v[w->t], r->runs);
		struct st3 x = { NAN, NAN, NAN, 0 };

		if (w->x >= 0)
			x = stats(r->v[w->x], r->runs);
		say("  %-20s %-24s %-21s %10s %6s %8s %7s\n", w->label,
		    span(s1, &t), x.n ? span(s2, &x) : "     -",
		    num(a, w->c >= 0 ? median(r->v[w->c], r->runs) : NAN),
		    num(b, w->t == M_FROZEN || w->t == M_LAZY ||
			   w->t == M_LAZYC ? NAN :
			    gibps(img * MiB, t.med)),
		    num(d, w->cpu >= 0 ? median(r->v[w->cpu], r->runs) : NAN),
		    num(e, w->rss >= 0 ? median(r->v[w->rss], r->runs) : NAN));
	}
	say("  image %s MiB, data %s MiB; target set up in %s ms; "
	    "idle gap (noise floor of frozen) %s ms\n",
	    num(a, img), num(b, median(r->v[M_DATA], r->runs)),
	    num(d, median(r->v[M_SETUP], r->runs)),
	    num(e, median(r->v[M_IDLE_GAP], r->runs)));
	for (int i = 0; i < r->runs; i++) {
		char key[128];

		if (!(r->v[M_FROZEN][i] < r->v[M_DUMPR][i] / 2) ||
		    r->v[M_DUMPR][i] < 50)
			continue;
		say("  NOTE: run %d: frozen for %s ms of a %s ms dump -R: "
		    "was the process let run during the dump?\n", i + 1,
		    num(a, r->v[M_FROZEN][i]), num(b, r->v[M_DUMPR][i]));
		sprintf(key, "%s.note.run%d", c->name, i + 1);
		rkv(key, "frozen %.4g ms of a %.4g ms dump -R",
		    r->v[M_FROZEN][i], r->v[M_DUMPR][i]);
	}
	if (c->nvmas || c->threads > 1) {
		uint64_t n = c->nvmas ? c->nvmas : c->threads;

		say("  per %s: dump %s us, dump -R %s us, frozen %s us, "
		    "restore %s us\n", c->nvmas ? "mapping" : "thread",
		    num(a, median(r->v[M_DUMP], r->runs) * 1e3 / n),
		    num(b, median(r->v[M_DUMPR], r->runs) * 1e3 / n),
		    num(d, median(r->v[M_FROZEN], r->runs) * 1e3 / n),
		    num(e, median(r->v[M_REST], r->runs) * 1e3 / n));
	}
}

static void save_result(const struct config *c, const struct result *r)
{
	char key[128], all[MAX_RUNS * 24];

	sprintf(key, "%s.runs", c->name);
	rkv(key, "%d", r->runs);
	for (int m = 0; m < NM; m++) {
		struct st3 s = stats(r->v[m], r->runs);
		size_t n = 0;

		if (!s.n)
			continue;
		for (int i = 0; i < r->runs; i++)
			n += snprintf(all + n, sizeof(all) - n, "%s%.4g",
				      i ? "," : "", r->v[m][i]);
		sprintf(key, "%s.%s.med", c->name, mkey[m]);
		rkv(key, "%.4g", s.med);
		sprintf(key, "%s.%s.min", c->name, mkey[m]);
		rkv(key, "%.4g", s.min);
		sprintf(key, "%s.%s.max", c->name, mkey[m]);
		rkv(key, "%.4g", s.max);
		sprintf(key, "%s.%s.all", c->name, mkey[m]);
		rkv(key, "%s", all);
	}
}

static struct config configs[] = {
	{ "mem-256M", "256 MiB of touched anonymous memory, 1 thread",
	  256, 0, 1, 1, 5, 3, 3.5 },
	{ "mem-1G", "1 GiB of touched anonymous memory, 1 thread",
	  1024, 0, 1, 1, 5, 0, 3.5 },
	{ "mem-4G", "4 GiB of touched anonymous memory, 1 thread",
	  4096, 0, 1, 1, 3, 0, 3.5 },
	{ "vmas-10000", "10000 mappings of one touched page each",
	  0, 10000, 1, 1, 5, 3, 3.5 },
	{ "threads-256", "256 threads (255 in futex wait), no bulk data",
	  0, 0, 1, 256, 5, 3, 3.5 },
};

static struct result results[ARRAY_SIZE(configs)];
static bool ran[ARRAY_SIZE(configs)];

static void run_config(size_t ci)
{
	const struct config *c = &configs[ci];
	struct result *r = &results[ci];
	uint64_t data = c->mib * MiB + c->nvmas * c->pages * 4096;
	uint64_t avail = meminfo_kib("MemAvailable") * KiB;
	uint64_t need = (uint64_t)(c->mem_factor * data) + GiB;
	int runs = opt.quick ? c->quick_runs : c->runs;

	if (opt.only) {
		if (!in_list(opt.only, c->name))
			return;
		if (!runs)
			runs = c->runs;	/* named, so wanted even if -q */
	}
	int timeout = 120 + 60 * (int)(data / GiB);
	struct statfs sf;
	char key[128];

	if (!runs)
		return;		/* not in a quick run */
	if (opt.runs)
		runs = opt.runs;
	if (runs > MAX_RUNS)
		runs = MAX_RUNS;
	say("\n== %s: %s ==\n", c->name, c->what);
	if (avail < need) {
		say("  skipped: MemAvailable %.1f GiB < %.1f GiB needed\n",
		    avail / (double)GiB, need / (double)GiB);
		sprintf(key, "%s.skipped", c->name);
		rkv(key, "MemAvailable %llu < %llu", (unsigned long long)avail,
		    (unsigned long long)need);
		return;
	}
	if (!statfs(opt.dir, &sf) &&
	    (uint64_t)sf.f_bavail * sf.f_bsize < 2 * data + GiB) {
		say("  skipped: %s has %.1f GiB free, %.1f GiB needed\n",
		    opt.dir, (double)sf.f_bavail * sf.f_bsize / GiB,
		    (2 * data + GiB) / (double)GiB);
		sprintf(key, "%s.skipped", c->name);
		rkv(key, "disk space");
		return;
	}
	say("  run");
	for (int i = 0; i < runs; i++) {
		say(" %d", i + 1);
		if (one_run(c, r, i, timeout)) {
			say("  %s: run %d failed; the configuration is "
			    "abandoned\n", c->name, i + 1);
			sprintf(key, "%s.failed", c->name);
			rkv(key, "run %d", i + 1);
			failures++;
			r->runs = i;
			break;
		}
		r->runs = i + 1;
	}
	if (!r->runs)
		return;
	if (r->runs == runs)
		say("\n");
	print_result(c, r);
	save_result(c, r);
	ran[ci] = true;
}

static void summary(void)
{
	char a[9][32];

	say("\n== Summary: medians, x ceiling (1.00 = as fast as copying the "
	    "same bytes with the primitives) ==\n");
	say("  %-13s %8s %8s %10s %8s %8s %10s %10s %8s %7s\n", "", "dump",
	    "dump -R", "frozen -R", "restore", "stream", "image MiB",
	    "stream GiB/s", "lazy ms", "fill x");
	for (size_t ci = 0; ci < ARRAY_SIZE(configs); ci++) {
		const struct result *r = &results[ci];

		if (!ran[ci])
			continue;
		say("  %-13s %8s %8s %10s %8s %8s %10s %10s %8s %7s\n",
		    configs[ci].name,
		    num(a[0], median(r->v[M_X_DUMP], r->runs)),
		    num(a[1], median(r->v[M_X_DUMPR], r->runs)),
		    num(a[2], median(r->v[M_X_FROZEN], r->runs)),
		    num(a[3], median(r->v[M_X_REST], r->runs)),
		    num(a[4], median(r->v[M_X_STREAM], r->runs)),
		    num(a[5], median(r->v[M_IMAGE], r->runs)),
		    num(a[6], gibps(median(r->v[M_IMAGE], r->runs) * MiB,
				 median(r->v[M_STREAM], r->runs))),
		    num(a[7], median(r->v[M_LAZY], r->runs)),
		    num(a[8], median(r->v[M_X_LAZY_FILL], r->runs)));
	}
}

static const char legend[] =
"Legend\n"
"  Each run starts a fresh target (bench/target.c), then: the ceilings for\n"
"  its data, cr dump -R, cr dump (kills it), cr restore -d, that process\n"
"  killed and the image restored again with --lazy-pages, then\n"
"  cr dump --image - | cr restore --image - -d of the restored process.\n"
"  Times are wall-clock ms, median [min..max] over the runs.\n"
"  x ceiling = the time / the time the primitives take for the same bytes,\n"
"  measured in the same run (1.00: as fast as that; 2.00: twice as long):\n"
"    dump, dump -R, frozen  vs  process_vm_readv of the target's data into a\n"
"               buffer + write() to a new file where the images go + fsync\n"
"               (cr fsyncs its image before it returns)\n"
"    restore    vs  read() of the (page-cached) image file into fresh\n"
"               anonymous memory (4 KiB pages): the image's bytes\n"
"    stream     vs  process_vm_readv + write() into a pipe, which another\n"
"               process reads into fresh anonymous memory\n"
"  dump (killed)  cr dump: the target is frozen for all of this time\n"
"  dump -R        cr dump -R: the target goes on afterwards\n"
"  frozen in -R   how long it was frozen: the longest gap a thread of it\n"
"                 saw between two reads of CLOCK_MONOTONIC while spinning\n"
"                 (idle gap: the same over 20 ms without a dump)\n"
"  restore        cr restore -d until it returns, i.e. the process runs\n"
"  lazy: running  cr restore -d --lazy-pages until it returns (the process\n"
"                 runs; its anonymous pages come after, from a page server)\n"
"  all pages in   from that start until no mapping of it is registered\n"
"                 with the server's userfaultfd any more (smaps \"um\");\n"
"                 x ceiling: (all in - running) / the restore ceiling,\n"
"                 i.e. the background fill against read() into fresh memory\n"
"  lazy chain     the same, restored from a pre-copy chain (cr pre-dump,\n"
"                 then cr dump --prev-images-dir, which kills it): the\n"
"                 pages are in the parent image\n"
"  stream         the pipeline until restore returns (the downtime of a\n"
"                 migration); \"its dump exits\": when the dump side ended\n"
"  GiB/s = image bytes / time.  cr CPU = user + system time of that cr;\n"
"  cr RSS = its peak resident memory (ru_maxrss from wait4).\n"
"  Targets with no bulk data (threads) have no dump or stream ceiling;\n"
"  there, per-thread (per-mapping) costs are the numbers to watch.\n"
"  This machine is shared and noisy: compare the x-ceiling ratios between\n"
"  result files (bench compare) rather than the milliseconds.\n";

/* ==== the header ========================================================== */

static const char *fs_name(long type)
{
	switch ((unsigned long)type) {
	case 0xEF53: return "ext4";
	case 0x01021994: return "tmpfs";
	case 0x58465342: return "xfs";
	case 0x9123683E: return "btrfs";
	case 0x794c7630: return "overlayfs";
	case 0x6969: return "nfs";
	case 0xF2F52010: return "f2fs";
	default: return "?";
	}
}

static void header(const char *stamp)
{
	char cpu[256] = "", line[256], commit[64], dirty[256], thp[128];
	struct utsname u;
	struct statfs sf;
	struct stat sb;
	static const char *const srcs[] = { "cr.c", "restorer.c", "tlv.h" };
	char crdir[PATH_MAX], cmd[PATH_MAX + 128], built[32], *s;
	struct tm tm;
	FILE *f;

	uname(&u);
	f = fopen("/proc/cpuinfo", "re");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "model name", 10) &&
		    (s = strchr(line, ':'))) {
			snprintf(cpu, sizeof(cpu), "%s", s + 2);
			cpu[strcspn(cpu, "\n")] = 0;
			break;
		}
	if (f)
		fclose(f);
	read_line("/sys/kernel/mm/transparent_hugepage/enabled", thp,
		  sizeof(thp));
	snprintf(crdir, sizeof(crdir), "%s", opt.cr);
	if ((s = strrchr(crdir, '/')))
		*s = 0;
	snprintf(cmd, sizeof(cmd), "git -C '%s' rev-parse --short HEAD "
		 "2>/dev/null", crdir);
	cmd_line(cmd, commit, sizeof(commit));
	snprintf(cmd, sizeof(cmd), "git -C '%s' status --porcelain -- cr.c "
		 "restorer.c tlv.h 'arch_*.S' Makefile 2>/dev/null | "
		 "cut -c4- | tr '\\n' ' '", crdir);
	cmd_line(cmd, dirty, sizeof(dirty));
	if (stat(opt.cr, &sb))
		die_errno("%s", opt.cr);
	if (statfs(opt.dir, &sf))
		die_errno("statfs %s", opt.dir);

	say("cr benchmark, %s%s\n", stamp, opt.quick ? ", quick" : "");
	localtime_r(&sb.st_mtime, &tm);
	strftime(built, sizeof(built), "%Y-%m-%d %H:%M:%S", &tm);
	say("  cr       %s: %lld bytes, built %s, hash %016llx (run from a "
	    "copy, %s)\n", opt.cr, (long long)sb.st_size, built,
	    (unsigned long long)opt.cr_hash, opt.crx);
	say("  sources  commit %s%s%s\n", commit[0] ? commit : "?",
	    dirty[0] ? ", modified: " : "", dirty);
	for (size_t i = 0; i < ARRAY_SIZE(srcs); i++) {
		struct stat ss;

		snprintf(cmd, sizeof(cmd), "%s/%s", crdir, srcs[i]);
		if (!stat(cmd, &ss) && ss.st_mtime > sb.st_mtime)
			say("  (note: %s is newer than the cr binary)\n", cmd);
	}
	say("  host     Linux %s %s, %ld CPUs (%s), MemTotal %.1f GiB, "
	    "MemAvailable %.1f GiB\n", u.release, u.machine,
	    sysconf(_SC_NPROCESSORS_ONLN), cpu,
	    meminfo_kib("MemTotal") / (double)MiB,
	    meminfo_kib("MemAvailable") / (double)MiB);
	say("  THP      %s\n", thp);
	say("  images   %s (%s, %.0f GiB free)\n", opt.dir, fs_name(sf.f_type),
	    (double)sf.f_bavail * sf.f_bsize / GiB);

	rkv("meta.date", "%s", stamp);
	rkv("meta.mode", "%s", opt.quick ? "quick" : "full");
	rkv("meta.commit", "%s", commit[0] ? commit : "?");
	rkv("meta.modified", "%s", dirty);
	rkv("meta.cr_bytes", "%lld", (long long)sb.st_size);
	rkv("meta.cr_built", "%s", built);
	rkv("meta.cr_hash", "%016llx", (unsigned long long)opt.cr_hash);
	rkv("meta.kernel", "%s", u.release);
	rkv("meta.cpus", "%ld", sysconf(_SC_NPROCESSORS_ONLN));
	rkv("meta.cpu", "%s", cpu);
	rkv("meta.mem_total_kib", "%llu",
	    (unsigned long long)meminfo_kib("MemTotal"));
	rkv("meta.thp", "%s", thp);
	rkv("meta.image_dir", "%s", opt.dir);
	rkv("meta.image_fs", "%s", fs_name(sf.f_type));
}

/* ==== compare ============================================================= */

struct kv {
	char *key, *val;
};

struct kvfile {
	struct kv *v;
	size_t n;
};

static void load_kv(const char *path, struct kvfile *f)
{
	char line[4096];
	FILE *in = fopen(path, "re");

	if (!in)
		die_errno("%s", path);
	memset(f, 0, sizeof(*f));
	while (fgets(line, sizeof(line), in)) {
		char *eq = strchr(line, '=');

		line[strcspn(line, "\n")] = 0;
		if (line[0] == '#' || !eq)
			continue;
		*eq = 0;
		f->v = realloc(f->v, (f->n + 1) * sizeof(*f->v));
		if (!f->v)
			die("out of memory");
		f->v[f->n].key = strdup(line);
		f->v[f->n].val = strdup(eq + 1);
		f->n++;
	}
	fclose(in);
}

static const char *kv_get(const struct kvfile *f, const char *key)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->v[i].key, key))
			return f->v[i].val;
	return NULL;
}

static bool ends_with(const char *s, const char *end)
{
	size_t a = strlen(s), b = strlen(end);

	return a >= b && !strcmp(s + a - b, end);
}

static bool is_num(const char *s, double *v)
{
	char *e;

	if (!s || !*s)
		return false;
	*v = strtod(s, &e);
	return !*e;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The newest result files: names sort by date. */
static int newest(char out[][PATH_MAX], int want)
{
	char *names[4096];
	int n = 0, got = 0;
	struct dirent *e;
	DIR *d = opendir(opt.results);

	if (!d)
		die_errno("%s", opt.results);
	while ((e = readdir(d)) && n < (int)ARRAY_SIZE(names))
		if (ends_with(e->d_name, ".txt"))
			names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	for (int i = n - want < 0 ? 0 : n - want; i < n; i++)
		path_in(out[got++], opt.results, names[i]);
	return got;
}

/* Keys that say nothing about cr's speed: no better/worse mark. */
static bool unmarked(const char *name)
{
	static const char *const keys[] = { "runs", "best_chunk_kib",
		"data_mib", "setup_ms", "idle_gap_ms" };

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (!strcmp(name, keys[i]))
			return true;
	return false;
}

static const char *gnum(char *buf, double v)
{
	sprintf(buf, fabs(v) >= 1e4 ? "%.0f" : "%.4g", v);
	return buf;
}

static void compare_line(const struct kv *a, const struct kvfile *b,
			 size_t gl)
{
	const char *bv = kv_get(b, a->key);
	char name[128], sx[32], sy[32];
	double x, y, q;
	bool higher = strstr(a->key, "gibps");

	if (ends_with(a->key, ".min") || ends_with(a->key, ".max") ||
	    ends_with(a->key, ".all") || !is_num(a->val, &x))
		return;
	snprintf(name, sizeof(name), "%s", a->key + gl + 1);
	if (ends_with(name, ".med"))
		name[strlen(name) - 4] = 0;
	if (!is_num(bv, &y)) {
		printf("  %-34s %10s %10s\n", name, gnum(sx, x), "-");
		return;
	}
	q = x ? y / x : NAN;
	printf("  %-34s %10s %10s %8.3f%s\n", name, gnum(sx, x), gnum(sy, y), q,
	       isnan(q) || fabs(q - 1) < 0.1 || unmarked(name) ? "" :
	       (q < 1) != higher ? "  better" : "  worse");
}

static int compare(int argc, char **argv)
{
	char files[2][PATH_MAX];
	const char *ma, *mb;
	struct kvfile a, b;

	if (argc >= 2) {
		snprintf(files[0], PATH_MAX, "%s", argv[0]);
		snprintf(files[1], PATH_MAX, "%s", argv[1]);
	} else if (argc == 1) {
		snprintf(files[0], PATH_MAX, "%s", argv[0]);
		if (newest(&files[1], 1) != 1)
			die("no result files in %s", opt.results);
	} else if (newest(files, 2) != 2) {
		die("need two result files in %s", opt.results);
	}
	load_kv(files[0], &a);
	load_kv(files[1], &b);

	printf("OLD  %s  (%s, %s, commit %s%s)\n", files[0],
	       kv_get(&a, "meta.date") ?: "?", kv_get(&a, "meta.mode") ?: "?",
	       kv_get(&a, "meta.commit") ?: "?",
	       kv_get(&a, "meta.modified") && *kv_get(&a, "meta.modified") ?
	       "+modified" : "");
	printf("NEW  %s  (%s, %s, commit %s%s)\n", files[1],
	       kv_get(&b, "meta.date") ?: "?", kv_get(&b, "meta.mode") ?: "?",
	       kv_get(&b, "meta.commit") ?: "?",
	       kv_get(&b, "meta.modified") && *kv_get(&b, "meta.modified") ?
	       "+modified" : "");
	ma = kv_get(&a, "meta.mode") ?: "";
	mb = kv_get(&b, "meta.mode") ?: "";
	if (strcmp(ma, mb))
		printf("(one is a quick run: the ceilings were measured on "
		       "other sizes)\n");
	ma = kv_get(&a, "meta.cr_hash");
	mb = kv_get(&b, "meta.cr_hash");
	if (ma && mb && !strcmp(ma, mb))
		printf("(the same cr binary: every difference is noise)\n");
	printf("Medians.  NEW/OLD below 1 is faster/smaller for times, ratios "
	       "and sizes,\nabove 1 is faster for GiB/s; changes beyond 10%% "
	       "are marked.  x_* are the\nratios to the ceilings: trust them "
	       "more than the milliseconds.\n");
	printf("\n%-36s %10s %10s %8s\n", "", "OLD", "NEW", "NEW/OLD");
	/* group by prefix (as in the file); the x_* ratios first */
	for (size_t i = 0, j; i < a.n; i = j) {
		const char *k = a.v[i].key;
		size_t gl = strcspn(k, ".");

		for (j = i + 1; j < a.n; j++)
			if (strncmp(a.v[j].key, k, gl) || a.v[j].key[gl] != '.')
				break;
		if (!strncmp(k, "meta.", 5) || !k[gl])
			continue;
		printf("%.*s\n", (int)gl, k);
		for (int pass = 0; pass < 2; pass++)
			for (size_t m = i; m < j; m++)
				if (!strncmp(a.v[m].key + gl + 1, "x_", 2) ==
				    !pass)
					compare_line(&a.v[m], &b, gl);
	}
	for (size_t i = 0, j; i < b.n; i = j) {
		const char *k = b.v[i].key;
		size_t gl = strcspn(k, ".");

		for (j = i + 1; j < b.n; j++)
			if (strncmp(b.v[j].key, k, gl) || b.v[j].key[gl] != '.')
				break;
		for (size_t m = i; m < j; m++)
			if (!kv_get(&a, b.v[m].key) &&
			    ends_with(b.v[m].key, ".med")) {
				printf("%.*s: measured in NEW only\n", (int)gl,
				       k);
				break;
			}
	}
	for (size_t i = 0; i < a.n; i++)
		if ((ends_with(a.v[i].key, ".failed") ||
		     ends_with(a.v[i].key, ".skipped")))
			printf("OLD %s: %s\n", a.v[i].key, a.v[i].val);
	for (size_t i = 0; i < b.n; i++)
		if ((ends_with(b.v[i].key, ".failed") ||
		     ends_with(b.v[i].key, ".skipped")))
			printf("NEW %s: %s\n", b.v[i].key, b.v[i].val);
	return 0;
}

/* ==== main ================================================================ */

static void on_signal(int sig)
{
	if (cur_ctl[0])
		unlink(cur_ctl);
	/* PID 1 going away takes every process of the namespace with it */
	_exit(128 + sig);
}

/* Become PID 1 of a new PID namespace with a /proc of its own. */
static void enter_namespace(void)
{
	struct sigaction sa = { .sa_handler = SIG_IGN };
	pid_t pid;
	int status;

	if (unshare(CLONE_NEWPID | CLONE_NEWNS))
		die_errno("unshare(CLONE_NEWPID | CLONE_NEWNS)");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die_errno("fork");
	if (!pid) {
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
			die_errno("making mounts private");
		if (mount("proc", "/proc", "proc",
			  MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
			die_errno("mounting /proc");
		return;
	}
	/* ^C goes to both; the child, PID 1, ends it all */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die_errno("waitpid");
	exit(WIFEXITED(status) ? WEXITSTATUS(status) :
	     128 + WTERMSIG(status));
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench [-q] [-D DIR] [-o RESULTS_DIR] [-n RUNS] "
		"[--cr CR] [--target TARGET]\n"
		"       bench compare [OLD [NEW]]\n"
		"  -q            quick: fewer sizes and runs (under a minute)\n"
		"  -D DIR        where images go (default $CR_BENCH_DIR or "
		"/tmp/cr-bench)\n"
		"  -o DIR        where result files go (default bench/results)\n"
		"  -n RUNS       runs per target (default 5, 3 for 4 GiB)\n"
		"  --cr CR       the cr binary (default ./cr)\n"
		"  --target T    the target binary (default: next to bench)\n"
		"  --only LIST   only these configurations (comma-separated:\n"
		"                mem-256M,mem-1G,mem-4G,vmas-10000,threads-256)\n"
		"  --cr-log      run cr with -v -o DIR/cr.log (slower; to debug)\n"
		"  compare       two result files side by side (default: the "
		"two newest)\n");
	exit(2);
}

static void abs_path(char *dst, const char *src)
{
	if (!realpath(src, dst))
		die_errno("%s", src);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "cr", required_argument, NULL, 'c' },
		{ "target", required_argument, NULL, 't' },
		{ "only", required_argument, NULL, 'O' },
		{ "cr-log", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sigaction sa = { .sa_handler = on_signal };
	char self[PATH_MAX], stamp[32], path[64], *s;
	const char *dir = getenv("CR_BENCH_DIR");
	const char *cr = "./cr", *target = NULL, *results = "bench/results";
	time_t now = time(NULL);
	struct tm tm;
	int c;

	while ((c = getopt_long(argc, argv, "+qD:o:n:h", lo, NULL)) != -1) {
		switch (c) {
		case 'q': opt.quick = true; break;
		case 'D': dir = optarg; break;
		case 'o': results = optarg; break;
		case 'n': opt.runs = atoi(optarg); break;
		case 'c': cr = optarg; break;
		case 't': target = optarg; break;
		case 'O': opt.only = optarg; break;
		case 'L': opt.cr_log = true; break;
		default: usage();
		}
	}
	snprintf(opt.results, sizeof(opt.results), "%s", results);
	if (optind < argc) {
		if (strcmp(argv[optind], "compare"))
			usage();
		return compare(argc - optind - 1, argv + optind + 1);
	}
	if (geteuid())
		die("must run as root (PID namespace, ptrace of any process)");
	syscall(SYS_close_range, 3, ~0U, 0);	/* what the shell leaked */

	if (!dir || !*dir)
		dir = "/tmp/cr-bench";
	mkdirs(dir);
	abs_path(opt.dir, dir);
	abs_path(opt.cr, cr);
	/* run a copy: cr may be rebuilt while this runs */
	path_in(opt.crx, opt.dir, "cr");
	copy_exe(opt.cr, opt.crx);
	if (target) {
		abs_path(opt.target, target);
	} else {
		abs_path(self, "/proc/self/exe");
		if ((s = strrchr(self, '/')))
			*s = 0;
		path_in(opt.target, self, "target");
	}
	if (access(opt.target, X_OK))
		die_errno("%s", opt.target);
	mkdirs(opt.results);

	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	strftime(path, sizeof(path), "%Y%m%d-%H%M%S", &tm);
	if ((size_t)snprintf(self, sizeof(self), "%s/%s%s.txt", opt.results,
			     path, opt.quick ? "-quick" : "") >= sizeof(self))
		die("path too long: %s", opt.results);
	outer_pid = getpid();

	enter_namespace();
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	res = fopen(self, "we");
	if (!res)
		die_errno("%s", self);
	fprintf(res, "# cr benchmark results (bench/bench.c); "
		"compare with: bench/bin/bench compare OLD NEW\n");
	header(stamp);
	say("  results  %s\n\n%s", self, legend);

	ceilings();
	for (size_t i = 0; i < ARRAY_SIZE(configs); i++)
		run_config(i);
	summary();
	say("\nresults in %s%s\n", self,
	    failures ? "  (some configurations FAILED, see above)" : "");
	fclose(res);
	return failures ? 1 : 0;
}
