/* Emits structure offsets for the assembly files (see Makefile). */
#include "../sys/kdap_kern.h"

#define ASSYM(name, val) \
	__asm__ volatile("\n.ascii \"@@ASSYM " #name " %c0@@\"" :: "i"(val))

void genassym(void);

void
genassym(void)
{
	ASSYM(TD_PCB, offsetof(struct thread, td_pcb));
	ASSYM(PCB_R15, offsetof(struct pcb, pcb_r15));
	ASSYM(PCB_R14, offsetof(struct pcb, pcb_r14));
	ASSYM(PCB_R13, offsetof(struct pcb, pcb_r13));
	ASSYM(PCB_R12, offsetof(struct pcb, pcb_r12));
	ASSYM(PCB_RBP, offsetof(struct pcb, pcb_rbp));
	ASSYM(PCB_RSP, offsetof(struct pcb, pcb_rsp));
	ASSYM(PCB_RBX, offsetof(struct pcb, pcb_rbx));
	ASSYM(PCB_RIP, offsetof(struct pcb, pcb_rip));
	ASSYM(PCB_CR0, offsetof(struct pcb, pcb_cr0));
	ASSYM(PCB_CR2, offsetof(struct pcb, pcb_cr2));
	ASSYM(PCB_CR3, offsetof(struct pcb, pcb_cr3));
	ASSYM(PCB_CR4, offsetof(struct pcb, pcb_cr4));
	ASSYM(TF_RDI, offsetof(struct trapframe, tf_rdi));
	ASSYM(TF_RSI, offsetof(struct trapframe, tf_rsi));
	ASSYM(TF_RDX, offsetof(struct trapframe, tf_rdx));
	ASSYM(TF_RCX, offsetof(struct trapframe, tf_rcx));
	ASSYM(TF_R8, offsetof(struct trapframe, tf_r8));
	ASSYM(TF_R9, offsetof(struct trapframe, tf_r9));
	ASSYM(TF_RAX, offsetof(struct trapframe, tf_rax));
	ASSYM(TF_RBX, offsetof(struct trapframe, tf_rbx));
	ASSYM(TF_RBP, offsetof(struct trapframe, tf_rbp));
	ASSYM(TF_R10, offsetof(struct trapframe, tf_r10));
	ASSYM(TF_R11, offsetof(struct trapframe, tf_r11));
	ASSYM(TF_R12, offsetof(struct trapframe, tf_r12));
	ASSYM(TF_R13, offsetof(struct trapframe, tf_r13));
	ASSYM(TF_R14, offsetof(struct trapframe, tf_r14));
	ASSYM(TF_R15, offsetof(struct trapframe, tf_r15));
	ASSYM(TF_TRAPNO, offsetof(struct trapframe, tf_trapno));
	ASSYM(TF_FS, offsetof(struct trapframe, tf_fs));
	ASSYM(TF_GS, offsetof(struct trapframe, tf_gs));
	ASSYM(TF_ADDR, offsetof(struct trapframe, tf_addr));
	ASSYM(TF_FLAGS, offsetof(struct trapframe, tf_flags));
	ASSYM(TF_ES, offsetof(struct trapframe, tf_es));
	ASSYM(TF_DS, offsetof(struct trapframe, tf_ds));
	ASSYM(TF_ERR, offsetof(struct trapframe, tf_err));
	ASSYM(TF_RIP, offsetof(struct trapframe, tf_rip));
	ASSYM(TF_SIZE, sizeof(struct trapframe));
	ASSYM(NKPT_BOOT, 2);
	ASSYM(KERNPHYS_PA, KERNPHYS);
	ASSYM(KSTACK_SIZE, KSTACK_PAGES * PAGE_SIZE);
}
