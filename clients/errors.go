package clients

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// Sentinels matched with [errors.Is] against the errors a [Client] returns.
var (
	// ErrUpstream matches every *[Error]: the call failed because of the upstream or the
	// way to it.
	ErrUpstream = errors.New("clients: upstream call failed")
	// ErrCircuitOpen means the breaker for the upstream host is open (or half-open with its
	// probes taken), so the call was not attempted. It is never retried.
	ErrCircuitOpen = errors.New("clients: circuit open")
	// ErrRetryBudgetExhausted means a retry was wanted but the retry budget had no token.
	ErrRetryBudgetExhausted = errors.New("clients: retry budget exhausted")
	// ErrAttemptTimeout means an attempt got no response headers within the attempt
	// timeout.
	ErrAttemptTimeout = errors.New("clients: attempt timed out")
	// ErrResponseTooLarge means the response body is larger than the configured cap.
	ErrResponseTooLarge = errors.New("clients: response body too large")
	// ErrBlockedAddress means the guard refused to connect to the address.
	ErrBlockedAddress = errors.New("clients: address blocked by guard")
	// ErrInvalidURL means the request URL is not an absolute http or https URL (after
	// resolving it against BaseURL), so no upstream was called; the call is neither
	// retried nor counted against any breaker.
	ErrInvalidURL = errors.New("clients: URL is not an absolute http or https URL")
	// ErrStatus matches an *[Error] made from a response status of 400 or above by
	// [Client.Do] or [CheckResponse].
	ErrStatus = errors.New("clients: error status")
)

// Error is a failed upstream call. It matches [ErrUpstream], and whatever its cause
// matches.
type Error struct {
	// Upstream is the configured name of the upstream.
	Upstream string
	// Method and URL describe the request; URL has no credentials and no query.
	Method, URL string
	// Status is the last response status, or 0 when no response arrived.
	Status int
	// Attempts is how many attempts were made, 0 when the breaker rejected the call.
	Attempts int
	// Problem is the upstream's RFC 9457 problem+json body, when it sent one.
	Problem *huma.ErrorModel
	// Err is the cause.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("clients: ")
	b.WriteString(e.Upstream)
	switch {
	case e.Method != "":
		b.WriteString(": ")
		b.WriteString(e.Method)
		b.WriteByte(' ')
		b.WriteString(e.URL)
	case e.URL != "":
		b.WriteString(" (")
		b.WriteString(e.URL)
		b.WriteByte(')')
	}
	if e.Status != 0 {
		b.WriteString(": status ")
		b.WriteString(strconv.Itoa(e.Status))
	}
	if e.Attempts > 1 {
		b.WriteString(" after ")
		b.WriteString(strconv.Itoa(e.Attempts))
		b.WriteString(" attempts")
	}
	if e.Problem != nil && (e.Problem.Title != "" || e.Problem.Detail != "") {
		b.WriteString(": ")
		b.WriteString(strings.TrimSpace(e.Problem.Title + " " + e.Problem.Detail))
	}
	if e.Err != nil && e.Err != ErrStatus {
		b.WriteString(": ")
		b.WriteString(strings.ReplaceAll(e.Err.Error(), "clients: ", ""))
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is [ErrUpstream]; other sentinels match through the cause.
func (e *Error) Is(target error) bool { return target == ErrUpstream }

// maxProblemBytes caps how much of an error body is read to decode a problem.
const maxProblemBytes = 64 << 10

// CheckResponse returns nil for a status below 400. Otherwise it reads (up to 64 KiB) and
// closes the body and returns an *[Error] matching [ErrStatus], with the upstream's
// problem+json decoded into Problem when the body is one.
func CheckResponse(upstream string, resp *http.Response) error {
	if resp.StatusCode < 400 {
		return nil
	}
	defer resp.Body.Close()
	e := &Error{Upstream: upstream, Status: resp.StatusCode, Err: ErrStatus}
	if resp.Request != nil {
		e.Method, e.URL = resp.Request.Method, redactURL(resp.Request)
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if ct == "application/problem+json" || ct == "application/json" {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxProblemBytes))
		var p huma.ErrorModel
		if json.Unmarshal(bytes.TrimSpace(body), &p) == nil && (p.Title != "" || p.Detail != "" || p.Type != "" || p.Status != 0) {
			e.Problem = &p
		}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxProblemBytes))
	return e
}

// StatusError maps an error from a [Client] to the problem a service should answer its own
// caller with, without exposing the upstream's details: 503 with Retry-After for an open
// breaker or an exhausted retry budget, 504 for timeouts, 502 for other upstream failures,
// and nil for errors that did not come from a Client. It is also nil when the call was
// cancelled: the caller that cancelled it is gone, and blaming the upstream with a 502
// would be wrong in the logs and metrics of whoever records it.
func StatusError(err error) huma.StatusError {
	var e *Error
	switch {
	case errors.Is(err, context.Canceled):
		return nil
	case errors.Is(err, ErrCircuitOpen), errors.Is(err, ErrRetryBudgetExhausted):
		return withRetryAfter(huma.Error503ServiceUnavailable("upstream service unavailable, try again later"))
	case errors.Is(err, ErrAttemptTimeout), errors.Is(err, context.DeadlineExceeded):
		return huma.Error504GatewayTimeout("upstream service timed out")
	case errors.As(err, &e):
		return huma.Error502BadGateway("upstream service failed")
	}
	return nil
}

// retryAfterError adds a Retry-After header to a huma error. huma writes the first
// StatusError of an error's chain, which is this one: it must encode, and name its content
// type, as the error it wraps does, or the client gets {"StatusError":{...}} as
// application/json instead of the service's problem.
type retryAfterError struct{ huma.StatusError }

func (e retryAfterError) GetHeaders() http.Header {
	return http.Header{"Retry-After": {"5"}}
}

func (e retryAfterError) Unwrap() error { return e.StatusError }

func (e retryAfterError) MarshalJSON() ([]byte, error) { return json.Marshal(e.StatusError) }

// ContentType implements huma.ContentTypeFilter as the wrapped error does.
func (e retryAfterError) ContentType(ct string) string {
	if f, ok := e.StatusError.(huma.ContentTypeFilter); ok {
		return f.ContentType(ct)
	}
	return ct
}

func withRetryAfter(e huma.StatusError) huma.StatusError { return retryAfterError{e} }

// redactURL renders the request URL without user info, query or fragment, which may hold
// secrets.
func redactURL(r *http.Request) string {
	if r.URL == nil {
		return ""
	}
	u := *r.URL
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}
