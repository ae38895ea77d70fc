/* Has a second thread: cr dump must refuse and leave both threads running undisturbed (built with -pthread). */
#include "lib.h"
#include <pthread.h>
#include <time.h>

static volatile unsigned long ticks;

static void *thread(void *arg)
{
	struct timespec ms = { 0, 1000000 };

	(void)arg;
	while (!test_sigterm) {
		ticks++;
		nanosleep(&ms, NULL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned long t0;
	pthread_t t;

	test_init(argc, argv);
	if (pthread_create(&t, NULL, thread, NULL))
		fail("pthread_create failed");
	test_ready();
	t0 = ticks;
	if (spin_counters(10000000) < 1000)
		fail("counter barely moved");
	pthread_join(t, NULL);
	if (ticks <= t0)
		fail("second thread did not run");
	pass();
}
