/*
 * prctl state is restored: dumpable, THP disable, MDWE, KSM merge-any,
 * speculation controls, personality, and the timer slack
 * and name of each thread.  MDWE is checked by behaviour too: a mapping
 * still cannot become executable after restore.
 */
#include "lib.h"
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>

#define MY_PR_SET_MDWE 65
#define MY_PR_GET_MDWE 66
#define MY_PR_SET_MEMORY_MERGE 67
#define MY_PR_GET_MEMORY_MERGE 68
#define MY_PR_SPEC_PRCTL 1
#define MY_PR_SPEC_DISABLE 4
#define THP_EXCEPT_ADVISED 2

struct state {
	long dumpable, thp, mdwe, merge, spec[2], slack;
	int persona;
	char name[16];
};

static volatile int thread_ready, thread_check, thread_ok;
static struct state main_want, thread_want;

static void take(struct state *s)
{
	s->dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	s->thp = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0);
	s->mdwe = prctl(MY_PR_GET_MDWE, 0, 0, 0, 0);
	s->merge = prctl(MY_PR_GET_MEMORY_MERGE, 0, 0, 0, 0);
	for (int i = 0; i < 2; i++)
		s->spec[i] = prctl(PR_GET_SPECULATION_CTRL, i, 0, 0, 0);
	s->slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	s->persona = personality(0xffffffff);
	memset(s->name, 0, sizeof(s->name));
	prctl(PR_GET_NAME, s->name, 0, 0, 0);
}

static void compare(const struct state *a, const struct state *b,
		    const char *who)
{
	if (a->dumpable != b->dumpable)
		fail("%s: dumpable %ld, was %ld", who, b->dumpable, a->dumpable);
	if (a->thp != b->thp)
		fail("%s: THP disable %ld, was %ld", who, b->thp, a->thp);
	if (a->mdwe != b->mdwe)
		fail("%s: MDWE %ld, was %ld", who, b->mdwe, a->mdwe);
	if (a->merge != b->merge)
		fail("%s: memory merge %ld, was %ld", who, b->merge, a->merge);
	for (int i = 0; i < 2; i++)
		if (a->spec[i] != b->spec[i])
			fail("%s: speculation control %d is %#lx, was %#lx",
			     who, i, b->spec[i], a->spec[i]);
	if (a->slack != b->slack)
		fail("%s: timer slack %ld, was %ld", who, b->slack, a->slack);
	if (a->persona != b->persona)
		fail("%s: personality %#x, was %#x", who, b->persona, a->persona);
	if (strcmp(a->name, b->name))
		fail("%s: name %s, was %s", who, b->name, a->name);
}

static void *thread_fn(void *arg)
{
	struct state now;

	(void)arg;
	if (prctl(PR_SET_TIMERSLACK, 123457, 0, 0, 0) ||
	    prctl(PR_SET_NAME, "crtest-thr", 0, 0, 0))
		fail("thread prctl: %s", strerror(errno));
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
	pthread_t t;
	void *p;

	test_init(argc, argv);
	block_sigterm();
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) ||
	    prctl(PR_SET_TIMERSLACK, 777777, 0, 0, 0) ||
	    prctl(PR_SET_NAME, "crtest-main", 0, 0, 0))
		fail("prctl: %s", strerror(errno));
	if (prctl(PR_SET_THP_DISABLE, 1, THP_EXCEPT_ADVISED, 0, 0) &&
	    prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
		fail("PR_SET_THP_DISABLE: %s", strerror(errno));
	for (int i = 0; i < 2; i++)	/* where the kernel lets us choose */
		if (prctl(PR_GET_SPECULATION_CTRL, i, 0, 0, 0) & MY_PR_SPEC_PRCTL)
			prctl(PR_SET_SPECULATION_CTRL, i, MY_PR_SPEC_DISABLE, 0, 0);
	if (personality(personality(0xffffffff) | ADDR_NO_RANDOMIZE | UNAME26) < 0)
		fail("personality: %s", strerror(errno));
	prctl(MY_PR_SET_MEMORY_MERGE, 1, 0, 0, 0);	/* needs KSM */
	prctl(MY_PR_SET_MDWE, 1, 0, 0, 0);	/* needs 6.3 */
	t = thread_start(thread_fn, NULL);
	futex_await(&thread_ready);
	take(&main_want);
	if (main_want.dumpable != 0 || !main_want.thp || main_want.slack != 777777)
		fail("state not set: dumpable %ld thp %ld slack %ld",
		     main_want.dumpable, main_want.thp, main_want.slack);

	test_ready();
	test_wait();

	take(&now);
	compare(&main_want, &now, "main");
	futex_set(&thread_check, 1);
	futex_await(&thread_ok);
	thread_join(t, "the thread");
	if (main_want.mdwe > 0) {
		p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			fail("mmap: %s", strerror(errno));
		if (!mprotect(p, 4096, PROT_READ | PROT_EXEC))
			fail("MDWE: a mapping became executable after restore");
	}
	pass();
}
