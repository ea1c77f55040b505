/*
 * mkfullcore: turn QEMU's "dump-guest-memory" ELF (paging off) into the
 * shape of a FreeBSD full (non-mini) amd64 crash dump as savecore leaves
 * it: an ELF64 ET_CORE for EM_X86_64 holding only PT_LOAD headers whose
 * p_vaddr and p_paddr are the physical address, with page-aligned data
 * offsets and no notes.
 *
 * usage: mkfullcore qemu-dump.elf vmcore.full
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
	Elf64_Phdr *ph, *op;
	unsigned long off, hdrsz;
	int i, n = 0;
	char *buf;

	if (argc != 3)
		die("usage: mkfullcore qemu-dump.elf vmcore.full");
	if ((in = fopen(argv[1], "rb")) == NULL)
		die("cannot open input");
	if (fread(&eh, sizeof(eh), 1, in) != 1 ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64)
		die("input is not an ELF64 file");
	ph = calloc(eh.e_phnum, sizeof(*ph));
	op = calloc(eh.e_phnum, sizeof(*op));
	if (fseek(in, (long)eh.e_phoff, SEEK_SET) != 0 ||
	    fread(ph, sizeof(*ph), eh.e_phnum, in) != eh.e_phnum)
		die("cannot read program headers");
	for (i = 0; i < eh.e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_filesz > 0)
			n++;

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
	n = 0;
	for (i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD || ph[i].p_filesz == 0)
			continue;
		op[n].p_type = PT_LOAD;
		op[n].p_flags = PF_R | PF_W | PF_X;
		op[n].p_offset = off;
		op[n].p_vaddr = ph[i].p_paddr;
		op[n].p_paddr = ph[i].p_paddr;
		op[n].p_filesz = ph[i].p_filesz;
		op[n].p_memsz = ph[i].p_filesz;
		op[n].p_align = PAGE;
		off += (ph[i].p_filesz + PAGE - 1) & ~(PAGE - 1);
		n++;
	}

	if ((out = fopen(argv[2], "wb")) == NULL)
		die("cannot create output");
	fwrite(&oh, sizeof(oh), 1, out);
	fwrite(op, sizeof(*op), n, out);
	n = 0;
	for (i = 0; i < eh.e_phnum; i++) {
		unsigned long left;

		if (ph[i].p_type != PT_LOAD || ph[i].p_filesz == 0)
			continue;
		/* Zero padding up to the page-aligned data offset. */
		while ((unsigned long)ftell(out) < op[n].p_offset)
			fputc(0, out);
		if (fseek(in, (long)ph[i].p_offset, SEEK_SET) != 0)
			die("cannot seek input");
		buf = malloc(1 << 20);
		for (left = ph[i].p_filesz; left > 0; ) {
			size_t c = left > (1 << 20) ? (1 << 20) : left;

			if (fread(buf, 1, c, in) != c)
				die("short read of segment data");
			fwrite(buf, 1, c, out);
			left -= c;
		}
		free(buf);
		n++;
	}
	while ((unsigned long)ftell(out) % PAGE != 0)
		fputc(0, out);
	if (fclose(out) != 0)
		die("write failed");
	fclose(in);
	return (0);
}
