// SPDX-License-Identifier: MIT
/*
 * A benchmark target for cr: sets up memory, mappings and threads, says so
 * in the shared control page (ctl.h), then idles until killed.  The harness
 * dumps and restores it; through the page it can ask it to check its memory
 * or to spin on the clock and record the longest gap (the time it was
 * frozen by a `cr dump -R`).
 *
 *   target -c CTLFILE [-m MIB] [-n NVMAS] [-p PAGES] [-t THREADS]
 *
 *   -m MIB      one region of MIB MiB of anonymous memory, every word set
 *   -n NVMAS    NVMAS separate anonymous mappings (with holes between them,
 *               so the kernel cannot merge them), every word set
 *   -p PAGES    pages in each of those mappings (default 1)
 *   -t THREADS  threads in all (the others block in futex wait)
 *
 * It must be started as a session leader with stdio on /dev/null and no
 * other fds: the harness does that.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

#define PAGE 4096UL

static struct ctl *ctl;
static uint32_t never;		/* the other threads wait on it forever */
static uint64_t started;	/* threads that are running */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint64_t ld(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void st(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static void fail(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(ctl->err, sizeof(ctl->err), fmt, ap);
	va_end(ap);
	if (errno && n > 0 && (size_t)n < sizeof(ctl->err))
		snprintf(ctl->err + n, sizeof(ctl->err) - n, ": %s",
			 strerror(errno));
	st(&ctl->ready, CTL_FAILED);
	exit(1);
}

static void fill(uint64_t *p, size_t len)
{
	for (size_t i = 0; i < len / 8; i++)
		p[i] = ctl_pattern(&p[i]);
}

static uint64_t count_bad(const uint64_t *p, size_t len)
{
	uint64_t bad = 0;

	for (size_t i = 0; i < len / 8; i++)
		bad += p[i] != ctl_pattern(&p[i]);
	return bad;
}

static uint64_t check_all(void)
{
	uint64_t bad = 0;

	if (ctl->mem_len)
		bad += count_bad((uint64_t *)ctl->mem_addr, ctl->mem_len);
	for (uint64_t i = 0; i < ctl->vma_count; i++)
		bad += count_bad((uint64_t *)(ctl->vma_base +
					      i * ctl->vma_stride),
				 ctl->vma_len);
	return bad;
}

static void *idle_thread(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&started, 1, __ATOMIC_ACQ_REL);
	for (;;)
		syscall(SYS_futex, &never, FUTEX_WAIT_PRIVATE, 0, NULL, NULL,
			0);
	return NULL;
}

static void setup_vmas(uint64_t n, uint64_t pages)
{
	uint64_t len = pages * PAGE, stride = 2 * len;
	uint8_t *base;

	/* Reserve the whole range, map over it, then punch the holes. */
	base = mmap(NULL, n * stride, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		fail("reserving %llu mappings", (unsigned long long)n);
	for (uint64_t i = 0; i < n; i++) {
		uint8_t *p = base + i * stride;

		if (mmap(p, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != p)
			fail("mapping %llu", (unsigned long long)i);
		if (munmap(p + len, len))
			fail("unmapping hole %llu", (unsigned long long)i);
		fill((uint64_t *)p, len);
	}
	ctl->vma_base = (uintptr_t)base;
	ctl->vma_stride = stride;
	ctl->vma_len = len;
	ctl->vma_count = n;
}

static void setup_threads(uint64_t n)
{
	pthread_attr_t a;

	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 << 10);
	for (uint64_t i = 1; i < n; i++) {
		pthread_t t;
		int e = pthread_create(&t, &a, idle_thread, NULL);

		if (e) {
			errno = e;
			fail("thread %llu", (unsigned long long)i);
		}
	}
	while (__atomic_load_n(&started, __ATOMIC_ACQUIRE) + 1 < n)
		usleep(100);
	ctl->threads = n;
}

/*
 * Spin until told to stop, recording the longest gap between two reads of
 * the clock: while the process is frozen nothing reads it, so after a
 * `cr dump -R` the longest gap is the time it was frozen (plus at most one
 * scheduling delay, which a run without a dump shows).
 */
static void spin(void)
{
	uint64_t seen = ld(&ctl->reset), max = 0, prev;

	st(&ctl->max_gap_ns, 0);
	st(&ctl->reset_ack, seen);
	st(&ctl->spinning, 1);
	prev = now_ns();
	while (ld(&ctl->spin)) {
		uint64_t t = now_ns(), r = ld(&ctl->reset);

		if (t - prev > max) {
			max = t - prev;
			st(&ctl->max_gap_ns, max);
		}
		if (r != seen) {
			seen = r;
			max = 0;
			st(&ctl->max_gap_ns, 0);
			st(&ctl->reset_ack, r);
			t = now_ns();
		}
		prev = t;
		__atomic_add_fetch(&ctl->beat, 1, __ATOMIC_RELEASE);
	}
	st(&ctl->spinning, 0);
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	uint64_t mib = 0, nvmas = 0, pages = 1, threads = 1, t0 = now_ns();
	struct timespec ms = { 0, 1000000 };
	int c, fd;

	while ((c = getopt(argc, argv, "c:m:n:p:t:")) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'm': mib = strtoull(optarg, NULL, 0); break;
		case 'n': nvmas = strtoull(optarg, NULL, 0); break;
		case 'p': pages = strtoull(optarg, NULL, 0); break;
		case 't': threads = strtoull(optarg, NULL, 0); break;
		default: return 2;
		}
	}
	if (!path || !pages || !threads)
		return 2;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 3;
	ctl = mmap(NULL, CTL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (ctl == MAP_FAILED)
		return 3;

	if (mib) {
		size_t len = mib << 20;
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			fail("mapping %llu MiB", (unsigned long long)mib);
		fill(p, len);
		ctl->mem_addr = (uintptr_t)p;
		ctl->mem_len = len;
	}
	if (nvmas)
		setup_vmas(nvmas, pages);
	setup_threads(threads);
	ctl->setup_ns = now_ns() - t0;
	errno = 0;
	st(&ctl->ready, CTL_READY);

	for (;;) {
		uint64_t req = ld(&ctl->check);

		__atomic_add_fetch(&ctl->beat, 1, __ATOMIC_RELEASE);
		if (req != ld(&ctl->check_ack)) {
			st(&ctl->check_bad, check_all());
			st(&ctl->check_ack, req);
		}
		if (ld(&ctl->spin))
			spin();
		else
			nanosleep(&ms, NULL);
	}
}
