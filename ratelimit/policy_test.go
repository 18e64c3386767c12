package ratelimit_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/ratelimit"
)

func TestKeyFuncs(t *testing.T) {
	t.Parallel()
	anon := context.Background()
	acme := auth.NewContext(anon, &auth.Principal{Consumer: "acme", Plan: "pro"})
	v4 := &ratelimit.Request{Operation: "op", ClientIP: netip.MustParseAddr("203.0.113.7")}
	v6 := &ratelimit.Request{Operation: "op", ClientIP: netip.MustParseAddr("2001:db8:1:2:3:4:5:6")}
	v6b := &ratelimit.Request{Operation: "op", ClientIP: netip.MustParseAddr("2001:db8:1:2:ffff::1")}
	none := &ratelimit.Request{Operation: "op"}
	tests := []struct {
		name string
		fn   ratelimit.KeyFunc
		ctx  context.Context
		r    *ratelimit.Request
		key  string
		ok   bool
	}{
		{"consumer", ratelimit.ByConsumer, acme, v4, "c:acme", true},
		{"anonymous consumer falls back to address", ratelimit.ByConsumer, anon, v4, "ip:203.0.113.7", true},
		{"ipv6 keyed per /64", ratelimit.ByIP, anon, v6, "ip:2001:db8:1:2::/64", true},
		{"same /64 same key", ratelimit.ByIP, anon, v6b, "ip:2001:db8:1:2::/64", true},
		{"unknown address shares a key", ratelimit.ByIP, anon, none, "ip:unknown", true},
		{"plan", ratelimit.ByPlan, acme, v4, "p:pro", true},
		{"plan needs a principal", ratelimit.ByPlan, anon, v4, "", false},
		{"operation", ratelimit.ByOperation, anon, v4, "o:op", true},
		{"compose", ratelimit.Compose(ratelimit.ByConsumer, ratelimit.ByOperation), acme, v4, "c:acme|o:op", true},
		{"compose not applicable", ratelimit.Compose(ratelimit.ByPlan, ratelimit.ByOperation), anon, v4, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, ok := tt.fn(tt.ctx, tt.r)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.key, key)
		})
	}
}

func TestRate(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "per-minute", ratelimit.PerMinute(1).String())
	assert.Equal(t, "per-90ms", ratelimit.Per(1, 90*time.Millisecond).String())
	assert.Equal(t, "daily", ratelimit.Daily(1).String())
	assert.Equal(t, 100*time.Millisecond, ratelimit.PerSecond(10).Interval())
	assert.Equal(t, int64(3), ratelimit.PerSecond(10).WithBurst(3).Capacity())
	assert.Equal(t, int64(10), ratelimit.Daily(10).WithBurst(3).Capacity(), "quotas have no burst")
	for name, r := range map[string]ratelimit.Rate{
		"no quota":       {Window: time.Second},
		"no window":      {Quota: 1},
		"negative burst": ratelimit.PerSecond(1).WithBurst(-1),
		"sub-nanosecond": ratelimit.Per(10, 5*time.Nanosecond),
		"bad calendar":   {Quota: 1, Calendar: 9},
	} {
		assert.Error(t, r.Validate(), name)
	}
	assert.NoError(t, ratelimit.Rate{}.Validate(), "zero is unlimited")

	// Calendar periods follow the zone, including a 23-hour day when clocks go forward.
	paris, err := time.LoadLocation("Europe/Paris")
	if err == nil {
		s, e := ratelimit.Daily(1).In(paris).Period(time.Date(2030, 3, 31, 12, 0, 0, 0, paris))
		assert.Equal(t, 23*time.Hour, e.Sub(s))
	}
	s, e := ratelimit.Monthly(1).Period(time.Date(2030, 2, 10, 0, 0, 0, 0, time.UTC))
	assert.Equal(t, time.Date(2030, 2, 1, 0, 0, 0, 0, time.UTC), s)
	assert.Equal(t, time.Date(2030, 3, 1, 0, 0, 0, 0, time.UTC), e)
}

