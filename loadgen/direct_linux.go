package loadgen

import (
	"os"

	"golang.org/x/sys/unix"
)

func openDirect(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|unix.O_DIRECT, 0o666)
}

// clearDirect switches f to buffered writes (fcntl F_SETFL without
// O_DIRECT), for a tail that is not a multiple of the block size.
func clearDirect(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		var fl int
		if fl, ferr = unix.FcntlInt(fd, unix.F_GETFL, 0); ferr == nil {
			_, ferr = unix.FcntlInt(fd, unix.F_SETFL, fl&^unix.O_DIRECT)
		}
	}); err != nil {
		return err
	}
	return ferr
}

// isDirect reports whether f has O_DIRECT set (for tests).
func isDirect(f *os.File) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	var fl int
	rc.Control(func(fd uintptr) { fl, _ = unix.FcntlInt(fd, unix.F_GETFL, 0) })
	return fl&unix.O_DIRECT != 0
}
