//go:build !linux

package main

// interruptibleStdin does nothing here: a read of a silent pipe on stdin
// ends the run only when the writer writes or goes; a second signal exits
// at once.
func interruptibleStdin() {}