func TestTakeValidates(t *testing.T) {
	t.Parallel()
	l, err := ratelimit.New(ratelimit.Config{})
	require.NoError(t, err)
	ctx := context.Background()
	_, err = l.Take(ctx, "k", ratelimit.Rate{Quota: 1}, 1)
	assert.Error(t, err)
	_, err = l.Take(ctx, "k", ratelimit.PerSecond(1), -1)
	assert.Error(t, err)
	res, err := l.Take(ctx, "k", ratelimit.Rate{}, 1_000_000)
	require.NoError(t, err)
	assert.True(t, res.Allowed, "the zero rate is unlimited")
}

func TestRefusalErrorsMatchSentinels(t *testing.T) {
	t.Parallel()
	l, err := ratelimit.New(ratelimit.Config{
		QuotaStatus: http.StatusPaymentRequired,
		Policies:    []ratelimit.Policy{{Name: "monthly", Rate: ratelimit.Monthly(1)}},
	})
	require.NoError(t, err)
	var got error
	h := l.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, http.StatusPaymentRequired, rec.Code, "QuotaStatus applies to quotas")
	assert.Contains(t, rec.Body.String(), ratelimit.TypeQuotaExceeded)

	d := ratelimit.Decision{Policies: []ratelimit.PolicyResult{{Name: "daily", Result: ratelimit.Result{Rate: ratelimit.Daily(1)}}}}
	got = &ratelimit.Problem{ErrorModel: &huma.ErrorModel{Status: 429}}
	assert.True(t, errors.Is(got, ratelimit.ErrLimited))
	assert.False(t, errors.Is(got, ratelimit.ErrQuotaExceeded))
	assert.True(t, errors.Is(ratelimit.ErrQuotaExceeded, ratelimit.ErrLimited))
	assert.True(t, d.QuotaExceeded())
	assert.Equal(t, []string{"daily"}, d.Violated())
}

func TestPolicyKindIsConsistentAcrossPlans(t *testing.T) {
	t.Parallel()
	_, err := ratelimit.New(ratelimit.Config{Policies: []ratelimit.Policy{{
		Name:  "mixed",
		Rate:  ratelimit.PerMinute(10),
		Plans: map[string]ratelimit.Rate{"pro": ratelimit.Daily(1000)},
	}}})
	require.EqualError(t, err, `ratelimit: policy "mixed" mixes calendar quotas and smoothing rates; use one policy for each`)

	// A zero rate exempts and has no kind.
	_, err = ratelimit.New(ratelimit.Config{Policies: []ratelimit.Policy{{
		Name:  "quota",
		Plans: map[string]ratelimit.Rate{"pro": ratelimit.Daily(1000), "free": {}},
	}}})
	require.NoError(t, err)
}

// A policy whose quota is set only per plan is still a quota: it is evaluated after the
// smoothing rates, so a refused burst does not spend it.
func TestPlansOnlyQuotaEvaluatedAfterSmoothing(t *testing.T) {
	t.Parallel()
	l, err := ratelimit.New(ratelimit.Config{Policies: []ratelimit.Policy{
		{Name: "quota", Plans: map[string]ratelimit.Rate{"pro": ratelimit.Daily(5)}},
		{Rate: ratelimit.PerMinute(1)},
	}})
	require.NoError(t, err)
	ctx := auth.NewContext(context.Background(), &auth.Principal{Consumer: "acme", Plan: "pro"})
	r := &ratelimit.Request{Operation: "op"}
	var d ratelimit.Decision
	for range 3 {
		d, err = l.Check(ctx, r, 1)
		require.NoError(t, err)
	}
	require.False(t, d.Allowed)
	require.Len(t, d.Policies, 2)
	assert.Equal(t, "per-minute", d.Policies[0].Name, "smoothing first")
	assert.Equal(t, "quota", d.Policies[1].Name)
	assert.Equal(t, int64(4), d.Policies[1].Remaining, "only the admitted request spent quota")
	assert.False(t, d.QuotaExceeded())
}
