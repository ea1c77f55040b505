/* Sleep queues: one list of sleeping threads, matched by wait channel. */
#include "../sys/kdap_kern.h"

static TAILQ_HEAD(slpq, thread) sleepq_list = { NULL, &sleepq_list.tqh_first };
int sleepq_sleeps;

__noinline void
sleepq_add(const void *wchan, const char *wmesg)
{
	struct thread *td = curthread;

	td->td_wchan = wchan;
	td->td_wmesg = wmesg;
	td->td_slptick = ticks;
	TAILQ_INSERT_TAIL(&sleepq_list, td, td_slpq);
}

static __noinline void
sleepq_switch(const void *wchan, int pri)
{
	struct thread *td = curthread;

	td->td_state = TDS_INHIBITED;
	td->td_inhibitors |= TDI_SLEEPING;
	sleepq_sleeps++;
	mi_switch(0x100 | (pri & 0xff));
	td->td_inhibitors &= ~TDI_SLEEPING;
	td->td_wchan = NULL;
	td->td_wmesg = NULL;
}

__noinline void
sleepq_wait(const void *wchan, int pri)
{
	struct thread *td = curthread;

	td->td_intrval = 0;
	sleepq_switch(wchan, pri);
}

__noinline void
sleepq_timedwait(const void *wchan, int pri)
{
	struct thread *td = curthread;

	td->td_sleeptimo = (sbintime_t)(ticks + hz) << 32;
	sleepq_switch(wchan, pri);
	td->td_sleeptimo = 0;
}

void
sleepq_wakeup(const void *wchan)
{
	struct thread *td, *next;

	for (td = TAILQ_FIRST(&sleepq_list); td != NULL; td = next) {
		next = TAILQ_NEXT(td, td_slpq);
		if (td->td_wchan != wchan)
			continue;
		TAILQ_REMOVE(&sleepq_list, td, td_slpq);
		/* A woken thread goes to the head of the run queue. */
		sched_add(td, 1);
	}
}
