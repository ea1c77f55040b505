/* Types and structures of the kdap fixture kernel (FreeBSD 14 amd64 names
 * and member order; sources and build-variant switches: end of file). */
#ifdef STOPPCBS_PTR
#define	STOPPCBS_DECL	*stoppcbs		/* FreeBSD 14.0+: allocated at boot */
#else
#define	STOPPCBS_DECL	stoppcbs[MAXCPU]	/* before 14.0: a static array */
#endif
#ifndef _KDAP_KERN_H_
#define _KDAP_KERN_H_

typedef unsigned long		uint64_t;
typedef long			int64_t;
typedef unsigned int		uint32_t;
typedef int			int32_t;
typedef unsigned short		uint16_t;
typedef short			int16_t;
typedef unsigned char		uint8_t;
typedef signed char		int8_t;
typedef unsigned long		size_t;
typedef long			ssize_t;
typedef unsigned long		uintptr_t;
typedef long			intptr_t;
typedef long			register_t;
typedef unsigned long		vm_offset_t;
typedef unsigned long		vm_paddr_t;
typedef unsigned char		u_char;
typedef unsigned short		u_short;
typedef unsigned int		u_int;
typedef unsigned long		u_long;
typedef int			pid_t;
typedef int			lwpid_t;
typedef long			sbintime_t;
typedef __builtin_va_list	va_list;
#define va_start(ap, last)	__builtin_va_start(ap, last)
#define va_arg(ap, type)	__builtin_va_arg(ap, type)
#define va_end(ap)		__builtin_va_end(ap)

#define NULL		((void *)0)
#define __noinline	__attribute__((noinline))
#define __dead2		__attribute__((noreturn))
#define __aligned(x)	__attribute__((aligned(x)))
#define __always_inline	__attribute__((always_inline))
#define offsetof(t, m)	__builtin_offsetof(t, m)
#define nitems(x)	(sizeof(x) / sizeof((x)[0]))

#define PAGE_SHIFT	12
#define PAGE_SIZE	4096UL
#define PAGE_MASK	(PAGE_SIZE - 1)
#define round_page(x)	(((unsigned long)(x) + PAGE_MASK) & ~PAGE_MASK)
#define trunc_page(x)	((unsigned long)(x) & ~PAGE_MASK)
#define NBPDR		(1UL << 21)
#define NBPDP		(1UL << 30)
#define NPDEPG		512
#define NPTEPG		512

#define KERNBASE		0xffffffff80000000UL
#define VM_MIN_KERNEL_ADDRESS	0xfffffe0000000000UL
#define DMAP_MIN_ADDRESS	0xfffff80000000000UL
#define DMAP_MAX_ADDRESS	0xfffffc0000000000UL
#define PHYS_TO_DMAP(pa)	((vm_offset_t)(pa) + DMAP_MIN_ADDRESS)
#define DMAP_TO_PHYS(va)	((vm_paddr_t)(va) - DMAP_MIN_ADDRESS)
#define KVTOP(va)		((vm_paddr_t)(va) - KVTOP_OFFSET)

#define PG_V		0x001UL
#define PG_RW		0x002UL
#define PG_A		0x020UL
#define PG_M		0x040UL
#define PG_PS		0x080UL
#define PG_G		0x100UL
#define PG_FRAME	0x000ffffffffff000UL
#define PG_PS_FRAME	0x000fffffffe00000UL

#define MAXCOMLEN	19
#define MAXCPU		2
#define NOCPU		0xff
#define KSTACK_PAGES	4
#define KSTACK_GUARD_PAGES 1

