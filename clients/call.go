package clients

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/go-retryablehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// call is the state of one logical call. It is also the context of the request handed to
// retryablehttp, so the hooks reach it without a second allocation; its embedded Context
// is the caller's, carrying the client span.
type call struct {
	context.Context
	c    *Client
	span trace.Span

	attempts   int
	idempotent bool // the method or an idempotency key makes repeating the request safe
	rewindable bool // the body can be sent again
	exhausted  bool // a retry was wanted but the budget had no token
	// upstreamFailed is set once an attempt failed while the caller was still waiting, so
	// a call the caller then abandons still counts against the upstream.
	upstreamFailed bool
	closeBody      io.Closer
	body           attemptBody // the current attempt's response body
}

type callKey struct{}

func (st *call) Value(key any) any {
	if key == (callKey{}) {
		return st
	}
	return st.Context.Value(key)
}

func callFrom(ctx context.Context) *call {
	st, _ := ctx.Value(callKey{}).(*call)
	return st
}

// transport is the outer RoundTripper: breaker, then the call.
type transport struct{ c *Client }

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := t.c
	req = c.resolve(req)
	key, ok := breakerKey(req.URL)
	if !ok {
		// Refused before the breaker: a URL no transport can send says nothing about any
		// upstream's health, and retrying it cannot help.
		closeRequestBody(req)
		return nil, &Error{Upstream: c.s.name, Method: req.Method, URL: redactURL(req), Err: ErrInvalidURL}
	}
	br := c.breakers.get(key)
	if br == nil {
		o := c.call(req)
		return o.resp, o.err
	}
	if !br.isOpen() {
		o, verdict := br.cb.Execute(func() (outcome, error) {
			o := c.call(req)
			return o, c.breakers.verdict(req, o)
		})
		if verdict == nil || verdict == errCallFailed || verdict == errCallExcluded {
			return o.resp, o.err
		}
	}
	// gobreaker.ErrOpenState or ErrTooManyRequests: rejected without being attempted.
	closeRequestBody(req)
	c.tel.breakerRejected(req.Context())
	return nil, br.open
}

// errCallTimeout is the cause of the context that the Client's overall timeout ends, which
// tells that timeout apart from the caller's own deadline or cancellation.
var errCallTimeout = errors.New("clients: call timed out")

// breakerKey names the breaker of the URL's upstream: the lower-cased host with the port
// made explicit, so "API.example.com" and "api.example.com:443" share a breaker while the
// same name over http (port 80) gets its own. It reports false for a URL no transport can
// send: no host, or a scheme other than http and https.
func breakerKey(u *url.URL) (string, bool) {
	if u == nil || u.Host == "" {
		return "", false
	}
	var port string
	switch {
	case strings.EqualFold(u.Scheme, "http"):
		port = "80"
	case strings.EqualFold(u.Scheme, "https"):
		port = "443"
	default:
		return "", false
	}
	host := strings.ToLower(u.Host)
	if u.Port() == "" {
		host = net.JoinHostPort(strings.ToLower(u.Hostname()), port)
	}
	return host, true
}

// verdict tells the breaker how to count a call: failures are transport errors, attempt
// timeouts and 5xx (and 429 when configured); the caller giving up (unless an attempt had
// already failed) and the guard refusing an address say nothing about the upstream's
// health.
func (b *breakers) verdict(req *http.Request, o outcome) error {
	if o.err != nil {
		switch {
		case errors.Is(o.err, ErrBlockedAddress), errors.Is(o.err, ErrResponseTooLarge):
			return errCallExcluded
		case req.Context().Err() != nil && !o.upstreamFailed && context.Cause(req.Context()) != errCallTimeout:
			// The caller gave up before the upstream had failed. The Client's own overall
			// timeout is not the caller giving up: the upstream took too long.
			return errCallExcluded
		}
		return errCallFailed
	}
	if s := o.resp.StatusCode; s >= 500 || s == http.StatusTooManyRequests && b.tripOn429 {
		return errCallFailed
	}
	return nil
}

