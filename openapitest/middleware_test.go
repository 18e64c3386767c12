package openapitest_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/metering"
	"github.com/tollgate-dev/tollgate/openapitest"
	"github.com/tollgate-dev/tollgate/ratelimit"
)

// The core packages cannot import this module, so their huma middleware is driven through
// the Validator here: every status the middleware answers must be one the operation
// documents, with the headers and body it documents.

type thing struct {
	ID   string `json:"id"`
	Name string `json:"name" minLength:"1"`
}

type thingOutput struct{ Body thing }

type thingsOutput struct {
	Body struct {
		Things []thing `json:"things"`
	}
}

// downKeys is a key store that fails while down is set.
type downKeys struct {
	auth.KeyStore
	down *atomic.Bool
}

func (s downKeys) Key(ctx context.Context, id string) (auth.StoredKey, error) {
	if s.down.Load() {
		return auth.StoredKey{}, errors.New("key store unreachable")
	}
	return s.KeyStore.Key(ctx, id)
}

// downStore is a rate limit store that fails closed while down is set.
type downStore struct {
	ratelimit.Store
	down *atomic.Bool
}

func (s downStore) Take(ctx context.Context, key string, r ratelimit.Rate, n int) (ratelimit.Result, error) {
	if s.down.Load() {
		return ratelimit.Result{}, &ratelimit.UnavailableError{RetryAfter: 2 * time.Second, Err: errors.New("store unreachable")}
	}
	return s.Store.Take(ctx, key, r, n)
}

// gatedSink holds every write until its gate is closed, to saturate a small queue.
type gatedSink struct{ gate chan struct{} }

