/* zmm0-31, k0-7 and GPRs hold distinct values while spinning across the dump (built with -mavx512f). */
#include "lib.h"
#include <cpuid.h>

struct regs {
	uint64_t z[32][8];
	uint64_t k[8];
	uint64_t g[12];		/* rax rbx rcx rsi r8-r15 */
};

/* in: values loaded before the spin, out: what the registers held after */
static struct {
	struct regs in, out;
} r __attribute__((aligned(64)));

/* Everything is addressed from %rdi = &r; %rdx points to the done flag. */
#define Z(n) "vmovdqu64 " #n "*64(%%rdi), %%zmm" #n "\n\t"
#define ZS(n) "vmovdqu64 %%zmm" #n ", %c[o]+" #n "*64(%%rdi)\n\t"
#define K(n) "kmovq %c[k]+" #n "*8(%%rdi), %%k" #n "\n\t"
#define KS(n) "kmovq %%k" #n ", %c[o]+%c[k]+" #n "*8(%%rdi)\n\t"
#define G(i, reg) "mov %c[g]+" #i "*8(%%rdi), %%" #reg "\n\t"
#define GS(i, reg) "mov %%" #reg ", %c[o]+%c[g]+" #i "*8(%%rdi)\n\t"
#define X8(M, a, b, c, d, e, f, g, h) M(a) M(b) M(c) M(d) M(e) M(f) M(g) M(h)
#define ZALL(M) X8(M, 0, 1, 2, 3, 4, 5, 6, 7) \
		X8(M, 8, 9, 10, 11, 12, 13, 14, 15) \
		X8(M, 16, 17, 18, 19, 20, 21, 22, 23) \
		X8(M, 24, 25, 26, 27, 28, 29, 30, 31)
#define KALL(M) X8(M, 0, 1, 2, 3, 4, 5, 6, 7)
#define GALL(M) M(0, rax) M(1, rbx) M(2, rcx) M(3, rsi) M(4, r8) M(5, r9) \
		M(6, r10) M(7, r11) M(8, r12) M(9, r13) M(10, r14) M(11, r15)

static bool have_avx512(void)
{
	unsigned a, b, c, d, lo, hi;

	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & bit_AVX512F))
		return false;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
		return false;
	asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	/* OS enabled SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM */
	return (lo & 0xe6) == 0xe6;
}

int main(int argc, char **argv)
{
	volatile sig_atomic_t *flag;
	uint64_t s = 0x1234;
	void *base;
	int i, j;

	test_init(argc, argv);
	if (!have_avx512())
		skip("no avx512f");
	for (i = 0; i < 32; i++)
		for (j = 0; j < 8; j++)
			r.in.z[i][j] = rnd_next(&s);
	for (i = 0; i < 8; i++)
		r.in.k[i] = rnd_next(&s);
	for (i = 0; i < 12; i++)
		r.in.g[i] = rnd_next(&s);
	test_ready();

	base = &r;
	flag = &test_sigterm;
	asm volatile(ZALL(Z) KALL(K) GALL(G)
		     "1: pause\n\t"
		     "cmpl $0, (%%rdx)\n\t"
		     "je 1b\n\t"
		     ZALL(ZS) KALL(KS) GALL(GS)
		     : "+D"(base), "+d"(flag)
		     : [o] "i"(sizeof(struct regs)),
		       [k] "i"(offsetof(struct regs, k)),
		       [g] "i"(offsetof(struct regs, g))
		     : "rax", "rbx", "rcx", "rsi", "r8", "r9", "r10", "r11",
		       "r12", "r13", "r14", "r15", "memory", "cc",
		       "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
		       "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
		       "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18",
		       "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24",
		       "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30",
		       "xmm31", "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7");
	test_done();

	for (i = 0; i < 32; i++)
		for (j = 0; j < 8; j++)
			if (r.in.z[i][j] != r.out.z[i][j])
				fail("zmm%d qword %d: %#llx, want %#llx", i, j,
				     (unsigned long long)r.out.z[i][j],
				     (unsigned long long)r.in.z[i][j]);
	for (i = 0; i < 8; i++)
		if (r.in.k[i] != r.out.k[i])
			fail("k%d: %#llx, want %#llx", i,
			     (unsigned long long)r.out.k[i],
			     (unsigned long long)r.in.k[i]);
	for (i = 0; i < 12; i++)
		if (r.in.g[i] != r.out.g[i])
			fail("gpr %d: %#llx, want %#llx", i,
			     (unsigned long long)r.out.g[i],
			     (unsigned long long)r.in.g[i]);
	pass();
}
