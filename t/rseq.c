/* The rseq area (glibc's, or our own under musl) is still registered after restore and kept up to date. */
#include "lib.h"
#include <sched.h>
#include <time.h>

#define RSEQ_SIG 0x53053053
#define POISON 0xdeadbeefu

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

static struct rseq_area own;
static volatile struct rseq_area *area;
static unsigned len;

static long rseq_register(void)
{
	return syscall(SYS_rseq, area, len, 0, RSEQ_SIG);
}

static void check_registered(const char *when)
{
	long r = rseq_register();

	if (r != -1 || errno != EBUSY)
		fail("%s: rseq(%p, %u) = %ld (%s), want EBUSY: not registered",
		     when, (void *)area, len, r, r ? strerror(errno) : "ok");
}

/* The kernel must rewrite cpu_id after we were scheduled out. */
static void check_cpu_id(void)
{
	struct timespec ms = { 0, 1000000 };
	unsigned cpu = 0;
	int i;

	for (i = 0; i < 100; i++) {
		area->cpu_id = POISON;
		nanosleep(&ms, NULL);
		if (syscall(SYS_getcpu, &cpu, NULL, NULL))
			fail("getcpu: %s", strerror(errno));
		if (area->cpu_id == cpu)
			return;
	}
	fail("rseq cpu_id %#x, getcpu %u", area->cpu_id, cpu);
}

int main(int argc, char **argv)
{
	test_init(argc, argv);
	if (&__rseq_size && __rseq_size) {
		area = (void *)((char *)__builtin_thread_pointer() +
				__rseq_offset);
		len = __rseq_size < 32 ? 32 : __rseq_size;
	} else {
		area = &own;
		len = sizeof(own);
		if (rseq_register())
			fail("rseq: %s", strerror(errno));
	}
	check_registered("before");
	check_cpu_id();

	test_ready();
	test_wait();

	check_registered("after");
	check_cpu_id();
	pass();
}