/* sys/queue.h style lists (own minimal versions). */
#define LIST_HEAD(name, type)	struct name { struct type *lh_first; }
#define LIST_ENTRY(type)	struct { struct type *le_next; struct type **le_prev; }
#define LIST_FIRST(h)		((h)->lh_first)
#define LIST_NEXT(e, f)		((e)->f.le_next)
#define LIST_INSERT_HEAD(h, e, f) do {					\
	if (((e)->f.le_next = (h)->lh_first) != NULL)			\
		(h)->lh_first->f.le_prev = &(e)->f.le_next;		\
	(h)->lh_first = (e);						\
	(e)->f.le_prev = &(h)->lh_first;				\
} while (0)
#define LIST_REMOVE(e, f) do {						\
	if ((e)->f.le_next != NULL)					\
		(e)->f.le_next->f.le_prev = (e)->f.le_prev;		\
	*(e)->f.le_prev = (e)->f.le_next;				\
} while (0)
#define TAILQ_HEAD(name, type)	struct name { struct type *tqh_first; struct type **tqh_last; }
#define TAILQ_ENTRY(type)	struct { struct type *tqe_next; struct type **tqe_prev; }
#define TAILQ_INIT(h) do { (h)->tqh_first = NULL; (h)->tqh_last = &(h)->tqh_first; } while (0)
#define TAILQ_FIRST(h)		((h)->tqh_first)
#define TAILQ_NEXT(e, f)	((e)->f.tqe_next)
#define TAILQ_INSERT_TAIL(h, e, f) do {					\
	(e)->f.tqe_next = NULL;						\
	(e)->f.tqe_prev = (h)->tqh_last;				\
	*(h)->tqh_last = (e);						\
	(h)->tqh_last = &(e)->f.tqe_next;				\
} while (0)
#define TAILQ_INSERT_HEAD(h, e, f) do {					\
	if (((e)->f.tqe_next = (h)->tqh_first) != NULL)			\
		(h)->tqh_first->f.tqe_prev = &(e)->f.tqe_next;		\
	else								\
		(h)->tqh_last = &(e)->f.tqe_next;			\
	(h)->tqh_first = (e);						\
	(e)->f.tqe_prev = &(h)->tqh_first;				\
} while (0)
#define TAILQ_REMOVE(h, e, f) do {					\
	if ((e)->f.tqe_next != NULL)					\
		(e)->f.tqe_next->f.tqe_prev = (e)->f.tqe_prev;		\
	else								\
		(h)->tqh_last = (e)->f.tqe_prev;			\
	*(e)->f.tqe_prev = (e)->f.tqe_next;				\
} while (0)

struct lock_object {
	const char	*lo_name;
	u_int		lo_flags;
	u_int		lo_data;
	struct witness	*lo_witness;
};

struct mtx {
	struct lock_object	lock_object;
	volatile uintptr_t	mtx_lock;
};

struct callout {
	void		*c_links[2];
	sbintime_t	c_time;
	sbintime_t	c_precision;
	void		*c_arg;
	void		(*c_func)(void *);
	struct lock_object *c_lock;
	short		c_flags;
	short		c_iflags;
	volatile int	c_cpu;
};

typedef struct {
	uint32_t	__bits[4];
} sigset_t;

struct region_descriptor {
	uint64_t rd_limit:16;
	uint64_t rd_base:64 __attribute__((packed));
} __attribute__((packed));

/* sys/amd64/include/pcb.h */
struct pcb {
	register_t	pcb_r15;
	register_t	pcb_r14;
	register_t	pcb_r13;
	register_t	pcb_r12;
	register_t	pcb_rbp;
	register_t	pcb_rsp;
	register_t	pcb_rbx;
	register_t	pcb_rip;
	register_t	pcb_fsbase;
	register_t	pcb_gsbase;
	register_t	pcb_kgsbase;
	register_t	pcb_cr0;
	register_t	pcb_cr2;
	register_t	pcb_cr3;
	register_t	pcb_cr4;
	register_t	pcb_dr0;
	register_t	pcb_dr1;
	register_t	pcb_dr2;
	register_t	pcb_dr3;
	register_t	pcb_dr6;
	register_t	pcb_dr7;

	struct region_descriptor pcb_gdt;
	struct region_descriptor pcb_idt;
	struct region_descriptor pcb_ldt;
	uint16_t	pcb_tr;

