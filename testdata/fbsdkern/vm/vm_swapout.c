/* thread0's final job: the swapper loop. */
#include "../sys/kdap_kern.h"

int swapper_passes;

__noinline void
swapper(void)
{
	for (;;) {
		swapper_passes++;
		_sleep(&proc0, 0, "swapin", (sbintime_t)(10 * hz) << 32);
	}
}
