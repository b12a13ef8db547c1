//go:build !linux

package core

import "os"

// openMapped maps files on Linux only (source_mmap.go); elsewhere OpenFile
// reads them.
func openMapped(*os.File, string, int64, *Progress) (Source, bool, error) { return nil, false, nil }
