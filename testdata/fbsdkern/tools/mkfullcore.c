/*
 * mkfullcore: turn QEMU's "dump-guest-memory" ELF (paging off) into the
 * shape of a FreeBSD full (non-mini) amd64 crash dump as savecore leaves
 * it: an ELF64 ET_CORE for EM_X86_64 holding only PT_LOAD headers whose
 * p_vaddr and p_paddr are the physical address, with page-aligned data
 * offsets and no notes.
 *
 * The PT_LOAD segments are the kernel's physical memory chunks (dump_avail,
 * which the kernel prints at boot), given as START-LAST arguments with an
 * inclusive last address, as FreeBSD writes one segment per chunk.
 *
 * usage: mkfullcore qemu-dump.elf vmcore.full START-LAST...
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE	4096UL

static void
die(const char *msg)
{
	fprintf(stderr, "mkfullcore: %s\n", msg);
	exit(1);
}

int
main(int argc, char **argv)
{
	FILE *in, *out;
	Elf64_Ehdr eh, oh;
	Elf64_Phdr *ph, op[64];
	unsigned long off, hdrsz, cs[64], ce[64];
	int i, j, n = 0;
	char *buf, *end;

	if (argc < 4 || argc - 3 > 64)
		die("usage: mkfullcore qemu-dump.elf vmcore.full START-LAST...");
	for (i = 3; i < argc; i++) {
		cs[n] = strtoul(argv[i], &end, 0);
		if (*end != '-')
			die("bad chunk argument");
		ce[n] = strtoul(end + 1, &end, 0) + 1;
		if (*end != '\0' || ce[n] <= cs[n] || cs[n] % PAGE || ce[n] % PAGE)
			die("bad chunk argument");
		n++;
	}
	if ((in = fopen(argv[1], "rb")) == NULL)
		die("cannot open input");
	if (fread(&eh, sizeof(eh), 1, in) != 1 ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64)
		die("input is not an ELF64 file");
	ph = calloc(eh.e_phnum, sizeof(*ph));
	if (fseek(in, (long)eh.e_phoff, SEEK_SET) != 0 ||
	    fread(ph, sizeof(*ph), eh.e_phnum, in) != eh.e_phnum)
		die("cannot read program headers");
	/* Every chunk must lie inside one of QEMU's segments. */
	for (j = 0; j < n; j++) {
		for (i = 0; i < eh.e_phnum; i++)
			if (ph[i].p_type == PT_LOAD && ph[i].p_paddr <= cs[j] &&
			    ce[j] <= ph[i].p_paddr + ph[i].p_filesz)
				break;
		if (i == eh.e_phnum)
			die("chunk not in the QEMU dump");
	}

	memset(&oh, 0, sizeof(oh));
	memcpy(oh.e_ident, ELFMAG, SELFMAG);
	oh.e_ident[EI_CLASS] = ELFCLASS64;
	oh.e_ident[EI_DATA] = ELFDATA2LSB;
	oh.e_ident[EI_VERSION] = EV_CURRENT;
	oh.e_ident[EI_OSABI] = ELFOSABI_STANDALONE;
	oh.e_type = ET_CORE;
	oh.e_machine = EM_X86_64;
	oh.e_version = EV_CURRENT;
	oh.e_phoff = sizeof(oh);
	oh.e_ehsize = sizeof(oh);
	oh.e_phentsize = sizeof(Elf64_Phdr);
	oh.e_phnum = n;
	oh.e_shentsize = sizeof(Elf64_Shdr);

	hdrsz = sizeof(oh) + n * sizeof(Elf64_Phdr);
	off = (hdrsz + PAGE - 1) & ~(PAGE - 1);
	memset(op, 0, sizeof(op));
	for (j = 0; j < n; j++) {
		op[j].p_type = PT_LOAD;
		op[j].p_flags = PF_R | PF_W | PF_X;
		op[j].p_offset = off;
		op[j].p_vaddr = cs[j];
		op[j].p_paddr = cs[j];
		op[j].p_filesz = ce[j] - cs[j];
		op[j].p_memsz = ce[j] - cs[j];
		op[j].p_align = PAGE;
		off += ce[j] - cs[j];
	}

	if ((out = fopen(argv[2], "wb")) == NULL)
		die("cannot create output");
	fwrite(&oh, sizeof(oh), 1, out);
	fwrite(op, sizeof(*op), n, out);
	buf = malloc(1 << 20);
	for (j = 0; j < n; j++) {
		unsigned long left;

		for (i = 0; i < eh.e_phnum; i++)
			if (ph[i].p_type == PT_LOAD && ph[i].p_paddr <= cs[j] &&
			    ce[j] <= ph[i].p_paddr + ph[i].p_filesz)
				break;
		/* Zero padding up to the page-aligned data offset. */
		while ((unsigned long)ftell(out) < op[j].p_offset)
			fputc(0, out);
		if (fseek(in, (long)(ph[i].p_offset + cs[j] - ph[i].p_paddr),
		    SEEK_SET) != 0)
			die("cannot seek input");
		for (left = ce[j] - cs[j]; left > 0; ) {
			size_t c = left > (1 << 20) ? (1 << 20) : left;

			if (fread(buf, 1, c, in) != c)
				die("short read of segment data");
			fwrite(buf, 1, c, out);
			left -= c;
		}
	}
	free(buf);
	while ((unsigned long)ftell(out) % PAGE != 0)
		fputc(0, out);
	if (fclose(out) != 0)
		die("write failed");
	fclose(in);
	return (0);
}
