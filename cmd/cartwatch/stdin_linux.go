package main

import (
	"os"
	"syscall"
)

// interruptibleStdin makes a read of stdin return when stdin is closed, if
// stdin is a pipe: the engine closes its input on SIGINT (core.Run's
// Interrupt), and a pipe whose writer is still there but silent would
// otherwise block the read, hence the run, until the writer writes or goes.
//
// A blocking file descriptor, as stdin is inherited, is read by a plain
// read(2) that Close cannot cut short; a descriptor in Go's poller can be.
// Making fd 0 non-blocking would change the file description the shell
// shares with us (and, left so, break the shell), so this opens the pipe
// again through /proc (a new description of the same pipe), non-blocking
// so that the open itself never waits for a writer, and makes that os.Stdin.
func interruptibleStdin() {
	st, err := os.Stdin.Stat()
	if err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		return
	}
	f, err := os.OpenFile("/proc/self/fd/0", os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return
	}
	os.Stdin = f
}