	u_int		pcb_flags;
	uint16_t	pcb_initial_fpucw;
	char		*pcb_onfault;
	uint64_t	pcb_saved_ucr3;
	struct amd64tss	*pcb_tssp;
	register_t	pcb_efer;
	register_t	pcb_star;
	register_t	pcb_lstar;
	register_t	pcb_cstar;
	register_t	pcb_sfmask;
	struct savefpu	*pcb_save;
	uint64_t	pcb_pad[5];
};

/* sys/x86/include/frame.h (amd64 part) */
struct trapframe {
	register_t	tf_rdi;
	register_t	tf_rsi;
	register_t	tf_rdx;
	register_t	tf_rcx;
	register_t	tf_r8;
	register_t	tf_r9;
	register_t	tf_rax;
	register_t	tf_rbx;
	register_t	tf_rbp;
	register_t	tf_r10;
	register_t	tf_r11;
	register_t	tf_r12;
	register_t	tf_r13;
	register_t	tf_r14;
	register_t	tf_r15;
	uint32_t	tf_trapno;
	uint16_t	tf_fs;
	uint16_t	tf_gs;
	register_t	tf_addr;
	uint32_t	tf_flags;
	uint16_t	tf_es;
	uint16_t	tf_ds;
	register_t	tf_err;
	register_t	tf_rip;
	register_t	tf_cs;
	register_t	tf_rflags;
	register_t	tf_rsp;
	register_t	tf_ss;
};

#define T_PAGEFLT	12

struct mdthread {
	int		md_spinlock_count;
	register_t	md_saved_flags;
	register_t	md_spurflt_addr;
	struct proc_ldt	*md_ldt;
	int		md_efirt_dis_pf;
	struct pcb	md_pcb;
	vm_offset_t	md_stack_base;
	void		*md_usr_fpu_save;
};

struct thread;
struct proc;

