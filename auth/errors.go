package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// Sentinels that the errors of this package match with errors.Is.
var (
	// ErrUnauthenticated means the request carried no usable credential: none, a malformed
	// one, an unknown or wrong key, an expired, revoked or badly signed token. Clients get the
	// same answer for all of them so a failure tells an attacker nothing.
	ErrUnauthenticated = errors.New("auth: unauthenticated")
	// ErrForbidden means the caller is known but lacks a scope the operation requires.
	ErrForbidden = errors.New("auth: insufficient scope")
	// ErrThrottled means the client failed authentication too often and must wait.
	ErrThrottled = errors.New("auth: too many failed attempts")
	// ErrUnavailable means credentials could not be checked because a backend (the key store,
	// an issuer's JWKS endpoint) failed; it is answered with 503 rather than 401 so clients do
	// not discard a good credential.
	ErrUnavailable = errors.New("auth: credential check unavailable")
	// ErrKeyNotFound is returned by a KeyStore for an id it does not hold.
	ErrKeyNotFound = errors.New("auth: key not found")
	// ErrKeyExists is returned by a KeyWriter asked to create a key id that is taken.
	ErrKeyExists = errors.New("auth: key already exists")
)

// RFC 6750 §3.1 error codes.
const (
	codeInvalidRequest    = "invalid_request"
	codeInvalidToken      = "invalid_token"
	codeInsufficientScope = "insufficient_scope"
)

// Error is an authentication or authorisation failure. Its message is safe to log: it names
// the reason (unknown key id, bad signature, expired) but never a secret. What reaches the
// client is only [Problem]'s generic answer.
type Error struct {
	// Status is the HTTP status the failure maps to: 400, 401, 403, 429 or 503.
	Status int
	// Code is the RFC 6750 error code ("invalid_request", "invalid_token",
	// "insufficient_scope"), empty when no credential was presented.
	Code string
	// Scopes lists the scopes the operation requires, for a 403.
	Scopes []string
	// RetryAfter is when a throttled client may try again.
	RetryAfter time.Duration
	// Challenge is the WWW-Authenticate value sent with a 401 or 403.
	Challenge string
	// Err is the underlying reason, for logs only.
	Err error

	// keyID names an existing key presented with a wrong secret, or expired or revoked,
	// for the per-key failure count of a [Throttle].
	keyID string
}

func (e *Error) sentinel() error {
	switch e.Status {
	case http.StatusForbidden:
		return ErrForbidden
	case http.StatusTooManyRequests:
		return ErrThrottled
	case http.StatusServiceUnavailable:
		return ErrUnavailable
	default:
		return ErrUnauthenticated
	}
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.sentinel().Error()
	}
	return e.sentinel().Error() + ": " + e.Err.Error()
}

// Unwrap exposes the sentinel for the status and the underlying reason.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.sentinel()}
	}
	return []error{e.sentinel(), e.Err}
}

// Problem maps an error from [Authenticator.Authenticate] or [Authenticator.Authorize] to the
// RFC 9457 problem the client receives (a huma.StatusError, with huma.HeadersError when
// headers apply), built through huma.NewError so the service's error
// model applies, with WWW-Authenticate and Retry-After headers. The detail is deliberately
// generic. Errors of other packages become a 500.
func Problem(err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return huma.NewError(http.StatusInternalServerError, "internal error")
	}
	se := huma.NewError(e.Status, e.detail())
	if h := e.headers(); len(h) > 0 {
		return huma.ErrorWithHeaders(se, h)
	}
	return se
}

// detail is the client-facing message: generic on purpose.
func (e *Error) detail() string {
	switch e.Status {
	case http.StatusForbidden:
		return "insufficient scope: requires " + strings.Join(e.Scopes, " ")
	case http.StatusTooManyRequests:
		return "too many failed authentication attempts"
	case http.StatusServiceUnavailable:
		return "authentication is temporarily unavailable"
	case http.StatusBadRequest:
		return "send exactly one credential"
	}
	if e.Code == "" {
		return "authentication required"
	}
	return "invalid credentials"
}

func (e *Error) headers() http.Header {
	h := http.Header{}
	if e.Challenge != "" {
		h.Set("WWW-Authenticate", e.Challenge)
	}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64((e.RetryAfter+time.Second-1)/time.Second), 10))
	}
	return h
}

func failure(status int, code string, cause error) *Error {
	return &Error{Status: status, Code: code, Err: cause}
}

func invalid(format string, args ...any) *Error {
	return failure(http.StatusUnauthorized, codeInvalidToken, fmt.Errorf(format, args...))
}
