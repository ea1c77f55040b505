/*
 * Test program for package debuginfo. Built (gcc 12, Debian bookworm) with:
 *   gcc -O2 -g -gdwarf-5 -ffile-prefix-map=$PWD=/src -ffreestanding -nostdlib -static -fno-pie -no-pie \
 *       -fasynchronous-unwind-tables -Wl,--build-id=sha1 -o tiny.elf tiny.c
 */
typedef unsigned long u_long;

struct list_entry {
	struct node *le_next;
	struct node **le_prev;
};

struct node {
	int n_id;			/* offset 0 */
	char n_name[12];		/* offset 4 */
	struct list_entry n_list;	/* offset 16 */
	union {
		long n_long;		/* offset 32 */
		void *n_ptr;
	};
	struct {
		short n_a;		/* offset 40 */
		short n_b;		/* offset 42 */
	};
	u_long n_flags;			/* offset 48 */
};

typedef struct node node_t;

/* Bit positions count from the least significant bit (x86-64 SysV ABI). */
struct flags {
	unsigned int f_ready:1;		/* bit 0 */
	unsigned int f_mode:3;		/* bits 1-3 */
	unsigned int f_count:12;	/* bits 4-15 */
	int f_neg:4;			/* bits 16-19 */
	char f_tag;			/* byte 3 */
};

struct flags the_flags = { 1, 5, 1000, -3, 'x' };

/* An array at offset 0 followed by bit fields. */
struct named_bits {
	char nb_name[8];		/* bytes 0-7 */
	unsigned int nb_on:1;		/* bit 64 */
	unsigned int nb_level:7;	/* bits 65-71 */
};

struct named_bits the_named_bits = { "nb", 1, 9 };

enum color { RED = 1, GREEN = 2, BLUE = 4 };

union word {
	unsigned long w_u64;
	unsigned char w_bytes[8];
};

extern struct node root_node;
struct node root_node = { .n_id = 7, .n_name = "root" };
static enum color current_color = GREEN;
union word the_word = { .w_u64 = 0x1122334455667788UL };
node_t *node_list[4] = { &root_node };
volatile int sink;
struct opaque;				/* declared, never defined */
struct opaque *opaque_ptr;

static inline __attribute__((always_inline)) int
triple(int x)
{
	sink = x;
	return (x * 3);
}

static inline __attribute__((always_inline)) int
node_weight(const struct node *n)
{
	int w = triple(n->n_id);

	sink = w;
	return (w + n->n_a);
}

__attribute__((noinline)) int
walk(struct node *n, int depth)
{
	int total = 0;

	for (int i = 0; i < depth; i++) {
		int here = node_weight(n);

		total += here;
		sink = i;
	}
	return (total + (int)current_color);
}

__attribute__((noinline)) long
word_sum(union word *w)
{
	long s = 0;

	for (int i = 0; i < 8; i++)
		s += w->w_bytes[i];
	if (s == 0)
		current_color = RED;
	return (s);
}

void
_start(void)
{
	sink = walk(node_list[0], sink) + (int)word_sum(&the_word) +
	    the_flags.f_count + (opaque_ptr != 0) + the_named_bits.nb_level;
	for (;;)
		;
}
