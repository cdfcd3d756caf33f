package integration

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/certfleet/certfleet/integration/fleet"
)

// chromiumPath finds the browser; .ci/run installs Debian's chromium.
func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium not installed (apt-get install chromium): the dashboard browser test needs it")
	return ""
}

// addUser runs `certfleet-hub user add` with the password on stdin.
func addUser(t *testing.T, env *fleet.Env, name, role, password string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "certfleet-hub"), "--config", env.HubConfig, "user", "add", name, "--role", role)
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("user add %s: %v\n%s", name, err, out)
	}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// webClient is a plain HTTP client with its own cookies, for what a
// browser would not send: forged and replayed forms.
type webClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newWebClient(t *testing.T, base string) *webClient {
	jar, _ := cookiejar.New(nil)
	return &webClient{t: t, base: strings.TrimSuffix(base, "/"), c: &http.Client{Jar: jar, Timeout: 20 * time.Second}}
}

func (w *webClient) get(path string) (int, string) {
	w.t.Helper()
	resp, err := w.c.Get(w.base + path)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (w *webClient) post(path string, form url.Values) (int, string) {
	w.t.Helper()
	resp, err := w.c.PostForm(w.base+path, form)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// login logs in and returns the session's CSRF token ("" on failure) and
// the login's final status.
func (w *webClient) login(name, password string) (string, int) {
	w.t.Helper()
	_, body := w.get("/login")
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		w.t.Fatalf("login page has no CSRF token:\n%s", body)
	}
	code, body := w.post("/login", url.Values{"name": {name}, "password": {password}, "csrf": {m[1]}})
	if code != http.StatusOK || !strings.Contains(body, `id="states"`) {
		return "", code
	}
	m = csrfRe.FindStringSubmatch(body)
	return m[1], code
}

// TestDashboard drives the dashboard in headless Chromium against a
// running hub with an agent: log in, see the certificate issued, force a
// renewal and see it done; then checks what a browser would not do:
// read-only users, forged forms, no session, password guessing.
func TestDashboard(t *testing.T) {
	chromium := chromiumPath(t)
	env := newEnv(t, "[web]\nlisten = \"127.0.0.1:0\"\n")
	c := ctx(t)
	base := env.HubRun().Web
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("run file web URL %q", base)
	}
	addUser(t, env, "alice", "admin", "correct horse battery")
	addUser(t, env, "victor", "readonly", "viewer password 1")

	if _, err := env.AddDomain(c, "www.example.test"); err != nil {
		t.Fatal(err)
	}
	a, err := env.NewAgent(c, "web1", []string{"www.example.test"}, fleet.CertSpec{Name: "web", Names: []string{"www.example.test"}})
	if err != nil {
		t.Fatal(err)
	}

	shots := os.Getenv("CERTFLEET_SCREENSHOTS") // e.g. docs/screenshots, to refresh the README's images
	if shots == "" {
		shots = t.TempDir()
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(1280, 860))
	actx, cancelA := chromedp.NewExecAllocator(c, opts...)
	defer cancelA()
	b, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644)
		})
	}
	// The first call launches the browser, which lives as long as the
	// context of that call: no timeout on it.
	if err := chromedp.Do(b, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		rctx, cancel := context.WithTimeout(b, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(rctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) (string, error) {
		rctx, cancel := context.WithTimeout(b, 30*time.Second)
		defer cancel()
		return chromedp.Run(rctx, chromedp.Text(chromedp.CSS(sel)))
	}
	run("log in",
		chromedp.Navigate(base),
		chromedp.WaitVisible(chromedp.CSS("#login")),
		shot("login"),
		chromedp.SendKeys(chromedp.CSS("#name"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS("#states")))

	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AwaitCert(c, "web", []string{"www.example.test"}, issueTimeout); err != nil {
		t.Fatal(err)
	}
	// The overview counts the certificate once the agent reports it.
	var valid string
	err = fleet.Await(c, 30*time.Second, func() (bool, error) {
		if err := chromedp.Do(b, chromedp.Navigate(base)); err != nil {
			return false, err
		}
		valid, err = text("#count-valid")
		return valid == "1", err
	})
	if err != nil {
		t.Fatalf("overview never counted the certificate as valid (shows %q): %v", valid, err)
	}
	run("overview", shot("overview"))
	run("agents", chromedp.Navigate(base+"agents?q=web"), chromedp.WaitVisible(chromedp.CSS(`#agents a[href="/agents/web1"]`)), shot("agents"))

	run("certificate page", chromedp.Navigate(base+"agents/web1/certs/web"), chromedp.WaitVisible(chromedp.CSS("#serial")), shot("certificate"))
	serial1, err := text("#serial")
	if err != nil {
		t.Fatal(err)
	}
	if serial1 == "" {
		t.Fatal("certificate page shows no serial")
	}
	before := env.Pebble.Stats().OrdersFinalized
	run("force renewal",
		chromedp.Navigate(base+"agents/web1"),
		chromedp.WaitVisible(chromedp.CSS("#certs")),
		shot("agent"),
		chromedp.Click(chromedp.CSS("#renew-all")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")),
		chromedp.Click(chromedp.CSS("#confirm")),
		chromedp.WaitVisible(chromedp.CSS("#certs")))
	var serial2 string
	err = fleet.Await(c, issueTimeout, func() (bool, error) {
		if err := chromedp.Do(b, chromedp.Navigate(base+"agents/web1/certs/web")); err != nil {
			return false, err
		}
		serial2, err = text("#serial")
		return serial2 != "" && serial2 != serial1, err
	})
	if err != nil {
		t.Fatalf("forced renewal never showed a new certificate (serial %s): %v", serial1, err)
	}
	if got := env.Pebble.Stats().OrdersFinalized; got != before+1 {
		t.Errorf("CA finalized %d orders for the forced renewal, want 1", got-before)
	}
	run("audit", chromedp.Navigate(base+"audit?agent=web1"), chromedp.WaitVisible(chromedp.CSS("#audit")), shot("audit"))
	run("domains", chromedp.Navigate(base+"domains?check=1"), chromedp.WaitVisible(chromedp.CSS("#findings")), shot("domains"))

	// What a browser would not send.
	admin := newWebClient(t, base)
	adminCSRF, code := admin.login("alice", "correct horse battery")
	if adminCSRF == "" {
		t.Fatalf("admin login over HTTP: status %d", code)
	}
	viewer := newWebClient(t, base)
	viewerCSRF, code := viewer.login("victor", "viewer password 1")
	if viewerCSRF == "" {
		t.Fatalf("viewer login: status %d", code)
	}
	nobody := newWebClient(t, base)
	if _, body := viewer.get("/agents/web1"); strings.Contains(body, "renew-all") || !strings.Contains(body, "web1") {
		t.Error("read-only user is offered the renew button")
	}
	cases := []struct {
		name   string
		client *webClient
		form   url.Values
		want   int
	}{
		{"no session", nobody, url.Values{"cert": {"web"}}, http.StatusUnauthorized},
		{"admin without CSRF token", admin, url.Values{"cert": {"web"}}, http.StatusForbidden},
		{"admin with another session's token", admin, url.Values{"cert": {"web"}, "csrf": {viewerCSRF}}, http.StatusForbidden},
		{"read-only user with a valid token", viewer, url.Values{"cert": {"web"}, "csrf": {viewerCSRF}}, http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if code, body := tc.client.post("/agents/web1/renew", tc.form); code != tc.want {
				t.Fatalf("POST renew: %d, want %d\n%s", code, tc.want, body)
			}
		})
	}
	if code, _ := viewer.post("/agents/web1/remove", url.Values{"csrf": {viewerCSRF}}); code != http.StatusForbidden {
		t.Errorf("read-only remove: %d, want 403", code)
	}
	if got := env.Pebble.Stats().OrdersFinalized; got != before+1 {
		t.Errorf("refused requests still ordered: %d orders since the forced renewal", got-before-1)
	}
	// Guessing: the name locks after 5 failures, even for the right password.
	guesser := newWebClient(t, base)
	for i := range 5 {
		if tok, code := guesser.login("victor", "wrong guess"); tok != "" || code != http.StatusUnauthorized {
			t.Fatalf("guess %d: status %d", i, code)
		}
	}
	if tok, code := guesser.login("victor", "viewer password 1"); tok != "" || code != http.StatusTooManyRequests {
		t.Fatalf("login after 5 failures: status %d, want 429", code)
	}
	// A login form posted from elsewhere has no matching cookie.
	if code, _ := nobody.post("/login", url.Values{"name": {"alice"}, "password": {"correct horse battery"}, "csrf": {"forged"}}); code != http.StatusForbidden {
		t.Errorf("login with a forged token: %d, want 403", code)
	}
	t.Logf("screenshots in %s", shots)
}
