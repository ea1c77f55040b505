/*
 * The sysctl handler whose failure crashes the fixture kernel.  With
 * "kdap.mode=trap" on the command line it dereferences a NULL pointer
 * instead of failing an assertion.
 */
#include "../sys/kdap_kern.h"
#include "../sys/kdap_sysctl.h"

#define __predict_false(x)	__builtin_expect((x), 0)
#define MPASS(ex) do {							\
	if (__predict_false(!(ex)))					\
		panic("Assertion %s failed at %s:%d", #ex, __FILE__,	\
		    __LINE__);						\
} while (0)

struct kdap_backing {
	uint64_t	kb_magic;
	uint64_t	kb_generation;
	uint64_t	kb_flags;
	uint64_t	kb_cookie;
};

struct kdap_ctx {
	struct thread	*kc_td;
	struct kdap_backing *kc_backing;
	int		kc_depth;
	const char	*kc_what;
};

enum kdap_color {
	KDAP_COLOR_RED = 0,
	KDAP_COLOR_GREEN = 1,
	KDAP_COLOR_BLUE = 7
};

union kdap_word {
	uint64_t	kw_u64;
	uint32_t	kw_u32[2];
	uint8_t		kw_bytes[8];
};

struct kdap_pair {
	int		kp_key;
	long		kp_val;
	const char	*kp_name;
};

struct kdap_bits {
	u_int		kb_ready:1;
	u_int		kb_mode:3;
	u_int		kb_count:12;
	int		kb_neg:4;
};

typedef int kdap_handler_t(struct kdap_ctx *);

static struct kdap_backing kdap_backing0 = { 0x6b646170, 3, 0x11, 0xc0ffee };
int kdap_records;
int kdap_consumed;

__noinline int
kdap_default_handler(struct kdap_ctx *ctx)
{
	return (ctx->kc_depth + 1);
}

static __noinline void
kdap_record(const void *p, size_t len)
{
	const u_char *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		kdap_records += b[i];
}

static __noinline int
kdap_scratch_value(struct sysctl_req *req)
{
	return ((int)req->newlen + 17);
}

static __noinline void
kdap_consume(int v)
{
	kdap_consumed += v;
}

static __noinline uint64_t
kdap_read_cookie(struct kdap_ctx *ctx)
{
	struct kdap_backing *kb = ctx->kc_backing;

	return (kb->kb_cookie + (uint64_t)ctx->kc_depth);
}

static inline __always_inline void
kdap_thread_name_ok(struct thread *td)
{
	MPASS(td->td_name[0] != '\0');
}

__noinline int
kdap_check_thread(struct kdap_ctx *ctx)
{
	struct thread *td = ctx->kc_td;
	int depth = ctx->kc_depth + 1;

	if (kdap_mode_trap)
		depth += (int)kdap_read_cookie(ctx);
	kdap_thread_name_ok(td);
	return (depth + td->td_tid);
}

__noinline int
sysctl_kdap_handler(struct sysctl_oid *oidp, void *arg1, intmax_t arg2,
    struct sysctl_req *req)
{
	struct kdap_ctx ctx;
	struct kdap_pair pair;
	union kdap_word word;
	enum kdap_color color;
	struct kdap_bits bits;
	int primes[6];
	char label[16] = "kdap-label";
	kdap_handler_t *handler;
	struct thread **tdpp;
	int scratch;
	int error;

	ctx.kc_td = thread_alloc();
	ctx.kc_backing = kdap_mode_trap ? NULL : &kdap_backing0;
	ctx.kc_depth = (int)arg2;
	ctx.kc_what = oidp->oid_name;
	pair.kp_key = 42;
	pair.kp_val = -1234567890123L;
	pair.kp_name = "answer";
	word.kw_u64 = 0x1122334455667788UL;
	color = arg2 == 3 ? KDAP_COLOR_BLUE : KDAP_COLOR_GREEN;
	bits.kb_ready = 1;
	bits.kb_mode = 5;
	bits.kb_count = 1000;
	bits.kb_neg = -3;
	primes[0] = 2;
	primes[1] = 3;
	primes[2] = 5;
	primes[3] = 7;
	primes[4] = 11;
	primes[5] = (*(int *)arg1 >> 24) - 0x5e;	/* 13 */
	handler = kdap_default_handler;
	tdpp = &ctx.kc_td;
	scratch = kdap_scratch_value(req);
	kdap_consume(scratch);

	kdap_record(&pair, sizeof(pair));
	kdap_record(&word, sizeof(word));
	kdap_record(&color, sizeof(color));
	kdap_record(&bits, sizeof(bits));
	kdap_record(primes, sizeof(primes));
	kdap_record(label, sizeof(label));
	kdap_record(&handler, sizeof(handler));
	kdap_record(&tdpp, sizeof(tdpp));

	error = kdap_check_thread(&ctx);

	error += handler(&ctx) + pair.kp_key + word.kw_bytes[2] + color +
	    bits.kb_count + primes[3] + label[1] + (*tdpp)->td_tid;
	return (error);
}
