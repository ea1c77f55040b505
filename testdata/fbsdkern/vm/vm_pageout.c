/* The page daemon's threads. */
#include "../sys/kdap_kern.h"

struct vm_domain {
	int	vmd_domain;
	u_int	vmd_free_count;
	u_int	vmd_free_target;
	u_int	vmd_pageout_wanted;
	u_int	vmd_laundry_request;
	int	vmd_pageout_deficit;
};

struct vm_domain vm_dom[1] = { { 0, 6912, 5397, 0, 0, 0 } };
int vm_pageout_scans;

static __noinline void
vm_pageout_wait(struct vm_domain *vmd)
{
	vmd->vmd_pageout_wanted = 0;
	_sleep(&vmd->vmd_pageout_wanted, 0, "psleep", (sbintime_t)hz << 31);
}

static __noinline int
vm_pageout_scan_inactive(struct vm_domain *vmd, int page_shortage)
{
	vm_pageout_scans++;
	return (page_shortage - (int)(vmd->vmd_free_count / 1024));
}

static __noinline void
vm_pageout_worker(void *arg)
{
	struct vm_domain *vmd = arg;

	for (;;) {
		vmd->vmd_pageout_deficit = vm_pageout_scan_inactive(vmd, 4);
		vm_pageout_wait(vmd);
	}
}

__noinline void
vm_pageout(void *arg)
{
	(void)arg;
	vm_dom[0].vmd_free_target += 1;
	vm_pageout_worker(&vm_dom[0]);
}

static __noinline void
vm_pageout_laundry_sleep(struct vm_domain *vmd)
{
	_sleep(&vmd->vmd_laundry_request, 0, "laundp", 0);
}

static __noinline int
vm_pageout_launder(struct vm_domain *vmd, int launder)
{
	vmd->vmd_laundry_request = 0;
	vm_pageout_laundry_sleep(vmd);
	return (launder);
}

__noinline void
vm_pageout_laundry_worker(void *arg)
{
	struct vm_domain *vmd = arg;
	int target = 0;

	for (;;)
		target += vm_pageout_launder(vmd, 1 + target);
}
struct vm_domain *vm_dom0 = &vm_dom[0];
