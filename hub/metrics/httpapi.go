package metrics

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// acmednsPaths are the acme-dns API's endpoints; anything else is "other",
// so a scanner cannot grow the label set.
var acmednsPaths = map[string]bool{"/register": true, "/update": true, "/health": true}

// InstrumentACMEDNS counts the acme-dns API's requests by endpoint, method
// and status code.
func (m *Metrics) InstrumentACMEDNS(next http.Handler) http.Handler {
	m.acmednsOnce.Do(func() {
		m.acmedns = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "acmedns_requests_total",
			Help: "acme-dns API requests, by endpoint, method and HTTP status.",
		}, []string{"endpoint", "method", "code"})
		m.reg.MustRegister(m.acmedns)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		path := r.URL.Path
		if !acmednsPaths[path] {
			path = "other"
		}
		method := r.Method
		switch method {
		case http.MethodGet, http.MethodPost, http.MethodDelete, http.MethodOptions, http.MethodHead:
		default:
			method = "other"
		}
		m.acmedns.WithLabelValues(path, method, strconv.Itoa(sw.code)).Inc()
	})
}

type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
