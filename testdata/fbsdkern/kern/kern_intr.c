/* Interrupt threads (software interrupts only). */
#include "../sys/kdap_kern.h"

struct intr_event {
	const char	*ie_name;
	void		(*ie_handler)(void *);
	void		*ie_arg;
	int		ie_count;
	int		ie_cpu;
};

struct intr_thread {
	struct intr_event *it_event;
	struct thread	*it_thread;
	int		it_flags;
	int		it_need;
};

void swi_net(void *arg);
int softclock_runs;

static __noinline void
softclock(void *arg)
{
	int *cpu = arg;

	softclock_runs += 1 + *cpu;
}

static int softclock_cpu0 = 0;
struct intr_event clk_intr_event = { "swi4: clock (0)", softclock,
    &softclock_cpu0, 0, 0 };
struct intr_event net_intr_event = { "swi1: netisr 0", swi_net, NULL, 0, 0 };
struct intr_thread clk_ithread = { &clk_intr_event, NULL, 0, 1 };
struct intr_thread net_ithread = { &net_intr_event, NULL, 0, 1 };

static __noinline void
ithread_execute_handlers(struct proc *p, struct intr_event *ie)
{
	ie->ie_count++;
	p->p_stops += 0;
	ie->ie_handler(ie->ie_arg);
}

__noinline void
ithread_loop(void *arg)
{
	struct intr_thread *ithd = arg;
	struct thread *td = curthread;

	ithd->it_thread = td;
	td->td_pflags |= TDP_ITHREAD;
	for (;;) {
		while (ithd->it_need != 0) {
			ithd->it_need = 0;
			ithread_execute_handlers(td->td_proc, ithd->it_event);
		}
		/* No more work: wait for the next interrupt. */
		td->td_state = TDS_INHIBITED;
		td->td_inhibitors |= TDI_IWAIT;
		mi_switch(0x200);
		td->td_inhibitors &= ~TDI_IWAIT;
	}
}
