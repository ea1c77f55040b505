/* The buffer daemons. */
#include "../sys/kdap_kern.h"

struct bufdomain {
	long	bd_numdirtybuffers;
	long	bd_lodirtybuffers;
	int	bd_request;
	int	bd_flushes;
};

static struct bufdomain bdomain[1] = { { 0, 13, 0, 0 } };
static int bd_request;
static int bufspace_request;

static __noinline void
bd_sleep(struct bufdomain *bd)
{
	bd->bd_request = 0;
	_sleep(&bd_request, 0, "psleep", (sbintime_t)hz << 32);
}

static __noinline int
flushbufqueues(struct bufdomain *bd, int target)
{
	bd->bd_flushes++;
	bd_sleep(bd);
	return (target - (int)bd->bd_numdirtybuffers);
}

static __noinline void
buf_daemon_process(struct bufdomain *bd)
{
	while (flushbufqueues(bd, (int)bd->bd_lodirtybuffers) > 0)
		bd->bd_lodirtybuffers--;
}

__noinline void
buf_daemon(void *arg)
{
	(void)arg;
	for (;;)
		buf_daemon_process(&bdomain[0]);
}

static __noinline void
bufspace_daemon_wait(struct bufdomain *bd)
{
	bd->bd_flushes += 0;
	_sleep(&bufspace_request, 0, "-", 0);
}

__noinline void
buf_daemon_shutdown_space(void *arg)
{
	struct bufdomain *bd = arg;

	for (;;)
		bufspace_daemon_wait(bd);
}

void *bufspace_daemon_arg = &bdomain[0];
