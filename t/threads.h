/*
 * Body of thread-2, thread-16 and thread-256 (NTHREADS): each thread
 * spins with its own values in callee-saved general registers, vector
 * registers and TLS; after restore it checks them, its tid and its
 * pthread_self(), and the main thread checks the set of tids and joins.
 */
#include "lib.h"

#if defined(__x86_64__)
#define NGPR 5		/* rbx, r12-r15 */
#define NVEC 16		/* xmm0-15 */
#elif defined(__aarch64__)
#define NGPR 10		/* x19-x28 */
#define NVEC 8		/* q8-q15 */
#endif

struct regs {
	uint64_t gpr[NGPR];
	uint64_t vec[NVEC][2];
};

struct th {
	struct regs in, out;
	pthread_t pt;
	pid_t tid;
	int idx;
};

static struct th th[NTHREADS];
static volatile int go, spinning, release;
static __thread uint64_t tls[4];

/*
 * Load t->in into the registers, count ourselves in 'spinning' and spin
 * until SIGTERM (odd threads make sched_yield calls while they spin),
 * then store the registers in t->out.
 */
static void spin(struct th *t)
{
	volatile sig_atomic_t *flag = &test_sigterm;
	volatile int *cnt = &spinning;
	struct regs *in = &t->in, *out = &t->out;
	int yield = t->idx & 1;

#if defined(__x86_64__)
#define XLD(n) "movdqu 40+" #n "*16(%%rdi), %%xmm" #n "\n\t"
#define XST(n) "movdqu %%xmm" #n ", 40+" #n "*16(%%rsi)\n\t"
#define XALL(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) \
		M(11) M(12) M(13) M(14) M(15)
	asm volatile("mov (%%rdi), %%rbx\n\t"
		     "mov 8(%%rdi), %%r12\n\t"
		     "mov 16(%%rdi), %%r13\n\t"
		     "mov 24(%%rdi), %%r14\n\t"
		     "mov 32(%%rdi), %%r15\n\t"
		     XALL(XLD)
		     "lock incl (%%rax)\n\t"
		     "1: cmpl $0, %[y]\n\t"
		     "je 2f\n\t"
		     "mov %[nr], %%eax\n\t"
		     "syscall\n\t"
		     "2: pause\n\t"
		     "cmpl $0, (%%rdx)\n\t"
		     "je 1b\n\t"
		     "mov %%rbx, (%%rsi)\n\t"
		     "mov %%r12, 8(%%rsi)\n\t"
		     "mov %%r13, 16(%%rsi)\n\t"
		     "mov %%r14, 24(%%rsi)\n\t"
		     "mov %%r15, 32(%%rsi)\n\t"
		     XALL(XST)
		     : "+D"(in), "+S"(out), "+d"(flag), "+a"(cnt)
		     : [y] "m"(yield), [nr] "i"(SYS_sched_yield)
		     : "rbx", "r12", "r13", "r14", "r15", "rcx", "r11",
		       "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",
		       "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
		       "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
#elif defined(__aarch64__)
	asm volatile("ldp x19, x20, [%[in]]\n\t"
		     "ldp x21, x22, [%[in], #16]\n\t"
		     "ldp x23, x24, [%[in], #32]\n\t"
		     "ldp x25, x26, [%[in], #48]\n\t"
		     "ldp x27, x28, [%[in], #64]\n\t"
		     "ldp q8, q9, [%[in], #80]\n\t"
		     "ldp q10, q11, [%[in], #112]\n\t"
		     "ldp q12, q13, [%[in], #144]\n\t"
		     "ldp q14, q15, [%[in], #176]\n\t"
		     "1: ldxr w9, [%[cnt]]\n\t"
		     "add w9, w9, #1\n\t"
		     "stxr w10, w9, [%[cnt]]\n\t"
		     "cbnz w10, 1b\n\t"
		     "2: cbz %w[y], 3f\n\t"
		     "mov x8, %[nr]\n\t"
		     "svc #0\n\t"
		     "3: yield\n\t"
		     "ldr w9, [%[flag]]\n\t"
		     "cbz w9, 2b\n\t"
		     "stp x19, x20, [%[out]]\n\t"
		     "stp x21, x22, [%[out], #16]\n\t"
		     "stp x23, x24, [%[out], #32]\n\t"
		     "stp x25, x26, [%[out], #48]\n\t"
		     "stp x27, x28, [%[out], #64]\n\t"
		     "stp q8, q9, [%[out], #80]\n\t"
		     "stp q10, q11, [%[out], #112]\n\t"
		     "stp q12, q13, [%[out], #144]\n\t"
		     "stp q14, q15, [%[out], #176]\n\t"
		     :
		     : [in] "r"(in), [out] "r"(out), [cnt] "r"(cnt),
		       [flag] "r"(flag), [y] "r"(yield),
		       [nr] "i"(SYS_sched_yield)
		     : "x0", "x8", "x9", "x10", "x19", "x20", "x21", "x22",
		       "x23", "x24", "x25", "x26", "x27", "x28", "v8", "v9",
		       "v10", "v11", "v12", "v13", "v14", "v15", "memory",
		       "cc");
#else
#error "no register test for this architecture"
#endif
}

static uint64_t tls_seed(int idx)
{
	return 0x51ed270b0000ull + idx;
}

static void *thread(void *arg)
{
	struct th *t = arg;
	uint64_t s = tls_seed(t->idx);
	int i;

	t->tid = gettid();
	for (i = 0; i < 4; i++)
		tls[i] = rnd_next(&s);
	futex_await(&go);
	spin(t);

	for (i = 0; i < NGPR; i++)
		if (t->out.gpr[i] != t->in.gpr[i])
			fail("thread %d: general register %d is %#llx, want "
			     "%#llx", t->idx, i,
			     (unsigned long long)t->out.gpr[i],
			     (unsigned long long)t->in.gpr[i]);
	for (i = 0; i < NVEC; i++)
		if (memcmp(t->out.vec[i], t->in.vec[i], 16))
			fail("thread %d: vector register %d is %#llx:%#llx, "
			     "want %#llx:%#llx", t->idx, i,
			     (unsigned long long)t->out.vec[i][1],
			     (unsigned long long)t->out.vec[i][0],
			     (unsigned long long)t->in.vec[i][1],
			     (unsigned long long)t->in.vec[i][0]);
	s = tls_seed(t->idx);
	for (i = 0; i < 4; i++)
		if (tls[i] != rnd_next(&s))
			fail("thread %d: TLS word %d is %#llx", t->idx, i,
			     (unsigned long long)tls[i]);
	if (gettid() != t->tid)
		fail("thread %d: tid %d, was %d", t->idx, (int)gettid(),
		     (int)t->tid);
	if (!pthread_equal(pthread_self(), t->pt))
		fail("thread %d: pthread_self() changed", t->idx);
	futex_await(&release);
	return NULL;
}

int main(int argc, char **argv)
{
	pid_t tids[NTHREADS];
	uint64_t s = 4242;
	int i, j;

	test_init(argc, argv);
	block_sigterm();
	for (i = 0; i < NTHREADS; i++) {
		th[i].idx = i;
		for (j = 0; j < NGPR; j++)
			th[i].in.gpr[j] = rnd_next(&s);
		for (j = 0; j < NVEC; j++) {
			th[i].in.vec[j][0] = rnd_next(&s);
			th[i].in.vec[j][1] = rnd_next(&s);
		}
		th[i].pt = thread_start(thread, &th[i]);
	}
	futex_set(&go, 1);
	while (spinning < NTHREADS)
		sleep_us(1000);
	test_ready();
	test_wait();

	for (i = 0; i < NTHREADS; i++)
		tids[i] = th[i].tid;
	check_tids(tids, NTHREADS);
	futex_set(&release, 1);
	for (i = 0; i < NTHREADS; i++)
		thread_join(th[i].pt, "a thread");
	pass();
}