func (s gatedSink) Write(ctx context.Context, _ []metering.Event) error {
	select {
	case <-s.gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type fixture struct {
	api                    humatest.TestAPI
	meter                  *metering.Meter
	reader, writer, unused string
	keysDown, limitsDown   *atomic.Bool
	gate                   chan struct{}
}

type fixtureConfig struct {
	quotaStatus int  // ratelimit.Config.QuotaStatus
	legacy      bool // ratelimit.Config.LegacyHeaders
}

// newFixture composes auth, metering and ratelimit as the house composition does, on an
// API whose every response goes through the Validator.
func newFixture(t *testing.T, fc fixtureConfig) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{keysDown: &atomic.Bool{}, limitsDown: &atomic.Bool{}, gate: make(chan struct{})}
	mem, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	require.NoError(t, err)
	limits, err := ratelimit.New(ratelimit.Config{Store: downStore{mem, f.limitsDown}, QuotaStatus: fc.quotaStatus, LegacyHeaders: fc.legacy})
	require.NoError(t, err)
	throttle, err := ratelimit.NewAuthThrottle(ratelimit.AuthThrottleConfig{Limiter: limits, Rate: ratelimit.PerMinute(3)})
	require.NoError(t, err)
	// Keys are issued through one Keys and verified through another whose store can fail.
	store, secret := auth.NewMemoryKeyStore(), auth.Secret("a-32-byte-server-secret-for-these-tests")
	issuer, err := auth.NewKeys(auth.KeyConfig{Store: store, Secret: secret})
	require.NoError(t, err)
	keys, err := auth.NewKeys(auth.KeyConfig{Store: downKeys{store, f.keysDown}, Secret: secret})
	require.NoError(t, err)
	for _, k := range []struct {
		to     *string
		scopes []string
	}{{&f.reader, []string{"things:read"}}, {&f.writer, []string{"things:read", "things:write"}}, {&f.unused, []string{"things:read"}}} {
		issued, err := issuer.Create(ctx, auth.KeySpec{Consumer: "acme", Scopes: k.scopes})
		require.NoError(t, err)
		*k.to = issued.Key.Reveal()
	}
	authn, err := auth.New(auth.Config{Keys: keys, Throttle: throttle})
	require.NoError(t, err)
	f.meter, err = metering.New(metering.Config{Sink: gatedSink{f.gate}, QueueSize: 1, BatchSize: 1,
		FlushInterval: time.Hour, Overflow: metering.OverflowReject})
	require.NoError(t, err)
	t.Cleanup(func() {
		close(f.gate)
		_ = f.meter.Close(context.Background())
	})

	_, api := humatest.New(t, huma.DefaultConfig("Things", "1.0.0"))
	api.UseMiddleware(authn.Huma(api), f.meter.Huma(api), limits.Huma(api))
	huma.Get(api, "/health", func(context.Context, *struct{}) (*struct{}, error) { return nil, nil }, auth.Public())
	v1 := huma.NewGroup(api, "/v1")
	v1.UseSimpleModifier(auth.Require("things:read"))
	v1.UseSimpleModifier(ratelimit.Limit(ratelimit.PerMinute(3)))
	huma.Get(v1, "/things", func(context.Context, *struct{}) (*thingsOutput, error) {
		out := &thingsOutput{}
		out.Body.Things = []thing{{ID: "a", Name: "apple"}}
		return out, nil
	})
	huma.Register(v1, huma.Operation{OperationID: "get-thing", Method: http.MethodGet, Path: "/things/{id}",
		Errors: []int{http.StatusNotFound}}, func(_ context.Context, in *struct {
		ID string `path:"id"`
	}) (*thingOutput, error) {
		if in.ID != "a" {
			return nil, huma.Error404NotFound("no such thing")
		}
		return &thingOutput{Body: thing{ID: "a", Name: "apple"}}, nil
	})
	create := huma.Operation{OperationID: "create-thing", Method: http.MethodPost, Path: "/things",
		DefaultStatus: http.StatusCreated, MaxBodyBytes: 256}
	auth.Require("things:write")(&create)
	metering.Units("things", 1)(&create)
	huma.Register(v1, create, func(_ context.Context, in *struct{ Body thing }) (*thingOutput, error) {
		return &thingOutput{Body: in.Body}, nil
	})
	huma.Get(v1, "/quota", func(context.Context, *struct{}) (*struct{}, error) { return nil, nil },
		ratelimit.Quota(ratelimit.Daily(1)))
	f.api = openapitest.Wrap(t, api)
	return f
}

func key(k string) string { return "X-API-Key: " + k }

// TestMiddlewareConformsToItsOpenAPI reaches every status the middleware answers; the
// Validator fails the test if the operation does not document it as sent.
func TestMiddlewareConformsToItsOpenAPI(t *testing.T) {
	t.Parallel()
	thingBody := map[string]any{"id": "b", "name": "banana"}
	tests := []struct {
		name   string
		config fixtureConfig
		do     func(t *testing.T, f *fixture) int
		want   int
	}{
		{"200 public", fixtureConfig{}, func(t *testing.T, f *fixture) int { return f.api.Get("/health").Code }, 204},
		{"200 with RateLimit headers", fixtureConfig{}, func(t *testing.T, f *fixture) int {
			return f.api.Get("/v1/things", key(f.reader)).Code
		}, 200},
		{"200 with legacy headers", fixtureConfig{legacy: true}, func(t *testing.T, f *fixture) int {
			return f.api.Get("/v1/things", key(f.reader)).Code
		}, 200},
		{"200 API key as a bearer token", fixtureConfig{}, func(t *testing.T, f *fixture) int {
			return f.api.Get("/v1/things", "Authorization: Bearer "+f.reader).Code
		}, 200},
		{"201 metered", fixtureConfig{}, func(t *testing.T, f *fixture) int {
			return f.api.Post("/v1/things", key(f.writer), thingBody).Code
		}, 201},
		{"400 two credentials", fixtureConfig{}, func(t *testing.T, f *fixture) int {
			return f.api.Get("/v1/things", key(f.reader), "Authorization: Bearer "+f.reader).Code
		}, 400},
		{"400 malformed JSON", fixtureConfig{}, func(t *testing.T, f *fixture) int {
			return f.api.Post("/v1/things", key(f.writer), "Content-Type: application/json", strings.NewReader(`{"id":`)).Code
		}, 400},
		{"401 no credential", fixtureConfig{}, func(t *testing.T, f *fixture) int { return f.api.Get("/v1/things").Code }, 401},
		{"401 wrong key", fixtureConfig{}, func(t *testing.T, f *fixture) int {
			return f.api.Get("/v1/things", key(f.reader[:len(f.reader)-1]+"x")).Code
		}, 401},
		{"403 missing scope", fixtureConfig{}, func(t *testing.T, f *fixture) int {
			return f.api.Post("/v1/things", key(f.reader), thingBody).Code
		}, 403},
		{"404 from the handler", fixtureConfig{}, func(t *testing.T, f *fixture) int {
			return f.api.Get("/v1/things/zzz", key(f.reader)).Code
		}, 404},
		{"413 body too large", fixtureConfig{}, func(t *testing.T, f *fixture) int {
			return f.api.Post("/v1/things", key(f.writer), map[string]any{"id": "b", "name": strings.Repeat("b", 512)}).Code
		}, 413},
		{"415 unsupported content type", fixtureConfig{}, func(t *testing.T, f *fixture) int {
			return f.api.Post("/v1/things", key(f.writer), "Content-Type: text/plain", strings.NewReader("banana")).Code
		}, 415},
		{"422 invalid body", fixtureConfig{}, func(t *testing.T, f *fixture) int {
			return f.api.Post("/v1/things", key(f.writer), map[string]any{"id": "b", "name": ""}).Code
		}, 422},
		{"429 rate limited", fixtureConfig{}, func(t *testing.T, f *fixture) int {
			for range 3 {
				require.Equal(t, 200, f.api.Get("/v1/things", key(f.reader)).Code)
			}
			return f.api.Get("/v1/things", key(f.reader)).Code
		}, 429},
		{"429 rate limited with legacy headers", fixtureConfig{legacy: true}, func(t *testing.T, f *fixture) int {
			for range 3 {
				require.Equal(t, 200, f.api.Get("/v1/things", key(f.reader)).Code)
			}
			return f.api.Get("/v1/things", key(f.reader)).Code
		}, 429},
		{"429 quota exceeded", fixtureConfig{}, func(t *testing.T, f *fixture) int {
			require.Equal(t, 204, f.api.Get("/v1/quota", key(f.reader)).Code)
			return f.api.Get("/v1/quota", key(f.reader)).Code
		}, 429},
		{"402 quota exceeded with QuotaStatus", fixtureConfig{quotaStatus: 402}, func(t *testing.T, f *fixture) int {
			require.Equal(t, 204, f.api.Get("/v1/quota", key(f.reader)).Code)
			return f.api.Get("/v1/quota", key(f.reader)).Code
		}, 402},
		{"429 failed attempts throttled", fixtureConfig{}, func(t *testing.T, f *fixture) int {
			bad := key(f.reader[:len(f.reader)-1] + "x")
			for range 3 {
				require.Equal(t, 401, f.api.Get("/v1/things", bad).Code)
			}
			return f.api.Get("/v1/things", bad).Code
		}, 429},
		{"503 key store down", fixtureConfig{}, func(t *testing.T, f *fixture) int {
			f.keysDown.Store(true)
			return f.api.Get("/v1/things", key(f.unused)).Code
		}, 503},
		{"503 rate limit store down", fixtureConfig{}, func(t *testing.T, f *fixture) int {
			f.limitsDown.Store(true)
			return f.api.Get("/v1/things", key(f.reader)).Code
		}, 503},
		{"503 metering saturated", fixtureConfig{}, func(t *testing.T, f *fixture) int {
			require.Equal(t, 201, f.api.Post("/v1/things", key(f.writer), thingBody).Code)
			require.NoError(t, f.meter.Flush(context.Background()))
			require.Equal(t, 201, f.api.Post("/v1/things", key(f.writer), thingBody).Code)
			require.True(t, f.meter.Saturated())
			return f.api.Post("/v1/things", key(f.writer), thingBody).Code
		}, 503},
		{"405 unknown method is no operation", fixtureConfig{}, func(t *testing.T, f *fixture) int {
			return f.api.Delete("/v1/things", key(f.writer)).Code
		}, 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tt.config)
			assert.Equal(t, tt.want, tt.do(t, f))
		})
	}
}
