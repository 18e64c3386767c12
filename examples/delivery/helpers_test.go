package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/openapitest"
	"github.com/tollgate-dev/tollgate/tollgatetest"
)

// database opens env's DATABASE_URL as newApp does: nil in local mode, closed after the test.
func database(t *testing.T, env map[string]string) *pgxpool.Pool {
	t.Helper()
	db, err := openDatabase(context.Background(), func(k string) string { return env[k] })
	require.NoError(t, err)
	if db != nil {
		t.Cleanup(db.Close)
	}
	return db
}

// newDelivery is a valid createDelivery request body.
var newDelivery = map[string]any{
	"pickup":          map[string]any{"line1": "1 Depot Way", "city": "Leeds", "postal_code": "LS1 1AA", "country": "GB"},
	"dropoff":         map[string]any{"line1": "12 Market Street", "city": "Leeds", "postal_code": "LS1 6DT", "country": "GB"},
	"recipient_phone": "+447700900123",
	"items":           []map[string]any{{"sku": "MILK-2L", "quantity": 2}},
}

// testSchema returns a DATABASE_URL whose tables live in a fresh schema of the test
// database, dropped after the test.
func testSchema(t *testing.T) string {
	t.Helper()
	url := tollgatetest.PostgresURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "example_" + hex.EncodeToString(b)
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "DROP SCHEMA "+schema+" CASCADE")
		_ = conn.Close(context.WithoutCancel(ctx))
	})
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + schema
}

// checked serves h through a validator of its own OpenAPI document (/openapi.json), so that
// every response a test receives is also checked against what the API documents.
func checked(t *testing.T, h http.Handler) http.Handler {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	require.Equal(t, http.StatusOK, rec.Code, "the API serves its OpenAPI document")
	return openapitest.Handler(t, h, rec.Body.Bytes())
}
