package ratelimit_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/tollgate-dev/tollgate/ratelimit"
)

// stopped is a clock that stands still, so that the examples print stable waits.
func stopped() time.Time { return time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC) }

func ExampleLimiter_Take() {
	limits, err := ratelimit.New(ratelimit.Config{Now: stopped})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	perSecond := ratelimit.PerSecond(2)
	for range 3 {
		res, err := limits.Take(ctx, "consumer-42", perSecond, 1)
		if err != nil {
			panic(err)
		}
		fmt.Println(res.Allowed, res.Remaining, res.RetryAfter)
	}
	// Output:
	// true 1 0s
	// true 0 0s
	// false 0 500ms
}

func ExampleNew_plans() {
	// Every request spends from a burst limit and from a daily quota that depends on the
	// caller's plan; the internal plan is exempt from the quota.
	limits, err := ratelimit.New(ratelimit.Config{
		Location: time.UTC,
		Policies: []ratelimit.Policy{
			{Name: "burst", Rate: ratelimit.PerSecond(50).WithBurst(100)},
			{Name: "daily", Rate: ratelimit.Daily(1_000), Plans: map[string]ratelimit.Rate{
				"pro":      ratelimit.Daily(100_000),
				"internal": {},
			}},
		},
	})
	fmt.Println(limits != nil, err)
	// Output: true <nil>
}

// Keys by client address trust forwarding headers only from named proxies. Behind a load
// balancer at 10.0.0.0/8, X-Forwarded-For is read when the connection comes from it; any
// other peer is itself the client, whatever header it sends.
func ExampleConfig_trustedProxies() {
	limits, err := ratelimit.New(ratelimit.Config{
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		Policies:       []ratelimit.Policy{{Rate: ratelimit.PerMinute(60), Key: ratelimit.ByIP}},
	})
	fmt.Println(limits != nil, err)
	// Output: true <nil>
}

func ExampleLimiter_Huma() {
	limits, err := ratelimit.New(ratelimit.Config{})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	api := humago.New(mux, huma.DefaultConfig("Example", "1.0.0"))
	api.UseMiddleware(limits.Huma(api)) // after authentication
	v1 := huma.NewGroup(api, "/v1")
	v1.UseSimpleModifier(ratelimit.Limit(ratelimit.PerMinute(600)))
	huma.Register(v1, huma.Operation{
		OperationID: "search", Method: http.MethodGet, Path: "/search",
	}, func(ctx context.Context, _ *struct{}) (*struct{}, error) { return nil, nil })
	_ = mux
}

func ExampleQuota() {
	op := huma.Operation{OperationID: "sendSMS", Method: http.MethodPost, Path: "/sms"}
	ratelimit.Quota(ratelimit.Monthly(500))(&op)
	ratelimit.Cost(1)(&op)
	fmt.Println(op.Errors)
	// Output: [429 503]
}

func ExampleLimiter_Handler() {
	limits, err := ratelimit.New(ratelimit.Config{
		Policies: []ratelimit.Policy{{Rate: ratelimit.PerSecond(10)}},
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	search := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})
	mux.Handle("GET /search", limits.Route("search", ratelimit.Policy{Rate: ratelimit.PerMinute(30)})(search))
	_ = &http.Server{Handler: limits.Handler(mux), ReadHeaderTimeout: 10 * time.Second}
}

func ExampleParseRateLimit() {
	limits, err := ratelimit.ParseRateLimit(`"per-minute";r=12;t=30, "daily";r=900;t=3600`)
	if err != nil {
		panic(err)
	}
	for _, l := range limits {
		fmt.Println(l.Policy, l.Remaining, l.Reset)
	}
	// Output:
	// per-minute 12 30s
	// daily 900 1h0m0s
}

func ExampleNewAuthThrottle() {
	limits, err := ratelimit.New(ratelimit.Config{Now: stopped})
	if err != nil {
		panic(err)
	}
	// Five wrong credentials in a row from one address, then one attempt every three
	// minutes; credentials that verify are never throttled.
	throttle, err := ratelimit.NewAuthThrottle(ratelimit.AuthThrottleConfig{
		Limiter: limits, Rate: ratelimit.PerHour(20).WithBurst(5), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for range 5 {
		throttle.Failed(ctx, "203.0.113.7", "")
	}
	wait, throttled := throttle.Failed(ctx, "203.0.113.7", "")
	fmt.Println(throttled, wait)
	// Output: true 3m0s
}
