package install

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/agent/internal/testca"
	"github.com/certfleet/certfleet/agent/keys"
	"github.com/certfleet/certfleet/internal/keytype"
)

// The test binary doubles as the reload command:
//
//	<test binary> reload-helper LOGFILE MODE
//
// appends "reload" or "rollback" (and the cert name) to LOGFILE; MODE 0
// exits 0, 1 exits 1, sleep sleeps a minute.
func TestMain(m *testing.M) {
	// thumb-helper LOGFILE appends $CERTFLEET_THUMBPRINT (store tests).
	if len(os.Args) == 3 && os.Args[1] == "thumb-helper" {
		f, err := os.OpenFile(os.Args[2], os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			os.Exit(2)
		}
		fmt.Fprintln(f, os.Getenv("CERTFLEET_THUMBPRINT"))
		f.Close()
		os.Exit(0)
	}
	if len(os.Args) == 4 && os.Args[1] == "reload-helper" {
		line := "reload"
		if os.Getenv("CERTFLEET_ROLLBACK") == "1" {
			line = "rollback"
		}
		f, err := os.OpenFile(os.Args[2], os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err == nil {
			fmt.Fprintf(f, "%s:%s\n", line, os.Getenv("CERTFLEET_CERT_NAME"))
			f.Close()
		}
		switch os.Args[3] {
		case "1":
			fmt.Println("nginx: [emerg] cannot load certificate")
			os.Exit(1)
		case "sleep":
			time.Sleep(time.Minute)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type fixture struct {
	dir    string
	log    string
	target Target
	key    []byte
	v      *Verified
}

func newFixture(t *testing.T, mode string) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{dir: dir, log: filepath.Join(dir, "reload.log")}
	f.target = Target{
		Name: "web", Names: names,
		Cert: filepath.Join(dir, "cert.pem"), Chain: filepath.Join(dir, "chain.pem"),
		Fullchain: filepath.Join(dir, "fullchain.pem"), Key: filepath.Join(dir, "key.pem"),
		KeyMode: 0o600, CertMode: 0o644,
	}
	if mode != "" {
		f.target.Reload = Reload{Argv: []string{os.Args[0], "reload-helper", f.log, mode}, Timeout: 10 * time.Second}
	}
	f.key, f.v = issued(t)
	return f
}

func issued(t *testing.T) ([]byte, *Verified) {
	t.Helper()
	ca := testca.NewTB(t)
	k, _ := keys.Generate(keytype.EC256)
	chain, _, err := ca.Issue(testca.Leaf{Pub: k.Public(), Names: names})
	if err != nil {
		t.Fatal(err)
	}
	v, err := Verify(chain, k.Public(), names, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	kp, _ := keys.Marshal(k)
	return kp, v
}

func (f *fixture) files(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range []string{f.target.Cert, f.target.Chain, f.target.Fullchain, f.target.Key} {
		if data, err := os.ReadFile(p); err == nil {
			out[p] = string(data)
		}
	}
	return out
}

func (f *fixture) reloads(t *testing.T) []string {
	data, _ := os.ReadFile(f.log)
	return strings.Fields(string(data))
}

// noTemps fails if a temporary file is left in dir.
func noTemps(t *testing.T, dir string) {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	if len(m) > 0 {
		t.Errorf("temporary files left: %v", m)
	}
}

func TestInstallFresh(t *testing.T) {
	f := newFixture(t, "0")
	if err := Install(context.Background(), f.target, f.v, f.key, nil); err != nil {
		t.Fatal(err)
	}
	got := f.files(t)
	if got[f.target.Cert] != string(f.v.CertPEM) || got[f.target.Chain] != string(f.v.ChainPEM) ||
		got[f.target.Fullchain] != string(f.v.FullchainPEM) || got[f.target.Key] != string(f.key) {
		t.Fatal("installed files differ from the verified chain and key")
	}
	if runtime.GOOS != "windows" {
		for p, want := range map[string]os.FileMode{f.target.Key: 0o600, f.target.Cert: 0o644, f.target.Chain: 0o644, f.target.Fullchain: 0o644} {
			if fi, _ := os.Stat(p); fi.Mode().Perm() != want {
				t.Errorf("%s mode %v, want %v", filepath.Base(p), fi.Mode().Perm(), want)
			}
		}
	}
	if r := f.reloads(t); !slices.Equal(r, []string{"reload:web"}) {
		t.Errorf("reloads %v", r)
	}
	inst, err := ReadInstalled(f.target)
	if err != nil || inst.KeyType != keytype.EC256 || SerialHex(inst.Leaf) != f.v.Serial() {
		t.Errorf("read back: %+v %v", inst, err)
	}
	noTemps(t, f.dir)
}

func TestInstallReloadFailureRestoresOldFiles(t *testing.T) {
	f := newFixture(t, "1")
	// An older certificate is in place, with its own modes.
	oldKey, oldV := issued(t)
	ok := f.target
	ok.Reload = Reload{}
	ok.KeyMode = 0o640
	if err := Install(context.Background(), ok, oldV, oldKey, nil); err != nil {
		t.Fatal(err)
	}
	before := f.files(t)

	err := Install(context.Background(), f.target, f.v, f.key, nil)
	if !errors.Is(err, ErrReload) || !strings.Contains(err.Error(), "cannot load certificate") {
		t.Fatalf("error %v, want ErrReload quoting the reload output", err)
	}
	if after := f.files(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Error("files not restored after the failed reload")
	}
	if runtime.GOOS != "windows" {
		if fi, _ := os.Stat(f.target.Key); fi.Mode().Perm() != 0o640 {
			t.Errorf("restored key mode %v", fi.Mode().Perm())
		}
	}
	if r := f.reloads(t); !slices.Equal(r, []string{"reload:web", "rollback:web"}) {
		t.Errorf("reloads %v, want the failed one and the one after restoring", r)
	}
	noTemps(t, f.dir)
}

func TestInstallReloadFailureOnFirstInstallRemovesFiles(t *testing.T) {
	f := newFixture(t, "1")
	if err := Install(context.Background(), f.target, f.v, f.key, nil); !errors.Is(err, ErrReload) {
		t.Fatalf("error %v", err)
	}
	if got := f.files(t); len(got) != 0 {
		t.Errorf("files left after rollback of a first install: %v", len(got))
	}
}

func TestInstallWriteFailureKeepsOldFiles(t *testing.T) {
	f := newFixture(t, "0")
	oldKey, oldV := issued(t)
	if err := Install(context.Background(), f.target, oldV, oldKey, nil); err != nil {
		t.Fatal(err)
	}
	before := f.files(t)
	// The fullchain's name fits, but its temporary file's does not: the
	// key, cert and chain are written before the write fails.
	f.target.Fullchain = filepath.Join(f.dir, strings.Repeat("f", 245))
	err := Install(context.Background(), f.target, f.v, f.key, nil)
	if err == nil || errors.Is(err, ErrReload) {
		t.Fatalf("error %v, want a write error", err)
	}
	for p, data := range before {
		if p == f.target.Fullchain {
			continue
		}
		if now, _ := os.ReadFile(p); string(now) != data {
			t.Errorf("%s changed by a failed install", filepath.Base(p))
		}
	}
	if r := f.reloads(t); len(r) != 1 {
		t.Errorf("reload ran after a failed write: %v", r)
	}
	noTemps(t, f.dir)
}

func TestInstallUnreadableOldFileTouchesNothing(t *testing.T) {
	f := newFixture(t, "0")
	// The chain path is a directory: the backup fails before any write.
	if err := os.Mkdir(f.target.Chain, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Install(context.Background(), f.target, f.v, f.key, nil); err == nil || !strings.Contains(err.Error(), "back up") {
		t.Fatalf("error %v", err)
	}
	if got := f.files(t); len(got) != 0 {
		t.Errorf("files written: %d", len(got))
	}
}

func TestReloadTimeout(t *testing.T) {
	log := filepath.Join(t.TempDir(), "log")
	r := Reload{Argv: []string{os.Args[0], "reload-helper", log, "sleep"}, Timeout: 300 * time.Millisecond}
	start := time.Now()
	_, err := r.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("error %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("timeout took %s", d)
	}
}

func TestReloadShell(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("sh")
	}
	out, err := Reload{Shell: "echo $CERTFLEET_CERT_NAME; exit 0"}.Run(context.Background(), "CERTFLEET_CERT_NAME=web")
	if err != nil || out != "web" {
		t.Fatalf("shell reload: %q %v", out, err)
	}
	if _, err := (Reload{Shell: "exit 3"}).Run(context.Background()); err == nil {
		t.Fatal("failing shell reload succeeded")
	}
}

func TestReadInstalled(t *testing.T) {
	f := newFixture(t, "")
	if _, err := ReadInstalled(f.target); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("nothing installed: %v", err)
	}
	if err := Install(context.Background(), f.target, f.v, f.key, nil); err != nil {
		t.Fatal(err)
	}
	otherKey, _ := issued(t)
	os.WriteFile(f.target.Key, otherKey, 0o600)
	if _, err := ReadInstalled(f.target); err == nil || !strings.Contains(err.Error(), "does not hold the key") {
		t.Fatalf("mismatched key: %v", err)
	}
	os.WriteFile(f.target.Cert, []byte("junk"), 0o644)
	if _, err := ReadInstalled(f.target); err == nil || errors.Is(err, ErrNotInstalled) {
		t.Fatalf("junk cert: %v", err)
	}
}
