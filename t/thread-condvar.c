/* Producer and consumer threads on a pthread mutex and condvars (one timed) keep going across the dump; every item arrives once, in order. */
#include "lib.h"

#define NPROD 2
#define NCONS 2
#define QLEN 16
#define AFTER 20000		/* items consumed after SIGTERM */

struct item {
	int prod;
	unsigned long seq;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t notfull = PTHREAD_COND_INITIALIZER;
static pthread_cond_t notempty;
static struct item q[QLEN];
static int head, len;
static bool stop;
/* all under lock */
static unsigned long produced[NPROD], consumed[NCONS], sum[NCONS];

static void *producer(void *arg)
{
	int p = (int)(long)arg;

	pthread_mutex_lock(&lock);
	for (;;) {
		while (len == QLEN && !stop)
			pthread_cond_wait(&notfull, &lock);
		if (stop)
			break;
		q[(head + len++) % QLEN] = (struct item){ p, ++produced[p] };
		pthread_cond_signal(&notempty);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* Consumer 1 waits with a timeout (CLOCK_MONOTONIC, 20 ms). */
static void wait_item(int c)
{
	struct timespec ts;

	if (c == 0) {
		pthread_cond_wait(&notempty, &lock);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += 20000000;
	if (ts.tv_nsec >= NS_PER_SEC) {
		ts.tv_sec++;
		ts.tv_nsec -= NS_PER_SEC;
	}
	pthread_cond_timedwait(&notempty, &lock, &ts);
}

static void *consumer(void *arg)
{
	unsigned long last[NPROD] = { 0 };
	int c = (int)(long)arg;
	struct item it;

	pthread_mutex_lock(&lock);
	for (;;) {
		while (!len && !stop)
			wait_item(c);
		if (!len)
			break;
		it = q[head];
		head = (head + 1) % QLEN;
		len--;
		pthread_cond_signal(&notfull);
		if (it.prod < 0 || it.prod >= NPROD || it.seq <= last[it.prod])
			fail("consumer %d: item %d/%lu after %lu", c, it.prod,
			     it.seq, it.prod >= 0 && it.prod < NPROD ?
			     last[it.prod] : 0);
		last[it.prod] = it.seq;
		consumed[c]++;
		sum[c] += it.seq;
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

static unsigned long total(const unsigned long *v, int n)
{
	unsigned long t = 0;
	int i;

	for (i = 0; i < n; i++)
		t += v[i];
	return t;
}

static unsigned long consumed_now(void)
{
	unsigned long n;

	pthread_mutex_lock(&lock);
	n = total(consumed, NCONS);
	pthread_mutex_unlock(&lock);
	return n;
}

int main(int argc, char **argv)
{
	pthread_t t[NPROD + NCONS];
	unsigned long want = 0, n0;
	pthread_condattr_t ca;
	long long end;
	int i;

	test_init(argc, argv);
	block_sigterm();
	if (pthread_condattr_init(&ca) ||
	    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) ||
	    pthread_cond_init(&notempty, &ca))
		fail("condvar init failed");
	for (i = 0; i < NPROD; i++)
		t[i] = thread_start(producer, (void *)(long)i);
	for (i = 0; i < NCONS; i++)
		t[NPROD + i] = thread_start(consumer, (void *)(long)i);
	while (consumed_now() < 1000)
		sleep_us(1000);
	test_ready();
	test_wait();

	n0 = consumed_now();
	end = mono_ns() + 10 * NS_PER_SEC;
	while (consumed_now() < n0 + AFTER) {
		if (mono_ns() > end)
			fail("only %lu items consumed in 10 s after restore",
			     consumed_now() - n0);
		sleep_us(1000);
	}
	pthread_mutex_lock(&lock);
	stop = true;
	pthread_cond_broadcast(&notfull);
	pthread_cond_broadcast(&notempty);
	pthread_mutex_unlock(&lock);
	for (i = 0; i < NPROD + NCONS; i++)
		thread_join(t[i], i < NPROD ? "a producer" : "a consumer");

	for (i = 0; i < NPROD; i++)
		want += produced[i] * (produced[i] + 1) / 2;
	if (total(consumed, NCONS) != total(produced, NPROD) ||
	    total(sum, NCONS) != want)
		fail("consumed %lu items (sum %lu), produced %lu (sum %lu)",
		     total(consumed, NCONS), total(sum, NCONS),
		     total(produced, NPROD), want);
	pass();
}
