/* Machine-independent start-up: boot messages and the fixture's threads. */
#include "../sys/kdap_kern.h"

extern long physmem, Maxmem;
extern char kdap_cmdline[];
extern struct taskqueue taskqueue_thread_tq, taskqueue_firmware_tq;
extern struct intr_thread clk_ithread, net_ithread;
struct vm_domain;
extern struct vm_domain *vm_dom0;
extern void *bufspace_daemon_arg;

struct kdap_job;
extern struct kdap_job kdap_job_init, kdap_job_sh, kdap_job_sysctl;
struct proc *kdap_sysctl_proc;

static __noinline void
print_banner(void)
{
	int i;

	printf("---<<BOOT>>---\n");
	printf("Copyright (c) 1992-2023 The FreeBSD Project.\n");
	printf("Copyright (c) 1979, 1980, 1983, 1986, 1988, 1989, 1991, 1992, 1993, 1994\n");
	printf("\tThe Regents of the University of California. All rights reserved.\n");
	printf("FreeBSD is a registered trademark of The FreeBSD Foundation.\n");
	printf("%s", version);
	printf("FreeBSD clang version 18.1.5 (https://github.com/llvm/llvm-project.git llvmorg-18.1.5-0-g617a15a9eac9)\n");
	printf("VT(vga): text 80x25\n");
	printf("CPU: QEMU Virtual CPU version 2.5+ (2000.00-MHz K8-class CPU)\n");
	printf("  Origin=\"AuthenticAMD\"  Id=0x663  Family=0x6  Model=0x6  Stepping=3\n");
	printf("  Features=0x783fbfd<FPU,DE,PSE,TSC,MSR,PAE,MCE,CX8,APIC,SEP,MTRR,PGE,MCA,CMOV,PAT,PSE36,MMX,FXSR,SSE,SSE2>\n");
	printf("  AMD Features=0x2c100800<SYSCALL,NX,Page1GB,RDTSCP,LM>\n");
	printf("real memory  = %lu (%lu MB)\n", Maxmem * PAGE_SIZE,
	    Maxmem * PAGE_SIZE / (1024 * 1024));
	printf("avail memory = %lu (%lu MB)\n", physmem * PAGE_SIZE,
	    physmem * PAGE_SIZE / (1024 * 1024));
	printf("Physical memory chunk(s):\n");
	for (i = 0; dump_avail[i + 1] != 0; i += 2)
		printf("0x%016lx - 0x%016lx, %lu bytes (%lu pages)\n",
		    dump_avail[i], dump_avail[i + 1] - 1,
		    dump_avail[i + 1] - dump_avail[i],
		    (dump_avail[i + 1] - dump_avail[i]) / PAGE_SIZE);
	printf("Event timer \"LAPIC\" quality 100\n");
	printf("FreeBSD/SMP: Multiprocessor System Detected: %d CPUs\n", mp_ncpus);
	printf("FreeBSD/SMP: 1 package(s) x %d core(s)\n", mp_ncpus);
	printf("kdap: boot options \"%s\"\n", kdap_cmdline);
}

static __noinline void
print_filler(int n)
{
	int i;

	for (i = 1; i <= n; i++)
		printf("kdap: boot line %03d of %03d: filler to wrap the message buffer ring\n",
		    i, n);
}

static __noinline void
create_threads(void)
{
	struct proc *p;

	kthread_create(&proc0, "thread taskq", taskqueue_thread_loop,
	    &taskqueue_thread_tq);
	kthread_create(&proc0, "firmware taskq", taskqueue_thread_loop,
	    &taskqueue_firmware_tq);
	p = proc_create(11, "idle", P_SYSTEM | P_KPROC);
	kthread_create(p, "idle: cpu0", sched_idletd, (void *)0L);
	kthread_create(p, "idle: cpu1", sched_idletd, (void *)1L);
	p = proc_create(12, "intr", P_SYSTEM | P_KPROC);
	kthread_create(p, "swi4: clock (0)", ithread_loop, &clk_ithread);
	kthread_create(p, "swi1: netisr 0", ithread_loop, &net_ithread);
	p = proc_create(15, "rand_harvestq", P_SYSTEM | P_KPROC);
	kthread_create(p, "rand_harvestq", random_kthread, NULL);
	p = proc_create(18, "pagedaemon", P_SYSTEM | P_KPROC);
	kthread_create(p, "dom0", vm_pageout, NULL);
	kthread_create(p, "laundry: dom0", vm_pageout_laundry_worker,
	    vm_dom0);
	kthread_create(p, "uma", uma_reclaim_worker, NULL);
	p = proc_create(19, "bufdaemon", P_SYSTEM | P_KPROC);
	kthread_create(p, "bufdaemon", buf_daemon, NULL);
	kthread_create(p, "bufspacedaemon-0", buf_daemon_shutdown_space,
	    bufspace_daemon_arg);
	p = proc_create(22, "syncer", P_SYSTEM | P_KPROC);
	kthread_create(p, "syncer", sched_sync, NULL);
	p = proc_create(1, "init", 0);
	kthread_create(p, "init", kdap_user_start, &kdap_job_init);
	p = proc_create(807, "sh", 0);
	kthread_create(p, "sh", kdap_user_start, &kdap_job_sh);
	p = proc_create(806, "sysctl", 0);
	kdap_sysctl_proc = p;
	kthread_create(p, "sysctl", kdap_user_start, &kdap_job_sysctl);
}

void mi_startup(void) __dead2;

__noinline void
mi_startup(void)
{
	print_banner();
	print_filler(160);
	printf("Timecounters tick every 1.000 msec\n");
	printf("random: entropy device external interface\n");
	create_threads();
	printf("Trying to mount root from ufs:/dev/vtbd0p2 [rw]...\n");
	printf("Starting kdap fixture threads: %d processes\n", 11);
	swapper();
}
