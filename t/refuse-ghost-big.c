/* Holds a 2 MiB unlinked file, above the default --ghost-limit (1 MiB): cr dump must refuse and leave the process running, its file intact. */
#include "fdlib.h"

#define LEN (2 << 20)

int main(int argc, char **argv)
{
	static char buf[LEN];
	int fd;

	test_init(argc, argv);
	fd = open("big.dat", O_RDWR | O_CREAT | O_EXCL, 0600);
	pattern_fill(buf, LEN, 9);
	if (fd < 0 || write(fd, buf, LEN) != LEN || unlink("big.dat") ||
	    lseek(fd, 4321, SEEK_SET) != 4321)
		fail("big.dat: %s", strerror(errno));
	test_ready();
	if (spin_counters(10000000) < 1000)
		fail("counter barely moved");
	memset(buf, 0, LEN);
	if (lseek(fd, 0, SEEK_CUR) != 4321 || pread(fd, buf, LEN, 0) != LEN ||
	    pattern_check(buf, LEN, 9) >= 0)
		fail("the unlinked file changed");
	pass();
}
