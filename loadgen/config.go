package loadgen

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"runtime"
)

// maxScale bounds the volume: buffers are sized for the busiest hour.
const maxScale = 10

// ErrBadConfig is wrapped by every Config validation error.
var ErrBadConfig = errors.New("loadgen: bad config")

// Config selects what a Generator produces. The zero value is not valid;
// start from DefaultConfig or AddFlags. The output is a pure function of
// Rows/Scale, Days, Seed and NoGaps; Workers only changes the speed.
type Config struct {
	// Rows is the exact number of events to produce, spread over Days by
	// the published curve. 0 (the default) means Scale times the published
	// count of the selected days.
	Rows int64
	// Scale is the fraction of the published volume when Rows is 0, at
	// most 10. Default 1 (the full month, 67,501,979 rows).
	Scale float64
	// Days is how many days of November, from Nov 1, to cover (1..30).
	// Default 30.
	Days int
	// Seed selects the random streams. Default 1.
	Seed uint64
	// NoGaps switches off the Nov 14-17 purchase logging gap of the real
	// file (purchases are then logged there like on any other day).
	NoGaps bool
	// Workers is the number of generating goroutines; 0 (the default) means
	// GOMAXPROCS. It never changes the output.
	Workers int
}

// DefaultConfig returns the full default month.
func DefaultConfig() Config { return Config{Scale: 1, Days: 30, Seed: 1} }

// AddFlags registers --rows, --scale, --days, --seed, --no-gaps and
// --workers on fs, with c's current values as defaults (DefaultConfig's when
// c is the zero value).
func (c *Config) AddFlags(fs *flag.FlagSet) {
	if *c == (Config{}) {
		*c = DefaultConfig()
	}
	fs.Int64Var(&c.Rows, "rows", c.Rows, "exact number of events (0: --scale times the published count of the selected days)")
	fs.Float64Var(&c.Scale, "scale", c.Scale, "fraction of the published volume when --rows is 0 (0.01 = 1 %)")
	fs.IntVar(&c.Days, "days", c.Days, "days of November to cover, from Nov 1 (1..30)")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "random seed; the same flags and seed give byte-identical output")
	fs.BoolVar(&c.NoGaps, "no-gaps", c.NoGaps, "switch off the Nov 14-17 purchase logging gap of the real file")
	fs.IntVar(&c.Workers, "workers", c.Workers, "generating goroutines (0: GOMAXPROCS); never changes the output")
}

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	switch {
	case c.Rows < 0:
		return fmt.Errorf("%w: --rows %d is negative (use 0 for --scale times the published volume)", ErrBadConfig, c.Rows)
	case c.Rows == 0 && (math.IsNaN(c.Scale) || c.Scale <= 0 || c.Scale > maxScale):
		return fmt.Errorf("%w: --scale %v must be in (0, %d]", ErrBadConfig, c.Scale, maxScale)
	case c.Days < 1 || c.Days > 30:
		return fmt.Errorf("%w: --days %d must be in 1..30 (November has 30 days)", ErrBadConfig, c.Days)
	case c.Workers < 0:
		return fmt.Errorf("%w: --workers %d is negative (use 0 for GOMAXPROCS)", ErrBadConfig, c.Workers)
	}
	if n := c.totalRows(); n == 0 {
		return fmt.Errorf("%w: --scale %v of %d days rounds to 0 rows", ErrBadConfig, c.Scale, c.Days)
	} else if n > maxScale*FullRows {
		return fmt.Errorf("%w: %d rows is more than %d months' worth; memory grows with the busiest hour (about 300 MB a month's rate)", ErrBadConfig, n, maxScale)
	}
	return nil
}

// totalRows is the number of events the config produces.
func (c *Config) totalRows() int64 {
	if c.Rows > 0 {
		return c.Rows
	}
	var n int64
	for d := 0; d < c.Days; d++ {
		n += pubDaily[d]
	}
	return int64(math.Round(float64(n) * c.Scale))
}

func (c *Config) workers() int {
	if c.Workers > 0 {
		return c.Workers
	}
	return runtime.GOMAXPROCS(0)
}
