/* MAP_PRIVATE file mapping keeps COW'd pages and file pages apart; MAP_SHARED stays shared with its file. */
#include "lib.h"
#include <limits.h>
#include <sys/mman.h>

#define FSIZE (16 * PAGE)
#define SSIZE (4 * PAGE)
#define FSEED 1
#define SSEED 7

static char fbuf[FSIZE], cwd[PATH_MAX];

static bool dirty(int pg)
{
	return pg == 1 || pg == 3 || pg == 8 || pg == 15;
}

/* Check that the mapping at addr is exactly what we created. */
static void check_vma(void *addr, size_t len, const char *prot,
		      const char *file, unsigned long off)
{
	char path[PATH_MAX + 32];
	struct vma v;

	snprintf(path, sizeof(path), "%s/%s", cwd, file);
	if (vma_find((unsigned long)addr, NULL, &v))
		fail("no mapping at %p", addr);
	if (v.start != (unsigned long)addr || v.end != v.start + len ||
	    strcmp(v.prot, prot) || v.off != off || strcmp(v.path, path))
		fail("mapping %lx-%lx %s %lx %s, want %p +%zu %s %lx %s",
		     v.start, v.end, v.prot, v.off, v.path, addr, len, prot,
		     off, path);
}

static void check_file(const char *name, size_t len, uint64_t seed)
{
	int fd = open(name, O_RDONLY | O_CLOEXEC);
	long off;

	if (fd < 0 || pread(fd, fbuf, FSIZE, 0) != (ssize_t)len)
		fail("read %s: %s", name, strerror(errno));
	close(fd);
	off = pattern_check(fbuf, len, seed);
	if (off >= 0)
		fail("%s changed at %ld", name, off);
}

static void *map(const char *name, size_t len, int prot, int flags, off_t off)
{
	int fd = open(name, O_RDWR | O_CLOEXEC);
	void *p;

	if (fd < 0)
		fail("open %s: %s", name, strerror(errno));
	p = mmap(NULL, len, prot, flags, fd, off);
	if (p == MAP_FAILED)
		fail("mmap %s: %s", name, strerror(errno));
	close(fd);
	return p;
}

int main(int argc, char **argv)
{
	unsigned char *priv, *ro, *shr;
	volatile unsigned char sink;
	int fd, pg;
	long off;

	test_init(argc, argv);
	if (!getcwd(cwd, sizeof(cwd)))
		fail("getcwd: %s", strerror(errno));
	pattern_fill(fbuf, FSIZE, FSEED);
	write_file("priv.dat", fbuf, FSIZE);
	pattern_fill(fbuf, SSIZE, 99);
	write_file("shared.dat", fbuf, SSIZE);

	priv = map("priv.dat", FSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0);
	ro = map("priv.dat", 4 * PAGE, PROT_READ, MAP_PRIVATE, 4 * PAGE);
	shr = map("shared.dat", SSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	for (pg = 0; pg < 16; pg++)
		if (dirty(pg))
			pattern_fill(priv + pg * PAGE, PAGE, 100 + pg);
	priv[2 * PAGE + 100] ^= 0xff;	/* one byte COW, rest of page is file */
	for (pg = 4; pg < 8; pg++)	/* read-only faults */
		sink = ro[(pg - 4) * PAGE] + priv[pg * PAGE];
	(void)sink;
	pattern_fill(shr, SSIZE, SSEED);	/* not msync'ed */

	test_ready();
	test_wait();

	check_vma(priv, FSIZE, "rw-p", "priv.dat", 0);
	check_vma(ro, 4 * PAGE, "r--p", "priv.dat", 4 * PAGE);
	check_vma(shr, SSIZE, "rw-s", "shared.dat", 0);

	pattern_fill(fbuf, FSIZE, FSEED);
	fbuf[2 * PAGE + 100] ^= 0xff;
	for (pg = 0; pg < 16; pg++) {
		if (dirty(pg))
			off = pattern_check(priv + pg * PAGE, PAGE, 100 + pg);
		else
			off = mem_diff(priv + pg * PAGE, fbuf + pg * PAGE,
				       PAGE);
		if (off >= 0)
			fail("private page %d (%s) differs at %ld", pg,
			     dirty(pg) ? "written" : "file", off);
	}
	fbuf[2 * PAGE + 100] ^= 0xff;
	if (memcmp(ro, fbuf + 4 * PAGE, 4 * PAGE))
		fail("read-only mapping at file offset 16K differs");
	check_file("priv.dat", FSIZE, FSEED);

	off = pattern_check(shr, SSIZE, SSEED);
	if (off >= 0)
		fail("shared mapping differs at %ld", off);
	check_file("shared.dat", SSIZE, SSEED);
	/* still shared with the file? */
	shr[SSIZE - 1] ^= 0x5a;
	fd = open("shared.dat", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || pread(fd, fbuf, 1, SSIZE - 1) != 1)
		fail("read shared.dat: %s", strerror(errno));
	if ((unsigned char)fbuf[0] != shr[SSIZE - 1])
		fail("store to MAP_SHARED mapping not seen in the file");
	close(fd);
	pass();
}
