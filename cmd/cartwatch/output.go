package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// An output file of a run is never written in place: a run that fails or is
// interrupted half-way, or whose input turns out to be unreadable, must not
// destroy what the file held (issue 10: `--alerts X` used to truncate X
// before the flags were even checked). It is written to a temporary file in
// the same folder, synced, and renamed over its target (an atomic replace on
// one file system) when the run is done; until then the target is untouched.
// A target that exists and is not a regular file (/dev/null, a FIFO, a
// terminal) cannot be replaced that way and is written directly.

// outFile is one output of a run.
type outFile struct {
	flag   string   // "--alerts"
	target string   // the path as given
	final  string   // the path renamed over: target with its symlinks resolved
	f      *os.File // the temporary file, or the target itself when direct
	direct bool     // f is the target (not a regular file)
	mode   fs.FileMode
	old    bool // the target existed
}

// untouched says what became of the target of an output not committed.
func (o *outFile) untouched() string {
	if o.old {
		return o.target + " left unchanged"
	}
	return o.target + " not written"
}

// pending holds the temporary files not yet renamed or removed, for
// removePending on a second signal.
var pending struct {
	sync.Mutex
	names map[string]bool
}

func addPending(name string) {
	pending.Lock()
	defer pending.Unlock()
	if pending.names == nil {
		pending.names = map[string]bool{}
	}
	pending.names[name] = true
}

func dropPending(name string) {
	pending.Lock()
	defer pending.Unlock()
	delete(pending.names, name)
}

// removePending removes every temporary output file (main, before exiting
// on a second signal).
func removePending() {
	pending.Lock()
	defer pending.Unlock()
	for n := range pending.names {
		os.Remove(n)
	}
	pending.names = nil
}

// createOutput opens the output flag names: a new temporary file beside
// path (whose folder must be writable), or path itself when it exists and is
// not a regular file.
func createOutput(flag, path string) (*outFile, error) {
	o := &outFile{flag: flag, target: path, final: path, mode: 0o666}
	bad := func(err error) (*outFile, error) { return nil, fmt.Errorf("%s %s: %w", flag, path, err) }
	if st, err := os.Stat(path); err == nil {
		switch {
		case st.IsDir():
			return bad(errors.New("is a directory"))
		case !st.Mode().IsRegular():
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				return bad(err)
			}
			o.f, o.direct = f, true
			return o, nil
		}
		// Replace the file a symlink points to, not the link, and keep
		// the file's permissions.
		if o.final, err = filepath.EvalSymlinks(path); err != nil {
			return bad(err)
		}
		o.mode, o.old = st.Mode().Perm(), true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return bad(err)
	}
	dir, base := filepath.Split(o.final)
	if dir == "" {
		dir = "."
	}
	// os.CreateTemp would do but for the mode: it makes files 0600, and an
	// output gets what os.Create gives it (0666 less the umask), or the
	// mode of the file it replaces.
	for range 100 {
		name := filepath.Join(dir, "."+base+"."+strconv.FormatUint(rand.Uint64()%1e9, 10)+".tmp")
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return bad(fmt.Errorf("cannot write in its folder: %w", err))
		}
		addPending(name)
		o.f = f
		return o, nil
	}
	return bad(errors.New("no free temporary file name in its folder"))
}

// commit makes the output final: syncs the temporary file and renames it
// over the target.
func (o *outFile) commit() error {
	if o.direct {
		return o.wrap(o.f.Close())
	}
	name := o.f.Name()
	defer dropPending(name)
	err := o.f.Chmod(o.mode)
	if err == nil {
		err = o.f.Sync()
	}
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, o.final)
	}
	if err != nil {
		os.Remove(name)
		return o.wrap(err)
	}
	// The rename is durable once the folder is synced; a file system that
	// cannot sync a folder has nothing more to offer, so that error is
	// not one of the run.
	if d, err := os.Open(filepath.Dir(o.final)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// keep closes the temporary file and leaves it (an interrupted run's
// partial output); it returns its name. The target is untouched.
func (o *outFile) keep() string {
	o.f.Close()
	if o.direct {
		return ""
	}
	dropPending(o.f.Name())
	return o.f.Name()
}

// discard closes and removes the temporary file; the target is untouched.
func (o *outFile) discard() {
	o.f.Close()
	if !o.direct {
		os.Remove(o.f.Name())
		dropPending(o.f.Name())
	}
}

func (o *outFile) wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %s: %w", o.flag, o.target, err)
}

// namedPath is a path given on the command line and the flag that gave it
// ("" for the input).
type namedPath struct{ flag, path string }

func (p namedPath) String() string {
	if p.flag == "" {
		return "the input " + p.path
	}
	return p.flag + " " + p.path
}

// checkPaths refuses an output that is the input or another output: the
// same file when both exist (os.SameFile: links, symlinks, ./x and x), the
// same cleaned absolute path (through the folder's symlinks) otherwise.
// Input "-" is compared as the file stdin is, if it is one; output "-" is
// stdout, which parseRunFlags allows once.
func checkPaths(input string, outs []namedPath) error {
	all := outs
	if input != "" {
		all = append([]namedPath{{"", input}}, outs...)
	}
	type id struct {
		st  os.FileInfo
		abs string
	}
	ids := make([]id, len(all))
	for i, p := range all {
		switch {
		case p.path == "-" && p.flag == "":
			ids[i].st, _ = os.Stdin.Stat()
			if ids[i].st != nil && !ids[i].st.Mode().IsRegular() {
				ids[i].st = nil
			}
		case p.path == "-":
		default:
			ids[i].st, _ = os.Stat(p.path)
			ids[i].abs = canonical(p.path)
		}
	}
	for i := range all {
		for j := i + 1; j < len(all); j++ {
			a, b := ids[i], ids[j]
			same := a.st != nil && b.st != nil && os.SameFile(a.st, b.st)
			if !same && (a.st == nil || b.st == nil) && a.abs != "" {
				same = a.abs == b.abs
			}
			if same {
				return usagef("%v is %v: refusing to overwrite it", all[j], all[i])
			}
		}
	}
	return nil
}

// canonical is path made absolute and clean, its folder's symlinks resolved
// when it exists.
func canonical(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return filepath.Clean(path)
	}
	dir, base := filepath.Split(abs)
	if d, err := filepath.EvalSymlinks(dir); err == nil {
		return filepath.Join(d, base)
	}
	return abs
}
