/* Sleeping, waking up and voluntary context switches. */
#include "../sys/kdap_kern.h"

void sleepq_add(const void *wchan, const char *wmesg);
void sleepq_wait(const void *wchan, int pri);
void sleepq_timedwait(const void *wchan, int pri);
void sleepq_wakeup(const void *wchan);

static int pause_wchan[MAXCPU];

__noinline void
mi_switch(int flags)
{
	struct thread *td = curthread;

	ticks += 3;
	td->td_generation++;
	td->td_runtime += 1000 + (flags & 0xff);
	sched_switch(td, flags);
}

__noinline int
_sleep(const void *ident, int priority, const char *wmesg, sbintime_t sbt)
{
	struct thread *td = curthread;

	td->td_priority = (u_char)(priority & 0xff);
	sleepq_add(ident, wmesg);
	if (sbt != 0)
		sleepq_timedwait(ident, priority);
	else
		sleepq_wait(ident, priority);
	return (td->td_intrval);
}

__noinline int
pause_sbt(const char *wmesg, sbintime_t sbt, sbintime_t pr, int flags)
{
	int cpu = (int)__pcpu[0].pc_cpuid;

	return (_sleep(&pause_wchan[cpu], flags, wmesg, sbt + pr));
}

__noinline void
wakeup(const void *ident)
{
	sleepq_wakeup(ident);
}
