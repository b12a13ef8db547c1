// Package version renders a binary's --version line from the build
// information the Go toolchain embeds (runtime/debug.ReadBuildInfo). It is
// safe for concurrent use.
package version

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// String returns the version line of the binary called name, e.g.
//
//	loadgen v0.0.0-20261204120000-1a2b3c4d5e6f+dirty (rev 1a2b3c4d5e6f, 2026-12-04T12:00:00Z, modified) go1.26.8 linux/amd64
//
// It is the module version (a tag, or the pseudo-version go build stamps from
// the VCS), then the VCS revision (12 hex digits), commit time and whether the
// work tree had uncommitted changes, then the Go version and platform. What
// the build did not record is left out: `go run` and `go test` builds carry no
// VCS data ("loadgen (devel) go1.26.8 linux/amd64"), and a binary without
// build information at all says so.
func String(name string) string {
	bi, ok := debug.ReadBuildInfo()
	return render(name, bi, ok)
}

// render is String on given build information, for the tests.
func render(name string, bi *debug.BuildInfo, ok bool) string {
	var b strings.Builder
	b.WriteString(name)
	goVersion := runtime.Version()
	if !ok || bi == nil {
		b.WriteString(" (no build information)")
	} else {
		v := bi.Main.Version
		if v == "" {
			v = "(devel)"
		}
		b.WriteString(" " + v)
		var rev, when string
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		var vcs []string
		if rev != "" {
			vcs = append(vcs, "rev "+rev[:min(len(rev), 12)])
		}
		if when != "" {
			vcs = append(vcs, when)
		}
		if modified {
			vcs = append(vcs, "modified")
		}
		if len(vcs) > 0 {
			b.WriteString(" (" + strings.Join(vcs, ", ") + ")")
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
	}
	b.WriteString(" " + goVersion + " " + runtime.GOOS + "/" + runtime.GOARCH)
	return b.String()
}

// Build returns the module version ("(devel)" when the build recorded none)
// and the VCS revision (12 hex digits, "" when not recorded) of the
// running binary: the labels of cartwatch_build_info.
func Build() (ver, rev string) {
	bi, ok := debug.ReadBuildInfo()
	return build(bi, ok)
}

func build(bi *debug.BuildInfo, ok bool) (ver, rev string) {
	if !ok || bi == nil {
		return "(devel)", ""
	}
	ver = bi.Main.Version
	if ver == "" {
		ver = "(devel)"
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			rev = s.Value[:min(len(s.Value), 12)]
		}
	}
	return ver, rev
}
