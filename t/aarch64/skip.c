/* Stands in for an x86-64-only test in another architecture's build: it
 * says SKIP and ends, which t/run counts as skipped. */
#include <unistd.h>

int main(void)
{
	static const char msg[] = "SKIP x86-64 only\n";

	return write(1, msg, sizeof(msg) - 1) < 0;
}
