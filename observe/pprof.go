package observe

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"sort"
	"strconv"
	"strings"
	"time"
)

// maxProfileSeconds caps CPU profiles and execution traces, which hold a connection open.
const maxProfileSeconds = 60

// PprofHandler serves the runtime profiles (CPU, heap, goroutine, allocs, block, mutex,
// threadcreate and execution trace) in the format `go tool pprof` reads, under the
// /debug/pprof/ prefix. Nothing serves it until you mount it, and it should be mounted
// behind your own authorisation, because profiles expose memory contents and program
// structure:
//
//	mux.Handle("/debug/pprof/", requireOperator(observe.PprofHandler()))
//
// It is written against runtime/pprof rather than importing net/http/pprof, whose import
// alone registers these endpoints, unauthenticated, on http.DefaultServeMux.
func PprofHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		_, name, _ := strings.Cut(r.URL.Path, "/debug/pprof/")
		switch name {
		case "":
			pprofIndex(w)
		case "profile":
			pprofTimed(w, r, "profile", 30, pprof.StartCPUProfile, pprof.StopCPUProfile)
		case "trace":
			pprofTimed(w, r, "trace", 1, trace.Start, trace.Stop)
		case "cmdline", "symbol":
			http.Error(w, "not served: use the binary with go tool pprof", http.StatusNotFound)
		default:
			p := pprof.Lookup(name)
			if p == nil {
				http.Error(w, "unknown profile", http.StatusNotFound)
				return
			}
			if name == "heap" && r.FormValue("gc") != "" {
				runtime.GC()
			}
			debug, _ := strconv.Atoi(r.FormValue("debug"))
			if debug > 0 {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			} else {
				w.Header().Set("Content-Type", "application/octet-stream")
				w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename=%q`, name))
			}
			_ = p.WriteTo(w, debug)
		}
	})
}

// pprofTimed records for ?seconds= (default defSec) between start and stop.
func pprofTimed(w http.ResponseWriter, r *http.Request, name string, defSec int, start func(io.Writer) error, stop func()) {
	sec, err := strconv.Atoi(r.FormValue("seconds"))
	if err != nil || sec <= 0 {
		sec = defSec
	}
	if sec > maxProfileSeconds {
		http.Error(w, fmt.Sprintf("seconds exceeds %d", maxProfileSeconds), http.StatusBadRequest)
		return
	}
	// The server's WriteTimeout would cut the profile short; lift it for this response.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename=%q`, name))
	if err := start(w); err != nil {
		// Another profile is running; only one CPU profile or trace can run at a time.
		w.Header().Del("Content-Disposition")
		http.Error(w, "could not start: "+err.Error(), http.StatusConflict)
		return
	}
	sleep(r, time.Duration(sec)*time.Second)
	stop()
}

func sleep(r *http.Request, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

func pprofIndex(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var names []string
	for _, p := range pprof.Profiles() {
		names = append(names, p.Name())
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("<html><head><title>/debug/pprof/</title></head><body><ul>\n")
	for _, n := range names {
		fmt.Fprintf(&b, "<li><a href=\"%[1]s?debug=1\">%[1]s</a></li>\n", html.EscapeString(n))
	}
	b.WriteString("<li><a href=\"profile?seconds=30\">profile</a> (CPU, 30 s)</li>\n")
	b.WriteString("<li><a href=\"trace?seconds=1\">trace</a> (execution trace, 1 s)</li>\n")
	b.WriteString("</ul></body></html>\n")
	_, _ = w.Write([]byte(b.String()))
}
