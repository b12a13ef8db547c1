//go:build !linux

package core

import (
	"os"

	"github.com/cartwatch/cartwatch/format"
)

// openMapped maps files on Linux only (source_mmap.go); elsewhere OpenFile
// reads them.
func openMapped(*os.File, *format.Header, int64, *Progress) (Source, bool, error) {
	return nil, false, nil
}
