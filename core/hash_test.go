package core

import "github.com/cespare/xxhash/v2"

func xxhashSum64(b []byte) uint64 { return xxhash.Sum64(b) }
