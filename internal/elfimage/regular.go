package elfimage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ErrNotRegular is wrapped by the error of OpenRegular (and so of Open)
// when the path names something other than a regular file: a FIFO, a
// folder, a device or a socket.
var ErrNotRegular = errors.New("not a regular file")

// OpenRegular opens path read-only when it is a regular file (or a
// symbolic link to one), and returns it with its size. Anything else is
// refused before it is read, with an error wrapping ErrNotRegular that
// names what it is ("not a regular file (a FIFO)"): opening a FIFO for
// reading blocks until some process opens it for writing, and reading a
// device may never end. The path is checked, then opened without
// blocking (O_NONBLOCK, where the system has it) and the opened file
// checked again, in case the path was replaced in between. Errors do not
// repeat the path, for the caller to name it once; a missing file's error
// wraps os.ErrNotExist. Dumps are opened this way too.
func OpenRegular(path string) (*os.File, int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, 0, withoutPath(err)
	}
	if !st.Mode().IsRegular() {
		return nil, 0, notRegular(st.Mode())
	}
	fh, err := os.OpenFile(path, os.O_RDONLY|oNonblock, 0)
	if err != nil {
		return nil, 0, withoutPath(err)
	}
	st, err = fh.Stat()
	if err != nil {
		fh.Close()
		return nil, 0, withoutPath(err)
	}
	if !st.Mode().IsRegular() {
		fh.Close()
		return nil, 0, notRegular(st.Mode())
	}
	return fh, st.Size(), nil
}

// notRegular is the error for a file of mode m, naming its type.
func notRegular(m fs.FileMode) error {
	kind := "a special file"
	switch {
	case m&fs.ModeNamedPipe != 0:
		kind = "a FIFO"
	case m.IsDir():
		kind = "a directory"
	case m&fs.ModeCharDevice != 0:
		kind = "a character device"
	case m&fs.ModeDevice != 0:
		kind = "a block device"
	case m&fs.ModeSocket != 0:
		kind = "a socket"
	case m&fs.ModeSymlink != 0:
		kind = "a symbolic link"
	}
	return fmt.Errorf("%w (%s)", ErrNotRegular, kind)
}

// withoutPath drops the operation and path from an *fs.PathError ("stat
// /x: permission denied" becomes "permission denied").
func withoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
