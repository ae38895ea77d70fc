/* The brk heap keeps its end, content and [heap] VMA, and can still grow and shrink. */
#include "lib.h"

#define MB (1ul << 20)

/* brk shrinking frees whole pages only: check zeroes from here on */
#define PAGE_UP(p) ((char *)(((unsigned long)(p) + 4095) & ~4095ul))

/* Raw brk: musl's sbrk() only supports sbrk(0). */
static char *brk_to(char *p)
{
	return (char *)syscall(SYS_brk, p);
}

static void brk_must(char *p)
{
	char *r = brk_to(p);

	if (r != p)
		fail("brk(%p) = %p", p, r);
}

static void check(char *p, size_t len, uint64_t seed, const char *what)
{
	long off = pattern_check(p, len, seed);

	if (off >= 0)
		fail("%s heap data differs at %p", what, p + off);
}

int main(int argc, char **argv)
{
	struct vma heap, now;
	char *start, *top;
	long off;

	test_init(argc, argv);
	start = brk_to(NULL);
	brk_must(start + 8 * MB);
	pattern_fill(start, 8 * MB, 42);
	top = start + 5 * MB;
	brk_must(top);
	if (vma_find(0, "[heap]", &heap))
		fail("no [heap] in maps");

	test_ready();
	test_wait();

	if (brk_to(NULL) != top)
		fail("brk is %p, was %p", brk_to(NULL), top);
	if (vma_find(0, "[heap]", &now))
		fail("no [heap] in maps after restore");
	if (now.start != heap.start || now.end != heap.end)
		fail("[heap] %lx-%lx, was %lx-%lx", now.start, now.end,
		     heap.start, heap.end);
	check(start, 5 * MB, 42, "old");

	brk_must(top + 3 * MB);
	off = zero_check(PAGE_UP(top), top + 3 * MB - PAGE_UP(top));
	if (off >= 0)
		fail("regrown heap not zero at %p", PAGE_UP(top) + off);
	pattern_fill(top, 3 * MB, 43);
	check(start, 5 * MB, 42, "old");
	check(top, 3 * MB, 43, "new");
	brk_must(start + MB);
	check(start, MB, 42, "shrunk");
	brk_must(start + 2 * MB);
	if (zero_check(PAGE_UP(start + MB), MB - 4096) >= 0)
		fail("heap regrown after shrink not zero");
	pass();
}
