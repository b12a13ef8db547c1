package loadgen

import (
	"bytes"
	"testing"
)

// BenchmarkMeasure measures `loadgen stats` on Nov 1 at full rate
// (1,445,360 rows, 193 MB) held in memory:
//
//	go test -run '^$' -bench Measure -count 10 ./loadgen
func BenchmarkMeasure(b *testing.B) {
	var buf bytes.Buffer
	if _, err := WriteCSV(&buf, Config{Scale: 1, Days: 1, Seed: 1}, nil); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Measure(bytes.NewReader(data), nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}