/* sys/sys/proc.h: struct thread (FreeBSD 14 member order, abridged). */
struct thread {
	struct mtx	*volatile td_lock;
	struct proc	*td_proc;
	TAILQ_ENTRY(thread) td_plist;
	TAILQ_ENTRY(thread) td_runq;
	union {
		TAILQ_ENTRY(thread) td_slpq;
		struct thread	*td_zombie;
	};
	TAILQ_ENTRY(thread) td_lockq;
	LIST_ENTRY(thread) td_hash;
	struct cpuset	*td_cpuset;
	struct domainset *td_domain_ds;
	int		td_domain_iter;
	struct seltd	*td_sel;
	struct sleepqueue *td_sleepqueue;
	struct turnstile *td_turnstile;
	void		*td_pad1;
	struct umtx_q	*td_umtxq;
	lwpid_t		td_tid;
	struct {
		sigset_t	sq_signals;
		sigset_t	sq_kill;
		sigset_t	sq_ptrace;
		void		*sq_list[2];
		struct proc	*sq_proc;
		int		sq_flags;
	} td_sigqueue;
	u_char		td_lend_user_pri;
	u_char		td_allocdomain;
	u_char		td_base_ithread_pri;
	struct kmsan_td	*td_kmsan;
	int		td_flags;
	int		td_ast;
	int		td_inhibitors;
	int		td_pflags;
	int		td_pflags2;
	int		td_dupfd;
	int		td_sqqueue;
	const void	*td_wchan;
	const char	*td_wmesg;
	volatile u_char	td_owepreempt;
	u_char		td_tsqueue;
	short		td_locks;
	short		td_rw_rlocks;
	short		td_sx_slocks;
	short		td_lk_slocks;
	short		td_stopsched;
	struct turnstile *td_blocked;
	const char	*td_lockname;
	struct turnstile *td_contested;
	struct lock_list_entry *td_sleeplocks;
	int		td_intr_nesting_level;
	int		td_pinned;
	struct ucred	*td_realucred;
	struct ucred	*td_ucred;
	struct plimit	*td_limit;
	int		td_slptick;
	int		td_blktick;
	int		td_swvoltick;
	int		td_swinvoltick;
	u_int		td_cow;
	long		td_ru_pad[18];
	uint64_t	td_incruntime;
	uint64_t	td_runtime;
	u_int		td_pticks;
	u_int		td_sticks;
	u_int		td_iticks;
	u_int		td_uticks;
	int		td_intrval;
	sigset_t	td_oldsigmask;
	volatile u_int	td_generation;
	int		td_xsig;
	u_long		td_profil_addr;
	u_int		td_profil_ticks;
	char		td_name[MAXCOMLEN + 1];
	struct file	*td_fpop;
	int		td_dbgflags;
	int		td_ng_outbound;
	struct vm_map_entry *td_map_def_user;
	pid_t		td_dbg_forked;
	u_int		td_no_sleeping;
	void		*td_su;
	sbintime_t	td_sleeptimo;
	int		td_rtcgen;
	int		td_errno;
	size_t		td_vslock_sz;
	struct kcov_info *td_kcov_info;
	u_int		td_ucredref;
	sigset_t	td_sigmask;
	u_char		td_rqindex;
	u_char		td_base_pri;
	u_char		td_priority;
	u_char		td_pri_class;
	u_char		td_user_pri;
	u_char		td_base_user_pri;
	u_char		td_pre_epoch_prio;
	uintptr_t	td_rb_list;
	uintptr_t	td_rbp_list;
	uintptr_t	td_rb_inact;
	void		*td_sigblock_ptr;
	uint32_t	td_sigblock_val;
	struct pcb	*td_pcb;
	enum td_states {
		TDS_INACTIVE = 0x0,
		TDS_INHIBITED,
		TDS_CAN_RUN,
		TDS_RUNQ,
		TDS_RUNNING
	} td_state;
	union {
		register_t	tdu_retval[2];
		long		tdu_off;
	} td_uretoff;
	u_int		td_cowgen;
	struct callout	td_slpcallout;
	struct trapframe *td_frame;
	vm_offset_t	td_kstack;
	u_short		td_kstack_pages;
	u_short		td_kstack_domain;
	volatile u_int	td_critnest;
	struct mdthread	td_md;
	struct kaudit_record *td_ar;
	void		*td_lprof[2];
	struct kdtrace_thread *td_dtrace;
	struct vnet	*td_vnet;
	const char	*td_vnet_lpush;
	struct trapframe *td_intr_frame;
	struct proc	*td_rfppwait_p;
	struct vm_page	**td_ma;
	int		td_ma_cnt;
	void		*td_emuldata;
	u_char		td_lastcpu;
	u_char		td_oncpu;
	void		*td_lkpi_task;
	int		td_pmcpend;
	void		(*td_start_func)(void *);	/* fixture: start routine */
	void		*td_start_arg;
};

#define TDF_INPANIC	0x00000002
#define TDF_INMEM	0x00000004
#define TDF_SINTR	0x00000008
#define TDF_IDLETD	0x00000020
#define TDP_ITHREAD	0x00000400
#define TDP_KTHREAD	0x00200000
#define TDI_SLEEPING	0x0002
#define TDI_IWAIT	0x0010

/* sys/sys/proc.h: struct proc (abridged). */
struct proc {
	LIST_ENTRY(proc) p_list;
	TAILQ_HEAD(, thread) p_threads;
	struct mtx	p_slock;
	struct ucred	*p_ucred;
	struct filedesc	*p_fd;
	struct filedesc_to_leader *p_fdtol;
	struct pwddesc	*p_pd;
	struct pstats	*p_stats;
	struct plimit	*p_limit;
	struct callout	p_limco;
	struct sigacts	*p_sigacts;
	int		p_flag;
	int		p_flag2;
	enum p_states {
		PRS_NEW = 0,
		PRS_NORMAL,
		PRS_ZOMBIE
	} p_state;
	pid_t		p_pid;
	LIST_ENTRY(proc) p_hash;
	LIST_ENTRY(proc) p_pglist;
	struct proc	*p_pptr;
	LIST_ENTRY(proc) p_sibling;
	LIST_HEAD(, proc) p_children;
	struct proc	*p_reaper;
	LIST_HEAD(, proc) p_reaplist;
	LIST_ENTRY(proc) p_reapsibling;
	struct mtx	p_mtx;
	struct mtx	p_statmtx;
	struct mtx	p_itimmtx;
	struct mtx	p_profmtx;
	struct ksiginfo	*p_ksi;
	long		p_sigqueue_pad[8];
	int		p_oppid;
	struct vmspace	*p_vmspace;
	u_int		p_swtick;
	u_int		p_cowgen;
	int		p_traceflag;
	struct vnode	*p_textvp;
	u_int		p_lock;
	int		p_numthreads;
	int		p_xexit;
	int		p_xsig;
	int		p_stops;
	char		p_comm[MAXCOMLEN + 1];
	struct sysentvec *p_sysent;
	struct pargs	*p_args;
	long		p_cpulimit;
	signed char	p_nice;
	int		p_fibnum;
	pid_t		p_reapsubtree;
	uint64_t	p_elf_flags;
	void		*p_elf_brandinfo;
};

