// Package outagetest runs the metering sinks through outages of their real backends.
//
// A toxiproxy proxy, run in process, stands between the test and PostgreSQL or NATS; the
// test records events under load, disables the proxy (every connection drops and new ones
// are refused), enables it again, and checks that every recorded event arrived exactly once.
// The shared services themselves are never stopped. The module is separate so toxiproxy
// and its dependencies stay out of every other go.mod.
package outagetest
