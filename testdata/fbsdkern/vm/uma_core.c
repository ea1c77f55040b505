/* The UMA reclaim thread. */
#include "../sys/kdap_kern.h"

static int uma_reclaim_needed;
int uma_reclaims;

static __noinline void
uma_reclaim_wait(int *chan)
{
	_sleep(chan, 0, "umarcl", 0);
}

static __noinline void
uma_reclaim(int req)
{
	uma_reclaims += req;
	uma_reclaim_wait(&uma_reclaim_needed);
}

__noinline void
uma_reclaim_worker(void *arg)
{
	(void)arg;
	for (;;)
		uma_reclaim(1);
}
