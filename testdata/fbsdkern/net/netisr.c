/* The network software interrupt handler. */
#include "../sys/kdap_kern.h"

struct netisr_workstream {
	int	nws_cpu;
	int	nws_pendingbits;
	long	nws_handled;
};

static struct netisr_workstream nws_array[MAXCPU];

static __noinline void
netisr_wait_work(struct netisr_workstream *nwsp)
{
	nwsp->nws_pendingbits = 0;
	_sleep(nwsp, 0, "netisr", 0);
}

static __noinline int
netisr_process_workstream(struct netisr_workstream *nwsp, int proto)
{
	nwsp->nws_handled += proto;
	/* Nothing queued: park until a packet arrives. */
	netisr_wait_work(nwsp);
	return ((int)nwsp->nws_handled);
}

__noinline void
swi_net(void *arg)
{
	struct netisr_workstream *nwsp = &nws_array[0];

	(void)arg;
	nwsp->nws_pendingbits |= 1;
	netisr_process_workstream(nwsp, 2);
}
