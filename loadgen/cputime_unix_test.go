//go:build unix

package loadgen

import (
	"syscall"
	"time"
)

// cpuTime is the process's user and system CPU time so far: the steadier
// figure on a shared machine, where the wall time of a run shifts with the
// neighbours and this moves less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
