//go:build !linux

package loadgen

import "os"

// Elsewhere the file is written buffered (macOS has F_NOCACHE, not
// O_DIRECT; not done).
func openDirect(name string) (*os.File, error) { return nil, errNoDirect }

func clearDirect(f *os.File) error { return nil }

func isDirect(f *os.File) bool { return false }
