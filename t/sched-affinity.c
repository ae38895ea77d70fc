/*
 * Scheduling state is restored per thread: CPU affinity mask, io
 * priority, nice and policy; and oom_score_adj for the process.
 */
#include "lib.h"
#include <sched.h>
#include <sys/resource.h>

#define IOPRIO_WHO_PROCESS 1
#define IOPRIO(class, level) ((class) << 13 | (level))
#define MY_SCHED_BATCH 3

struct state {
	cpu_set_t cpus;
	long ioprio, policy;
	int nice;
};

static volatile int thread_ready, thread_check, thread_ok;
static struct state main_want, thread_want;
static int ncpu;

static void take(struct state *s)
{
	pid_t tid = gettid();

	CPU_ZERO(&s->cpus);
	if (sched_getaffinity(tid, sizeof(s->cpus), &s->cpus))
		fail("sched_getaffinity: %s", strerror(errno));
	s->ioprio = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, tid);
	s->policy = syscall(SYS_sched_getscheduler, tid);
	errno = 0;
	s->nice = getpriority(PRIO_PROCESS, tid);
	if (s->ioprio < 0 || s->policy < 0 || errno)
		fail("reading scheduling state: %s", strerror(errno));
}

static void compare(const struct state *a, const struct state *b,
		    const char *who)
{
	if (!CPU_EQUAL(&a->cpus, &b->cpus))
		fail("%s: affinity has %d CPUs (first %d), had %d (first %d)",
		     who, CPU_COUNT(&b->cpus), CPU_ISSET(0, &b->cpus) ? 0 : 1,
		     CPU_COUNT(&a->cpus), CPU_ISSET(0, &a->cpus) ? 0 : 1);
	if (a->ioprio != b->ioprio)
		fail("%s: ioprio %#lx, was %#lx", who, b->ioprio, a->ioprio);
	if (a->policy != b->policy || a->nice != b->nice)
		fail("%s: policy %ld nice %d, was %ld %d", who, b->policy,
		     b->nice, a->policy, a->nice);
}

/* Pin the calling thread to one CPU, the given one modulo ncpu. */
static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu % ncpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		fail("sched_setaffinity: %s", strerror(errno));
}

static void *thread_fn(void *arg)
{
	struct sched_param sp = { 0 };
	struct state now;

	(void)arg;
	pin(0);
	if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO(3, 0)))
		fail("ioprio_set: %s", strerror(errno));
	if (syscall(SYS_sched_setscheduler, 0, MY_SCHED_BATCH, &sp) ||
	    setpriority(PRIO_PROCESS, gettid(), 7))
		fail("SCHED_BATCH: %s", strerror(errno));
	take(&thread_want);
	futex_set(&thread_ready, 1);
	futex_await(&thread_check);
	take(&now);
	compare(&thread_want, &now, "thread");
	futex_set(&thread_ok, 1);
	return NULL;
}

int main(int argc, char **argv)
{
	struct state now;
	char buf[32];
	pthread_t t;

	test_init(argc, argv);
	block_sigterm();
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1)
		ncpu = 1;
	t = thread_start(thread_fn, NULL);
	futex_await(&thread_ready);
	pin(1);
	if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO(2, 6)))
		fail("ioprio_set: %s", strerror(errno));
	if (setpriority(PRIO_PROCESS, gettid(), 5))
		fail("setpriority: %s", strerror(errno));
	write_file("/proc/self/oom_score_adj", "345\n", 4);
	take(&main_want);
	if (main_want.ioprio != IOPRIO(2, 6) || thread_want.ioprio != IOPRIO(3, 0))
		fail("ioprio not set: %#lx %#lx", main_want.ioprio,
		     thread_want.ioprio);

	test_ready();
	test_wait();

	take(&now);
	compare(&main_want, &now, "main");
	if (read_file("/proc/self/oom_score_adj", buf, sizeof(buf)) < 0 ||
	    atoi(buf) != 345)
		fail("oom_score_adj %s, was 345", buf);
	futex_set(&thread_check, 1);
	futex_await(&thread_ok);
	thread_join(t, "the thread");
	pass();
}
