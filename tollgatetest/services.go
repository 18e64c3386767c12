// Package tollgatetest finds the real services that integration tests talk to.
//
// Integration tests use PostgreSQL, Redis and NATS over real connections. On a laptop
// without them the tests skip with a message saying what to start; with
// TOLLGATE_REQUIRE_SERVICES=1 (as CI sets it) a missing service fails the test instead, so a
// green run always means the integration tests ran.
//
// Addresses come from the environment, defaulting to the standard ports on loopback:
//
//	TOLLGATE_POSTGRES_URL  postgres://postgres@127.0.0.1:5432/test?sslmode=disable
//	TOLLGATE_REDIS_ADDR    127.0.0.1:6379
//	TOLLGATE_NATS_URL      nats://127.0.0.1:4222
package tollgatetest

import (
	"net"
	"net/url"
	"os"
	"time"
)

// TB is the part of testing.TB this package uses.
type TB interface {
	Helper()
	Skipf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// RequireServices reports whether missing services fail tests instead of skipping them.
func RequireServices() bool {
	v := os.Getenv("TOLLGATE_REQUIRE_SERVICES")
	return v != "" && v != "0" && v != "false"
}

// PostgresURL returns the connection URL of the test PostgreSQL database, or skips (fails
// under TOLLGATE_REQUIRE_SERVICES) when nothing listens there.
func PostgresURL(t TB) string {
	t.Helper()
	u := env("TOLLGATE_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	need(t, "PostgreSQL", hostOf(u, "127.0.0.1:5432"), "TOLLGATE_POSTGRES_URL")
	return u
}

// RedisAddr returns the host:port of the test Redis, or skips (fails under
// TOLLGATE_REQUIRE_SERVICES) when nothing listens there.
func RedisAddr(t TB) string {
	t.Helper()
	a := env("TOLLGATE_REDIS_ADDR", "127.0.0.1:6379")
	need(t, "Redis", a, "TOLLGATE_REDIS_ADDR")
	return a
}

// NATSURL returns the URL of the test NATS server (with JetStream enabled), or skips (fails
// under TOLLGATE_REQUIRE_SERVICES) when nothing listens there.
func NATSURL(t TB) string {
	t.Helper()
	u := env("TOLLGATE_NATS_URL", "nats://127.0.0.1:4222")
	need(t, "NATS", hostOf(u, "127.0.0.1:4222"), "TOLLGATE_NATS_URL")
	return u
}

func need(t TB, name, addr, variable string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		_ = c.Close()
		return
	}
	if RequireServices() {
		t.Fatalf("%s is required (TOLLGATE_REQUIRE_SERVICES is set) but %s is unreachable: %v", name, addr, err)
		return
	}
	t.Skipf("skipping: %s not reachable at %s (%v); start it or set %s", name, addr, err, variable)
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func hostOf(raw, def string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return def
	}
	if u.Port() == "" {
		_, port, _ := net.SplitHostPort(def)
		return net.JoinHostPort(u.Hostname(), port)
	}
	return u.Host
}
