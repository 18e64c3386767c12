package clients

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// baseTransport builds the transport that sends attempts. When it builds an *http.Transport
// itself it also reports that the transport enforces the attempt timeout (dial, TLS
// handshake and response-header timeouts), which costs nothing per call; a Transport of the
// caller's own gets a per-attempt context instead.
func baseTransport(cfg *Config, attemptTimeout time.Duration) (http.RoundTripper, bool) {
	if cfg.Guard == nil && cfg.Transport != nil {
		return cfg.Transport, false
	}
	t, _ := cfg.Transport.(*http.Transport)
	if t == nil {
		t = http.DefaultTransport.(*http.Transport)
	}
	t = t.Clone()
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if cfg.Guard != nil {
		dialer.Control = cfg.Guard.Control
		// Every dial hook of the caller's transport would connect without the guard's
		// check; net/http prefers the TLS ones for HTTPS, so all of them go.
		t.DialTLSContext = nil
		//lint:ignore SA1019 deprecated, but net/http still honours it
		t.DialTLS = nil
		//lint:ignore SA1019 deprecated, but net/http still honours it
		t.Dial = nil
		// A proxy would be the address dialled, hiding the target from the guard.
		t.Proxy = nil
	}
	if attemptTimeout <= 0 {
		t.DialContext = dialer.DialContext
		return t, false
	}
	dialer.Timeout = attemptTimeout
	t.DialContext = dialer.DialContext
	t.TLSHandshakeTimeout = min(t.TLSHandshakeTimeout, attemptTimeout)
	if t.TLSHandshakeTimeout == 0 {
		t.TLSHandshakeTimeout = attemptTimeout
	}
	t.ResponseHeaderTimeout = attemptTimeout
	return t, true
}

// isTimeout reports whether err is a network timeout, which the transport's own attempt
// timeouts produce.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// attemptTransport sends one attempt with its timeout and wraps the body with the size cap.
// It has no CloseIdleConnections on purpose: retryablehttp calls that after every failed
// call, which during an outage would tear down the whole connection pool again and again.
type attemptTransport struct{ c *Client }

func (a *attemptTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := a.c
	st := callFrom(req.Context())
	var ab *attemptBody
	if st != nil {
		// Attempts of a call are sequential and each body is closed before the next attempt
		// starts, so the call's one wrapper is reused.
		ab = &st.body
		*ab = attemptBody{}
	} else {
		ab = &attemptBody{}
	}
	ab.remaining = c.s.maxResponseBytes
	var timer *time.Timer
	if d := c.s.attemptTimeout; d > 0 && !c.transportTimeouts {
		ctx, cancel := context.WithCancelCause(req.Context())
		ab.cancel = cancel
		// The timer holds cancel itself, not ab: ab is reused by the next attempt while a
		// timer that already fired may still be running.
		timer = time.AfterFunc(d, func() { cancel(ErrAttemptTimeout) })
		req = req.WithContext(ctx)
	}
	resp, err := c.base.RoundTrip(req)
	callerGone := st != nil && st.Context.Err() != nil
	if timer != nil && !timer.Stop() {
		// The timer fired: whatever came back, the attempt's context is cancelled.
		if err == nil {
			_ = resp.Body.Close()
			resp = nil
			if callerGone {
				// Not a success: the body is closed and the caller has left.
				err = st.Context.Err()
			}
		}
		if !callerGone {
			err = ErrAttemptTimeout
		}
	}
	if err != nil {
		ab.release()
		if c.transportTimeouts && !callerGone && isTimeout(err) && !errors.Is(err, ErrAttemptTimeout) {
			err = &attemptTimeoutError{err}
		}
		return nil, err
	}
	ab.ReadCloser = resp.Body
	resp.Body = ab
	return resp, nil
}

// attemptTimeoutError is a timeout of the transport's own dial, handshake or header
// timers, which enforce the attempt timeout; it matches ErrAttemptTimeout.
type attemptTimeoutError struct{ err error }

func (e *attemptTimeoutError) Error() string   { return ErrAttemptTimeout.Error() + ": " + e.err.Error() }
func (e *attemptTimeoutError) Unwrap() []error { return []error{ErrAttemptTimeout, e.err} }

// attemptBody is the body of an attempt's response: it caps the bytes read and releases
// the attempt's context when closed.
type attemptBody struct {
	io.ReadCloser
	cancel    context.CancelCauseFunc
	remaining int64 // bytes still allowed; negative means no cap
	attempts  int
	exhausted bool // the call ended on this response because the retry budget was empty
}

func (b *attemptBody) release() {
	if b.cancel != nil {
		b.cancel(nil)
	}
}

func (b *attemptBody) Read(p []byte) (int, error) {
	if b.remaining < 0 {
		return b.ReadCloser.Read(p)
	}
	if b.remaining == 0 {
		// Distinguish a body of exactly the cap from a longer one.
		var one [1]byte
		if n, err := b.ReadCloser.Read(one[:]); n == 0 {
			return 0, err
		}
		return 0, ErrResponseTooLarge
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.ReadCloser.Read(p)
	b.remaining -= int64(n)
	return n, err
}

func (b *attemptBody) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}
