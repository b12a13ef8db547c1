package loadgen

import (
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
)

// parseConfig runs args through a FlagSet set up by AddFlags.
func parseConfig(t *testing.T, args ...string) (Config, error) {
	t.Helper()
	var c Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// A size flag given as 0 is an error; leaving it out is the month.
func TestConfigFlagsZeroSize(t *testing.T) {
	bad := func(want string, args ...string) {
		t.Helper()
		_, err := parseConfig(t, args...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%v: error %v, want one containing %q", args, err, want)
		}
	}
	bad("--rows must be positive; omit it for the full month", "--rows", "0")
	bad("--rows must be positive; omit it for the full month", "--rows=0", "--days", "3")
	bad("--rows -5: --rows must be positive", "--rows", "-5")
	bad("--scale 0 must be in (0, 10]; omit it for the full month", "--scale", "0")
	bad("give --rows or --scale, not both", "--rows", "10", "--scale", "0")
	bad("give --rows or --scale, not both", "--rows", "10", "--scale", "0.5")
	bad("--workers 100000 must be in 0..256", "--workers", "100000")
	bad("invalid value \"x\" for flag -rows: parse error", "--rows", "x")
	bad("invalid value \"99999999999999999999\" for flag -seed: value out of range", "--seed", "99999999999999999999")
	bad("invalid value \"1.5\" for flag -days: parse error", "--days", "1.5")

	c, err := parseConfig(t)
	if err != nil || c.totalRows() != FullRows {
		t.Fatalf("no flags: %v, %d rows; want the month, %d", err, c.totalRows(), FullRows)
	}
	c, err = parseConfig(t, "--rows", "7", "--no-gaps", "--seed", "0x10")
	if err != nil || c.totalRows() != 7 || !c.NoGaps || c.Seed != 16 {
		t.Fatalf("--rows 7 --no-gaps --seed 0x10: %v, %+v", err, c)
	}
	// Set in code, Rows 0 still means Scale.
	if c := (Config{Scale: 0.5, Days: 2, Seed: 1}); c.Validate() != nil || c.totalRows() == 0 {
		t.Fatalf("Config{Scale: 0.5}: %v", c.Validate())
	}
}

func TestConfigFlagsGiven(t *testing.T) {
	f := func(want []string, args ...string) {
		t.Helper()
		c, err := parseConfig(t, args...)
		if err != nil && !errors.Is(err, ErrBadConfig) {
			t.Fatal(err)
		}
		if got := c.FlagsGiven(); !slices.Equal(got, want) {
			t.Fatalf("%v: FlagsGiven %q, want %q", args, got, want)
		}
	}
	f(nil)
	f([]string{"rows"}, "--rows", "0")
	f([]string{"seed", "workers"}, "--workers", "1", "--seed", "1")
	f([]string{"rows", "scale", "days", "seed", "no-gaps", "workers"},
		"--no-gaps", "--rows=5", "--scale=1", "--days=2", "--seed=3", "--workers=4")
	var c Config
	if c.FlagsGiven() != nil {
		t.Fatal("FlagsGiven on a Config without AddFlags")
	}
}

// The flags print like the standard library's: defaults that are not the
// zero value, a bool without an argument.
func TestConfigFlagsDefaults(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	var out strings.Builder
	fs.SetOutput(&out)
	c.AddFlags(fs)
	fs.PrintDefaults()
	for _, want := range []string{"-rows N\n", "(67,501,979 rows, about 9 GB as CSV)\n", "-scale F\n", "(default 1)\n",
		"-days D\n", "(default 30)\n", "-seed S\n", "-no-gaps\n", "-workers N\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("PrintDefaults lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "default 0") || strings.Contains(out.String(), "default false") || strings.Contains(out.String(), "panic") {
		t.Errorf("PrintDefaults shows a zero default:\n%s", out.String())
	}
}
