package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/examples/delivery/deliveries"
	"github.com/tollgate-dev/tollgate/openapitest"
	"github.com/tollgate-dev/tollgate/tollgatetest"
)

// textCounter stands in for the SMS provider.
type textCounter struct{ sent atomic.Int64 }

func (c *textCounter) NotifyRecipient(context.Context, string, string) error {
	c.sent.Add(1)
	return nil
}

// asConsumer stands in for the authentication middleware: every request is consumer's.
func asConsumer(consumer string) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		if consumer != "" {
			ctx = huma.WithContext(ctx, auth.NewContext(ctx.Context(), &auth.Principal{Consumer: consumer, Plan: "pro"}))
		}
		next(ctx)
	}
}

// startAPI wires the API as run does, minus the listener, and returns it with the
// function that shuts metering down.
func startAPI(t *testing.T, env map[string]string, consumer string) (humatest.TestAPI, func()) {
	t.Helper()
	_, api := humatest.New(t)
	api.UseMiddleware(asConsumer(consumer))
	svc := &deliveries.Service{Store: deliveries.NewStore(nil), SMS: &textCounter{}}
	policy := deliveries.Policy{}
	meter, usage, closeMetering, err := newMeter(context.Background(), func(k string) string { return env[k] }, database(t, env),
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	api.UseMiddleware(meter.Huma(api))
	v1 := huma.NewGroup(api, "/v1")
	meterOperations(v1, svc, meter, usage, policy.Read)
	deliveries.Register(v1, svc, policy)
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, closeMetering(ctx))
	}
	return openapitest.Wrap(t, api), stop
}

func myUsage(t *testing.T, api humatest.TestAPI) (day, month map[string]int64) {
	t.Helper()
	resp := api.Get("/v1/me/usage")
	require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
	var out struct {
		Consumer   string
		Day, Month struct{ Usage map[string]int64 }
	}
	require.NoError(t, json.Unmarshal(resp.Body.Bytes(), &out))
	return out.Day.Usage, out.Month.Usage
}

// checkUsageSurvivesRestart makes n deliveries, reads the usage, restarts, reads it again.
func checkUsageSurvivesRestart(t *testing.T, env map[string]string, consumer string) {
	const n = 5
	api, stop := startAPI(t, env, consumer)
	for range n {
		resp := api.Post("/v1/deliveries", newDelivery)
		require.Equal(t, http.StatusCreated, resp.Code, resp.Body.String())
	}
	resp := api.Post("/v1/deliveries", map[string]any{"items": []any{}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.Code, "a rejected call is metered without billable units")

	day, month := myUsage(t, api)
	want := map[string]int64{"deliveries": n, "requests": n, "sms": n}
	assert.Equal(t, want, day)
	assert.Equal(t, want, month)
	stop()

	api, stop = startAPI(t, env, consumer)
	defer stop()
	day, _ = myUsage(t, api)
	want["requests"]++ // the first usage call
	assert.Equal(t, want, day, "usage survives a restart")

	op := api.OpenAPI().Paths["/v1/deliveries"].Post
	assert.Equal(t, map[string]int64{"deliveries": 1, "requests": 1}, op.Extensions["x-tollgate-meter"])
}

func TestUsageLocal(t *testing.T) {
	t.Parallel()
	checkUsageSurvivesRestart(t, map[string]string{"DATA_DIR": t.TempDir()}, "acme")
}

func TestUsagePostgres(t *testing.T) {
	t.Parallel()
	dsn := tollgatetest.PostgresURL(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	consumer := "example-test-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		pool, err := pgxpool.New(context.Background(), dsn)
		if err == nil {
			_, _ = pool.Exec(context.Background(), "DELETE FROM tollgate_usage_events WHERE consumer = $1", consumer)
			pool.Close()
		}
	})
	checkUsageSurvivesRestart(t, map[string]string{"DATA_DIR": t.TempDir(), "DATABASE_URL": dsn}, consumer)
}

func TestUsageRequiresACaller(t *testing.T) {
	t.Parallel()
	api, stop := startAPI(t, map[string]string{"DATA_DIR": t.TempDir()}, "")
	defer stop()
	assert.Equal(t, http.StatusUnauthorized, api.Get("/v1/me/usage").Code)
}