#define P_SYSTEM	0x00200
#define P_KPROC		0x00004
#define P_INMEM		0x10000000
#define P_WEXIT		0x02000

/* sys/sys/pcpu.h (abridged) */
struct pcpu {
	struct thread	*pc_curthread;
	struct thread	*pc_idlethread;
	struct thread	*pc_fpcurthread;
	struct thread	*pc_deadthread;
	struct pcb	*pc_curpcb;
	void		*pc_sched;
	uint64_t	pc_switchtime;
	int		pc_switchticks;
	u_int		pc_cpuid;
	struct pcpu	*pc_allcpu_next;
	struct lock_list_entry *pc_spinlocks;
	long		pc_cnt_pad[16];
	long		pc_cp_time[5];
	struct device	*pc_device;
	void		*pc_netisr;
	int		pc_unused1;
	int		pc_domain;
	void		*pc_rm_queue[2];
	uintptr_t	pc_dynamic;
	uint64_t	pc_early_dummy_counter;
	uintptr_t	pc_zpcpu_offset;
	/* PCPU_MD_FIELDS (abridged) */
	struct pcpu	*pc_prvspace;
	struct pmap	*pc_curpmap;
	struct amd64tss	*pc_tssp;
	void		*pc_pad0;
	uint64_t	pc_kcr3;
	uint64_t	pc_ucr3;
	uint64_t	pc_saved_ucr3;
	register_t	pc_rsp0;
	register_t	pc_scratch_rsp;
	register_t	pc_scratch_rax;
	u_int		pc_apic_id;
	u_int		pc_acpi_id;
	char		__pad[3072];
} __aligned(4096);

/* sys/sys/msgbuf.h */
struct msgbuf {
	char		*msg_ptr;
#define MSG_MAGIC	0x063062
	u_int		msg_magic;
	u_int		msg_size;
	u_int		msg_wseq;
	u_int		msg_rseq;
	u_int		msg_cksum;
	u_int		msg_seqmod;
	int		msg_lastpri;
	u_int		msg_flags;
	struct mtx	msg_lock;
};

/* sys/sys/_cpuset.h */
#define _NCPUBITS	(sizeof(long) * 8)
typedef struct _cpuset {
	long	__bits[(256 + _NCPUBITS - 1) / _NCPUBITS];
} cpuset_t;

/* sys/sys/kerneldump.h: all integers big-endian on the medium. */
struct kerneldumpheader {
	char		magic[20];
#define KERNELDUMPMAGIC		"FreeBSD Kernel Dump"
	char		architecture[12];
	uint32_t	version;
#define KERNELDUMPVERSION	4
	uint32_t	architectureversion;
#define KERNELDUMP_AMD64_VERSION 2
	uint64_t	dumplength;
	uint64_t	dumptime;
	uint32_t	dumpkeysize;
	uint32_t	blocksize;
	char		hostname[64];
	char		versionstring[192];
	char		panicstring[175];
	uint8_t		compression;
	uint64_t	dumpextent;
	char		unused[4];
	uint32_t	parity;
};

