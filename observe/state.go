package observe

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"time"
)

// state is everything the middleware tracks about one request. It is a single allocation
// that serves as the request's context (it embeds the parent and answers its own key), as
// the response writer handed to the next handler (to learn the status), and as the storage
// of the X-Request-ID header value, because allocations, not instructions, dominate the cost
// of instrumenting a fast handler.
type state struct {
	context.Context // the request context with the server span
	obs             *Observer
	w               http.ResponseWriter
	op              *operation // set by Huma, else resolved from the mux pattern
	pattern         string     // reported by Routes when the mux saw a copy of the request
	id              string
	idHeader        [1]string
	start           time.Time
	status          int
	written         int64
	wroteHeader     bool
}

type stateKey struct{}

// Value answers the state key itself and delegates everything else, so context.WithCancel
// and friends still find the parent's cancellation without a goroutine.
func (s *state) Value(key any) any {
	if key == (stateKey{}) {
		return s
	}
	return s.Context.Value(key)
}

func stateFrom(ctx context.Context) *state {
	if ctx == nil {
		return nil
	}
	st, _ := ctx.Value(stateKey{}).(*state)
	return st
}

func (s *state) Header() http.Header { return s.w.Header() }

func (s *state) WriteHeader(code int) {
	// 1xx informational responses (103 Early Hints) precede the real status.
	if !s.wroteHeader && (code >= 200 || code == http.StatusSwitchingProtocols) {
		s.status, s.wroteHeader = code, true
	}
	s.w.WriteHeader(code)
}

func (s *state) Write(b []byte) (int, error) {
	if !s.wroteHeader {
		s.status, s.wroteHeader = http.StatusOK, true
	}
	n, err := s.w.Write(b)
	s.written += int64(n)
	return n, err
}

// Flush and Hijack keep the common optional interfaces reachable by type assertion;
// Unwrap lets http.ResponseController reach the rest.
func (s *state) Flush() {
	if !s.wroteHeader {
		s.status, s.wroteHeader = http.StatusOK, true
	}
	_ = http.NewResponseController(s.w).Flush()
}

func (s *state) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(s.w).Hijack()
	if err == nil && !s.wroteHeader {
		s.status, s.wroteHeader = http.StatusSwitchingProtocols, true
	}
	return c, rw, err
}

// ReadFrom keeps io.Copy into the response on the connection's sendfile/splice path
// (http.ServeContent, http.FileServer) instead of a 32 KB buffer per copy.
func (s *state) ReadFrom(src io.Reader) (int64, error) {
	if !s.wroteHeader {
		s.status, s.wroteHeader = http.StatusOK, true
	}
	n, err := io.Copy(s.w, src)
	s.written += n
	return n, err
}

func (s *state) Unwrap() http.ResponseWriter { return s.w }
