package config

// DebugConfig holds switches for diagnosing the hub itself; all are off by
// default.
type DebugConfig struct {
	// PprofListen, when set, serves Go's runtime profiles (net/http/pprof:
	// /debug/pprof/) on this loopback address, e.g. "127.0.0.1:6060", for
	// `go tool pprof`. Profiles show the hub's code paths and goroutine
	// stacks, so it is refused on any other address.
	PprofListen string `toml:"pprof_listen"`
}

func (c Config) validateDebug(v *validator) {
	if l := c.Debug.PprofListen; l != "" {
		if p := listenProblem(l); p != "" {
			v.Invalid("debug.pprof_listen", l, "%s", p)
		} else if !loopbackListen(l) {
			v.Conflict("debug.pprof_listen", "%q: only on a loopback address (127.0.0.1, ::1 or localhost); reach it over SSH", l)
		}
	}
}
