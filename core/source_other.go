//go:build !linux

package core

import "os"

// runMapped maps files on Linux only (source_mmap.go); elsewhere RunFile
// reads them.
func runMapped(*os.File, int64, Options, *Progress) (Summary, bool, error) {
	return Summary{}, false, nil
}
