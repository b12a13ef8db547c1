//go:build unix

package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// termWidth is the number of columns of the terminal f is (0 when the
// terminal does not say); ok is false when f is not a terminal (or nil).
func termWidth(f *os.File) (cols int, ok bool) {
	if f == nil {
		return 0, false
	}
	// SyscallConn, not Fd: Fd would put the file in blocking mode.
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, false
	}
	var ws *unix.Winsize
	rc.Control(func(fd uintptr) { ws, err = unix.IoctlGetWinsize(int(fd), unix.TIOCGWINSZ) })
	if err != nil || ws == nil {
		return 0, false
	}
	return int(ws.Col), true
}
