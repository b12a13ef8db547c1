package version

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	platform := " " + runtime.GOOS + "/" + runtime.GOARCH
	settings := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	f := func(bi *debug.BuildInfo, ok bool, want string) {
		t.Helper()
		if got := render("loadgen", bi, ok); got != want {
			t.Fatalf("got  %q\nwant %q", got, want)
		}
	}
	// go build in a clean checkout: a pseudo-version and the full VCS stamp.
	f(&debug.BuildInfo{GoVersion: "go1.26.8",
		Main: debug.Module{Path: "github.com/cartwatch/cartwatch", Version: "v0.0.0-20261204120000-1a2b3c4d5e6f"},
		Settings: settings("vcs", "git", "vcs.revision", "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d",
			"vcs.time", "2026-12-04T12:00:00Z", "vcs.modified", "false")},
		true, "loadgen v0.0.0-20261204120000-1a2b3c4d5e6f (rev 1a2b3c4d5e6f, 2026-12-04T12:00:00Z) go1.26.8"+platform)
	// A dirty work tree.
	f(&debug.BuildInfo{GoVersion: "go1.26.8",
		Main:     debug.Module{Version: "v0.0.0-20261204120000-1a2b3c4d5e6f+dirty"},
		Settings: settings("vcs.revision", "1a2b3c4d5e6f7a8b9c0d", "vcs.time", "2026-12-04T12:00:00Z", "vcs.modified", "true")},
		true, "loadgen v0.0.0-20261204120000-1a2b3c4d5e6f+dirty (rev 1a2b3c4d5e6f, 2026-12-04T12:00:00Z, modified) go1.26.8"+platform)
	// A tagged release.
	f(&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"},
		Settings: settings("vcs.revision", "abc", "vcs.modified", "false")},
		true, "loadgen v1.2.3 (rev abc) go1.26.8"+platform)
	// go run / go test: no VCS settings, version (devel) or empty.
	f(&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, true, "loadgen (devel) go1.26.8"+platform)
	f(&debug.BuildInfo{}, true, "loadgen (devel) "+runtime.Version()+platform)
	// No build information at all.
	f(nil, false, "loadgen (no build information) "+runtime.Version()+platform)
}

// String reads the test binary's own build information: whatever it lacks,
// the line names the binary, the Go version and the platform.
func TestStringOfThisBinary(t *testing.T) {
	got := String("x")
	if !strings.HasPrefix(got, "x ") || !strings.HasSuffix(got, " "+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH) {
		t.Fatalf("String(\"x\") = %q", got)
	}
	t.Log(got)
}

func TestBuild(t *testing.T) {
	f := func(bi *debug.BuildInfo, ok bool, ver, rev string) {
		t.Helper()
		if v, r := build(bi, ok); v != ver || r != rev {
			t.Fatalf("build: %q %q, want %q %q", v, r, ver, rev)
		}
	}
	f(nil, false, "(devel)", "")
	f(&debug.BuildInfo{}, true, "(devel)", "")
	f(&debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "1a2b3c4d5e6f7a8b9c0d"}}}, true, "v1.2.3", "1a2b3c4d5e6f")
}
