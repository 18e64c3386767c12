package clients

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{" 7 ", 7 * time.Second, true},
		{"99999999", maxRetryAfter, true},
		{"-1", 0, false},
		{"+5", 0, false},
		{"1.5", 0, false},
		{"5s", 0, false},
		{"", 0, false},
		{"soon", 0, false},
		{"99999999999999999999", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"Fri, 02 Jan 2026 03:04:65 GMT", 0, false},
	} {
		got, ok := parseRetryAfter(tc.in, now)
		assert.Equal(t, tc.ok, ok, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

func TestBackoffFullJitter(t *testing.T) {
	t.Parallel()
	base, maxDelay := 100*time.Millisecond, 5*time.Second
	for retry, ceiling := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 7: maxDelay, 70: maxDelay, 0: 100 * time.Millisecond} {
		assert.Equal(t, time.Duration(0), backoff(base, maxDelay, retry, 0))
		assert.Equal(t, ceiling/2, backoff(base, maxDelay, retry, 0.5), "retry %d", retry)
		assert.Less(t, backoff(base, maxDelay, retry, 0.999999), ceiling+1)
	}
	resp := &http.Response{Header: http.Header{"Retry-After": {"3600"}}}
	assert.Equal(t, maxDelay, waitFor(resp, base, maxDelay, 1, time.Now()), "Retry-After is capped")
	resp.Header.Set("Retry-After", "2")
	assert.Equal(t, 2*time.Second, waitFor(resp, base, maxDelay, 1, time.Now()))
	resp.Header.Set("Retry-After", "-2")
	assert.LessOrEqual(t, waitFor(resp, base, maxDelay, 1, time.Now()), base, "a negative Retry-After is ignored")
}

func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, s := range []string{"0", "120", "-1", "Fri, 02 Jan 2026 03:05:05 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "1e9", " 4294967295", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseRetryAfter(s, now)
		if !ok && d != 0 {
			t.Fatalf("%q: rejected but %v", s, d)
		}
		if d < 0 || d > maxRetryAfter {
			t.Fatalf("%q: %v out of range", s, d)
		}
		w := waitFor(&http.Response{Header: http.Header{"Retry-After": {s}}}, time.Millisecond, time.Second, 3, now)
		if w < 0 || w > time.Second {
			t.Fatalf("%q: wait %v escapes [0, max]", s, w)
		}
	})
}

func FuzzCheckResponse(f *testing.F) {
	f.Add("application/problem+json", `{"title":"Card declined","status":402,"detail":"x","errors":[{"message":"m"}]}`, 402)
	f.Add("application/json; charset=utf-8", `{"title":1}`, 500)
	f.Add("text/html", `<html>`, 503)
	f.Add("application/problem+json", `{"title":"`+strings.Repeat("a", 100)+`"`, 400)
	f.Fuzz(func(t *testing.T, contentType, body string, status int) {
		status = 400 + int(uint(status)%200)
		resp := &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {contentType}},
			Body: io.NopCloser(strings.NewReader(body))}
		err := CheckResponse("upstream", resp)
		var e *Error
		if !errors.As(err, &e) || e.Status != status || !errors.Is(err, ErrStatus) || !errors.Is(err, ErrUpstream) {
			t.Fatalf("CheckResponse(%d) = %v", status, err)
		}
		_ = err.Error()
	})
}