// call makes one logical call: span, idempotency, body rewinding, then retryablehttp.
func (c *Client) call(req *http.Request) outcome {
	ctx, span := c.tel.start(req.Context(), req)
	st := &call{Context: ctx, c: c, span: span}
	r := req.WithContext(st)
	cloned := c.tel.shouldInject(ctx)
	if cloned {
		r.Header = req.Header.Clone()
		if r.Header == nil {
			r.Header = http.Header{}
		}
		c.tel.propagator.Inject(ctx, propagation.HeaderCarrier(r.Header))
	}
	st.idempotent = c.idempotent(req, r, cloned)
	rr := &retryablehttp.Request{Request: r}
	if err := c.prepareBody(st, rr); err != nil {
		closeRequestBody(req)
		o := outcome{err: c.error(st, req, nil, err)}
		c.tel.end(span, 0, nil, o.err)
		return o
	}
	c.budget.deposit()
	resp, err := c.retry.Do(rr)
	if st.closeBody != nil {
		_ = st.closeBody.Close()
	}
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if resp != nil {
			_ = resp.Body.Close()
			resp = nil
		}
		if ctxErr := st.Context.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = ctxErr
		}
		err = c.error(st, req, nil, err)
	} else if ab, ok := resp.Body.(*attemptBody); ok {
		ab.attempts, ab.exhausted = st.attempts, st.exhausted
		if c.s.maxResponseBytes > 0 && resp.ContentLength > c.s.maxResponseBytes {
			_ = resp.Body.Close()
			resp, err = nil, c.error(st, req, resp, ErrResponseTooLarge)
		}
	}
	c.tel.end(span, st.attempts, resp, err)
	return outcome{resp: resp, err: err, upstreamFailed: st.upstreamFailed}
}

func (c *Client) error(st *call, req *http.Request, resp *http.Response, err error) *Error {
	if st.exhausted {
		err = &budgetError{err}
	}
	e := &Error{Upstream: c.s.name, Method: req.Method, URL: redactURL(req), Attempts: st.attempts, Err: err}
	if resp != nil {
		e.Status = resp.StatusCode
	}
	return e
}

// budgetError is a failure that a retry might have fixed, had the budget allowed one.
type budgetError struct{ err error }

func (e *budgetError) Error() string {
	return ErrRetryBudgetExhausted.Error() + " after: " + e.err.Error()
}
func (e *budgetError) Unwrap() []error { return []error{ErrRetryBudgetExhausted, e.err} }

// idempotent reports whether the request may be repeated, adding a generated idempotency
// key to r (never to the caller's headers) when so configured.
func (c *Client) idempotent(req, r *http.Request, cloned bool) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions, http.MethodTrace, "":
		return true
	}
	if req.Header.Get(c.s.idemHeader) != "" {
		return true
	}
	if !c.s.genKey || req.Method != http.MethodPost && req.Method != http.MethodPatch {
		return false
	}
	if !cloned {
		r.Header = req.Header.Clone()
		if r.Header == nil {
			r.Header = http.Header{}
		}
	}
	// Set once per call, so every attempt carries the same key.
	r.Header.Set(c.s.idemHeader, newKey())
	return true
}

func newKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// prepareBody makes the request body replayable when that is cheap: GetBody, a seeker, or
// a small body buffered in memory. Anything else is streamed once and the call is not
// retried, so a large upload is never held in memory whole.
func (c *Client) prepareBody(st *call, rr *retryablehttp.Request) error {
	r := rr.Request
	st.rewindable = true
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	body := r.Body
	switch {
	case r.GetBody != nil:
		_ = body.Close()
		getBody := r.GetBody // SetBody replaces r.GetBody
		return setBody(rr, retryablehttp.ReaderFunc(func() (io.Reader, error) { return getBody() }))
	case isSeeker(body):
		s := body.(io.ReadSeeker)
		start, err := s.Seek(0, io.SeekCurrent)
		if err != nil {
			break
		}
		st.closeBody = body
		return setBody(rr, retryablehttp.ReaderFunc(func() (io.Reader, error) {
			_, err := s.Seek(start, io.SeekStart)
			return io.NopCloser(s), err
		}))
	}
	limit := c.s.maxBuffered
	if limit > 0 && (r.ContentLength < 0 || r.ContentLength <= limit) {
		buf, err := io.ReadAll(io.LimitReader(body, limit+1))
		if err != nil {
			return err
		}
		if int64(len(buf)) <= limit {
			_ = body.Close()
			return setBody(rr, buf)
		}
		r.Body = readCloser{io.MultiReader(bytes.NewReader(buf), body), body}
	}
	st.rewindable = false
	return nil
}

// setBody hands a replayable body to retryablehttp, keeping the request's Content-Length,
// which SetBody would otherwise guess from the reader.
func setBody(rr *retryablehttp.Request, raw any) error {
	n := rr.ContentLength
	if err := rr.SetBody(raw); err != nil {
		return err
	}
	if _, isBytes := raw.([]byte); !isBytes {
		rr.ContentLength = n
	}
	return nil
}

func isSeeker(b io.ReadCloser) bool { _, ok := b.(io.ReadSeeker); return ok }

type readCloser struct {
	io.Reader
	io.Closer
}

func closeRequestBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}
