/* xmm0-15, MXCSR, x87 control word and st(0), EFLAGS.DF and the FS/GS bases survive a dump while spinning. */
#include "lib.h"

#define ARCH_SET_GS 0x1001
#define ARCH_GET_FS 0x1003
#define ARCH_GET_GS 0x1004

struct regs {
	uint64_t x[16][2];
	long double st0;
	uint64_t rflags;
	uint32_t mxcsr, mxcsr_dfl;
	uint16_t fcw, fcw_dfl;
};

static struct {
	struct regs in, out;
} r __attribute__((aligned(16)));

#define X(n) "movdqu " #n "*16(%%rdi), %%xmm" #n "\n\t"
#define XS(n) "movdqu %%xmm" #n ", %c[o]+" #n "*16(%%rdi)\n\t"
#define XALL(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) \
		M(11) M(12) M(13) M(14) M(15)

int main(int argc, char **argv)
{
	unsigned long fs, gs, fs2 = 0, gs2 = 0;
	volatile sig_atomic_t *flag;
	uint64_t s = 77;
	void *base;
	int i;

	test_init(argc, argv);
	for (i = 0; i < 16; i++) {
		r.in.x[i][0] = rnd_next(&s);
		r.in.x[i][1] = rnd_next(&s);
	}
	r.in.st0 = 3.14159265358979323846264338327950288L;
	r.in.mxcsr = 0xffc0 | 0x21;	/* DAZ, FZ, RC=0, all masked, PE+IE */
	r.in.fcw = 0x0e7f;		/* RC=toward zero, PC=64 bit */
	r.in.rflags = 0x400;		/* DF */
	r.in.mxcsr_dfl = 0x1f80;	/* ABI defaults, restored at the end */
	r.in.fcw_dfl = 0x037f;
	gs = 0x7f1234560000ul;
	if (syscall(SYS_arch_prctl, ARCH_SET_GS, gs) ||
	    syscall(SYS_arch_prctl, ARCH_GET_FS, &fs))
		fail("arch_prctl: %s", strerror(errno));
	test_ready();

	base = &r;
	flag = &test_sigterm;
	asm volatile(XALL(X)
		     "ldmxcsr %c[mx](%%rdi)\n\t"
		     "fldcw %c[cw](%%rdi)\n\t"
		     "fldt %c[st](%%rdi)\n\t"
		     "std\n\t"
		     "1: pause\n\t"
		     "cmpl $0, (%%rdx)\n\t"
		     "je 1b\n\t"
		     "pushfq\n\t"
		     "cld\n\t"
		     "popq %%rax\n\t"
		     "andq $0x400, %%rax\n\t"
		     "movq %%rax, %c[o]+%c[fl](%%rdi)\n\t"
		     "fstpt %c[o]+%c[st](%%rdi)\n\t"
		     "fnstcw %c[o]+%c[cw](%%rdi)\n\t"
		     "stmxcsr %c[o]+%c[mx](%%rdi)\n\t"
		     XALL(XS)
		     "fldcw %c[cw0](%%rdi)\n\t"
		     "ldmxcsr %c[mx0](%%rdi)\n\t"
		     : "+D"(base), "+d"(flag)
		     : [o] "i"(sizeof(struct regs)),
		       [mx] "i"(offsetof(struct regs, mxcsr)),
		       [cw] "i"(offsetof(struct regs, fcw)),
		       [st] "i"(offsetof(struct regs, st0)),
		       [fl] "i"(offsetof(struct regs, rflags)),
		       [mx0] "i"(offsetof(struct regs, mxcsr_dfl)),
		       [cw0] "i"(offsetof(struct regs, fcw_dfl))
		     : "rax", "memory", "cc", "st",
		       "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
		       "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
		       "xmm13", "xmm14", "xmm15");
	test_done();

	for (i = 0; i < 16; i++)
		if (memcmp(r.in.x[i], r.out.x[i], 16))
			fail("xmm%d: %#llx:%#llx, want %#llx:%#llx", i,
			     (unsigned long long)r.out.x[i][1],
			     (unsigned long long)r.out.x[i][0],
			     (unsigned long long)r.in.x[i][1],
			     (unsigned long long)r.in.x[i][0]);
	if (r.out.mxcsr != r.in.mxcsr)
		fail("mxcsr %#x, want %#x", r.out.mxcsr, r.in.mxcsr);
	if (r.out.fcw != r.in.fcw)
		fail("x87 control word %#x, want %#x", r.out.fcw, r.in.fcw);
	if (memcmp(&r.out.st0, &r.in.st0, 10))
		fail("st(0) changed");
	if (r.out.rflags != r.in.rflags)
		fail("EFLAGS.DF %#llx, want %#llx",
		     (unsigned long long)r.out.rflags,
		     (unsigned long long)r.in.rflags);
	if (syscall(SYS_arch_prctl, ARCH_GET_FS, &fs2) ||
	    syscall(SYS_arch_prctl, ARCH_GET_GS, &gs2))
		fail("arch_prctl: %s", strerror(errno));
	if (fs2 != fs || gs2 != gs)
		fail("fs base %#lx gs base %#lx, want %#lx %#lx", fs2, gs2, fs,
		     gs);
	pass();
}
