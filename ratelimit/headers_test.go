package ratelimit_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/ratelimit"
)

func TestParseRateLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []ratelimit.ServiceLimit
		err  bool
	}{
		{in: `"default";r=50;t=30`, want: []ratelimit.ServiceLimit{{Policy: "default", Remaining: 50, Reset: 30 * time.Second}}},
		{in: `"a";r=0;t=1, b;r=7`, want: []ratelimit.ServiceLimit{
			{Policy: "a", Remaining: 0, Reset: time.Second}, {Policy: "b", Remaining: 7, Reset: -1}}},
		{in: `"x\"y";r=1;pk=:QXBwLTk5OQ==:;ext="ignored"`, want: []ratelimit.ServiceLimit{
			{Policy: `x"y`, Remaining: 1, Reset: -1, PartitionKey: []byte("App-999")}}},
		{in: `"dup";r=1;r=2`, want: []ratelimit.ServiceLimit{{Policy: "dup", Remaining: 2, Reset: -1}}},
		{in: ``, want: []ratelimit.ServiceLimit{}},
		{in: `"a";t=3`, err: true},
		{in: `"a";r=-1`, err: true},
		{in: `"a";r=1.5`, err: true},
		{in: `"a";r="1"`, err: true},
		{in: `"a";r=1,`, err: true},
		{in: `"unterminated;r=1`, err: true},
		{in: `1;r=1`, err: true},
		{in: `"a";R=1`, err: true},
		{in: `"a";r=1234567890123456`, err: true},
		{in: `"a";r=1 "b"`, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ratelimit.ParseRateLimit(tt.in)
			if tt.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseRateLimitPolicy(t *testing.T) {
	t.Parallel()
	got, err := ratelimit.ParseRateLimitPolicy(`"per-minute";q=100;w=60, "bytes";q=1000;qu="content-bytes"`)
	require.NoError(t, err)
	assert.Equal(t, []ratelimit.QuotaPolicy{
		{Name: "per-minute", Quota: 100, Window: time.Minute, Unit: "requests"},
		{Name: "bytes", Quota: 1000, Unit: "content-bytes"},
	}, got)
	_, err = ratelimit.ParseRateLimitPolicy(`"x";w=60`)
	assert.Error(t, err, "q is required")
}

// The headers the limiter writes parse back to what was decided.
func TestHeadersRoundTrip(t *testing.T) {
	t.Parallel()
	d := ratelimit.Decision{Allowed: false, RetryAfter: 1500 * time.Millisecond, Policies: []ratelimit.PolicyResult{
		{Name: `odd "name"`, Result: ratelimit.Result{Rate: ratelimit.PerSecond(5), Remaining: 0, ResetAfter: 900 * time.Millisecond, RetryAfter: 1500 * time.Millisecond}},
		{Name: "daily", Result: ratelimit.Result{Allowed: true, Rate: ratelimit.Daily(100), Remaining: 42, ResetAfter: time.Hour}},
	}}
	h := http.Header{}
	d.SetHeaders(h, time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC), false)
	assert.Equal(t, "2", h.Get("Retry-After"), "rounded up")
	lim, err := ratelimit.ParseRateLimit(h.Get("RateLimit"))
	require.NoError(t, err)
	assert.Equal(t, []ratelimit.ServiceLimit{
		{Policy: `odd "name"`, Remaining: 0, Reset: time.Second},
		{Policy: "daily", Remaining: 42, Reset: time.Hour},
	}, lim)
	pol, err := ratelimit.ParseRateLimitPolicy(h.Get("RateLimit-Policy"))
	require.NoError(t, err)
	assert.Equal(t, []ratelimit.QuotaPolicy{
		{Name: `odd "name"`, Quota: 5, Window: time.Second, Unit: "requests"},
		{Name: "daily", Quota: 100, Window: 24 * time.Hour, Unit: "requests"},
	}, pol)
}

func FuzzParseRateLimit(f *testing.F) {
	for _, s := range []string{`"default";r=50;t=30`, `a;r=0, "b";r=1;t=2;pk=:AAE=:`, `"x";r=1;flag;v=?0;s=tok/en:x`, `"\\";r=1`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ratelimit.ParseRateLimit(s)
		if err != nil {
			return
		}
		for _, sl := range got {
			if sl.Remaining < 0 || sl.Reset < -1 {
				t.Fatalf("negative values accepted from %q: %+v", s, sl)
			}
		}
		// What parsed must survive being written back by the limiter and parsed again.
		d := ratelimit.Decision{Allowed: true}
		for _, sl := range got {
			d.Policies = append(d.Policies, ratelimit.PolicyResult{Name: sl.Policy, Result: ratelimit.Result{
				Allowed: true, Rate: ratelimit.PerSecond(1), Remaining: sl.Remaining, ResetAfter: max(sl.Reset, 0)}})
		}
		h := http.Header{}
		d.SetHeaders(h, time.Unix(0, 0), false)
		if len(got) == 0 {
			return
		}
		again, err := ratelimit.ParseRateLimit(h.Get("RateLimit"))
		if err != nil {
			t.Fatalf("re-parse of %q (from %q): %v", h.Get("RateLimit"), s, err)
		}
		for i := range got {
			if again[i].Policy != got[i].Policy || again[i].Remaining != got[i].Remaining {
				t.Fatalf("round trip changed %+v into %+v", got[i], again[i])
			}
		}
	})
}

func FuzzParseRateLimitPolicy(f *testing.F) {
	for _, s := range []string{`"default";q=100;w=60`, `"b";q=1;qu="content-bytes";pk=:AAE=:`, `x;q=0`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ratelimit.ParseRateLimitPolicy(s)
		if err != nil {
			return
		}
		for _, p := range got {
			if p.Quota < 0 || p.Window < 0 {
				t.Fatalf("negative values accepted from %q: %+v", s, p)
			}
		}
	})
}
