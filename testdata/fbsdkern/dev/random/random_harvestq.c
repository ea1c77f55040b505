/*
 * The entropy harvesting thread.  It sleeps once like every other thread,
 * and when woken it is the thread that "CPU 1" is running when the panic
 * stops that CPU: cpustop_handler() saves its registers into stoppcbs[1].
 */
#include "../../sys/kdap_kern.h"

void ipi_nmi_handler(void);

struct harvest_context {
	int	hc_active_buf;
	int	hc_entropy_fast_accumulator;
	u_int	hc_events;
	u_char	hc_pool[32];
};

static struct harvest_context harvest_context;
int kdap_random_chan;
int random_wakeups;

static __noinline void
random_harvestq_wait(struct harvest_context *hc)
{
	hc->hc_active_buf ^= 1;
	_sleep(&kdap_random_chan, 0, "-", (sbintime_t)(hz / 10) << 32);
	random_wakeups++;
}

static __noinline void
random_fortuna_process_event(struct harvest_context *hc, u_int event)
{
	hc->hc_pool[event % sizeof(hc->hc_pool)] ^= (u_char)(event * 31);
	hc->hc_events++;
	/* The stop IPI from the panicking CPU arrives here. */
	ipi_nmi_handler();
}

static __noinline void
random_sources_feed(struct harvest_context *hc)
{
	u_int i;

	for (i = 0; i < 3; i++)
		hc->hc_entropy_fast_accumulator += (int)(i * 7 + 1);
	random_fortuna_process_event(hc, 0x5a);
}

__noinline void
random_kthread(void *arg)
{
	struct harvest_context *hc = &harvest_context;

	(void)arg;
	for (;;) {
		random_harvestq_wait(hc);
		random_sources_feed(hc);
	}
}
