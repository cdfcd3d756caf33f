// Package inventory finds certificates on the agent's host that certfleet
// did not issue, in the paths the operator configured ([inventory]), so
// the hub can show what it does not manage yet.
//
// A scan is bounded: it reads at most MaxFiles files of at most
// MaxFileSize bytes each, visits at most MaxEntries directory entries, and
// never follows a symlinked directory (so a symlink loop cannot trap it).
// It never reads a private key on purpose: files named like keys are not
// opened, and in the files it reads only PEM CERTIFICATE blocks (or a
// whole-file DER certificate) are parsed; the bytes read are zeroed
// before the file's result is kept.
package inventory

import (
	"cmp"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/certfleet/certfleet/shared"
)

// DefaultMaxEntries bounds the directory entries one scan visits, so a
// pattern like "/**" costs a bounded walk, not the whole disk.
const DefaultMaxEntries = 200000

// Options say where to look and how much to read.
type Options struct {
	Patterns []Pattern
	// MaxFiles bounds the files read; MaxFileSize the bytes per file;
	// MaxEntries the directory entries visited (0: DefaultMaxEntries).
	MaxFiles    int
	MaxFileSize int64
	MaxEntries  int
	// MaxResults bounds the certificates listed (0: shared.MaxUnmanaged);
	// the ones expiring last are left out first.
	MaxResults int
	// Managed are the agent's own files (certificates, keys, PFX): never
	// opened nor reported. ManagedCerts are those of them holding a
	// certificate; the certificates in them are not reported wherever
	// else a copy is found.
	Managed      []string
	ManagedCerts []string
	// Private are directories never entered (the agent's state dir).
	Private []string
}

// Result is what one scan found.
type Result struct {
	// Certs are the unmanaged certificates, soonest expiry first.
	Certs []shared.UnmanagedCert `json:"certs"`
	// Omitted counts certificates found past MaxResults.
	Omitted int `json:"omitted"`
	// Read counts files read; Skipped counts files passed over, by
	// reason (the Skip* constants).
	Read    int            `json:"read"`
	Skipped map[string]int `json:"skipped"`
	// Truncated is set when MaxEntries stopped a walk before its end.
	Truncated bool `json:"truncated"`
}

type scanner struct {
	opts    Options
	res     Result
	entries int
	// seen holds the real paths already looked at (overlapping patterns,
	// symlinks to one file); byFP the index in res.Certs per fingerprint.
	seen      map[string]bool
	byFP      map[string]int
	managed   map[string]bool
	managedFP map[string]bool
	private   []string
}

// Scan looks through the patterns once. It stops early, with what it
// found so far, when ctx ends.
func Scan(ctx context.Context, opts Options) Result {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.MaxResults <= 0 {
		opts.MaxResults = shared.MaxUnmanaged
	}
	s := &scanner{opts: opts, res: Result{Skipped: map[string]int{}}, seen: map[string]bool{}, byFP: map[string]int{},
		managed: map[string]bool{}, managedFP: map[string]bool{}}
	for _, p := range opts.Managed {
		s.managed[filepath.Clean(p)] = true
		if r, err := filepath.EvalSymlinks(p); err == nil {
			s.managed[r] = true
		}
	}
	for _, p := range opts.ManagedCerts {
		// The agent's own files: read to recognise copies of them.
		if data, err := readBounded(p, shared.MaxChainSize); err == nil {
			if c, _ := leafOf(data); c != nil {
				s.managedFP[Fingerprint(c)] = true
			}
		}
	}
	for _, d := range opts.Private {
		s.private = append(s.private, filepath.Clean(d))
		if r, err := filepath.EvalSymlinks(d); err == nil {
			s.private = append(s.private, r)
		}
	}
	for _, p := range opts.Patterns {
		if ctx.Err() != nil || s.res.Truncated {
			break
		}
		s.pattern(ctx, p)
	}
	slices.SortStableFunc(s.res.Certs, func(a, b shared.UnmanagedCert) int {
		if c := a.NotAfter.Compare(b.NotAfter); c != 0 {
			return c
		}
		return cmp.Compare(a.Path, b.Path)
	})
	if n := len(s.res.Certs); n > opts.MaxResults {
		s.res.Omitted = n - opts.MaxResults
		s.res.Certs = s.res.Certs[:opts.MaxResults]
	}
	return s.res
}

