package loadgen

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"runtime"
	"strconv"
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
	// count of the selected days; but "--rows 0" on a command line is an
	// error (see AddFlags).
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

	given uint8 // bit i: generatorFlags[i] was set by a FlagSet (AddFlags)
}

// DefaultConfig returns the full default month.
func DefaultConfig() Config { return Config{Scale: 1, Days: 30, Seed: 1} }

// The generator's flags, in the order AddFlags registers them; the
// constants index generatorFlags and Config.given's bits.
var generatorFlags = [...]string{"rows", "scale", "days", "seed", "no-gaps", "workers"}

const (
	flagRows = iota
	flagScale
	flagDays
	flagSeed
	flagNoGaps
	flagWorkers
)

// maxWorkers bounds --workers: each worker holds an hour in flight (tens of
// MB at the month's rate), and more workers than cores only add memory.
const maxWorkers = 256

// AddFlags registers --rows, --scale, --days, --seed, --no-gaps and
// --workers on fs, with c's current values as defaults (DefaultConfig's when
// c is the zero value). It also records in c which of them fs sets, so that
// Validate can tell "--rows 0" (an error) from no --rows at all (the
// month), and FlagsGiven can list them.
func (c *Config) AddFlags(fs *flag.FlagSet) {
	if *c == (Config{}) {
		*c = DefaultConfig()
	}
	fs.Var(newGiven(&c.Rows, &c.given, flagRows, parseInt64), "rows",
		fmt.Sprintf("exact number `N` of events, at least 1; without --rows and --scale, the full month (%s rows, about 9 GB as CSV)", num(float64(FullRows), 0)))
	fs.Var(newGiven(&c.Scale, &c.given, flagScale, parseFloat), "scale",
		fmt.Sprintf("fraction `F` of the published volume, in (0, %d] (0.01 = 1 %%); not with --rows", maxScale))
	fs.Var(newGiven(&c.Days, &c.given, flagDays, parseInt), "days", "`D` days of November to cover, from Nov 1 (1..30)")
	fs.Var(newGiven(&c.Seed, &c.given, flagSeed, parseUint64), "seed", "random seed `S`; the same flags and seed give byte-identical output")
	fs.Var(newGiven(&c.NoGaps, &c.given, flagNoGaps, strconv.ParseBool), "no-gaps", "switch off the Nov 14-17 purchase logging gap of the real file")
	fs.Var(newGiven(&c.Workers, &c.given, flagWorkers, parseInt), "workers",
		fmt.Sprintf("`N` generating goroutines, at most %d (0: GOMAXPROCS); never changes the output", maxWorkers))
}

// FlagsGiven returns the names (without dashes) of the generator flags that
// a FlagSet set up by AddFlags has parsed, in AddFlags' order; none before
// Parse or without AddFlags. cartwatch uses it to refuse generator flags
// without --synthetic.
func (c *Config) FlagsGiven() []string {
	var names []string
	for i, name := range generatorFlags {
		if c.flagGiven(i) {
			names = append(names, name)
		}
	}
	return names
}

// flagGiven reports whether the flag generatorFlags[i] was set on the
// command line.
func (c *Config) flagGiven(i int) bool { return c.given&(1<<i) != 0 }

// Validate reports the first invalid field, naming its flag. Set from
// flags, "--rows 0" and "--scale 0" are errors (leave the flag out for the
// full month), and so is giving both.
func (c *Config) Validate() error {
	switch {
	case c.flagGiven(flagRows) && c.flagGiven(flagScale):
		return fmt.Errorf("%w: give --rows or --scale, not both (--rows %d, --scale %v)", ErrBadConfig, c.Rows, c.Scale)
	case c.Rows < 0 || (c.Rows == 0 && c.flagGiven(flagRows)):
		return fmt.Errorf("%w: --rows %d: --rows must be positive; omit it for the full month", ErrBadConfig, c.Rows)
	case c.Rows == 0 && (math.IsNaN(c.Scale) || c.Scale <= 0 || c.Scale > maxScale):
		return fmt.Errorf("%w: --scale %v must be in (0, %d]; omit it for the full month", ErrBadConfig, c.Scale, maxScale)
	case c.Days < 1 || c.Days > 30:
		return fmt.Errorf("%w: --days %d must be in 1..30 (November has 30 days)", ErrBadConfig, c.Days)
	case c.Workers < 0 || c.Workers > maxWorkers:
		return fmt.Errorf("%w: --workers %d must be in 0..%d (0 for GOMAXPROCS)", ErrBadConfig, c.Workers, maxWorkers)
	}
	if n := c.totalRows(); n == 0 {
		return fmt.Errorf("%w: --scale %v of %d days rounds to 0 rows", ErrBadConfig, c.Scale, c.Days)
	} else if n > maxScale*FullRows {
		return fmt.Errorf("%w: %d rows is more than %d months' worth; memory grows with the busiest hour (about 300 MB a month's rate)", ErrBadConfig, n, maxScale)
	}
	return nil
}

// given is a flag.Value that stores into *p and sets bit in *set when the
// command line sets it. It prints like the standard library's values, so
// that flag.PrintDefaults shows the same defaults.
type given[T int | int64 | uint64 | float64 | bool] struct {
	p     *T
	set   *uint8
	bit   uint8
	parse func(string) (T, error)
}

func newGiven[T int | int64 | uint64 | float64 | bool](p *T, set *uint8, i int, parse func(string) (T, error)) *given[T] {
	return &given[T]{p: p, set: set, bit: 1 << i, parse: parse}
}

func (g *given[T]) Set(s string) error {
	v, err := g.parse(s)
	if err != nil {
		// Like the flag package's own values: the flag and the text are
		// named by the caller, strconv's wording adds nothing.
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return errors.New("value out of range")
		}
		return errors.New("parse error")
	}
	*g.p = v
	*g.set |= g.bit
	return nil
}

// String is what the flag package prints as the default. On a zero given
// (flag.PrintDefaults makes one to tell a zero default) it is T's zero
// value, as for the standard values.
func (g *given[T]) String() string {
	var v T
	if g != nil && g.p != nil {
		v = *g.p
	}
	if f, ok := any(v).(float64); ok {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

// IsBoolFlag lets --no-gaps go without a value, like a flag.Bool.
func (g *given[T]) IsBoolFlag() bool {
	_, ok := any(*new(T)).(bool)
	return ok
}

func parseInt64(s string) (int64, error)   { return strconv.ParseInt(s, 0, 64) }
func parseUint64(s string) (uint64, error) { return strconv.ParseUint(s, 0, 64) }
func parseFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }
func parseInt(s string) (int, error) {
	v, err := strconv.ParseInt(s, 0, strconv.IntSize)
	return int(v), err
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