/* sys/amd64/include/minidump.h */
#define MINIDUMP_MAGIC		"minidump FreeBSD/amd64"
#define MINIDUMP_VERSION	3
struct minidumphdr {
	char		magic[24];
	uint32_t	version;
	uint32_t	msgbufsize;
	uint32_t	bitmapsize;
	uint32_t	pmapsize;
	uint64_t	kernbase;
	uint64_t	dmapbase;
	uint64_t	dmapend;
	uint32_t	dumpavailsize;
};

/* Globals a debugger reads. */
extern LIST_HEAD(proclist, proc) allproc, zombproc;
extern struct pcb dumppcb;
extern lwpid_t dumptid;
extern struct pcb STOPPCBS_DECL;
extern u_int mp_maxid;
extern int mp_ncpus;
extern cpuset_t stopped_cpus;
extern const char *panicstr;
extern struct msgbuf *msgbufp;
extern int hz;
extern volatile int ticks;
extern struct pcpu *cpuid_to_pcpu[MAXCPU];
extern struct pcpu __pcpu[MAXCPU];
#define PHYS_AVAIL_ENTRIES 18
extern vm_paddr_t dump_avail[PHYS_AVAIL_ENTRIES];
extern char version[];
extern char ostype[];
extern char osrelease[];
extern vm_offset_t kernel_vm_end;
extern uint64_t KPML4phys;
extern int nkpt;
extern struct thread thread0;
extern struct proc proc0;

#define curthread	(__pcpu[0].pc_curthread)
#define curproc		(curthread->td_proc)

/* Fixture boot options (kernel command line). */
extern int kdap_mode_trap;
extern int kdap_dumpver;

/* Functions shared between files. */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void cnputs(const char *s);
void msgbufinit(void *ptr, int size);
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strstr(const char *h, const char *n);
size_t strlcpy(char *d, const char *s, size_t n);

void panic(const char *fmt, ...) __dead2 __attribute__((format(printf, 1, 2)));
void vpanic(const char *fmt, va_list ap) __dead2;
void kern_reboot(int howto) __dead2;
void doadump(int textdump);

vm_paddr_t vm_phys_alloc_page(void);
void *uma_small_alloc(size_t size);
void dump_add_page(vm_paddr_t pa);
void dump_drop_page(vm_paddr_t pa);
int is_dumpable(vm_paddr_t pa);
void vm_page_dump_init(void);
int minidumpsys(void);

struct proc *proc_create(pid_t pid, const char *comm, int flags);
struct thread *kthread_create(struct proc *p, const char *name,
    void (*func)(void *), void *arg);
struct thread *thread_alloc(void);
void fork_exit(void (*callout)(void *), void *arg, struct trapframe *frame);
void sched_add(struct thread *td, int head);
void sched_switch(struct thread *td, int flags);
void mi_switch(int flags);
int pause_sbt(const char *wmesg, sbintime_t sbt, sbintime_t pr, int flags);
int _sleep(const void *ident, int priority, const char *wmesg, sbintime_t sbt);
#define tsleep(chan, pri, wmesg, timo) _sleep((chan), (pri), (wmesg), (timo))
void wakeup(const void *ident);
void sched_throw(struct thread *td) __dead2;

/* Assembly (amd64/amd64/cpu_switch.S, locore.S). */
void cpu_switch(struct thread *old, struct thread *new, struct mtx *mtx);
void cpu_throw(struct thread *old, struct thread *new) __dead2;
int savectx(struct pcb *pcb);
void fork_trampoline(void);
void call_on_stack(void (*fn)(void), void *stacktop);
void outsb_port(int port, const void *buf, size_t len);
void Xpage(void);
void cpu_halt(void) __dead2;
uint64_t rcr2(void);
uint64_t rcr3(void);