// pattern scans one pattern. A missing base is not an error: the
// operator may list paths that only some hosts have.
func (s *scanner) pattern(ctx context.Context, p Pattern) {
	root := p.Base
	st, err := os.Stat(root)
	if err != nil {
		return
	}
	if p.literal() {
		if !st.IsDir() {
			s.file(root)
			return
		}
		// A directory named without wildcards: its files, not deeper.
		p.elems = []string{"*"}
	}
	if !st.IsDir() {
		return
	}
	// The base itself may be a symlink (/etc/ssl/certs often is): walk
	// where it points, report paths under the name configured.
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return
	}
	if s.isPrivate(real) {
		s.res.Skipped[SkipPrivateDir]++
		return
	}
	_ = filepath.WalkDir(real, func(path string, d fs.DirEntry, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if path == real {
			return err
		}
		s.entries++
		if s.entries > s.opts.MaxEntries {
			s.res.Truncated = true
			return filepath.SkipAll
		}
		rel, rerr := filepath.Rel(real, path)
		if rerr != nil {
			return nil
		}
		elems := strings.Split(filepath.ToSlash(rel), "/")
		shown := filepath.Join(root, rel)
		if err != nil {
			// An unreadable directory: skip it, keep walking.
			if d != nil && d.IsDir() {
				if p.descend(elems) {
					s.res.Skipped[SkipUnreadable]++
				}
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if !p.descend(elems) {
				return filepath.SkipDir
			}
			if s.isPrivate(path) {
				s.res.Skipped[SkipPrivateDir]++
				return filepath.SkipDir
			}
			return nil
		}
		// Files, and symlinks (followed when the file is opened; a
		// symlinked directory is not a regular file and is skipped).
		if p.match(elems) {
			s.file(shown)
		}
		return nil
	})
}

func (s *scanner) isPrivate(p string) bool {
	for _, d := range s.private {
		if p == d || strings.HasPrefix(p, d+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// file looks at one candidate file, shown under path.
func (s *scanner) file(path string) {
	// Each file once, under whichever name it is met first: patterns
	// overlap, and symlinks give one file several names.
	clean := filepath.Clean(path)
	if s.seen[clean] {
		return
	}
	s.seen[clean] = true
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		s.res.Skipped[SkipUnreadable]++
		return
	}
	if real != clean {
		if s.seen[real] {
			return
		}
		s.seen[real] = true
	}
	switch {
	case s.managed[clean] || s.managed[real]:
		s.res.Skipped[SkipManaged]++
		return
	case s.isPrivate(real):
		s.res.Skipped[SkipPrivateDir]++
		return
	case keyFileName(path) || keyFileName(real):
		s.res.Skipped[SkipKeyFile]++
		return
	case s.res.Read >= s.opts.MaxFiles:
		s.res.Skipped[SkipFileLimit]++
		return
	}
	data, err := readBounded(real, s.opts.MaxFileSize)
	switch {
	case errors.Is(err, errTooLarge):
		s.res.Skipped[SkipTooLarge]++
		return
	case errors.Is(err, errNotRegular):
		s.res.Skipped[SkipNotRegular]++
		return
	case err != nil:
		s.res.Skipped[SkipUnreadable]++
		return
	}
	s.res.Read++
	leaf, reason := leafOf(data)
	// The file may have held a private key next to its certificates:
	// nothing of it outlives this call.
	clear(data)
	if leaf == nil {
		s.res.Skipped[reason]++
		return
	}
	fp := Fingerprint(leaf)
	if s.managedFP[fp] {
		s.res.Skipped[SkipManaged]++
		return
	}
	if i, ok := s.byFP[fp]; ok {
		s.res.Certs[i].Duplicates++
		return
	}
	s.byFP[fp] = len(s.res.Certs)
	s.res.Certs = append(s.res.Certs, describe(path, leaf))
}

var (
	errTooLarge   = errors.New("file too large")
	errNotRegular = errors.New("not a regular file")
)

// readBounded reads a regular file of at most max bytes. It opens without
// blocking (a FIFO named like a certificate must not hang the agent) and
// checks what it opened, not what a path named a moment before.
func readBounded(path string, max int64) ([]byte, error) {
	f, err := openNoBlock(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errNotRegular
	}
	if st.Size() > max {
		return nil, errTooLarge
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		clear(data)
		return nil, err
	}
	if int64(len(data)) > max {
		// It grew while being read.
		clear(data)
		return nil, errTooLarge
	}
	return data, nil
}
