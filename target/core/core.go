// Package core reads crash dump files: each format exposes the machine's
// physical memory and what its headers say about the machine.
//
// A format lives in its own sub-package and registers itself with Register
// from an init function; Open probes the registered formats with the first
// bytes of the file. Dumps are read with ReadAt, never loaded whole.
package core

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"

	"github.com/kdap/kdap/internal/elfimage"
)

// Dump is an opened crash dump: physical memory plus header facts.
type Dump interface {
	// Format names the file format, e.g. "FreeBSD amd64 minidump v3".
	Format() string
	// ReadPhys fills b with the bytes at physical address pa. A page that
	// the dump does not hold gives an error wrapping *NotPresentError.
	ReadPhys(b []byte, pa uint64) error
	// Info lists the header fields worth reporting, in a stable order.
	Info() []Field
	// Close releases the file.
	Close() error
}

// KernelMapper is implemented by dumps that carry their own map of kernel
// virtual memory (a FreeBSD minidump's page-directory pages), so that kernel
// addresses translate without the kernel's page-table root.
type KernelMapper interface {
	// TranslateKernel maps a kernel virtual address to a physical one and
	// returns the size of the page that holds it.
	TranslateKernel(va uint64) (pa uint64, pageSize uint64, err error)
}

// Machiner is implemented by dumps whose headers say which machine they
// were taken on (an ELF core's e_machine, a minidump's magic string).
type Machiner interface {
	// Machine returns the dump's machine type.
	Machine() elf.Machine
}

// Warner is implemented by dumps that opened although they are damaged
// or incomplete (a file that ends early, pages that its index promises
// but the file lacks): Warnings says what is missing, one line each.
type Warner interface {
	// Warnings lists what the dump lacks; none for an intact dump.
	Warnings() []string
}

// CPUNotes is implemented by dumps that record per-CPU register state
// (ELF NT_PRSTATUS notes).
type CPUNotes interface {
	// CPURegisters returns one raw register note per CPU, in CPU order.
	CPURegisters() [][]byte
}

// Field is one reported header field.
type Field struct {
	Name  string
	Value string
}

// NotPresentError reports an address whose page is not in the dump.
type NotPresentError struct {
	Addr    uint64 // the address that was asked for
	Virtual bool   // Addr is a virtual address (else physical)
	Reason  string // optional detail, e.g. "excluded by the dump filter"
}

func (e *NotPresentError) Error() string {
	kind := "physical"
	if e.Virtual {
		kind = "virtual"
	}
	s := fmt.Sprintf("%s address %#x is not in the dump", kind, e.Addr)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// ErrNotDump is wrapped by Open's error when no registered format accepts
// the file.
var ErrNotDump = errors.New("not a crash dump")

// File is what a format reads from: random access plus a known size.
type File interface {
	io.ReaderAt
	Size() int64
}

// Format is one registered dump format.
type Format struct {
	// Name identifies the format in errors and listings.
	Name string
	// Probe reports whether head (the file's first bytes, up to ProbeSize)
	// looks like this format.
	Probe func(head []byte) bool
	// Open parses the headers of f. It must not read the whole file and
	// must fail with a clear error on corrupt input.
	Open func(f File) (Dump, error)
}

// ProbeSize is how many leading bytes Probe functions receive (fewer when
// the file is shorter).
const ProbeSize = 4096

var (
	regMu   sync.Mutex
	formats []Format
)

// Register adds a dump format. Formats are probed in name order.
func Register(f Format) {
	regMu.Lock()
	defer regMu.Unlock()
	formats = append(formats, f)
	sort.Slice(formats, func(i, j int) bool { return formats[i].Name < formats[j].Name })
}

// Formats returns the registered formats.
func Formats() []Format {
	regMu.Lock()
	defer regMu.Unlock()
	return append([]Format(nil), formats...)
}

// OpenFile probes f against every registered format and opens the first
// that accepts it.
func OpenFile(f File) (Dump, error) {
	n := int64(ProbeSize)
	if f.Size() < n {
		n = f.Size()
	}
	head := make([]byte, n)
	if _, err := f.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading dump header: %w", err)
	}
	for _, fm := range Formats() {
		if fm.Probe(head) {
			d, err := fm.Open(f)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", fm.Name, err)
			}
			return d, nil
		}
	}
	return nil, fmt.Errorf("%w: no known dump format matches the first %d bytes", ErrNotDump, n)
}

// osFile adapts *os.File to File.
type osFile struct {
	*os.File
	size int64
}

func (f *osFile) Size() int64 { return f.size }

// Open opens the dump at path read-only and detects its format. Only a
// regular file (or a symbolic link to one) is opened: anything else gives
// an error wrapping elfimage.ErrNotRegular, without blocking.
func Open(path string) (Dump, error) {
	fh, size, err := elfimage.OpenRegular(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("core not found: %s", path)
		}
		return nil, fmt.Errorf("core %s: %w", path, err)
	}
	d, err := OpenFile(&osFile{File: fh, size: size})
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("core %s: %w", path, err)
	}
	return &closer{Dump: d, f: fh}, nil
}

// closer closes the underlying file along with the dump.
type closer struct {
	Dump
	f *os.File
}

func (c *closer) Close() error {
	err := c.Dump.Close()
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Unwrap returns the format's own Dump, so callers can reach optional
// interfaces such as KernelMapper.
func (c *closer) Unwrap() Dump { return c.Dump }

// As finds an optional interface on d, looking through wrappers that have
// an Unwrap() Dump method.
func As[T any](d Dump) (T, bool) {
	for d != nil {
		if t, ok := d.(T); ok {
			return t, true
		}
		u, ok := d.(interface{ Unwrap() Dump })
		if !ok {
			break
		}
		d = u.Unwrap()
	}
	var zero T
	return zero, false
}