/* The main routines of the fixture's threads. */
void swapper(void) __dead2;
void taskqueue_thread_loop(void *arg);
void sched_idletd(void *arg);
void ithread_loop(void *arg);
void random_kthread(void *arg);
void vm_pageout(void *arg);
void vm_pageout_laundry_worker(void *arg);
void uma_reclaim_worker(void *arg);
void buf_daemon(void *arg);
void buf_daemon_shutdown_space(void *arg);
void sched_sync(void *arg);
void kdap_user_start(void *arg);
void cpustop_handler(void);

extern int random_wakeups;
extern struct proc *kdap_sysctl_proc;
extern int kdap_random_chan;

/*
 * Member names and their order follow FreeBSD 14 amd64 (sys/sys/proc.h,
 * sys/sys/pcpu.h, sys/sys/msgbuf.h, sys/amd64/include/pcb.h,
 * sys/x86/include/frame.h, sys/sys/kerneldump.h,
 * sys/amd64/include/minidump.h); members a debugger does not need are
 * partly left out or folded into padding.
 *
 * Build variants (Makefile; testdata/README.md).  Their switches only add
 * code through the macros below, which expand to nothing or to the
 * original tokens in the default builds: the fp and nofp kernels, their
 * line tables and so the committed fixtures stay byte for byte the same.
 *
 * KERNPHYS: the physical address the image (linked at KERNBASE + 2 MB) is
 * loaded at, FreeBSD's kernphys.  0x200000 (the BIOS loader's place) by
 * default; the kernphys variant sets it elsewhere, as loader.efi may since
 * FreeBSD 13.1, and KERNBASE + 2 MB then maps there: an image address
 * minus KVTOP_OFFSET is its physical address (KVTOP above).
 */
#ifndef KERNPHYS
#define KERNPHYS	0x200000UL
#endif
#define KVTOP_OFFSET	(KERNBASE + NBPDR - KERNPHYS)

/*
 * STOPPCBS_PTR: stoppcbs is a pointer to mp_maxid + 1 PCBs allocated at
 * boot (FreeBSD 14.0, __FreeBSD_version 1400089, and later) instead of the
 * array struct pcb stoppcbs[MAXCPU] of older kernels.  STOPPCBS_ALLOC
 * (used without a semicolon, so that it leaves no statement behind in the
 * default builds) allocates it in hammer_time().  STOP_SAVECTX is the
 * savectx() of cpustop_handler(); in the variant it first loads known
 * values into the callee-saved registers savectx() records, so that a test
 * can tell the stopped CPU's PCB from any other (values: KDAP_STOP_RBX ...).
 */
#ifdef STOPPCBS_PTR
void cpu_mp_alloc_stoppcbs(void);
#define STOPPCBS_ALLOC	cpu_mp_alloc_stoppcbs();
#define KDAP_STOP_RBX	0x6b6461700000000bUL
#define KDAP_STOP_R12	0x6b64617000000012UL
#define KDAP_STOP_R13	0x6b64617000000013UL
#define KDAP_STOP_R14	0x6b64617000000014UL
#define KDAP_STOP_R15	0x6b64617000000015UL
#define STOP_SAVECTX(addr) do {						\
	struct pcb *stop_pcb_ = (addr);					\
	__asm__ volatile(						\
	    "movabsq %1, %%rbx\n\t"					\
	    "movabsq %2, %%r12\n\t"					\
	    "movabsq %3, %%r13\n\t"					\
	    "movabsq %4, %%r14\n\t"					\
	    "movabsq %5, %%r15\n\t"					\
	    "call savectx"						\
	    : "+D"(stop_pcb_)						\
	    : "i"(KDAP_STOP_RBX), "i"(KDAP_STOP_R12), "i"(KDAP_STOP_R13),	\
	      "i"(KDAP_STOP_R14), "i"(KDAP_STOP_R15)			\
	    : "rax", "rbx", "rcx", "rdx", "rsi", "r8", "r9", "r10",	\
	      "r11", "r12", "r13", "r14", "r15", "cc", "memory");	\
} while (0)
#else
#define STOPPCBS_ALLOC
#define STOP_SAVECTX(pcb)	savectx(pcb)
#endif

#endif /* _KDAP_KERN_H_ */
