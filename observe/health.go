package observe

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// Checker reports whether a dependency the service needs to serve traffic is usable. Check
// must return promptly when ctx is done; a nil error means ready.
type Checker interface {
	Check(ctx context.Context) error
}

// CheckerFunc adapts a function to Checker.
type CheckerFunc func(ctx context.Context) error

// Check calls f(ctx).
func (f CheckerFunc) Check(ctx context.Context) error { return f(ctx) }

type namedChecker struct {
	name string
	c    Checker
}

// AddChecker adds a readiness check. /readyz runs every check concurrently, each bounded by
// CheckTimeout, and answers 503 if any fails. Readiness should cover what this instance
// needs to serve (its database, its cache); liveness never runs checks, so a dependency
// outage takes instances out of rotation without restarting them all.
func (o *Observer) AddChecker(name string, c Checker) {
	if c == nil {
		return
	}
	o.mu.Lock()
	o.checkers = append(o.checkers, namedChecker{name, c})
	o.mu.Unlock()
}

// LivezHandler answers 200 while the process can serve HTTP at all. It runs no checks: a
// failing dependency is a readiness problem, and restarting would not fix it.
func (o *Observer) LivezHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProbe(w, r, http.StatusOK, "ok\n")
	})
}

// ReadyzHandler answers 200 when every Checker passes and 503 otherwise, and 503 from the
// moment shutdown begins so load balancers stop routing here while in-flight requests
// finish. The body lists each check as "[+]name ok" or "[-]name failed", the format
// Kubernetes uses; failure reasons go to the log, not to the unauthenticated caller.
func (o *Observer) ReadyzHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.draining.Load() {
			writeProbe(w, r, http.StatusServiceUnavailable, "shutting down\n")
			return
		}
		ok, body := o.ready(r.Context())
		status := http.StatusOK
		if !ok {
			status = http.StatusServiceUnavailable
		}
		writeProbe(w, r, status, body)
	})
}

// Ready runs the readiness checks and reports whether the service should receive traffic.
func (o *Observer) Ready(ctx context.Context) bool {
	ok, _ := o.ready(ctx)
	return ok
}

func (o *Observer) ready(ctx context.Context) (bool, string) {
	if o.draining.Load() {
		return false, "shutting down\n"
	}
	o.mu.Lock()
	checks := append([]namedChecker(nil), o.checkers...)
	o.mu.Unlock()
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() { errs[i] = o.check(ctx, c.c) })
	}
	wg.Wait()
	var b strings.Builder
	ok := true
	for i, c := range checks {
		if errs[i] != nil {
			ok = false
			fmt.Fprintf(&b, "[-]%s failed\n", c.name)
			o.logger.WarnContext(ctx, "readiness check failed", "check", c.name, "err", errs[i])
			continue
		}
		fmt.Fprintf(&b, "[+]%s ok\n", c.name)
	}
	if ok {
		b.WriteString("ok\n")
	} else {
		b.WriteString("not ready\n")
	}
	return ok, b.String()
}

// check runs one Checker within CheckTimeout. A Checker that ignores its context is left
// running rather than allowed to hold the probe, and one that answers after its deadline
// has failed: the probe must not report ok for a dependency that took longer than allowed.
func (o *Observer) check(ctx context.Context, c Checker) error {
	cctx, cancel := context.WithTimeout(ctx, o.cfg.CheckTimeout)
	defer cancel()
	done := make(chan error, 1) // buffered: an abandoned check still ends its goroutine
	go func() { done <- safeCheck(cctx, c) }()
	var err error
	select {
	case err = <-done:
	case <-cctx.Done():
	}
	if err == nil && cctx.Err() != nil {
		err = fmt.Errorf("check did not finish within %s: %w", o.cfg.CheckTimeout, cctx.Err())
	}
	return err
}

// safeCheck turns a panicking Checker into a failed check instead of a crashed probe.
func safeCheck(ctx context.Context, c Checker) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("check panicked: %v", v)
		}
	}()
	return c.Check(ctx)
}

func writeProbe(w http.ResponseWriter, r *http.Request, status int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}
