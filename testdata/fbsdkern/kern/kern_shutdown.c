/* panic(), kern_reboot() and the crash dump entry point. */
#include "../sys/kdap_kern.h"

#define RB_DUMP		0x100000
#define PANIC_TIME	1700000000UL

const char *panicstr;
struct pcb dumppcb;
lwpid_t dumptid;
int dumping;
static char panic_buf[256];

/* The dump is written on its own stack so the crashed stack stays intact. */
static char dump_stack[4 * PAGE_SIZE] __aligned(16);

/*
 * Runs on dump_stack and never returns: the crashed thread's stack above
 * dumppcb.pcb_rsp stays exactly as the minidump recorded it, so QEMU's
 * later full memory dump agrees with it.
 */
static void
dump_on_stack(void)
{
	minidumpsys();
	cnputs("KDAP-DUMP-DONE\n");
	cpu_halt();
}

__noinline void
doadump(int textdump)
{
	savectx(&dumppcb);
	dumptid = curthread->td_tid;
	dumping++;
	if (textdump == 0)
		call_on_stack(dump_on_stack, dump_stack + sizeof(dump_stack));
	dumping--;
}

__noinline void
kern_reboot(int howto)
{
	if ((howto & RB_DUMP) != 0)
		doadump(0);
	cnputs("KDAP-DUMP-DONE\n");
	cpu_halt();
}

static void
stop_cpus_hard(void)
{
	/* CPU 1 stopped itself in cpustop_handler() already. */
	if ((stopped_cpus.__bits[0] & (1L << 1)) == 0)
		cnputs("vpanic: CPU 1 did not stop\n");
}

void
vpanic(const char *fmt, va_list ap)
{
	struct thread *td = curthread;

	__asm__ volatile("cli");
	stop_cpus_hard();
	vsnprintf(panic_buf, sizeof(panic_buf), fmt, ap);
	panicstr = panic_buf;
	td->td_flags |= TDF_INPANIC;
	printf("panic: %s\n", panic_buf);
	printf("cpuid = %d\n", __pcpu[0].pc_cpuid);
	printf("time = %lu\n", PANIC_TIME);
	kern_reboot(RB_DUMP);
}

void
panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vpanic(fmt, ap);
}
