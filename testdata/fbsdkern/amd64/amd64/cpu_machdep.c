/* Idle loops: the idle threads give up the CPU cooperatively. */
#include "../../sys/kdap_kern.h"

int cpu_idle_hlt_calls;
int cpu_idle_mwait_calls;

static __noinline void
cpu_idle_hlt(int busy)
{
	cpu_idle_hlt_calls += 1 + busy;
	mi_switch(0x300);
}

static __noinline void
cpu_idle_mwait(int busy)
{
	cpu_idle_mwait_calls += 2 + busy;
	mi_switch(0x301);
}

__noinline void
cpu_idle(int busy)
{
	struct thread *td = curthread;

	/* idle: cpu1 uses MWAIT, idle: cpu0 HLT. */
	if (td->td_name[9] == '1')
		cpu_idle_mwait(busy);
	else
		cpu_idle_hlt(busy);
}
