//go:build !unix

package loadgen

import "time"

// cpuTime is not measured here: the cpu-ns/event metrics read 0.
func cpuTime() time.Duration { return 0 }
